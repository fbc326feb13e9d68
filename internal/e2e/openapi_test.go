package e2e

// These tests hold privlink's Kusto responses against Microsoft's own contract:
// the Azure OpenAPI (Swagger 2.0) documents of Microsoft.Kusto and the
// x-ms-examples that come with them. Raw HTTP is used on purpose: the SDK
// clients would tolerate (or hide) bodies that the specification does not
// allow.
//
// Swagger 2.0 "definitions" are JSON Schema draft 4 plus extensions, so the
// documents are compiled as draft-4 resources under their file:// URLs, which
// makes the relative $refs into common-types resolve exactly as in the
// azure-rest-api-specs repository. The validator ignores keywords it does not
// know (readOnly, discriminator, x-ms-enum, x-ms-client-flatten, ...), so the
// documents need no preprocessing; formats known to it (date-time, uuid) are
// asserted, as draft 4 does by default.
//
// The documents are a copy of the Azure specs in testdata/specification
// (PRIVLINK_SPECS points elsewhere).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/privlink/privlink/internal/testkit"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Spec documents, relative to the specification directory.
const (
	oaKusto      = "azure-kusto/resource-manager/Microsoft.Kusto/stable/2024-04-13/kusto.json"
	oaKusto2023  = "azure-kusto/resource-manager/Microsoft.Kusto/stable/2023-08-15/kusto.managedPrivateEndpoints.subset.json"
	oaKusto2022  = "azure-kusto/resource-manager/Microsoft.Kusto/stable/2022-02-01/kusto.managedPrivateEndpoints.subset.json"
	oaExamples   = "azure-kusto/resource-manager/Microsoft.Kusto/stable/2024-04-13/examples"
	oaCommonV3   = "common-types/resource-management/v3/types.json"
	oaDefaultDir = "../../testdata/specification"
)

// Operation paths, exactly as the keys of "paths" (and "x-ms-paths") spell them.
const (
	oaCluster        = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Kusto/clusters/{clusterName}"
	oaMPEs           = oaCluster + "/managedPrivateEndpoints"
	oaMPE            = oaMPEs + "/{managedPrivateEndpointName}"
	oaCheckName      = oaCluster + "/managedPrivateEndpointsCheckNameAvailability"
	oaPECs           = oaCluster + "/privateEndpointConnections"
	oaPEC            = oaPECs + "/{privateEndpointConnectionName}"
	oaPLRs           = oaCluster + "/privateLinkResources"
	oaPLR            = oaPLRs + "/{privateLinkResourceName}"
	oaOpResult       = "/subscriptions/{subscriptionId}/providers/Microsoft.Kusto/locations/{location}/operationResults/{operationId}"
	oaOpResultAsLoc  = oaOpResult + "?operationResultResponseType=Location"
	oaOperationsList = "/providers/Microsoft.Kusto/operations"
)

const (
	oaV2024 = "2024-04-13"
	oaV2023 = "2023-08-15"
	oaV2022 = "2022-02-01"
)

// ---------------------------------------------------------------------------
// The specification, as JSON Schema.

// oaSpec is the local copy of the Kusto OpenAPI documents, compiled on demand.
type oaSpec struct {
	root    string
	docs    map[string]map[string]any
	c       *jsonschema.Compiler
	schemas map[string]*jsonschema.Schema
}

// oaNoLoader refuses every URL: all documents are added as resources up
// front, so a $ref that reaches for anything else is an error in the test,
// and nothing is ever fetched from the network.
type oaNoLoader struct{}

func (oaNoLoader) Load(u string) (any, error) {
	return nil, fmt.Errorf("%s is not one of the local specification documents", u)
}

func oaLoadSpec(t *testing.T) *oaSpec {
	t.Helper()
	root := os.Getenv("PRIVLINK_SPECS")
	if root == "" {
		root = oaDefaultDir
	}
	root, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, oaKusto)); err != nil {
		t.Fatalf("the Azure OpenAPI documents are missing (they live in testdata/specification; PRIVLINK_SPECS overrides): %v", err)
	}
	s := &oaSpec{root: root, docs: map[string]map[string]any{}, c: jsonschema.NewCompiler(), schemas: map[string]*jsonschema.Schema{}}
	s.c.DefaultDraft(jsonschema.Draft4)
	s.c.UseLoader(oaNoLoader{})
	for _, rel := range []string{
		oaKusto, oaKusto2023, oaKusto2022,
		"common-types/resource-management/v1/types.json",
		"common-types/resource-management/v2/types.json",
		oaCommonV3,
		"common-types/resource-management/v3/privatelinks.json",
	} {
		f, err := os.Open(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		m, ok := doc.(map[string]any)
		if !ok {
			t.Fatalf("%s is not a JSON object", rel)
		}
		s.docs[rel] = m
	}
	// The older versions are subsets: the 2023-08-15 file has the MPE
	// definitions but not ProvisioningState, the 2022-02-01 file has only the
	// paths. Their local "#/definitions/..." refs are completed from
	// 2024-04-13, whose definitions are identical (specs digest, section 1).
	// Only CloudError (2022-02-01 errors) has no counterpart; its responses
	// are not checked.
	for _, rel := range []string{oaKusto2023, oaKusto2022} {
		missing := oaCompleteDefinitions(s.docs[rel], s.docs[oaKusto])
		for _, m := range missing {
			if !(rel == oaKusto2022 && m == "CloudError") {
				t.Fatalf("%s: definition %s is in neither the subset nor 2024-04-13", rel, m)
			}
		}
	}
	for rel, doc := range s.docs {
		if err := s.c.AddResource(s.url(rel), doc); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
	}
	return s
}

func (s *oaSpec) url(rel string) string {
	return "file://" + filepath.ToSlash(filepath.Join(s.root, filepath.FromSlash(rel)))
}

// oaCompleteDefinitions copies into doc the definitions its local refs name
// (transitively) from full, and returns the names found in neither.
func oaCompleteDefinitions(doc, full map[string]any) []string {
	defs, _ := doc["definitions"].(map[string]any)
	if defs == nil {
		defs = map[string]any{}
		doc["definitions"] = defs
	}
	fullDefs, _ := full["definitions"].(map[string]any)
	var missing []string
	seen := map[string]bool{}
	work := []any{doc["paths"], defs}
	for len(work) > 0 {
		v := work[len(work)-1]
		work = work[:len(work)-1]
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok && strings.HasPrefix(ref, "#/definitions/") {
				name := strings.TrimPrefix(ref, "#/definitions/")
				if !seen[name] {
					seen[name] = true
					if _, ok := defs[name]; !ok {
						if d, ok := fullDefs[name]; ok {
							defs[name] = d
							work = append(work, d)
						} else {
							missing = append(missing, name)
						}
					}
				}
			}
			for _, c := range v {
				work = append(work, c)
			}
		case []any:
			work = append(work, v...)
		}
	}
	sort.Strings(missing)
	return missing
}

// oaPointer is a URL fragment holding the JSON pointer to tokens.
func oaPointer(tokens ...string) string {
	var b strings.Builder
	for _, tok := range tokens {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
		b.WriteString("/" + url.PathEscape(tok))
	}
	return b.String()
}

// operation returns the operation at path and method, from "paths" or "x-ms-paths".
func (s *oaSpec) operation(t *testing.T, rel, path, method string) (section string, op map[string]any) {
	t.Helper()
	for _, section := range []string{"paths", "x-ms-paths"} {
		paths, _ := s.docs[rel][section].(map[string]any)
		item, _ := paths[path].(map[string]any)
		if op, ok := item[strings.ToLower(method)].(map[string]any); ok {
			return section, op
		}
	}
	t.Fatalf("%s has no operation %s %s", rel, method, path)
	return "", nil
}

func oaOperationID(op map[string]any) string {
	id, _ := op["operationId"].(string)
	return id
}

// compile compiles the schema at a JSON pointer of document rel.
func (s *oaSpec) compile(t *testing.T, rel string, ptr ...string) *jsonschema.Schema {
	t.Helper()
	u := s.url(rel) + "#" + oaPointer(ptr...)
	if sch, ok := s.schemas[u]; ok {
		return sch
	}
	sch, err := s.c.Compile(u)
	if err != nil {
		t.Fatalf("compile %s: %v", u, err)
	}
	s.schemas[u] = sch
	return sch
}

// definition compiles #/definitions/name of document rel.
func (s *oaSpec) definition(t *testing.T, rel, name string) *jsonschema.Schema {
	t.Helper()
	return s.compile(t, rel, "definitions", name)
}

// response returns the documented response of an operation for a status: the
// status itself, or "default" for an error status the operation does not list.
// schema is nil when the response declares no body; headers are the
// response's declared headers.
func (s *oaSpec) response(t *testing.T, rel, path, method string, status int) (key string, schema *jsonschema.Schema, headers []string, err error) {
	t.Helper()
	section, op := s.operation(t, rel, path, method)
	responses, _ := op["responses"].(map[string]any)
	key = strconv.Itoa(status)
	r, ok := responses[key].(map[string]any)
	if !ok && status >= 400 {
		key = "default"
		r, ok = responses[key].(map[string]any)
	}
	if !ok {
		var documented []string
		for k := range responses {
			documented = append(documented, k)
		}
		sort.Strings(documented)
		return "", nil, nil, fmt.Errorf("status %d is not a documented response of %s (documented: %s)", status, oaOperationID(op), strings.Join(documented, ", "))
	}
	hs, _ := r["headers"].(map[string]any)
	for h := range hs {
		headers = append(headers, h)
	}
	sort.Strings(headers)
	if _, ok := r["schema"]; !ok {
		return key, nil, headers, nil
	}
	return key, s.compile(t, rel, section, path, strings.ToLower(method), "responses", key, "schema"), headers, nil
}

// oaValidate validates a JSON body against sch.
func oaValidate(sch *jsonschema.Schema, body []byte) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("body is not JSON: %v: %q", err, body)
	}
	return sch.Validate(doc)
}

// check asserts that resp is a documented response of the operation and
// that its body is what that response's schema allows; error bodies must also
// carry the code and message ARM requires. It returns the decoded body.
func (s *oaSpec) check(t *testing.T, rel, path, method string, resp oaResponse) map[string]any {
	t.Helper()
	_, op := s.operation(t, rel, path, method)
	what := fmt.Sprintf("%s (%s %s, %s)", oaOperationID(op), method, resp.URL, filepath.Base(filepath.Dir(rel))+"/"+filepath.Base(rel))
	key, sch, headers, err := s.response(t, rel, path, method, resp.Status)
	if err != nil {
		t.Errorf("%s: %v; body %s", what, err, resp.Body)
		return nil
	}
	// The headers the response declares (the polling URLs of 202s) are
	// there, and the URLs absolute (ARM RPC, async-api-reference.md).
	for _, h := range headers {
		v := resp.Header.Get(h)
		if v == "" {
			t.Errorf("%s: response %q declares header %s; it is missing", what, key, h)
		} else if (h == "Location" || h == "Azure-AsyncOperation") && !strings.HasPrefix(v, "https://") {
			t.Errorf("%s: header %s %q is not an absolute URL", what, h, v)
		}
	}
	if sch == nil {
		if len(bytes.TrimSpace(resp.Body)) != 0 {
			t.Errorf("%s: response %s declares no body, got %s", what, key, resp.Body)
		} else {
			t.Logf("%s: %d, no body as response %q", what, resp.Status, key)
		}
		return nil
	}
	if err := oaValidate(sch, resp.Body); err != nil {
		t.Errorf("%s: %d body does not validate against response %q of the spec: %v\nbody: %s", what, resp.Status, key, err, resp.Body)
		return nil
	}
	t.Logf("%s: %d, valid as response %q", what, resp.Status, key)
	var m map[string]any
	if err := json.Unmarshal(resp.Body, &m); err != nil {
		t.Errorf("%s: %v", what, err)
		return nil
	}
	if resp.Status >= 400 {
		e, _ := m["error"].(map[string]any)
		if code, _ := e["code"].(string); code == "" {
			t.Errorf("%s: error without a code: %s", what, resp.Body)
		}
		if msg, _ := e["message"].(string); msg == "" {
			t.Errorf("%s: error without a message: %s", what, resp.Body)
		}
	}
	return m
}

// ---------------------------------------------------------------------------
// Raw ARM requests.

type oaResponse struct {
	URL    string
	Status int
	Header http.Header
	Body   []byte
}

type oaClient struct {
	env   *testkit.Env
	token string
}

func oaNewClient(t *testing.T, env *testkit.Env) *oaClient {
	return &oaClient{env: env, token: env.Token(t)}
}

// do sends one request. path is relative to the server or an absolute URL;
// apiVersion is added unless the URL has one; body is JSON (raw bytes are
// sent as they are).
func (c *oaClient) do(t *testing.T, method, path, apiVersion string, body any) oaResponse {
	t.Helper()
	raw := path
	if !strings.HasPrefix(raw, "https://") {
		raw = c.env.URL + path
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if q := u.Query(); apiVersion != "" && q.Get("api-version") == "" {
		q.Set("api-version", apiVersion)
		u.RawQuery = q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			if b, err = json.Marshal(body); err != nil {
				t.Fatal(err)
			}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u.String(), rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.env.HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return oaResponse{URL: u.Path, Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// await polls an Azure-AsyncOperation URL until the operation ends and
// returns the last (terminal) response.
func (c *oaClient) await(t *testing.T, asyncURL string) oaResponse {
	t.Helper()
	if asyncURL == "" {
		t.Fatal("no Azure-AsyncOperation header to poll")
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := c.do(t, http.MethodGet, asyncURL, "", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("poll %s: %d %s", asyncURL, r.Status, r.Body)
		}
		var st struct{ Status string }
		if err := json.Unmarshal(r.Body, &st); err != nil {
			t.Fatalf("poll %s: %v: %s", asyncURL, err, r.Body)
		}
		switch st.Status {
		case "Succeeded", "Failed", "Canceled":
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("operation %s still %s", asyncURL, st.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var oaParam = regexp.MustCompile(`\{([^{}]+)\}`)

// oaExpand fills the {parameters} of an operation path.
func oaExpand(t *testing.T, path string, params map[string]string) string {
	t.Helper()
	return oaParam.ReplaceAllStringFunc(path, func(m string) string {
		v, ok := params[m[1:len(m)-1]]
		if !ok {
			t.Fatalf("no value for %s in %s", m, path)
		}
		return url.PathEscape(v)
	})
}

// ---------------------------------------------------------------------------
// Setting up resources with the official SDK.

type oaSetup struct {
	t   *testing.T
	env *testkit.Env
	sub string
	loc string
}

func (s oaSetup) group(name string) {
	s.t.Helper()
	rgc, err := armresources.NewResourceGroupsClient(s.sub, s.env.Cred, s.env.Options)
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := rgc.CreateOrUpdate(context.Background(), name, armresources.ResourceGroup{Location: to.Ptr(s.loc)}, nil); err != nil {
		s.t.Fatal(err)
	}
}

func (s oaSetup) cluster(rg, name string) *armkusto.Cluster {
	s.t.Helper()
	kc, err := armkusto.NewClustersClient(s.sub, s.env.Cred, s.env.Options)
	if err != nil {
		s.t.Fatal(err)
	}
	p, err := kc.BeginCreateOrUpdate(context.Background(), rg, name, armkusto.Cluster{Location: to.Ptr(s.loc),
		SKU: &armkusto.AzureSKU{Name: to.Ptr(armkusto.AzureSKUNameDevNoSLAStandardD11V2), Tier: to.Ptr(armkusto.AzureSKUTierBasic)}}, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	res, err := p.PollUntilDone(context.Background(), testkit.PollOptions)
	if err != nil {
		s.t.Fatal(err)
	}
	return &res.Cluster
}

func (s oaSetup) storage(rg, name string) *armstorage.Account {
	s.t.Helper()
	sc, err := armstorage.NewAccountsClient(s.sub, s.env.Cred, s.env.Options)
	if err != nil {
		s.t.Fatal(err)
	}
	p, err := sc.BeginCreate(context.Background(), rg, name, armstorage.AccountCreateParameters{Location: to.Ptr(s.loc),
		Kind: to.Ptr(armstorage.KindStorageV2), SKU: &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)}}, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	res, err := p.PollUntilDone(context.Background(), testkit.PollOptions)
	if err != nil {
		s.t.Fatal(err)
	}
	return &res.Account
}

func (s oaSetup) mpe(rg, cluster, name, target, group string) {
	s.t.Helper()
	mc, err := armkusto.NewManagedPrivateEndpointsClient(s.sub, s.env.Cred, s.env.Options)
	if err != nil {
		s.t.Fatal(err)
	}
	p, err := mc.BeginCreateOrUpdate(context.Background(), rg, cluster, name, armkusto.ManagedPrivateEndpoint{Properties: &armkusto.ManagedPrivateEndpointProperties{
		PrivateLinkResourceID: to.Ptr(target), GroupID: to.Ptr(group), RequestMessage: to.Ptr("Please approve."),
	}}, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	if _, err := p.PollUntilDone(context.Background(), testkit.PollOptions); err != nil {
		s.t.Fatal(err)
	}
}

func oaParams(base map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func oaStr(m map[string]any, path ...string) string {
	var v any = m
	for _, p := range path {
		o, _ := v.(map[string]any)
		v = o[p]
	}
	s, _ := v.(string)
	return s
}

func oaItems(m map[string]any) []map[string]any {
	var out []map[string]any
	vs, _ := m["value"].([]any)
	for _, v := range vs {
		if o, ok := v.(map[string]any); ok {
			out = append(out, o)
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// The validator itself.

// TestOpenAPIValidator proves the schema check can fail: documents that break
// the spec are rejected, and the examples' own documented bodies pass.
func TestOpenAPIValidator(t *testing.T) {
	s := oaLoadSpec(t)
	mpe := s.definition(t, oaKusto, "ManagedPrivateEndpoint")
	good := `{"id":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Kusto/Clusters/c/ManagedPrivateEndpoints/m","name":"c/m","type":"Microsoft.Kusto/Clusters/ManagedPrivateEndpoints",` +
		`"systemData":{"createdBy":"me","createdByType":"Application","createdAt":"2024-01-02T03:04:05Z"},` +
		`"properties":{"privateLinkResourceId":"/x","groupId":"blob","provisioningState":"Succeeded"}}`
	if err := oaValidate(mpe, []byte(good)); err != nil {
		t.Fatalf("a valid managed private endpoint is rejected: %v", err)
	}
	for _, tc := range []struct {
		name   string
		schema *jsonschema.Schema
		doc    string
	}{
		{"provisioningState is a number", mpe, `{"properties":{"privateLinkResourceId":"/x","groupId":"blob","provisioningState":7}}`},
		{"provisioningState outside the enum", mpe, `{"properties":{"privateLinkResourceId":"/x","groupId":"blob","provisioningState":"Provisioned"}}`},
		{"properties is a string", mpe, `{"properties":"blob"}`},
		{"groupId missing", mpe, `{"properties":{"privateLinkResourceId":"/x"}}`},
		{"id is a number (common-types v1 ProxyResource)", mpe, `{"id":1,"properties":{"privateLinkResourceId":"/x","groupId":"blob"}}`},
		{"createdAt is no date-time (common-types v2 systemData)", mpe, `{"systemData":{"createdAt":"yesterday"},"properties":{"privateLinkResourceId":"/x","groupId":"blob"}}`},
		{"createdByType outside the enum", mpe, `{"systemData":{"createdByType":"Robot"},"properties":{"privateLinkResourceId":"/x","groupId":"blob"}}`},
		{"list value is an object", s.definition(t, oaKusto, "ManagedPrivateEndpointListResult"), `{"value":{}}`},
		{"error code is a number (common-types v3 ErrorResponse)", s.compile(t, oaCommonV3, "definitions", "ErrorResponse"), `{"error":{"code":5,"message":"m"}}`},
		{"error details is an object", s.compile(t, oaCommonV3, "definitions", "ErrorResponse"), `{"error":{"code":"c","message":"m","details":{}}}`},
		{"operation status outside the enum", s.definition(t, oaKusto, "OperationResult"), `{"status":"Done"}`},
		{"percentComplete above 100", s.definition(t, oaKusto, "OperationResult"), `{"status":"Succeeded","percentComplete":150}`},
		{"connection state missing", s.definition(t, oaKusto, "PrivateEndpointConnection"), `{"properties":{"groupId":"cluster"}}`},
		{"check-name reason outside the enum", s.definition(t, oaKusto, "CheckNameResult"), `{"nameAvailable":false,"reason":"Taken"}`},
		{"requiredMembers is a string", s.definition(t, oaKusto, "PrivateLinkResource"), `{"properties":{"requiredMembers":"Engine"}}`},
		{"2023-08-15 provisioningState is a number", s.definition(t, oaKusto2023, "ManagedPrivateEndpoint"), `{"properties":{"privateLinkResourceId":"/x","groupId":"blob","provisioningState":1}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := oaValidate(tc.schema, []byte(tc.doc)); err == nil {
				t.Fatalf("%s validates", tc.doc)
			} else {
				var ve *jsonschema.ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("not a validation error: %v", err)
				}
			}
		})
	}
	// The examples' documented response bodies are valid by construction
	// (the specs repository checks them): the validator must accept them.
	for _, ex := range s.examples(t) {
		for status, r := range ex.doc["responses"].(map[string]any) {
			body, ok := r.(map[string]any)["body"]
			if !ok {
				continue
			}
			code, _ := strconv.Atoi(status)
			_, sch, _, err := s.response(t, oaKusto, ex.path, ex.method, code)
			if err != nil {
				t.Errorf("%s: %v", ex.file, err)
				continue
			}
			b, _ := json.Marshal(body)
			if err := oaValidate(sch, b); err != nil {
				t.Errorf("%s response %s does not validate: %v", ex.file, status, err)
			}
		}
	}
}

// ---------------------------------------------------------------------------
// privlink's responses.

// TestOpenAPIResponses drives every Kusto operation privlink serves for
// managed private endpoints and private link, with raw requests, and checks
// each response against the schema of the spec's response for its status.
func TestOpenAPIResponses(t *testing.T) {
	s := oaLoadSpec(t)
	env := testkit.Start(t)
	c := oaNewClient(t, env)
	set := oaSetup{t: t, env: env, sub: env.Subscription, loc: "westus"}
	set.group("oarg")
	adx1 := set.cluster("oarg", "adx1")
	set.cluster("oarg", "adx2")
	sa := set.storage("oarg", "oastore1")
	set.mpe("oarg", "adx1", "mpeblob", *sa.ID, "blob")
	// A managed private endpoint of adx2 into adx1: adx1 gets a connection.
	set.mpe("oarg", "adx2", "mpecluster", *adx1.ID, "cluster")

	adx1p := map[string]string{"subscriptionId": env.Subscription, "resourceGroupName": "oarg", "clusterName": "adx1"}
	call := func(t *testing.T, method, path, version string, params map[string]string, body any) map[string]any {
		t.Helper()
		rel := map[string]string{oaV2024: oaKusto, oaV2023: oaKusto2023, oaV2022: oaKusto2022}[version]
		r := c.do(t, method, oaExpand(t, path, params), version, body)
		return s.check(t, rel, path, method, r)
	}
	callR := func(t *testing.T, method, path, version string, params map[string]string, body any) (oaResponse, map[string]any) {
		t.Helper()
		rel := map[string]string{oaV2024: oaKusto, oaV2023: oaKusto2023, oaV2022: oaKusto2022}[version]
		r := c.do(t, method, oaExpand(t, path, params), version, body)
		return r, s.check(t, rel, path, method, r)
	}

	t.Run("Clusters_Get", func(t *testing.T) {
		call(t, http.MethodGet, oaCluster, oaV2024, adx1p, nil)
	})

	t.Run("ManagedPrivateEndpoints_Get_List", func(t *testing.T) {
		m := call(t, http.MethodGet, oaMPE, oaV2024, oaParams(adx1p, "managedPrivateEndpointName", "mpeblob"), nil)
		if got, want := oaStr(m, "properties", "provisioningState"), "Succeeded"; got != want {
			t.Errorf("provisioningState %q, want %q", got, want)
		}
		l := call(t, http.MethodGet, oaMPEs, oaV2024, adx1p, nil)
		if got := len(oaItems(l)); got != 1 {
			t.Errorf("%d managed private endpoints listed, want 1", got)
		}
	})

	var created oaResponse
	t.Run("ManagedPrivateEndpoints_CreateOrUpdate_Update", func(t *testing.T) {
		p := oaParams(adx1p, "managedPrivateEndpointName", "mpedfs")
		body := map[string]any{"properties": map[string]any{"privateLinkResourceId": *sa.ID, "groupId": "dfs", "requestMessage": "Please approve."}}
		r, m := callR(t, http.MethodPut, oaMPE, oaV2024, p, body)
		created = r
		if r.Status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.Status, r.Body)
		}
		if got, want := oaStr(m, "properties", "provisioningState"), "Creating"; got != want {
			t.Errorf("provisioningState %q on create, want %q", got, want)
		}
		c.await(t, r.Header.Get("Azure-AsyncOperation"))
		// The same PUT again: an update of an existing endpoint.
		r, _ = callR(t, http.MethodPut, oaMPE, oaV2024, p, body)
		if r.Status != http.StatusOK {
			t.Fatalf("second PUT: %d %s", r.Status, r.Body)
		}
		if a := r.Header.Get("Azure-AsyncOperation"); a != "" {
			c.await(t, a)
		}
		body["properties"].(map[string]any)["requestMessage"] = "Please approve, again."
		r, m = callR(t, http.MethodPatch, oaMPE, oaV2024, p, body)
		if r.Status == http.StatusAccepted {
			c.await(t, r.Header.Get("Azure-AsyncOperation"))
		}
		if got, want := oaStr(m, "properties", "requestMessage"), "Please approve, again."; got != want {
			t.Errorf("requestMessage %q after PATCH, want %q", got, want)
		}
		call(t, http.MethodGet, oaMPE, oaV2024, p, nil)
	})

	t.Run("OperationsResults_Get", func(t *testing.T) {
		async := created.Header.Get("Azure-AsyncOperation")
		if async == "" {
			t.Fatalf("the MPE PUT answered no Azure-AsyncOperation header: %v", created.Header)
		}
		u, err := url.Parse(async)
		if err != nil {
			t.Fatal(err)
		}
		segs := strings.Split(strings.Trim(u.Path, "/"), "/")
		if len(segs) != 8 || !strings.EqualFold(strings.Join([]string{segs[0], segs[2], segs[3], segs[4], segs[6]}, "/"), "subscriptions/providers/Microsoft.Kusto/locations/operationResults") {
			t.Fatalf("Azure-AsyncOperation %s is not an OperationsResults_Get URL", async)
		}
		p := map[string]string{"subscriptionId": segs[1], "location": segs[5], "operationId": segs[7]}
		m := call(t, http.MethodGet, oaOpResult, u.Query().Get("api-version"), p, nil)
		if got, want := oaStr(m, "status"), "Succeeded"; got != want {
			t.Errorf("operation status %q, want %q", got, want)
		}
		call(t, http.MethodGet, oaOpResultAsLoc, oaV2024, p, nil)
	})

	t.Run("ManagedPrivateEndpoints_CheckNameAvailability", func(t *testing.T) {
		for _, tc := range []struct {
			name      string
			available bool
			reason    string
		}{{"mpeblob", false, "AlreadyExists"}, {"MPEBLOB", false, "AlreadyExists"}, {"fresh", true, ""}, {"-bad-", false, "Invalid"}} {
			m := call(t, http.MethodPost, oaCheckName, oaV2024, adx1p, map[string]any{"name": tc.name, "type": "Microsoft.Kusto/clusters/managedPrivateEndpoints"})
			if got, _ := m["nameAvailable"].(bool); got != tc.available {
				t.Errorf("%s: nameAvailable %v, want %v", tc.name, got, tc.available)
			}
			if got := oaStr(m, "reason"); got != tc.reason {
				t.Errorf("%s: reason %q, want %q", tc.name, got, tc.reason)
			}
		}
	})

	var pecName string
	t.Run("PrivateEndpointConnections", func(t *testing.T) {
		l := call(t, http.MethodGet, oaPECs, oaV2024, adx1p, nil)
		items := oaItems(l)
		if len(items) != 1 {
			t.Fatalf("%d connections on adx1, want 1: %v", len(items), l)
		}
		pecName = oaStr(items[0], "name")
		p := oaParams(adx1p, "privateEndpointConnectionName", pecName)
		m := call(t, http.MethodGet, oaPEC, oaV2024, p, nil)
		// The test's principal owns adx1: the connection was approved at once.
		if got, want := oaStr(m, "properties", "privateLinkServiceConnectionState", "status"), "Approved"; got != want {
			t.Errorf("connection status %q, want %q", got, want)
		}
		if got, want := oaStr(m, "properties", "groupId"), "cluster"; got != want {
			t.Errorf("connection groupId %q, want %q", got, want)
		}
		m = call(t, http.MethodPut, oaPEC, oaV2024, p, map[string]any{"properties": map[string]any{
			"privateLinkServiceConnectionState": map[string]any{"status": "Approved", "description": "Approved by the test."}}})
		if got, want := oaStr(m, "properties", "privateLinkServiceConnectionState", "status"), "Approved"; got != want {
			t.Errorf("connection status %q after approval, want %q", got, want)
		}
		call(t, http.MethodGet, oaPECs, oaV2024, adx1p, nil)
	})

	t.Run("PrivateLinkResources", func(t *testing.T) {
		l := call(t, http.MethodGet, oaPLRs, oaV2024, adx1p, nil)
		if items := oaItems(l); len(items) != 1 || oaStr(items[0], "properties", "groupId") != "cluster" {
			t.Errorf("private link resources %v, want the one 'cluster'", l)
		}
		call(t, http.MethodGet, oaPLR, oaV2024, oaParams(adx1p, "privateLinkResourceName", "cluster"), nil)
	})

	t.Run("Operations_List", func(t *testing.T) {
		m := call(t, http.MethodGet, oaOperationsList, oaV2024, nil, nil)
		var names []string
		for _, o := range oaItems(m) {
			names = append(names, oaStr(o, "name"))
		}
		if !slices.ContainsFunc(names, func(n string) bool {
			return strings.EqualFold(n, "Microsoft.Kusto/clusters/managedPrivateEndpoints/write")
		}) {
			t.Errorf("operations list has no managedPrivateEndpoints/write: %v", names)
		}
	})

	t.Run("ErrorResponse", func(t *testing.T) {
		r, m := callR(t, http.MethodPut, oaMPE, oaV2024, oaParams(adx1p, "managedPrivateEndpointName", "mpebad"),
			map[string]any{"properties": map[string]any{"privateLinkResourceId": *sa.ID, "groupId": "queue"}})
		if r.Status != http.StatusBadRequest || oaStr(m, "error", "code") != "InvalidGroupId" {
			t.Errorf("bad groupId: %d %s, want 400 InvalidGroupId", r.Status, r.Body)
		}
		r, _ = callR(t, http.MethodPut, oaMPE, oaV2024, oaParams(adx1p, "managedPrivateEndpointName", "mpebad"), map[string]any{"properties": "blob"})
		if r.Status != http.StatusBadRequest {
			t.Errorf("properties as a string: %d %s, want 400", r.Status, r.Body)
		}
		r, _ = callR(t, http.MethodGet, oaMPE, oaV2024, oaParams(adx1p, "managedPrivateEndpointName", "nosuch"), nil)
		if r.Status != http.StatusNotFound {
			t.Errorf("missing endpoint: %d %s, want 404", r.Status, r.Body)
		}
		r, _ = callR(t, http.MethodGet, oaMPEs, oaV2024, oaParams(adx1p, "clusterName", "nosuch"), nil)
		if r.Status != http.StatusNotFound {
			t.Errorf("endpoints of a missing cluster: %d %s, want 404", r.Status, r.Body)
		}
		r, _ = callR(t, http.MethodPut, oaPEC, oaV2024, oaParams(adx1p, "privateEndpointConnectionName", "nosuch"),
			map[string]any{"properties": map[string]any{"privateLinkServiceConnectionState": map[string]any{"status": "Approved"}}})
		if r.Status != http.StatusNotFound {
			t.Errorf("PUT of a connection privlink did not create: %d %s, want 404", r.Status, r.Body)
		}
		r, _ = callR(t, http.MethodPost, oaCheckName, oaV2024, adx1p, map[string]any{"name": "x", "type": "Microsoft.Kusto/clusters"})
		if r.Status != http.StatusBadRequest {
			t.Errorf("check name with a wrong type: %d %s, want 400", r.Status, r.Body)
		}
		r, _ = callR(t, http.MethodPut, oaMPE, oaV2023, oaParams(adx1p, "managedPrivateEndpointName", "mpebad"),
			map[string]any{"properties": map[string]any{"privateLinkResourceId": *sa.ID, "groupId": "queue"}})
		if r.Status != http.StatusBadRequest {
			t.Errorf("2023-08-15 bad groupId: %d %s, want 400", r.Status, r.Body)
		}
	})

	// Older api-versions, against their subset documents. (2022-02-01 errors
	// would be its CloudError, which the subset does not carry: not checked.)
	for _, v := range []string{oaV2023, oaV2022} {
		t.Run("ManagedPrivateEndpoints_"+v, func(t *testing.T) {
			p := oaParams(adx1p, "managedPrivateEndpointName", "mpe-"+v)
			body := map[string]any{"properties": map[string]any{"privateLinkResourceId": *sa.ID, "groupId": "blob", "requestMessage": "v" + v}}
			r, _ := callR(t, http.MethodPut, oaMPE, v, p, body)
			if r.Status != http.StatusCreated {
				t.Fatalf("create: %d %s", r.Status, r.Body)
			}
			c.await(t, r.Header.Get("Azure-AsyncOperation"))
			m := call(t, http.MethodGet, oaMPE, v, p, nil)
			if got, want := oaStr(m, "properties", "provisioningState"), "Succeeded"; got != want {
				t.Errorf("provisioningState %q, want %q", got, want)
			}
			r, _ = callR(t, http.MethodPut, oaMPE, v, p, body)
			if r.Status != http.StatusOK {
				t.Errorf("second PUT: %d %s", r.Status, r.Body)
			}
			if a := r.Header.Get("Azure-AsyncOperation"); a != "" {
				c.await(t, a)
			}
			call(t, http.MethodGet, oaMPEs, v, p, nil)
		})
	}

	t.Run("Deletes", func(t *testing.T) {
		p := oaParams(adx1p, "managedPrivateEndpointName", "mpedfs")
		r, _ := callR(t, http.MethodDelete, oaMPE, oaV2024, p, nil)
		if r.Status == http.StatusAccepted {
			c.await(t, r.Header.Get("Azure-AsyncOperation"))
		}
		r, _ = callR(t, http.MethodDelete, oaMPE, oaV2024, p, nil)
		if r.Status != http.StatusNoContent {
			t.Errorf("second delete: %d %s, want 204", r.Status, r.Body)
		}
		if pecName == "" {
			t.Skip("no connection to delete")
		}
		pp := oaParams(adx1p, "privateEndpointConnectionName", pecName)
		r, _ = callR(t, http.MethodDelete, oaPEC, oaV2024, pp, nil)
		if r.Status == http.StatusAccepted {
			c.await(t, r.Header.Get("Azure-AsyncOperation"))
		}
		r, _ = callR(t, http.MethodDelete, oaPEC, oaV2024, pp, nil)
		if r.Status != http.StatusNoContent {
			t.Errorf("second connection delete: %d %s, want 204", r.Status, r.Body)
		}
	})
}

// TestOpenAPIRunningOperation checks the responses clients see while
// operations are still running: with an hour of provisioning delay nothing
// completes during the test.
func TestOpenAPIRunningOperation(t *testing.T) {
	s := oaLoadSpec(t)
	env := testkit.Start(t, testkit.WithDelay(time.Hour))
	c := oaNewClient(t, env)
	set := oaSetup{t: t, env: env, sub: env.Subscription, loc: "westus"}
	set.group("oarg")
	sa := set.storage("oarg", "oastore2") // storage accounts are created at once
	p := map[string]string{"subscriptionId": env.Subscription, "resourceGroupName": "oarg", "clusterName": "adxslow", "managedPrivateEndpointName": "mpeslow"}

	r := c.do(t, http.MethodPut, oaExpand(t, oaCluster, p), oaV2024, map[string]any{"location": "westus",
		"sku": map[string]any{"name": "Dev(No SLA)_Standard_D11_v2", "tier": "Basic"}})
	if m := s.check(t, oaKusto, oaCluster, http.MethodPut, r); oaStr(m, "properties", "provisioningState") != "Creating" {
		t.Errorf("cluster create: %d %s, want provisioningState Creating", r.Status, r.Body)
	}
	s.check(t, oaKusto, oaCluster, http.MethodGet, c.do(t, http.MethodGet, oaExpand(t, oaCluster, p), oaV2024, nil))

	body := map[string]any{"properties": map[string]any{"privateLinkResourceId": *sa.ID, "groupId": "blob"}}
	r = c.do(t, http.MethodPut, oaExpand(t, oaMPE, p), oaV2024, body)
	if m := s.check(t, oaKusto, oaMPE, http.MethodPut, r); r.Status != http.StatusCreated || oaStr(m, "properties", "provisioningState") != "Creating" {
		t.Errorf("endpoint create: %d %s, want 201 Creating", r.Status, r.Body)
	}
	if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("Retry-After %q, want whole seconds", r.Header.Get("Retry-After"))
	}
	async := r.Header.Get("Azure-AsyncOperation")
	u, err := url.Parse(async)
	if async == "" || err != nil {
		t.Fatalf("Azure-AsyncOperation %q", async)
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(segs) != 8 {
		t.Fatalf("Azure-AsyncOperation %s is not an OperationsResults_Get URL", async)
	}
	op := map[string]string{"subscriptionId": segs[1], "location": segs[5], "operationId": segs[7]}
	m := s.check(t, oaKusto, oaOpResult, http.MethodGet, c.do(t, http.MethodGet, oaExpand(t, oaOpResult, op), oaV2024, nil))
	if got, want := oaStr(m, "status"), "Running"; got != want {
		t.Errorf("operation status %q, want %q", got, want)
	}
	r = c.do(t, http.MethodGet, oaExpand(t, oaOpResultAsLoc, op), oaV2024, nil)
	s.check(t, oaKusto, oaOpResultAsLoc, http.MethodGet, r)
	if r.Status != http.StatusAccepted {
		t.Errorf("Location-style status of a running operation: %d, want 202", r.Status)
	}
	if a := r.Header.Get("Azure-AsyncOperation"); a != "" {
		s.check(t, oaKusto, oaOpResult, http.MethodGet, c.do(t, http.MethodGet, a, "", nil))
	}

	m = s.check(t, oaKusto, oaMPE, http.MethodGet, c.do(t, http.MethodGet, oaExpand(t, oaMPE, p), oaV2024, nil))
	if got, want := oaStr(m, "properties", "provisioningState"), "Creating"; got != want {
		t.Errorf("provisioningState %q, want %q", got, want)
	}
	s.check(t, oaKusto, oaMPEs, http.MethodGet, c.do(t, http.MethodGet, oaExpand(t, oaMPEs, p), oaV2024, nil))
	// A second write while the first runs is refused, as an ErrorResponse.
	r = c.do(t, http.MethodPut, oaExpand(t, oaMPE, p), oaV2024, body)
	if s.check(t, oaKusto, oaMPE, http.MethodPut, r); r.Status != http.StatusConflict {
		t.Errorf("PUT during the create: %d %s, want 409", r.Status, r.Body)
	}
	// A delete cancels the create and runs itself.
	r = c.do(t, http.MethodDelete, oaExpand(t, oaMPE, p), oaV2024, nil)
	if s.check(t, oaKusto, oaMPE, http.MethodDelete, r); r.Status != http.StatusAccepted {
		t.Errorf("DELETE during the create: %d %s, want 202", r.Status, r.Body)
	}
	m = s.check(t, oaKusto, oaMPE, http.MethodGet, c.do(t, http.MethodGet, oaExpand(t, oaMPE, p), oaV2024, nil))
	if got, want := oaStr(m, "properties", "provisioningState"), "Deleting"; got != want {
		t.Errorf("provisioningState %q, want %q", got, want)
	}
	m = s.check(t, oaKusto, oaOpResult, http.MethodGet, c.do(t, http.MethodGet, oaExpand(t, oaOpResult, op), oaV2024, nil))
	if got, want := oaStr(m, "status"), "Canceled"; got != want {
		t.Errorf("status of the canceled create %q, want %q", got, want)
	}
}

// ---------------------------------------------------------------------------
// The specification's examples.

// oaExample is one x-ms-examples entry of kusto.json.
type oaExample struct {
	operationID string
	method      string
	path        string // key in paths or x-ms-paths
	file        string // base name
	doc         map[string]any
	params      []map[string]any // the operation's parameters, refs resolved
}

// oaExampleScope are the operations whose examples concern this emulator.
var oaExampleScope = []string{"ManagedPrivateEndpoints_", "PrivateEndpointConnections_", "PrivateLinkResources_", "OperationsResults_", "OperationsResultsLocation_"}

// examples returns the in-scope x-ms-examples of 2024-04-13, read from the
// examples directory. KustoPrivateLinkResourcesGet.json is not part of the
// local copy (specs digest, section 0): its request is the List example's
// plus privateLinkResourceName "cluster", the one the List example answers.
func (s *oaSpec) examples(t *testing.T) []oaExample {
	t.Helper()
	var out []oaExample
	doc := s.docs[oaKusto]
	for _, section := range []string{"paths", "x-ms-paths"} {
		for path, item := range doc[section].(map[string]any) {
			for method, o := range item.(map[string]any) {
				op, ok := o.(map[string]any)
				if !ok || method == "parameters" {
					continue
				}
				id := oaOperationID(op)
				if !slices.ContainsFunc(oaExampleScope, func(p string) bool { return strings.HasPrefix(id, p) }) {
					continue
				}
				exs, _ := op["x-ms-examples"].(map[string]any)
				for _, e := range exs {
					ref, _ := e.(map[string]any)["$ref"].(string)
					file := filepath.Base(ref)
					ex := oaExample{operationID: id, method: strings.ToUpper(method), path: path, file: file, params: s.params(t, op)}
					b, err := os.ReadFile(filepath.Join(s.root, filepath.FromSlash(oaExamples), file))
					switch {
					case err == nil:
						if err := json.Unmarshal(b, &ex.doc); err != nil {
							t.Fatalf("%s: %v", file, err)
						}
					case errors.Is(err, os.ErrNotExist) && file == "KustoPrivateLinkResourcesGet.json":
						lb, err := os.ReadFile(filepath.Join(s.root, filepath.FromSlash(oaExamples), "KustoPrivateLinkResourcesList.json"))
						if err != nil {
							t.Fatal(err)
						}
						var list map[string]any
						if err := json.Unmarshal(lb, &list); err != nil {
							t.Fatal(err)
						}
						params := list["parameters"].(map[string]any)
						params["privateLinkResourceName"] = "cluster"
						item := oaItems(list["responses"].(map[string]any)["200"].(map[string]any)["body"].(map[string]any))[0]
						ex.doc = map[string]any{"parameters": params, "responses": map[string]any{"200": map[string]any{"body": item}}}
					default:
						t.Fatalf("example %s of %s: %v", file, id, err)
					}
					out = append(out, ex)
				}
			}
		}
	}
	// Every local example file of these operations is among them.
	entries, err := os.ReadDir(filepath.Join(s.root, filepath.FromSlash(oaExamples)))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !slices.ContainsFunc(out, func(x oaExample) bool { return x.file == e.Name() }) {
			t.Errorf("example %s belongs to no in-scope operation of %s", e.Name(), oaKusto)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].file < out[j].file })
	return out
}

// params resolves an operation's parameters (local or common-types refs).
func (s *oaSpec) params(t *testing.T, op map[string]any) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, p := range op["parameters"].([]any) {
		pm := p.(map[string]any)
		if ref, ok := pm["$ref"].(string); ok {
			file, frag, _ := strings.Cut(ref, "#")
			rel := oaKusto
			if file != "" {
				rel = filepath.ToSlash(filepath.Join(filepath.Dir(oaKusto), file))
			}
			d, ok := s.docs[rel]
			if !ok {
				t.Fatalf("parameter %s: document %s not loaded", ref, rel)
			}
			var v any = d
			for _, tok := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
				m, _ := v.(map[string]any)
				v = m[tok]
			}
			if pm, ok = v.(map[string]any); !ok {
				t.Fatalf("parameter %s not found", ref)
			}
		}
		out = append(out, pm)
	}
	return out
}

// TestOpenAPIExamples replays the x-ms-examples of the managed private
// endpoint, private endpoint connection, private link resource and operation
// result operations: each request is built from the example's parameters, in
// the example's own subscription, resource group and cluster names, and must
// answer one of the example's documented statuses with a body the spec allows.
func TestOpenAPIExamples(t *testing.T) {
	s := oaLoadSpec(t)
	exs := s.examples(t)
	env := testkit.Start(t)
	c := oaNewClient(t, env)

	// The examples' subscription, created through a subscription alias.
	const sub = "12345678-1234-1234-1234-123456789098"
	r := c.do(t, http.MethodPut, "/providers/Microsoft.Subscription/aliases/kustoexamples", "2021-10-01",
		map[string]any{"properties": map[string]any{"subscriptionId": sub, "displayName": "Kusto examples", "workload": "Production"}})
	if r.Status != http.StatusOK && r.Status != http.StatusCreated {
		t.Fatalf("create subscription alias: %d %s", r.Status, r.Body)
	}
	// Managed private endpoints need Microsoft.Network in the target's
	// subscription; a new subscription has only the builtin namespaces.
	if r := c.do(t, http.MethodPost, "/subscriptions/"+sub+"/providers/Microsoft.Network/register", "2021-04-01", nil); r.Status != http.StatusOK {
		t.Fatalf("register Microsoft.Network: %d %s", r.Status, r.Body)
	}
	// The examples' names, in lower case where privlink (like Azure) allows
	// only lower-case names: the examples' own spellings (kustoCluster,
	// storageAccountTest) then reach them, ARM names being case-insensitive.
	set := oaSetup{t: t, env: env, sub: sub, loc: "westus"}
	set.group("kustorptest")
	kc := set.cluster("kustorptest", "kustocluster")
	rp4 := set.cluster("kustorptest", "kustoclusterrptest4")
	set.cluster("kustorptest", "kustoclustersource")
	sa := set.storage("kustorptest", "storageaccounttest")
	// CheckNameAvailability's example answers that 'pme1' is taken.
	set.mpe("kustorptest", "kustocluster", "pme1", *sa.ID, "blob")
	// The connection examples need connections on kustoCluster and
	// KustoClusterRPTest4: managed private endpoints of a third cluster into them.
	set.mpe("kustorptest", "kustoclustersource", "tokustocluster", *kc.ID, "cluster")
	set.mpe("kustorptest", "kustoclustersource", "torptest4", *rp4.ID, "cluster")

	// The examples run in this order: each leaves what the next needs.
	order := []string{
		"ManagedPrivateEndpoints_CheckNameAvailability",
		"ManagedPrivateEndpoints_CreateOrUpdate",
		"ManagedPrivateEndpoints_Get",
		"ManagedPrivateEndpoints_List",
		"ManagedPrivateEndpoints_Update",
		"OperationsResults_Get",
		"OperationsResultsLocation_Get",
		"PrivateEndpointConnections_List",
		"PrivateEndpointConnections_Get",
		"PrivateEndpointConnections_CreateOrUpdate",
		"PrivateEndpointConnections_Delete",
		"PrivateLinkResources_List",
		"PrivateLinkResources_Get",
		"ManagedPrivateEndpoints_Delete",
	}
	byOp := map[string]oaExample{}
	for _, ex := range exs {
		if _, dup := byOp[ex.operationID]; dup {
			t.Fatalf("more than one example for %s", ex.operationID)
		}
		byOp[ex.operationID] = ex
	}
	for id := range byOp {
		if !slices.Contains(order, id) {
			t.Fatalf("example of %s is not replayed", id)
		}
	}

	var asyncOp string // an Azure-AsyncOperation URL from the example PUT
	for _, id := range order {
		ex, ok := byOp[id]
		if !ok {
			t.Errorf("no example for %s", id)
			continue
		}
		t.Run(strings.TrimSuffix(ex.file, ".json"), func(t *testing.T) {
			params := map[string]string{}
			for k, v := range ex.doc["parameters"].(map[string]any) {
				if sv, ok := v.(string); ok {
					params[k] = sv
				}
			}
			switch {
			case strings.HasPrefix(id, "PrivateEndpointConnections_"):
				// privlink names connections itself ("{private endpoint}.{id}");
				// a PUT cannot create one. The examples' 'privateEndpointTest'
				// is replaced by the name of the cluster's real connection.
				if _, ok := params["privateEndpointConnectionName"]; ok {
					l := c.do(t, http.MethodGet, oaExpand(t, oaPECs, params), params["api-version"], nil)
					items := oaItems(s.check(t, oaKusto, oaPECs, http.MethodGet, l))
					if len(items) != 1 {
						t.Fatalf("%d connections on %s, want 1: %s", len(items), params["clusterName"], l.Body)
					}
					params["privateEndpointConnectionName"] = oaStr(items[0], "name")
				}
			case strings.HasPrefix(id, "OperationsResults"):
				// The examples' operation id is of an operation long gone: use
				// the one the example PUT answered in Azure-AsyncOperation.
				u, err := url.Parse(asyncOp)
				if asyncOp == "" || err != nil {
					t.Fatalf("no Azure-AsyncOperation URL from the example PUT (%q)", asyncOp)
				}
				segs := strings.Split(strings.Trim(u.Path, "/"), "/")
				if len(segs) != 8 {
					t.Fatalf("Azure-AsyncOperation %s is not an OperationsResults_Get URL", asyncOp)
				}
				if got, want := segs[5], params["location"]; !strings.EqualFold(got, want) {
					t.Errorf("operation location %q, want the example's %q", got, want)
				}
				params["location"], params["operationId"] = segs[5], segs[7]
			}
			// Every path parameter the operation declares comes from the example.
			var body any
			for _, p := range ex.params {
				name, _ := p["name"].(string)
				switch p["in"] {
				case "path":
					if _, ok := params[name]; !ok {
						t.Fatalf("%s gives no path parameter %s", ex.file, name)
					}
				case "body":
					v, ok := ex.doc["parameters"].(map[string]any)[name]
					if !ok && p["required"] == true {
						t.Fatalf("%s gives no body parameter %s", ex.file, name)
					}
					body = v
				}
			}
			r := c.do(t, ex.method, oaExpand(t, ex.path, params), params["api-version"], body)
			responses := ex.doc["responses"].(map[string]any)
			if _, ok := responses[strconv.Itoa(r.Status)]; !ok {
				t.Fatalf("%s %s: status %d is not among the example's responses %v: %s", ex.method, r.URL, r.Status, slices.Sorted(maps.Keys(responses)), r.Body)
			}
			m := s.check(t, oaKusto, ex.path, ex.method, r)
			if a := r.Header.Get("Azure-AsyncOperation"); a != "" {
				if id == "ManagedPrivateEndpoints_CreateOrUpdate" {
					asyncOp = a
				}
				c.await(t, a)
			}
			oaCompareExample(t, id, responses[strconv.Itoa(r.Status)], m)
		})
	}
}

// oaCompareExample compares what is deterministic between privlink's answer
// and the example's: the wire type and the properties the request set.
func oaCompareExample(t *testing.T, id string, want any, got map[string]any) {
	t.Helper()
	wm, _ := want.(map[string]any)
	wb, _ := wm["body"].(map[string]any)
	if wb == nil || got == nil {
		return
	}
	if items := oaItems(wb); len(items) > 0 {
		for _, g := range oaItems(got) {
			if gt, wt := oaStr(g, "type"), oaStr(items[0], "type"); gt != wt {
				t.Errorf("%s: item type %q, the example's %q", id, gt, wt)
			}
		}
		return
	}
	if wt := oaStr(wb, "type"); wt != "" {
		if gt := oaStr(got, "type"); gt != wt {
			t.Errorf("%s: type %q, the example's %q", id, gt, wt)
		}
	}
	switch id {
	case "ManagedPrivateEndpoints_CheckNameAvailability":
		if got["nameAvailable"] != wb["nameAvailable"] || oaStr(got, "message") != oaStr(wb, "message") {
			t.Errorf("%s: %v, the example's %v", id, got, wb)
		}
	case "ManagedPrivateEndpoints_CreateOrUpdate", "ManagedPrivateEndpoints_Get", "ManagedPrivateEndpoints_Update":
		for _, k := range []string{"privateLinkResourceId", "groupId", "requestMessage"} {
			if g, w := oaStr(got, "properties", k), oaStr(wb, "properties", k); !strings.EqualFold(g, w) {
				t.Errorf("%s: properties.%s %q, the example's %q", id, k, g, w)
			}
		}
	case "PrivateEndpointConnections_CreateOrUpdate":
		for _, k := range []string{"status", "description", "actionsRequired"} {
			if g, w := oaStr(got, "properties", "privateLinkServiceConnectionState", k), oaStr(wb, "properties", "privateLinkServiceConnectionState", k); g != w {
				t.Errorf("%s: privateLinkServiceConnectionState.%s %q, the example's %q", id, k, g, w)
			}
		}
	case "PrivateLinkResources_Get":
		for _, k := range []string{"name"} {
			if g, w := oaStr(got, k), oaStr(wb, k); g != w {
				t.Errorf("%s: %s %q, the example's %q", id, k, g, w)
			}
		}
		if g, w := oaStr(got, "properties", "groupId"), oaStr(wb, "properties", "groupId"); g != w {
			t.Errorf("%s: groupId %q, the example's %q", id, g, w)
		}
	}
}
