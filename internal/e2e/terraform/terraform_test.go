// Package terraform runs the seed's Terraform configuration (the azapi
// provider) against privlink through its transparent proxy: apply, a clean
// plan, a second apply that keeps the owner's approvals, and destroy, with
// the client-secret login and with the managed-identity login.
package terraform

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/eventhub/armeventhub"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/testkit"
)

var ctx = context.Background()

// terraformTools finds the terraform binary and the CLI configuration with
// the azapi mirror that scripts/terraform-tools.sh prepares.
func terraformTools(t *testing.T) (bin, cliConfig string) {
	t.Helper()
	testkit.SkipUnlessSlow(t, "the Terraform suite")
	howTo := `run: eval "$(bash scripts/terraform-tools.sh)" (bash .ci/run does)`
	bin = os.Getenv("PRIVLINK_TERRAFORM")
	if bin == "" {
		bin, _ = exec.LookPath("terraform")
	}
	testkit.Need(t, bin != "", "no terraform binary", howTo)
	cliConfig = os.Getenv("TF_CLI_CONFIG_FILE")
	_, err := os.Stat(cliConfig)
	testkit.Need(t, cliConfig != "" && err == nil, "no Terraform CLI configuration with the azapi mirror (TF_CLI_CONFIG_FILE)", howTo)
	return bin, cliConfig
}

// targets creates what the seed's configuration refers to: a cluster, an
// Event Hubs namespace and a storage account, each in the resource group rg.
func targets(t *testing.T, env *testkit.Env, rg string) (cluster, eventhub, storage string) {
	t.Helper()
	groups, _ := armresources.NewResourceGroupsClient(env.Subscription, env.Cred, env.Options)
	if _, err := groups.CreateOrUpdate(ctx, rg, armresources.ResourceGroup{Location: to.Ptr("westus")}, nil); err != nil {
		t.Fatal(err)
	}
	kc, _ := armkusto.NewClustersClient(env.Subscription, env.Cred, env.Options)
	cp, err := kc.BeginCreateOrUpdate(ctx, rg, "mycluster", armkusto.Cluster{Location: to.Ptr("westus"),
		SKU: &armkusto.AzureSKU{Name: to.Ptr(armkusto.AzureSKUNameStandardE2AV4), Tier: to.Ptr(armkusto.AzureSKUTierStandard)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := cp.PollUntilDone(ctx, testkit.PollOptions)
	if err != nil {
		t.Fatal(err)
	}
	nc, _ := armeventhub.NewNamespacesClient(env.Subscription, env.Cred, env.Options)
	np, err := nc.BeginCreateOrUpdate(ctx, rg, "myeventhubns"+rg, armeventhub.EHNamespace{Location: to.Ptr("westus")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := np.PollUntilDone(ctx, testkit.PollOptions)
	if err != nil {
		t.Fatal(err)
	}
	sc, _ := armstorage.NewAccountsClient(env.Subscription, env.Cred, env.Options)
	sp, err := sc.BeginCreate(ctx, rg, "share"+rg, armstorage.AccountCreateParameters{Location: to.Ptr("westus"),
		Kind: to.Ptr(armstorage.KindStorageV2), SKU: &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := sp.PollUntilDone(ctx, testkit.PollOptions)
	if err != nil {
		t.Fatal(err)
	}
	return *cl.ID, *ns.ID, *sa.ID
}

// workspace copies testdata/terraform/<config> into a new directory.
func workspace(t *testing.T, config string) string {
	t.Helper()
	src := filepath.Join("..", "..", "..", "testdata", "terraform", config)
	files, err := filepath.Glob(filepath.Join(src, "*.tf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no configuration in %s: %v", src, err)
	}
	dir := t.TempDir()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// tf runs terraform in dir with environ, returning its exit code; it fails
// the test on other errors and prints the output of failures.
func tf(t *testing.T, bin, dir string, environ []string, args ...string) (int, string) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(c, bin, args...)
	cmd.Dir = dir
	cmd.Env = environ
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("terraform %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return code, out.String()
}

// connections lists a target's private endpoint connections as name → status.
func connections(t *testing.T, env *testkit.Env, rg, namespace string) map[string]string {
	t.Helper()
	c, _ := armeventhub.NewPrivateEndpointConnectionsClient(env.Subscription, env.Cred, env.Options)
	out := map[string]string{}
	pager := c.NewListPager(rg, namespace, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, pc := range page.Value {
			out[*pc.Name] = string(*pc.Properties.PrivateLinkServiceConnectionState.Status)
		}
	}
	return out
}

func approveAll(t *testing.T, env *testkit.Env, rg, namespace string) {
	t.Helper()
	c, _ := armeventhub.NewPrivateEndpointConnectionsClient(env.Subscription, env.Cred, env.Options)
	for name, status := range connections(t, env, rg, namespace) {
		if status != "Pending" {
			continue
		}
		if _, err := c.CreateOrUpdate(ctx, rg, namespace, name, armeventhub.PrivateEndpointConnection{Properties: &armeventhub.PrivateEndpointConnectionProperties{
			PrivateLinkServiceConnectionState: &armeventhub.ConnectionState{Status: to.Ptr(armeventhub.PrivateLinkConnectionStatusApproved), Description: to.Ptr("approved by the owner")},
		}}, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func endpointNames(t *testing.T, env *testkit.Env, rg string, cluster ...string) []string {
	t.Helper()
	c, _ := armkusto.NewManagedPrivateEndpointsClient(env.Subscription, env.Cred, env.Options)
	var names []string
	name := "mycluster"
	if len(cluster) > 0 {
		name = cluster[0]
	}
	pager := c.NewListPager(rg, name, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Value {
			names = append(names, *m.Name)
		}
	}
	sort.Strings(names)
	return names
}

// mirrored reports whether the CLI configuration's filesystem mirror holds
// a provider (e.g. "hashicorp/azurerm").
func mirrored(t *testing.T, cliConfig, provider string) bool {
	t.Helper()
	b, err := os.ReadFile(cliConfig)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`path\s*=\s*"([^"]+)"`).FindSubmatch(b)
	if m == nil {
		return false
	}
	_, err = os.Stat(filepath.Join(string(m[1]), "registry.terraform.io", provider))
	return err == nil
}

// A login is one way a shell signs Terraform in.
type login struct {
	name string
	// mode is privlink env's --mode.
	mode string
	// set and drop adjust the exported environment.
	set  map[string]string
	drop []string
	// wantBy and wantType are the endpoints' systemData creator.
	wantBy, wantType string
}

var (
	noSecret = []string{"ARM_CLIENT_SECRET", "AZURE_CLIENT_SECRET"}
	// msi turns on the managed identity login and off the Azure CLI's.
	msi = map[string]string{"ARM_USE_MSI": "true", "ARM_USE_CLI": "false"}

	secretLogin = login{name: "client secret", mode: "transparent", wantBy: identity.DefaultClientID, wantType: "Application"}
	// Without a secret the only credential left is the managed identity:
	// asked for the client id ARM_CLIENT_ID exports, the endpoint serves
	// that principal.
	msiLogin = login{name: "managed identity", mode: "transparent", set: msi, drop: noSecret,
		wantBy: identity.DefaultClientID, wantType: "Application"}
	msiOwnLogin = login{name: "managed identity by its own id", mode: "transparent",
		set: map[string]string{"ARM_USE_MSI": "true", "ARM_USE_CLI": "false", "ARM_CLIENT_ID": identity.ManagedIdentityID}, drop: append(noSecret, "ARM_CLIENT_ID"),
		wantBy: identity.ManagedIdentityID, wantType: "ManagedIdentity"}
	// The custom-cloud route: endpoints named in the environment (azapi's
	// ARM_ACTIVE_DIRECTORY_AUTHORITY_HOST and ARM_RESOURCE_MANAGER_ENDPOINT,
	// azurerm's ARM_METADATA_HOSTNAME), tenant "adfs", no proxy.
	directLogin = login{name: "client secret, direct", mode: "direct", wantBy: identity.DefaultClientID, wantType: "Application"}
)

// TestSeedConfiguration: the seed's configuration (azapi), unmodified but
// for its placeholders, with a provider block that names only the
// subscription, in a shell with only what 'privlink env' exports.
func TestSeedConfiguration(t *testing.T) {
	bin, cliConfig := terraformTools(t)
	runConfiguration(t, bin, cliConfig, "seed", []login{secretLogin, msiLogin, msiOwnLogin, directLogin})
}

// TestAzurermConfiguration: the seed's two endpoints written with azurerm's
// azurerm_kusto_cluster_managed_private_endpoint.
func TestAzurermConfiguration(t *testing.T) {
	bin, cliConfig := terraformTools(t)
	testkit.Need(t, mirrored(t, cliConfig, "hashicorp/azurerm"), "the azurerm provider is not in the mirror", "run: bash scripts/azurerm-provider.sh (bash .ci/run does)")
	runConfiguration(t, bin, cliConfig, "azurerm", []login{secretLogin, msiLogin, directLogin})
}

// runConfiguration applies testdata/terraform/<config> against a new server
// with each login: apply, the owner approves, a plan finds nothing to do, a
// second apply changes nothing and keeps the approval, destroy removes the
// endpoints and their connections.
func runConfiguration(t *testing.T, bin, cliConfig, config string, logins []login) {
	env := testkit.Start(t, testkit.WithOffline())
	for i, login := range logins {
		t.Run(login.name, func(t *testing.T) {
			rg := fmt.Sprintf("tf%d", i)
			clusterID, ehID, saID := targets(t, env, rg)
			namespace := filepath.Base(ehID)
			dir := workspace(t, config)
			tfvars := fmt.Sprintf("subscription_id = %q\neventhub_id = %q\nstorage_id = %q\n", identity.DefaultSubscriptionID, ehID, saID)
			if config == "azurerm" { // azurerm names the cluster by group and name
				tfvars += fmt.Sprintf("resource_group_name = %q\ncluster_name = %q\n", rg, "mycluster")
			} else {
				tfvars += fmt.Sprintf("cluster_id = %q\n", clusterID)
			}
			if err := os.WriteFile(filepath.Join(dir, "terraform.tfvars"), []byte(tfvars), 0o644); err != nil {
				t.Fatal(err)
			}
			vars, _ := env.ShellEnv(t, "--mode", login.mode)
			environ := append(testkit.CleanEnviron(), "TF_CLI_CONFIG_FILE="+cliConfig, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1")
			for k, v := range vars {
				keep := true
				for _, d := range login.drop {
					keep = keep && d != k
				}
				if keep {
					environ = append(environ, k+"="+v)
				}
			}
			for k, v := range login.set {
				environ = append(environ, k+"="+v)
			}

			if code, out := tf(t, bin, dir, environ, "init", "-input=false", "-no-color"); code != 0 {
				t.Fatalf("init: exit %d\n%s", code, out)
			}
			if code, out := tf(t, bin, dir, environ, "apply", "-auto-approve", "-input=false", "-no-color"); code != 0 {
				t.Fatalf("apply: exit %d\n%s", code, out)
			}
			if got, want := endpointNames(t, env, rg), []string{"mycluster/mpeToEventHub", "mycluster/mpeToStorage"}; strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("after apply the cluster has %v, want %v", got, want)
			}
			mc, _ := armkusto.NewManagedPrivateEndpointsClient(env.Subscription, env.Cred, env.Options)
			m, err := mc.Get(ctx, rg, "mycluster", "mpeToEventHub", nil)
			if err != nil {
				t.Fatal(err)
			}
			if by, typ := *m.SystemData.CreatedBy, string(*m.SystemData.CreatedByType); by != login.wantBy || typ != login.wantType {
				t.Fatalf("the endpoint was created by %s (%s), want %s (%s)", by, typ, login.wantBy, login.wantType)
			}
			// The namespace's owner approves; Terraform must leave that alone.
			approveAll(t, env, rg, namespace)
			approved := connections(t, env, rg, namespace)
			if len(approved) != 1 {
				t.Fatalf("the namespace has connections %v, want one", approved)
			}
			if code, out := tf(t, bin, dir, environ, "plan", "-detailed-exitcode", "-input=false", "-no-color"); code != 0 {
				t.Fatalf("plan after apply: exit %d, want 0 (no changes)\n%s", code, out)
			}
			if code, out := tf(t, bin, dir, environ, "apply", "-auto-approve", "-input=false", "-no-color"); code != 0 {
				t.Fatalf("second apply: exit %d\n%s", code, out)
			} else if !strings.Contains(out, "0 added, 0 changed, 0 destroyed") && !strings.Contains(out, "No changes.") {
				t.Fatalf("second apply changed something:\n%s", out)
			}
			if got := connections(t, env, rg, namespace); fmt.Sprint(got) != fmt.Sprint(approved) {
				t.Fatalf("after the second apply the connections are %v, want the approved %v", got, approved)
			}
			if code, out := tf(t, bin, dir, environ, "destroy", "-auto-approve", "-input=false", "-no-color"); code != 0 {
				t.Fatalf("destroy: exit %d\n%s", code, out)
			}
			if got := endpointNames(t, env, rg); len(got) != 0 {
				t.Fatalf("after destroy the cluster still has %v", got)
			}
			if got := connections(t, env, rg, namespace); len(got) != 0 {
				t.Fatalf("after destroy the namespace still has connections %v", got)
			}
		})
	}
}

// TestTemplatesThroughTerraform: the seed's ARM template deployed by an
// azapi_resource of type Microsoft.Resources/deployments, and a
// configuration that mixes a template-deployed endpoint with a directly
// managed one: each applies, plans clean, applies again without change,
// and destroys (a deployment's destroy removes its record, not what it
// deployed, as in Azure).
func TestTemplatesThroughTerraform(t *testing.T) {
	bin, cliConfig := terraformTools(t)
	env := testkit.Start(t, testkit.WithOffline())
	vars, _ := env.ShellEnv(t)
	environ := append(testkit.CleanEnviron(), "TF_CLI_CONFIG_FILE="+cliConfig, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1")
	for k, v := range vars {
		environ = append(environ, k+"="+v)
	}
	seedTemplate, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "templates", "seed", "azuredeploy.json"))
	if err != nil {
		t.Fatal(err)
	}
	deps, _ := armresources.NewDeploymentsClient(env.Subscription, env.Cred, env.Options)
	for i, config := range []string{"deployment", "mixed"} {
		t.Run(config, func(t *testing.T) {
			rg := fmt.Sprintf("tpl%d", i)
			clusterID, ehID, saID := targets(t, env, rg)
			cluster := filepath.Base(clusterID)
			if config == "deployment" {
				// The seed's template makes its own cluster.
				cluster = "tplcluster"
			}
			dir := workspace(t, config)
			// The workspace is a copy outside the repository: the
			// template goes beside it, named by template_path (the
			// "deployment" configuration's default is the repository's).
			if err := os.WriteFile(filepath.Join(dir, "azuredeploy.json"), seedTemplate, 0o644); err != nil {
				t.Fatal(err)
			}
			rgID := "/subscriptions/" + env.Subscription + "/resourceGroups/" + rg
			tfvars := fmt.Sprintf("subscription_id = %q\nresource_group_id = %q\ncluster_name = %q\neventhub_id = %q\nstorage_id = %q\n",
				env.Subscription, rgID, cluster, ehID, saID)
			if config == "deployment" {
				tfvars += fmt.Sprintf("template_path = %q\n", filepath.Join(dir, "azuredeploy.json"))
			}
			if err := os.WriteFile(filepath.Join(dir, "terraform.tfvars"), []byte(tfvars), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, step := range [][]string{
				{"init", "-input=false", "-no-color"},
				{"apply", "-auto-approve", "-input=false", "-no-color"},
			} {
				if code, out := tf(t, bin, dir, environ, step...); code != 0 {
					t.Fatalf("%s: exit %d\n%s", step[0], code, out)
				}
			}
			if got, want := endpointNames(t, env, rg, cluster), []string{cluster + "/mpeToEventHub", cluster + "/mpeToStorage"}; strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("after apply the cluster has %v, want %v", got, want)
			}
			name := map[string]string{"deployment": "seed-template", "mixed": "eventhub-endpoint"}[config]
			d, err := deps.Get(ctx, rg, name, nil)
			if err != nil || *d.Properties.ProvisioningState != armresources.ProvisioningStateSucceeded {
				t.Fatalf("deployment %s: %v", name, err)
			}
			if code, out := tf(t, bin, dir, environ, "plan", "-detailed-exitcode", "-input=false", "-no-color"); code != 0 {
				t.Fatalf("plan after apply: exit %d, want 0 (no changes)\n%s", code, out)
			}
			if code, out := tf(t, bin, dir, environ, "apply", "-auto-approve", "-input=false", "-no-color"); code != 0 || !strings.Contains(out, "0 added, 0 changed, 0 destroyed") {
				t.Fatalf("second apply: exit %d\n%s", code, out)
			}
			if config == "mixed" {
				if code, out := tf(t, bin, dir, environ, "output", "-raw", "template_endpoint_id"); code != 0 || !strings.HasSuffix(strings.TrimSpace(out), "/mpeToEventHub") {
					t.Fatalf("output: exit %d %q", code, out)
				}
			}
			if code, out := tf(t, bin, dir, environ, "destroy", "-auto-approve", "-input=false", "-no-color"); code != 0 {
				t.Fatalf("destroy: exit %d\n%s", code, out)
			}
			if _, err := deps.Get(ctx, rg, name, nil); err == nil {
				t.Fatalf("the deployment %s is still there after destroy", name)
			}
			want := []string{cluster + "/mpeToEventHub"}
			if config == "deployment" {
				want = append(want, cluster+"/mpeToStorage")
			}
			if got := endpointNames(t, env, rg, cluster); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("after destroy the cluster has %v, want %v (what the template deployed stays)", got, want)
			}
		})
	}
}
