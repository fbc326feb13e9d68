package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestTypesOfPath(t *testing.T) {
	for _, c := range []struct {
		name, path string
		want       []string
	}{
		{"item", "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Storage/storageAccounts/{accountName}",
			[]string{"Microsoft.Storage/storageAccounts"}},
		{"child item", "/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.Storage/storageAccounts/{a}/privateEndpointConnections/{p}",
			[]string{"Microsoft.Storage/storageAccounts", "Microsoft.Storage/storageAccounts/privateEndpointConnections"}},
		{"collection is left out", "/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.Storage/storageAccounts/{a}/privateLinkResources",
			[]string{"Microsoft.Storage/storageAccounts"}},
		{"action is left out", "/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.Storage/storageAccounts/{a}/listKeys",
			[]string{"Microsoft.Storage/storageAccounts"}},
		{"literal name", "/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.Storage/storageAccounts/{a}/blobServices/default/containers/{c}",
			[]string{"Microsoft.Storage/storageAccounts", "Microsoft.Storage/storageAccounts/blobServices", "Microsoft.Storage/storageAccounts/blobServices/containers"}},
		{"template query", "/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.Kusto/clusters/{c}/managedPrivateEndpoints/{m}{?api%2Dversion}",
			[]string{"Microsoft.Kusto/clusters", "Microsoft.Kusto/clusters/managedPrivateEndpoints"}},
		{"old relative path", "subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.DigitalTwins/digitalTwinsInstances/{resourceName}",
			[]string{"Microsoft.DigitalTwins/digitalTwinsInstances"}},
		{"namespace action", "/subscriptions/{s}/providers/Microsoft.Storage/checkNameAvailability", nil},
		{"subscription-level list", "/subscriptions/{s}/providers/Microsoft.Storage/storageAccounts", nil},
		{"locations", "/subscriptions/{s}/providers/Microsoft.Kusto/locations/{location}/checkNameAvailability",
			[]string{"Microsoft.Kusto/locations"}},
		{"extension at a scope", "/{+scope}/providers/Microsoft.Resources/tags/default",
			[]string{"Microsoft.Resources/tags"}},
		{"the scope is not the resource", "/providers/Microsoft.Management/managementGroups/{groupId}/providers/Microsoft.Resources/deployments/{d}",
			[]string{"Microsoft.Resources/deployments"}},
		{"registration at a scope", "/providers/Microsoft.Management/managementGroups/{groupId}/providers/{resourceProviderNamespace}/register",
			[]string{"Microsoft.Resources/providers"}},
		{"provider", "/subscriptions/{subscriptionId}/providers/{resourceProviderNamespace}",
			[]string{"Microsoft.Resources/providers"}},
		{"provider registration", "/subscriptions/{subscriptionId}/providers/{resourceProviderNamespace}/register",
			[]string{"Microsoft.Resources/providers"}},
		{"generic by id", "/subscriptions/{s}/resourcegroups/{g}/providers/{resourceProviderNamespace}/{+parentResourcePath}/{+resourceType}/{resourceName}", nil},
		{"by id", "/{+resourceId}", nil},
		{"subscription", "/subscriptions/{subscriptionId}", []string{"Microsoft.Resources/subscriptions"}},
		{"subscriptions", "/subscriptions", nil},
		{"resource group", "/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}",
			[]string{"Microsoft.Resources/subscriptions", "Microsoft.Resources/resourceGroups"}},
		{"resource group resources", "/subscriptions/{s}/resourcegroups/{g}/resources",
			[]string{"Microsoft.Resources/subscriptions", "Microsoft.Resources/resourceGroups"}},
		{"old deployment operations", "/subscriptions/{s}/resourcegroups/{g}/deployments/{d}/operations/{o}",
			[]string{"Microsoft.Resources/subscriptions", "Microsoft.Resources/resourceGroups", "Microsoft.Resources/deployments", "Microsoft.Resources/deployments/operations"}},
		{"tag values", "/subscriptions/{s}/tagNames/{t}/tagValues/{v}",
			[]string{"Microsoft.Resources/subscriptions", "Microsoft.Resources/tagNames", "Microsoft.Resources/tagNames/tagValues"}},
		{"unknown root", "/subscriptions/{s}/things/{t}", []string{"Microsoft.Resources/subscriptions"}},
		{"next link", "{nextLink}", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := typesOfPath(c.path); !slices.Equal(got, c.want) {
				t.Fatalf("typesOfPath(%q) = %v, want %v", c.path, got, c.want)
			}
		})
	}
}

// The three shapes of generated code, written here in miniature.
const (
	// AutoRest, current: constant parameters with their own defaults.
	autorestParams = `export const apiVersion = {
    parameterPath: "apiVersion",
    mapper: {
        defaultValue: "2023-08-01",
        isConstant: true,
        serializedName: "api-version",
        type: { name: "String" }
    }
};
export const serverName = {
    parameterPath: "serverName",
    mapper: { serializedName: "serverName", required: true, type: { name: "String" } }
};
export const apiVersion1 = {
    parameterPath: "apiVersion",
    mapper: {
        defaultValue: "2022-08-01-preview",
        isConstant: true,
        serializedName: "api-version",
        type: { name: "String" }
    }
};
`
	autorestOps = `const getOperationSpec = {
    path: "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Sql/servers/{serverName}",
    httpMethod: "GET",
    queryParameters: [Parameters.apiVersion, Parameters.expand],
    urlParameters: [Parameters.$host, Parameters.serverName],
    serializer
};
const listNextOperationSpec = {
    path: "{nextLink}",
    httpMethod: "GET",
    urlParameters: [Parameters.$host, Parameters.nextLink],
    serializer
};
const getDatabaseOperationSpec = {
    path: "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Sql/servers/{serverName}/databases/{databaseName}",
    httpMethod: "GET",
    queryParameters: [Parameters.apiVersion1],
    serializer
};
`
	// AutoRest, older: a bundle whose parameter has no default of its own
	// and takes the client's.
	autorestOld = `    _this.apiVersion = '2017-04-01';
    var apiVersion = {
        parameterPath: "apiVersion",
        mapper: {
            required: true,
            serializedName: "api-version",
            type: { name: "String" }
        }
    };
    var getOperationSpec = {
        httpMethod: "GET",
        path: "subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.EventHub/namespaces/{namespaceName}",
        urlParameters: [subscriptionId, resourceGroupName, namespaceName],
        queryParameters: [
            apiVersion
        ],
        serializer: serializer
    };
`
	// TypeSpec, ESM and CommonJS.
	typespecESM = `export function _getSend(context, resourceGroupName, accountName, options = { requestOptions: {} }) {
    const path = expandUrlTemplate("/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Storage/storageAccounts/{accountName}{?api%2Dversion,%24expand}", {
        subscriptionId: context.subscriptionId,
        resourceGroupName: resourceGroupName,
        accountName: accountName,
        "api%2Dversion": context.apiVersion ?? "2026-09-01",
        "%24expand": options?.expand,
    }, {
        allowReserved: options?.requestOptions?.skipUrlEncoding,
    });
    return context.path(path).get({});
}
export function _getByIdSend(context, resourceId, apiVersion, options = { requestOptions: {} }) {
    const path = expandUrlTemplate("/{+resourceId}{?api%2Dversion}", {
        resourceId: resourceId,
        "api%2Dversion": apiVersion,
    });
    return context.path(path).get({});
}
`
	typespecCJS = `function _listSend(context, resourceGroupName, accountName, options = { requestOptions: {} }) {
  const path = (0, import_urlTemplate.expandUrlTemplate)(
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Storage/storageAccounts/{accountName}/privateEndpointConnections/{name}{?api%2Dversion}",
    {
      subscriptionId: context.subscriptionId,
      "api%2Dversion": context.apiVersion
    }
  );
}
function _listPinnedSend(context) {
  const path = (0, import_urlTemplate.expandUrlTemplate)(
    "/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}{?api%2Dversion}",
    { "api%2Dversion": "2025-04-01" }
  );
}
`
	typespecContext = `export function createStorageManagementContext(credential, subscriptionId, options = {}) {
    const apiVersion = options.apiVersion ?? "2026-06-01";
    return { ...clientContext, apiVersion, subscriptionId };
}
`
)

func TestScanBuild(t *testing.T) {
	for _, c := range []struct {
		name  string
		files []string
		want  []call
	}{
		{"autorest", []string{autorestOps, autorestParams}, []call{
			{"/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Sql/servers/{serverName}", "2023-08-01"},
			{"/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Sql/servers/{serverName}/databases/{databaseName}", "2022-08-01-preview"},
		}},
		{"older autorest", []string{autorestOld}, []call{
			{"subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.EventHub/namespaces/{namespaceName}", "2017-04-01"},
		}},
		{"typespec", []string{typespecESM}, []call{
			{"/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Storage/storageAccounts/{accountName}{?api%2Dversion,%24expand}", "2026-09-01"},
		}},
		{"typespec commonjs with the client's default", []string{typespecCJS, typespecContext}, []call{
			{"/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Storage/storageAccounts/{accountName}/privateEndpointConnections/{name}{?api%2Dversion}", "2026-06-01"},
			{"/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}{?api%2Dversion}", "2025-04-01"},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := scanBuild(c.files); !slices.Equal(got, c.want) {
				t.Fatalf("scanBuild = %v\nwant %v", got, c.want)
			}
		})
	}
}

func TestSDKTable(t *testing.T) {
	calls := scanBuild([]string{typespecCJS, typespecContext})
	calls = append(calls, scanBuild([]string{typespecESM})...)
	var b bytes.Buffer
	if err := sdkTable(calls).writeTo(&b, []string{"head"}); err != nil {
		t.Fatal(err)
	}
	want := "# head\n" +
		"Microsoft.Resources/resourceGroups\t2025-04-01\n" +
		"Microsoft.Resources/subscriptions\t2025-04-01\n" +
		"Microsoft.Storage/storageAccounts\t2026-06-01,2026-09-01\n" +
		"Microsoft.Storage/storageAccounts/privateEndpointConnections\t2026-06-01\n"
	if got := b.String(); got != want {
		t.Fatalf("table:\n%s\nwant:\n%s", got, want)
	}
}

func TestTableSpelling(t *testing.T) {
	tb := newTable()
	for _, p := range [][2]string{
		{"microsoft.insights/components", "2015-05-01"},
		{"Microsoft.Insights/components", "2020-02-02"},
		{"microsoft.insights/components", "2018-05-01-preview"},
		{"Microsoft.Storage/{account}", "2020-01-01"},   // not a type
		{"Microsoft.Storage/storageAccounts", "latest"}, // not a version
	} {
		tb.add(p[0], p[1])
	}
	want := []string{"Microsoft.Insights/components\t2015-05-01,2018-05-01-preview,2020-02-02"}
	if got := tb.lines(); !slices.Equal(got, want) {
		t.Fatalf("lines = %q, want %q", got, want)
	}
}

func TestPickReleases(t *testing.T) {
	versions := []string{"7.0.1", "18.6.0", "19.0.0", "19.1.0", "20.0.0", "20.2.0", "20.3.0-beta.1", "21.0.0", "22.0.0-beta.1"}
	for _, c := range []struct {
		latest string
		majors int
		want   []string
	}{
		{"21.0.0", 3, []string{"21.0.0", "20.2.0", "19.1.0"}},
		{"21.0.0", 1, []string{"21.0.0"}},
		{"20.2.0", 2, []string{"20.2.0", "19.1.0"}},
		{"21.0.0", 10, []string{"21.0.0", "20.2.0", "19.1.0", "18.6.0", "7.0.1"}},
		{"", 3, nil},
	} {
		if got := pickReleases(versions, c.latest, c.majors); !slices.Equal(got, c.want) {
			t.Errorf("pickReleases(latest %s, %d) = %v, want %v", c.latest, c.majors, got, c.want)
		}
	}
}

func TestBicepSource(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, text string) {
		p := filepath.Join(dir, "generated", rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("storage/microsoft.storage/2025-01-01/types.json", `[
  {"$type": "StringLiteralType", "value": "Microsoft.Storage/storageAccounts"},
  {"$type": "ObjectType", "name": "Microsoft.Storage/storageAccounts", "properties": {"location": {"type": {"$ref": "#/0"}, "flags": 1}}},
  {"$type": "ResourceType", "name": "Microsoft.Storage/storageAccounts@2025-01-01", "body": {"$ref": "#/1"}, "readableScopes": 8, "writableScopes": 8},
  {"$type": "ResourceType", "name": "Microsoft.Storage/storageAccounts/privateEndpointConnections@2025-01-01", "readableScopes": 8, "writableScopes": 0},
  {"$type": "ResourceType", "name": "Microsoft.Authorization/locks@2025-01-01", "body": {"$ref": "#/0"}, "readableScopes": 28, "writableScopes": 28},
  {"$type": "ResourceFunctionType", "name": "listKeys", "resourceType": "Microsoft.Storage/storageAccounts", "apiVersion": "2025-01-01"}
]`)
	write("storage/microsoft.storage/2016-01-01/types.json", `[
  {"$type": "ObjectType", "name": "Microsoft.Storage/storageAccounts", "properties": {"location": {"flags": 0}}},
  {"$type": "ResourceType", "name": "Microsoft.Storage/storageAccounts@2016-01-01", "body": {"$ref": "#/0"}, "scopeType": 4}
]`)
	write("storage/microsoft.storage/2016-01-01/types.md", `# not read`)
	tb, sh, source, err := bicepSource(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(source, "2 types.json files") {
		t.Errorf("source = %q, want the count of files read", source)
	}
	want := []string{
		"Microsoft.Authorization/locks\t2025-01-01",
		"Microsoft.Storage/storageAccounts\t2016-01-01,2025-01-01",
		"Microsoft.Storage/storageAccounts/privateEndpointConnections\t2025-01-01",
	}
	if got := tb.lines(); !slices.Equal(got, want) {
		t.Fatalf("lines = %q, want %q", got, want)
	}
	// Scopes are the union over versions (2016's subscription, 2025's
	// group); the location is the newest version's; a body that is no
	// object declares none.
	wantShapes := []string{
		"Microsoft.Authorization/locks\tSGE\trw\tnone",
		"Microsoft.Storage/storageAccounts\tSG\trw\trequired",
		"Microsoft.Storage/storageAccounts/privateEndpointConnections\tG\tr\tnone",
	}
	if got := sh.lines(tb); !slices.Equal(got, wantShapes) {
		t.Fatalf("shapes = %q, want %q", got, wantShapes)
	}
	if _, _, _, err := bicepSource(t.TempDir()); err == nil {
		t.Fatal("an empty directory is not a bicep-types-az checkout")
	}
}

func TestShippedCode(t *testing.T) {
	for name, want := range map[string]bool{
		"package/dist/esm/api/storageAccounts/operations.js":      true,
		"package/dist/commonjs/api/storageAccounts/operations.js": true,
		"package/dist/index.js":                                   true,
		"package/dist/index.min.js":                               false,
		"package/dist/esm/index.js.map":                           false,
		"package/dist/esm/index.d.ts":                             false,
		"package/dist-esm/samples-dev/storageAccountsCreate.js":   false,
		"package/dist-esm/test/sampleTest.js":                     false,
	} {
		if got := shippedCode(name); got != want {
			t.Errorf("shippedCode(%q) = %v, want %v", name, got, want)
		}
	}
	if a, b := buildRoot("package/dist/esm/api/x.js"), buildRoot("package/dist/esm/models/y.js"); a != b {
		t.Errorf("one build has two roots: %s, %s", a, b)
	}
	if a, b := buildRoot("package/dist/esm/api/x.js"), buildRoot("package/dist/commonjs/api/x.js"); a == b {
		t.Errorf("two builds share a root: %s", a)
	}
}
