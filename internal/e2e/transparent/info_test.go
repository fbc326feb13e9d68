package transparent

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/privlink/privlink/internal/testkit"
)

// TestInfoProxyURL: /_privlink/info names the proxy at the HTTPS address
// the client reached (a load balancer's, or a name on port 443), and the
// server's own on the plain HTTP listener, which has no proxy.
func TestInfoProxyURL(t *testing.T) {
	env := testkit.Start(t, testkit.WithOffline(), testkit.WithHTTP())
	info := func(c *http.Client, u, host string) string {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, u+"/_privlink/info", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var i struct {
			ProxyURL string `json:"proxyUrl"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&i); err != nil {
			t.Fatal(err)
		}
		return i.ProxyURL
	}
	own := env.Server.ProxyURL()
	for _, tc := range []struct{ host, want string }{
		{"", own},
		{"lb.example:8443", "http://lb.example:8443"},
		{"privlink.example", "http://privlink.example:443"},
		{"management.azure.com", own},
	} {
		if got := info(env.HTTP, env.URL, tc.host); got != tc.want {
			t.Errorf("HTTPS, Host %q: proxyUrl %s, want %s", tc.host, got, tc.want)
		}
	}
	if got := info(http.DefaultClient, env.Server.HTTPURL(), "lb.example:8080"); got != own {
		t.Errorf("plain HTTP listener: proxyUrl %s, want the server's own %s", got, own)
	}
}
