package datapath

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/miekg/dns"
	"github.com/privlink/privlink/internal/testkit"
)

// TestApproveRejectRemoveRestart follows one cluster's traffic to storage
// accounts that refuse public access: refused while Pending, carried once
// approved (to the built-in responder, over TLS with a certificate for the
// account's name), cut within a second on rejection and on removal, and
// back as it was after a restart.
func TestApproveRejectRemoveRestart(t *testing.T) {
	env := testkit.Start(t)
	createRG(t, env, "rg")
	cl := createCluster(t, env, "rg", "adxone", armkusto.PublicNetworkAccessEnabled)
	a1 := createAccount(t, env, "rg", "acct1", armstorage.PublicNetworkAccessDisabled, nil)
	a2 := createAccount(t, env, "rg", "acct2", armstorage.PublicNetworkAccessDisabled, nil)
	a3 := createAccount(t, env, "rg", "acct3", armstorage.PublicNetworkAccessDisabled, nil)
	e1 := createMPE(t, env, "rg", "adxone", "to-acct1", a1, "blob")
	e2 := createMPE(t, env, "rg", "adxone", "to-acct2", a2, "blob")
	e3 := createMPE(t, env, "rg", "adxone", "to-acct3", a3, "blob")

	n := networkOf(t, env, cl)
	client := through(t, env, n.Egress)
	blob1 := "acct1.blob.core.windows.net"

	// Pending: refused, and the reason says so.
	if c, status := tunnel(t, n.Egress, blob1+":443"); c != nil {
		c.Close()
		t.Fatal("CONNECT to a Pending endpoint's target succeeded")
	} else if !strings.Contains(status, "403") || !strings.Contains(status, "pending") || !strings.Contains(status, "public network access is disabled") {
		t.Fatalf("refusal = %q, want 403 naming pending and public network access", status)
	}
	if _, _, err := get(client, "https://"+blob1+"/"); err == nil || !strings.Contains(err.Error(), "pending") {
		t.Fatalf("GET through the egress while Pending: err = %v, want the pending refusal", err)
	}
	if a := resolve(t, n.DNS, blob1); a.addr != n.PublicAddress || a.cname != "acct1.privatelink.blob.core.windows.net." {
		t.Fatalf("DNS while Pending = %+v, want CNAME into privatelink and the public address %s", a, n.PublicAddress)
	}

	// Approved: the name resolves to the endpoint's address, and traffic flows.
	for _, e := range []string{e1, e2, e3} {
		setState(t, env, "rg", e[strings.Index(e, "/to-")+4:], e, armstorage.PrivateEndpointServiceConnectionStatusApproved)
	}
	n = networkOf(t, env, cl)
	addr := map[string]string{}
	for _, e := range n.Endpoints {
		if e.PrivateIPAddress == "" || e.Listen == "" || len(e.CustomDNSConfigs) != 1 || e.CustomDNSConfigs[0].IPAddresses[0] != e.PrivateIPAddress {
			t.Fatalf("endpoint network %+v: want an address, a listener and customDnsConfigs with it", e)
		}
		addr[strings.ToLower(e.ID)] = e.PrivateIPAddress
	}
	if a := resolve(t, n.DNS, blob1); a.addr != addr[strings.ToLower(e1)] {
		t.Fatalf("DNS once approved = %+v, want %s", a, addr[strings.ToLower(e1)])
	}
	status, body, err := get(client, "https://"+blob1+"/")
	if err != nil || status != 200 || !strings.Contains(body, a1) {
		t.Fatalf("GET through the egress once approved = %d %q %v, want 200 naming %s", status, body, err, a1)
	}
	// The private address really listens and carries the same traffic.
	pc, err := net.DialTimeout("tcp", n.Endpoints[0].Listen, 2*time.Second)
	if err != nil {
		t.Fatalf("the private address does not listen: %v", err)
	}
	pc.Close()

	// Rejection cuts an open tunnel within a second and refuses new ones.
	c1, _ := tunnel(t, n.Egress, blob1+":443")
	if c1 == nil {
		t.Fatal("no tunnel once approved")
	}
	defer c1.Close()
	setState(t, env, "rg", "acct1", e1, armstorage.PrivateEndpointServiceConnectionStatusRejected)
	awaitClosed(t, c1, time.Second)
	if _, st := tunnel(t, n.Egress, blob1+":443"); !strings.Contains(st, "rejected") {
		t.Fatalf("after rejection: %q, want the rejected refusal", st)
	}

	// Removal by the owner: the same.
	blob2 := "acct2.blob.core.windows.net"
	c2, _ := tunnel(t, n.Egress, blob2+":443")
	if c2 == nil {
		t.Fatal("no tunnel to acct2")
	}
	defer c2.Close()
	removeConnection(t, env, "rg", "acct2", e2)
	awaitClosed(t, c2, time.Second)
	if _, st := tunnel(t, n.Egress, blob2+":443"); !strings.Contains(st, "disconnected") {
		t.Fatalf("after removal: %q, want the disconnected refusal", st)
	}

	// A restart brings back the same network from the stored state.
	env = env.Restart(t)
	n2 := networkOf(t, env, cl)
	if n2.Subnet != n.Subnet {
		t.Fatalf("subnet after restart = %s, want %s", n2.Subnet, n.Subnet)
	}
	for _, e := range n2.Endpoints {
		if e.PrivateIPAddress != addr[strings.ToLower(e.ID)] {
			t.Fatalf("%s: address after restart = %s, want %s", e.ID, e.PrivateIPAddress, addr[strings.ToLower(e.ID)])
		}
	}
	client = through(t, env, n2.Egress)
	if status, body, err := get(client, "https://acct3.blob.core.windows.net/"); err != nil || status != 200 || !strings.Contains(body, a3) {
		t.Fatalf("after restart, approved acct3 = %d %q %v", status, body, err)
	}
	if _, st := tunnel(t, n2.Egress, blob1+":443"); !strings.Contains(st, "rejected") {
		t.Fatalf("after restart, rejected acct1: %q, want the rejected refusal", st)
	}

	// Deleting the target cuts the tunnels through its endpoints.
	c3, _ := tunnel(t, n2.Egress, "acct3.blob.core.windows.net:443")
	if c3 == nil {
		t.Fatal("no tunnel to acct3 after restart")
	}
	defer c3.Close()
	ac := must(armstorage.NewAccountsClient(env.Subscription, env.Cred, env.Options))
	must(ac.Delete(ctx, "rg", "acct3", nil))
	awaitClosed(t, c3, time.Second)
}

type answer struct {
	cname, addr string
	rcode       int
}

// resolve asks the cluster's DNS server for name's A record with a real
// DNS client (UDP).
func resolve(t *testing.T, server, name string) answer {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	c := &dns.Client{Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, server)
	if err != nil {
		t.Fatalf("DNS %s at %s: %v", name, server, err)
	}
	var a answer
	a.rcode = r.Rcode
	for _, rr := range r.Answer {
		switch v := rr.(type) {
		case *dns.CNAME:
			if a.cname == "" {
				a.cname = v.Target
			}
		case *dns.A:
			a.addr = v.A.String()
		}
	}
	return a
}
