package replicas

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/privlink/privlink/internal/app"
	"github.com/privlink/privlink/internal/testkit"
	"github.com/privlink/privlink/internal/testkit/fixtures"
)

// TestHAProxy runs deploy/haproxy.cfg (its addresses moved to free ports)
// in front of three replicas and drives the official SDK through it alone:
// the ARM API and the token endpoint, and the transparent proxy
// (HTTPS_PROXY) on the same port. A killed replica is taken out by the
// health checks, and requests keep being served.
func TestHAProxy(t *testing.T) {
	defer fixtures.FailOnPanic(t)
	testkit.SkipUnlessSlow(t, "haproxy in front of three replicas")
	haproxy, err := exec.LookPath("haproxy")
	testkit.Need(t, err == nil, "haproxy is not installed", "apt-get install haproxy (bash .ci/run does)")
	store := testkit.FreshSchema(t, testkit.PostgresURL(t), "privlink_replicas_haproxy")
	f := startFleet(t, store, fleetConfig{})

	cfg, err := os.ReadFile("../../../deploy/haproxy.cfg")
	if err != nil {
		t.Fatal(err)
	}
	lb := freeAddr(t)
	text := strings.ReplaceAll(string(cfg), "127.0.0.1:8443", lb)
	for i, r := range f.replicas {
		old := "127.0.0.1:845" + string(rune('1'+i))
		if !strings.Contains(text, old) {
			t.Fatalf("deploy/haproxy.cfg has no server at %s", old)
		}
		text = strings.ReplaceAll(text, old, r.addr)
	}
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(haproxy, "-db", "-f", path)
	log := &testkit.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("haproxy's log:\n%s", log)
		}
	})

	// Through haproxy only: a client of the balancer's address that trusts
	// the replicas' CA.
	caPath := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caPath, f.ca, 0o644); err != nil {
		t.Fatal(err)
	}
	env := testkit.Connect(t, "https://"+lb, caPath, nil, app.Config{})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := env.HTTP.Get(env.URL + "/_privlink/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy at %s does not answer: %v", lb, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	fixtures.CreateRG(t, env, env.Subscription, "adx")
	fixtures.CreateCluster(t, env, "adx", "mycluster", nil)
	sa := fixtures.Targets()[0].Create(t, env, "adx", "share")
	if _, err := fixtures.CreateMPE(t, env, "adx", "mycluster", "mpe1", sa, "blob", "Please Approve."); err != nil {
		t.Fatal(err)
	}

	// /_privlink/info through the balancer names the balancer's address as
	// the proxy, whichever replica answers (round robin: several do).
	answered := map[string]bool{}
	for range 6 {
		resp, err := env.HTTP.Get(env.URL + "/_privlink/info")
		if err != nil {
			t.Fatal(err)
		}
		var info struct {
			ProxyURL string `json:"proxyUrl"`
			Replica  string `json:"replica"`
		}
		err = json.NewDecoder(resp.Body).Decode(&info)
		resp.Body.Close()
		if err != nil || info.ProxyURL != "http://"+lb || info.Replica == "" {
			t.Fatalf("/_privlink/info through haproxy: %+v (%v), want proxyUrl http://%s and the replica's name", info, err, lb)
		}
		answered[info.Replica] = true
		env.HTTP.CloseIdleConnections()
	}
	if len(answered) < 2 {
		t.Errorf("six new connections through haproxy reached only %v, want several replicas", answered)
	}

	// The transparent proxy on the same port: Azure's own host name.
	token := env.Token(t)
	proxied := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: lb}), TLSClientConfig: env.HTTP.Transport.(*http.Transport).TLSClientConfig}}
	get := func(c *http.Client, u string) int {
		t.Helper()
		resp, err := c.Do(bearer(t, http.MethodGet, u, token))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	mpePath := "/subscriptions/" + env.Subscription + "/resourceGroups/adx/providers/Microsoft.Kusto/clusters/mycluster/managedPrivateEndpoints/mpe1?api-version=2024-04-13"
	if got := get(proxied, "https://management.azure.com"+mpePath); got != http.StatusOK {
		t.Fatalf("through haproxy as HTTPS_PROXY, GET management.azure.com: %d, want 200", got)
	}

	// Kill a replica; after the health checks (2 × 1 s) every request is served.
	victim := f.replicas[1]
	f.kill(victim)
	time.Sleep(3 * time.Second)
	env.HTTP.CloseIdleConnections()
	mc := fixtures.Must(armkusto.NewManagedPrivateEndpointsClient(env.Subscription, env.Cred, env.Options))
	for i := range 30 {
		if _, err := mc.Get(ctx, "adx", "mycluster", "mpe1", nil); err != nil {
			t.Fatalf("request %d after replica %s was killed: %v", i, victim.name, err)
		}
		// A new connection each time, so that each one is balanced.
		env.HTTP.CloseIdleConnections()
	}
	if got := get(proxied, "https://management.azure.com"+mpePath); got != http.StatusOK {
		t.Fatalf("after the kill, through haproxy as HTTPS_PROXY: %d, want 200", got)
	}
	if _, err := net.DialTimeout("tcp", victim.addr, time.Second); err == nil {
		t.Fatalf("the killed replica still accepts connections")
	}
}
