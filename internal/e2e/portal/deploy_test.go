package portal

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/chromedp/chromedp"
	"github.com/privlink/privlink/internal/testkit"
)

// deployTemplate deploys a storage account named by a parameter, a Kusto
// cluster and a managed private endpoint from the cluster to the account,
// which waits for both; its outputs are the account's blob endpoint and a
// number.
const deployTemplate = `{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "parameters": {
    "storageName": {"type": "string"},
    "clusterName": {"type": "string", "defaultValue": "portalcluster"}
  },
  "resources": [
    {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "[parameters('storageName')]",
     "location": "westus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"},
    {"type": "Microsoft.Kusto/clusters", "apiVersion": "2023-08-15", "name": "[parameters('clusterName')]",
     "location": "westus", "sku": {"name": "Standard_E2a_v4", "tier": "Standard", "capacity": 2}},
    {"type": "Microsoft.Kusto/clusters/managedPrivateEndpoints", "apiVersion": "2023-08-15",
     "name": "[concat(parameters('clusterName'), '/toStorage')]",
     "dependsOn": [
       "[resourceId('Microsoft.Storage/storageAccounts', parameters('storageName'))]",
       "[resourceId('Microsoft.Kusto/clusters', parameters('clusterName'))]"
     ],
     "properties": {"privateLinkResourceId": "[resourceId('Microsoft.Storage/storageAccounts', parameters('storageName'))]",
                    "groupId": "blob", "requestMessage": "From the portal"}}
  ],
  "outputs": {
    "blobEndpoint": {"type": "string", "value": "[reference(resourceId('Microsoft.Storage/storageAccounts', parameters('storageName'))).primaryEndpoints.blob]"},
    "resourceCount": {"type": "int", "value": 3}
  }
}`

const deployParameters = `{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
  "contentVersion": "1.0.0.0",
  "parameters": {"storageName": {"value": "portalstore1"}}
}`

// deployGroup makes a resource group through the SDK, as the default principal.
func deployGroup(t *testing.T, env *testkit.Env, name string) {
	t.Helper()
	groups, err := armresources.NewResourceGroupsClient(env.Subscription, env.Cred, env.Options)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := groups.CreateOrUpdate(context.Background(), name, armresources.ResourceGroup{Location: to.Ptr("westus")}, nil); err != nil {
		t.Fatal(err)
	}
}

// chooseSubscription chooses the subscription and waits for the resource
// group field that htmx brings for it (the one shown before is marked, so
// that the new one can be told apart).
func chooseSubscription(name string) step {
	return chromedp.Steps(
		chromedp.WaitVisible(byLabel("Resource group")),
		evaluate(`document.getElementById('group-field').dataset.before = '1'`),
		choose("Subscription", name),
		chromedp.WaitVisible(`//div[@id='group-field' and not(@data-before)]`),
	)
}

// TestPortalDeployCustomTemplate: Deploy a custom template, as the default
// principal: the subscription and group chosen, a template and its
// parameters pasted, Review + create lists what it deploys, Create opens
// the deployment's page, which follows each resource from running to
// Succeeded without a reload and shows the outputs; the group's
// Deployments blade lists it as Succeeded.
func TestPortalDeployCustomTemplate(t *testing.T) {
	// Three seconds per resource: the page (polling every second) sees
	// the endpoint wait for the account and the cluster.
	env := testkit.Start(t, testkit.WithDelay(3*time.Second))
	deployGroup(t, env, "deployrg")
	ctx := browser(t)
	run(t, ctx, "signing in", signInDefault(env))
	run(t, ctx, "opening Deploy a custom template", follow("Deploy a custom template"), chromedp.WaitVisible(byLabel("Template")))
	if name := deployValue(t, ctx, "Deployment name"); !strings.HasPrefix(name, "Microsoft.Template-") {
		t.Errorf("the proposed deployment name is %q", name)
	}
	run(t, ctx, "the project details",
		chooseSubscription("privlink default subscription"),
		choose("Resource group", "deployrg"),
		fill("Deployment name", "storage-and-cluster"))
	run(t, ctx, "pasting the template and its parameters, Review + create",
		paste("Template", deployTemplate), paste("Parameters", deployParameters),
		click("Review + create"), waitText("Validation passed"))
	review := text(t, ctx, "main")
	for _, want := range []string{"deployrg", "storage-and-cluster", "portalstore1", "portalcluster/toStorage", "Managed private endpoint", "storageName", "clusterName"} {
		if !strings.Contains(review, want) {
			t.Errorf("Review + create does not show %q:\n%s", want, review)
		}
	}

	run(t, ctx, "Create", click("Create"), waitText("Deployment details"),
		// A mark that a reload would lose: the page must follow the
		// deployment by itself.
		evaluate(`window.deployMark = 'same page'`))
	page := location(t, ctx)
	if !strings.HasSuffix(page, "/resourceGroups/deployrg/providers/Microsoft.Resources/deployments/storage-and-cluster") {
		t.Errorf("Create led to %s, not the deployment's page", page)
	}
	// Watch the details until the deployment is complete.
	var seen []string
	deadline := time.Now().Add(30 * time.Second)
	for {
		live := text(t, ctx, "#deployment-live")
		if len(seen) == 0 || seen[len(seen)-1] != live {
			seen = append(seen, live)
		}
		if strings.Contains(live, "Your deployment is complete.") {
			break
		}
		if strings.Contains(live, "Your deployment failed") || time.Now().After(deadline) {
			t.Fatalf("the deployment did not complete:\n%s", live)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if first := seen[0]; !strings.Contains(first, "in progress") || !(strings.Contains(first, "Running") || strings.Contains(first, "Accepted")) {
		t.Errorf("the deployment's page did not show it running first:\n%s", first)
	}
	if !strings.Contains(strings.Join(seen, "\n"), "Waiting for") {
		t.Errorf("the endpoint was never shown waiting for the account and the cluster:\n%s", strings.Join(seen, "\n----\n"))
	}
	if mark, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.deployMark`)); err != nil || mark != "same page" {
		t.Errorf("the page was reloaded (mark %q, %v): it should update itself", mark, err)
	}
	rows := deployRows(t, ctx, "#deployment-details + table tbody tr")
	if len(rows) != 3 {
		t.Errorf("Deployment details has %d rows, want 3: %q", len(rows), rows)
	}
	for _, want := range []string{"portalstore1", "portalcluster", "portalcluster/toStorage"} {
		found := false
		for _, r := range rows {
			if strings.HasPrefix(r, want+"\t") && strings.Contains(r, "Succeeded") {
				found = true
			}
		}
		if !found {
			t.Errorf("Deployment details has no Succeeded row for %s: %q", want, rows)
		}
	}
	outputs := deployRows(t, ctx, "#deployment-outputs + table tbody tr")
	if len(outputs) != 2 || !strings.HasPrefix(outputs[0], "blobEndpoint\tString\thttps://portalstore1.blob.") || outputs[1] != "resourceCount\tInt\t3" {
		t.Errorf("outputs = %q", outputs)
	}
	run(t, ctx, "opening the endpoint from the details", follow("portalcluster/toStorage"), waitText("Essentials"),
		// Its essentials say where it leads and how its connection stands.
		chromedp.WaitVisible(`//dl[@class='essentials'][dt='Target resource'][dd='portalstore1 (Storage account)'][dt='Target sub-resource'][dd='blob'][dt='Connection state'][dd='Approved']`),
		// and, from the data path, its private address and names.
		chromedp.WaitVisible(`//dl[@class='essentials'][dt='Private IP address'][dt='DNS names (from the cluster)'][dd[contains(., 'portalstore1.blob.core.windows.net')]]`))
	if u := location(t, ctx); !strings.HasSuffix(u, "/clusters/portalcluster/managedPrivateEndpoints/toStorage") {
		t.Errorf("the endpoint's link leads to %s", u)
	}

	run(t, ctx, "the group's Deployments blade",
		chromedp.Navigate(env.URL+"/resource/subscriptions/"+env.Subscription+"/resourceGroups/deployrg"),
		follow("Deployments"), waitText("storage-and-cluster"))
	list := deployRows(t, ctx, "main table tbody tr")
	if len(list) != 1 || !strings.HasPrefix(list[0], "storage-and-cluster\tSucceeded\t") {
		t.Errorf("the group's Deployments = %q", list)
	}
	run(t, ctx, "the deployment from the list", follow("storage-and-cluster"), waitText("Your deployment is complete."))
	run(t, ctx, "Go to resource group", click("Go to resource group"), waitText("Essentials"), waitText("portalcluster"),
		follow("Deployments"), follow("storage-and-cluster"), waitText("Your deployment is complete."))
	checkNarrow(t, ctx, `//main//*[contains(., "Your deployment is complete.")]`)
	run(t, ctx, "Deploy a custom template", chromedp.Navigate(env.URL+"/deploy"), chromedp.WaitVisible(byLabel("Template")))
	checkNarrow(t, ctx, byLabel("Template"))
}

// deployValue is the value of the control labelled label.
func deployValue(t *testing.T, ctx context.Context, label string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Value(byLabel(label)))
	if err != nil {
		t.Fatalf("reading %s: %v", label, err)
	}
	return v
}

// deployRows are the rows matching css, each as its cells' text joined by tabs.
func deployRows(t *testing.T, ctx context.Context, css string) []string {
	t.Helper()
	js := fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).map(r => Array.from(r.cells).map(c => c.innerText.trim()).join('\t'))`, css)
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](js))
	if err != nil {
		t.Fatalf("reading %s: %v", css, err)
	}
	return rows
}

// deployFieldError is the text of the error that the control labelled
// label names in its aria-describedby (what a screen reader reads with it).
func deployFieldError(t *testing.T, ctx context.Context, label string) string {
	t.Helper()
	js := fmt.Sprintf(`(() => {
		const f = document.evaluate(%q, document, null, 9, null).singleNodeValue;
		if (!f) return 'no field';
		return (f.getAttribute('aria-describedby') || '').split(/\s+/).map(id => document.getElementById(id)).
			filter(e => e && e.getAttribute('role') === 'alert').map(e => e.innerText).join('\n');
	})()`, byLabel(label))
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		t.Fatalf("reading the error of %s: %v", label, err)
	}
	return s
}

// TestPortalDeployErrors: a template that is not JSON, and one with an
// invalid expression, are said next to the Template field with the line
// and column; a Contributor of the group deploying a template with a role
// assignment is told in words that it may not write it, and nothing is
// deployed.
func TestPortalDeployErrors(t *testing.T) {
	env := testkit.Start(t)
	deployGroup(t, env, "errorsrg")
	ctx := browser(t)
	open := chromedp.Navigate(env.URL + "/deploy?subscription=" + env.Subscription + "&resourceGroup=errorsrg")
	run(t, ctx, "signing in", signInDefault(env))

	run(t, ctx, "a template that is not JSON", open, paste("Template", "{\n  \"resources\": [ x ]\n}"),
		click("Review + create"), waitText("is not valid JSON"))
	if got := deployValue(t, ctx, "Resource group"); got != "errorsrg" {
		t.Errorf("the resource group chosen is %q, want errorsrg (from the link)", got)
	}
	// In JSON.NET's words and count (the API's and the CLI's): position 17
	// is the 0-based column of the x.
	if e := deployFieldError(t, ctx, "Template"); !strings.Contains(e, "Unexpected character encountered while parsing value: x. Path 'resources', line 2, position 17.") {
		t.Errorf("the Template field's error does not say where:\n%s", e)
	}
	if v := deployValue(t, ctx, "Template"); v != "{\n  \"resources\": [ x ]\n}" {
		t.Errorf("the template was not kept: %q", v)
	}

	bad := `{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "resources": [
    {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01",
     "name": "[concat('a', nosuch('b'))]", "location": "westus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}
  ]
}`
	run(t, ctx, "a template with an invalid expression", paste("Template", bad), click("Review + create"), waitText("The template is not valid."))
	e := deployFieldError(t, ctx, "Template")
	// Line 6: "name" starts at column 6, its string at 14, nosuch at 28.
	if !strings.Contains(e, "The template function 'nosuch' is not valid") || !strings.Contains(e, "at line '6' and column '28'") {
		t.Errorf("the Template field's error:\n%s", e)
	}
	if !strings.Contains(e, "Details (the API's answer)") {
		t.Errorf("the API's answer is not one click away:\n%s", e)
	}

	// The same in the dialect the API reads (JSON.NET's: a comment, single
	// quotes, a name without quotes, a trailing comma): accepted as the API
	// accepts it, and the expression's place is still that of the text.
	dialect := `// made by hand
{
  '$schema': 'https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#',
  contentVersion: '1.0.0.0',
  "resources": [
    {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01",
     "name": "[concat('a', nosuch('b'))]", "location": "westus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"},
  ]
}`
	run(t, ctx, "the same template in JSON.NET's dialect", paste("Template", dialect), click("Review + create"), waitText("The template function 'nosuch' is not valid"))
	if e := deployFieldError(t, ctx, "Template"); !strings.Contains(e, "at line '7' and column '28'") {
		t.Errorf("the Template field's error for the template in JSON.NET's dialect:\n%s", e)
	}

	undeclared := strings.Replace(bad, `"[concat('a', nosuch('b'))]"`, `"[parameters('cluster_name')]"`, 1)
	run(t, ctx, "a template using a parameter it does not declare", paste("Template", undeclared), click("Review + create"),
		waitText("The template uses a parameter that its parameters section does not declare."))
	if e := deployFieldError(t, ctx, "Template"); !strings.Contains(e, "'cluster_name'") {
		t.Errorf("the Template field's error does not name the parameter:\n%s", e)
	}
	if e := deployFieldError(t, ctx, "Parameters"); e != "" {
		t.Errorf("the Parameters field is blamed for the template's mistake:\n%s", e)
	}

	// A Contributor of the group may write storage accounts, not role
	// assignments.
	sub := "/subscriptions/" + env.Subscription
	contributor := env.NewPrincipal(t, "group contributor")
	env.Assign(t, contributor.ObjectID, "ServicePrincipal", sub+"/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c", sub+"/resourceGroups/errorsrg")
	grant := `{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "contentVersion": "1.0.0.0",
  "resources": [
    {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "grantstore",
     "location": "westus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"},
    {"type": "Microsoft.Authorization/roleAssignments", "apiVersion": "2022-04-01", "name": "[guid(resourceGroup().id, 'owner')]",
     "properties": {"roleDefinitionId": "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '8e3af657-a8ff-443c-a75c-2fe8c4bcb635')]",
                    "principalId": "` + contributor.ObjectID + `"}}
  ]
}`
	run(t, ctx, "a Contributor deploying a role assignment",
		signIn(env, contributor.ClientID, contributor.Secret), open,
		paste("Template", grant), click("Review + create"), waitText("You do not have permission to deploy this template"))
	e = deployFieldError(t, ctx, "Template")
	if !strings.Contains(e, "Role assignment") || !strings.Contains(e, "Microsoft.Authorization/roleAssignments/write") || !strings.Contains(e, "Nothing was deployed") {
		t.Errorf("the refusal is not said in words:\n%s", e)
	}
	run(t, ctx, "the API's answer, one click away",
		chromedp.Click(`//main//summary[normalize-space()="Details (the API's answer)"]`),
		chromedp.WaitVisible(`//main//details[@open]//pre[contains(., 'InvalidTemplateDeployment')]`))
	accounts, err := armstorage.NewAccountsClient(env.Subscription, env.Cred, env.Options)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := accounts.GetProperties(context.Background(), "errorsrg", "grantstore", nil); err == nil {
		t.Error("the refused template's storage account was created")
	}
	deps, err := armresources.NewDeploymentsClient(env.Subscription, env.Cred, env.Options)
	if err != nil {
		t.Fatal(err)
	}
	page, err := deps.NewListByResourceGroupPager("errorsrg", nil).NextPage(context.Background())
	if err != nil || len(page.Value) != 0 {
		t.Errorf("deployments in the group after the refusals: %d (%v), want none", len(page.Value), err)
	}
}
