package transparent

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/testkit"
)

// TestAzureCLI drives the Azure CLI (az, Debian's package azure-cli) in a
// shell with only what 'privlink env' exports, as a user scripting ADX
// networking with it would: a service principal's login, a resource group,
// a storage account, a key vault (whose create asks Microsoft Graph for
// the signed-in principal's object id), the seed's cluster and managed
// private endpoint with 'az rest' (the armclient calls of the
// documentation), the owner's side with 'az storage account
// private-endpoint-connection', and the seed's template with 'az
// deployment group create' and 'what-if'.
//
// Not covered, because Debian's package (2.45) cannot run them against
// Azure either: 'az network ...' and 'az role ...' fail inside az (SDK
// versions that do not match its modules), and 'az eventhubs namespace
// private-endpoint-connection' too.
func TestAzureCLI(t *testing.T) {
	az, err := exec.LookPath("az")
	testkit.Need(t, err == nil, "the Azure CLI (az) is not installed", "install Debian's package azure-cli")
	env := testkit.Start(t, testkit.WithOffline())
	vars, _ := env.ShellEnv(t)
	config := t.TempDir()
	// Its own configuration and token cache; no telemetry or update check
	// (refused offline anyway).
	azCmd := func(args ...string) *exec.Cmd {
		return testkit.InShell(exec.Command(az, args...), vars, "AZURE_CONFIG_DIR="+config, "AZURE_CORE_COLLECT_TELEMETRY=false",
			"AZURE_CORE_NO_COLOR=true", "AZURE_CORE_SURVEY_MESSAGE=false", "AZURE_EXTENSION_USE_DYNAMIC_INSTALL=no")
	}
	run := func(args ...string) []byte {
		t.Helper()
		return testkit.Output(t, azCmd(args...))
	}
	jsonOf := func(out []byte, v any) {
		t.Helper()
		if err := json.Unmarshal(out, v); err != nil {
			t.Fatalf("az printed %q: %v", out, err)
		}
	}

	var accounts []struct{ ID, TenantID string }
	jsonOf(run("login", "--service-principal", "-u", vars["AZURE_CLIENT_ID"], "-p", vars["AZURE_CLIENT_SECRET"], "--tenant", vars["AZURE_TENANT_ID"], "-o", "json"), &accounts)
	if len(accounts) == 0 || accounts[0].ID != env.Subscription {
		t.Fatalf("az login found the subscriptions %+v, want %s", accounts, env.Subscription)
	}
	run("group", "create", "-n", "adx", "-l", "westus", "-o", "none")
	run("storage", "account", "create", "-n", "share", "-g", "adx", "-l", "westus", "--sku", "Standard_LRS", "-o", "none")
	run("eventhubs", "namespace", "create", "-n", "myeventhubns", "-g", "adx", "-l", "westus", "-o", "none")
	// az gives the vault an access policy for the signed-in principal, whose
	// object id it asks Microsoft Graph for: GET /me, refused for an
	// application, then the service principal named by its app id.
	var policy []struct{ ObjectID string }
	jsonOf(run("keyvault", "create", "-n", "myvault", "-g", "adx", "-l", "westus", "--query", "properties.accessPolicies", "-o", "json"), &policy)
	if len(policy) != 1 || policy[0].ObjectID != identity.DefaultClientObjectID {
		t.Fatalf("az keyvault create's access policies: %+v, want one for the signed-in service principal %s", policy, identity.DefaultClientObjectID)
	}
	sub := "/subscriptions/" + env.Subscription + "/resourceGroups/adx"
	sa := sub + "/providers/Microsoft.Storage/storageAccounts/share"
	cluster := "https://management.azure.com" + sub + "/providers/Microsoft.Kusto/clusters/mycluster"
	run("rest", "--method", "put", "--url", cluster+"?api-version=2024-04-13",
		"--body", "{'location':'westus','sku':{'name':'Standard_E2a_v4','tier':'Standard'}}", "-o", "none")
	// The documentation's body, as armclient sends it.
	var mpe struct {
		Properties struct{ ProvisioningState string } `json:"properties"`
	}
	jsonOf(run("rest", "--method", "put", "--url", cluster+"/managedPrivateEndpoints/mpeToShare?api-version=2022-02-01",
		"--body", "{'properties':{'privateLinkResourceId':'"+sa+"','groupId':'blob','requestMessage':'Please Approve.'}}"), &mpe)
	if mpe.Properties.ProvisioningState == "" {
		t.Fatalf("the managed private endpoint as az rest printed it: %+v", mpe)
	}

	// The owner's side: the account lists its connection, which the CLI
	// rejects; approving it again is refused, in azure-cli's own words.
	var conns []struct {
		Name  string
		State struct{ Status, ActionRequired string } `json:"privateLinkServiceConnectionState"`
	}
	jsonOf(run("storage", "account", "show", "-n", "share", "-g", "adx", "--query", "privateEndpointConnections", "-o", "json"), &conns)
	if len(conns) != 1 || conns[0].State.Status != "Approved" || conns[0].State.ActionRequired != "None" || !strings.HasPrefix(conns[0].Name, "mycluster.mpeToShare.") {
		t.Fatalf("az storage account show --query privateEndpointConnections: %+v, want mpeToShare's connection, auto-approved", conns)
	}
	var rejected struct {
		State struct{ Status, Description string } `json:"privateLinkServiceConnectionState"`
	}
	jsonOf(run("storage", "account", "private-endpoint-connection", "reject", "--account-name", "share", "-g", "adx", "-n", conns[0].Name,
		"--description", "Not this one.", "-o", "json"), &rejected)
	if rejected.State.Status != "Rejected" || rejected.State.Description != "Not this one." {
		t.Fatalf("az ... private-endpoint-connection reject: %+v", rejected)
	}
	if out, err := azCmd("storage", "account", "private-endpoint-connection", "approve", "--account-name", "share", "-g", "adx", "-n", conns[0].Name).CombinedOutput(); err == nil || !strings.Contains(string(out), "You cannot approve the connection request after rejection") {
		t.Fatalf("approving the rejected connection: %v\n%s", err, out)
	}

	// The generic lists, as az asks for them ($filter, $expand), and its
	// table of them.
	var vaults []struct{ Name string }
	jsonOf(run("keyvault", "list", "-o", "json"), &vaults)
	if len(vaults) != 1 || vaults[0].Name != "myvault" {
		t.Fatalf("az keyvault list: %+v, want myvault alone", vaults)
	}
	if table := string(run("resource", "list", "-g", "adx", "-o", "table")); !strings.Contains(table, "myvault") || !strings.Contains(table, "mycluster") {
		t.Fatalf("az resource list -g adx -o table:\n%s", table)
	}
	run("resource", "show", "-g", "adx", "-n", "mycluster", "--resource-type", "Microsoft.Kusto/clusters", "-o", "none")

	// The seed's template, deployed and then predicted.
	args := []string{"-g", "adx", "--template-file", "../../../testdata/templates/seed/azuredeploy.json",
		"--parameters", "@../../../testdata/templates/seed/azuredeploy.parameters.json",
		"cluster_name=azcluster", "managed_pe_eventhub_name=toHub", "managed_pe_storage_name=toShare",
		"eventhub_resource_id=" + sub + "/providers/Microsoft.EventHub/namespaces/myeventhubns", "storage_resource_id=" + sa}
	var state string
	jsonOf(run(append([]string{"deployment", "group", "create", "--query", "properties.provisioningState", "-o", "json"}, args...)...), &state)
	if state != "Succeeded" {
		t.Fatalf("az deployment group create: %s", state)
	}
	var whatIf struct {
		Changes []struct{ ChangeType string } `json:"changes"`
	}
	jsonOf(run(append([]string{"deployment", "group", "what-if", "--no-pretty-print", "-o", "json"}, args...)...), &whatIf)
	for _, c := range whatIf.Changes {
		if c.ChangeType == "Create" || c.ChangeType == "Delete" {
			t.Fatalf("what-if of the deployed template: %+v, want no creation or deletion", whatIf.Changes)
		}
	}
	if len(whatIf.Changes) == 0 {
		t.Fatal("what-if of the deployed template lists no resource")
	}
}
