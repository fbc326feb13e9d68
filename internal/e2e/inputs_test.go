package e2e

// Small inputs a new user sends on day one (a body saved by Notepad, a
// message with '<' in it, a subscription name where its id belongs, ...):
// each kind of input is a table, run against a real server.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
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
