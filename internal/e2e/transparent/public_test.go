package transparent

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/testkit"
)

// TestPublicNames: reached under Azure's public names through the proxy,
// privlink describes Azure's public cloud, as ARM there does; reached at its
// own address, the custom cloud that it is.
func TestPublicNames(t *testing.T) {
	env := testkit.Start(t, testkit.WithOffline())
	proxyURL, _ := url.Parse(env.Server.ProxyURL())
	tr := env.HTTP.Transport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyURL(proxyURL)
	viaProxy := &http.Client{Transport: tr}

	get := func(c *http.Client, u string) (*http.Response, []byte) {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	tests := []struct {
		name                      string
		client                    *http.Client
		base                      string
		wantName, wantLogin       string
		wantRM, wantAuthorization string
	}{
		{"through the proxy", viaProxy, "https://management.azure.com", "AzureCloud", "https://login.microsoftonline.com",
			"https://management.azure.com/", "https://login.windows.net/" + identity.DefaultTenantID},
		{"direct", env.HTTP, env.URL, "privlink", env.URL + "/", env.URL + "/", env.URL + "/" + identity.DefaultTenantID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := get(tt.client, tt.base+"/metadata/endpoints?api-version=2022-09-01")
			var cloud struct {
				Name            string `json:"name"`
				ResourceManager string `json:"resourceManager"`
				Authentication  struct {
					LoginEndpoint string   `json:"loginEndpoint"`
					Audiences     []string `json:"audiences"`
				} `json:"authentication"`
			}
			if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &cloud) != nil {
				t.Fatalf("metadata: %s %s", resp.Status, b)
			}
			if cloud.Name != tt.wantName || cloud.Authentication.LoginEndpoint != tt.wantLogin || cloud.ResourceManager != tt.wantRM {
				t.Fatalf("metadata names %s, login %s, ARM %s; want %s, %s, %s", cloud.Name, cloud.Authentication.LoginEndpoint, cloud.ResourceManager, tt.wantName, tt.wantLogin, tt.wantRM)
			}
			seen := map[string]bool{}
			for _, a := range cloud.Authentication.Audiences {
				if seen[a] {
					t.Fatalf("audience %s listed twice: %v", a, cloud.Authentication.Audiences)
				}
				seen[a] = true
			}
			// A request without a token is told where to get one.
			resp, _ = get(tt.client, tt.base+"/subscriptions?api-version=2022-12-01")
			h := resp.Header.Get("WWW-Authenticate")
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(h, `authorization_uri="`+tt.wantAuthorization+`"`) {
				t.Fatalf("%s, WWW-Authenticate %q; want 401 naming %s", resp.Status, h, tt.wantAuthorization)
			}
		})
	}
}
