// Package identity is privlink's minimal Microsoft Entra ID: a tenant, a
// service principal and a managed identity with well-known credentials, an
// OpenID discovery document, client-credentials and managed-identity token
// endpoints issuing RS256 JWTs, and validation of those tokens on ARM calls.
package identity

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/fsutil"
	"github.com/privlink/privlink/internal/store"
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

// Service issues and validates tokens for the principals of privlink's
// tenant, which it keeps in the store's directory (directory.go).
type Service struct {
	TenantID string
	key      *rsa.PrivateKey
	kid      string
	now      func() time.Time
	store    store.Store
	// MSISecret is what IDENTITY_HEADER must carry on managed identity requests.
	MSISecret string
	TokenTTL  time.Duration

	mu    sync.RWMutex
	cache map[string]cached
}

type cached struct {
	p   *arm.Principal
	exp time.Time
	aud string
}

// Options configure a Service.
type Options struct {
	// Store keeps the directory (required).
	Store    store.Store
	Now      func() time.Time
	TokenTTL time.Duration
}

// Open loads the signing key and managed identity secret from dir,
// creating them on first use, and makes sure the directory holds the
// default service principal and managed identity.
func Open(ctx context.Context, dir string, o Options) (*Service, error) {
	if o.Store == nil {
		return nil, errors.New("identity: no store")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = time.Hour
	}
	key, err := loadOrCreateKey(filepath.Join(dir, SigningKeyFile))
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
		store:     o.Store,
		MSISecret: secret,
		TokenTTL:  o.TokenTTL,
		cache:     map[string]cached{},
	}
	if err := s.ensureDefaults(ctx); err != nil {
		return nil, fmt.Errorf("identity: default principals: %w", err)
	}
	return s, nil
}

// Default principals' object ids, documented in the README with the
// client ids above.
const (
	DefaultClientObjectID      = defaultClientObjectID
	ManagedIdentityObjectID    = managedObjectID
	defaultDisplayName         = "privlink"
	defaultManagedIdentityName = "privlink-managed-identity"
)

// ensureDefaults creates the default service principal and managed
// identity when the directory does not hold them (a new data directory,
// or one from before the directory existed).
func (s *Service) ensureDefaults(ctx context.Context) error {
	now := s.now().UTC()
	return s.store.Update(ctx, func(tx store.Tx) error {
		if _, err := GetObject(tx, defaultClientObjectID); errors.Is(err, store.ErrNotFound) {
			o := &DirectoryObject{ObjectID: defaultClientObjectID, Kind: KindServicePrincipal, AppID: DefaultClientID, DisplayName: defaultDisplayName,
				Builtin: true, Created: now, Secrets: []Secret{NewSecret(DefaultClientSecret, "privlink default secret", now, time.Time{})}}
			if err := SaveObject(tx, o); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		if _, err := GetObject(tx, managedObjectID); errors.Is(err, store.ErrNotFound) {
			o := &DirectoryObject{ObjectID: managedObjectID, Kind: KindManagedIdentity, AppID: ManagedIdentityID, DisplayName: defaultManagedIdentityName,
				Builtin: true, Created: now}
			return SaveObject(tx, o)
		} else if err != nil {
			return err
		}
		return nil
	})
}

// PrincipalOf is the caller a token of o stands for.
func (s *Service) PrincipalOf(o *DirectoryObject) *arm.Principal {
	p := &arm.Principal{ObjectID: o.ObjectID, TenantID: s.TenantID, AppID: o.AppID, Name: o.AppID, Type: arm.PrincipalApplication}
	switch o.Kind {
	case KindUser:
		p.Type, p.Name, p.AppID = arm.PrincipalUser, o.UserPrincipalName, ""
	case KindManagedIdentity:
		p.Type = arm.PrincipalManagedIdentity
	}
	return p
}

// AuthError is why a sign-in was refused, as Entra ID answers it.
type AuthError struct {
	// Status is the HTTP status (400 or 401).
	Status int
	// Code is the OAuth error ("invalid_client", "invalid_grant", ...).
	Code string
	// AADSTS is Entra ID's error number.
	AADSTS int
	// Description follows "AADSTS{n}: ".
	Description string
}

func (e *AuthError) Error() string { return fmt.Sprintf("AADSTS%d: %s", e.AADSTS, e.Description) }

// Authenticate checks a client id and secret: the service principal, or an
// *AuthError (unknown application: 400 unauthorized_client AADSTS700016;
// wrong or expired secret: 401 invalid_client AADSTS7000215).
func (s *Service) Authenticate(ctx context.Context, clientID, secret string) (*DirectoryObject, error) {
	var o *DirectoryObject
	err := s.store.View(ctx, func(tx store.Tx) error {
		var err error
		o, err = FindApp(tx, clientID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) || (err == nil && o.Kind != KindServicePrincipal) {
		return nil, &AuthError{Status: 400, Code: "unauthorized_client", AADSTS: 700016, Description: "Application with identifier '" + clientID + "' was not found in the directory '" + s.TenantID + "'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."}
	}
	if err != nil {
		return nil, err
	}
	if !o.Verify(secret, s.now()) {
		return nil, &AuthError{Status: 401, Code: "invalid_client", AADSTS: 7000215, Description: "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '" + clientID + "'."}
	}
	return o, nil
}

// AuthenticateUser checks a user principal name and password: the user,
// or an *AuthError (unknown user: 400 invalid_grant AADSTS50034; wrong
// password: 400 invalid_grant AADSTS50126).
func (s *Service) AuthenticateUser(ctx context.Context, upn, password string) (*DirectoryObject, error) {
	var o *DirectoryObject
	err := s.store.View(ctx, func(tx store.Tx) error {
		var err error
		o, err = FindUser(tx, upn)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, &AuthError{Status: 400, Code: "invalid_grant", AADSTS: 50034, Description: "The user account {EUII Hidden} does not exist in the " + s.TenantID + " directory. To sign into this application, the account must be added to the directory."}
	}
	if err != nil {
		return nil, err
	}
	if !o.Verify(password, s.now()) {
		return nil, &AuthError{Status: 400, Code: "invalid_grant", AADSTS: 50126, Description: "Error validating credentials due to invalid username or password."}
	}
	return o, nil
}

// Object reads a directory object by object id (ErrNotFound if absent).
func (s *Service) Object(ctx context.Context, objectID string) (*DirectoryObject, error) {
	var o *DirectoryObject
	err := s.store.View(ctx, func(tx store.Tx) error {
		var err error
		o, err = GetObject(tx, objectID)
		return err
	})
	return o, err
}

// claims are the JWT claims privlink writes, shaped like Entra ID access tokens.
type claims struct {
	jwt.RegisteredClaims
	// AppID is the client application: the service principal or managed
	// identity itself, or the public client a user signed in with.
	AppID string `json:"appid,omitempty"`
	// AppIDAcr is how the client authenticated: "0" public client, "1"
	// secret, "2" certificate or managed identity.
	AppIDAcr string `json:"appidacr,omitempty"`
	// AZP repeats appid under its v2.0 name, for clients that read that.
	AZP    string `json:"azp,omitempty"`
	IDType string `json:"idtyp,omitempty"`
	OID    string `json:"oid"`
	TID    string `json:"tid"`
	// Name is a user's display name.
	Name string `json:"name,omitempty"`
	// UPN and UniqueName are a user's principal name.
	UPN        string `json:"upn,omitempty"`
	UniqueName string `json:"unique_name,omitempty"`
	// Scp is a delegated (user) token's scope.
	Scp string `json:"scp,omitempty"`
	// MIResourceID (xms_mirid) is the resource a managed identity belongs to.
	MIResourceID string `json:"xms_mirid,omitempty"`
	Ver          string `json:"ver"`
}

// issued is what Issue signs: claims with "aud" as one string, as Entra ID
// writes it. jwt.ClaimStrings would write an array, which clients that read
// their own token (go-azure-sdk's claims.ParseClaims, used by Terraform's
// azurerm provider) fail to decode into their string field.
type issued struct {
	claims
	Aud string `json:"aud"`
}

// Issue signs an access token for o and audience, shaped as Entra ID's
// v1.0 tokens for Resource Manager are: oid, tid, appid and idtyp always;
// upn, unique_name, name and scp for users; xms_mirid for managed
// identities of a resource. client is the application a user signed in
// with (ignored for the others, whose application is themselves); issuer
// is the authority URL the client used.
func (s *Service) Issue(o *DirectoryObject, client, audience, issuer string) (string, time.Time, error) {
	now := s.now()
	exp := now.Add(s.TokenTTL)
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   o.ObjectID,
			Audience:  jwt.ClaimStrings{audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(-5 * time.Minute)),
			ExpiresAt: jwt.NewNumericDate(exp),
			ID:        randomID(),
		},
		AppID: o.AppID, AppIDAcr: "1", IDType: "app", OID: o.ObjectID, TID: s.TenantID, Ver: "1.0",
	}
	switch o.Kind {
	case KindUser:
		c.AppID, c.AppIDAcr, c.IDType = client, "0", "user"
		c.UPN, c.UniqueName, c.Name, c.Scp = o.UserPrincipalName, o.UserPrincipalName, o.DisplayName, "user_impersonation"
	case KindManagedIdentity:
		c.AppIDAcr, c.MIResourceID = "2", o.ResourceID
	}
	c.AZP = c.AppID
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
	return s.validate(token, func(aud string) *arm.Error {
		if !validAudience(aud) && (self == "" || strings.TrimSuffix(aud, "/") != strings.TrimSuffix(self, "/")) {
			return arm.Errorf(arm.CodeInvalidAuthenticationTokenAudience, "The access token has been obtained for wrong audience or resource '%s'. It should exactly match with one of the allowed audiences '%s'.", aud, strings.Join(Audiences, "','"))
		}
		return nil
	})
}

// GraphAudiences are the audiences of a token for Microsoft Graph: its
// resource URI, with or without the slash, and its application id.
var GraphAudiences = []string{"https://graph.microsoft.com", "https://graph.microsoft.com/", "00000003-0000-0000-c000-000000000000"}

// ValidateGraph checks a bearer token for Microsoft Graph (GraphAudiences)
// and returns its principal; a token for another audience is refused
// (InvalidAuthenticationToken, 401, Graph's code for it).
func (s *Service) ValidateGraph(token string) (*arm.Principal, *arm.Error) {
	return s.validate(token, func(aud string) *arm.Error {
		if !slices.Contains(GraphAudiences, aud) {
			return &arm.Error{Code: arm.CodeInvalidAuthenticationToken, Message: "Invalid audience.", Status: http.StatusUnauthorized}
		}
		return nil
	})
}

// validate checks a token's signature, expiry and tenant, and its audience
// with audience, and returns its principal.
func (s *Service) validate(token string, audience func(aud string) *arm.Error) (*arm.Principal, *arm.Error) {
	now := s.now()
	s.mu.RLock()
	c, ok := s.cache[token]
	s.mu.RUnlock()
	if ok && now.Before(c.exp) {
		// A token is cached with its audience: one for ARM is not one for
		// Graph.
		if aerr := audience(c.aud); aerr != nil {
			return nil, aerr
		}
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
	if aerr := audience(aud); aerr != nil {
		return nil, aerr
	}
	if cl.TID != s.TenantID {
		return nil, arm.Errorf(arm.CodeInvalidAuthenticationToken, "The access token is from the wrong issuer '%s'. It must match the tenant '%s' associated with this subscription.", cl.Issuer, s.TenantID)
	}
	// The principal is what the token says; like ARM, privlink does not
	// look it up again: a token stays valid until it expires.
	p := &arm.Principal{ObjectID: cl.OID, TenantID: cl.TID, AppID: cl.AppID, Name: cl.AppID, Type: arm.PrincipalApplication}
	switch {
	case cl.IDType == "user":
		p.Type, p.Name, p.AppID = arm.PrincipalUser, cl.UPN, ""
	case cl.MIResourceID != "" || strings.EqualFold(cl.OID, managedObjectID):
		p.Type = arm.PrincipalManagedIdentity
	}
	s.mu.Lock()
	if len(s.cache) > 10000 {
		s.cache = map[string]cached{}
	}
	s.cache[token] = cached{p: p, exp: cl.ExpiresAt.Time, aud: aud}
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

// SigningKeyFile is the token signing key's file in the data directory
// (PKCS#8 PEM, RSA 2048).
const SigningKeyFile = "signing-key.pem"

// MSISecretFile is the managed identity header secret's file in the data
// directory.
const MSISecretFile = "msi-secret"

// EnsureKeys creates the token signing key and the managed identity
// secret in dir unless they exist (what Open would create), so that
// replicas can share them before any of them opens the service.
func EnsureKeys(dir string) error {
	if _, err := loadOrCreateKey(filepath.Join(dir, SigningKeyFile)); err != nil {
		return err
	}
	_, err := MSISecret(dir)
	return err
}

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
	path := filepath.Join(dir, MSISecretFile)
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
