// Package testkit starts real privlink servers for tests and gives them the
// official Azure SDK clients, configured as a user would: a custom cloud whose
// authority and Resource Manager endpoints are the server, trusting its CA.
package testkit

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azarm "github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/uuid"
	"github.com/privlink/privlink/internal/app"
	"github.com/privlink/privlink/internal/deploy"
	"github.com/privlink/privlink/internal/deploy/plan"
	"github.com/privlink/privlink/internal/identity"
)

// Env is a running server with clients for it.
type Env struct {
	Server *app.Server
	URL    string
	Dir    string
	// HTTP is an http.Client that trusts the server's CA.
	HTTP *http.Client
	// Cred is a ClientSecretCredential for the default service principal.
	Cred azcore.TokenCredential
	// Options are ARM client options pointing at the server.
	Options *azarm.ClientOptions
	// Subscription is the default subscription id.
	Subscription string
	cfg          app.Config

	// req is the Requester, made once per server (shared by copies of the Env).
	req *requester
}

type requester struct {
	once sync.Once
	p    *Principal
}

// Option adjusts the server configuration.
type Option func(*app.Config)

// WithDelay sets the provisioning delay.
func WithDelay(d time.Duration) Option { return func(c *app.Config) { c.ProvisioningDelay = d } }

// WithPageSize sets the page size of pageable lists.
func WithPageSize(n int) Option { return func(c *app.Config) { c.PageSize = n } }

// WithHTTP also serves plain HTTP on a free port.
func WithHTTP() Option { return func(c *app.Config) { c.HTTPAddr = "127.0.0.1:0" } }

// WithOffline makes the transparent proxy refuse every host privlink does
// not serve, so that a test cannot reach the real Azure by mistake.
func WithOffline() Option { return func(c *app.Config) { c.Offline = true } }

// WithBinder serves deployments with b as their template language.
func WithBinder(b plan.Binder) Option { return func(c *app.Config) { c.Binder = b } }

// WithDeploymentHistory bounds each scope's deployment history at h
// instead of Azure's 800 (deleting from 700 down to 600).
func WithDeploymentHistory(h deploy.History) Option {
	return func(c *app.Config) { c.DeploymentHistory = h }
}

// WithTemplateRoot reads linked templates from files below dir.
func WithTemplateRoot(dir string) Option { return func(c *app.Config) { c.TemplateRoot = dir } }

// WithoutAccessControl lets every authenticated principal do everything
// (serve --access-control=false).
func WithoutAccessControl() Option { return func(c *app.Config) { c.NoAccessControl = true } }

// WithAddr listens on addr instead of a free port (to restart a server on
// the address of one that stopped).
func WithAddr(addr string) Option { return func(c *app.Config) { c.Addr = addr } }

// WithLogger sends the server's log (the egress log included) to l.
func WithLogger(l *slog.Logger) Option { return func(c *app.Config) { c.Logger = l } }

// WithPrivateRange holds the clusters' managed networks in r.
func WithPrivateRange(r netip.Prefix) Option { return func(c *app.Config) { c.PrivateRange = r } }

// WithDataPathLimits bounds the data path's loaded clusters, targets
// held for their names (and names known to be none's) and listening
// endpoint addresses (serve --data-path-max-clusters, -targets,
// -listeners); zero keeps a default.
func WithDataPathLimits(clusters, targets, listeners int) Option {
	return func(c *app.Config) {
		c.DataPathMaxClusters, c.DataPathMaxTargets, c.DataPathMaxListeners = clusters, targets, listeners
	}
}

// RandomRange is a /16 of loopback addresses that no other test server is
// likely to use (127.100.0.0/16 to 127.249.0.0/16), so that each server's
// managed networks listen on their usual ports.
func RandomRange() netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{127, byte(100 + rand.IntN(150)), 0, 0}), 16)
}

// WithStore keeps resources and operations in the store url names (a
// PostgreSQL URL; app.Config.Store) instead of the data directory's SQLite.
func WithStore(url string) Option { return func(c *app.Config) { c.Store = url } }

// WithDataDir uses dir as the data directory (to restart on the same data).
func WithDataDir(dir string) Option { return func(c *app.Config) { c.DataDir = dir } }

// Start starts a server on 127.0.0.1:0 in a temporary data directory, with
// zero provisioning delay unless an option says otherwise; it stops with the test.
func Start(tb testing.TB, opts ...Option) *Env {
	tb.Helper()
	cfg := app.Config{Addr: "127.0.0.1:0", DataDir: tb.TempDir(), PrivateRange: RandomRange()}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := app.Start(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("start privlink: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return Connect(tb, s.URL(), s.CAPath(), s, cfg)
}

// Connect builds clients for a server at url whose CA is in caPath.
func Connect(tb testing.TB, url, caPath string, s *app.Server, cfg app.Config) *Env {
	tb.Helper()
	pem, err := os.ReadFile(caPath)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		tb.Fatal("testkit: no CA certificate in " + caPath)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 64}, Timeout: time.Minute}
	c := Cloud(url)
	cred, err := azidentity.NewClientSecretCredential(identity.DefaultTenantID, identity.DefaultClientID, identity.DefaultClientSecret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: policy.ClientOptions{Cloud: c, Transport: hc}, DisableInstanceDiscovery: true})
	if err != nil {
		tb.Fatal(err)
	}
	return &Env{
		Server: s, URL: url, Dir: cfg.DataDir, HTTP: hc, Cred: cred, cfg: cfg,
		Options: &azarm.ClientOptions{ClientOptions: policy.ClientOptions{Cloud: c, Transport: hc,
			Retry: policy.RetryOptions{MaxRetries: -1}}},
		Subscription: identity.DefaultSubscriptionID,
		req:          &requester{},
	}
}

// Cloud is the cloud configuration of a privlink server at url.
func Cloud(url string) cloud.Configuration {
	return cloud.Configuration{
		ActiveDirectoryAuthorityHost: url + "/",
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: url, Audience: "https://management.core.windows.net/"},
		},
	}
}

// Restart stops the server gracefully and starts a new one on the same
// data directory, with the same configuration and then opts.
func (e *Env) Restart(tb testing.TB, opts ...Option) *Env {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Server.Shutdown(ctx); err != nil {
		tb.Fatal(err)
	}
	cfg := e.cfg
	cfg.DataDir = e.Dir
	for _, o := range opts {
		o(&cfg)
	}
	s, err := app.Start(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("restart privlink: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return Connect(tb, s.URL(), s.CAPath(), s, cfg)
}

// Token returns a bearer token for the default service principal.
func (e *Env) Token(tb testing.TB) string {
	tb.Helper()
	t, err := e.Cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://management.core.windows.net//.default"}})
	if err != nil {
		tb.Fatal(err)
	}
	return t.Token
}

// PollOptions poll fast: privlink's operations are short.
var PollOptions = &runtime.PollUntilDoneOptions{Frequency: 50 * time.Millisecond}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary builds the privlink command once per test process and returns its
// path, for tests that run it as a user does (privlink env, privlink serve).
func Binary(tb testing.TB) string {
	tb.Helper()
	binOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			binErr = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		root := filepath.Dir(strings.TrimSpace(string(out)))
		dir, err := os.MkdirTemp("", "privlink-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "privlink")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/privlink")
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/privlink: %v\n%s", err, b)
		}
	})
	if binErr != nil {
		tb.Fatal(binErr)
	}
	return binPath
}

// ShellEnv runs 'privlink env' for the server (with extra arguments, e.g.
// "--mode", "direct") and returns the variables it exports and unsets.
func (e *Env) ShellEnv(tb testing.TB, args ...string) (exports map[string]string, unset []string) {
	tb.Helper()
	cmd := exec.Command(Binary(tb), append([]string{"env", "--addr", strings.TrimPrefix(e.URL, "https://"), "--data", e.Dir}, args...)...)
	cmd.Env = CleanEnviron()
	exports, unset, err := ParseExports(string(Output(tb, cmd)))
	if err != nil {
		tb.Fatal(err)
	}
	return exports, unset
}

// ParseExports reads what 'privlink env' prints: "export K=V" lines (POSIX
// single quoting undone) and "unset K..." lines. A line of another form or
// a variable exported twice is an error.
func ParseExports(out string) (exports map[string]string, unset []string, err error) {
	exports = map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if names, ok := strings.CutPrefix(line, "unset "); ok {
			unset = append(unset, strings.Fields(names)...)
			continue
		}
		kv, ok := strings.CutPrefix(line, "export ")
		k, v, ok2 := strings.Cut(kv, "=")
		if !ok || !ok2 {
			return nil, nil, fmt.Errorf("not an export line: %q", line)
		}
		if strings.HasPrefix(v, "'") {
			v = strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(v, "'"), "'"), `'\''`, "'")
		}
		if _, dup := exports[k]; dup {
			return nil, nil, fmt.Errorf("%s exported twice", k)
		}
		exports[k] = v
	}
	return exports, unset, nil
}

// CleanEnviron is this process's environment without the variables that
// point Azure tools somewhere (AZURE_*, ARM_*, proxies, CA files, managed
// identity endpoints), as in a new user's shell.
func CleanEnviron() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		u := strings.ToUpper(k)
		if strings.HasPrefix(u, "AZURE_") || strings.HasPrefix(u, "ARM_") || strings.HasPrefix(u, "PRIVLINK_") || strings.HasPrefix(u, "MSI_") || strings.HasPrefix(u, "IDENTITY_") ||
			u == "HTTPS_PROXY" || u == "HTTP_PROXY" || u == "ALL_PROXY" || u == "NO_PROXY" || u == "SSL_CERT_FILE" || u == "SSL_CERT_DIR" ||
			u == "REQUESTS_CA_BUNDLE" || u == "CURL_CA_BUNDLE" || u == "NODE_EXTRA_CA_CERTS" || u == "IMDS_ENDPOINT" {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// InShell sets cmd's environment to a shell's that ran 'privlink env'
// (CleanEnviron, then vars as ShellEnv returns them), then extra
// ("KEY=value"), and returns cmd.
func InShell(cmd *exec.Cmd, vars map[string]string, extra ...string) *exec.Cmd {
	cmd.Env = CleanEnviron()
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, extra...)
	return cmd
}

// SlowEnv is the switch that turns on the slow suites (Terraform, and
// whatever needs tools installed from outside the Go module proxy): set it
// to 1, as .ci/run does.
const SlowEnv = "PRIVLINK_SLOW_TESTS"

// Slow reports whether the slow suites run.
func Slow() bool { return os.Getenv(SlowEnv) == "1" }

// SkipUnlessSlow skips a slow test, saying how to run it.
func SkipUnlessSlow(tb testing.TB, what string) {
	tb.Helper()
	if !Slow() {
		tb.Skipf("%s is a slow suite: run with %s=1 (bash .ci/run does)", what, SlowEnv)
	}
}

// Need stops tb when a prerequisite is missing: a skip that says what is
// missing and how to get it, or a failure when the slow suites are on (so
// that CI, which installs everything, never skips silently).
func Need(tb testing.TB, ok bool, missing, howToGet string) {
	tb.Helper()
	if ok {
		return
	}
	if Slow() {
		tb.Fatalf("%s (%s=1 is set, so this is a failure): %s", missing, SlowEnv, howToGet)
	}
	tb.Skipf("%s: %s", missing, howToGet)
}

// Output runs cmd and returns its standard output, failing tb with both of
// its outputs when it does not exit 0.
func Output(tb testing.TB, cmd *exec.Cmd) []byte {
	tb.Helper()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(cmd.Args, " "), err, out, stderr.String())
	}
	return out
}

// Principal is a service principal made for a test.
type Principal struct {
	ObjectID, ClientID, Secret string
	// Cred is a ClientSecretCredential for it.
	Cred azcore.TokenCredential
}

// NewPrincipal creates a service principal through the directory endpoint,
// as the default principal (the tenant's administrator) does.
func (e *Env) NewPrincipal(tb testing.TB, name string) *Principal {
	tb.Helper()
	var created struct{ AppID, Password string }
	e.call(tb, http.MethodPost, "/_privlink/directory/servicePrincipals", `{"displayName":"`+name+`"}`, http.StatusCreated, &created)
	var shown struct{ ObjectID string }
	e.call(tb, http.MethodGet, "/_privlink/directory/servicePrincipals/"+created.AppID, "", http.StatusOK, &shown)
	cred, err := azidentity.NewClientSecretCredential(identity.DefaultTenantID, created.AppID, created.Password,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: policy.ClientOptions{Cloud: Cloud(e.URL), Transport: e.HTTP}, DisableInstanceDiscovery: true})
	if err != nil {
		tb.Fatal(err)
	}
	return &Principal{ObjectID: shown.ObjectID, ClientID: created.AppID, Secret: created.Password, Cred: cred}
}

// Assign gives principal the role (a role definition id) at scope through
// the role assignments API, as the default principal.
func (e *Env) Assign(tb testing.TB, principal, principalType, roleDefinitionID, scope string) {
	tb.Helper()
	body := `{"properties":{"roleDefinitionId":"` + roleDefinitionID + `","principalId":"` + principal + `","principalType":"` + principalType + `"}}`
	e.call(tb, http.MethodPut, strings.TrimSuffix(scope, "/")+"/providers/Microsoft.Authorization/roleAssignments/"+uuid.NewString()+"?api-version=2022-04-01", body, http.StatusCreated, nil)
}

// RequesterRole is the custom role Requester holds: everything but the
// approval of private endpoint connections.
const RequesterRole = "d3f0a1b2-7c4e-4b8a-9e6f-2a1c5b7d9e01"

// Requester returns a service principal (made once per server) that may do
// everything in the default subscription except hold the
// privateEndpointConnectionsApproval actions: a cluster administrator who
// does not own the targets. The managed private endpoints it creates wait
// Pending for the owner, as in the seed's manual approval story, while it
// may still approve them itself by writing the connections (its role keeps
// "*" on them), so tests of the approval path need no second principal.
func (e *Env) Requester(tb testing.TB) *Principal {
	tb.Helper()
	e.req.once.Do(func() {
		sub := "/subscriptions/" + e.Subscription
		role := `{"properties":{"roleName":"privlink test requester","type":"CustomRole","description":"Everything but automatic approval of private endpoint connections.",` +
			`"permissions":[{"actions":["*"],"notActions":["*/privateEndpointConnectionsApproval/action"]}],"assignableScopes":["` + sub + `"]}}`
		e.call(tb, http.MethodPut, sub+"/providers/Microsoft.Authorization/roleDefinitions/"+RequesterRole+"?api-version=2022-04-01", role, http.StatusCreated, nil)
		p := e.NewPrincipal(tb, "requester")
		e.Assign(tb, p.ObjectID, "ServicePrincipal", sub+"/providers/Microsoft.Authorization/roleDefinitions/"+RequesterRole, sub)
		e.req.p = p
	})
	if e.req.p == nil {
		tb.Fatal("testkit: the requester principal could not be made")
	}
	return e.req.p
}

// call sends a request as the default principal and decodes the answer.
func (e *Env) call(tb testing.TB, method, path, body string, want int, out any) {
	tb.Helper()
	e.CallWith(tb, e.Token(tb), method, path, body, want, out)
}

// CallWith is Call with the bearer token given ("" sends none).
func (e *Env) CallWith(tb testing.TB, token, method, path, body string, want int, out any) {
	tb.Helper()
	req, err := http.NewRequest(method, e.URL+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.HTTP.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		tb.Fatalf("testkit: %s %s: %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			tb.Fatalf("testkit: %s %s: %v", method, path, err)
		}
	}
}

// User is a user made for a test.
type User struct {
	ObjectID, UserPrincipalName, Password string
	// Cred is a UsernamePasswordCredential for it (the Azure CLI's client id).
	Cred azcore.TokenCredential
}

// AzureCLIClientID is the public client id of the Azure CLI, which users'
// password sign-ins name as their application.
const AzureCLIClientID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"

// NewUser creates a user through the directory endpoint, as the default
// principal (the tenant's administrator) does.
func (e *Env) NewUser(tb testing.TB, name, password string) *User {
	tb.Helper()
	var created struct {
		ID                string `json:"id"`
		UserPrincipalName string `json:"userPrincipalName"`
	}
	e.call(tb, http.MethodPost, "/_privlink/directory/users", `{"name":"`+name+`","password":"`+password+`"}`, http.StatusCreated, &created)
	// Deprecated in azidentity because Entra ID users may need multifactor
	// authentication; privlink's users sign in with this grant.
	cred, err := azidentity.NewUsernamePasswordCredential(identity.DefaultTenantID, AzureCLIClientID, created.UserPrincipalName, password,
		&azidentity.UsernamePasswordCredentialOptions{ //lint:ignore SA1019 see above
			ClientOptions: policy.ClientOptions{Cloud: Cloud(e.URL), Transport: e.HTTP}, DisableInstanceDiscovery: true})
	if err != nil {
		tb.Fatal(err)
	}
	return &User{ObjectID: created.ID, UserPrincipalName: created.UserPrincipalName, Password: password, Cred: cred}
}

// Call sends a request to one of privlink's own endpoints (/_privlink/...)
// as the default principal, fails tb unless the status is want, and
// decodes the answer into out (when not nil).
func (e *Env) Call(tb testing.TB, method, path, body string, want int, out any) {
	tb.Helper()
	e.call(tb, method, path, body, want, out)
}

// GetJSON is Call with GET and 200.
func (e *Env) GetJSON(tb testing.TB, path string, out any) {
	tb.Helper()
	e.call(tb, http.MethodGet, path, "", http.StatusOK, out)
}

// SyncBuffer is a bytes.Buffer that a server's goroutines may write to
// while a test reads it: where a test sends a server's log (WithLogger).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
