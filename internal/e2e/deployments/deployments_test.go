// Package deployments holds the end-to-end tests of ARM template
// deployments: real templates (the seed's, Microsoft quickstarts, a
// template using the language's features) through the official SDK.
package deployments

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/eventhub/armeventhub"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/privlink/privlink/internal/testkit"
)

var ctx = context.Background()

// repo is the repository root, for templates under testdata.
const repo = "../../.."

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, path))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

type fixture struct {
	t    *testing.T
	env  *testkit.Env
	deps *armresources.DeploymentsClient
	ops  *armresources.DeploymentOperationsClient
}

func newFixture(t *testing.T, opts ...testkit.Option) *fixture {
	t.Helper()
	env := testkit.Start(t, opts...)
	deps, _ := armresources.NewDeploymentsClient(env.Subscription, env.Cred, env.Options)
	ops, _ := armresources.NewDeploymentOperationsClient(env.Subscription, env.Cred, env.Options)
	return &fixture{t: t, env: env, deps: deps, ops: ops}
}

func (f *fixture) group(name string) string {
	f.t.Helper()
	c, _ := armresources.NewResourceGroupsClient(f.env.Subscription, f.env.Cred, f.env.Options)
	g, err := c.CreateOrUpdate(ctx, name, armresources.ResourceGroup{Location: to.Ptr("westus")}, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return *g.ID
}

func (f *fixture) deploy(rg, name string, tmpl, params map[string]any) (armresources.DeploymentExtended, error) {
	f.t.Helper()
	p, err := f.deps.BeginCreateOrUpdate(ctx, rg, name, armresources.Deployment{Properties: &armresources.DeploymentProperties{
		Mode: to.Ptr(armresources.DeploymentModeIncremental), Template: tmpl, Parameters: params}}, nil)
	if err != nil {
		return armresources.DeploymentExtended{}, err
	}
	res, err := p.PollUntilDone(ctx, testkit.PollOptions)
	return res.DeploymentExtended, err
}

func (f *fixture) mustDeploy(rg, name string, tmpl, params map[string]any) armresources.DeploymentExtended {
	f.t.Helper()
	d, err := f.deploy(rg, name, tmpl, params)
	if err != nil {
		f.t.Fatalf("deployment %s: %v", name, err)
	}
	if *d.Properties.ProvisioningState != armresources.ProvisioningStateSucceeded {
		b, _ := json.Marshal(d.Properties.Error)
		f.t.Fatalf("deployment %s is %s: %s", name, *d.Properties.ProvisioningState, b)
	}
	return d
}

func values(kv map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range kv {
		out[k] = map[string]any{"value": v}
	}
	return out
}

func armCode(err error) string {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

// TestSeedTemplate deploys the seed's template (its placeholders filled)
// with parameters: both endpoints are created, the storage one only after
// the Event Hubs one has finished, as its dependsOn asks.
func TestSeedTemplate(t *testing.T) {
	f := newFixture(t, testkit.WithDelay(200*time.Millisecond))
	rgID := f.group("adx")
	nc, _ := armeventhub.NewNamespacesClient(f.env.Subscription, f.env.Cred, f.env.Options)
	np, err := nc.BeginCreateOrUpdate(ctx, "adx", "myeventhubns", armeventhub.EHNamespace{Location: to.Ptr("westus")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := np.PollUntilDone(ctx, testkit.PollOptions); err != nil {
		t.Fatal(err)
	}
	sc, _ := armstorage.NewAccountsClient(f.env.Subscription, f.env.Cred, f.env.Options)
	sp, err := sc.BeginCreate(ctx, "adx", "share", armstorage.AccountCreateParameters{Location: to.Ptr("westus"),
		Kind: to.Ptr(armstorage.KindStorageV2), SKU: &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sp.PollUntilDone(ctx, testkit.PollOptions); err != nil {
		t.Fatal(err)
	}
	tmpl := readJSON(t, "testdata/templates/seed/azuredeploy.json")
	params := values(map[string]any{
		"cluster_name":             "mycluster",
		"eventhub_resource_id":     rgID + "/providers/Microsoft.EventHub/namespaces/myeventhubns",
		"storage_resource_id":      rgID + "/providers/Microsoft.Storage/storageAccounts/share",
		"managed_pe_eventhub_name": "mpeToEventHub",
		"managed_pe_storage_name":  "mpeToStorage",
	})
	f.mustDeploy("adx", "seed", tmpl, params)

	mc, _ := armkusto.NewManagedPrivateEndpointsClient(f.env.Subscription, f.env.Cred, f.env.Options)
	created := map[string]time.Time{}
	for _, n := range []string{"mpeToEventHub", "mpeToStorage"} {
		m, err := mc.Get(ctx, "adx", "mycluster", n, nil)
		if err != nil || *m.Properties.ProvisioningState != armkusto.ProvisioningStateSucceeded {
			t.Fatalf("%s: %v", n, err)
		}
		created[n] = *m.SystemData.CreatedAt
	}
	// The storage endpoint was created after the Event Hubs endpoint's
	// operation ended (its provisioning takes 200 ms here).
	var ehEnd time.Time
	pager := f.ops.NewListPager("adx", "seed", nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Value {
			if strings.HasSuffix(*o.Properties.TargetResource.ResourceName, "mpeToEventHub") {
				ehEnd = *o.Properties.Timestamp
			}
		}
	}
	if ehEnd.IsZero() || created["mpeToStorage"].Before(ehEnd) {
		t.Fatalf("mpeToStorage created at %v, before mpeToEventHub's deployment ended at %v", created["mpeToStorage"], ehEnd)
	}
	if !created["mpeToEventHub"].Before(created["mpeToStorage"]) {
		t.Fatalf("creation order %v", created)
	}
	// Redeploying the same changes nothing and succeeds again.
	f.mustDeploy("adx", "seed", tmpl, params)

	// The owner's side in a template, as approval automation does it:
	// reference() of the storage account lists its connections
	// (properties.privateEndpointConnections, read-only in the spec).
	owner := map[string]any{
		"$schema":        "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
		"contentVersion": "1.0.0.0",
		"resources":      []any{},
		"outputs": map[string]any{
			"count":  map[string]any{"type": "int", "value": "[length(reference(resourceId('Microsoft.Storage/storageAccounts', 'share'), '2023-01-01').privateEndpointConnections)]"},
			"status": map[string]any{"type": "string", "value": "[reference(resourceId('Microsoft.Storage/storageAccounts', 'share'), '2023-01-01').privateEndpointConnections[0].properties.privateLinkServiceConnectionState.status]"},
			"name":   map[string]any{"type": "string", "value": "[reference(resourceId('Microsoft.Storage/storageAccounts', 'share'), '2023-01-01').privateEndpointConnections[0].name]"},
		},
	}
	out := f.mustDeploy("adx", "owner", owner, nil).Properties.Outputs.(map[string]any)
	value := func(k string) any { return out[k].(map[string]any)["value"] }
	if value("count") != float64(1) || value("status") != "Approved" || !strings.HasPrefix(value("name").(string), "mycluster.mpeToStorage.") {
		t.Fatalf("the storage account's connections as reference() reads them: %v", out)
	}
}

// TestQuickstarts deploys Microsoft quickstart templates unmodified.
func TestQuickstarts(t *testing.T) {
	f := newFixture(t)
	f.group("qs")
	t.Run("kusto-event-hub", func(t *testing.T) {
		f.t = t
		f.mustDeploy("qs", "kusto", readJSON(t, "internal/deploy/template/testdata/quickstarts/kusto-event-hub.json"), nil)
		kc, _ := armkusto.NewClustersClient(f.env.Subscription, f.env.Cred, f.env.Options)
		pager := kc.NewListByResourceGroupPager("qs", nil)
		page, err := pager.NextPage(ctx)
		if err != nil || len(page.Value) != 1 || !strings.HasPrefix(*page.Value[0].Name, "kusto") {
			t.Fatalf("clusters: %v %d", err, len(page.Value))
		}
		ops := 0
		op := f.ops.NewListPager("qs", "kusto", nil)
		for op.More() {
			p, err := op.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ops += len(p.Value)
		}
		if ops != 8 {
			t.Fatalf("%d deployment operations, want 8 (one per resource)", ops)
		}
	})
	t.Run("storage-multi-blob-container", func(t *testing.T) {
		f.t = t
		f.mustDeploy("qs", "containers", readJSON(t, "internal/deploy/template/testdata/quickstarts/storage-multi-blob-container.json"),
			values(map[string]any{"storageAccountName": "qscontainers"}))
		bc, _ := armstorage.NewBlobContainersClient(f.env.Subscription, f.env.Cred, f.env.Options)
		page, err := bc.NewListPager("qs", "qscontainers", nil).NextPage(ctx)
		if err != nil || len(page.Value) != 3 {
			t.Fatalf("containers: %v, %d, want 3", err, len(page.Value))
		}
	})
}

// TestLanguage: a template that uses the language's features deploys, and
// its outputs read back through the SDK.
func TestLanguage(t *testing.T) {
	f := newFixture(t)
	rgID := f.group("lang")
	tmpl := map[string]any{
		"$schema":        "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
		"contentVersion": "1.0.0.0",
		"parameters": map[string]any{
			"prefix":   map[string]any{"type": "string", "defaultValue": "st", "maxLength": 5},
			"count":    map[string]any{"type": "int", "defaultValue": 3, "minValue": 0, "maxValue": 10},
			"withHub":  map[string]any{"type": "bool", "defaultValue": false},
			"password": map[string]any{"type": "securestring", "defaultValue": "s3cret!"},
		},
		"variables": map[string]any{
			"base": "[concat(parameters('prefix'), uniqueString(resourceGroup().id))]",
		},
		"resources": []any{
			map[string]any{
				"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2024-01-01",
				"name":     "[concat(variables('base'), copyIndex())]",
				"location": "[resourceGroup().location]",
				"kind":     "StorageV2", "sku": map[string]any{"name": "Standard_LRS"},
				"copy": map[string]any{"name": "accounts", "count": "[parameters('count')]", "mode": "serial", "batchSize": 2},
			},
			map[string]any{
				"type": "Microsoft.EventHub/namespaces", "apiVersion": "2024-01-01",
				"name": "[concat('hub', variables('base'))]", "location": "westus",
				"condition": "[parameters('withHub')]",
			},
			map[string]any{
				"type": "Microsoft.Resources/deployments", "apiVersion": "2021-04-01", "name": "inner",
				"dependsOn": []any{"accounts"},
				"properties": map[string]any{
					"mode":                        "Incremental",
					"expressionEvaluationOptions": map[string]any{"scope": "inner"},
					"parameters":                  map[string]any{"account": map[string]any{"value": "[concat(variables('base'), '0')]"}},
					"template": map[string]any{
						"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", "contentVersion": "1.0.0.0",
						"parameters": map[string]any{"account": map[string]any{"type": "string"}},
						"resources":  []any{},
						"outputs": map[string]any{
							"blob": map[string]any{"type": "string", "value": "[reference(resourceId('Microsoft.Storage/storageAccounts', parameters('account')), '2024-01-01').primaryEndpoints.blob]"},
						},
					},
				},
			},
		},
		"outputs": map[string]any{
			"names":    map[string]any{"type": "array", "copy": map[string]any{"count": "[parameters('count')]", "input": "[concat(variables('base'), copyIndex())]"}},
			"blob":     map[string]any{"type": "string", "value": "[reference('inner').outputs.blob.value]"},
			"key":      map[string]any{"type": "string", "value": "[listKeys(resourceId('Microsoft.Storage/storageAccounts', concat(variables('base'), '1')), '2024-01-01').keys[0].value]"},
			"hub":      map[string]any{"type": "bool", "value": "[parameters('withHub')]"},
			"password": map[string]any{"type": "securestring", "value": "[parameters('password')]"},
			"group":    map[string]any{"type": "string", "value": "[resourceGroup().id]"},
		},
	}
	d := f.mustDeploy("lang", "features", tmpl, nil)
	out, _ := d.Properties.Outputs.(map[string]any)
	value := func(k string) any { o, _ := out[k].(map[string]any); return o["value"] }
	names, _ := value("names").([]any)
	if len(names) != 3 || !strings.HasPrefix(names[0].(string), "st") || len(names[0].(string)) != 2+13+1 {
		t.Fatalf("names output %v", value("names"))
	}
	if b, _ := value("blob").(string); b != "https://"+names[0].(string)+".blob.core.windows.net/" {
		t.Fatalf("blob output %v", value("blob"))
	}
	if k, _ := value("key").(string); len(k) < 20 {
		t.Fatalf("key output %v", value("key"))
	}
	if value("hub") != false || value("group") != rgID {
		t.Fatalf("outputs %v", out)
	}
	if _, ok := out["password"]; ok {
		t.Fatalf("a secure output was returned: %v", out["password"])
	}
	if p, _ := d.Properties.Parameters.(map[string]any)["password"].(map[string]any); p != nil && p["value"] != nil {
		t.Fatalf("a secure parameter was echoed: %v", p)
	}
	inner, err := f.deps.Get(ctx, "lang", "inner", nil)
	if err != nil || *inner.Properties.ProvisioningState != armresources.ProvisioningStateSucceeded {
		t.Fatalf("nested deployment: %v", err)
	}
	nc, _ := armeventhub.NewNamespacesClient(f.env.Subscription, f.env.Cred, f.env.Options)
	if _, err := nc.Get(ctx, "lang", "hub"+strings.TrimSuffix(names[0].(string), "0"), nil); armCode(err) != "ResourceNotFound" {
		t.Fatalf("a resource whose condition is false was deployed: %v", err)
	}
}

// TestTemplateErrors: refusals come before anything is written, with
// Azure's codes and the place.
func TestTemplateErrors(t *testing.T) {
	f := newFixture(t)
	f.group("bad")
	base := func(resources ...any) map[string]any {
		if resources == nil {
			resources = []any{}
		}
		return map[string]any{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
			"contentVersion": "1.0.0.0", "parameters": map[string]any{"size": map[string]any{"type": "string", "allowedValues": []any{"small", "large"}}},
			"resources": resources}
	}
	tests := []struct {
		name     string
		tmpl     map[string]any
		params   map[string]any
		code     string
		contains string
	}{
		{"missing parameter", base(), nil, "InvalidTemplate", "size"},
		{"value not allowed", base(), values(map[string]any{"size": "medium"}), "InvalidTemplate", "medium"},
		{"unknown function", base(map[string]any{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2024-01-01", "name": "[nosuch('x')]"}),
			values(map[string]any{"size": "small"}), "InvalidTemplate", "nosuch"},
		{"dependsOn a stranger", base(map[string]any{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2024-01-01", "name": "a", "dependsOn": []any{"ghost"}}),
			values(map[string]any{"size": "small"}), "InvalidTemplate", "ghost"},
		{"cycle", base(
			map[string]any{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2024-01-01", "name": "aaa", "dependsOn": []any{"bbb"}},
			map[string]any{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2024-01-01", "name": "bbb", "dependsOn": []any{"aaa"}}),
			values(map[string]any{"size": "small"}), "InvalidTemplate", "Circular"},
		{"unknown api-version", base(map[string]any{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "1999-01-01", "name": "x", "location": "westus"}),
			values(map[string]any{"size": "small"}), "InvalidTemplateDeployment", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.deploy("bad", "d", tt.tmpl, tt.params)
			if armCode(err) != tt.code || !strings.Contains(err.Error(), tt.contains) {
				t.Fatalf("%v, want %s mentioning %q", err, tt.code, tt.contains)
			}
			if _, err := f.deps.Get(ctx, "bad", "d", nil); armCode(err) != "DeploymentNotFound" {
				t.Fatalf("a refused deployment was written: %v", err)
			}
		})
	}
	// A syntax error in an expression names its line and column.
	raw := "{\n  \"$schema\": \"https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#\",\n  \"contentVersion\": \"1.0.0.0\",\n  \"resources\": [],\n  \"outputs\": {\"o\": {\"type\": \"string\", \"value\": \"[concat('a', ]\"}}\n}"
	var tmpl map[string]any
	if err := json.Unmarshal([]byte(raw), &tmpl); err != nil {
		t.Fatal(err)
	}
	_, err := f.deploy("bad", "d", tmpl, nil)
	if armCode(err) != "InvalidTemplate" || !strings.Contains(err.Error(), "line") || !strings.Contains(err.Error(), "column") {
		t.Fatalf("syntax error: %v", err)
	}
}
