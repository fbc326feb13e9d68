package datapath

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/eventhub/armeventhub"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/privlink/privlink/internal/testkit"
	"golang.org/x/net/proxy"
)

// TestPathsAndReasons checks every path a connection can take from two
// clusters' egresses, and the reason of every refusal, through CONNECT and
// SOCKS5; the Kusto ping through an approved endpoint; and cuts when an
// endpoint or a target is deleted.
func TestPathsAndReasons(t *testing.T) {
	env := testkit.Start(t)
	createRG(t, env, "rg")
	a := createCluster(t, env, "rg", "clustera", armkusto.PublicNetworkAccessEnabled)
	b := createClusterWith(t, env, "rg", "clusterb", armkusto.PublicNetworkAccessEnabled, armkusto.IdentityTypeNone)
	kt := createCluster(t, env, "rg", "kustotgt", armkusto.PublicNetworkAccessDisabled)
	disabled := armstorage.PublicNetworkAccessDisabled
	createAccount(t, env, "rg", "acctnone", disabled, nil)
	wrong := createAccount(t, env, "rg", "acctwrong", disabled, nil)
	createAccount(t, env, "rg", "acctpub", armstorage.PublicNetworkAccessEnabled, nil)
	createAccount(t, env, "rg", "acctbypass", disabled, &armstorage.NetworkRuleSet{
		DefaultAction: to.Ptr(armstorage.DefaultActionDeny), Bypass: to.Ptr(armstorage.BypassAzureServices)})
	createAccount(t, env, "rg", "acctrule", armstorage.PublicNetworkAccessEnabled, &armstorage.NetworkRuleSet{
		DefaultAction: to.Ptr(armstorage.DefaultActionDeny), Bypass: to.Ptr(armstorage.BypassNone),
		ResourceAccessRules: []*armstorage.ResourceAccessRule{{ResourceID: to.Ptr(a), TenantID: to.Ptr("00000000-0000-0000-0000-000000000001")}}})
	// An Event Hubs namespace that lets trusted services in through its network rule set.
	ec := must(armeventhub.NewNamespacesClient(env.Subscription, env.Cred, env.Options))
	ep := must(ec.BeginCreateOrUpdate(ctx, "rg", "ehtrusted", armeventhub.EHNamespace{Location: to.Ptr("westus")}, nil))
	must(ep.PollUntilDone(ctx, testkit.PollOptions))
	must(ec.CreateOrUpdateNetworkRuleSet(ctx, "rg", "ehtrusted", armeventhub.NetworkRuleSet{Properties: &armeventhub.NetworkRuleSetProperties{
		DefaultAction: to.Ptr(armeventhub.DefaultActionDeny), PublicNetworkAccess: to.Ptr(armeventhub.PublicNetworkAccessFlagDisabled), TrustedServiceAccessEnabled: to.Ptr(true)}}, nil))
	createApprovedMPE(t, env, "rg", "clustera", "wrong-dfs", wrong, "dfs")
	createApprovedMPE(t, env, "rg", "clustera", "kusto", kt, "cluster")
	na, nb := networkOf(t, env, a), networkOf(t, env, b)
	if na.Subnet == nb.Subnet || na.Egress == nb.Egress {
		t.Fatalf("two clusters share a network: %+v %+v", na, nb)
	}
	// Each cluster has its own view of the same name.
	kusto := "kustotgt.westus.kusto.windows.net"
	if a := resolve(t, na.DNS, kusto); a.cname != "kustotgt.privatelink.westus.kusto.windows.net." || !strings.HasPrefix(a.addr, strings.TrimSuffix(na.Subnet, "0/24")) {
		t.Fatalf("%s from cluster A (approved endpoint) = %+v, want the CNAME and an address in %s", kusto, a, na.Subnet)
	}
	if a := resolve(t, nb.DNS, kusto); a.cname != "" || a.addr != nb.PublicAddress {
		t.Fatalf("%s from cluster B (no endpoint) = %+v, want the public address %s", kusto, a, nb.PublicAddress)
	}

	for _, tc := range []struct {
		name, cluster, host, want string
	}{
		{"no endpoint", a, "acctnone.blob.core.windows.net:443", "no endpoint"},
		{"wrong sub-resource", a, "acctwrong.blob.core.windows.net:443", "wrong sub-resource"},
		{"dfs without blob", a, "acctwrong.dfs.core.windows.net:443", "dfs without blob"},
		{"public network access disabled", a, "acctnone.blob.core.windows.net:443", "public network access is disabled"},
		{"unknown name", a, "nosuch.blob.core.windows.net:443", "no target named"},
		{"wrong port", a, "acctpub.blob.core.windows.net:80", "port 443 only"},
		{"no identity, no trusted path", b, "acctbypass.blob.core.windows.net:443", "no endpoint"},
		{"another cluster's endpoint", b, "kustotgt.westus.kusto.windows.net:443", "no endpoint"},
		{"Event Hubs, no identity", b, "ehtrusted.servicebus.windows.net:443", "public network access is disabled"},
		{"malformed", a, "no-port", "400"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := na
			if tc.cluster == b {
				n = nb
			}
			c, status := tunnel(t, n.Egress, tc.host)
			if c != nil {
				c.Close()
				t.Fatalf("CONNECT %s passed, want a refusal naming %q", tc.host, tc.want)
			}
			if !strings.Contains(status, tc.want) {
				t.Fatalf("CONNECT %s: %q, want it to name %q", tc.host, status, tc.want)
			}
		})
	}

	// The paths that pass, and what they say they are.
	client := through(t, env, na.Egress)
	for _, tc := range []struct{ name, url, want string }{
		{"public", "https://acctpub.blob.core.windows.net/", "acctpub"},
		{"trusted service: bypass", "https://acctbypass.blob.core.windows.net/", "acctbypass"},
		{"trusted service: resource access rule", "https://acctrule.blob.core.windows.net/", "acctrule"},
		{"trusted service: Event Hubs network rule set", "https://ehtrusted.servicebus.windows.net/", "ehtrusted"},
		{"kusto ping", "https://kustotgt.westus.kusto.windows.net/v1/rest/ping", "Pong!"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, err := get(client, tc.url)
			if err != nil || status != 200 || !strings.Contains(body, tc.want) {
				t.Fatalf("GET %s = %d %q %v, want 200 with %q", tc.url, status, body, err, tc.want)
			}
		})
	}
	var dec struct {
		Decision struct {
			Allowed bool   `json:"allowed"`
			Path    string `json:"path"`
			Via     string `json:"via"`
		} `json:"decision"`
	}
	env.GetJSON(t, "/_privlink/network/decide?cluster="+a+"&host=acctbypass.blob.core.windows.net", &dec)
	if !dec.Decision.Allowed || dec.Decision.Path != "trusted service" || !strings.Contains(dec.Decision.Via, "AzureServices") {
		t.Fatalf("decision for the bypass account = %+v, want the trusted service path naming AzureServices", dec.Decision)
	}

	// The public side, reached directly (the address public names resolve
	// to): it carries a connection by its TLS server name to targets that
	// allow public access, and closes the others.
	pub := &tls.Config{RootCAs: caPool(t, env), ServerName: "acctpub.blob.core.windows.net"}
	pc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", na.PublicListen, pub)
	if err != nil {
		t.Fatalf("the public side, to a public account: %v", err)
	}
	pc.Close()
	pub.ServerName = "acctnone.blob.core.windows.net"
	if pc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", na.PublicListen, pub); err == nil {
		pc.Close()
		t.Fatal("the public side carried a connection to an account with public network access disabled")
	}

	// SOCKS5: the refusal's code, and a tunnel that works.
	d, err := proxy.SOCKS5("tcp", na.Egress, nil, &net.Dialer{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Dial("tcp", "acctnone.blob.core.windows.net:443"); err == nil || !strings.Contains(err.Error(), "not allowed") {
		t.Fatalf("SOCKS5 to a target without endpoint: %v, want 'connection not allowed by ruleset'", err)
	}
	if _, err := d.Dial("tcp", "nosuch.blob.core.windows.net:443"); err == nil || !strings.Contains(err.Error(), "host unreachable") {
		t.Fatalf("SOCKS5 to an unknown target: %v, want 'host unreachable'", err)
	}
	sc, err := d.(proxy.ContextDialer).DialContext(context.Background(), "tcp", "kustotgt.westus.kusto.windows.net:443")
	if err != nil {
		t.Fatalf("SOCKS5 through an approved endpoint: %v", err)
	}
	// Deleting the endpoint cuts it within a second.
	mc := must(armkusto.NewManagedPrivateEndpointsClient(env.Subscription, env.Cred, env.Options))
	p := must(mc.BeginDelete(ctx, "rg", "clustera", "kusto", nil))
	must(p.PollUntilDone(ctx, testkit.PollOptions))
	awaitClosed(t, sc, time.Second)

	// Deleting the target cuts a trusted-path tunnel within a second.
	tc, _ := tunnel(t, na.Egress, "acctbypass.blob.core.windows.net:443")
	if tc == nil {
		t.Fatal("no tunnel on the trusted path")
	}
	defer tc.Close()
	ac := must(armstorage.NewAccountsClient(env.Subscription, env.Cred, env.Options))
	must(ac.Delete(ctx, "rg", "acctbypass", nil))
	awaitClosed(t, tc, time.Second)
	if _, st := tunnel(t, na.Egress, "acctbypass.blob.core.windows.net:443"); !strings.Contains(st, "no target named") {
		t.Fatalf("after deleting the target: %q, want 'no target named'", st)
	}
}
