package e2e

// Small inputs a new user sends on day one (a body saved by Notepad, a
// message with '<' in it, a subscription name where its id belongs, ...):
// each kind of input is a table, run against a real server.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/app"
	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/testkit"
	"github.com/privlink/privlink/internal/testkit/textenc"
)

// htmlEscapes are encoding/json's escapes of '<', '>' and '&', which ARM
// never writes.
var htmlEscapes = []string{`\u003c`, `\u003e`, `\u0026`}

// checkNoHTMLEscapes fails t when body holds one of htmlEscapes (in any case).
func checkNoHTMLEscapes(t testing.TB, body []byte) {
	t.Helper()
	low := strings.ToLower(string(body))
	for _, e := range htmlEscapes {
		if strings.Contains(low, e) {
			t.Fatalf("the answer escapes HTML characters (%s): %s", e, body)
		}
	}
}

func TestInputsHTMLCharacters(t *testing.T) {
	f := biStart(t)
	const text = "<a & b>"
	// What Go clients send: json.Marshal escapes the three characters.
	const escaped = `\u003ca \u0026 b\u003e`
	mpeBody := func(msg string) string {
		return `{"properties":{"privateLinkResourceId":"` + f.account + `","groupId":"blob","requestMessage":"` + msg + `"}}`
	}
	account := func(tag string) string {
		return `{"location":"westus","kind":"StorageV2","sku":{"name":"Standard_LRS"},"tags":{"t":"` + tag + `"}}`
	}
	tests := []struct {
		name, method, path, body string
		status                   int // 0: any 2xx
		want                     string
	}{
		{name: "tag sent plainly", method: "PUT", path: biStorage(f.storage("htmlsa1")), body: account(text), want: `"t":"` + text + `"`},
		{name: "tag sent escaped", method: "PUT", path: biStorage(f.storage("htmlsa2")), body: account(escaped), want: `"t":"` + text + `"`},
		{name: "tag read back", method: "GET", path: biStorage(f.storage("htmlsa2")), want: `"t":"` + text + `"`},
		{name: "tags listed", method: "GET", path: biStorage(f.rg + "/providers/Microsoft.Storage/storageAccounts"), want: `"t":"` + text + `"`},
		{name: "key escaped", method: "PUT", path: biStorage(f.storage("htmlsa3")), body: strings.Replace(account("v"), `"t"`, `"`+escaped+`"`, 1), want: `"` + text + `":"v"`},
		{name: "request message sent escaped", method: "PUT", path: biKusto(f.mpe("htmlmpe")), body: mpeBody(escaped), want: `"requestMessage":"` + text + `"`},
		{name: "request message as the connection's description", method: "GET", path: biStorage(f.account + "/privateEndpointConnections"), want: `"description":"` + text + `"`},
		{name: "request message in the endpoint state", method: "GET", path: "/_privlink/endpoints?id=" + url.QueryEscape(f.mpe("htmlmpe")), want: `"description":"` + text + `"`},
		{name: "ARM error naming the input", method: "PUT", path: biKusto(f.mpe("a<b>&c")), body: f.mpeBody(), status: 400, want: `'a<b>&c'`},
		{name: "ARM error naming a path", method: "GET", path: biKusto(f.rg + "/providers/Microsoft.Kusto/clusters/adx1/<x>&"), status: 400, want: `'clusters/<x>&'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(t, tt.method, tt.path, tt.body, nil)
			if tt.status == 0 && (r.status < 200 || r.status > 299) || tt.status != 0 && r.status != tt.status {
				t.Fatalf("status = %d, want %d (0: any 2xx); body %s", r.status, tt.status, r.body)
			}
			checkNoHTMLEscapes(t, r.body)
			if !strings.Contains(string(r.body), tt.want) {
				t.Fatalf("body does not contain %s: %s", tt.want, r.body)
			}
		})
	}
	t.Run("token endpoint error", func(t *testing.T) {
		r := biTokenRequest(t, f.env, "organizations", url.Values{"grant_type": {"a<b>&c"}})
		if r.status != http.StatusBadRequest {
			t.Fatalf("status = %d, want 400; body %s", r.status, r.body)
		}
		checkNoHTMLEscapes(t, r.body)
		if !strings.Contains(string(r.body), "'a<b>&c'") {
			t.Fatalf("body does not name the grant type: %s", r.body)
		}
	})
}

func TestInputsBodyEncodings(t *testing.T) {
	f := biStart(t)
	le, be := binary.LittleEndian, binary.BigEndian
	const bom8 = "\ufeff"
	f.createMPE(t, "encmpe")
	var conns struct {
		Value []struct{ Name string } `json:"value"`
	}
	if r := f.do(t, http.MethodGet, biStorage(f.account+"/privateEndpointConnections"), "", nil); r.status != http.StatusOK || json.Unmarshal(r.body, &conns) != nil || len(conns.Value) != 1 {
		t.Fatalf("connections: %d %s", r.status, r.body)
	}
	conn := biStorage(f.account + "/privateEndpointConnections/" + conns.Value[0].Name)
	account := func(tag string) string {
		return `{"location":"westus","kind":"StorageV2","sku":{"name":"Standard_LRS"},"tags":{"t":"` + tag + `"}}`
	}
	mpe := func(msg string) string {
		return `{"properties":{"privateLinkResourceId":"` + f.account + `","groupId":"dfs","requestMessage":"` + msg + `"}}`
	}
	const checkName = `{"name":"free","type":"Microsoft.Kusto/clusters/managedPrivateEndpoints"}`

	// Read as ARM reads them: every kind of request, every marked encoding.
	accepted := []struct {
		name, method, path, body string
		// want is in the answer, or in a GET of path when get is set.
		want string
		get  bool
	}{
		{name: "group, UTF-8 BOM", method: "PUT", path: biARM(f.group("bomrg")), body: bom8 + `{"location":"westus","tags":{"t":"café"}}`, want: `"t":"café"`},
		{name: "group, UTF-8 BOM then CRLF", method: "PUT", path: biARM(f.group("bomrg2")), body: bom8 + "\r\n{\"location\":\"westus\"}\r\n", want: `"location":"westus"`},
		{name: "group, UTF-16 LE BOM", method: "PUT", path: biARM(f.group("utf16rg")), body: utf16Body(`{"location":"westus","tags":{"t":"café ✓"}}`, le, true), want: `"t":"café ✓"`},
		{name: "group, UTF-32 LE BOM", method: "PUT", path: biARM(f.group("utf32rg")), body: utf32Body(`{"location":"westus","tags":{"t":"😀"}}`, le, true), want: `"t":"😀"`},
		{name: "storage account, UTF-16 BE BOM", method: "PUT", path: biStorage(f.storage("utf16sa")), body: utf16Body(account("Ünïcode"), be, true), want: `"t":"Ünïcode"`, get: true},
		{name: "managed private endpoint, UTF-16 LE BOM", method: "PUT", path: biKusto(f.mpe("utf16mpe")), body: utf16Body(mpe("Bitte genehmigen ✓"), le, true), want: `"requestMessage":"Bitte genehmigen ✓"`, get: true},
		{name: "managed private endpoint PATCH, UTF-8 BOM", method: "PATCH", path: biKusto(f.mpe("encmpe")), body: bom8 + `{"properties":{"requestMessage":"ça va"}}`, want: `"requestMessage":"ça va"`, get: true},
		{name: "cluster PATCH, UTF-16 LE BOM", method: "PATCH", path: biKusto(f.cluster), body: utf16Body(`{"tags":{"t":"naïve"}}`, le, true), want: `"t":"naïve"`, get: true},
		{name: "action, UTF-16 LE BOM", method: "POST", path: biKusto(f.cluster + "/managedPrivateEndpointsCheckNameAvailability"), body: utf16Body(checkName, le, true), want: `"nameAvailable":true`},
		{name: "approval, UTF-16 LE BOM", method: "PUT", path: conn, body: utf16Body(`{"properties":{"privateLinkServiceConnectionState":{"status":"Approved","description":"OK ✓"}}}`, le, true), want: `"description":"OK ✓"`, get: true},
		// Not UTF-8 at all (Latin-1): as .NET's decoder does, each bad byte
		// becomes U+FFFD, and what privlink serves is valid UTF-8.
		{name: "Latin-1 tag", method: "PUT", path: biARM(f.group("latin1rg")), body: "{\"location\":\"westus\",\"tags\":{\"t\":\"caf\xe9\"}}", want: `"t":"caf` + "\ufffd" + `"`, get: true},
	}
	for _, tt := range accepted {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(t, tt.method, tt.path, tt.body, nil)
			if r.status < 200 || r.status > 299 {
				t.Fatalf("status = %d, want 2xx; body %s", r.status, r.body)
			}
			if tt.get {
				r = f.do(t, http.MethodGet, tt.path, "", nil)
			}
			if !json.Valid(r.body) || !strings.Contains(string(r.body), tt.want) {
				t.Fatalf("answer does not contain %s (or is no valid JSON): %s", tt.want, r.body)
			}
		})
	}

	// Unmarked UTF-16 and UTF-32 are refused with an error that names the
	// encoding; a mark does not excuse a body that is no JSON.
	const invalid = arm.CodeInvalidRequestContent
	newRG := biARM(f.group("norg"))
	f.run(t, []biCase{
		{name: "UTF-16 LE without BOM", method: "PUT", path: newRG, body: utf16Body(biGroupBody, le, false), status: 400, code: invalid, msg: "UTF-16 (little-endian) without a byte order mark"},
		{name: "UTF-16 BE without BOM", method: "PUT", path: newRG, body: utf16Body(biGroupBody, be, false), status: 400, code: invalid, msg: "UTF-16 (big-endian) without a byte order mark"},
		{name: "UTF-32 LE without BOM", method: "PUT", path: newRG, body: utf32Body(biGroupBody, le, false), status: 400, code: invalid, msg: "UTF-32 (little-endian)"},
		{name: "UTF-16 LE without BOM, mpe", method: "PUT", path: biKusto(f.mpe("m16")), body: utf16Body(f.mpeBody(), le, false), status: 400, code: invalid, msg: "UTF-16 (little-endian)"},
		{name: "UTF-16 LE without BOM, PATCH", method: "PATCH", path: biKusto(f.cluster), body: utf16Body(`{"tags":{}}`, le, false), status: 400, code: invalid, msg: "UTF-16 (little-endian)"},
		{name: "UTF-16 LE without BOM, action", method: "POST", path: biKusto(f.cluster + "/managedPrivateEndpointsCheckNameAvailability"), body: utf16Body(checkName, le, false), status: 400, code: invalid, msg: "UTF-16 (little-endian)"},
		{name: "UTF-8 BOM alone", method: "PUT", path: newRG, body: bom8, status: 400, code: invalid, msg: "empty"},
		{name: "UTF-16 BOM alone", method: "PUT", path: newRG, body: "\xff\xfe", status: 400, code: invalid, msg: "empty"},
		{name: "UTF-16 BOM, truncated JSON", method: "PUT", path: newRG, body: utf16Body(`{"location":`, le, true), status: 400, code: invalid, msg: "'Unexpected end when deserializing object. Path 'location', line 1, position 12.'."},
		// A character outside ASCII where JSON wants syntax is named, not
		// shown as the Latin-1 reading of its first byte ('ï', 'â').
		{name: "UTF-8 BOM twice", method: "PUT", path: newRG, body: bom8 + bom8 + biGroupBody, status: 400, code: invalid, msg: "Unexpected character encountered while parsing value: \ufeff. Path '', line 0, position 0.'. The character at fault is U+FEFF, a byte order mark, which may only start the content."},
		{name: "BOM after whitespace", method: "PUT", path: newRG, body: " " + bom8 + biGroupBody, status: 400, code: invalid, msg: "Path '', line 1, position 1.'. The character at fault is U+FEFF, a byte order mark"},
		{name: "typographic quotes", method: "PUT", path: newRG, body: "{\u201clocation\u201d:\u201cwestus\u201d}", status: 400, code: invalid, msg: "'Invalid property identifier character: \u201c. Path '', line 1, position 1.'. The character at fault is '\u201c' (U+201C), a typographic quote; JSON needs '\"'."},
		{name: "letter outside a string", method: "PUT", path: newRG, body: `{"location":é}`, status: 400, code: invalid, msg: "'Unexpected character encountered while parsing value: é. Path 'location', line 1, position 12.'."},
		{name: "Latin-1 letter outside a string", method: "PUT", path: newRG, body: "{\"location\":\xe9}", status: 400, code: invalid, msg: "'Unexpected character encountered while parsing value: \ufffd. Path 'location', line 1, position 12.'. The character at fault is U+FFFD, which stands for bytes that were not UTF-8."},
	})
}

func TestInputsMalformedSubscriptionID(t *testing.T) {
	f := biStart(t)
	const bad = arm.CodeInvalidSubscriptionID
	msg := func(s string) string {
		return "The provided subscription identifier '" + s + "' is malformed or invalid."
	}
	var cases []biCase
	// Every path form under /subscriptions/{s}, with a name where the id belongs.
	const name = "not-a-guid"
	s := "/subscriptions/" + name
	for _, c := range []struct{ name, method, path, body string }{
		{"subscription", "GET", biARM(s), ""},
		{"subscription without api-version", "GET", s, ""},
		{"resource groups", "GET", biARM(s + "/resourcegroups"), ""},
		{"resource group", "GET", biARM(s + "/resourceGroups/rg"), ""},
		{"resource group PUT", "PUT", biARM(s + "/resourceGroups/rg"), biGroupBody},
		{"resource group DELETE", "DELETE", biARM(s + "/resourceGroups/rg"), ""},
		{"resources", "GET", biARM(s + "/resources"), ""},
		{"locations", "GET", biARM(s + "/locations"), ""},
		{"providers", "GET", biARM(s + "/providers"), ""},
		{"provider", "GET", biARM(s + "/providers/Microsoft.Kusto"), ""},
		{"provider registration", "POST", biARM(s + "/providers/Microsoft.Network/register"), ""},
		{"subscription-level list", "GET", biKusto(s + "/providers/Microsoft.Kusto/clusters"), ""},
		{"cluster", "GET", biKusto(s + "/resourceGroups/rg/providers/Microsoft.Kusto/clusters/adx1"), ""},
		{"cluster PUT", "PUT", biKusto(s + "/resourceGroups/rg/providers/Microsoft.Kusto/clusters/adx1"), biClusterBody},
		{"managed private endpoint PUT", "PUT", biKusto(s + "/resourceGroups/rg/providers/Microsoft.Kusto/clusters/adx1/managedPrivateEndpoints/m1"), f.mpeBody()},
		{"managed private endpoints", "GET", biKusto(s + "/resourceGroups/rg/providers/Microsoft.Kusto/clusters/adx1/managedPrivateEndpoints"), ""},
		{"action", "POST", biKusto(s + "/resourceGroups/rg/providers/Microsoft.Kusto/clusters/adx1/managedPrivateEndpointsCheckNameAvailability"), `{"name":"m","type":"Microsoft.Kusto/clusters/managedPrivateEndpoints"}`},
		{"connection approval", "PUT", biStorage(s + "/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/share1/privateEndpointConnections/c1"), `{"properties":{"privateLinkServiceConnectionState":{"status":"Approved"}}}`},
		{"extension resource", "GET", "/subscriptions/" + name + "/resourceGroups/rg/providers/Microsoft.Kusto/clusters/adx1/providers/Microsoft.Authorization/roleAssignments/r1?api-version=2022-04-01", ""},
		{"provider operation result", "GET", biKusto(s + "/providers/Microsoft.Kusto/locations/westus/operationResults/00000000-0000-0000-0000-000000000000"), ""},
		{"ARM operation result", "GET", biARM(s + "/operationresults/op1"), ""},
	} {
		cases = append(cases, biCase{name: c.name, method: c.method, path: c.path, body: c.body, status: 400, code: bad, msg: msg(name), absent: "-"})
	}
	// Spellings that are no subscription id.
	for _, c := range []struct{ name, sub string }{
		{"a display name", "Pay-As-You-Go"},
		{"one digit too many", identity.DefaultSubscriptionID + "f"},
		{"one digit too few", identity.DefaultSubscriptionID[:35]},
		{"no hyphens", strings.ReplaceAll(identity.DefaultSubscriptionID, "-", "")},
		{"braces", "{" + identity.DefaultSubscriptionID + "}"},
		{"not hexadecimal", "g" + identity.DefaultSubscriptionID[1:]},
		{"hyphens misplaced", "0000000-00000-4000-8000-000000000002"},
		{"non-ASCII digit", "٠" + identity.DefaultSubscriptionID[2:]},
	} {
		cases = append(cases, biCase{name: c.name, method: "GET", path: biARM("/subscriptions/" + url.PathEscape(c.sub) + "/resourcegroups"), status: 400, code: bad, msg: msg(c.sub)})
	}
	f.run(t, cases)

	// Well-formed ids keep their answers: found in any case, or not found.
	for _, c := range []struct {
		name, path string
		status     int
		code       string
	}{
		{"default subscription", biARM(f.sub), 200, ""},
		{"default subscription in capitals", biARM("/subscriptions/" + strings.ToUpper(identity.DefaultSubscriptionID)), 200, ""},
		{"groups in capitals", biARM("/subscriptions/" + strings.ToUpper(identity.DefaultSubscriptionID) + "/resourcegroups"), 200, ""},
		{"well-formed but unknown", biARM("/subscriptions/" + biNoSub), 404, arm.CodeSubscriptionNotFound},
		{"well-formed but unknown, a cluster", biKusto("/subscriptions/" + biNoSub + "/resourceGroups/rg/providers/Microsoft.Kusto/clusters/adx1"), 404, arm.CodeSubscriptionNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := f.do(t, http.MethodGet, c.path, "", nil)
			if c.code == "" {
				if r.status != c.status {
					t.Fatalf("status = %d, want %d; body %s", r.status, c.status, r.body)
				}
				return
			}
			biCheckError(t, r, c.status, c.code, "")
		})
	}
}

func TestInputsAccessLogErrorCode(t *testing.T) {
	var logs testkit.SyncBuffer
	env := testkit.Start(t, func(c *app.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
		c.AccessLog = true
	})
	f := &biFixture{env: env, token: requesterToken(t, env), sub: "/subscriptions/" + env.Subscription}
	f.rg = f.sub + "/resourceGroups/rg"
	tests := []struct {
		name, method, path, body string
		header                   map[string]string
		status                   int
		code                     string // "" for no error_code attribute
	}{
		{name: "success", method: "GET", path: biARM(f.sub), status: 200},
		{name: "not found", method: "GET", path: biARM(f.group("norg")), status: 404, code: arm.CodeResourceGroupNotFound},
		{name: "malformed subscription", method: "GET", path: biARM("/subscriptions/x/resourcegroups"), status: 400, code: arm.CodeInvalidSubscriptionID},
		{name: "bad body", method: "PUT", path: biARM(f.group("newrg")), body: `{`, status: 400, code: arm.CodeInvalidRequestContent},
		{name: "media type", method: "PUT", path: biARM(f.group("newrg")), body: biGroupBody, header: map[string]string{"Content-Type": "text/plain"}, status: 415, code: arm.CodeUnsupportedMediaType},
		{name: "no token", method: "GET", path: biARM(f.sub), header: map[string]string{"Authorization": biOmit}, status: 401, code: arm.CodeAuthenticationFailed},
		{name: "method", method: "DELETE", path: biARM(f.sub), status: 405, code: arm.CodeMethodNotAllowed},
		{name: "missing api-version", method: "GET", path: f.sub + "/resourcegroups", status: 400, code: arm.CodeMissingAPIVersion},
		{name: "emulator endpoint", method: "GET", path: "/_privlink/endpoints", status: 400, code: arm.CodeBadRequest},
		// HEAD answers carry no body, so no code either.
		{name: "HEAD of a missing group", method: "HEAD", path: biARM(f.group("norg")), status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(t, tt.method, tt.path, tt.body, tt.header)
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d; body %s", r.status, tt.status, r.body)
			}
			rid := r.header.Get("x-ms-request-id")
			line := accessLogLine(t, &logs, rid)
			if got, want := line["status"], float64(tt.status); got != want {
				t.Fatalf("logged status %v, want %v: %v", got, want, line)
			}
			code, has := line["error_code"]
			if tt.code == "" {
				if has {
					t.Fatalf("logged error_code %v for a %d answer without an ARM error: %v", code, tt.status, line)
				}
				return
			}
			if code != tt.code {
				t.Fatalf("logged error_code %v, want %s: %v", code, tt.code, line)
			}
		})
	}
}

// accessLogLine waits for the access log line of request rid and returns it.
func accessLogLine(t *testing.T, logs *testkit.SyncBuffer, rid string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, l := range strings.Split(logs.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "request" && m["request_id"] == rid {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access log line for request %s in:\n%s", rid, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestInputsRequestMessageLength(t *testing.T) {
	f := biStart(t)
	f.createMPE(t, "mpe1")
	body := func(msg string) string {
		b, _ := json.Marshal(map[string]any{"properties": map[string]any{"privateLinkResourceId": f.account, "groupId": "blob", "requestMessage": msg}})
		return string(b)
	}
	patch := func(msg string) string {
		b, _ := json.Marshal(map[string]any{"properties": map[string]any{"requestMessage": msg}})
		return string(b)
	}
	const tooLong = "RequestMessageTooLong"
	a := func(n int) string { return strings.Repeat("a", n) }
	const emoji = "\U0001F600" // two UTF-16 code units, as .NET counts
	f.run(t, []biCase{
		{name: "141 characters", method: "PUT", path: biKusto(f.mpe("m1")), body: body(a(141)), status: 400, code: tooLong, msg: "is 141 characters long"},
		{name: "a million characters", method: "PUT", path: biKusto(f.mpe("m1")), body: body(a(1_000_000)), status: 400, code: tooLong, msg: "at most 140 characters"},
		{name: "71 emoji (142 UTF-16 units)", method: "PUT", path: biKusto(f.mpe("m1")), body: body(strings.Repeat(emoji, 71)), status: 400, code: tooLong, msg: "is 142 characters long"},
		{name: "update to 141 characters", method: "PUT", path: biKusto(f.mpe("mpe1")), body: body(a(141)), status: 400, code: tooLong, absent: "-"},
		{name: "PATCH to 141 characters", method: "PATCH", path: biKusto(f.mpe("mpe1")), body: patch(a(141)), status: 400, code: tooLong},
	})
	t.Run("the error names the property", func(t *testing.T) {
		r := f.do(t, http.MethodPut, biKusto(f.mpe("m1")), body(a(141)), nil)
		e, err := biEnvelope(r)
		if err != nil {
			t.Fatal(err)
		}
		if e.Target != "properties.requestMessage" {
			t.Fatalf("target = %q, want properties.requestMessage", e.Target)
		}
	})
	// Up to the bound, counted in characters rather than bytes.
	for _, c := range []struct{ name, path, method, body, msg string }{
		{"140 characters", biKusto(f.mpe("m140")), "PUT", body(a(140)), a(140)},
		{"140 two-byte characters", biKusto(f.mpe("m140e")), "PUT", body(strings.Repeat("é", 140)), strings.Repeat("é", 140)},
		{"70 emoji", biKusto(f.mpe("m70")), "PUT", body(strings.Repeat(emoji, 70)), strings.Repeat(emoji, 70)},
		{"PATCH to 140 characters", biKusto(f.mpe("mpe1")), "PATCH", patch(a(140)), a(140)},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := f.do(t, c.method, c.path, c.body, nil)
			if r.status < 200 || r.status > 299 {
				t.Fatalf("status = %d, want 2xx; body %s", r.status, r.body)
			}
			var doc struct {
				Properties struct{ RequestMessage string } `json:"properties"`
			}
			if err := json.Unmarshal(r.body, &doc); err != nil || doc.Properties.RequestMessage != c.msg {
				t.Fatalf("requestMessage = %q (%v), want the %d characters sent", doc.Properties.RequestMessage, err, len([]rune(c.msg)))
			}
		})
	}
	// The owner's description has no documented bound.
	t.Run("long approval description", func(t *testing.T) {
		var conns struct {
			Value []struct{ Name string } `json:"value"`
		}
		r := f.do(t, http.MethodGet, biStorage(f.account+"/privateEndpointConnections"), "", nil)
		if err := json.Unmarshal(r.body, &conns); err != nil || len(conns.Value) == 0 {
			t.Fatalf("connections: %s", r.body)
		}
		desc := a(1000)
		r = f.do(t, http.MethodPut, biStorage(f.account+"/privateEndpointConnections/"+conns.Value[0].Name),
			`{"properties":{"privateLinkServiceConnectionState":{"status":"Approved","description":"`+desc+`"}}}`, nil)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), desc) {
			t.Fatalf("approval with a 1000-character description: %d %s", r.status, r.body)
		}
	})
}

func utf16Body(s string, order binary.ByteOrder, bom bool) string {
	return string(textenc.UTF16(s, order, bom))
}

func utf32Body(s string, order binary.ByteOrder, bom bool) string {
	return string(textenc.UTF32(s, order, bom))
}

// TestInputsSingleQuotedBodies: Microsoft's docs print armclient's bodies
// with single-quoted strings, armclient sends them as they are, and ARM
// (JSON.NET) takes them. So does privlink, for every kind of request, with
// the rest JSON.NET takes (names without quotes, comments, a comma before a
// closing bracket); a body JSON.NET cannot read gets JSON.NET's account.
func TestInputsSingleQuotedBodies(t *testing.T) {
	f := biStart(t)
	// The seed's body, as PowerShell hands the here-string to armclient.
	seed := "\n{\n    'properties': {\n        'privateLinkResourceId':'" + f.account + "',\n" +
		"        'groupId':'blob',\n        'requestMessage':'Please Approve.'\n    }\n}\n"
	accepted := []struct {
		name, method, path, body string
		want                     []string // in a GET of path afterwards
	}{
		{name: "the seed's endpoint", method: "PUT", path: biKusto(f.mpe("seedmpe")), body: seed,
			want: []string{`"groupId":"blob"`, `"requestMessage":"Please Approve."`, `"privateLinkResourceId":"` + f.account + `"`}},
		{name: "group, quotes inside", method: "PUT", path: biARM(f.group("sqrg")), body: `{'location':'westus','tags':{'note':'it\'s "quoted"'}}`,
			want: []string{`"note":"it's \"quoted\""`}},
		{name: "mixed quotes and numbers kept as spelled", method: "PUT", path: biARM(f.group("sqrg2")), body: `{"location":'westus','tags':{'n':'1.50'}}`,
			want: []string{`"location":"westus"`, `"n":"1.50"`}},
		{name: "PATCH", method: "PATCH", path: biKusto(f.mpe("seedmpe")), body: `{'properties':{'requestMessage':'ça va'}}`,
			want: []string{`"requestMessage":"ça va"`}},
		{name: "names without quotes, comments, trailing commas", method: "PUT", path: biARM(f.group("sqrg3")),
			body: "{location: 'westus', // where\n tags: {/* two */ a: '1', b: '2',},}",
			want: []string{`"location":"westus"`, `"tags":{"a":"1","b":"2"}`}},
	}
	for _, tt := range accepted {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(t, tt.method, tt.path, tt.body, nil)
			if r.status < 200 || r.status > 299 {
				t.Fatalf("status = %d, want 2xx; body %s", r.status, r.body)
			}
			r = f.do(t, http.MethodGet, tt.path, "", nil)
			for _, w := range tt.want {
				if !strings.Contains(string(r.body), w) {
					t.Fatalf("GET does not say %s: %s", w, r.body)
				}
			}
		})
	}
	const invalid = arm.CodeInvalidRequestContent
	newRG := biARM(f.group("sqbad"))
	f.run(t, []biCase{
		{name: "unterminated single quote", method: "PUT", path: newRG, body: `{'location':'westus}`, status: 400, code: invalid, msg: `'Unterminated string. Expected delimiter: '. Path 'location', line 1, position 20.'.`},
		{name: "single quotes around a member list", method: "PUT", path: newRG, body: `'{"location":"westus"}'`, status: 400, code: invalid, msg: "Expected a JSON object, found string."},
		{name: "a value without quotes", method: "PUT", path: newRG, body: "{\n  \"location\": westus\n}", status: 400, code: invalid,
			msg: `could not be deserialized: 'Unexpected character encountered while parsing value: w. Path 'location', line 2, position 14.'.`},
		{name: "a missing comma", method: "PUT", path: newRG, body: `{"location": "westus" "tags": {}}`, status: 400, code: invalid,
			msg: `'After parsing a value an unexpected character was encountered: ". Path 'location', line 1, position 22.'.`},
	})
}

// TestInputsUnknownPath: a path no route has gets ARM's envelope (404
// NotFound, quoting the URI as ARM's front end does), not the mux's plain
// text; a path a route has, with another method, keeps its 405.
func TestInputsUnknownPath(t *testing.T) {
	f := biStart(t)
	f.run(t, []biCase{
		{name: "GET", method: "GET", path: "/foo/bar?api-version=2021-04-01", status: 404, code: arm.CodeNotFound, msg: "No HTTP resource was found that matches the request URI 'https://"},
		{name: "PUT", method: "PUT", path: "/foo/bar?api-version=2021-04-01", body: `{"location":"westus"}`, status: 404, code: arm.CodeNotFound, msg: "/foo/bar?api-version=2021-04-01'.", absent: "-"},
		{name: "DELETE without api-version", method: "DELETE", path: "/nothing", status: 404, code: arm.CodeNotFound, msg: "/nothing'."},
	})
	if r := f.do(t, http.MethodDelete, "/_privlink/health", "", nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE /_privlink/health: status %d, want 405; %s", r.status, r.body)
	}
}

// TestInputsTemplatePositions: a template's errors give the line and column
// of the request as it was sent, as ARM's do: a formatted body has them on
// the line the user sees, a compact one (what az and the SDKs send) on line
// 1. What is stored and exported is compact either way.
func TestInputsTemplatePositions(t *testing.T) {
	f := biStart(t)
	deployment := func(name string) string {
		return f.rg + "/providers/Microsoft.Resources/deployments/" + name + "?api-version=2021-04-01"
	}
	formatted := func(value string) string {
		return "{\n" +
			"  \"properties\": {\n" +
			"    \"mode\": \"Incremental\",\n" +
			"    \"template\": {\n" +
			"      \"$schema\": \"https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#\",\n" +
			"      \"contentVersion\": \"1.0.0.0\",\n" +
			"      \"resources\": [],\n" +
			"      \"outputs\": {\n" +
			"        \"x\": { \"type\": \"string\", \"value\": \"" + value + "\" }\n" +
			"      }\n" +
			"    }\n" +
			"  }\n" +
			"}\n"
	}
	bad := formatted("[nosuch('a')]")
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(bad)); err != nil {
		t.Fatal(err)
	}
	f.run(t, []biCase{
		{name: "formatted", method: "PUT", path: deployment("fmt"), body: bad, status: 400, code: arm.CodeInvalidTemplate, msg: "at line '9' and column '", absent: "-"},
		{name: "compact", method: "PUT", path: deployment("cmp"), body: compact.String(), status: 400, code: arm.CodeInvalidTemplate, msg: "at line '1' and column '", absent: "-"},
	})
	if r := f.do(t, http.MethodPut, deployment("good"), formatted("[concat('a', 'b')]"), nil); r.status != http.StatusCreated {
		t.Fatalf("formatted deployment: %d %s", r.status, r.body)
	}
	r := f.do(t, http.MethodPost, f.rg+"/providers/Microsoft.Resources/deployments/good/exportTemplate?api-version=2021-04-01", "", nil)
	if r.status != http.StatusOK || bytes.Contains(r.body, []byte("\n")) || !bytes.Contains(r.body, []byte(`"value":"[concat('a', 'b')]"`)) {
		t.Fatalf("exportTemplate: %d %s", r.status, r.body)
	}
}
