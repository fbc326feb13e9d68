// Package generic tests the catalog's types that privlink serves with
// generic ARM semantics, over raw HTTP (what no SDK shows: status codes,
// error codes, cascades) and through the official SDKs.
package generic

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/testkit"
)

// Api-versions of the types used here, all in the catalog.
const (
	netV     = "2024-05-01"
	authV    = "2022-04-01"
	insV     = "2021-05-01-preview"
	lockV    = "2020-05-01"
	rgV      = "2021-04-01"
	storageV = "2024-01-01"
	msiV     = "2023-01-31"
	sqlV     = "2021-11-01"
	ehV      = "2024-01-01"
	webV     = "2024-04-01"
)

type fixture struct {
	t   *testing.T
	env *testkit.Env
	tok string
	sub string
}

func start(t *testing.T) *fixture {
	t.Helper()
	env := testkit.Start(t)
	return &fixture{t: t, env: env, tok: env.Token(t), sub: "/subscriptions/" + env.Subscription}
}

type result struct {
	status int
	header http.Header
	body   []byte
	doc    map[string]any
}

// code is the ARM error code of an error answer.
func (r result) code() string {
	e, _ := r.doc["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func (r result) message() string {
	e, _ := r.doc["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

// do sends a request with the default principal's token; path carries its api-version.
func (f *fixture) do(method, path, body string) result {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.env.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.tok)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := f.env.HTTP.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	r := result{status: resp.StatusCode, header: resp.Header, body: b}
	if len(b) > 0 {
		_ = json.Unmarshal(b, &r.doc)
	}
	return r
}

// must sends a request and fails unless it answers status.
func (f *fixture) must(status int, method, path, body string) result {
	f.t.Helper()
	r := f.do(method, path, body)
	if r.status != status {
		f.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, status, r.body)
	}
	return r
}

// refused sends a request and fails unless it answers status with code.
func (f *fixture) refused(status int, code, method, path, body string) result {
	f.t.Helper()
	r := f.do(method, path, body)
	if r.status != status || r.code() != code {
		f.t.Fatalf("%s %s: %d %q, want %d %q; body %s", method, path, r.status, r.code(), status, code, r.body)
	}
	return r
}

func (f *fixture) group(name string) string {
	f.t.Helper()
	rg := f.sub + "/resourceGroups/" + name
	f.must(201, "PUT", rg+"?api-version="+rgV, `{"location":"westus"}`)
	return rg
}

// gone fails unless a GET of path (with its api-version) answers 404.
func (f *fixture) gone(path string) {
	f.t.Helper()
	if r := f.do("GET", path, ""); r.status != 404 {
		f.t.Fatalf("GET %s: status %d, want 404; body %s", path, r.status, r.body)
	}
}

// at returns the value at a dotted path of a document ("properties.provisioningState").
func at(doc map[string]any, path string) any {
	var v any = doc
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func str(doc map[string]any, path string) string {
	s, _ := at(doc, path).(string)
	return s
}

func values(r result) []map[string]any {
	var out []map[string]any
	vs, _ := r.doc["value"].([]any)
	for _, v := range vs {
		m, _ := v.(map[string]any)
		out = append(out, m)
	}
	return out
}

func ids(r result) []string {
	var out []string
	for _, v := range values(r) {
		out = append(out, str(v, "id"))
	}
	return out
}

// A generic resource echoes what was sent, is Succeeded at once (200, for
// the SDKs whose specs declare no 201), and PATCH merges into it.
func TestGenericEcho(t *testing.T) {
	f := start(t)
	rg := f.group("echo")
	vnet := rg + "/providers/Microsoft.Network/virtualNetworks/vn1"
	body := `{"location":"West US","tags":{"env":"test"},"properties":{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},"custom":{"nested":[1,2,3]}},"extendedLocation":{"name":"x","type":"EdgeZone"}}`
	r := f.must(200, "PUT", vnet+"?api-version="+netV, body)
	for path, want := range map[string]any{
		"id":                           vnet,
		"name":                         "vn1",
		"type":                         "Microsoft.Network/virtualNetworks",
		"location":                     "westus",
		"tags.env":                     "test",
		"properties.provisioningState": "Succeeded",
		"extendedLocation.name":        "x",
	} {
		if got := at(r.doc, path); got != want {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	if got := at(r.doc, "properties.custom.nested"); len(got.([]any)) != 3 {
		t.Errorf("properties.custom.nested = %v, want it echoed", got)
	}
	if r.doc["systemData"] == nil {
		t.Error("no systemData")
	}
	if r.doc["etag"] != nil {
		t.Errorf("etag = %v, want none on a generic resource", r.doc["etag"])
	}
	got := f.must(200, "GET", vnet+"?api-version="+netV, "")
	if string(got.body) != string(r.body) {
		t.Errorf("GET answers %s, PUT answered %s", got.body, r.body)
	}
	// PATCH merges properties; tags are replaced whole.
	p := f.must(200, "PATCH", vnet+"?api-version="+netV, `{"tags":{"other":"x"},"properties":{"custom":{"more":true}}}`)
	if at(p.doc, "tags.env") != nil || str(p.doc, "tags.other") != "x" {
		t.Errorf("tags after PATCH = %v, want only other", p.doc["tags"])
	}
	if at(p.doc, "properties.custom.more") != true || at(p.doc, "properties.custom.nested") == nil || at(p.doc, "properties.addressSpace") == nil {
		t.Errorf("properties after PATCH = %v, want the patch merged", p.doc["properties"])
	}
	// A second PUT replaces.
	r = f.must(200, "PUT", vnet+"?api-version="+netV, `{"location":"westus","properties":{}}`)
	if at(r.doc, "properties.addressSpace") != nil {
		t.Errorf("properties after PUT = %v, want replaced", r.doc["properties"])
	}
	// Lists: in the group, and across the subscription.
	if got := ids(f.must(200, "GET", rg+"/providers/Microsoft.Network/virtualNetworks?api-version="+netV, "")); len(got) != 1 || got[0] != vnet {
		t.Errorf("group list = %v", got)
	}
	if got := ids(f.must(200, "GET", f.sub+"/providers/Microsoft.Network/virtualNetworks?api-version="+netV, "")); len(got) != 1 {
		t.Errorf("subscription list = %v", got)
	}
	f.must(200, "DELETE", vnet+"?api-version="+netV, "")
	f.gone(vnet + "?api-version=" + netV)
	f.must(204, "DELETE", vnet+"?api-version="+netV, "")
}

// Typos never pass: an unknown type or api-version is refused as ARM does,
// and so is a resource where its type cannot live.
func TestGenericRefusals(t *testing.T) {
	f := start(t)
	rg := f.group("refusals")
	for _, c := range []struct {
		name, method, path, body string
		status                   int
		code, msg                string
	}{
		{"unknown api-version", "PUT", rg + "/providers/Microsoft.Network/virtualNetworks/v?api-version=2024-05-02", `{"location":"westus"}`, 400, "NoRegisteredProviderFound", "2024-05-01"},
		{"unknown api-version on GET", "GET", rg + "/providers/Microsoft.Network/virtualNetworks/v?api-version=2099-01-01", "", 400, "NoRegisteredProviderFound", "2099-01-01"},
		{"unknown api-version of a list", "GET", rg + "/providers/Microsoft.Network/virtualNetworks?api-version=2099-01-01", "", 400, "NoRegisteredProviderFound", ""},
		{"misspelt type", "PUT", rg + "/providers/Microsoft.Network/virtualNetwork/v?api-version=" + netV, `{"location":"westus"}`, 400, "InvalidResourceType", "virtualNetwork"},
		{"misspelt namespace", "PUT", rg + "/providers/Microsoft.Netwrok/virtualNetworks/v?api-version=" + netV, `{"location":"westus"}`, 400, "InvalidResourceNamespace", "Microsoft.Netwrok"},
		{"tracked without location", "PUT", rg + "/providers/Microsoft.Network/virtualNetworks/v?api-version=" + netV, `{"properties":{}}`, 400, "LocationRequired", ""},
		{"unknown location", "PUT", rg + "/providers/Microsoft.Network/virtualNetworks/v?api-version=" + netV, `{"location":"moon"}`, 400, "LocationNotAvailableForResourceType", "moon"},
		{"child without parent", "PUT", rg + "/providers/Microsoft.Network/virtualNetworks/nope/subnets/s?api-version=" + netV, `{"properties":{"addressPrefix":"10.0.0.0/24"}}`, 404, "ParentResourceNotFound", "nope"},
		{"child get without parent", "GET", rg + "/providers/Microsoft.Network/virtualNetworks/nope/subnets/s?api-version=" + netV, "", 404, "ParentResourceNotFound", ""},
		{"missing resource group", "PUT", f.sub + "/resourceGroups/none/providers/Microsoft.Network/virtualNetworks/v?api-version=" + netV, `{"location":"westus"}`, 404, "ResourceGroupNotFound", ""},
		{"group type at subscription scope", "PUT", f.sub + "/providers/Microsoft.Network/virtualNetworks/v?api-version=" + netV, `{"location":"westus"}`, 400, "InvalidResourceType", ""},
		// The specs let no api-version write a load balancer's frontend IP configurations.
		{"read-only type", "PUT", rg + "/providers/Microsoft.Network/loadBalancers/lb/frontendIPConfigurations/x?api-version=" + netV, `{}`, 405, "MethodNotAllowed", ""},
		{"bad name", "PUT", rg + "/providers/Microsoft.Network/virtualNetworks/v.?api-version=" + netV, `{"location":"westus"}`, 400, "InvalidResourceName", ""},
		{"not found", "GET", rg + "/providers/Microsoft.Network/virtualNetworks/none?api-version=" + netV, "", 404, "ResourceNotFound", "Microsoft.Network/virtualNetworks/none"},
		{"patch of nothing", "PATCH", rg + "/providers/Microsoft.Network/virtualNetworks/none?api-version=" + netV, `{"tags":{}}`, 404, "ResourceNotFound", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			f.t = t
			r := f.refused(c.status, c.code, c.method, c.path, c.body)
			if !strings.Contains(r.message(), c.msg) {
				t.Errorf("message %q does not name %q", r.message(), c.msg)
			}
		})
	}
}

// Children need their parent and go with it; a group's delete takes everything.
func TestGenericCascade(t *testing.T) {
	f := start(t)
	rg := f.group("cascade")
	vnet := rg + "/providers/Microsoft.Network/virtualNetworks/vn"
	subnet := vnet + "/subnets/s1"
	f.must(200, "PUT", vnet+"?api-version="+netV, `{"location":"westus"}`)
	r := f.must(200, "PUT", subnet+"?api-version="+netV, `{"properties":{"addressPrefix":"10.0.1.0/24"}}`)
	if r.doc["location"] != nil {
		t.Errorf("subnet location = %v, want none (a proxy resource)", r.doc["location"])
	}
	if got := ids(f.must(200, "GET", vnet+"/subnets?api-version="+netV, "")); len(got) != 1 || got[0] != subnet {
		t.Errorf("subnets = %v", got)
	}
	// A role assignment on the subnet goes with the virtual network too.
	ra := subnet + "/providers/Microsoft.Authorization/roleAssignments/" + guid(1)
	f.must(201, "PUT", ra+"?api-version="+authV, roleAssignment(f.sub))
	f.must(200, "DELETE", vnet+"?api-version="+netV, "")
	f.gone(vnet + "?api-version=" + netV)
	f.refused(404, "ParentResourceNotFound", "GET", subnet+"?api-version="+netV, "")
	f.refused(404, "ResourceNotFound", "GET", ra+"?api-version="+authV, "") // its scope is gone

	// The resource group takes everything in it, generic or not.
	f.must(200, "PUT", vnet+"?api-version="+netV, `{"location":"westus"}`)
	f.must(200, "PUT", subnet+"?api-version="+netV, `{"properties":{}}`)
	sa := rg + "/providers/Microsoft.Storage/storageAccounts/cascadesa"
	f.must(200, "PUT", sa+"?api-version="+storageV, `{"location":"westus","sku":{"name":"Standard_LRS"},"kind":"StorageV2"}`)
	container := sa + "/blobServices/default/containers/c1"
	f.must(200, "PUT", sa+"/blobServices/default?api-version="+storageV, `{"properties":{}}`)
	f.must(200, "PUT", container+"?api-version="+storageV, `{"properties":{"publicAccess":"None"}}`)
	lock := rg + "/providers/Microsoft.Authorization/locks/l1"
	f.must(200, "PUT", lock+"?api-version="+lockV, `{"properties":{"level":"CanNotDelete"}}`)
	f.must(202, "DELETE", rg+"?api-version="+rgV, "")
	for _, p := range []string{vnet + "?api-version=" + netV, container + "?api-version=" + storageV, sa + "?api-version=" + storageV} {
		waitGone(t, f, p)
	}
	f.group("cascade")
	for _, p := range []string{vnet + "?api-version=" + netV, subnet + "?api-version=" + netV, container + "?api-version=" + storageV, lock + "?api-version=" + lockV} {
		if r := f.do("GET", p, ""); r.status != 404 {
			t.Errorf("GET %s after the group was deleted and made again: %d %s", p, r.status, r.body)
		}
	}
}

func waitGone(t *testing.T, f *fixture, path string) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if r := f.do("GET", path, ""); r.status == 404 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s is still there", path)
}

func guid(n int) string {
	return "00000000-0000-0000-0000-" + strings.Repeat("0", 12-len(itoa(n))) + itoa(n)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// roleAssignment is a body granting the default managed identity Storage
// Blob Data Contributor.
func roleAssignment(sub string) string {
	return `{"properties":{"roleDefinitionId":"` + sub + `/providers/Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe","principalId":"` + identity.ManagedIdentityObjectID + `","principalType":"ServicePrincipal"}}`
}

// Extension resources live below any resource, are listed at their scope,
// need their scope to exist and go with it.
func TestGenericExtensions(t *testing.T) {
	f := start(t)
	rg := f.group("ext")
	sa := rg + "/providers/Microsoft.Storage/storageAccounts/extsa"
	f.must(200, "PUT", sa+"?api-version="+storageV, `{"location":"westus","sku":{"name":"Standard_LRS"},"kind":"StorageV2"}`)
	ra := sa + "/providers/Microsoft.Authorization/roleAssignments/" + guid(1)
	r := f.must(201, "PUT", ra+"?api-version="+authV, roleAssignment(f.sub))
	if got, want := str(r.doc, "id"), ra; got != want {
		t.Errorf("id = %s, want %s", got, want)
	}
	if got := str(r.doc, "type"); got != "Microsoft.Authorization/roleAssignments" {
		t.Errorf("type = %s", got)
	}
	diag := sa + "/providers/Microsoft.Insights/diagnosticSettings/toLogs"
	f.must(200, "PUT", diag+"?api-version="+insV, `{"properties":{"workspaceId":"x","metrics":[{"category":"Transaction","enabled":true}]}}`)
	// The same types at the subscription and the group.
	subRA := f.sub + "/providers/Microsoft.Authorization/roleAssignments/" + guid(2)
	f.must(201, "PUT", subRA+"?api-version="+authV, roleAssignment(f.sub))
	rgRA := rg + "/providers/Microsoft.Authorization/roleAssignments/" + guid(3)
	f.must(201, "PUT", rgRA+"?api-version="+authV, roleAssignment(f.sub))

	// A list at a scope shows the assignments at it, above it and below
	// it; atScope() those at it and above.
	has := func(list []string, id string) bool { return slices.Contains(list, id) }
	got := ids(f.must(200, "GET", sa+"/providers/Microsoft.Authorization/roleAssignments?api-version="+authV, ""))
	if !has(got, ra) || !has(got, rgRA) || !has(got, subRA) {
		t.Errorf("assignments at the account = %v, want %s and those above it", got, ra)
	}
	got = ids(f.must(200, "GET", rg+"/providers/Microsoft.Authorization/roleAssignments?api-version="+authV, ""))
	if !has(got, ra) || !has(got, rgRA) || !has(got, subRA) {
		t.Errorf("assignments at the group = %v, want %s, the one below and the one above", got, rgRA)
	}
	got = ids(f.must(200, "GET", rg+"/providers/Microsoft.Authorization/roleAssignments?api-version="+authV+"&$filter=atScope()", ""))
	if has(got, ra) || !has(got, rgRA) || !has(got, subRA) {
		t.Errorf("assignments at the group, atScope() = %v, want %s and the one above, not the one below", got, rgRA)
	}
	if got := ids(f.must(200, "GET", sa+"/providers/Microsoft.Insights/diagnosticSettings?api-version="+insV, "")); len(got) != 1 || got[0] != diag {
		t.Errorf("diagnostic settings = %v", got)
	}
	// A scope that does not exist is refused, naming it.
	missing := rg + "/providers/Microsoft.Storage/storageAccounts/nosuch/providers/Microsoft.Authorization/roleAssignments/" + guid(4)
	if r := f.refused(404, "ResourceNotFound", "PUT", missing+"?api-version="+authV, roleAssignment(f.sub)); !strings.Contains(r.message(), "nosuch") {
		t.Errorf("message %q does not name the missing scope", r.message())
	}
	// A type that is no extension type cannot be one.
	f.refused(400, "InvalidResourceType", "PUT", sa+"/providers/Microsoft.Network/virtualNetworks/v?api-version="+netV, `{"location":"westus"}`)
	// The account's delete takes its extension resources; the group's stay.
	f.must(200, "DELETE", sa+"?api-version="+storageV, "")
	f.refused(404, "ResourceNotFound", "GET", ra+"?api-version="+authV, "") // its scope is gone
	f.refused(404, "ResourceNotFound", "GET", diag+"?api-version="+insV, "")
	f.must(200, "GET", rgRA+"?api-version="+authV, "")
	f.must(200, "GET", subRA+"?api-version="+authV, "")
	f.must(200, "DELETE", subRA+"?api-version="+authV, "")
	f.gone(subRA + "?api-version=" + authV)
}

// Managed identities get their ids: a system-assigned one its principal
// and tenant, kept across updates; user-assigned ones those of the identity
// resource.
func TestGenericIdentity(t *testing.T) {
	f := start(t)
	rg := f.group("ident")
	uami := rg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
	u := f.must(200, "PUT", uami+"?api-version="+msiV, `{"location":"westus"}`)
	principal, client := str(u.doc, "properties.principalId"), str(u.doc, "properties.clientId")
	if principal == "" || client == "" || str(u.doc, "properties.tenantId") == "" {
		t.Fatalf("user-assigned identity properties = %v, want principalId, clientId and tenantId", u.doc["properties"])
	}
	site := rg + "/providers/Microsoft.Web/sites/app1"
	body := `{"location":"westus","kind":"app","identity":{"type":"SystemAssigned, UserAssigned","userAssignedIdentities":{"` + uami + `":{}}},"properties":{"serverFarmId":"x"}}`
	r := f.must(200, "PUT", site+"?api-version="+webV, body)
	sys := str(r.doc, "identity.principalId")
	if sys == "" || str(r.doc, "identity.tenantId") == "" {
		t.Fatalf("identity = %v, want a principalId and tenantId", r.doc["identity"])
	}
	ua, _ := at(r.doc, "identity.userAssignedIdentities").(map[string]any)
	got, _ := ua[uami].(map[string]any)
	if got["principalId"] != principal || got["clientId"] != client {
		t.Errorf("user-assigned entry = %v, want the identity's principalId %s and clientId %s", got, principal, client)
	}
	r = f.must(200, "PUT", site+"?api-version="+webV, body)
	if str(r.doc, "identity.principalId") != sys {
		t.Errorf("principalId changed on update: %s, was %s", str(r.doc, "identity.principalId"), sys)
	}
	r = f.must(200, "PATCH", site+"?api-version="+webV, `{"identity":{"type":"None"}}`)
	if at(r.doc, "identity.principalId") != nil {
		t.Errorf("identity = %v after type None, want no principalId", r.doc["identity"])
	}
}

// A read-only location is the parent's (Event Hubs' hubs); an optional one
// may be left out (private DNS zones' virtual network links).
func TestGenericLocations(t *testing.T) {
	f := start(t)
	rg := f.group("loc")
	ns := rg + "/providers/Microsoft.EventHub/namespaces/locns1"
	f.must(201, "PUT", ns+"?api-version="+ehV, `{"location":"northeurope"}`)
	hub := f.must(200, "PUT", ns+"/eventhubs/h1?api-version="+ehV, `{"location":"westus","properties":{"partitionCount":2}}`)
	if got := str(hub.doc, "location"); got != "northeurope" {
		t.Errorf("hub location = %q, want the namespace's", got)
	}
	zone := rg + "/providers/Microsoft.Network/privateDnsZones/privatelink.blob.core.windows.net"
	f.must(200, "PUT", zone+"?api-version=2024-06-01", `{"location":"global"}`)
	link := f.must(200, "PUT", zone+"/virtualNetworkLinks/l1?api-version=2024-06-01", `{"properties":{"registrationEnabled":false}}`)
	if link.doc["location"] != nil {
		t.Errorf("link location = %v, want none when none was sent", link.doc["location"])
	}
	link = f.must(200, "PUT", zone+"/virtualNetworkLinks/l1?api-version=2024-06-01", `{"location":"Global","properties":{}}`)
	if got := str(link.doc, "location"); got != "global" {
		t.Errorf("link location = %q, want global", got)
	}
}
