package e2e

// Bad input and authentication. No official client sends a malformed body, a
// bad name or a forged token, so these requests are hand-rolled: every one of
// them must earn an ARM error envelope with a 4xx status and the right code,
// never a 5xx, and a failed write must leave nothing behind.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/golang-jwt/jwt/v5"
	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/httpapi"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/testkit"
)

const (
	biKustoV   = "2024-04-13"
	biStorageV = "2024-01-01"
	biARMV     = "2021-04-01"
	// biNoSub is a well-formed subscription id that does not exist.
	biNoSub = "00000000-0000-4000-8000-0000000000ff"
	// biOmit as a header value removes the header (Authorization, Content-Type).
	biOmit = "\x00omit"
)

// biFixture is a server with resource group "rg", Kusto cluster "adx1" and
// storage account "share1", all provisioned, and a token for the default
// service principal.
type biFixture struct {
	env     *testkit.Env
	token   string
	sub     string // /subscriptions/{s}
	rg      string // {sub}/resourceGroups/rg
	cluster string // {rg}/providers/Microsoft.Kusto/clusters/adx1
	account string // {rg}/providers/Microsoft.Storage/storageAccounts/share1
}

func biStart(t *testing.T) *biFixture {
	t.Helper()
	env := testkit.Start(t)
	ctx := context.Background()
	rgc, err := armresources.NewResourceGroupsClient(env.Subscription, env.Cred, env.Options)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rgc.CreateOrUpdate(ctx, "rg", armresources.ResourceGroup{Location: to.Ptr("westus")}, nil); err != nil {
		t.Fatal(err)
	}
	kc, err := armkusto.NewClustersClient(env.Subscription, env.Cred, env.Options)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := kc.BeginCreateOrUpdate(ctx, "rg", "adx1", armkusto.Cluster{Location: to.Ptr("westus"),
		SKU: &armkusto.AzureSKU{Name: to.Ptr(armkusto.AzureSKUNameDevNoSLAStandardD11V2), Tier: to.Ptr(armkusto.AzureSKUTierBasic)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kp.PollUntilDone(ctx, testkit.PollOptions); err != nil {
		t.Fatal(err)
	}
	sc, err := armstorage.NewAccountsClient(env.Subscription, env.Cred, env.Options)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := sc.BeginCreate(ctx, "rg", "share1", armstorage.AccountCreateParameters{Location: to.Ptr("westus"),
		Kind: to.Ptr(armstorage.KindStorageV2), SKU: &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sp.PollUntilDone(ctx, testkit.PollOptions); err != nil {
		t.Fatal(err)
	}
	sub := "/subscriptions/" + env.Subscription
	rg := sub + "/resourceGroups/rg"
	// The fixture's requests come from a principal that may do everything
	// but approve connections at once, so that its endpoints wait Pending
	// as the seed's do.
	return &biFixture{env: env, token: requesterToken(t, env), sub: sub, rg: rg,
		cluster: rg + "/providers/Microsoft.Kusto/clusters/adx1",
		account: rg + "/providers/Microsoft.Storage/storageAccounts/share1"}
}

// requesterToken is a token of testkit's Requester.
func requesterToken(t *testing.T, env *testkit.Env) string {
	t.Helper()
	tok, err := env.Requester(t).Cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://management.core.windows.net//.default"}})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Token
}

// createMPE creates managed private endpoint name on adx1 to share1's blob and waits for it.
func (f *biFixture) createMPE(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	mc, err := armkusto.NewManagedPrivateEndpointsClient(f.env.Subscription, f.env.Requester(t).Cred, f.env.Options)
	if err != nil {
		t.Fatal(err)
	}
	p, err := mc.BeginCreateOrUpdate(ctx, "rg", "adx1", name, armkusto.ManagedPrivateEndpoint{Properties: &armkusto.ManagedPrivateEndpointProperties{
		PrivateLinkResourceID: to.Ptr(f.account), GroupID: to.Ptr("blob"), RequestMessage: to.Ptr("please"),
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PollUntilDone(ctx, testkit.PollOptions); err != nil {
		t.Fatal(err)
	}
}

// mpe is the path of adx1's managed private endpoint name.
func (f *biFixture) mpe(name string) string {
	return f.cluster + "/managedPrivateEndpoints/" + url.PathEscape(name)
}

// kustoCluster is the path of cluster name in group rg.
func (f *biFixture) kustoCluster(rg, name string) string {
	return f.sub + "/resourceGroups/" + rg + "/providers/Microsoft.Kusto/clusters/" + url.PathEscape(name)
}

// storage is the path of storage account name in "rg".
func (f *biFixture) storage(name string) string {
	return f.rg + "/providers/Microsoft.Storage/storageAccounts/" + url.PathEscape(name)
}

// group is the path of resource group name.
func (f *biFixture) group(name string) string {
	return f.sub + "/resourceGroups/" + url.PathEscape(name)
}

// biKusto, biStorage and biARM add the api-version of each provider.
func biKusto(p string) string   { return p + "?api-version=" + biKustoV }
func biStorage(p string) string { return p + "?api-version=" + biStorageV }
func biARM(p string) string     { return p + "?api-version=" + biARMV }

// mpeBody is a valid managed private endpoint to share1's blob.
func (f *biFixture) mpeBody() string {
	return `{"properties":{"privateLinkResourceId":"` + f.account + `","groupId":"blob","requestMessage":"please"}}`
}

const (
	biClusterBody = `{"location":"westus","sku":{"name":"Dev(No SLA)_Standard_D11_v2","tier":"Basic"}}`
	biStorageBody = `{"location":"westus","kind":"StorageV2","sku":{"name":"Standard_LRS"}}`
	biGroupBody   = `{"location":"westus"}`
)

// biResult is a response, read whole.
type biResult struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request with the fixture's token. header values replace the
// defaults (a bearer token; application/json when there is a body); biOmit
// removes one.
func (f *biFixture) do(t testing.TB, method, path, body string, header map[string]string) biResult {
	t.Helper()
	return biDo(t, f.env, f.token, method, path, strings.NewReader(body), body != "", header)
}

// biDo sends one request with token; body is sent only when hasBody.
func biDo(t testing.TB, env *testkit.Env, token, method, path string, body io.Reader, hasBody bool, header map[string]string) biResult {
	t.Helper()
	if !hasBody {
		body = nil
	}
	// Bounded, so that a server that hangs fails the test instead of stalling it.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, env.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if hasBody {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		if v == biOmit {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := env.HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return biResult{status: resp.StatusCode, header: resp.Header, body: b}
}

// biEnvelope checks that r is an ARM error response: x-ms-request-id, a JSON
// body that is exactly {"error":{...}} with a code and a non-empty message,
// and WWW-Authenticate on a 401. It returns the error object.
func biEnvelope(r biResult) (*arm.Error, error) {
	if r.header.Get("x-ms-request-id") == "" {
		return nil, fmt.Errorf("no x-ms-request-id header")
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return nil, fmt.Errorf("Content-Type = %q, want application/json", ct)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &top); err != nil {
		return nil, fmt.Errorf("body is not a JSON object: %v: %s", err, r.body)
	}
	if len(top) != 1 || top["error"] == nil {
		return nil, fmt.Errorf("body is not the ARM error envelope {\"error\":{...}}: %s", r.body)
	}
	var e arm.Error
	if err := json.Unmarshal(top["error"], &e); err != nil {
		return nil, fmt.Errorf("error member: %v: %s", err, r.body)
	}
	if e.Code == "" || strings.TrimSpace(e.Message) == "" {
		return nil, fmt.Errorf("error without code or message: %s", r.body)
	}
	if r.status == http.StatusUnauthorized && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer ") {
		return nil, fmt.Errorf("401 without a Bearer WWW-Authenticate header (got %q)", r.header.Get("WWW-Authenticate"))
	}
	return &e, nil
}

// biCheckError fails t unless r is an ARM error with status and code whose
// message contains msg.
func biCheckError(t testing.TB, r biResult, status int, code, msg string) {
	t.Helper()
	if got, want := r.status, status; got != want {
		t.Fatalf("status = %d, want %d; body %s", got, want, r.body)
	}
	e, err := biEnvelope(r)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := e.Code, code; got != want {
		t.Fatalf("code = %q, want %q; message %q", got, want, e.Message)
	}
	if !strings.Contains(e.Message, msg) {
		t.Fatalf("message %q does not contain %q", e.Message, msg)
	}
}

// absent checks that GET path (with its query) answers 404: nothing was written.
func (f *biFixture) absent(t testing.TB, path string) {
	t.Helper()
	r := f.do(t, http.MethodGet, path, "", nil)
	if got, want := r.status, http.StatusNotFound; got != want {
		t.Fatalf("GET %s after the failed write: status = %d, want %d (something was written?); body %s", path, got, want, r.body)
	}
	if _, err := biEnvelope(r); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// snapshot is everything a failed write could have left behind: the
// subscription's groups and resources, adx1's endpoints and connections and
// share1's connections, as served.
func (f *biFixture) snapshot(t testing.TB) string {
	t.Helper()
	var b strings.Builder
	for _, p := range []string{
		biARM(f.sub + "/resourcegroups"),
		biARM(f.sub + "/resources"),
		biARM(f.rg + "/resources"),
		biKusto(f.cluster + "/managedPrivateEndpoints"),
		biKusto(f.cluster + "/privateEndpointConnections"),
		biStorage(f.account + "/privateEndpointConnections"),
	} {
		r := f.do(t, http.MethodGet, p, "", nil)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: status %d: %s", p, r.status, r.body)
		}
		b.WriteString(p + "\n" + string(r.body) + "\n")
	}
	return b.String()
}

// settledSnapshot is the snapshot once no resource in it is still being
// provisioned (an earlier case's asynchronous PATCH, say), so that what
// the failing requests are compared with is not still changing by itself.
func (f *biFixture) settledSnapshot(t testing.TB) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := f.snapshot(t)
		busy := false
		for _, st := range []string{"Running", "Creating", "Updating", "Deleting", "Accepted"} {
			if strings.Contains(s, `"provisioningState":"`+st+`"`) {
				busy = true
			}
		}
		if !busy || time.Now().After(deadline) {
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// biCase is one request that must fail.
type biCase struct {
	name   string
	method string
	path   string // path and query
	body   string
	header map[string]string
	status int
	code   string
	// msg is a substring the error message must contain.
	msg string
	// absent is GET'd after a failed PUT and must answer 404; "" means path
	// itself, "-" that path cannot be read back (its id or type is what is
	// wrong), where the snapshot comparison alone shows nothing was written.
	absent string
	// chunked sends the body without a Content-Length.
	chunked bool
}

// run sends every case, then checks that nothing changed.
func (f *biFixture) run(t *testing.T, cases []biCase) {
	t.Helper()
	before := f.settledSnapshot(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r biResult
			if c.chunked {
				r = biDo(t, f.env, f.token, c.method, c.path, io.MultiReader(strings.NewReader(c.body)), true, c.header)
			} else {
				r = f.do(t, c.method, c.path, c.body, c.header)
			}
			biCheckError(t, r, c.status, c.code, c.msg)
			if c.method != http.MethodPut || c.absent == "-" {
				return
			}
			p := c.absent
			if p == "" {
				p = c.path
			}
			f.absent(t, p)
		})
	}
	if after := f.snapshot(t); after != before {
		t.Fatalf("failed requests changed the stored resources:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestBadInputBodies(t *testing.T) {
	f := biStart(t)
	mpe := biKusto(f.mpe("m1"))
	newCluster := biKusto(f.kustoCluster("rg", "newadx"))
	newAccount := biStorage(f.storage("newsa"))
	props := func(inner string) string { return `{"properties":{` + inner + `}}` }
	plr := `"privateLinkResourceId":"` + f.account + `"`
	big := `{"location":"westus","kind":"StorageV2","sku":{"name":"Standard_LRS"},"tags":{"a":"` + strings.Repeat("x", httpapi.MaxBody) + `"}}`
	// Exactly the limit: read in full, then refused for what it says, not for its size.
	atLimit := `{"location":"westus","sku":{"name":"Standard_LRS"}}`
	atLimit += strings.Repeat(" ", httpapi.MaxBody-len(atLimit))
	const invalid, tooLarge, unsupported = arm.CodeInvalidRequestContent, arm.CodeRequestEntityTooLarge, arm.CodeUnsupportedMediaType
	f.run(t, []biCase{
		// Malformed JSON.
		{name: "truncated object", method: "PUT", path: mpe, body: `{"properties":{"privateLinkResourceId":"`, status: 400, code: invalid},
		{name: "truncated after brace", method: "PUT", path: mpe, body: `{`, status: 400, code: invalid},
		{name: "truncated valid body", method: "PUT", path: mpe, body: f.mpeBody()[:len(f.mpeBody())-2], status: 400, code: invalid},
		{name: "trailing garbage", method: "PUT", path: mpe, body: f.mpeBody() + "xyz", status: 400, code: invalid},
		{name: "two objects", method: "PUT", path: mpe, body: f.mpeBody() + "{}", status: 400, code: invalid},
		{name: "single quotes", method: "PUT", path: mpe, body: `{'properties':{}}`, status: 400, code: invalid},
		{name: "trailing comma", method: "PUT", path: mpe, body: `{"properties":{"groupId":"blob",}}`, status: 400, code: invalid},
		{name: "form encoded", method: "PUT", path: mpe, body: `properties=x&groupId=blob`, status: 400, code: invalid},
		{name: "array", method: "PUT", path: mpe, body: `[` + f.mpeBody() + `]`, status: 400, code: invalid, msg: "found array"},
		{name: "string", method: "PUT", path: mpe, body: `"hello"`, status: 400, code: invalid, msg: "found string"},
		{name: "number", method: "PUT", path: mpe, body: `42`, status: 400, code: invalid, msg: "found number"},
		{name: "boolean", method: "PUT", path: mpe, body: `true`, status: 400, code: invalid, msg: "found boolean"},
		{name: "null", method: "PUT", path: mpe, body: `null`, status: 400, code: invalid, msg: "found null"},
		{name: "empty body", method: "PUT", path: mpe, body: ``, status: 400, code: invalid, msg: "empty"},
		{name: "whitespace body", method: "PUT", path: mpe, body: " \n\t ", status: 400, code: invalid, msg: "empty"},
		{name: "empty cluster body", method: "PUT", path: newCluster, body: ``, status: 400, code: invalid},
		{name: "empty storage body", method: "PUT", path: newAccount, body: ``, status: 400, code: invalid},
		{name: "empty group body", method: "PUT", path: biARM(f.group("newrg")), body: ``, status: 400, code: invalid},
		// Wrong JSON types.
		{name: "properties string", method: "PUT", path: mpe, body: `{"properties":"x"}`, status: 400, code: invalid, msg: "Path 'properties'"},
		{name: "properties array", method: "PUT", path: mpe, body: `{"properties":[]}`, status: 400, code: invalid, msg: "Path 'properties'"},
		{name: "groupId number", method: "PUT", path: mpe, body: props(plr + `,"groupId":5`), status: 400, code: invalid, msg: "properties.groupId"},
		{name: "privateLinkResourceId object", method: "PUT", path: mpe, body: props(`"privateLinkResourceId":{"id":"` + f.account + `"},"groupId":"blob"`), status: 400, code: invalid, msg: "properties.privateLinkResourceId"},
		{name: "requestMessage boolean", method: "PUT", path: mpe, body: props(plr + `,"groupId":"blob","requestMessage":true`), status: 400, code: invalid, msg: "properties.requestMessage"},
		{name: "cluster tags array", method: "PUT", path: newCluster, body: `{"location":"westus","tags":["a"],"sku":{"name":"Dev(No SLA)_Standard_D11_v2","tier":"Basic"}}`, status: 400, code: invalid, msg: "Path 'tags'"},
		{name: "cluster tag value number", method: "PUT", path: newCluster, body: `{"location":"westus","tags":{"a":"b","n":1},"sku":{"name":"Dev(No SLA)_Standard_D11_v2","tier":"Basic"}}`, status: 400, code: invalid, msg: "tags.n"},
		{name: "cluster tag value object", method: "PUT", path: newCluster, body: `{"location":"westus","tags":{"o":{}},"sku":{"name":"Dev(No SLA)_Standard_D11_v2","tier":"Basic"}}`, status: 400, code: invalid, msg: "tags.o"},
		{name: "storage tags string", method: "PUT", path: newAccount, body: `{"location":"westus","kind":"StorageV2","sku":{"name":"Standard_LRS"},"tags":"a=b"}`, status: 400, code: invalid, msg: "Path 'tags'"},
		{name: "cluster location number", method: "PUT", path: newCluster, body: `{"location":42,"sku":{"name":"Dev(No SLA)_Standard_D11_v2","tier":"Basic"}}`, status: 400, code: invalid, msg: "location"},
		{name: "group location object", method: "PUT", path: biARM(f.group("newrg")), body: `{"location":{"name":"westus"}}`, status: 400, code: invalid, msg: "location"},
		{name: "cluster sku string", method: "PUT", path: newCluster, body: `{"location":"westus","sku":"Standard"}`, status: 400, code: invalid, msg: "sku"},
		{name: "cluster sku name number", method: "PUT", path: newCluster, body: `{"location":"westus","sku":{"name":1,"tier":"Basic"}}`, status: 400, code: invalid, msg: "sku.name"},
		{name: "storage kind number", method: "PUT", path: newAccount, body: `{"location":"westus","kind":2,"sku":{"name":"Standard_LRS"}}`, status: 400, code: invalid, msg: "kind"},
		{name: "unknown location", method: "PUT", path: newCluster, body: `{"location":"mars","sku":{"name":"Dev(No SLA)_Standard_D11_v2","tier":"Basic"}}`, status: 400, code: "LocationNotAvailableForResourceType", msg: "mars"},
		// Missing required properties.
		{name: "mpe without groupId", method: "PUT", path: mpe, body: props(plr), status: 400, code: invalid, msg: "properties.groupId"},
		{name: "mpe with empty groupId", method: "PUT", path: mpe, body: props(plr + `,"groupId":""`), status: 400, code: invalid, msg: "properties.groupId"},
		{name: "mpe without privateLinkResourceId", method: "PUT", path: mpe, body: props(`"groupId":"blob"`), status: 400, code: invalid, msg: "properties.privateLinkResourceId"},
		{name: "mpe with null privateLinkResourceId", method: "PUT", path: mpe, body: props(`"privateLinkResourceId":null,"groupId":"blob"`), status: 400, code: invalid, msg: "properties.privateLinkResourceId"},
		{name: "mpe without properties", method: "PUT", path: mpe, body: `{}`, status: 400, code: invalid, msg: "properties.privateLinkResourceId"},
		{name: "cluster without sku", method: "PUT", path: newCluster, body: `{"location":"westus"}`, status: 400, code: invalid, msg: "'sku'"},
		{name: "cluster without sku tier", method: "PUT", path: newCluster, body: `{"location":"westus","sku":{"name":"Dev(No SLA)_Standard_D11_v2"}}`, status: 400, code: invalid, msg: "sku.tier"},
		{name: "cluster without location", method: "PUT", path: newCluster, body: `{"sku":{"name":"Dev(No SLA)_Standard_D11_v2","tier":"Basic"}}`, status: 400, code: arm.CodeLocationRequired},
		{name: "storage without kind", method: "PUT", path: newAccount, body: `{"location":"westus","sku":{"name":"Standard_LRS"}}`, status: 400, code: invalid, msg: "'kind'"},
		{name: "storage without sku", method: "PUT", path: newAccount, body: `{"location":"westus","kind":"StorageV2"}`, status: 400, code: invalid, msg: "'sku'"},
		{name: "group without location", method: "PUT", path: biARM(f.group("newrg")), body: `{"tags":{}}`, status: 400, code: arm.CodeLocationRequired},
		// Bad bodies on actions and on the connection approval.
		{name: "check name array", method: "POST", path: biKusto(f.cluster + "/managedPrivateEndpointsCheckNameAvailability"), body: `[]`, status: 400, code: invalid},
		{name: "check name without name", method: "POST", path: biKusto(f.cluster + "/managedPrivateEndpointsCheckNameAvailability"), body: `{"type":"Microsoft.Kusto/clusters/managedPrivateEndpoints"}`, status: 400, code: invalid, msg: "'name'"},
		{name: "check name number", method: "POST", path: biKusto(f.cluster + "/managedPrivateEndpointsCheckNameAvailability"), body: `{"name":5,"type":"Microsoft.Kusto/clusters/managedPrivateEndpoints"}`, status: 400, code: invalid},
		{name: "check name wrong type", method: "POST", path: biKusto(f.cluster + "/managedPrivateEndpointsCheckNameAvailability"), body: `{"name":"x","type":"Microsoft.Kusto/clusters"}`, status: 400, code: arm.CodeBadRequest},
		{name: "approval of a connection that does not exist", method: "PUT", path: biStorage(f.account + "/privateEndpointConnections/nope"), body: `{"properties":{"privateLinkServiceConnectionState":{"status":"Approved"}}}`, status: 404, code: arm.CodeResourceNotFound},
		// Size and media type.
		{name: "over 4 MiB", method: "PUT", path: newAccount, body: big, status: 413, code: tooLarge},
		{name: "over 4 MiB chunked", method: "PUT", path: newAccount, body: big, chunked: true, status: 413, code: tooLarge},
		{name: "small chunked text/plain", method: "PUT", path: newAccount, body: biStorageBody, chunked: true, header: map[string]string{"Content-Type": "text/plain"}, status: 415, code: unsupported},
		{name: "exactly 4 MiB", method: "PUT", path: newAccount, body: atLimit, status: 400, code: invalid, msg: "'kind'"},
		{name: "text/plain", method: "PUT", path: mpe, body: f.mpeBody(), header: map[string]string{"Content-Type": "text/plain"}, status: 415, code: unsupported},
		{name: "application/xml", method: "PUT", path: newAccount, body: biStorageBody, header: map[string]string{"Content-Type": "application/xml"}, status: 415, code: unsupported},
		{name: "form content type", method: "PUT", path: newCluster, body: biClusterBody, header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, status: 415, code: unsupported},
		{name: "unparsable content type", method: "PUT", path: mpe, body: f.mpeBody(), header: map[string]string{"Content-Type": "json;;;=="}, status: 415, code: unsupported},
	})
	// The same bodies on PATCH of existing resources change nothing either.
	f.createMPE(t, "mpe1")
	before := f.snapshot(t)
	for _, c := range []biCase{
		{name: "patch mpe groupId number", path: biKusto(f.mpe("mpe1")), body: props(`"groupId":5`), status: 400, code: invalid},
		{name: "patch mpe properties string", path: biKusto(f.mpe("mpe1")), body: `{"properties":"x"}`, status: 400, code: invalid},
		{name: "patch mpe removes groupId", path: biKusto(f.mpe("mpe1")), body: props(`"groupId":null`), status: 400, code: invalid, msg: "properties.groupId"},
		{name: "patch mpe changes target", path: biKusto(f.mpe("mpe1")), body: props(`"groupId":"dfs"`), status: 400, code: arm.CodeBadRequest, msg: "cannot be changed"},
		{name: "patch mpe truncated", path: biKusto(f.mpe("mpe1")), body: `{"properties":`, status: 400, code: invalid},
		{name: "patch mpe array", path: biKusto(f.mpe("mpe1")), body: `[]`, status: 400, code: invalid},
		{name: "patch mpe empty", path: biKusto(f.mpe("mpe1")), body: ``, status: 400, code: invalid},
		{name: "patch cluster tags array", path: biKusto(f.cluster), body: `{"tags":["a"]}`, status: 400, code: invalid},
		{name: "patch cluster removes location", path: biKusto(f.cluster), body: `{"location":null}`, status: 400, code: arm.CodeLocationRequired},
		{name: "patch cluster removes sku", path: biKusto(f.cluster), body: `{"sku":null}`, status: 400, code: invalid, msg: "'sku'"},
		{name: "patch cluster moves it", path: biKusto(f.cluster), body: `{"location":"eastus"}`, status: 409, code: arm.CodeInvalidResourceLocation},
		{name: "patch storage removes kind", path: biStorage(f.account), body: `{"kind":null}`, status: 400, code: invalid, msg: "'kind'"},
		{name: "patch group tag number", path: biARM(f.rg), body: `{"tags":{"a":1}}`, status: 400, code: invalid},
		{name: "patch cluster text/plain", path: biKusto(f.cluster), body: `{"tags":{}}`, header: map[string]string{"Content-Type": "text/plain"}, status: 415, code: unsupported},
	} {
		t.Run(c.name, func(t *testing.T) {
			biCheckError(t, f.do(t, http.MethodPatch, c.path, c.body, c.header), c.status, c.code, c.msg)
		})
	}
	if after := f.snapshot(t); after != before {
		t.Fatalf("failed PATCHes changed the stored resources:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestBadInputAPIVersion(t *testing.T) {
	f := biStart(t)
	mpe := f.mpe("m1")
	const missing, noProvider, invalid = arm.CodeMissingAPIVersion, arm.CodeNoRegisteredProviderFound, arm.CodeInvalidAPIVersion
	f.run(t, []biCase{
		{name: "mpe put without api-version", method: "PUT", path: mpe, body: f.mpeBody(), status: 400, code: missing, msg: "(?api-version=) is required", absent: biKusto(mpe)},
		{name: "mpe put with empty api-version", method: "PUT", path: mpe + "?api-version=", body: f.mpeBody(), status: 400, code: missing, absent: biKusto(mpe)},
		{name: "mpe put with other query only", method: "PUT", path: mpe + "?apiversion=" + biKustoV, body: f.mpeBody(), status: 400, code: missing, absent: biKusto(mpe)},
		{name: "mpe get without api-version", method: "GET", path: mpe, status: 400, code: missing},
		{name: "mpe list without api-version", method: "GET", path: f.cluster + "/managedPrivateEndpoints", status: 400, code: missing},
		{name: "check name without api-version", method: "POST", path: f.cluster + "/managedPrivateEndpointsCheckNameAvailability", body: `{"name":"x","type":"Microsoft.Kusto/clusters/managedPrivateEndpoints"}`, status: 400, code: missing},
		// Managed private endpoints came with 2021-08-27: the clusters' older versions are refused for them.
		{name: "mpe put with a cluster-only version", method: "PUT", path: mpe + "?api-version=2021-01-01", body: f.mpeBody(), status: 400, code: noProvider,
			msg: "API version '2021-01-01' for type 'clusters/managedPrivateEndpoints'. The supported api-versions are '2021-08-27, 2022-02-01, ", absent: biKusto(mpe)},
		{name: "mpe get with unknown version", method: "GET", path: mpe + "?api-version=2099-01-01", status: 400, code: noProvider, msg: "2024-04-13"},
		{name: "mpe put with malformed version", method: "PUT", path: mpe + "?api-version=latest", body: f.mpeBody(), status: 400, code: noProvider, msg: "'latest'", absent: biKusto(mpe)},
		{name: "mpe list with unknown version", method: "GET", path: f.cluster + "/managedPrivateEndpoints?api-version=2021-01-01", status: 400, code: noProvider},
		{name: "cluster put with unknown version", method: "PUT", path: f.kustoCluster("rg", "newadx") + "?api-version=2019-01-22", body: biClusterBody, status: 400, code: noProvider,
			msg: "No registered resource provider found for location 'westus' and API version '2019-01-22' for type 'clusters'", absent: biKusto(f.kustoCluster("rg", "newadx"))},
		{name: "storage put with kusto version", method: "PUT", path: f.storage("newsa") + "?api-version=" + biKustoV, body: biStorageBody, status: 400, code: noProvider, msg: "2024-01-01", absent: biStorage(f.storage("newsa"))},
		{name: "group put with unknown version", method: "PUT", path: f.group("newrg") + "?api-version=1999-01-01", body: biGroupBody, status: 400, code: invalid,
			msg: "The api-version '1999-01-01' is invalid. The supported versions are '", absent: biARM(f.group("newrg"))},
		{name: "group put with kusto version", method: "PUT", path: f.group("newrg") + "?api-version=" + biKustoV, body: biGroupBody, status: 400, code: invalid, msg: biARMV, absent: biARM(f.group("newrg"))},
		{name: "group put without api-version", method: "PUT", path: f.group("newrg"), body: biGroupBody, status: 400, code: missing, absent: biARM(f.group("newrg"))},
		{name: "group get with unknown version", method: "GET", path: f.rg + "?api-version=2000-01-01", status: 400, code: invalid},
		{name: "subscription get with unknown version", method: "GET", path: f.sub + "?api-version=2000-01-01", status: 400, code: invalid},
		{name: "group list without api-version", method: "GET", path: f.sub + "/resourcegroups", status: 400, code: missing},
	})
}

// biToken signs claims with key as RS256.
func biToken(t *testing.T, key *rsa.PrivateKey, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// biClaims are the claims of a good ARM token, with overrides (nil deletes a claim).
func biClaims(over map[string]any) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"aud": "https://management.azure.com/", "iss": "https://login.example/" + identity.DefaultTenantID + "/v2.0",
		"tid": identity.DefaultTenantID, "oid": "00000000-0000-4000-8000-000000000004", "appid": identity.DefaultClientID,
		"iat": now.Unix(), "nbf": now.Add(-5 * time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(), "ver": "1.0",
	}
	for k, v := range over {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

// biServerKey reads the server's token signing key from its data directory.
func biServerKey(t *testing.T, env *testkit.Env) *rsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(env.Dir, "signing-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("no PEM block in signing-key.pem")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PrivateKey)
}

// biTokenRequest posts a client-credentials request to the server's token endpoint.
func biTokenRequest(t *testing.T, env *testkit.Env, tenant string, form url.Values) biResult {
	t.Helper()
	resp, err := env.HTTP.PostForm(env.URL+"/"+tenant+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return biResult{status: resp.StatusCode, header: resp.Header, body: b}
}

func biForm(clientID, secret, scope string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {scope}}
}

func TestBadInputAuthentication(t *testing.T) {
	f := biStart(t)
	env := f.env
	serverKey := biServerKey(t, env)
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}

	// A real token, for the wrong audience.
	r := biTokenRequest(t, env, identity.DefaultTenantID, biForm(identity.DefaultClientID, identity.DefaultClientSecret, "https://storage.azure.com/.default"))
	if r.status != http.StatusOK {
		t.Fatalf("token for storage: status %d: %s", r.status, r.body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(r.body, &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token response %s: %v", r.body, err)
	}
	storageToken := tok.AccessToken

	hs256, err := jwt.NewWithClaims(jwt.SigningMethodHS256, biClaims(nil)).SignedString(x509.MarshalPKCS1PublicKey(&serverKey.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, biClaims(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	good := biToken(t, serverKey, biClaims(nil))
	goodParts := strings.Split(good, ".")
	// The good token's signature under claims that say another tenant.
	forgedPayload, _ := json.Marshal(biClaims(map[string]any{"tid": "00000000-0000-4000-8000-0000000000aa"}))
	tampered := goodParts[0] + "." + base64.RawURLEncoding.EncodeToString(forgedPayload) + "." + goodParts[2]

	bearer := func(s string) map[string]string { return map[string]string{"Authorization": "Bearer " + s} }
	const failed, invalid, expired, audience = arm.CodeAuthenticationFailed, arm.CodeInvalidAuthenticationToken, arm.CodeExpiredAuthenticationToken, arm.CodeInvalidAuthenticationTokenAudience
	newRG := biARM(f.group("authrg"))
	mpe := biKusto(f.mpe("m1"))
	f.run(t, []biCase{
		{name: "no authorization header", method: "PUT", path: newRG, body: biGroupBody, header: map[string]string{"Authorization": biOmit}, status: 401, code: failed, msg: "missing"},
		{name: "no authorization header on GET", method: "GET", path: biKusto(f.cluster), header: map[string]string{"Authorization": biOmit}, status: 401, code: failed},
		{name: "no authorization header on a list", method: "GET", path: "/subscriptions?api-version=" + biARMV, header: map[string]string{"Authorization": biOmit}, status: 401, code: failed},
		{name: "empty authorization header", method: "PUT", path: mpe, body: f.mpeBody(), header: map[string]string{"Authorization": ""}, status: 401, code: failed},
		{name: "basic scheme", method: "PUT", path: newRG, body: biGroupBody, header: map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}, status: 401, code: failed, msg: "invalid format"},
		{name: "scheme without token", method: "PUT", path: newRG, body: biGroupBody, header: map[string]string{"Authorization": "Bearer"}, status: 401, code: failed},
		{name: "token without scheme", method: "PUT", path: newRG, body: biGroupBody, header: map[string]string{"Authorization": good}, status: 401, code: failed},
		{name: "garbage token", method: "PUT", path: newRG, body: biGroupBody, header: bearer("garbage"), status: 401, code: invalid},
		{name: "three garbage segments", method: "PUT", path: mpe, body: f.mpeBody(), header: bearer("a.b.c"), status: 401, code: invalid},
		{name: "signed by another key", method: "PUT", path: newRG, body: biGroupBody, header: bearer(biToken(t, otherKey, biClaims(nil))), status: 401, code: invalid},
		{name: "expired and signed by another key", method: "PUT", path: newRG, body: biGroupBody, header: bearer(biToken(t, otherKey, biClaims(map[string]any{"exp": time.Now().Add(-2 * time.Hour).Unix()}))), status: 401, code: invalid},
		{name: "tampered claims", method: "PUT", path: newRG, body: biGroupBody, header: bearer(tampered), status: 401, code: invalid},
		{name: "alg none", method: "PUT", path: newRG, body: biGroupBody, header: bearer(none), status: 401, code: invalid},
		{name: "HS256 keyed with the public key", method: "PUT", path: newRG, body: biGroupBody, header: bearer(hs256), status: 401, code: invalid},
		{name: "expired", method: "PUT", path: newRG, body: biGroupBody, header: bearer(biToken(t, serverKey, biClaims(map[string]any{
			"iat": time.Now().Add(-3 * time.Hour).Unix(), "nbf": time.Now().Add(-3 * time.Hour).Unix(), "exp": time.Now().Add(-2 * time.Hour).Unix()}))),
			status: 401, code: expired, msg: "is earlier than current UTC time"},
		{name: "expired on GET", method: "GET", path: biKusto(f.cluster), header: bearer(biToken(t, serverKey, biClaims(map[string]any{"exp": time.Now().Add(-2 * time.Hour).Unix()}))), status: 401, code: expired},
		{name: "not yet valid", method: "PUT", path: newRG, body: biGroupBody, header: bearer(biToken(t, serverKey, biClaims(map[string]any{"nbf": time.Now().Add(time.Hour).Unix()}))), status: 401, code: invalid},
		{name: "wrong audience", method: "PUT", path: newRG, body: biGroupBody, header: bearer(storageToken), status: 401, code: audience, msg: "https://storage.azure.com"},
		{name: "wrong audience on GET", method: "GET", path: biKusto(f.cluster), header: bearer(storageToken), status: 401, code: audience},
		{name: "no audience", method: "PUT", path: newRG, body: biGroupBody, header: bearer(biToken(t, serverKey, biClaims(map[string]any{"aud": nil}))), status: 401, code: audience},
		{name: "other tenant", method: "PUT", path: newRG, body: biGroupBody, header: bearer(biToken(t, serverKey, biClaims(map[string]any{"tid": "00000000-0000-4000-8000-0000000000aa"}))), status: 401, code: invalid, msg: "tenant"},
		// Authentication comes first: a bad token on a bad request is a 401.
		{name: "no token and a malformed body", method: "PUT", path: mpe, body: `{`, header: map[string]string{"Authorization": biOmit}, status: 401, code: failed},
		{name: "garbage token and no api-version", method: "PUT", path: f.mpe("m1"), body: f.mpeBody(), header: bearer("garbage"), status: 401, code: invalid, absent: mpe},
		{name: "no token on an emulator endpoint", method: "GET", path: "/_privlink/endpoints?cluster=" + url.QueryEscape(f.cluster), header: map[string]string{"Authorization": biOmit}, status: 401, code: failed},
		// Last: this one used to panic while holding the token cache's lock.
		{name: "without exp", method: "PUT", path: newRG, body: biGroupBody, header: bearer(biToken(t, serverKey, biClaims(map[string]any{"exp": nil}))), status: 401, code: invalid},
	})
	// None of that broke the server for good tokens (a panic under the token
	// cache's lock once left every later request hanging).
	if r := f.do(t, http.MethodGet, biARM(f.rg), "", nil); r.status != http.StatusOK {
		t.Fatalf("GET rg with a good token after the bad ones: status %d: %s", r.status, r.body)
	}
	if r := f.do(t, http.MethodGet, biARM(f.rg), "", bearer(good)); r.status != http.StatusOK {
		t.Fatalf("GET rg with a hand-made good token: status %d: %s", r.status, r.body)
	}

	t.Run("token endpoint", func(t *testing.T) {
		for _, c := range []struct {
			name   string
			tenant string
			form   url.Values
			status int
			code   string
		}{
			{name: "wrong client secret", tenant: identity.DefaultTenantID, form: biForm(identity.DefaultClientID, "not-the-secret", "https://management.core.windows.net//.default"), status: 401, code: "invalid_client"},
			{name: "empty client secret", tenant: identity.DefaultTenantID, form: biForm(identity.DefaultClientID, "", "https://management.core.windows.net//.default"), status: 401, code: "invalid_client"},
			{name: "unknown client", tenant: identity.DefaultTenantID, form: biForm("00000000-0000-4000-8000-0000000000bb", "x", "https://management.core.windows.net//.default"), status: 400, code: "unauthorized_client"},
			{name: "unknown tenant", tenant: "00000000-0000-4000-8000-0000000000cc", form: biForm(identity.DefaultClientID, identity.DefaultClientSecret, "https://management.core.windows.net//.default"), status: 400, code: "invalid_tenant"},
			{name: "scope without .default", tenant: identity.DefaultTenantID, form: biForm(identity.DefaultClientID, identity.DefaultClientSecret, "https://management.core.windows.net/user_impersonation"), status: 400, code: "invalid_scope"},
			{name: "password grant without a client", tenant: identity.DefaultTenantID, form: url.Values{"grant_type": {"password"}, "username": {"u"}, "password": {"p"}}, status: 400, code: "invalid_request"},
			{name: "password grant of an unknown user", tenant: identity.DefaultTenantID, form: url.Values{"grant_type": {"password"}, "client_id": {"04b07795-8ddb-461a-bbee-02f9e1bf7b46"}, "username": {"nobody@privlink.local"}, "password": {"p"}, "scope": {"https://management.azure.com//.default"}}, status: 400, code: "invalid_grant"},
			{name: "password grant with the default principal's id", tenant: identity.DefaultTenantID, form: url.Values{"grant_type": {"password"}, "client_id": {identity.DefaultClientID}, "username": {identity.DefaultClientID}, "password": {identity.DefaultClientSecret}, "scope": {"https://management.azure.com//.default"}}, status: 400, code: "invalid_grant"},
			{name: "refresh grant with a forged token", tenant: identity.DefaultTenantID, form: url.Values{"grant_type": {"refresh_token"}, "client_id": {"04b07795-8ddb-461a-bbee-02f9e1bf7b46"}, "refresh_token": {"eyJhbGciOiJub25lIn0.eyJ1c2UiOiJyZWZyZXNoIn0."}, "scope": {"https://management.azure.com//.default"}}, status: 400, code: "invalid_grant"},
			{name: "device code grant", tenant: identity.DefaultTenantID, form: url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}}, status: 400, code: "unsupported_grant_type"},
			{name: "no grant type", tenant: identity.DefaultTenantID, form: url.Values{}, status: 400, code: "unsupported_grant_type"},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := biTokenRequest(t, env, c.tenant, c.form)
				if got, want := r.status, c.status; got != want {
					t.Fatalf("status = %d, want %d; body %s", got, want, r.body)
				}
				if r.header.Get("x-ms-request-id") == "" {
					t.Fatal("no x-ms-request-id header")
				}
				var e struct {
					Error       string `json:"error"`
					Description string `json:"error_description"`
					Access      string `json:"access_token"`
				}
				if err := json.Unmarshal(r.body, &e); err != nil {
					t.Fatalf("body %s: %v", r.body, err)
				}
				if got, want := e.Error, c.code; got != want {
					t.Fatalf("error = %q, want %q; body %s", got, want, r.body)
				}
				if !strings.HasPrefix(e.Description, "AADSTS") || e.Access != "" {
					t.Fatalf("error_description %q, access_token %q: want an AADSTS description and no token", e.Description, e.Access)
				}
			})
		}
	})
}

func TestBadInputNames(t *testing.T) {
	f := biStart(t)
	const badName, badAccount, badGroup = arm.CodeInvalidResourceName, "AccountNameInvalid", arm.CodeInvalidResourceGroupName
	var cases []biCase
	for _, n := range []struct{ name, value string }{
		{"81 characters", strings.Repeat("a", 81)},
		{"space", "bad name"},
		{"exclamation mark", "bad!name"},
		{"percent", "bad%name"},
		{"starts with hyphen", "-mpe"},
		{"starts with underscore", "_mpe"},
		{"ends with dot", "mpe."},
		{"ends with hyphen", "mpe-"},
		{"non-ASCII", "naïve"},
		{"control character", "mpe\x01"},
	} {
		cases = append(cases, biCase{name: "mpe " + n.name, method: "PUT", path: biKusto(f.mpe(n.value)), body: f.mpeBody(), status: 400, code: badName, msg: "managed private endpoint name"})
	}
	for _, n := range []struct{ name, value string }{
		{"too short", "abc"},
		{"one character", "a"},
		{"uppercase", "NEWADX"},
		{"too long", "a" + strings.Repeat("b", 22)},
		{"starts with digit", "1adx"},
		{"ends with hyphen", "adx-"},
		{"underscore", "new_adx"},
		{"dot", "new.adx"},
	} {
		cases = append(cases, biCase{name: "cluster " + n.name, method: "PUT", path: biKusto(f.kustoCluster("rg", n.value)), body: biClusterBody, status: 400, code: badName, msg: "Cluster name"})
	}
	for _, n := range []struct{ name, value string }{
		{"too short", "ab"},
		{"too long", strings.Repeat("s", 25)},
		{"uppercase", "NewAccount"},
		{"hyphen", "new-account"},
		{"underscore", "new_account"},
	} {
		cases = append(cases, biCase{name: "storage " + n.name, method: "PUT", path: biStorage(f.storage(n.value)), body: biStorageBody, status: 400, code: badAccount})
	}
	for _, n := range []struct{ name, value string }{
		{"91 characters", strings.Repeat("g", 91)},
		{"exclamation mark", "bad!group"},
		{"space", "bad group"},
		{"ends with dot", "group."},
		{"non-ASCII", "grüppe"},
		{"asterisk", "group*"},
	} {
		cases = append(cases, biCase{name: "group " + n.name, method: "PUT", path: biARM(f.group(n.value)), body: biGroupBody, status: 400, code: badGroup})
	}
	// A name with an encoded slash is two segments: an unknown child type.
	cases = append(cases, biCase{name: "mpe with encoded slash", method: "PUT", path: biKusto(f.mpe("a/b")), body: f.mpeBody(), status: 400, code: arm.CodeInvalidResourceType, absent: "-"})
	f.run(t, cases)

	// The bounds themselves are fine.
	t.Run("bounds", func(t *testing.T) {
		for _, c := range []struct{ name, method, path, body string }{
			{"mpe of 80 characters", "PUT", biKusto(f.mpe("m" + strings.Repeat("x", 78) + "_")), f.mpeBody()},
			{"mpe of one character", "PUT", biKusto(f.mpe("m")), f.mpeBody()},
			{"cluster of 4 characters", "PUT", biKusto(f.kustoCluster("rg", "adx2")), biClusterBody},
			{"cluster of 22 characters", "PUT", biKusto(f.kustoCluster("rg", "a"+strings.Repeat("1", 20)+"z")), biClusterBody},
			{"storage of 3 characters", "PUT", biStorage(f.storage("sa3")), biStorageBody},
			{"storage of 24 characters", "PUT", biStorage(f.storage(strings.Repeat("s", 24))), biStorageBody},
			{"group of 90 characters", "PUT", biARM(f.group(strings.Repeat("g", 89) + ")")), biGroupBody},
			{"group with all allowed characters", "PUT", biARM(f.group("a-b_c.d(e)")), biGroupBody},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := f.do(t, c.method, c.path, c.body, nil)
				if r.status != http.StatusOK && r.status != http.StatusCreated {
					t.Fatalf("status = %d, want 200 or 201; body %s", r.status, r.body)
				}
			})
		}
	})
}

func TestBadInputIDs(t *testing.T) {
	f := biStart(t)
	linked := func(id string) string {
		b, _ := json.Marshal(map[string]any{"properties": map[string]any{"privateLinkResourceId": id, "groupId": "blob"}})
		return string(b)
	}
	mpe := biKusto(f.mpe("m1"))
	const badID, badNS, badType, badLinked = arm.CodeInvalidResourceID, arm.CodeInvalidResourceNamespace, arm.CodeInvalidResourceType, arm.CodeLinkedInvalidPropertyID
	f.run(t, []biCase{
		{name: "unparsable id on GET", method: "GET", path: "/subscriptions/x/foo/bar?api-version=" + biARMV, status: 400, code: badID},
		{name: "unparsable id on PUT", method: "PUT", path: "/subscriptions/x/foo/bar?api-version=" + biARMV, body: biGroupBody, status: 400, code: badID, absent: "-"},
		{name: "unparsable id under a group", method: "PUT", path: biKusto(f.rg + "/clusters/adx9/x"), body: biClusterBody, status: 400, code: badID, absent: "-"},
		{name: "providers twice", method: "PUT", path: biKusto(f.rg + "/providers/Microsoft.Kusto/providers/Microsoft.Kusto/clusters/adx9"), body: biClusterBody, status: 400, code: badID, absent: "-"},
		{name: "unknown namespace", method: "PUT", path: biKusto(f.rg + "/providers/Microsoft.Nope/widgets/w1"), body: `{"location":"westus"}`, status: 400, code: badNS, msg: "Microsoft.Nope", absent: "-"},
		{name: "unknown namespace on GET", method: "GET", path: biKusto(f.rg + "/providers/Microsoft.Nope/widgets/w1"), status: 400, code: badNS},
		// Every catalog type is served, generically where privlink has no
		// rules of its own: an api-version the type does not have is refused.
		{name: "generic type at another type's version", method: "PUT", path: biKusto(f.rg + "/providers/Microsoft.Network/virtualNetworks/vn1"), body: `{"location":"westus"}`, status: 400, code: arm.CodeNoRegisteredProviderFound, msg: "2024-05-01", absent: "-"},
		{name: "unknown type of a generic namespace", method: "PUT", path: f.rg + "/providers/Microsoft.Network/virtualNetwork/vn1?api-version=2024-05-01", body: `{"location":"westus"}`, status: 400, code: badType, msg: "'virtualNetwork'", absent: "-"},
		{name: "unknown type", method: "PUT", path: biKusto(f.rg + "/providers/Microsoft.Kusto/widgets/w1"), body: biClusterBody, status: 400, code: badType, msg: "'widgets'", absent: "-"},
		{name: "unknown child type", method: "PUT", path: biKusto(f.cluster + "/widgets/w1"), body: f.mpeBody(), status: 400, code: badType, msg: "'clusters/widgets'", absent: "-"},
		{name: "unknown child collection", method: "GET", path: biKusto(f.cluster + "/widgets"), status: 400, code: badType},
		// Types in a scope where they cannot live.
		{name: "cluster at subscription scope", method: "PUT", path: biKusto(f.sub + "/providers/Microsoft.Kusto/clusters/subadx"), body: biClusterBody, status: 400, code: badType, absent: "-"},
		{name: "storage at tenant scope", method: "PUT", path: biStorage("/providers/Microsoft.Storage/storageAccounts/tenantsa"), body: biStorageBody, status: 400, code: badType, absent: "-"},
		{name: "storage as an extension of a storage account", method: "PUT", path: biStorage(f.account + "/providers/Microsoft.Storage/storageAccounts/inner"), body: biStorageBody, status: 400, code: badType, absent: "-"},
		{name: "group-scoped alias", method: "PUT", path: f.rg + "/providers/Microsoft.Subscription/aliases/al1?api-version=2021-10-01", body: `{"properties":{}}`, status: 400, code: badType, absent: "-"},
		// privateLinkResourceId that is no resource id.
		{name: "linked id not an id", method: "PUT", path: mpe, body: linked("not-an-id"), status: 400, code: badLinked, msg: "properties.privateLinkResourceId"},
		{name: "linked id unparsable", method: "PUT", path: mpe, body: linked("/subscriptions/x/foo/bar"), status: 400, code: badLinked},
		{name: "linked id a URL", method: "PUT", path: mpe, body: linked("https://share1.blob.core.windows.net/"), status: 400, code: badLinked},
		{name: "linked id with no subscription", method: "PUT", path: mpe, body: linked("/providers/Microsoft.Storage/storageAccounts/share1"), status: 400, code: badLinked},
		{name: "linked id a collection", method: "PUT", path: mpe, body: linked(f.rg + "/providers/Microsoft.Storage/storageAccounts"), status: 400, code: badLinked},
		{name: "linked id relative", method: "PUT", path: mpe, body: linked(strings.TrimPrefix(f.account, "/")), status: 400, code: badLinked},
		// Well-formed ids of things that take no private endpoints.
		{name: "linked id of an unsupported type", method: "PUT", path: mpe, body: linked(f.rg + "/providers/Microsoft.Network/virtualNetworks/vnet1"), status: 400, code: "PrivateLinkResourceTypeNotSupported"},
		{name: "linked id a subscription", method: "PUT", path: mpe, body: linked(f.sub), status: 400, code: "PrivateLinkResourceTypeNotSupported"},
		{name: "linked id a group", method: "PUT", path: mpe, body: linked(f.rg), status: 400, code: "PrivateLinkResourceTypeNotSupported"},
		{name: "linked id an mpe", method: "PUT", path: mpe, body: linked(f.mpe("other")), status: 400, code: "PrivateLinkResourceTypeNotSupported"},
		{name: "linked id of a missing account", method: "PUT", path: mpe, body: linked(f.storage("nosuchaccount")), status: 400, code: "PrivateLinkResourceNotFound"},
		{name: "linked id in a missing subscription", method: "PUT", path: mpe, body: linked(strings.Replace(f.account, identity.DefaultSubscriptionID, biNoSub, 1)), status: 400, code: "PrivateLinkResourceNotFound"},
		{name: "groupId the target does not have", method: "PUT", path: mpe, body: `{"properties":{"privateLinkResourceId":"` + f.account + `","groupId":"queue"}}`, status: 400, code: "InvalidGroupId"},
	})
}

func TestBadInputMethodsAndMissing(t *testing.T) {
	f := biStart(t)
	const notAllowed, notFound, groupNotFound, subNotFound, parentNotFound = arm.CodeMethodNotAllowed, arm.CodeResourceNotFound, arm.CodeResourceGroupNotFound, arm.CodeSubscriptionNotFound, arm.CodeParentResourceNotFound
	plr := biKusto(f.cluster + "/privateLinkResources/cluster")
	noSub := "/subscriptions/" + biNoSub
	f.run(t, []biCase{
		// Methods a resource does not support.
		{name: "PATCH a private link resource", method: "PATCH", path: plr, body: `{}`, status: 405, code: notAllowed, msg: "'PATCH'"},
		{name: "PUT a private link resource", method: "PUT", path: plr, body: `{}`, status: 405, code: notAllowed, absent: "-"},
		{name: "DELETE a private link resource", method: "DELETE", path: plr, status: 405, code: notAllowed},
		{name: "PUT a subscription", method: "PUT", path: biARM(f.sub), body: `{}`, status: 405, code: notAllowed, absent: "-"},
		{name: "PATCH a subscription", method: "PATCH", path: biARM(f.sub), body: `{}`, status: 405, code: notAllowed},
		{name: "DELETE a subscription", method: "DELETE", path: biARM(f.sub), status: 405, code: notAllowed},
		{name: "PUT the tenants list", method: "PUT", path: biARM("/tenants"), body: `{}`, status: 405, code: notAllowed, absent: "-"},
		{name: "POST a cluster", method: "POST", path: biKusto(f.cluster), body: `{}`, status: 405, code: notAllowed},
		{name: "OPTIONS a cluster", method: "OPTIONS", path: biKusto(f.cluster), status: 405, code: notAllowed},
		{name: "PUT the endpoints collection", method: "PUT", path: biKusto(f.cluster + "/managedPrivateEndpoints"), body: f.mpeBody(), status: 405, code: notAllowed, absent: "-"},
		{name: "DELETE the endpoints collection", method: "DELETE", path: biKusto(f.cluster + "/managedPrivateEndpoints"), status: 405, code: notAllowed},
		{name: "GET the check-name action", method: "GET", path: biKusto(f.cluster + "/managedPrivateEndpointsCheckNameAvailability"), status: 405, code: notAllowed},
		{name: "PATCH a storage connection", method: "PATCH", path: biStorage(f.account + "/privateEndpointConnections/pec1"), body: `{}`, status: 405, code: notAllowed},
		{name: "PUT an operation result", method: "PUT", path: biKusto(f.sub + "/providers/Microsoft.Kusto/locations/westus/operationResults/op1"), body: `{}`, status: 405, code: notAllowed, absent: "-"},
		{name: "PUT a provider registration", method: "PUT", path: biARM(f.sub + "/providers/Microsoft.Kusto"), body: `{}`, status: 405, code: notAllowed, absent: "-"},
		// Missing resources.
		{name: "PATCH a missing cluster", method: "PATCH", path: biKusto(f.kustoCluster("rg", "noadx")), body: `{"tags":{"a":"b"}}`, status: 404, code: notFound, msg: "Microsoft.Kusto/clusters/noadx"},
		{name: "PATCH a missing mpe", method: "PATCH", path: biKusto(f.mpe("nompe")), body: f.mpeBody(), status: 404, code: notFound},
		{name: "PATCH a missing account", method: "PATCH", path: biStorage(f.storage("noaccount")), body: `{"tags":{}}`, status: 404, code: notFound},
		{name: "PATCH a missing group", method: "PATCH", path: biARM(f.group("norg")), body: `{"tags":{}}`, status: 404, code: groupNotFound},
		{name: "PATCH an mpe of a missing cluster", method: "PATCH", path: biKusto(f.kustoCluster("rg", "noadx") + "/managedPrivateEndpoints/m1"), body: f.mpeBody(), status: 404, code: parentNotFound},
		{name: "GET a missing mpe", method: "GET", path: biKusto(f.mpe("nompe")), status: 404, code: notFound, msg: "under resource group 'rg'"},
		{name: "GET a missing cluster", method: "GET", path: biKusto(f.kustoCluster("rg", "noadx")), status: 404, code: notFound},
		{name: "GET a missing account", method: "GET", path: biStorage(f.storage("noaccount")), status: 404, code: notFound},
		{name: "GET a missing connection", method: "GET", path: biStorage(f.account + "/privateEndpointConnections/pec1"), status: 404, code: notFound},
		{name: "GET a missing private link resource", method: "GET", path: biKusto(f.cluster + "/privateLinkResources/nope"), status: 404, code: notFound},
		{name: "GET an mpe of a missing cluster", method: "GET", path: biKusto(f.kustoCluster("rg", "noadx") + "/managedPrivateEndpoints/m1"), status: 404, code: parentNotFound},
		{name: "GET the mpes of a missing cluster", method: "GET", path: biKusto(f.kustoCluster("rg", "noadx") + "/managedPrivateEndpoints"), status: 404, code: parentNotFound},
		{name: "GET a missing group", method: "GET", path: biARM(f.group("norg")), status: 404, code: groupNotFound, msg: "'norg'"},
		{name: "GET a cluster in a missing group", method: "GET", path: biKusto(f.kustoCluster("norg", "adx1")), status: 404, code: groupNotFound},
		{name: "GET an mpe in a missing group", method: "GET", path: biKusto(f.kustoCluster("norg", "adx1") + "/managedPrivateEndpoints/m1"), status: 404, code: groupNotFound},
		{name: "GET a cluster in a missing subscription", method: "GET", path: biKusto(noSub + "/resourceGroups/rg/providers/Microsoft.Kusto/clusters/adx1"), status: 404, code: subNotFound, msg: biNoSub},
		{name: "GET a missing subscription", method: "GET", path: biARM(noSub), status: 404, code: subNotFound},
		{name: "GET the groups of a missing subscription", method: "GET", path: biARM(noSub + "/resourcegroups"), status: 404, code: subNotFound},
		{name: "GET a missing operation", method: "GET", path: biKusto(f.sub + "/providers/Microsoft.Kusto/locations/westus/operationResults/00000000-0000-0000-0000-000000000000"), status: 404, code: arm.CodeOperationNotFound},
		{name: "GET accounts with a bad $skipToken", method: "GET", path: biStorage(f.sub+"/providers/Microsoft.Storage/storageAccounts") + "&$skipToken=!!!", status: 400, code: arm.CodeInvalidParameter},
		{name: "GET a missing ARM operation", method: "GET", path: biARM(f.sub + "/operationresults/nope"), status: 404, code: arm.CodeOperationNotFound},
		{name: "PUT a cluster into a missing group", method: "PUT", path: biKusto(f.kustoCluster("norg", "newadx")), body: biClusterBody, status: 404, code: groupNotFound},
		{name: "PUT a cluster into a missing subscription", method: "PUT", path: biKusto(noSub + "/resourceGroups/rg/providers/Microsoft.Kusto/clusters/newadx"), body: biClusterBody, status: 404, code: subNotFound},
		{name: "PUT a group into a missing subscription", method: "PUT", path: biARM(noSub + "/resourceGroups/newrg"), body: biGroupBody, status: 404, code: subNotFound},
		{name: "PUT an mpe on a missing cluster", method: "PUT", path: biKusto(f.kustoCluster("rg", "noadx") + "/managedPrivateEndpoints/m1"), body: f.mpeBody(), status: 404, code: parentNotFound},
		{name: "DELETE a cluster in a missing group", method: "DELETE", path: biKusto(f.kustoCluster("norg", "adx1")), status: 404, code: groupNotFound},
		// ARM answers a missing group's DELETE with 404, not 204 (the SDK's BeginDelete accepts only 200/202).
		{name: "DELETE a missing group", method: "DELETE", path: biARM(f.group("norg")), status: 404, code: groupNotFound},
	})
	// DELETE of something that is not there is 204 with no body.
	for _, c := range []struct{ name, path string }{
		{"mpe", biKusto(f.mpe("nompe"))},
		{"cluster", biKusto(f.kustoCluster("rg", "noadx"))},
		{"account", biStorage(f.storage("noaccount"))},
		{"connection", biStorage(f.account + "/privateEndpointConnections/pec1")},
	} {
		t.Run("DELETE a missing "+c.name, func(t *testing.T) {
			r := f.do(t, http.MethodDelete, c.path, "", nil)
			if got, want := r.status, http.StatusNoContent; got != want {
				t.Fatalf("status = %d, want %d; body %s", got, want, r.body)
			}
			if got, want := len(r.body), 0; got != want {
				t.Fatalf("body of %d bytes, want none: %s", got, r.body)
			}
			if r.header.Get("x-ms-request-id") == "" {
				t.Fatal("no x-ms-request-id header")
			}
		})
	}
	t.Run("HEAD a missing group", func(t *testing.T) {
		r := f.do(t, http.MethodHead, biARM(f.group("norg")), "", nil)
		if got, want := r.status, http.StatusNotFound; got != want {
			t.Fatalf("status = %d, want %d", got, want)
		}
		if r.header.Get("x-ms-request-id") == "" {
			t.Fatal("no x-ms-request-id header")
		}
	})
}

func TestBadInputETags(t *testing.T) {
	f := biStart(t)
	cluster := biKusto(f.cluster)
	missing := biKusto(f.kustoCluster("rg", "noadx"))
	get := func(t *testing.T) biResult {
		t.Helper()
		r := f.do(t, http.MethodGet, cluster, "", nil)
		if r.status != http.StatusOK || r.header.Get("ETag") == "" {
			t.Fatalf("GET cluster: status %d, ETag %q: %s", r.status, r.header.Get("ETag"), r.body)
		}
		return r
	}
	first := get(t)
	etag := first.header.Get("ETag")
	const failed = arm.CodePreconditionFailed
	for _, c := range []struct {
		name   string
		method string
		path   string
		header map[string]string
		status int
		code   string
	}{
		{name: "PUT If-Match wrong etag", method: "PUT", path: cluster, header: map[string]string{"If-Match": `"wrong"`}, status: 412, code: failed},
		{name: "PUT If-None-Match star on existing", method: "PUT", path: cluster, header: map[string]string{"If-None-Match": "*"}, status: 412, code: failed},
		{name: "PUT If-None-Match its etag", method: "PUT", path: cluster, header: map[string]string{"If-None-Match": etag}, status: 412, code: failed},
		{name: "PUT If-Match right etag and If-None-Match star", method: "PUT", path: cluster, header: map[string]string{"If-Match": etag, "If-None-Match": "*"}, status: 412, code: failed},
		{name: "PUT If-Match star on missing", method: "PUT", path: missing, header: map[string]string{"If-Match": "*"}, status: 412, code: failed},
		{name: "PUT If-Match another cluster's etag on missing", method: "PUT", path: missing, header: map[string]string{"If-Match": etag}, status: 412, code: failed},
		{name: "PUT If-None-Match an etag on missing", method: "PUT", path: missing, header: map[string]string{"If-None-Match": `"x"`}, status: 412, code: failed},
		{name: "PATCH If-Match wrong etag", method: "PATCH", path: cluster, header: map[string]string{"If-Match": `"wrong"`}, status: 412, code: failed},
		{name: "PATCH If-Match on missing", method: "PATCH", path: missing, header: map[string]string{"If-Match": "*"}, status: 404, code: arm.CodeResourceNotFound},
		{name: "DELETE If-Match wrong etag", method: "DELETE", path: cluster, header: map[string]string{"If-Match": `"wrong"`}, status: 412, code: failed},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := biClusterBody
			if c.method == http.MethodDelete {
				body = ""
			}
			biCheckError(t, f.do(t, c.method, c.path, body, c.header), c.status, c.code, "")
			// Nothing written: the cluster is as it was, the missing one still missing.
			if now := get(t); now.header.Get("ETag") != etag || !bytes.Equal(now.body, first.body) {
				t.Fatalf("cluster changed: ETag %s -> %s\n%s\n%s", etag, now.header.Get("ETag"), first.body, now.body)
			}
			f.absent(t, missing)
		})
	}
	t.Run("DELETE If-Match on missing", func(t *testing.T) {
		r := f.do(t, http.MethodDelete, missing, "", map[string]string{"If-Match": `"x"`})
		if got, want := r.status, http.StatusNoContent; got != want {
			t.Fatalf("status = %d, want %d; body %s", got, want, r.body)
		}
	})
	// The control: the right etag is accepted, and changes.
	t.Run("PUT If-Match right etag", func(t *testing.T) {
		r := f.do(t, http.MethodPut, cluster, biClusterBody, map[string]string{"If-Match": `"other", ` + etag})
		if got, want := r.status, http.StatusOK; got != want {
			t.Fatalf("status = %d, want %d; body %s", got, want, r.body)
		}
		if got := r.header.Get("ETag"); got == "" || got == etag {
			t.Fatalf("ETag after update = %q, want a new one (was %s)", got, etag)
		}
	})
}

// Robustness: mutated bodies and random paths never earn a 5xx.

// biValues are JSON values a mutation may put anywhere in a body.
var biValues = []string{
	`null`, `true`, `false`, `0`, `-1`, `1e400`, `-0.0e-999`, `123456789012345678901234567890`, `""`, `"x"`,
	`"` + strings.Repeat("a", 2000) + `"`, `"\u0000\u001f\ud800"`, `"\\\"/"`, `[]`, `[1,"a",null,{}]`, `{}`, `{"":""}`,
	`{"properties":{}}`, strings.Repeat("[", 300) + strings.Repeat("]", 300), strings.Repeat(`{"a":`, 300) + `1` + strings.Repeat("}", 300),
	`"/subscriptions/x/foo/bar"`, `"/subscriptions/00000000-0000-4000-8000-000000000002"`, `"blob"`, `"dfs"`, `"westus"`, `"Mars"`,
	`{"name":"Standard_LRS"}`, `{"status":"Rejected"}`, `"Approved"`, `"Disconnected"`, `"*"`, `{"type":"SystemAssigned"}`,
}

// biJunk are byte strings a mutation may splice into a body.
var biJunk = []string{
	"}", "{", "]", "[", `"`, ",", ":", `\`, `\u`, `\ud800`, "null", "\x00", "\xff\xfe", "\n", "/*x*/", "NaN", "Infinity",
	"'", "\u2028", "1e999999", `{"a":`, `,"x":1`, `""`, "\xef\xbb\xbf", `,"properties":null`, `,"tags":[]`, `,"location":5`,
}

// biMutate corrupts a JSON body in one to three ways.
func biMutate(rng *mrand.Rand, base string) []byte {
	b := []byte(base)
	for n := 1 + rng.IntN(3); n > 0; n-- {
		switch rng.IntN(10) {
		case 0: // truncate
			if len(b) > 0 {
				b = b[:rng.IntN(len(b))]
			}
		case 1: // splice in junk
			pos := rng.IntN(len(b) + 1)
			b = append(b[:pos:pos], append([]byte(biJunk[rng.IntN(len(biJunk))]), b[pos:]...)...)
		case 2: // cut a span
			if len(b) > 1 {
				i := rng.IntN(len(b))
				j := min(len(b), i+1+rng.IntN(12))
				b = append(b[:i:i], b[j:]...)
			}
		case 3: // flip a bit
			if len(b) > 0 {
				b[rng.IntN(len(b))] ^= 1 << rng.IntN(8)
			}
		case 4, 5, 6: // replace a value
			b = biEdit(rng, b, func(set func(any)) { set(json.RawMessage(biValues[rng.IntN(len(biValues))])) })
		case 7: // drop a member or element
			b = biEdit(rng, b, func(set func(any)) { set(nil) })
		case 8: // change the case of the keys
			if rng.IntN(2) == 0 {
				b = bytes.ToUpper(b)
			} else {
				b = bytes.ReplaceAll(b, []byte(`"properties"`), []byte(`"Properties"`))
			}
		case 9: // wrap it
			switch rng.IntN(3) {
			case 0:
				b = append(append([]byte("["), b...), ']')
			case 1:
				q, _ := json.Marshal(string(b))
				b = q
			default:
				b = append(append([]byte(`{"properties":`), b...), '}')
			}
		}
	}
	return b
}

// biEdit parses b and calls edit with a setter for one node picked at random
// (a setter given nil deletes the node); b is returned as is when it is not JSON.
func biEdit(rng *mrand.Rand, b []byte, edit func(set func(any))) []byte {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return b
	}
	var setters []func(any)
	var walk func(v any, set func(any))
	walk = func(v any, set func(any)) {
		setters = append(setters, set)
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys) // deterministic
			for _, k := range keys {
				walk(x[k], func(nv any) {
					if nv == nil {
						delete(x, k)
						return
					}
					x[k] = nv
				})
			}
		case []any:
			for i := range x {
				walk(x[i], func(nv any) { x[i] = nv })
			}
		}
	}
	walk(root, func(nv any) { root = nv })
	edit(setters[rng.IntN(len(setters))])
	out, err := json.Marshal(root)
	if err != nil {
		return b
	}
	return out
}

// biARMPath reports whether path is one the ARM pipeline answers (the route
// table's rule); the others are the plain mux's, which answers in text.
func biARMPath(path string) bool {
	p, _, _ := strings.Cut(strings.ToLower(path), "?")
	return p == "/subscriptions" || p == "/tenants" || strings.HasPrefix(p, "/subscriptions/") || strings.HasPrefix(p, "/providers/")
}

// biCheckNo5xx reports (without stopping) a 5xx or, on an ARM path, a
// malformed error response.
func biCheckNo5xx(t *testing.T, method, path string, body []byte, r biResult) {
	t.Helper()
	show := func(b []byte) string {
		if len(b) > 300 {
			return string(b[:300]) + "..."
		}
		return string(b)
	}
	if r.status >= 500 {
		t.Errorf("%s %s with body %q: status %d: %s", method, path, show(body), r.status, show(r.body))
		return
	}
	if r.header.Get("x-ms-request-id") == "" {
		t.Errorf("%s %s: no x-ms-request-id header", method, path)
	}
	if r.status >= 400 && method != http.MethodHead && biARMPath(path) {
		if _, err := biEnvelope(r); err != nil {
			t.Errorf("%s %s with body %q: status %d: %v", method, path, show(body), r.status, err)
		}
	}
}

func TestBadInputNeverServerError(t *testing.T) {
	f := biStart(t)
	f.createMPE(t, "mpe1")
	var pecs struct {
		Value []struct {
			Name string `json:"name"`
		} `json:"value"`
	}
	if r := f.do(t, http.MethodGet, biStorage(f.account+"/privateEndpointConnections"), "", nil); r.status != 200 || json.Unmarshal(r.body, &pecs) != nil || len(pecs.Value) != 1 {
		t.Fatalf("share1's connections: status %d: %s", r.status, r.body)
	}
	pec := biStorage(f.account + "/privateEndpointConnections/" + url.PathEscape(pecs.Value[0].Name))
	clusterBody := `{"location":"westus","tags":{"a":"b"},"sku":{"name":"Dev(No SLA)_Standard_D11_v2","tier":"Basic","capacity":1},"identity":{"type":"SystemAssigned"},"properties":{"enableStreamingIngest":true,"virtualNetworkConfiguration":null}}`
	storageBody := `{"location":"westus","kind":"StorageV2","tags":{"a":"b"},"sku":{"name":"Standard_LRS"},"properties":{"minimumTlsVersion":"TLS1_2"}}`
	targets := []struct{ method, path, body string }{
		{"PUT", biKusto(f.mpe("fzmpe")), f.mpeBody()},
		{"PATCH", biKusto(f.mpe("mpe1")), f.mpeBody()},
		{"PUT", biKusto(f.mpe("mpe1")) + "&api-version=2022-02-01", f.mpeBody()},
		{"PUT", biKusto(f.kustoCluster("rg", "fzadx")), clusterBody},
		{"PATCH", biKusto(f.cluster), clusterBody},
		{"PUT", biStorage(f.storage("fzsa")), storageBody},
		{"PATCH", biStorage(f.account), storageBody},
		{"PUT", biARM(f.group("fzrg")), `{"location":"westus","tags":{"env":"test"},"managedBy":"x"}`},
		{"PATCH", biARM(f.rg), `{"tags":{"env":"test"}}`},
		{"PUT", pec, `{"properties":{"privateLinkServiceConnectionState":{"status":"Approved","description":"ok"}}}`},
		{"POST", biKusto(f.cluster + "/managedPrivateEndpointsCheckNameAvailability"), `{"name":"mpe2","type":"Microsoft.Kusto/clusters/managedPrivateEndpoints"}`},
		{"PUT", biKusto(f.cluster + "/widgets/w1"), f.mpeBody()},
		{"PUT", "/providers/Microsoft.Subscription/aliases/fzalias?api-version=2021-10-01", `{"properties":{"displayName":"fz","workload":"Production"}}`},
		{"POST", biARM(f.sub + "/providers/Microsoft.Kusto/register"), `{}`},
	}
	rng := mrand.New(mrand.NewPCG(20261125, 1))
	statuses := map[int]int{}
	const perTarget = 40
	for _, tg := range targets {
		for i := 0; i < perTarget; i++ {
			body := biMutate(rng, tg.body)
			r := biDo(t, f.env, f.token, tg.method, tg.path, bytes.NewReader(body), true, nil)
			statuses[r.status]++
			biCheckNo5xx(t, tg.method, tg.path, body, r)
		}
	}

	// Random ARM paths built from ARM's vocabulary, with random methods and
	// api-versions. (Paths outside ARM's prefixes are not ARM's: the plain
	// mux answers them.)
	roots := []string{"/subscriptions", "/subscriptions", "/subscriptions/" + identity.DefaultSubscriptionID, "/SUBSCRIPTIONS", "/providers", "/tenants"}
	segs := []string{
		"subscriptions", identity.DefaultSubscriptionID, biNoSub, "resourceGroups", "rg", "norg", "providers", "Microsoft.Kusto",
		"Microsoft.Storage", "Microsoft.Nope", "clusters", "adx1", "managedPrivateEndpoints", "mpe1", "privateEndpointConnections",
		"privateLinkResources", "cluster", "blob", "storageAccounts", "share1", "locations", "westus", "operationResults",
		"operationStatuses", "operationresults", "operations", "register", "resources", "tenants", "x", "", "..", "%2F", "%00", "a%20b",
		"managedPrivateEndpointsCheckNameAvailability", "Microsoft.Subscription", "aliases",
	}
	methods := []string{"GET", "HEAD", "PUT", "PATCH", "POST", "DELETE", "OPTIONS"}
	versions := []string{"", "?api-version=" + biKustoV, "?api-version=" + biStorageV, "?api-version=" + biARMV, "?api-version=2022-02-01", "?api-version=bogus", "?api-version=" + biKustoV + "&$skipToken=%%%", "?api-version=" + biARMV + "&$top=-1&$skipToken=AAAA"}
	bodies := []string{"", "{}", f.mpeBody(), biClusterBody, biStorageBody, biGroupBody, "[", "null"}
	for i := 0; i < 300; i++ {
		var p strings.Builder
		p.WriteString(roots[rng.IntN(len(roots))])
		for n := rng.IntN(10); n > 0; n-- {
			p.WriteString("/" + segs[rng.IntN(len(segs))])
		}
		path := p.String() + versions[rng.IntN(len(versions))]
		if _, err := url.Parse(f.env.URL + path); err != nil {
			continue
		}
		method, body := methods[rng.IntN(len(methods))], bodies[rng.IntN(len(bodies))]
		if method == "GET" || method == "HEAD" {
			body = ""
		}
		r := f.do(t, method, path, body, nil)
		statuses[r.status]++
		biCheckNo5xx(t, method, path, []byte(body), r)
	}
	t.Logf("statuses: %v", statuses)

	// The server still works.
	if r := f.do(t, http.MethodGet, "/_privlink/health", "", nil); r.status != http.StatusOK {
		t.Fatalf("health after the storm: %d %s", r.status, r.body)
	}
	if r := f.do(t, http.MethodGet, biARM(f.sub+"/resourcegroups"), "", nil); r.status != http.StatusOK {
		t.Fatalf("list groups after the storm: %d %s", r.status, r.body)
	}
}

// FuzzBadInputBody sends arbitrary bodies as an MPE PUT, an MPE PATCH and a
// name check. Without -fuzz it runs its seeds as a normal test.
func FuzzBadInputBody(f *testing.F) {
	env := testkit.Start(f)
	ctx := context.Background()
	rgc, err := armresources.NewResourceGroupsClient(env.Subscription, env.Cred, env.Options)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := rgc.CreateOrUpdate(ctx, "rg", armresources.ResourceGroup{Location: to.Ptr("westus")}, nil); err != nil {
		f.Fatal(err)
	}
	sub := "/subscriptions/" + env.Subscription
	cluster := sub + "/resourceGroups/rg/providers/Microsoft.Kusto/clusters/adx1"
	account := sub + "/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/share1"
	token := env.Token(f)
	for _, s := range []struct{ method, path, body string }{
		{"PUT", biKusto(cluster), biClusterBody},
		{"PUT", biStorage(account), biStorageBody},
	} {
		if r := biDo(f, env, token, s.method, s.path, strings.NewReader(s.body), true, nil); r.status >= 300 {
			f.Fatalf("%s %s: %d %s", s.method, s.path, r.status, r.body)
		}
	}
	mpeBody := `{"properties":{"privateLinkResourceId":"` + account + `","groupId":"blob","requestMessage":"please"}}`
	for _, seed := range []string{
		mpeBody, "", "{", "[]", "null", `{"properties":null}`, `{"properties":{"groupId":5}}`, mpeBody + "}",
		`{"properties":{"privateLinkResourceId":"/subscriptions/x/foo/bar","groupId":"blob"}}`,
		`{"name":"m","type":"Microsoft.Kusto/clusters/managedPrivateEndpoints"}`, "\xff\xfe{}", strings.Repeat("[", 20000),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, tg := range []struct{ method, path string }{
			{"PUT", biKusto(cluster + "/managedPrivateEndpoints/fz")},
			{"PATCH", biKusto(cluster + "/managedPrivateEndpoints/fz")},
			{"POST", biKusto(cluster + "/managedPrivateEndpointsCheckNameAvailability")},
		} {
			r := biDo(t, env, token, tg.method, tg.path, bytes.NewReader(body), true, nil)
			biCheckNo5xx(t, tg.method, tg.path, body, r)
		}
	})
}
