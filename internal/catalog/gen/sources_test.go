package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestPutType(t *testing.T) {
	for _, c := range []struct {
		path, want string
	}{
		{"/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.Compute/disks/{diskName}", "Microsoft.Compute/disks"},
		{"/{scope}/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}", "Microsoft.Authorization/roleAssignments"},
		{"/{scope}/providers/Microsoft.Authorization/roleAssignments/{name}?disambiguation_dummy", "Microsoft.Authorization/roleAssignments"},
		{"/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.Storage/storageAccounts/{a}/blobServices/default/containers/{c}", "Microsoft.Storage/storageAccounts/blobServices/containers"},
		{"/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.Web/sites/{name}/config/web", "Microsoft.Web/sites/config"},
		{"/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.Network/virtualNetworks/{v}/subnets/{s}", "Microsoft.Network/virtualNetworks/subnets"},
		{"/providers/Microsoft.Management/managementGroups/{groupId}", "Microsoft.Management/managementGroups"},
		{"/subscriptions/{s}/resourcegroups/{g}", "Microsoft.Resources/resourceGroups"},
		{"/subscriptions/{s}/resourcegroups/{g}/deployments/{d}", "Microsoft.Resources/deployments"},
		{"/subscriptions/{s}/tagNames/{t}/tagValues/{v}", "Microsoft.Resources/tagNames/tagValues"},
		{"/{scope}/providers/Microsoft.Resources/tags/default", "Microsoft.Resources/tags"},
		// Nothing a PUT of these creates has a type of its own.
		{"/{roleAssignmentId}", ""},
		{"/subscriptions/{s}/providers/Microsoft.Insights/diagnosticSettings", ""},            // ends on a type
		{"/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.X/things/{t}/{kind}", ""}, // odd
		{"/subscriptions/{s}/resourcegroups/{g}/providers/{ns}/{parentPath}/{type}/{name}", ""},
		{"/subscriptions/{s}/resourcegroups/{g}/things/{t}", ""}, // an unknown root
		{"/subscriptions/{s}/providers/{resourceProviderNamespace}", ""},
	} {
		got, ok := putType(c.path)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("putType(%q) = %q, %v; want %q", c.path, got, ok, c.want)
		}
	}
}

func TestSpecVersion(t *testing.T) {
	for p, want := range map[string]string{
		"specification/authorization/resource-manager/Microsoft.Authorization/preview/2021-04-01-preview/authorization-RoleAssignmentsCalls.json": "2021-04-01-preview",
		"specification/compute/resource-manager/Microsoft.Compute/DiskRP/stable/2024-03-02/DiskRP.json":                                           "2024-03-02",
		"specification/compute/resource-manager/Microsoft.Compute/stable/2020-09-30/examples/CreateADisk.json":                                    "",
		"specification/compute/resource-manager/Microsoft.Compute/stable/2020-09-30/readme.md":                                                    "",
		"specification/storage/data-plane/Microsoft.BlobStorage/stable/2021-12-02/blob.json":                                                      "",
		"specification/common-types/resource-management/v3/types.json":                                                                            "",
		"specification/x/resource-manager/Microsoft.X/stable/latest/x.json":                                                                       "",
	} {
		got, ok := specVersion(p)
		if got != want || ok != (want != "") {
			t.Errorf("specVersion(%q) = %q, %v; want %q", p, got, ok, want)
		}
	}
}

// writeFiles writes files (path: text) below dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for rel, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRestSpecsSource(t *testing.T) {
	dir := t.TempDir()
	const auth = "specification/authorization/resource-manager/Microsoft.Authorization/"
	writeFiles(t, dir, map[string]string{
		auth + "preview/2021-04-01-preview/authorization-RoleAssignmentsCalls.json": `{
  "swagger": "2.0",
  "paths": {
    "/subscriptions/{subscriptionId}/providers/Microsoft.Authorization/roleAssignments": {"get": {}},
    "/{scope}/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}": {"get": {}, "put": {}, "delete": {}},
    "/{scope}/providers/Microsoft.Authorization/roleAssignments/{roleAssignmentName}/validate": {"post": {}},
    "/{roleAssignmentId}": {"parameters": [], "put": {}}
  },
  "x-ms-paths": {
    "/{scope}/providers/Microsoft.Authorization/roleDefinitions/{id}?disambiguation": {"PUT": {}}
  }
}`,
		auth + "stable/2022-04-01/authorization-RoleAssignmentsCalls.json": `{"paths": {"/{scope}/providers/Microsoft.Authorization/roleAssignments/{n}": {"put": {}}}}`,
		// Examples, read-only documents and other files give nothing.
		auth + "stable/2022-04-01/examples/PutRoleAssignment.json":            `{"paths": {"/{scope}/providers/Microsoft.Authorization/bogus/{n}": {"put": {}}}}`,
		auth + "stable/2022-04-01/authorization-ProviderOperationsCalls.json": `{"paths": {"/providers/Microsoft.Authorization/providerOperations/{ns}": {"get": {}}}}`,
		auth + "readme.md": "# not read",
		"specification/common-types/resource-management/v3/types.json": `{"paths": {}}`,
		// A document the decoder refuses is skipped, not fatal.
		auth + "preview/2018-01-01-preview/broken.json": `{"paths": `,
	})
	tb, source, err := restSpecsSource(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"Microsoft.Authorization/roleAssignments\t2021-04-01-preview,2022-04-01",
		"Microsoft.Authorization/roleDefinitions\t2021-04-01-preview",
	}
	if got := tb.lines(); !slices.Equal(got, want) {
		t.Fatalf("lines = %q, want %q", got, want)
	}
	for _, s := range []string{"3 OpenAPI documents in 2 version folders", "1 that do not parse skipped", "of Microsoft.Authorization"} {
		if !strings.Contains(source, s) {
			t.Errorf("source = %q, want %q in it", source, s)
		}
	}
	if _, _, err := restSpecsSource(t.TempDir()); err == nil {
		t.Fatal("an empty directory is no azure-rest-api-specs checkout")
	}
}

func TestTemplatePairs(t *testing.T) {
	const tpl = `{
  // ARM takes comments,
  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
  "parameters": {"sqlVersion": {"type": "string", "defaultValue": "2014-04-01-preview"}},
  "variables": {"storageVersion": "2021-09-01", "computed": "[concat('20', '21')]"},
  "resources": [
    {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "[variables('storageVersion')]", "name": "sa",
     "resources": [{"type": "blobServices/containers", "apiVersion": "2021-09-01", "name": "default/c"}]},
    {"type": "[parameters('type')]", "apiVersion": "2020-01-01", "name": "x"},
    {"type": "Microsoft.Sql/servers", "apiVersion": "[parameters('sqlVersion')]", "name": "s",
     "resources": [
       {"type": "databases", "apiVersion": "2018-06-01-preview", "name": "d"},
       {"type": "Microsoft.Sql/servers/firewallRules", "apiVersion": "2015-05-01-preview", "name": "s/f"}
     ]},
    {"type": "Microsoft.Authorization/roleAssignments", "apiVersion": "2021-04-01-preview", "scope": "x", "name": "r"},
    {"type": "Microsoft.KeyVault/vaults/providers/roleAssignments", "apiVersion": "2018-01-01-preview", "name": "v/Microsoft.Authorization/r"},
    {"type": "Microsoft.Web/sites", "apiVersion": "[variables('computed')]", "name": "w"},
    {"type": "Microsoft.Resources/deployments", "apiVersion": "2020-05-01", "name": "nested",
     "properties": {"template": {"resources": {"vnet": {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2021-12-01", "name": "v"}}}}},
    {"type": "Microsoft.Insights/components", "apiVersion": "2020-02-02", "name": "multi
line",},
  ],
}`
	var got []string
	ok, err := templatePairs([]byte("\xef\xbb\xbf"+tpl), func(typ, version string) { got = append(got, typ+"@"+version) })
	if err != nil || !ok {
		t.Fatalf("templatePairs = %v, %v", ok, err)
	}
	slices.Sort(got)
	// A nested child's type is one segment ("blobServices/containers"
	// nested is refused by ARM), an extension resource named through
	// "/providers/" has its namespace in its name, and expressions that are
	// no literal parameter default or variable are not evaluated: none of
	// them gives a pair.
	want := []string{
		"Microsoft.Authorization/roleAssignments@2021-04-01-preview",
		"Microsoft.Insights/components@2020-02-02",
		"Microsoft.Network/virtualNetworks@2021-12-01",
		"Microsoft.Resources/deployments@2020-05-01",
		"Microsoft.Sql/servers/databases@2018-06-01-preview",
		"Microsoft.Sql/servers/firewallRules@2015-05-01-preview",
		"Microsoft.Sql/servers@2014-04-01-preview",
		"Microsoft.Storage/storageAccounts@2021-09-01",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pairs:\n%q\nwant\n%q", got, want)
	}
	for _, text := range []string{
		`{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#", "parameters": {}}`,
		`{"name": "metadata"}`,
	} {
		if ok, err := templatePairs([]byte(text), func(string, string) { t.Fatal("a pair from no template") }); ok || err != nil {
			t.Errorf("templatePairs(%s) = %v, %v: no template", text, ok, err)
		}
	}
	if _, err := templatePairs([]byte(`{"resources": [`), func(string, string) {}); err == nil {
		t.Error("broken JSON passed")
	}
}

func TestRelaxJSON(t *testing.T) {
	in := "{\"a\": \"http://x/*y*/\", // c\n /* d */ \"b\": [1, 2, ], \"c\": \"1\n2\\\"\",}"
	want := "{\"a\": \"http://x/*y*/\", \n  \"b\": [1, 2 ], \"c\": \"1\\u000a2\\\"\"}"
	if got := string(relaxJSON([]byte(in))); got != want {
		t.Fatalf("relaxJSON = %q, want %q", got, want)
	}
}

// TestTemplatesSource reads templates from a git repository at HEAD (a
// file committed, then changed in the work tree only, is read as
// committed) and from a plain copy.
func TestTemplatesSource(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	const schema = `"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"`
	writeFiles(t, dir, map[string]string{
		"quickstarts/microsoft.kusto/kusto-event-hub/azuredeploy.json":            `{` + schema + `, "resources": [{"type": "Microsoft.Authorization/roleAssignments", "apiVersion": "2021-04-01-preview", "name": "r"}]}`,
		"quickstarts/microsoft.kusto/kusto-event-hub/azuredeploy.parameters.json": `{"parameters": {}}`,
		"quickstarts/microsoft.kusto/kusto-event-hub/metadata.json":               `{"itemDisplayName": "x"}`,
		"quickstarts/microsoft.kusto/kusto-event-hub/README.md":                   "# x",
	})
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-q", "-m", "x")
	writeFiles(t, dir, map[string]string{
		"quickstarts/microsoft.kusto/kusto-event-hub/azuredeploy.json": `{` + schema + `, "resources": [{"type": "Microsoft.Authorization/roleAssignments", "apiVersion": "2099-01-01", "name": "r"}]}`,
	})
	tb := newTable()
	source, err := templatesSource(dir, tb)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"Microsoft.Authorization/roleAssignments\t2021-04-01-preview"}; !slices.Equal(tb.lines(), want) {
		t.Fatalf("lines = %q, want %q", tb.lines(), want)
	}
	if !strings.Contains(source, "at commit ") || !strings.Contains(source, "1 templates") {
		t.Errorf("source = %q", source)
	}
	if err := os.RemoveAll(filepath.Join(dir, ".git")); err != nil {
		t.Fatal(err)
	}
	if _, err := templatesSource(dir, tb); err != nil {
		t.Fatal(err)
	}
	if want := []string{"Microsoft.Authorization/roleAssignments\t2021-04-01-preview,2099-01-01"}; !slices.Equal(tb.lines(), want) {
		t.Fatalf("after the copy, lines = %q, want %q", tb.lines(), want)
	}
	if _, err := templatesSource(t.TempDir(), newTable()); err == nil {
		t.Fatal("an empty directory is no azure-quickstart-templates checkout")
	}
}
