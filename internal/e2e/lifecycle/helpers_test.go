package lifecycle

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/privlink/privlink/internal/testkit"
)

func createRG(t *testing.T, env *testkit.Env, sub, name string) {
	t.Helper()
	c := must(armresources.NewResourceGroupsClient(sub, env.Cred, env.Options))
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
	if cl.Identity == nil || cl.Identity.PrincipalID == nil || *cl.Identity.PrincipalID == "" {
		t.Fatalf("cluster %s: system-assigned identity has no principal id", name)
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
	ProvisioningState string   `json:"provisioningState"`
	ConnectionID      string   `json:"connectionId"`
	ConnectionState   string   `json:"connectionState"`
	Description       string   `json:"description"`
	Notes             []string `json:"notes"`
}

func stateOf(t *testing.T, env *testkit.Env, id string) endpointState {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, env.URL+"/_privlink/endpoints?id="+url.QueryEscape(id), nil)
	req.Header.Set("Authorization", "Bearer "+env.Token(t))
	resp := must(env.HTTP.Do(req))
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("endpoint state of %s: %s", id, resp.Status)
	}
	var st endpointState
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// armError asserts err is an ARM error with the given status and code, and returns its message.
func armError(t *testing.T, err error, status int, code string) string {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want an ARM error %d %s", err, status, code)
	}
	if re.StatusCode != status || re.ErrorCode != code {
		t.Fatalf("error = %d %s, want %d %s (%v)", re.StatusCode, re.ErrorCode, status, code, err)
	}
	return re.Error()
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
