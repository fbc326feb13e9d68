package datapath

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/privlink/privlink/internal/testkit"
)

var ctx = context.Background()

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func createRG(t *testing.T, env *testkit.Env, name string) {
	t.Helper()
	c := must(armresources.NewResourceGroupsClient(env.Subscription, env.Cred, env.Options))
	must(c.CreateOrUpdate(ctx, name, armresources.ResourceGroup{Location: to.Ptr("westus")}, nil))
}

// createCluster makes a Kusto cluster with a system-assigned identity.
func createCluster(t *testing.T, env *testkit.Env, rg, name string, public armkusto.PublicNetworkAccess) string {
	t.Helper()
	return createClusterWith(t, env, rg, name, public, armkusto.IdentityTypeSystemAssigned)
}

// createClusterWith makes a Kusto cluster with the given identity type.
func createClusterWith(t *testing.T, env *testkit.Env, rg, name string, public armkusto.PublicNetworkAccess, identity armkusto.IdentityType) string {
	t.Helper()
	c := must(armkusto.NewClustersClient(env.Subscription, env.Cred, env.Options))
	p, err := c.BeginCreateOrUpdate(ctx, rg, name, armkusto.Cluster{
		Location:   to.Ptr("westus"),
		SKU:        &armkusto.AzureSKU{Name: to.Ptr(armkusto.AzureSKUNameDevNoSLAStandardE2AV4), Tier: to.Ptr(armkusto.AzureSKUTierBasic), Capacity: to.Ptr[int32](1)},
		Identity:   &armkusto.Identity{Type: to.Ptr(identity)},
		Properties: &armkusto.ClusterProperties{PublicNetworkAccess: to.Ptr(public)},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := p.PollUntilDone(ctx, testkit.PollOptions)
	if err != nil {
		t.Fatal(err)
	}
	return *cl.ID
}

// createAccount makes a storage account; acls, when set, are its network rules.
func createAccount(t *testing.T, env *testkit.Env, rg, name string, public armstorage.PublicNetworkAccess, acls *armstorage.NetworkRuleSet) string {
	t.Helper()
	c := must(armstorage.NewAccountsClient(env.Subscription, env.Cred, env.Options))
	p, err := c.BeginCreate(ctx, rg, name, armstorage.AccountCreateParameters{Location: to.Ptr("westus"), Kind: to.Ptr(armstorage.KindStorageV2),
		SKU:        &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)},
		Properties: &armstorage.AccountPropertiesCreateParameters{PublicNetworkAccess: to.Ptr(public), NetworkRuleSet: acls}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := p.PollUntilDone(ctx, testkit.PollOptions)
	if err != nil {
		t.Fatal(err)
	}
	return *a.ID
}

// createMPE creates a managed private endpoint as testkit's Requester (who
// may not approve it: it waits Pending) and waits for it.
func createMPE(t *testing.T, env *testkit.Env, rg, cluster, name, targetID, group string) string {
	t.Helper()
	return createMPEAs(t, env, env.Requester(t).Cred, rg, cluster, name, targetID, group)
}

// createApprovedMPE creates a managed private endpoint as the default
// principal, who owns the targets: approved at once.
func createApprovedMPE(t *testing.T, env *testkit.Env, rg, cluster, name, targetID, group string) string {
	t.Helper()
	return createMPEAs(t, env, env.Cred, rg, cluster, name, targetID, group)
}

func createMPEAs(t *testing.T, env *testkit.Env, cred azcore.TokenCredential, rg, cluster, name, targetID, group string) string {
	t.Helper()
	c := must(armkusto.NewManagedPrivateEndpointsClient(env.Subscription, cred, env.Options))
	p, err := c.BeginCreateOrUpdate(ctx, rg, cluster, name, armkusto.ManagedPrivateEndpoint{Properties: &armkusto.ManagedPrivateEndpointProperties{
		PrivateLinkResourceID: to.Ptr(targetID), GroupID: to.Ptr(group), RequestMessage: to.Ptr("please"),
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.PollUntilDone(ctx, testkit.PollOptions)
	if err != nil {
		t.Fatal(err)
	}
	return *res.ID
}

// connectionOf is the name of an endpoint's connection on its target.
func connectionOf(t *testing.T, env *testkit.Env, endpoint string) string {
	t.Helper()
	var st struct {
		ConnectionID string `json:"connectionId"`
	}
	env.GetJSON(t, "/_privlink/endpoints?id="+url.QueryEscape(endpoint), &st)
	return st.ConnectionID[strings.LastIndexByte(st.ConnectionID, '/')+1:]
}

// setState approves, rejects (as the account's owner) an endpoint's connection.
func setState(t *testing.T, env *testkit.Env, rg, account, endpoint string, status armstorage.PrivateEndpointServiceConnectionStatus) {
	t.Helper()
	c := must(armstorage.NewPrivateEndpointConnectionsClient(env.Subscription, env.Cred, env.Options))
	_, err := c.Put(ctx, rg, account, connectionOf(t, env, endpoint), armstorage.PrivateEndpointConnection{Properties: &armstorage.PrivateEndpointConnectionProperties{
		PrivateLinkServiceConnectionState: &armstorage.PrivateLinkServiceConnectionState{Status: to.Ptr(status), Description: to.Ptr("by the owner")}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
}

// removeConnection deletes an endpoint's connection, as the account's owner.
func removeConnection(t *testing.T, env *testkit.Env, rg, account, endpoint string) {
	t.Helper()
	c := must(armstorage.NewPrivateEndpointConnectionsClient(env.Subscription, env.Cred, env.Options))
	if _, err := c.Delete(ctx, rg, account, connectionOf(t, env, endpoint), nil); err != nil {
		t.Fatal(err)
	}
}

// network is GET /_privlink/network?cluster=.
type network struct {
	Cluster       string `json:"cluster"`
	Subnet        string `json:"subnet"`
	Egress        string `json:"egress"`
	DNS           string `json:"dns"`
	PublicAddress string `json:"publicAddress"`
	PublicListen  string `json:"publicListen"`
	Endpoints     []struct {
		ID               string `json:"id"`
		GroupID          string `json:"groupId"`
		ConnectionState  string `json:"connectionState"`
		PrivateIPAddress string `json:"privateIPAddress"`
		Listen           string `json:"listen"`
		NotListening     string `json:"notListening"`
		CustomDNSConfigs []struct {
			FQDN        string   `json:"fqdn"`
			IPAddresses []string `json:"ipAddresses"`
		} `json:"customDnsConfigs"`
	} `json:"endpoints"`
}

func networkOf(t *testing.T, env *testkit.Env, cluster string) network {
	t.Helper()
	var n network
	env.GetJSON(t, "/_privlink/network?cluster="+url.QueryEscape(cluster), &n)
	if n.Egress == "" || n.DNS == "" {
		t.Fatalf("network of %s has no egress or DNS: %+v", cluster, n)
	}
	return n
}

// tunnel sends CONNECT host:443 to the egress and returns the connection
// on 200, or the status line of a refusal.
func tunnel(t *testing.T, egress, host string) (net.Conn, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", egress, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", host, host)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		t.Fatalf("CONNECT %s: %v", host, err)
	}
	if resp.StatusCode != http.StatusOK {
		c.Close()
		return nil, resp.Status
	}
	_ = c.SetDeadline(time.Time{})
	return c, ""
}

// caPool trusts the server's CA.
func caPool(t *testing.T, env *testkit.Env) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(env.Server.CAPath())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return pool
}

// through is an HTTP client that acts as the cluster: its egress as the
// proxy, privlink's CA trusted.
func through(t *testing.T, env *testkit.Env, egress string) *http.Client {
	u := &url.URL{Scheme: "http", Host: egress}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{RootCAs: caPool(t, env)}, DisableKeepAlives: true}}
}

// get fetches url through client and returns the status and body, or the error.
func get(client *http.Client, u string) (int, string, error) {
	resp, err := client.Get(u)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// awaitClosed fails unless c is closed by the other side within d.
func awaitClosed(t *testing.T, c net.Conn, d time.Duration) {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(d + time.Second))
	buf := make([]byte, 1024)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("the tunnel was still open %s after the change", time.Since(start))
		}
		if el := time.Since(start); el > d {
			t.Fatalf("the tunnel closed after %s, want within %s", el, d)
		}
		return
	}
}
