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
	tmpl := clusterChain()
	tmpl["outputs"] = map[string]any{"last": map[string]any{"type": "string", "value": "[reference('third3').uri]"}}
	deps := fixtures.Must(armresources.NewDeploymentsClient(first.env.Subscription, first.env.Cred, first.env.Options))
	fixtures.Must(deps.BeginCreateOrUpdate(ctx, "adx", "crashed", armresources.Deployment{Properties: &armresources.DeploymentProperties{
		Mode: to.Ptr(armresources.DeploymentModeIncremental), Template: tmpl}}, nil))
	time.Sleep(900 * time.Millisecond) // first1 done, second2 provisioning
	first.kill(t)

	second := startChild(t, dir, 0)
	deps = fixtures.Must(armresources.NewDeploymentsClient(second.env.Subscription, second.env.Cred, second.env.Options))
	d := awaitDeployment(t, deps, "adx", "crashed", "after the crash")
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
