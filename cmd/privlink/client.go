package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/certs"
	"github.com/privlink/privlink/internal/fsutil"
	"github.com/privlink/privlink/internal/identity"
)

// profile is what 'privlink login' keeps: where the server is, how to trust
// it, who to be, and the current token.
type profile struct {
	Endpoint string `json:"endpoint"`
	CAFile   string `json:"caFile,omitempty"`
	TenantID string `json:"tenantId"`
	// ClientID is the OAuth client: the service principal, or for a user
	// the public client it signed in with (its refresh token is bound to it).
	ClientID     string    `json:"clientId"`
	ClientSecret string    `json:"clientSecret"`
	Subscription string    `json:"subscriptionId"`
	AccessToken  string    `json:"accessToken"`
	ExpiresOn    time.Time `json:"expiresOn"`
	// Kind is who the profile signs in as: a service principal ("", as in
	// the profiles written before users existed: ClientID and
	// ClientSecret), a user (kindUser: Username and the refresh token its
	// sign-in gave, never its password) or a managed identity
	// (kindIdentity: Identity, tokens from the server's IMDS endpoint).
	Kind         string       `json:"kind,omitempty"`
	Username     string       `json:"username,omitempty"`
	RefreshToken string       `json:"refreshToken,omitempty"`
	Identity     *identityRef `json:"identity,omitempty"`
	// FromEnv marks a profile the client made by itself from the shell's
	// environment (no 'privlink login'): it follows the environment, so that
	// a shell that evaluates 'privlink env' for a new data directory on the
	// same address does not keep the old CA and token.
	FromEnv bool `json:"fromEnvironment,omitempty"`
}

// Kinds of sign-in a profile keeps (profile.Kind); "" is a service principal.
const (
	kindUser     = "user"
	kindIdentity = "managedIdentity"
)

// azureCLIClientID is the public client users sign in with: the Azure
// CLI's, which any Entra ID tenant knows.
const azureCLIClientID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"

// armScope is what the client asks tokens for.
const armScope = "https://management.core.windows.net//.default"

// identityRef selects a managed identity at the IMDS endpoint: at most one
// field is set; none is the server's default managed identity.
type identityRef struct {
	ClientID   string `json:"clientId,omitempty"`
	ObjectID   string `json:"objectId,omitempty"`
	ResourceID string `json:"resourceId,omitempty"`
}

// refreshable reports whether the profile can get a new token by itself.
func (p *profile) refreshable() bool {
	switch p.Kind {
	case kindUser:
		return p.RefreshToken != ""
	case kindIdentity:
		return true
	}
	return p.ClientSecret != ""
}

// endpointFromEnv is the server the client commands talk to when no
// profile says otherwise: $PRIVLINK_ENDPOINT (what 'privlink env' exports),
// else the default address.
func endpointFromEnv() string {
	if e := os.Getenv("PRIVLINK_ENDPOINT"); e != "" {
		return strings.TrimSuffix(e, "/")
	}
	return "https://" + defaultAddr
}

// profilePath is the profile for endpoint: --profile, else
// $PRIVLINK_PROFILE, else one file per server in the user's configuration
// directory, so that logins to two servers (or two data directories behind
// one address, one after the other) do not overwrite each other.
func (g *globals) profilePath(endpoint string) (string, error) {
	if g.profile != "" {
		return g.profile, nil
	}
	if p := os.Getenv("PRIVLINK_PROFILE"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "privlink", "profiles", profileKey(endpoint)+".json"), nil
}

// profileKey names a server's profile file: its host and port.
func profileKey(endpoint string) string {
	key := endpoint
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
		key = u.Host
		if u.Port() == "" && u.Scheme == "http" {
			key += ":80"
		} else if u.Port() == "" {
			key += ":443"
		}
	}
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, key)
}

// loadProfile reads the profile for the current server; os.ErrNotExist
// (wrapped) when there is none.
func (g *globals) loadProfile() (*profile, string, error) {
	path, err := g.profilePath(endpointFromEnv())
	if err != nil {
		return nil, "", err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, path, err
	}
	p := &profile{}
	if err := json.Unmarshal(b, p); err != nil {
		return nil, path, fmt.Errorf("profile %s: %w", path, err)
	}
	return p, path, nil
}

func (g *globals) saveProfile(p *profile) error {
	path, err := g.profilePath(p.Endpoint)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(p, "", "  ")
	tmp := path + ".new"
	_ = os.Remove(tmp)
	if err := fsutil.WriteFileOnce(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// envProfile is the sign-in a shell's environment describes: the server in
// $PRIVLINK_ENDPOINT, the CA in $SSL_CERT_FILE (or ./privlink-data), and the
// service principal in AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET,
// falling back to privlink's well-known identities. 'privlink login' with no
// flags and every client command without a profile use it.
func envProfile() *profile {
	p := &profile{Endpoint: endpointFromEnv()}
	if f := os.Getenv("SSL_CERT_FILE"); f != "" {
		p.CAFile = f
	} else if _, err := os.Stat(certs.CAPath(defaultData)); err == nil && strings.HasPrefix(p.Endpoint, "https://") {
		p.CAFile = certs.CAPath(defaultData)
	}
	p.TenantID = os.Getenv("AZURE_TENANT_ID")
	if p.TenantID == "" || strings.EqualFold(p.TenantID, identity.ADFSTenant) {
		p.TenantID = identity.DefaultTenantID
	}
	p.ClientID, p.ClientSecret = os.Getenv("AZURE_CLIENT_ID"), os.Getenv("AZURE_CLIENT_SECRET")
	if p.ClientID == "" || p.ClientSecret == "" {
		p.ClientID, p.ClientSecret = identity.DefaultClientID, identity.DefaultClientSecret
	}
	p.Subscription = os.Getenv("AZURE_SUBSCRIPTION_ID")
	if p.Subscription == "" {
		p.Subscription = identity.DefaultSubscriptionID
	}
	return p
}

func httpClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute}, nil
}

// client is an authenticated connection to the server.
type client struct {
	g    *globals
	p    *profile
	http *http.Client
	// retried is set once a 401 has led to a new sign-in.
	retried bool
	// retryDelay replaces the first retry's delay (retryDelay) when set:
	// for tests.
	retryDelay time.Duration
}

func (g *globals) client() (*client, error) {
	p, path, err := g.loadProfile()
	if errors.Is(err, os.ErrNotExist) {
		// No login yet: sign in as the environment says, as the SDKs do.
		p = envProfile()
		p.FromEnv = true
		hc, err := httpClient(p.CAFile)
		if err != nil {
			return nil, err
		}
		c := &client{g: g, p: p, http: hc}
		if err := c.refresh(); err != nil {
			return nil, fmt.Errorf("no profile at %s, and signing in to %s as %s failed: %w (run 'privlink login', or eval \"$(privlink env)\")", path, p.Endpoint, p.ClientID, err)
		}
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	stale := time.Until(p.ExpiresOn) < 5*time.Minute
	if e := envProfile(); p.FromEnv && e.Endpoint == p.Endpoint {
		if e.CAFile != p.CAFile || e.TenantID != p.TenantID || e.ClientID != p.ClientID || e.ClientSecret != p.ClientSecret {
			stale = true
		}
		p.CAFile, p.TenantID, p.ClientID, p.ClientSecret, p.Subscription = e.CAFile, e.TenantID, e.ClientID, e.ClientSecret, e.Subscription
	}
	hc, err := httpClient(p.CAFile)
	if err != nil {
		return nil, err
	}
	c := &client{g: g, p: p, http: hc}
	if stale {
		if err := c.refresh(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// refresh gets a new token: with the profile's client credentials, its
// user's refresh token, or from the IMDS endpoint for a managed identity.
func (c *client) refresh() error {
	switch c.p.Kind {
	case kindUser:
		return c.refreshUser()
	case kindIdentity:
		return c.refreshIdentity()
	}
	tok, err := c.postToken(url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.p.ClientID},
		"client_secret": {c.p.ClientSecret},
		"scope":         {armScope},
	})
	if err != nil {
		return err
	}
	return c.keep(tok)
}

// signInUser signs in as a user with the password grant and keeps the
// access and refresh tokens (not the password).
func (c *client) signInUser(password string) error {
	tok, err := c.postToken(url.Values{
		"grant_type": {"password"},
		"client_id":  {c.p.ClientID},
		"username":   {c.p.Username},
		"password":   {password},
		"scope":      {armScope + " offline_access"},
	})
	if err != nil {
		return err
	}
	return c.keep(tok)
}

// refreshUser redeems the user's refresh token. A refused one (expired,
// from another server, or its user deleted) means signing in again.
func (c *client) refreshUser() error {
	tok, err := c.postToken(url.Values{
		"grant_type":    {"refresh_token"},
		"client_id":     {c.p.ClientID},
		"refresh_token": {c.p.RefreshToken},
		"scope":         {armScope + " offline_access"},
	})
	var se *serverError
	if errors.As(err, &se) && se.status >= 400 && se.status < 500 {
		se.msg = strings.TrimPrefix(se.msg, "login failed: ") + fmt.Sprintf("\nthe sign-in of %s has ended: run 'privlink login --username %s --password PASSWORD' again", c.p.Username, c.p.Username)
		return se
	}
	if err != nil {
		return err
	}
	return c.keep(tok)
}

// tokenAnswer is the token endpoint's answer, or its refusal.
type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

// postToken asks the token endpoint of the profile's tenant for a token.
func (c *client) postToken(form url.Values) (*tokenAnswer, error) {
	u := c.p.Endpoint + "/" + c.p.TenantID + "/oauth2/v2.0/token"
	// A token request creates nothing: safe to repeat.
	r, err := c.exchange(true, func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		return req, err
	})
	if err != nil {
		return nil, err
	}
	var tok tokenAnswer
	// A refusal is the server's answer (exit code 1), not a usage error.
	if err := json.Unmarshal(r.Body, &tok); err != nil {
		return nil, &serverError{status: r.Status, msg: "the token endpoint " + u + " did not answer with a token"}
	}
	if tok.AccessToken == "" {
		return nil, &serverError{status: r.Status, msg: "login failed: " + tok.Error + ": " + tok.Description}
	}
	return &tok, nil
}

// keep saves a new token (and a user's new refresh token) in the profile.
func (c *client) keep(tok *tokenAnswer) error {
	c.p.AccessToken, c.p.ExpiresOn = tok.AccessToken, time.Now().Add(time.Duration(tok.ExpiresIn)*time.Second)
	if tok.RefreshToken != "" {
		c.p.RefreshToken = tok.RefreshToken
	}
	return c.g.saveProfile(c.p)
}

// refreshIdentity asks the server's IMDS endpoint for a token of the
// profile's managed identity, as a program on an Azure VM does.
func (c *client) refreshIdentity() error {
	q := url.Values{"api-version": {"2018-02-01"}, "resource": {"https://management.core.windows.net/"}}
	if id := c.p.Identity; id != nil {
		switch {
		case id.ClientID != "":
			q.Set("client_id", id.ClientID)
		case id.ObjectID != "":
			q.Set("object_id", id.ObjectID)
		case id.ResourceID != "":
			q.Set("msi_res_id", id.ResourceID)
		}
	}
	u := c.p.Endpoint + "/metadata/identity/oauth2/token?" + q.Encode()
	r, err := c.exchange(true, func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err == nil {
			req.Header.Set("Metadata", "true")
		}
		return req, err
	})
	if err != nil {
		return err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   string `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.Unmarshal(r.Body, &tok); err != nil {
		return &serverError{status: r.Status, msg: "the managed identity endpoint " + u + " did not answer with a token"}
	}
	if tok.AccessToken == "" {
		return &serverError{status: r.Status, msg: "login failed: " + tok.Error + ": " + tok.Description}
	}
	secs, _ := strconv.Atoi(tok.ExpiresIn)
	return c.keep(&tokenAnswer{AccessToken: tok.AccessToken, ExpiresIn: secs})
}

// response is a server answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
	// Resent: an earlier try of the same request was sent and its answer
	// lost (a cut connection), so this answer may follow what that try
	// did (see client.lostTry).
	Resent bool
}

// OK reports whether the status is 2xx.
func (r *response) OK() bool { return r.Status >= 200 && r.Status < 300 }

// do sends a request to path (relative to the endpoint, or a full URL).
func (c *client) do(method, path string, body []byte) (*response, error) {
	r, err := c.send(method, path, body)
	// A token the server no longer accepts (its data directory was reset,
	// and with it the signing key) earns one new sign-in and one retry.
	if err == nil && r.Status == http.StatusUnauthorized && c.p.refreshable() && !c.retried {
		c.retried = true
		if err := c.refresh(); err != nil {
			if c.p.Kind == kindUser {
				return nil, err // "log in again"
			}
			return r, nil
		}
		return c.send(method, path, body)
	}
	return r, err
}

// Retries, as the Azure SDK for Go's default retry policy (azcore
// policy.RetryOptions) makes them: up to maxRetries more tries after a
// connection error or one of retryStatus, waiting the answer's Retry-After
// when it gives one, else retryDelay doubled at each try (with a random
// part, as azcore's) up to maxRetryDelay. A replica that dies behind a load
// balancer cuts the requests it held, and a store that is briefly
// unreachable answers 503 with Retry-After: the SDKs go on, and so does the
// CLI. ARM's PUTs and DELETEs are idempotent, so a retry of a request that
// took effect before its answer was lost has the same effect; its answer
// may differ (a create's operation found running, a delete finding nothing
// left), which afterLostPut and remove read for what it is.
const (
	maxRetries    = 3
	retryDelay    = 800 * time.Millisecond
	maxRetryDelay = 60 * time.Second
)

// retryStatus are the statuses azcore retries: 408, 429, 500, 502, 503, 504.
var retryStatus = map[int]bool{
	http.StatusRequestTimeout: true, http.StatusTooManyRequests: true, http.StatusInternalServerError: true,
	http.StatusBadGateway: true, http.StatusServiceUnavailable: true, http.StatusGatewayTimeout: true,
}

// send makes a request of the server (path relative to the endpoint, or a
// full URL) with the profile's token.
func (c *client) send(method, path string, body []byte) (*response, error) {
	u := path
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		u = c.p.Endpoint + path
	}
	// ARM's GET, PUT, PATCH and DELETE are idempotent; a POST is an
	// action, which may not be.
	return c.exchange(method != http.MethodPost, func() (*http.Request, error) {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequest(method, u, rd)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+c.p.AccessToken)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", "privlink-cli")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req, nil
	})
}

// exchange sends the request newReq makes (a new one for every try) and
// reads the answer, retried as the SDKs retry (see maxRetries): a
// connection error that outlasts the retries is returned as it is. A
// request that is not safe to repeat (a POST that may create something:
// a service principal, a secret, an ARM action) is tried again only when
// the last try was never sent.
func (c *client) exchange(safe bool, newReq func() (*http.Request, error)) (*response, error) {
	resent := false
	for try := 0; ; try++ {
		req, err := newReq()
		if err != nil {
			return nil, err
		}
		r, err := c.once(req)
		if r != nil {
			r.Resent = resent
		}
		again := err == nil && retryStatus[r.Status] || err != nil && retriable(err)
		if !safe {
			again = err != nil && unsent(err) && retriable(err)
		}
		if try == maxRetries || !again {
			return r, err
		}
		resent = resent || err != nil && !unsent(err)
		var wait time.Duration
		if err == nil {
			wait = retryAfter(r.Header)
			if wait > maxRetryDelay {
				return r, nil // azcore does not wait past its cap either
			}
		}
		if wait <= 0 {
			base := c.retryDelay
			if base == 0 {
				base = retryDelay
			}
			// azcore's calcDelay: (2^try - 1) times the delay (try
			// counted from 1), times 0.8 to 1.3.
			wait = time.Duration(float64(base) * float64(int64(1)<<(try+1)-1) * (0.8 + 0.5*rand.Float64()))
		}
		wait = min(wait, maxRetryDelay)
		if c.g.verbose {
			why := fmt.Sprint(err)
			if err == nil {
				why = strconv.Itoa(r.Status)
			}
			fmt.Fprintf(c.g.stderr, "retrying %s %s in %s (try %d of %d): %s\n", req.Method, req.URL, wait.Round(time.Millisecond), try+2, maxRetries+1, why)
		}
		time.Sleep(wait)
	}
}

// retriable reports whether a request that failed with err (no answer)
// is worth another try. azcore tries every transport error again; the CLI
// does not when nothing was sent and seconds will not change it, so that a
// server not started or a CA not trusted shows at once instead of after
// ten seconds of retries: a refused connection, a certificate that does not
// verify.
// A timeout is not tried again either: the client waits two minutes for an
// answer, and a server that gave none in that time is stuck, not briefly
// away (and the request may still be running there).
func retriable(err error) bool {
	var unknownCA x509.UnknownAuthorityError
	var badCert *tls.CertificateVerificationError
	var badHost x509.HostnameError
	var timeout interface{ Timeout() bool }
	return !errors.Is(err, syscall.ECONNREFUSED) && !errors.As(err, &unknownCA) && !errors.As(err, &badCert) && !errors.As(err, &badHost) &&
		!(errors.As(err, &timeout) && timeout.Timeout())
}

// afterLostPut reads the answer to a PUT of path whose first try's answer
// was lost: when that try started an operation that is still running, the
// retry is refused with 409 AnotherOperationInProgress (or
// DeploymentActive), though the caller's write is under way. It then
// answers as the lost try would have, with the resource's document (a GET
// of path); any other answer stands.
func (c *client) afterLostPut(r *response, path string) (*response, error) {
	if !c.lostTryRunning(r) {
		return r, nil
	}
	return c.do(http.MethodGet, path, nil)
}

// lostTryRunning reports whether r refuses a resent write because the
// operation its lost first try started is running (409
// AnotherOperationInProgress or DeploymentActive), and says so on stderr.
func (c *client) lostTryRunning(r *response) bool {
	if !r.Resent || r.Status != http.StatusConflict {
		return false
	}
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	if e.Error.Code != arm.CodeAnotherOperationInProgress && e.Error.Code != arm.CodeDeploymentActive {
		return false
	}
	fmt.Fprintln(c.g.stderr, "note: the first try's answer was lost; the write it made is in progress")
	return true
}

// unsent reports whether a request that failed with err never reached the
// server: its connection could not be made (a name that does not resolve,
// a dial that failed).
func unsent(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &dns) || errors.As(err, &op) && op.Op == "dial"
}

// retryAfter reads how long an answer asks the client to wait: ARM's
// retry-after-ms or x-ms-retry-after-ms, else Retry-After in seconds or as
// an HTTP date (0: it does not say).
func retryAfter(h http.Header) time.Duration {
	for _, k := range []string{"retry-after-ms", "x-ms-retry-after-ms"} {
		if ms, err := strconv.Atoi(h.Get(k)); err == nil && ms > 0 {
			return time.Duration(ms) * time.Millisecond
		}
	}
	v := h.Get("Retry-After")
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

// once makes one try of req and reads the answer.
func (c *client) once(req *http.Request) (*response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	r := &response{Status: resp.StatusCode, Header: resp.Header, Body: b}
	if c.g.verbose {
		fmt.Fprintf(c.g.stderr, "%s %s\n%s %s\n", req.Method, req.URL, resp.Proto, resp.Status)
		keys := make([]string, 0, len(resp.Header))
		for k := range resp.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(c.g.stderr, "%s: %s\n", k, strings.Join(resp.Header[k], ", "))
		}
	}
	return r, nil
}

// getJSON GETs path and decodes a 2xx answer into v; other answers become errors.
func (c *client) getJSON(path string, v any) error {
	r, err := c.do(http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	if !r.OK() {
		return armFailure(r)
	}
	return json.Unmarshal(r.Body, v)
}

// armFailure turns an ARM error answer into an error that prints its code and message.
func armFailure(r *response) error {
	var e struct {
		Error struct {
			Code, Message string
		} `json:"error"`
	}
	if json.Unmarshal(r.Body, &e) == nil && e.Error.Code != "" {
		return &serverError{status: r.Status, msg: e.Error.Code + ": " + e.Error.Message}
	}
	return &serverError{status: r.Status, msg: strings.TrimSpace(string(r.Body))}
}

// serverError is an error answer from the server (exit code 1): its HTTP
// status, or 0 when the failure was in a successful answer's document.
type serverError struct {
	status int
	msg    string
}

func (e *serverError) Error() string {
	if e.status == 0 {
		return e.msg
	}
	return fmt.Sprintf("%d %s: %s", e.status, http.StatusText(e.status), e.msg)
}

// printJSON writes b indented, or as it is when it is not JSON. '<', '>' and
// '&' are printed as they are, also when the server escaped them.
func printJSON(w io.Writer, b []byte) {
	if len(bytes.TrimSpace(b)) == 0 {
		return
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		w.Write(b)
		fmt.Fprintln(w)
		return
	}
	out.WriteByte('\n')
	w.Write(arm.UnescapeHTML(out.Bytes()))
}
