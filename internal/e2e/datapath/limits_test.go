package datapath

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/miekg/dns"
	"github.com/privlink/privlink/internal/dataplane"
	"github.com/privlink/privlink/internal/testkit"
)

// The data path keeps its state within bounds (dataplane.Config.MaxClusters,
// MaxTargets, MaxListeners) and loads what it lacks on demand. These tests
// run real servers with small bounds and check that what is answered stays
// what the store says, whatever was dropped and read again.

// limitsNet is one cluster with an approved endpoint to a storage account
// whose public access is disabled (so only the endpoint lets traffic in).
type limitsNet struct {
	cluster, account, endpoint, blob string
	net                              network
	addr                             string // the endpoint's private address
}

// makeNets creates n clusters "adx<prefix>I", each with an approved blob
// endpoint to its own account "<prefix>acctI".
func makeNets(t *testing.T, env *testkit.Env, prefix string, n int) []*limitsNet {
	t.Helper()
	createRG(t, env, "rg")
	var out []*limitsNet
	for i := range n {
		ln := &limitsNet{account: fmt.Sprintf("%sacct%d", prefix, i)}
		name := fmt.Sprintf("adx%s%d", prefix, i)
		ln.cluster = createCluster(t, env, "rg", name, armkusto.PublicNetworkAccessEnabled)
		acct := createAccount(t, env, "rg", ln.account, armstorage.PublicNetworkAccessDisabled, nil)
		ln.endpoint = createApprovedMPE(t, env, "rg", name, "to-"+ln.account, acct, "blob")
		ln.blob = ln.account + ".blob.core.windows.net"
		out = append(out, ln)
	}
	for _, ln := range out {
		ln.net = networkOf(t, env, ln.cluster)
		if len(ln.net.Endpoints) != 1 || ln.net.Endpoints[0].ConnectionState != "Approved" || ln.net.Endpoints[0].PrivateIPAddress == "" {
			t.Fatalf("network of %s = %+v, want one approved endpoint with an address", ln.cluster, ln.net)
		}
		ln.addr = ln.net.Endpoints[0].PrivateIPAddress
	}
	return out
}

// wantPrivate checks that ln's cluster resolves its account's blob name to
// its endpoint's address (DNS) and carries a tunnel to it (egress), and
// waits for the tunnel's end to reach the server (its pin to go), so that
// what is evicted next does not depend on how fast that was.
func wantPrivate(t *testing.T, p *dataplane.Plane, ln *limitsNet) {
	t.Helper()
	pinned := p.Usage().Pinned
	if a := resolve(t, ln.net.DNS, ln.blob); a.rcode != dns.RcodeSuccess || a.cname != strings.Replace(ln.blob, ".blob.", ".privatelink.blob.", 1)+"." || a.addr != ln.addr {
		t.Fatalf("DNS for %s from %s = %+v, want a CNAME into privatelink and %s", ln.blob, ln.cluster, a, ln.addr)
	}
	c, status := tunnel(t, ln.net.Egress, ln.blob+":443")
	if c == nil {
		t.Fatalf("CONNECT %s through %s's egress: %s, want a tunnel", ln.blob, ln.cluster, status)
	}
	c.Close()
	await(t, "the tunnel's pins to go", func() bool { return p.Usage().Pinned <= pinned })
}

// await fails unless cond holds within two seconds.
func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(2 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("waited 2s for %s", what)
		}
	}
}

// decision is GET /_privlink/network/decide.
func decision(t *testing.T, env *testkit.Env, cluster, host string) (allowed bool, path, reason string) {
	t.Helper()
	var dec struct {
		Decision struct {
			Allowed bool   `json:"allowed"`
			Path    string `json:"path"`
			Reason  string `json:"reason"`
		} `json:"decision"`
	}
	env.GetJSON(t, "/_privlink/network/decide?cluster="+url.QueryEscape(cluster)+"&host="+host+"&port=443", &dec)
	return dec.Decision.Allowed, dec.Decision.Path, dec.Decision.Reason
}

func plane(t *testing.T, env *testkit.Env) *dataplane.Plane {
	t.Helper()
	p := env.Server.DataPlane()
	if p == nil {
		t.Fatal("the server runs no data path")
	}
	return p
}

// TestLimitsEviction: with room for two clusters' state, four clusters
// used in turn push the earlier ones out; an evicted cluster, used again,
// answers from the store as it is now: its approved endpoint's address,
// then, once the owner rejects the connection, the rejection (also after
// being evicted and read again once more).
func TestLimitsEviction(t *testing.T) {
	env := testkit.Start(t, testkit.WithDataPathLimits(2, 0, 0))
	nets := makeNets(t, env, "ev", 4)
	p := plane(t, env)
	for _, ln := range nets {
		wantPrivate(t, p, ln)
		if !p.Loaded(ln.cluster) {
			t.Fatalf("%s is not loaded right after it answered", ln.cluster)
		}
		if u := p.Usage(); u.Clusters > 2 {
			t.Fatalf("%d clusters loaded, want at most 2", u.Clusters)
		}
	}
	first := nets[0]
	if p.Loaded(first.cluster) {
		t.Fatalf("%s is still loaded after three other clusters were used with room for two", first.cluster)
	}
	// Read again on demand: its DNS and egress answer as before.
	wantPrivate(t, p, first)
	if !p.Loaded(first.cluster) {
		t.Fatalf("%s was not loaded again by its DNS question and egress connection", first.cluster)
	}

	// Its private address still listens while it is not loaded, and a
	// connection to it reads it again and is carried (TLS with a
	// certificate for the account's name, from the built-in responder).
	wantPrivate(t, p, nets[2])
	wantPrivate(t, p, nets[3])
	if p.Loaded(first.cluster) {
		t.Fatalf("%s is still loaded", first.cluster)
	}
	tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", first.net.Endpoints[0].Listen, &tls.Config{RootCAs: caPool(t, env), ServerName: first.blob})
	if err != nil {
		t.Fatalf("TLS to the private address of evicted %s: %v", first.cluster, err)
	}
	tc.Close()
	await(t, "the direct connection's pins to go", func() bool { return p.Usage().Pinned == 0 })

	// Pushed out again, then rejected: the commit reads it again and the
	// decision follows the store.
	wantPrivate(t, p, nets[2])
	wantPrivate(t, p, nets[3])
	if p.Loaded(first.cluster) {
		t.Fatalf("%s is still loaded", first.cluster)
	}
	setState(t, env, "rg", first.account, first.endpoint, armstorage.PrivateEndpointServiceConnectionStatusRejected)
	wantRejected := func(when string) {
		t.Helper()
		if ok, _, reason := decision(t, env, first.cluster, first.blob); ok || !strings.Contains(reason, "rejected") || !strings.Contains(reason, "by the owner") {
			t.Fatalf("%s: decision for %s = allowed %v, %q; want refused as rejected, with the owner's description", when, first.blob, ok, reason)
		}
		if _, st := tunnel(t, first.net.Egress, first.blob+":443"); !strings.Contains(st, "rejected") {
			t.Fatalf("%s: CONNECT %s = %q, want the rejected refusal", when, first.blob, st)
		}
		if a := resolve(t, first.net.DNS, first.blob); a.addr != first.net.PublicAddress {
			t.Fatalf("%s: DNS for %s = %+v, want the public address %s (no private record once rejected)", when, first.blob, a, first.net.PublicAddress)
		}
	}
	wantRejected("after rejection")
	wantPrivate(t, p, nets[2])
	wantPrivate(t, p, nets[3])
	if p.Loaded(first.cluster) {
		t.Fatalf("%s is still loaded", first.cluster)
	}
	wantRejected("rejected, evicted and read again")
	// The others are as they were.
	for _, ln := range nets[1:] {
		wantPrivate(t, p, ln)
	}
}

// TestLimitsPinning: a cluster with an open tunnel is never evicted, so
// that a rejection closes the gate the tunnel waits on; while every
// loaded cluster is pinned another one still answers right (the bound is
// exceeded, not the answer lost); once its tunnel ends a cluster may go
// like any other.
func TestLimitsPinning(t *testing.T) {
	env := testkit.Start(t, testkit.WithDataPathLimits(2, 0, 0))
	nets := makeNets(t, env, "pin", 4)
	p := plane(t, env)
	a, b := nets[0], nets[1]
	ca, status := tunnel(t, a.net.Egress, a.blob+":443")
	if ca == nil {
		t.Fatalf("CONNECT %s: %s", a.blob, status)
	}
	defer ca.Close()
	for _, ln := range nets[1:] {
		wantPrivate(t, p, ln)
	}
	if !p.Loaded(a.cluster) {
		t.Fatalf("%s was evicted while a tunnel through it is open", a.cluster)
	}
	if u := p.Usage(); u.Clusters != 2 || !p.Loaded(nets[3].cluster) {
		t.Fatalf("%d clusters loaded (the last used loaded: %v), want 2: the pinned one and the last used", u.Clusters, p.Loaded(nets[3].cluster))
	}

	// Both clusters of the bound pinned: a third still answers, each time.
	cb, status := tunnel(t, b.net.Egress, b.blob+":443")
	if cb == nil {
		t.Fatalf("CONNECT %s: %s", b.blob, status)
	}
	defer cb.Close()
	for _, ln := range nets[2:] {
		wantPrivate(t, p, ln)
		if ok, path, reason := decision(t, env, ln.cluster, ln.blob); !ok || path != dataplane.PathPrivate {
			t.Fatalf("decision for %s from %s with two tunnels pinning the bound = %v %q %q, want the private endpoint path", ln.blob, ln.cluster, ok, path, reason)
		}
	}
	if !p.Loaded(a.cluster) || !p.Loaded(b.cluster) {
		t.Fatalf("a pinned cluster was evicted (%s: %v, %s: %v)", a.cluster, p.Loaded(a.cluster), b.cluster, p.Loaded(b.cluster))
	}
	cb.Close()
	await(t, "the second tunnel's pins to go", func() bool { return p.Usage().Pinned <= 2 })

	// The rejection reaches the tunnel through the pinned cluster.
	setState(t, env, "rg", a.account, a.endpoint, armstorage.PrivateEndpointServiceConnectionStatusRejected)
	awaitClosed(t, ca, time.Second)
	await(t, "the first tunnel's pins to go", func() bool { return p.Usage().Pinned == 0 })
	// Unpinned, it goes when others are used.
	for _, ln := range nets[1:] {
		wantPrivate(t, p, ln)
	}
	if p.Loaded(a.cluster) {
		t.Fatalf("%s is still loaded after its tunnel ended and three others were used", a.cluster)
	}
	if u := p.Usage(); u.Clusters > 2 {
		t.Fatalf("%d clusters loaded after the tunnels ended, want at most 2", u.Clusters)
	}
}

// TestLimitsListeners: past the bound of listening endpoint addresses an
// endpoint does not listen, the network endpoint says why, and its
// traffic still goes through its cluster's egress.
func TestLimitsListeners(t *testing.T) {
	env := testkit.Start(t, testkit.WithDataPathLimits(0, 0, 1))
	createRG(t, env, "rg")
	cl := createCluster(t, env, "rg", "adxlisten", armkusto.PublicNetworkAccessEnabled)
	accts := map[string]string{}
	for _, name := range []string{"listen1", "listen2"} {
		accts[name] = createAccount(t, env, "rg", name, armstorage.PublicNetworkAccessDisabled, nil)
		createApprovedMPE(t, env, "rg", "adxlisten", "to-"+name, accts[name], "blob")
	}
	n := networkOf(t, env, cl)
	if len(n.Endpoints) != 2 {
		t.Fatalf("network = %+v, want two endpoints", n)
	}
	var listening, not int
	var quiet string // the account whose endpoint does not listen
	for _, e := range n.Endpoints {
		if e.PrivateIPAddress == "" {
			t.Fatalf("endpoint %s has no address", e.ID)
		}
		switch {
		case e.Listen != "" && e.NotListening == "":
			listening++
			c, err := net.DialTimeout("tcp", e.Listen, 2*time.Second)
			if err != nil {
				t.Fatalf("the listening endpoint's address %s: %v", e.Listen, err)
			}
			c.Close()
		case e.Listen == "" && strings.Contains(e.NotListening, "at most 1 ") && strings.Contains(e.NotListening, "egress"):
			not++
			quiet = e.ID[strings.Index(e.ID, "/to-")+4:]
		default:
			t.Fatalf("endpoint %s: listen %q, notListening %q; want one or the other, the reason naming the bound and the egress", e.ID, e.Listen, e.NotListening)
		}
	}
	if listening != 1 || not != 1 {
		t.Fatalf("%d endpoints listen and %d do not, want 1 and 1", listening, not)
	}
	if u := plane(t, env).Usage(); u.Listeners != 1 {
		t.Fatalf("%d endpoint addresses listen, want 1", u.Listeners)
	}
	// The one that does not listen is reached through the egress.
	host := quiet + ".blob.core.windows.net"
	c, status := tunnel(t, n.Egress, host+":443")
	if c == nil {
		t.Fatalf("CONNECT %s (not listening) through the egress: %s, want a tunnel", host, status)
	}
	c.Close()
	if status, body, err := get(through(t, env, n.Egress), "https://"+host+"/"); err != nil || status != 200 || !strings.Contains(body, accts[quiet]) {
		t.Fatalf("GET %s through the egress = %d %q %v, want 200 naming %s", host, status, body, err, accts[quiet])
	}

	// The listening one deleted, its place goes to the one waiting.
	ec := must(armkusto.NewManagedPrivateEndpointsClient(env.Subscription, env.Cred, env.Options))
	loud := map[string]string{"listen1": "listen2", "listen2": "listen1"}[quiet]
	pd, err := ec.BeginDelete(ctx, "rg", "adxlisten", "to-"+loud, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pd.PollUntilDone(ctx, testkit.PollOptions); err != nil {
		t.Fatal(err)
	}
	n = networkOf(t, env, cl)
	if len(n.Endpoints) != 1 || n.Endpoints[0].Listen == "" {
		t.Fatalf("network once the listening endpoint is deleted = %+v, want the other one listening", n.Endpoints)
	}
	c, err = net.DialTimeout("tcp", n.Endpoints[0].Listen, 2*time.Second)
	if err != nil {
		t.Fatalf("the address that took the free place: %v", err)
	}
	c.Close()
}

// TestLimitsNames: with room for two targets held by name and two names
// known to be none's, DNS answers through a cluster with an endpoint and
// one without stay right as names come and go from the caches, and an
// account created under a name that was NXDOMAIN is answered at once.
func TestLimitsNames(t *testing.T) {
	env := testkit.Start(t, testkit.WithDataPathLimits(0, 2, 0))
	createRG(t, env, "rg")
	with := createCluster(t, env, "rg", "adxnameswith", armkusto.PublicNetworkAccessEnabled)
	without := createCluster(t, env, "rg", "adxnameswithout", armkusto.PublicNetworkAccessEnabled)
	var accts []string
	for i := range 5 {
		name := fmt.Sprintf("names%d", i)
		createAccount(t, env, "rg", name, armstorage.PublicNetworkAccessEnabled, nil)
		accts = append(accts, name)
	}
	target := createAccount(t, env, "rg", "namesprivate", armstorage.PublicNetworkAccessEnabled, nil)
	createApprovedMPE(t, env, "rg", "adxnameswith", "to-namesprivate", target, "blob")
	nw, nwo := networkOf(t, env, with), networkOf(t, env, without)
	priv := nw.Endpoints[0].PrivateIPAddress
	p := plane(t, env)

	check := func(round string) {
		t.Helper()
		for _, name := range accts {
			blob := name + ".blob.core.windows.net"
			for _, n := range []network{nw, nwo} {
				if a := resolve(t, n.DNS, blob); a.rcode != dns.RcodeSuccess || a.cname != "" || a.addr != n.PublicAddress {
					t.Fatalf("%s: DNS for %s from %s = %+v, want the public address %s", round, blob, n.Cluster, a, n.PublicAddress)
				}
			}
		}
		blob := "namesprivate.blob.core.windows.net"
		if a := resolve(t, nw.DNS, blob); a.cname != "namesprivate.privatelink.blob.core.windows.net." || a.addr != priv {
			t.Fatalf("%s: DNS for %s from the cluster with an endpoint = %+v, want a CNAME into privatelink and %s", round, blob, a, priv)
		}
		if a := resolve(t, nwo.DNS, blob); a.cname != "" || a.addr != nwo.PublicAddress {
			t.Fatalf("%s: DNS for %s from the cluster without one = %+v, want the public address", round, blob, a)
		}
		for i := range 3 {
			ghost := fmt.Sprintf("ghost%d.blob.core.windows.net", i)
			for _, n := range []network{nw, nwo} {
				if a := resolve(t, n.DNS, ghost); a.rcode != dns.RcodeNameError {
					t.Fatalf("%s: DNS for %s (no such account) from %s = %+v, want NXDOMAIN", round, ghost, n.Cluster, a)
				}
			}
		}
		if u := p.Usage(); u.Targets > 2 || u.Names > 2 {
			t.Fatalf("%s: %d targets held by name and %d names known to be none's, want at most 2 each", round, u.Targets, u.Names)
		}
	}
	check("first round")
	check("second round")

	// An account created under a name just answered NXDOMAIN.
	for i := range 3 {
		ghost := fmt.Sprintf("ghost%d", i)
		if a := resolve(t, nw.DNS, ghost+".blob.core.windows.net"); a.rcode != dns.RcodeNameError {
			t.Fatalf("DNS for %s before it exists = %+v, want NXDOMAIN", ghost, a)
		}
		createAccount(t, env, "rg", ghost, armstorage.PublicNetworkAccessEnabled, nil)
		for _, n := range []network{nw, nwo} {
			if a := resolve(t, n.DNS, ghost+".blob.core.windows.net"); a.rcode != dns.RcodeSuccess || a.addr != n.PublicAddress {
				t.Fatalf("DNS for %s once created, from %s = %+v, want the public address (not a remembered NXDOMAIN)", ghost, n.Cluster, a)
			}
		}
		if ok, path, reason := decision(t, env, without, ghost+".blob.core.windows.net"); !ok || path != dataplane.PathPublic {
			t.Fatalf("decision for %s once created = %v %q %q, want the public network path", ghost, ok, path, reason)
		}
		accts = append(accts, ghost)
	}
	for _, name := range accts {
		for _, n := range []network{nw, nwo} {
			if a := resolve(t, n.DNS, name+".blob.core.windows.net"); a.addr != n.PublicAddress {
				t.Fatalf("DNS for %s at the end, from %s = %+v, want the public address", name, n.Cluster, a)
			}
		}
	}
}

// TestLimitsRestart: Start reads no cluster's state beyond what the
// background warm-up loads (half the cluster bound); a cluster it did not
// load answers right at once, through the egress and DNS addresses it had
// before the restart, and its endpoint's address listens again.
func TestLimitsRestart(t *testing.T) {
	env := testkit.Start(t, testkit.WithDataPathLimits(2, 0, 0))
	nets := makeNets(t, env, "rs", 3)
	env = env.Restart(t)
	p := plane(t, env)
	// The warm-up loads the first cluster (by /24) and stops at half the
	// bound: the others wait to be asked about. (The pause gives a warm-up
	// that went on the time to show it.)
	await(t, "the warm-up to load the first cluster", func() bool { return p.Loaded(nets[0].cluster) })
	time.Sleep(100 * time.Millisecond)
	if u := p.Usage(); u.Clusters > 1 {
		t.Fatalf("%d clusters loaded after a restart, want 1 (the warm-up's half of the bound 2)", u.Clusters)
	}
	last := nets[2]
	if p.Loaded(last.cluster) {
		t.Fatalf("%s was loaded at start, beyond the warm-up", last.cluster)
	}
	// Its egress and DNS listen at the same addresses without its state.
	wantPrivate(t, p, last)
	if !p.Loaded(last.cluster) {
		t.Fatalf("%s answered but is not loaded", last.cluster)
	}
	n := networkOf(t, env, last.cluster)
	if n.Egress != last.net.Egress || n.DNS != last.net.DNS || n.Endpoints[0].PrivateIPAddress != last.addr {
		t.Fatalf("network after restart = %+v, want egress %s, DNS %s and address %s as before", n, last.net.Egress, last.net.DNS, last.addr)
	}
	if n.Endpoints[0].Listen == "" {
		t.Fatalf("endpoint of %s does not listen after its cluster was read again: %q", last.cluster, n.Endpoints[0].NotListening)
	}
	c, err := net.DialTimeout("tcp", n.Endpoints[0].Listen, 2*time.Second)
	if err != nil {
		t.Fatalf("the private address after restart: %v", err)
	}
	c.Close()
	// The others too, and the rejection of one still reaches its tunnels.
	for _, ln := range nets[:2] {
		wantPrivate(t, p, ln)
	}
	env.Call(t, http.MethodGet, "/_privlink/health", "", http.StatusOK, nil)
}

// TestLimitsConcurrent: clients of more clusters than the bound holds, all
// asking at once, each get their own cluster's answer: what one loads is
// not evicted by another's load before it has answered.
func TestLimitsConcurrent(t *testing.T) {
	env := testkit.Start(t, testkit.WithDataPathLimits(1, 0, 0))
	nets := makeNets(t, env, "conc", 3)
	errs := make(chan error, len(nets))
	for _, ln := range nets {
		go func() {
			c := &dns.Client{Timeout: 5 * time.Second}
			m := new(dns.Msg)
			m.SetQuestion(dns.Fqdn(ln.blob), dns.TypeA)
			for range 40 {
				r, _, err := c.Exchange(m, ln.net.DNS)
				if err != nil {
					errs <- err
					return
				}
				var addr string
				for _, rr := range r.Answer {
					if a, ok := rr.(*dns.A); ok {
						addr = a.A.String()
					}
				}
				if addr != ln.addr {
					errs <- fmt.Errorf("DNS for %s from %s = %v, want %s", ln.blob, ln.cluster, r.Answer, ln.addr)
					return
				}
			}
			errs <- nil
		}()
	}
	for range nets {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestLimitsTargetPinning: a target held for its names alone (a cluster
// without an endpoint to it, on the public path) is not evicted while a
// tunnel to it is open, so that disabling its public access still cuts
// the tunnel however many other names were asked about meanwhile.
func TestLimitsTargetPinning(t *testing.T) {
	env := testkit.Start(t, testkit.WithDataPathLimits(0, 1, 0))
	createRG(t, env, "rg")
	cl := createCluster(t, env, "rg", "adxtpin", armkusto.PublicNetworkAccessEnabled)
	for _, name := range []string{"tpin0", "tpin1", "tpin2", "tpin3"} {
		createAccount(t, env, "rg", name, armstorage.PublicNetworkAccessEnabled, nil)
	}
	n := networkOf(t, env, cl)
	p := plane(t, env)
	c, status := tunnel(t, n.Egress, "tpin0.blob.core.windows.net:443")
	if c == nil {
		t.Fatalf("CONNECT tpin0 on the public path: %s", status)
	}
	defer c.Close()
	for _, name := range []string{"tpin1", "tpin2", "tpin3"} {
		if a := resolve(t, n.DNS, name+".blob.core.windows.net"); a.addr != n.PublicAddress {
			t.Fatalf("DNS for %s = %+v, want the public address", name, a)
		}
		if ok, path, reason := decision(t, env, cl, name+".blob.core.windows.net"); !ok || path != dataplane.PathPublic {
			t.Fatalf("decision for %s = %v %q %q, want the public network path", name, ok, path, reason)
		}
	}
	if u := p.Usage(); u.Targets > 1+u.Pinned {
		t.Fatalf("%d targets held by name, want at most the bound 1 and the %d pinned (the account and the cluster, a Kusto target too)", u.Targets, u.Pinned)
	}
	ac := must(armstorage.NewAccountsClient(env.Subscription, env.Cred, env.Options))
	if _, err := ac.Update(ctx, "rg", "tpin0", armstorage.AccountUpdateParameters{Properties: &armstorage.AccountPropertiesUpdateParameters{
		PublicNetworkAccess: to.Ptr(armstorage.PublicNetworkAccessDisabled)}}, nil); err != nil {
		t.Fatal(err)
	}
	awaitClosed(t, c, time.Second)
	if _, st := tunnel(t, n.Egress, "tpin0.blob.core.windows.net:443"); !strings.Contains(st, "public network access is disabled") {
		t.Fatalf("CONNECT tpin0 once its public access is disabled: %q, want the refusal", st)
	}
}
