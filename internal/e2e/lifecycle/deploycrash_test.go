package lifecycle

import (
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/privlink/privlink/internal/testkit/fixtures"
)

// TestCrashDuringDeployment kills the server (SIGKILL) while a template
// deployment is half done; after a restart the deployment resumes and
// finishes with every resource deployed once.
func TestCrashDuringDeployment(t *testing.T) {
	defer fixtures.FailOnPanic(t)
	dir := t.TempDir()
	first := startChild(t, dir, 600*time.Millisecond)
	fixtures.CreateRG(t, first.env, first.env.Subscription, "adx")
	cluster := func(name string, after ...string) map[string]any {
		return map[string]any{"type": "Microsoft.Kusto/clusters", "apiVersion": "2024-04-13", "name": name,
			"location": "[resourceGroup().location]", "sku": map[string]any{"name": "Standard_E2a_v4", "tier": "Standard"}, "dependsOn": after}
	}
	tmpl := map[string]any{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
		"contentVersion": "1.0.0.0",
		"resources":      []any{cluster("first1"), cluster("second2", "first1"), cluster("third3", "second2")},
		"outputs":        map[string]any{"last": map[string]any{"type": "string", "value": "[reference('third3').uri]"}}}
	deps := fixtures.Must(armresources.NewDeploymentsClient(first.env.Subscription, first.env.Cred, first.env.Options))
	fixtures.Must(deps.BeginCreateOrUpdate(ctx, "adx", "crashed", armresources.Deployment{Properties: &armresources.DeploymentProperties{
		Mode: to.Ptr(armresources.DeploymentModeIncremental), Template: tmpl}}, nil))
	time.Sleep(900 * time.Millisecond) // first1 done, second2 provisioning
	first.kill(t)

	second := startChild(t, dir, 0)
	deps = fixtures.Must(armresources.NewDeploymentsClient(second.env.Subscription, second.env.Cred, second.env.Options))
	deadline := time.Now().Add(30 * time.Second)
	var d armresources.DeploymentsClientGetResponse
	for {
		d = fixtures.Must(deps.Get(ctx, "adx", "crashed", nil))
		s := *d.Properties.ProvisioningState
		if s == armresources.ProvisioningStateSucceeded {
			break
		}
		if s == armresources.ProvisioningStateFailed || s == armresources.ProvisioningStateCanceled || time.Now().After(deadline) {
			t.Fatalf("after the crash the deployment is %s: %+v", s, d.Properties.Error)
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, _ := d.Properties.Outputs.(map[string]any)
	if o, _ := out["last"].(map[string]any); o["value"] != "https://third3.westus.kusto.windows.net" {
		t.Fatalf("outputs %v", out)
	}
	kc := fixtures.Must(armkusto.NewClustersClient(second.env.Subscription, second.env.Cred, second.env.Options))
	for _, n := range []string{"first1", "second2", "third3"} {
		c := fixtures.Must(kc.Get(ctx, "adx", n, nil))
		if *c.Properties.ProvisioningState != armkusto.ProvisioningStateSucceeded {
			t.Fatalf("%s is %s", n, *c.Properties.ProvisioningState)
		}
	}
	ops := 0
	pager := fixtures.Must(armresources.NewDeploymentOperationsClient(second.env.Subscription, second.env.Cred, second.env.Options)).NewListPager("adx", "crashed", nil)
	for pager.More() {
		ops += len(fixtures.Must(pager.NextPage(ctx)).Value)
	}
	if ops != 3 {
		t.Fatalf("%d deployment operations, want one per resource (3)", ops)
	}
}
