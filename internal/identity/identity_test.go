package identity_test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/store/sqlite"
)

const (
	armAudience = "https://management.azure.com/"
	issuer      = "https://login.privlink.test/" + identity.DefaultTenantID + "/v2.0"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func open(t *testing.T, dir string, c *clock) *identity.Service {
	t.Helper()
	o := identity.Options{}
	if c != nil {
		o.Now = c.Now
	}
	return openWith(t, dir, o)
}

// openWith opens a service over a store in dir (shared by every service
// opened on dir, as a restarted server's).
func openWith(t *testing.T, dir string, o identity.Options) *identity.Service {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(dir, "privlink.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	o.Store = db
	s, err := identity.Open(context.Background(), dir, o)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return s
}

func defaultClient(t *testing.T, s *identity.Service) *identity.DirectoryObject {
	t.Helper()
	c, err := s.Authenticate(context.Background(), identity.DefaultClientID, identity.DefaultClientSecret)
	if err != nil {
		t.Fatalf("the default client does not authenticate: %v", err)
	}
	return c
}

func issue(t *testing.T, s *identity.Service, o *identity.DirectoryObject, aud string) string {
	t.Helper()
	tok, _, err := s.Issue(o, "", aud, issuer)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return tok
}

func TestOpenCreatesThenReuses(t *testing.T) {
	dir := t.TempDir()
	s1 := open(t, dir, nil)
	for _, name := range []string{"signing-key.pem", "msi-secret"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("Open did not create %s: %v", name, err)
		}
		if got, want := fi.Mode().Perm(), os.FileMode(0o600); got != want {
			t.Fatalf("%s mode = %v, want %v", name, got, want)
		}
	}
	if s1.MSISecret == "" {
		t.Fatalf("MSISecret is empty")
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "signing-key.pem"))
	if err != nil {
		t.Fatal(err)
	}

	s2 := open(t, dir, nil)
	pub1, kid1 := s1.PublicKey()
	pub2, kid2 := s2.PublicKey()
	if !pub1.Equal(pub2) {
		t.Fatalf("second Open made a new signing key")
	}
	if got, want := kid2, kid1; got != want {
		t.Fatalf("kid = %q, want %q", got, want)
	}
	if got, want := s2.MSISecret, s1.MSISecret; got != want {
		t.Fatalf("MSISecret = %q, want %q", got, want)
	}
	again, err := os.ReadFile(filepath.Join(dir, "signing-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(keyPEM) {
		t.Fatalf("second Open rewrote the signing key file")
	}
	got, err := identity.MSISecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := s1.MSISecret; got != want {
		t.Fatalf("MSISecret(dir) = %q, want %q", got, want)
	}

	// A token from the first instance is good for the second: what a
	// restarted server must accept.
	tok := issue(t, s1, defaultClient(t, s1), armAudience)
	if _, err := s2.Validate(tok, ""); err != nil {
		t.Fatalf("token from before the restart: %v", err)
	}

	// Another directory is another identity.
	s3 := open(t, t.TempDir(), nil)
	if pub3, _ := s3.PublicKey(); pub3.Equal(pub1) {
		t.Fatalf("two directories share a signing key")
	}
	if s3.MSISecret == s1.MSISecret {
		t.Fatalf("two directories share an MSI secret")
	}
}

func TestOpenRejectsCorruptKey(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "signing-key.pem"), []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(filepath.Join(dir, "privlink.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := identity.Open(context.Background(), dir, identity.Options{Store: db}); err == nil {
		t.Fatalf("Open with a corrupt signing key succeeded")
	}
}

func TestAuthenticate(t *testing.T) {
	s := open(t, t.TempDir(), nil)
	tests := []struct {
		name   string
		id     string
		secret string
		want   bool
	}{
		{"default client", identity.DefaultClientID, identity.DefaultClientSecret, true},
		{"client id in upper case", strings.ToUpper(identity.DefaultClientID), identity.DefaultClientSecret, true},
		{"wrong secret", identity.DefaultClientID, "nope", false},
		{"secret is case-sensitive", identity.DefaultClientID, strings.ToUpper(identity.DefaultClientSecret), false},
		{"unknown client", "11111111-1111-1111-1111-111111111111", identity.DefaultClientSecret, false},
		{"empty", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Authenticate(context.Background(), tt.id, tt.secret)
			ok := err == nil
			if got, want := ok, tt.want; got != want {
				t.Fatalf("Authenticate(%q, %q) = %v, want %v", tt.id, tt.secret, got, want)
			}
		})
	}
}

func TestIssueValidateRoundTrip(t *testing.T) {
	c := &clock{t: t0}
	s := open(t, t.TempDir(), c)
	app := defaultClient(t, s)
	mi, err := s.Object(context.Background(), identity.ManagedIdentityObjectID)
	if err != nil {
		t.Fatal(err)
	}
	user := &identity.DirectoryObject{ObjectID: "00000000-0000-4000-8000-0000000000aa", Kind: identity.KindUser, DisplayName: "Alice", UserPrincipalName: "alice@privlink.local"}
	clusterMI := &identity.DirectoryObject{ObjectID: "00000000-0000-4000-8000-0000000000bb", Kind: identity.KindManagedIdentity, AppID: "00000000-0000-4000-8000-0000000000cc",
		ResourceID: "/subscriptions/s/resourceGroups/g/providers/Microsoft.Kusto/clusters/c"}
	appP := arm.Principal{ObjectID: app.ObjectID, TenantID: identity.DefaultTenantID, AppID: app.AppID, Name: app.AppID, Type: arm.PrincipalApplication}
	tests := []struct {
		name   string
		o      *identity.DirectoryObject
		client string
		aud    string
		want   arm.Principal
	}{
		{"service principal", app, "", armAudience, appP},
		{"managed identity", mi, "", armAudience, arm.Principal{ObjectID: mi.ObjectID, TenantID: identity.DefaultTenantID, AppID: mi.AppID, Name: mi.AppID, Type: arm.PrincipalManagedIdentity}},
		{"a resource's managed identity", clusterMI, "", armAudience, arm.Principal{ObjectID: clusterMI.ObjectID, TenantID: identity.DefaultTenantID, AppID: clusterMI.AppID, Name: clusterMI.AppID, Type: arm.PrincipalManagedIdentity}},
		{"user", user, "04b07795-8ddb-461a-bbee-02f9e1bf7b46", armAudience, arm.Principal{ObjectID: user.ObjectID, TenantID: identity.DefaultTenantID, Name: "alice@privlink.local", Type: arm.PrincipalUser}},
	}
	for _, aud := range identity.Audiences {
		tests = append(tests, struct {
			name   string
			o      *identity.DirectoryObject
			client string
			aud    string
			want   arm.Principal
		}{"audience " + aud, app, "", aud, appP})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, exp, err := s.Issue(tt.o, tt.client, tt.aud, issuer)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := exp, t0.Add(time.Hour); !got.Equal(want) {
				t.Fatalf("expiry = %v, want %v (default TTL one hour)", got, want)
			}
			for i := range 2 { // the second call is answered from the cache
				got, aerr := s.Validate(tok, "")
				if aerr != nil {
					t.Fatalf("Validate (call %d): %v", i+1, aerr)
				}
				if !reflect.DeepEqual(*got, tt.want) {
					t.Fatalf("Validate (call %d) = %+v, want %+v", i+1, *got, tt.want)
				}
			}
		})
	}
}

// TestValidateSelfAudience: a token for the server's own address (what a
// custom cloud's metadata names as its Resource Manager) is valid on that
// address only.
func TestValidateSelfAudience(t *testing.T) {
	s := open(t, t.TempDir(), &clock{t: t0})
	app := defaultClient(t, s)
	tests := []struct {
		name, aud, self string
		ok              bool
	}{
		{"own address", "https://127.0.0.1:8443", "https://127.0.0.1:8443", true},
		{"own address with a slash", "https://127.0.0.1:8443/", "https://127.0.0.1:8443", true},
		{"another address", "https://127.0.0.1:9443", "https://127.0.0.1:8443", false},
		{"no address known", "https://127.0.0.1:8443", "", false},
		{"another service", "https://vault.azure.net", "https://127.0.0.1:8443", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A fresh service per case: validated tokens are cached.
			s := open(t, t.TempDir(), &clock{t: t0})
			tok := issue(t, s, app, tt.aud)
			_, aerr := s.Validate(tok, tt.self)
			if ok := aerr == nil; ok != tt.ok {
				t.Fatalf("Validate(aud %s, self %s): %v, want accepted=%v", tt.aud, tt.self, aerr, tt.ok)
			}
			if !tt.ok && aerr.Code != arm.CodeInvalidAuthenticationTokenAudience {
				t.Fatalf("code %s, want %s", aerr.Code, arm.CodeInvalidAuthenticationTokenAudience)
			}
		})
	}
}

// claimsOf decodes a token's payload without checking it.
func claimsOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIssuedClaims(t *testing.T) {
	c := &clock{t: t0}
	s := open(t, t.TempDir(), c)
	p := defaultClient(t, s)
	m := claimsOf(t, issue(t, s, p, armAudience))
	tests := []struct {
		name  string
		claim string
		want  any
	}{
		{"audience", "aud", armAudience},
		{"issuer", "iss", issuer},
		{"tenant", "tid", identity.DefaultTenantID},
		{"object id", "oid", p.ObjectID},
		{"subject", "sub", p.ObjectID},
		{"app id", "appid", identity.DefaultClientID},
		{"token type", "idtyp", "app"},
		{"expiry", "exp", float64(t0.Add(time.Hour).Unix())},
		{"issued at", "iat", float64(t0.Unix())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := m[tt.claim], tt.want; got != want {
				t.Fatalf("claim %q = %v, want %v", tt.claim, got, want)
			}
		})
	}
}

// signingKey reads the private key Open wrote in dir, to forge tokens that
// only differ from real ones in what a test changes.
func signingKey(t *testing.T, dir string) *rsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "signing-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("signing-key.pem is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PrivateKey)
}

func forge(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestValidateRejects(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: t0}
	s := open(t, dir, c)
	other := open(t, t.TempDir(), c)
	key := signingKey(t, dir)
	app := defaultClient(t, s)

	good := issue(t, s, app, armAudience)
	parts := strings.Split(good, ".")
	payload := claimsOf(t, good)
	payload["oid"] = identity.ManagedIdentityID
	forgedPayload, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	sig[len(sig)/2] ^= 0xff
	pub, _ := s.PublicKey()
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}

	valid := func() jwt.MapClaims {
		return jwt.MapClaims{
			"aud": armAudience, "iss": issuer, "tid": identity.DefaultTenantID, "oid": app.ObjectID, "appid": app.AppID,
			"iat": t0.Unix(), "nbf": t0.Add(-5 * time.Minute).Unix(), "exp": t0.Add(time.Hour).Unix(),
		}
	}
	without := func(claim string) jwt.MapClaims { m := valid(); delete(m, claim); return m }

	tests := []struct {
		name  string
		token func() string
		now   time.Time
		code  string
	}{
		{"expired", func() string { return issue(t, s, app, armAudience) }, t0.Add(2 * time.Hour), arm.CodeExpiredAuthenticationToken},
		{"expired beyond the minute of leeway", func() string { return issue(t, s, app, armAudience) }, t0.Add(time.Hour + 2*time.Minute), arm.CodeExpiredAuthenticationToken},
		{"wrong audience", func() string { return issue(t, s, app, "https://vault.azure.net") }, t0, arm.CodeInvalidAuthenticationTokenAudience},
		{"audience differing in case", func() string { return issue(t, s, app, "https://MANAGEMENT.azure.com/") }, t0, arm.CodeInvalidAuthenticationTokenAudience},
		{"empty audience", func() string { return issue(t, s, app, "") }, t0, arm.CodeInvalidAuthenticationTokenAudience},
		{"tampered payload", func() string {
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString(forgedPayload) + "." + parts[2]
		}, t0, arm.CodeInvalidAuthenticationToken},
		{"tampered signature", func() string {
			return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
		}, t0, arm.CodeInvalidAuthenticationToken},
		{"signature removed", func() string { return parts[0] + "." + parts[1] + "." }, t0, arm.CodeInvalidAuthenticationToken},
		{"signed by another service", func() string { return issue(t, other, app, armAudience) }, t0, arm.CodeInvalidAuthenticationToken},
		{"another tenant", func() string {
			m := valid()
			m["tid"] = "99999999-9999-4999-8999-999999999999"
			return forge(t, jwt.SigningMethodRS256, key, m)
		}, t0, arm.CodeInvalidAuthenticationToken},
		{"not yet valid", func() string {
			m := valid()
			m["nbf"] = t0.Add(time.Hour).Unix()
			return forge(t, jwt.SigningMethodRS256, key, m)
		}, t0, arm.CodeInvalidAuthenticationToken},
		{"no expiry", func() string { return forge(t, jwt.SigningMethodRS256, key, without("exp")) }, t0, arm.CodeInvalidAuthenticationToken},
		{"alg none", func() string {
			return forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid())
		}, t0, arm.CodeInvalidAuthenticationToken},
		{"HS256 keyed with the public key", func() string { return forge(t, jwt.SigningMethodHS256, pubDER, valid()) }, t0, arm.CodeInvalidAuthenticationToken},
		{"RS512", func() string { return forge(t, jwt.SigningMethodRS512, key, valid()) }, t0, arm.CodeInvalidAuthenticationToken},
		{"garbage", func() string { return "not-a-jwt" }, t0, arm.CodeInvalidAuthenticationToken},
		{"empty", func() string { return "" }, t0, arm.CodeInvalidAuthenticationToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.Set(t0)
			tok := tt.token()
			c.Set(tt.now)
			p, aerr := s.Validate(tok, "")
			if aerr == nil {
				t.Fatalf("Validate accepted the token as %+v", *p)
			}
			if got, want := aerr.Code, tt.code; got != want {
				t.Fatalf("code = %q (%s), want %q", got, aerr.Message, want)
			}
			if got, want := aerr.HTTPStatus(), http.StatusUnauthorized; got != want {
				t.Fatalf("status = %d, want %d", got, want)
			}
		})
	}

	// The forging above is sound: the same claims, properly signed, pass.
	c.Set(t0)
	if _, aerr := s.Validate(forge(t, jwt.SigningMethodRS256, key, valid()), ""); aerr != nil {
		t.Fatalf("well-formed forged token rejected: %v", aerr)
	}
}

func TestValidateExpiry(t *testing.T) {
	c := &clock{t: t0}
	s := open(t, t.TempDir(), c)
	app := defaultClient(t, s)
	tok := issue(t, s, app, armAudience)

	// Validated (and cached) while fresh, the token must still expire.
	tests := []struct {
		name string
		now  time.Time
		code string // "" for accepted
	}{
		{"fresh", t0, ""},
		{"just before expiry", t0.Add(time.Hour - time.Second), ""},
		{"within the leeway", t0.Add(time.Hour + 30*time.Second), ""},
		{"expired", t0.Add(time.Hour + 2*time.Minute), arm.CodeExpiredAuthenticationToken},
		{"long expired", t0.Add(48 * time.Hour), arm.CodeExpiredAuthenticationToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.Set(tt.now)
			_, aerr := s.Validate(tok, "")
			got := ""
			if aerr != nil {
				got = aerr.Code
			}
			if want := tt.code; got != want {
				t.Fatalf("Validate at %v: code %q, want %q", tt.now, got, want)
			}
		})
	}

	// A shorter TTL is honoured.
	short := openWith(t, t.TempDir(), identity.Options{Now: c.Now, TokenTTL: time.Minute})
	c.Set(t0)
	tok, exp, err := short.Issue(app, "", armAudience, issuer)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := exp, t0.Add(time.Minute); !got.Equal(want) {
		t.Fatalf("expiry = %v, want %v", got, want)
	}
	c.Set(t0.Add(3 * time.Minute))
	if _, aerr := short.Validate(tok, ""); aerr == nil || aerr.Code != arm.CodeExpiredAuthenticationToken {
		t.Fatalf("Validate after a one-minute TTL: %v, want %s", aerr, arm.CodeExpiredAuthenticationToken)
	}
}
