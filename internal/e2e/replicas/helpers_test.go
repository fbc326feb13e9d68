package replicas

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/privlink/privlink/internal/testkit"
)

// The SDK helpers below mirror internal/e2e/lifecycle's helpers_test.go.

func createRG(t *testing.T, env *testkit.Env, name string) {
	t.Helper()
	c := must(armresources.NewResourceGroupsClient(env.Subscription, env.Cred, env.Options))
	must(c.CreateOrUpdate(ctx, name, armresources.ResourceGroup{Location: to.Ptr("westus")}, nil))
}

// createCluster makes a Kusto cluster and waits for it; vnet makes it VNet-injected.
func createCluster(t *testing.T, env *testkit.Env, rg, name string, vnet *armkusto.VirtualNetworkConfiguration) string {
	t.Helper()
	c := must(armkusto.NewClustersClient(env.Subscription, env.Cred, env.Options))
	p := must(c.BeginCreateOrUpdate(ctx, rg, name, armkusto.Cluster{
		Location:   to.Ptr("westus"),
		SKU:        &armkusto.AzureSKU{Name: to.Ptr(armkusto.AzureSKUNameDevNoSLAStandardE2AV4), Tier: to.Ptr(armkusto.AzureSKUTierBasic), Capacity: to.Ptr[int32](1)},
		Identity:   &armkusto.Identity{Type: to.Ptr(armkusto.IdentityTypeSystemAssigned)},
		Properties: &armkusto.ClusterProperties{VirtualNetworkConfiguration: vnet},
	}, nil))
	cl := must(p.PollUntilDone(ctx, testkit.PollOptions))
	if got, want := *cl.Properties.ProvisioningState, armkusto.ProvisioningStateSucceeded; got != want {
		t.Fatalf("cluster %s provisioningState = %s, want %s", name, got, want)
	}
	return *cl.ID
}

// createMPE creates a managed private endpoint through the SDK and waits
// for it, as the cluster administrator who does not own the target
// (testkit's Requester): its connection waits Pending for the owner.
func createMPE(t *testing.T, env *testkit.Env, rg, cluster, name, targetID, group, msg string) (armkusto.ManagedPrivateEndpoint, error) {
	t.Helper()
	c := must(armkusto.NewManagedPrivateEndpointsClient(env.Subscription, env.Requester(t).Cred, env.Options))
	p, err := c.BeginCreateOrUpdate(ctx, rg, cluster, name, armkusto.ManagedPrivateEndpoint{Properties: &armkusto.ManagedPrivateEndpointProperties{
		PrivateLinkResourceID: to.Ptr(targetID), GroupID: to.Ptr(group), RequestMessage: to.Ptr(msg),
	}}, nil)
	if err != nil {
		return armkusto.ManagedPrivateEndpoint{}, err
	}
	res, err := p.PollUntilDone(ctx, testkit.PollOptions)
	return res.ManagedPrivateEndpoint, err
}

func deleteMPE(t *testing.T, env *testkit.Env, rg, cluster, name string) {
	t.Helper()
	c := must(armkusto.NewManagedPrivateEndpointsClient(env.Subscription, env.Cred, env.Options))
	p := must(c.BeginDelete(ctx, rg, cluster, name, nil))
	must(p.PollUntilDone(ctx, testkit.PollOptions))
}

// endpointState is privlink's view of an endpoint's connection (GET /_privlink/endpoints).
type endpointState struct {
	ProvisioningState string `json:"provisioningState"`
	ConnectionState   string `json:"connectionState"`
	Description       string `json:"description"`
}

func stateOf(t *testing.T, env *testkit.Env, id string) endpointState {
	t.Helper()
	var st endpointState
	env.GetJSON(t, "/_privlink/endpoints?id="+url.QueryEscape(id), &st)
	return st
}

// call sends a request through env's clients (the round robin) with env's
// token and returns the status, the headers and the body.
func call(t *testing.T, env *testkit.Env, token, method, path, body string) (int, http.Header, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(method, env.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := env.HTTP.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

// armErrorCode is the code of an ARM error body ({"error":{"code":...}}), or "".
func armErrorCode(body []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error.Code
}
