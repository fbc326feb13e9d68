// Package identity is privlink's minimal Microsoft Entra ID: a tenant, a
// service principal and a managed identity with well-known credentials, an
// OpenID discovery document, client-credentials and managed-identity token
// endpoints issuing RS256 JWTs, and validation of those tokens on ARM calls.
package identity

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/fsutil"
)

// Well-known identities of every privlink instance. They are documented in
// the README; anyone who can reach the server can use them, which is the
// point of a local emulator.
const (
	DefaultTenantID       = "00000000-0000-4000-8000-000000000001"
	DefaultSubscriptionID = "00000000-0000-4000-8000-000000000002"
	DefaultClientID       = "00000000-0000-4000-8000-000000000003"
	DefaultClientSecret   = "privlink-dev-secret"
	defaultClientObjectID = "00000000-0000-4000-8000-000000000004"
	ManagedIdentityID     = "00000000-0000-4000-8000-000000000005"
	managedObjectID       = "00000000-0000-4000-8000-000000000006"
)

// Audiences ARM accepts in a token's "aud".
var Audiences = []string{
	"https://management.core.windows.net/", "https://management.core.windows.net",
	"https://management.azure.com/", "https://management.azure.com",
}

// Client is a principal that can get tokens.
type Client struct {
	arm.Principal
	Secret string
}

// Service issues and validates tokens.
type Service struct {
	TenantID string
	key      *rsa.PrivateKey
	kid      string
	now      func() time.Time
	clients  map[string]*Client // by client (app) id
	managed  *Client
	// MSISecret is what IDENTITY_HEADER must carry on managed identity requests.
	MSISecret string
	TokenTTL  time.Duration

	mu    sync.RWMutex
	cache map[string]cached
}

type cached struct {
	p   *arm.Principal
	exp time.Time
}

// Options configure a Service.
type Options struct {
	Now      func() time.Time
	TokenTTL time.Duration
}

// Open loads the signing key and managed identity secret from dir, creating
// them on first use.
func Open(dir string, o Options) (*Service, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = time.Hour
	}
	key, err := loadOrCreateKey(filepath.Join(dir, "signing-key.pem"))
	if err != nil {
		return nil, err
	}
	secret, err := MSISecret(dir)
	if err != nil {
		return nil, err
	}
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	s := &Service{
		TenantID:  DefaultTenantID,
		key:       key,
		kid:       fmt.Sprintf("%x", pub[len(pub)-8:]),
		now:       o.Now,
		clients:   map[string]*Client{},
		MSISecret: secret,
		TokenTTL:  o.TokenTTL,
		cache:     map[string]cached{},
	}
	s.AddClient(&Client{Principal: arm.Principal{ObjectID: defaultClientObjectID, TenantID: DefaultTenantID, AppID: DefaultClientID, Name: DefaultClientID, Type: arm.PrincipalApplication}, Secret: DefaultClientSecret})
	s.managed = &Client{Principal: arm.Principal{ObjectID: managedObjectID, TenantID: DefaultTenantID, AppID: ManagedIdentityID, Name: ManagedIdentityID, Type: arm.PrincipalManagedIdentity}}
	return s, nil
}

// AddClient registers a client that can authenticate with its secret.
func (s *Service) AddClient(c *Client) { s.clients[strings.ToLower(c.AppID)] = c }

// Authenticate checks a client id and secret.
func (s *Service) Authenticate(clientID, secret string) (*Client, bool) {
	c, ok := s.clients[strings.ToLower(clientID)]
	if !ok || c.Secret != secret {
		return nil, false
	}
	return c, true
}

// ManagedIdentity is the identity the managed identity endpoints hand out.
func (s *Service) ManagedIdentity() *Client { return s.managed }

// claims are the JWT claims privlink writes, shaped like Entra ID access tokens.
type claims struct {
	jwt.RegisteredClaims
	AppID    string `json:"appid,omitempty"`
	AppIDAcr string `json:"appidacr,omitempty"`
	IDType   string `json:"idtyp,omitempty"`
	OID      string `json:"oid"`
	TID      string `json:"tid"`
	Name     string `json:"name,omitempty"`
	Ver      string `json:"ver"`
}

// issued is what Issue signs: claims with "aud" as one string, as Entra ID
// writes it. jwt.ClaimStrings would write an array, which clients that read
// their own token (go-azure-sdk's claims.ParseClaims, used by Terraform's
// azurerm provider) fail to decode into their string field.
type issued struct {
	claims
	Aud string `json:"aud"`
}

// Issue signs a token for p and audience; issuer is the authority URL the
// client used.
func (s *Service) Issue(p *arm.Principal, audience, issuer string) (string, time.Time, error) {
	now := s.now()
	exp := now.Add(s.TokenTTL)
	idtyp := "app"
	if p.Type == arm.PrincipalUser {
		idtyp = "user"
	}
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   p.ObjectID,
			Audience:  jwt.ClaimStrings{audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(-5 * time.Minute)),
			ExpiresAt: jwt.NewNumericDate(exp),
			ID:        randomID(),
		},
		AppID: p.AppID, AppIDAcr: "1", IDType: idtyp, OID: p.ObjectID, TID: p.TenantID, Name: p.Name, Ver: "1.0",
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, issued{claims: c, Aud: audience})
	t.Header["kid"] = s.kid
	signed, err := t.SignedString(s.key)
	return signed, exp, err
}

// Validate checks a bearer token for ARM and returns its principal, or the
// ARM error (401) a bad token earns.
//
// self is the base URL the request came in on ("https://127.0.0.1:8443"):
// a token for it is valid too, as tools that read a custom cloud from
// /metadata/endpoints (go-azure-sdk, hence Terraform's azurerm) ask for a
// token whose audience is that cloud's Resource Manager endpoint.
func (s *Service) Validate(token, self string) (*arm.Principal, *arm.Error) {
	now := s.now()
	s.mu.RLock()
	c, ok := s.cache[token]
	s.mu.RUnlock()
	if ok && now.Before(c.exp) {
		return c.p, nil
	}
	var cl claims
	_, err := jwt.ParseWithClaims(token, &cl, func(*jwt.Token) (any, error) { return &s.key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(s.now), jwt.WithLeeway(time.Minute),
		// Without "exp" a token would never expire (and the cache below needs it).
		jwt.WithExpirationRequired())
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		exp := "unknown"
		if cl.ExpiresAt != nil {
			exp = cl.ExpiresAt.UTC().Format("01/02/2006 15:04:05")
		}
		return nil, arm.Errorf(arm.CodeExpiredAuthenticationToken, "The access token expiry UTC time '%s' is earlier than current UTC time '%s'.", exp, now.UTC().Format("01/02/2006 15:04:05"))
	case err != nil:
		return nil, arm.Errorf(arm.CodeInvalidAuthenticationToken, "The access token is invalid.")
	}
	aud := ""
	if len(cl.Audience) > 0 {
		aud = cl.Audience[0]
	}
	if !validAudience(aud) && (self == "" || strings.TrimSuffix(aud, "/") != strings.TrimSuffix(self, "/")) {
		return nil, arm.Errorf(arm.CodeInvalidAuthenticationTokenAudience, "The access token has been obtained for wrong audience or resource '%s'. It should exactly match with one of the allowed audiences '%s'.", aud, strings.Join(Audiences, "','"))
	}
	if cl.TID != s.TenantID {
		return nil, arm.Errorf(arm.CodeInvalidAuthenticationToken, "The access token is from the wrong issuer '%s'. It must match the tenant '%s' associated with this subscription.", cl.Issuer, s.TenantID)
	}
	typ := arm.PrincipalApplication
	switch {
	case cl.IDType == "user":
		typ = arm.PrincipalUser
	case cl.OID == s.managed.ObjectID:
		typ = arm.PrincipalManagedIdentity
	}
	p := &arm.Principal{ObjectID: cl.OID, TenantID: cl.TID, AppID: cl.AppID, Name: cl.Name, Type: typ}
	if p.Name == "" {
		p.Name = cl.AppID
	}
	s.mu.Lock()
	if len(s.cache) > 10000 {
		s.cache = map[string]cached{}
	}
	s.cache[token] = cached{p: p, exp: cl.ExpiresAt.Time}
	s.mu.Unlock()
	return p, nil
}

func validAudience(aud string) bool {
	for _, a := range Audiences {
		if a == aud {
			return true
		}
	}
	return false
}

// PublicKey is the token signing key, for the JWKS document.
func (s *Service) PublicKey() (*rsa.PublicKey, string) { return &s.key.PublicKey, s.kid }

func loadOrCreateKey(path string) (*rsa.PrivateKey, error) {
	if b, err := os.ReadFile(path); err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("identity: %s holds no PEM key", path)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("identity: %s: %w", path, err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("identity: %s is not an RSA key", path)
		}
		return rk, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	if err := fsutil.WriteFileOnce(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	// Another process may have won the race to create it: use what is on disk.
	return loadOrCreateKey(path)
}

// MSISecret returns the managed identity header secret kept in dir,
// creating it on first use.
func MSISecret(dir string) (string, error) {
	path := filepath.Join(dir, "msi-secret")
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if err := fsutil.WriteFileOnce(path, []byte(randomID()+"\n"), 0o600); err != nil {
		return "", err
	}
	return MSISecret(dir)
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}
