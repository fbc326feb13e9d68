package template

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/privlink/privlink/internal/deploy/plan"
)

func TestNestedInnerAndOuterScope(t *testing.T) {
	tmpl := head + `
  "parameters": {"prefix": {"type": "string", "defaultValue": "outer"}},
  "variables": {"v": "parent-var"},
  "resources": [
    {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "inner",
     "resourceGroup": "other-rg",
     "properties": {
       "mode": "Incremental",
       "expressionEvaluationOptions": {"scope": "inner"},
       "parameters": {"prefix": {"value": "[concat(parameters('prefix'), '-', variables('v'))]"}},
       "template": {
         "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
         "contentVersion": "1.0.0.0",
         "parameters": {"prefix": {"type": "string"}},
         "variables": {"v": "inner-var"},
         "resources": [{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "[concat(parameters('prefix'), '-', variables('v'))]", "location": "[resourceGroup().location]"}],
         "outputs": {"rg": {"type": "string", "value": "[resourceGroup().name]"}}
       }
     }},
    {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "outer",
     "resourceGroup": "other-rg",
     "properties": {
       "mode": "Incremental",
       "template": {
         "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
         "contentVersion": "1.0.0.0",
         "variables": {"v": "ignored"},
         "resources": [{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "[concat(parameters('prefix'), '-', variables('v'))]"}],
         "outputs": {"rg": {"type": "string", "value": "[resourceGroup().name]"}}
       }
     }},
    {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "after",
     "properties": {"fromNested": "[reference('inner').outputs.rg.value]"}}
  ]}`
	p := mustBind(t, tmpl, "")
	rs := p.Resources()
	if rs[0].Nested == nil || rs[0].Nested.ResourceGroup != "other-rg" || rs[0].Nested.SubscriptionID != testSub {
		t.Fatalf("nested target = %+v", rs[0].Nested)
	}
	if want := "/subscriptions/" + testSub + "/resourceGroups/other-rg/providers/Microsoft.Resources/deployments/inner"; rs[0].ID != want {
		t.Errorf("nested id = %s", rs[0].ID)
	}
	if got := rs[2].DependsOn; len(got) != 1 || got[0] != 0 {
		t.Errorf("reference('inner') makes no edge: %v", got)
	}
	s := testScope()
	s.ResourceGroup = &plan.ResourceGroup{ID: "/subscriptions/" + testSub + "/resourceGroups/other-rg", Name: "other-rg", Location: "northeurope"}
	s.DeploymentName = "inner"
	rt := &fakeRuntime{}
	inner, err := p.Nested(rs[0], rt, s)
	if err != nil {
		t.Fatal(err)
	}
	ir := inner.Resources()
	if len(ir) != 1 || ir[0].Name != "outer-parent-var-inner-var" || !strings.Contains(ir[0].ID, "/resourceGroups/other-rg/") {
		t.Errorf("inner resources = %+v", ir[0])
	}
	if b, _ := inner.Body(ir[0], rt, false); string(b) != `{"location":"northeurope"}` {
		t.Errorf("inner body = %s", b)
	}
	if o, _ := inner.Outputs(rt); string(o) != `{"rg":{"type":"String","value":"other-rg"}}` {
		t.Errorf("inner outputs = %s", o)
	}
	s.DeploymentName = "outer"
	outer, err := p.Nested(rs[1], rt, s)
	if err != nil {
		t.Fatal(err)
	}
	or := outer.Resources()
	if len(or) != 1 || or[0].Name != "outer-parent-var" || !strings.Contains(or[0].ID, "/resourceGroups/other-rg/") {
		t.Errorf("outer-scope resources = %+v", or[0])
	}
	// In the outer scope, resourceGroup() is the parent's.
	if o, _ := outer.Outputs(rt); string(o) != `{"rg":{"type":"String","value":"rg"}}` {
		t.Errorf("outer outputs = %s", o)
	}
	body, err := p.Body(rs[0], rt, false)
	if err != nil || !strings.Contains(string(body), `"name":"[concat(parameters('prefix'), '-', variables('v'))]"`) || !strings.Contains(string(body), `"prefix":{"value":"outer-parent-var"}`) {
		t.Errorf("deployment body = %s %v", body, err)
	}
}

func TestLinkedTemplatesWithRelativePath(t *testing.T) {
	files := map[string]string{
		"https://example.com/templates/main.json": head + `"resources": [
      {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "child",
       "properties": {"mode": "Incremental", "templateLink": {"relativePath": "nested/child.json"},
         "parametersLink": {"uri": "https://example.com/params/child.parameters.json"}}}]}`,
		"https://example.com/templates/nested/child.json?sv=1": head + `"parameters": {"n": {"type": "int"}}, "resources": [
      {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "grandchild",
       "properties": {"mode": "Incremental", "templateLink": {"relativePath": "../leaf.json"}}}],
      "outputs": {"n": {"type": "int", "value": "[parameters('n')]"}, "link": {"type": "string", "value": "[deployment().properties.templateLink.uri]"}}}`,
		"https://example.com/params/child.parameters.json": `{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#", "contentVersion": "1.0.0.0", "parameters": {"n": {"value": 7}}}`,
		"https://example.com/templates/leaf.json?sv=1":     head + `"resources": []}`,
	}
	var fetched []string
	links := func(uri string) ([]byte, error) {
		fetched = append(fetched, uri)
		if b, ok := files[uri]; ok {
			return []byte(b), nil
		}
		return nil, fmt.Errorf("no file %s", uri)
	}
	s := testScope()
	s.TemplateLink = json.RawMessage(`{"uri": "https://example.com/templates/main.json?sv=1"}`)
	rt := &fakeRuntime{}
	main, err := NewBinder(links).Bind(json.RawMessage(files["https://example.com/templates/main.json"]), nil, s, rt)
	if err != nil {
		t.Fatal(err)
	}
	cs := testScope()
	cs.DeploymentName = "child"
	child, err := main.Nested(main.Resources()[0], rt, cs)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := child.Outputs(rt); string(o) != `{"n":{"type":"Int","value":7},"link":{"type":"String","value":"https://example.com/templates/nested/child.json?sv=1"}}` {
		t.Errorf("child outputs = %s", o)
	}
	if _, err := child.Nested(child.Resources()[0], rt, testScope()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(fetched, " "); got != "https://example.com/params/child.parameters.json https://example.com/templates/nested/child.json?sv=1 https://example.com/templates/leaf.json?sv=1" {
		t.Errorf("fetched %s", got)
	}
	// relativePath without a parent link is refused.
	inline, _ := NewBinder(links).Bind(json.RawMessage(files["https://example.com/templates/main.json"]), nil, testScope(), rt)
	if _, err := inline.Nested(inline.Resources()[0], rt, testScope()); err == nil || !strings.Contains(err.Error(), "relativePath") {
		t.Errorf("relativePath without a link: %v", err)
	}
}

func TestLanguageVersion2(t *testing.T) {
	tmpl := `{
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "languageVersion": "2.0",
  "contentVersion": "1.0.0.0",
  "definitions": {
    "endpoint": {"type": "object", "properties": {"name": {"type": "string", "minLength": 2}, "groupId": {"type": "string", "allowedValues": ["blob", "namespace"]}, "note": {"type": "string", "nullable": true}}, "additionalProperties": false}
  },
  "functions": [{"namespace": "pl", "members": {"mpeName": {"parameters": [{"name": "cluster", "type": "string"}, {"name": "ep", "type": "string"}], "output": {"type": "string", "value": "[format('{0}/{1}', parameters('cluster'), parameters('ep'))]"}}}}],
  "parameters": {
    "endpoints": {"type": "array", "items": {"$ref": "#/definitions/endpoint"}},
    "extra": {"type": "string", "nullable": true}
  },
  "resources": {
    "cluster": {"type": "Microsoft.Kusto/clusters", "apiVersion": "2023-08-15", "name": "kc", "existing": true},
    "mpes": {"copy": {"name": "mpes", "count": "[length(parameters('endpoints'))]", "mode": "serial", "batchSize": 1},
      "type": "Microsoft.Kusto/clusters/managedPrivateEndpoints", "apiVersion": "2023-08-15",
      "name": "[pl.mpeName('kc', parameters('endpoints')[copyIndex()].name)]",
      "properties": {"groupId": "[parameters('endpoints')[copyIndex()].groupId]", "uri": "[reference('cluster').uri]"},
      "dependsOn": ["cluster"]},
    "lock": {"type": "Microsoft.Authorization/locks", "apiVersion": "2020-05-01", "scope": "cluster", "name": "nodelete", "properties": {"level": "CanNotDelete"}, "dependsOn": ["mpes"]}
  },
  "outputs": {
    "names": {"type": "array", "copy": {"count": "[length(parameters('endpoints'))]", "input": "[pl.mpeName('kc', string(copyIndex()))]"}},
    "uris": {"type": "array", "value": "[map(references('mpes'), lambda('r', lambdaVariables('r').groupId))]"},
    "extra": {"type": "string", "nullable": true, "value": "[parameters('extra')]"}
  }
}`
	p := mustBind(t, tmpl, `{"endpoints": {"value": [{"name": "eh", "groupId": "namespace"}, {"name": "st", "groupId": "blob"}]}}`)
	rs := p.Resources()
	if len(rs) != 4 || !rs[0].Existing || rs[1].Symbolic != "mpes" || rs[2].Name != "kc/st" || !rs[2].Serial {
		t.Fatalf("resources = %+v %+v %+v", rs[0], rs[1], rs[2])
	}
	if got := rs[3].ID; got != "/subscriptions/"+testSub+"/resourceGroups/rg/providers/Microsoft.Kusto/clusters/kc/providers/Microsoft.Authorization/locks/nodelete" {
		t.Errorf("lock id = %s", got)
	}
	if got := rs[3].DependsOn; len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Errorf("lock depends on %v", got)
	}
	rt := &fakeRuntime{bodies: map[string]string{
		strings.ToLower(rs[0].ID): `{"properties": {"uri": "https://kc.westeurope.kusto.windows.net"}}`,
		strings.ToLower(rs[1].ID): `{"properties": {"groupId": "namespace"}}`,
		strings.ToLower(rs[2].ID): `{"properties": {"groupId": "blob"}}`,
	}}
	if got := body(t, p, 1, rt); got != `{"properties":{"groupId":"namespace","uri":"https://kc.westeurope.kusto.windows.net"}}` {
		t.Errorf("body = %s", got)
	}
	if got := outputs(t, p, rt); got != `{"names":{"type":"Array","value":["kc/0","kc/1"]},"uris":{"type":"Array","value":["namespace","blob"]},"extra":{"type":"String","value":null}}` {
		t.Errorf("outputs = %s", got)
	}
	for _, tc := range []struct{ params, want string }{
		{`{"endpoints": {"value": [{"name": "e", "groupId": "namespace"}]}}`, "Length of the value should be greater than or equal to '2' at path '[0].name'"},
		{`{"endpoints": {"value": [{"name": "eh", "groupId": "vault"}]}}`, "not part of the allowed value(s): 'blob,namespace'"},
		{`{"endpoints": {"value": [{"name": "eh", "groupId": "blob", "x": 1}]}}`, "The property 'x' is not allowed"},
		{`{"endpoints": {"value": [{"groupId": "blob"}]}}`, "Expected 'String, Uri'. Actual 'Null' at path '[0].name'"},
	} {
		if e := bindErr(t, tmpl, tc.params); !strings.Contains(e.Message, tc.want) {
			t.Errorf("params %s: %s\nwant %s", tc.params, e.Message, tc.want)
		}
	}
}

func TestUserFunctionsMayNotCallReference(t *testing.T) {
	tmpl := head + `"functions": [{"namespace": "f", "members": {"x": {"parameters": [], "output": {"type": "object", "value": "[reference('a')]"}}}}], "resources": []}`
	if e := bindErr(t, tmpl, ""); !strings.Contains(e.Message, "These function calls are not supported in a function definition: 'reference'") {
		t.Errorf("error = %s", e.Message)
	}
}

func TestReferenceAndWhatIf(t *testing.T) {
	tmpl := resourcesTemplate(`[
    {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "sa"},
    {"type": "Microsoft.Web/sites", "apiVersion": "2022-09-01", "name": "web",
     "properties": {
       "blob": "[reference('sa').primaryEndpoints.blob]",
       "full": "[reference(resourceId('Microsoft.Storage/storageAccounts', 'sa'), '2023-01-01', 'Full').location]",
       "external": "[reference('/subscriptions/x/resourceGroups/y/providers/Microsoft.KeyVault/vaults/v').vaultUri]",
       "guarded": "[if(parameters('deploy'), reference('sa').missing, 'skipped')]",
       "static": "[concat('a', 'b')]"
     }}]`)
	p := mustBind(t, tmpl, "")
	if got := p.Resources()[1].DependsOn; len(got) != 1 || got[0] != 0 {
		t.Errorf("implicit dependency = %v", got)
	}
	saID := strings.ToLower(p.Resources()[0].ID)
	rt := &fakeRuntime{bodies: map[string]string{
		saID: `{"location": "westeurope", "properties": {"primaryEndpoints": {"blob": "https://sa.blob.core.windows.net/"}}}`,
		"/subscriptions/x/resourcegroups/y/providers/microsoft.keyvault/vaults/v": `{"properties": {"vaultUri": "https://v.vault.azure.net/"}}`,
	}}
	if got := body(t, p, 1, rt); got != `{"properties":{"blob":"https://sa.blob.core.windows.net/","full":"westeurope","external":"https://v.vault.azure.net/","guarded":"skipped","static":"ab"}}` {
		t.Errorf("body = %s", got)
	}
	if got := strings.Join(rt.calls, " "); !strings.Contains(got, "Microsoft.Storage/storageAccounts/sa@2023-01-01") || !strings.Contains(got, "Microsoft.KeyVault/vaults/v@"+newestVersion("/providers/Microsoft.KeyVault/vaults/v")) {
		t.Errorf("calls = %s", got)
	}
	// What-if before anything is deployed keeps runtime expressions as text.
	b, err := p.Body(p.Resources()[1], &fakeRuntime{}, true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"blob":"[reference('sa').primaryEndpoints.blob]"`) || !strings.Contains(string(b), `"static":"ab"`) {
		t.Errorf("what-if body = %s", b)
	}
	// Without what-if, the runtime's error is the body's.
	if _, err := p.Body(p.Resources()[1], &fakeRuntime{}, false); err == nil || !strings.Contains(err.Error(), "ResourceNotFound") {
		t.Errorf("body error = %v", err)
	}
}

func TestScopeFunctions(t *testing.T) {
	tmpl := head + `"resources": [], "outputs": {
    "env": {"type": "object", "value": "[environment()]"},
    "rg": {"type": "object", "value": "[resourceGroup()]"},
    "sub": {"type": "object", "value": "[subscription()]"},
    "dep": {"type": "string", "value": "[deployment().name]"},
    "cv": {"type": "string", "value": "[deployment().properties.template.contentVersion]"},
    "who": {"type": "string", "value": "[deployer().userPrincipalName]"},
    "ids": {"type": "array", "value": "[createArray(resourceId('Microsoft.Network/virtualNetworks/subnets', 'v', 's'), resourceId('other', 'Microsoft.Storage/storageAccounts', 'a'), resourceId('sub2', 'rg2', 'Microsoft.Storage/storageAccounts', 'a'), subscriptionResourceId('Microsoft.Resources/resourceGroups', 'g'), tenantResourceId('Microsoft.Authorization/policyDefinitions', 'p'), extensionResourceId(resourceGroup().id, 'Microsoft.Authorization/locks', 'l'), managementGroupResourceId('mg', 'Microsoft.Authorization/policyDefinitions', 'p'))]"}
  }}`
	p := mustBind(t, tmpl, "")
	var out map[string]struct{ Value json.RawMessage }
	if err := json.Unmarshal([]byte(outputs(t, p, &fakeRuntime{})), &out); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"env": `{"name":"AzureCloud","gallery":"https://gallery.azure.com/","graph":"https://graph.windows.net/","portal":"https://portal.azure.com","graphAudience":"https://graph.windows.net/","activeDirectoryDataLake":"https://datalake.azure.net/","batch":"https://batch.core.windows.net/","media":"https://rest.media.azure.net","sqlManagement":"https://management.core.windows.net:8443/","vmImageAliasDoc":"https://raw.githubusercontent.com/Azure/azure-rest-api-specs/master/arm-compute/quickstart-templates/aliases.json","resourceManager":"https://management.azure.com/","authentication":{"loginEndpoint":"https://login.microsoftonline.com/","audiences":["https://management.core.windows.net/","https://management.azure.com/"],"tenant":"common","identityProvider":"AAD"},"suffixes":{"acrLoginServer":".azurecr.io","azureDatalakeAnalyticsCatalogAndJob":"azuredatalakeanalytics.net","azureDatalakeStoreFileSystem":"azuredatalakestore.net","azureFrontDoorEndpointSuffix":"azurefd.net","keyvaultDns":".vault.azure.net","sqlServerHostname":".database.windows.net","storage":"core.windows.net"}}`,
		"rg":  `{"id":"/subscriptions/` + testSub + `/resourceGroups/rg","name":"rg","type":"Microsoft.Resources/resourceGroups","location":"westeurope","properties":{"provisioningState":"Succeeded"}}`,
		"sub": `{"id":"/subscriptions/` + testSub + `","subscriptionId":"` + testSub + `","tenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47","displayName":"privlink"}`,
		"dep": `"dep"`,
		"cv":  `"1.0.0.0"`,
		"who": `"user@contoso.com"`,
		"ids": `["/subscriptions/` + testSub + `/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s","/subscriptions/` + testSub + `/resourceGroups/other/providers/Microsoft.Storage/storageAccounts/a","/subscriptions/sub2/resourceGroups/rg2/providers/Microsoft.Storage/storageAccounts/a","/subscriptions/` + testSub + `/providers/Microsoft.Resources/resourceGroups/g","/providers/Microsoft.Authorization/policyDefinitions/p","/subscriptions/` + testSub + `/resourceGroups/rg/providers/Microsoft.Authorization/locks/l","/providers/Microsoft.Management/managementGroups/mg/providers/Microsoft.Authorization/policyDefinitions/p"]`,
	}
	for k, w := range want {
		if got := string(out[k].Value); got != w {
			t.Errorf("%s = %s\nwant %s", k, got, w)
		}
	}
}

func TestSubscriptionScope(t *testing.T) {
	tmpl := head + `"resources": [
    {"type": "Microsoft.Resources/resourceGroups", "apiVersion": "2022-09-01", "name": "newrg", "location": "[deployment().location]"},
    {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "inrg", "resourceGroup": "newrg",
     "dependsOn": ["[subscriptionResourceId('Microsoft.Resources/resourceGroups', 'newrg')]"],
     "properties": {"mode": "Incremental", "expressionEvaluationOptions": {"scope": "inner"}, "template": {"contentVersion": "1.0.0.0", "resources": []}}}
  ]}`
	s := testScope()
	s.ResourceGroup, s.Location = nil, "westeurope"
	p, err := NewBinder(nil).Bind(json.RawMessage(tmpl), nil, s, &fakeRuntime{})
	if err != nil {
		t.Fatal(err)
	}
	rs := p.Resources()
	if rs[0].ID != "/subscriptions/"+testSub+"/resourceGroups/newrg" {
		t.Errorf("rg id = %s", rs[0].ID)
	}
	if rs[1].Nested.ResourceGroup != "newrg" || len(rs[1].DependsOn) != 1 {
		t.Errorf("nested = %+v deps %v", rs[1].Nested, rs[1].DependsOn)
	}
	if b, _ := p.Body(rs[0], &fakeRuntime{}, false); string(b) != `{"location":"westeurope"}` {
		t.Errorf("body = %s", b)
	}
}
