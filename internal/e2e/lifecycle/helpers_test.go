package lifecycle

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/privlink/privlink/internal/testkit"
	"github.com/privlink/privlink/internal/testkit/fixtures"
)

// ctx is the context of the tests' SDK calls.
var ctx = context.Background()

// createCluster is fixtures.CreateCluster, also checking that the
// cluster's system-assigned identity has a principal id; it returns the
// cluster's id.
func createCluster(t *testing.T, env *testkit.Env, rg, name string, vnet *armkusto.VirtualNetworkConfiguration) string {
	t.Helper()
	cl := fixtures.CreateCluster(t, env, rg, name, vnet)
	if cl.Identity == nil || cl.Identity.PrincipalID == nil || *cl.Identity.PrincipalID == "" {
		t.Fatalf("cluster %s: system-assigned identity has no principal id", name)
	}
	return *cl.ID
}

// seedCrashTest makes what the crash tests create endpoints between: groups
// adx and targets, cluster mycluster in adx, and storage account share (the
// first of targets()) in targets, whose id it returns.
func seedCrashTest(t *testing.T, env *testkit.Env) string {
	t.Helper()
	fixtures.CreateRG(t, env, env.Subscription, "adx")
	fixtures.CreateRG(t, env, env.Subscription, "targets")
	createCluster(t, env, "adx", "mycluster", nil)
	return targets()[0].Create(t, env, "targets", "share")
}

// targets is fixtures.Targets, its Kusto cluster made by createCluster
// (so that its identity is checked too, as every cluster's is here).
func targets() []fixtures.Target {
	ts := fixtures.Targets()
	for i := range ts {
		if ts[i].Group == "cluster" {
			ts[i].Create = func(t *testing.T, env *testkit.Env, rg, name string) string {
				return createCluster(t, env, rg, name, nil)
			}
		}
	}
	return ts
}

// clusterChain is a template of three Kusto clusters deployed one after
// another (first1, then second2, then third3), for tests that stop a
// deployment half-way.
func clusterChain() map[string]any {
	cluster := func(name string, after ...string) map[string]any {
		return map[string]any{"type": "Microsoft.Kusto/clusters", "apiVersion": "2024-04-13", "name": name,
			"location": "[resourceGroup().location]", "sku": map[string]any{"name": "Standard_E2a_v4", "tier": "Standard"}, "dependsOn": after}
	}
	return map[string]any{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
		"contentVersion": "1.0.0.0",
		"resources":      []any{cluster("first1"), cluster("second2", "first1"), cluster("third3", "second2")}}
}

// awaitDeployment reads deployment name in group rg until it has
// Succeeded, and returns it; it fails t, saying when (e.g. "after the
// crash"), if the deployment fails, is canceled, or takes over 30 s.
func awaitDeployment(t *testing.T, deps *armresources.DeploymentsClient, rg, name, when string) armresources.DeploymentsClientGetResponse {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		d := fixtures.Must(deps.Get(ctx, rg, name, nil))
		s := *d.Properties.ProvisioningState
		if s == armresources.ProvisioningStateSucceeded {
			return d
		}
		if s == armresources.ProvisioningStateFailed || s == armresources.ProvisioningStateCanceled || time.Now().After(deadline) {
			t.Fatalf("%s the deployment is %s: %+v", when, s, d.Properties.Error)
		}
		time.Sleep(100 * time.Millisecond)
	}
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
