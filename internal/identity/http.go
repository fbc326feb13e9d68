package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/privlink/privlink/internal/store"
)

// BaseURL is the scheme and host a request came in on, which is what the
// authority URLs in documents and tokens must match.
func BaseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// publicHosts are Azure's public Resource Manager names, which requests
// through privlink's transparent proxy carry in their Host.
var publicHosts = []string{"management.azure.com", "management.core.windows.net"}

// PublicHost reports whether host (a request's Host, maybe with a port) is
// one of Azure's public Resource Manager names.
func PublicHost(host string) bool {
	h := strings.ToLower(host)
	if hh, port, err := net.SplitHostPort(h); err == nil && port == "443" {
		h = hh
	}
	for _, p := range publicHosts {
		if h == p {
			return true
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // '<', '>' and '&' as they are, as Entra ID writes them
	_ = enc.Encode(v)
}

// oauthError writes an Entra ID style error, which MSAL parses.
// unavailable answers a token request while the shared database cannot
// be reached: Entra ID's transient error (AADSTS90033, OAuth's
// temporarily_unavailable) with Retry-After, which MSAL and the Azure
// Identity libraries retry, instead of a server error.
func unavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "5")
	oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", 90033, "A transient error has occurred. Please try again.")
}

func oauthError(w http.ResponseWriter, status int, code string, aadsts int, desc string) {
	writeJSON(w, status, map[string]any{
		"error":             code,
		"error_description": "AADSTS" + strconv.Itoa(aadsts) + ": " + desc,
		"error_codes":       []int{aadsts},
		"timestamp":         time.Now().UTC().Format("2006-01-02 15:04:05Z"),
		"trace_id":          randomID(),
		"correlation_id":    randomID(),
	})
}

// ADFSTenant is the tenant segment of an AD FS authority ("https://host/adfs").
// MSAL skips instance discovery for such an authority (it is what Azure
// Stack Hub uses), so a client configured with privlink's own address as
// its authority host and "adfs" as its tenant signs in without asking
// login.microsoftonline.com anything and without DisableInstanceDiscovery.
const ADFSTenant = "adfs"

func (s *Service) knownTenant(t string) bool {
	return strings.EqualFold(t, s.TenantID) || strings.EqualFold(t, "organizations") || strings.EqualFold(t, "common") || strings.EqualFold(t, ADFSTenant)
}

// OpenIDConfiguration serves /{tenant}/v2.0/.well-known/openid-configuration
// (and the v1 form without v2.0).
func (s *Service) OpenIDConfiguration(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	if !s.knownTenant(tenant) {
		oauthError(w, http.StatusBadRequest, "invalid_tenant", 90002, "Tenant '"+tenant+"' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.")
		return
	}
	if strings.EqualFold(tenant, ADFSTenant) {
		s.adfsConfiguration(w, r)
		return
	}
	if !strings.EqualFold(tenant, s.TenantID) {
		tenant = s.TenantID
	}
	base := BaseURL(r) + "/" + tenant
	v2 := strings.Contains(r.URL.Path, "/v2.0/")
	issuer, token, auth, keys := base+"/v2.0", base+"/oauth2/v2.0/token", base+"/oauth2/v2.0/authorize", base+"/discovery/v2.0/keys"
	if !v2 {
		issuer, token, auth, keys = base+"/", base+"/oauth2/token", base+"/oauth2/authorize", base+"/discovery/keys"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                issuer,
		"token_endpoint":                        token,
		"authorization_endpoint":                auth,
		"jwks_uri":                              keys,
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "token id_token", "token"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"tenant_region_scope":                   "WW",
		"cloud_instance_name":                   "privlink",
		"cloud_graph_host_name":                 "graph.windows.net",
		"msgraph_host":                          "graph.microsoft.com",
	})
}

// adfsConfiguration serves /adfs/.well-known/openid-configuration, the
// discovery document of an AD FS authority, whose issuer is the authority
// itself ("https://host/adfs").
func (s *Service) adfsConfiguration(w http.ResponseWriter, r *http.Request) {
	base := BaseURL(r) + "/" + ADFSTenant
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                base,
		"token_endpoint":                        base + "/oauth2/token",
		"authorization_endpoint":                base + "/oauth2/authorize",
		"jwks_uri":                              base + "/discovery/keys",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "token id_token", "token"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"access_token_issuer":                   base,
	})
}

// Keys serves the JWKS document with the token signing key.
func (s *Service) Keys(w http.ResponseWriter, r *http.Request) {
	pub, kid := s.PublicKey()
	enc := base64.RawURLEncoding
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]any{{
		"kty": "RSA", "use": "sig", "kid": kid, "alg": "RS256",
		"n": enc.EncodeToString(pub.N.Bytes()),
		"e": enc.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

// InstanceDiscovery answers MSAL's instance discovery for privlink's host,
// for clients that cannot turn it off.
func (s *Service) InstanceDiscovery(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	writeJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": BaseURL(r) + "/" + s.TenantID + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata":                  []map[string]any{{"preferred_network": host, "preferred_cache": host, "aliases": []string{host}}},
	})
}

// TenantDomain is the tenant's domain: users' principal names end in it.
const TenantDomain = "privlink.local"

// UserRealm serves GET /common/UserRealm/{username}, which MSAL asks before
// a username/password sign-in: users of the tenant's domain are "Managed"
// (their passwords are checked by the token endpoint itself), other names
// are "Unknown", as Entra ID answers for a domain it does not know.
func (s *Service) UserRealm(w http.ResponseWriter, r *http.Request) {
	user := r.PathValue("user")
	_, domain, _ := strings.Cut(user, "@")
	typ := "Unknown"
	if strings.EqualFold(domain, TenantDomain) {
		typ = "Managed"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"ver": "1.0", "account_type": typ, "domain_name": strings.ToLower(domain),
		"cloud_instance_name": "microsoftonline.com", "cloud_audience_urn": "urn:federation:MicrosoftOnline",
	})
}

// Token serves the token endpoints, /{tenant}/oauth2/v2.0/token
// (scope=…/.default) and /{tenant}/oauth2/token (resource=…), for three
// grants: client_credentials (service principals), password (users, the
// resource owner password grant that azidentity.UsernamePasswordCredential
// and 'privlink login --username' use) and refresh_token (the refresh
// tokens the password grant hands out).
func (s *Service) Token(w http.ResponseWriter, r *http.Request) {
	tenant := r.PathValue("tenant")
	if !s.knownTenant(tenant) {
		oauthError(w, http.StatusBadRequest, "invalid_tenant", 90002, "Tenant '"+tenant+"' not found.")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must be application/x-www-form-urlencoded.")
		return
	}
	f := r.PostForm
	var (
		o      *DirectoryObject
		client string
		err    error
	)
	gt := f.Get("grant_type")
	switch gt {
	case "client_credentials":
		id, secret, basic := r.BasicAuth()
		if !basic {
			id, secret = f.Get("client_id"), f.Get("client_secret")
		}
		o, err = s.Authenticate(r.Context(), id, secret)
	case "password":
		client = f.Get("client_id")
		if client == "" {
			oauthError(w, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
			return
		}
		o, err = s.AuthenticateUser(r.Context(), f.Get("username"), f.Get("password"))
	case "refresh_token":
		o, client, err = s.redeem(r.Context(), f.Get("refresh_token"), f.Get("client_id"))
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '"+gt+"'. privlink supports client_credentials, password and refresh_token.")
		return
	}
	var ae *AuthError
	if errors.As(err, &ae) {
		oauthError(w, ae.Status, ae.Code, ae.AADSTS, ae.Description)
		return
	}
	if errors.Is(err, store.ErrUnavailable) {
		unavailable(w)
		return
	}
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", 50000, "There was an error reading the directory.")
		return
	}
	// The v2.0 endpoint takes scope=…/.default; the v1 endpoint takes
	// resource=…, except that MSAL sends scope there too (AD FS authorities
	// have only the v1 path), and then gets the v2 answer it parses.
	v2 := strings.Contains(r.URL.Path, "/v2.0/") || (f.Get("resource") == "" && f.Get("scope") != "")
	audience := f.Get("resource")
	if v2 {
		audience = scopeAudience(f.Get("scope"), gt == "client_credentials")
		if audience == "" {
			oauthError(w, http.StatusBadRequest, "invalid_scope", 1002012, "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).")
			return
		}
	}
	if audience == "" {
		oauthError(w, http.StatusBadRequest, "invalid_resource", 50001, "The resource is missing from the request.")
		return
	}
	issuer := BaseURL(r) + "/" + s.TenantID + "/v2.0"
	tok, exp, err := s.Issue(o, client, audience, issuer)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", 50000, "There was an error issuing a token.")
		return
	}
	secs := int(time.Until(exp).Seconds())
	body := map[string]any{"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok}
	if !v2 {
		body = map[string]any{"token_type": "Bearer", "expires_in": strconv.Itoa(secs), "ext_expires_in": strconv.Itoa(secs),
			"expires_on": strconv.FormatInt(exp.Unix(), 10), "not_before": strconv.FormatInt(time.Now().Unix(), 10), "resource": audience, "access_token": tok}
	}
	if o.Kind == KindUser {
		// A user's sign-in also gives the client who signed in (an id token
		// and client_info, from which MSAL makes its account) and a refresh
		// token, which MSAL uses when the access token expires.
		if err := s.userTokens(body, o, client, issuer); err != nil {
			oauthError(w, http.StatusInternalServerError, "server_error", 50000, "There was an error issuing a token.")
			return
		}
		// The scopes granted: those asked for (MSAL refuses an answer
		// that declines any of them).
		if sc := f.Get("scope"); sc != "" {
			body["scope"] = sc
		} else {
			body["scope"] = audience + "/user_impersonation"
		}
	}
	writeJSON(w, http.StatusOK, body)
}

// scopeAudience is the resource a v2.0 scope parameter asks for:
// "{resource}/.default" or, for users, "{resource}/{permission}"
// (openid, profile and offline_access aside).
func scopeAudience(scope string, app bool) string {
	for _, sc := range strings.Fields(scope) {
		if strings.HasSuffix(sc, "/.default") {
			return strings.TrimSuffix(sc, "/.default")
		}
	}
	if app {
		return ""
	}
	for _, sc := range strings.Fields(scope) {
		if i := strings.LastIndexByte(sc, '/'); i > len("https://") {
			return sc[:i]
		}
	}
	return ""
}

// refreshTTL is how long a refresh token may be redeemed.
const refreshTTL = 24 * time.Hour

// refreshClaims are a refresh token's: privlink signs them itself, so that
// redeeming one needs no state.
type refreshClaims struct {
	jwt.RegisteredClaims
	Use    string `json:"use"`
	Client string `json:"client"`
}

// userTokens adds to a user's token answer its id token, client_info and
// refresh token.
func (s *Service) userTokens(body map[string]any, o *DirectoryObject, client, issuer string) error {
	now := s.now()
	id := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"aud": client, "iss": issuer, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(s.TokenTTL).Unix(),
		"sub": o.ObjectID, "oid": o.ObjectID, "tid": s.TenantID, "name": o.DisplayName,
		"preferred_username": o.UserPrincipalName, "ver": "2.0",
	})
	id.Header["kid"] = s.kid
	idToken, err := id.SignedString(s.key)
	if err != nil {
		return err
	}
	rt := jwt.NewWithClaims(jwt.SigningMethodRS256, refreshClaims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: o.ObjectID, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(refreshTTL)), ID: randomID()},
		Use:              "refresh", Client: client,
	})
	rt.Header["kid"] = s.kid
	refresh, err := rt.SignedString(s.key)
	if err != nil {
		return err
	}
	info, _ := json.Marshal(map[string]string{"uid": o.ObjectID, "utid": s.TenantID})
	body["id_token"] = idToken
	body["client_info"] = base64.RawURLEncoding.EncodeToString(info)
	body["refresh_token"] = refresh
	return nil
}

// redeem checks a refresh token for the client that got it and returns
// the user it was issued to, who must still exist (400 invalid_grant
// AADSTS70000/AADSTS700082 otherwise).
func (s *Service) redeem(ctx context.Context, token, client string) (*DirectoryObject, string, error) {
	var cl refreshClaims
	_, err := jwt.ParseWithClaims(token, &cl, func(*jwt.Token) (any, error) { return &s.key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(s.now), jwt.WithExpirationRequired())
	if errors.Is(err, jwt.ErrTokenExpired) {
		return nil, "", &AuthError{Status: 400, Code: "invalid_grant", AADSTS: 700082, Description: "The refresh token has expired due to inactivity."}
	}
	if err != nil || cl.Use != "refresh" || (client != "" && !strings.EqualFold(client, cl.Client)) {
		return nil, "", &AuthError{Status: 400, Code: "invalid_grant", AADSTS: 70000, Description: "Provided grant is invalid or malformed."}
	}
	o, err := s.Object(ctx, cl.Subject)
	if errors.Is(err, ErrNotFound) {
		return nil, "", &AuthError{Status: 400, Code: "invalid_grant", AADSTS: 50034, Description: "The user account {EUII Hidden} does not exist in the " + s.TenantID + " directory."}
	}
	return o, cl.Client, err
}

func msiResource(r *http.Request) string {
	res := r.URL.Query().Get("resource")
	return strings.TrimSuffix(res, "/.default")
}

// AppServiceMSI serves the App Service managed identity endpoint
// (IDENTITY_ENDPOINT, with the X-IDENTITY-HEADER secret).
func (s *Service) AppServiceMSI(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-IDENTITY-HEADER") != s.MSISecret {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"statusCode": 401, "message": "The X-IDENTITY-HEADER header is missing or wrong. Use the IDENTITY_HEADER value that 'privlink env' prints."})
		return
	}
	s.msi(w, r, false)
}

// IMDSMSI serves the VM (IMDS) managed identity endpoint, which needs the
// header "Metadata: true".
func (s *Service) IMDSMSI(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Metadata"), "true") {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request", "error_description": "Required metadata header not specified"})
		return
	}
	s.msi(w, r, true)
}

// hostedIdentity picks the identity a managed identity request asks for:
// by client_id (application id), object_id or principal_id (object id),
// mi_res_id or msi_res_id (the resource id of a user-assigned identity, or
// of a resource with a system-assigned identity); with none of them, the
// default managed identity. Any managed identity of the directory may be
// asked for, as if privlink's host had them all attached. Besides managed
// identities it serves the default service principal: 'privlink env'
// exports that principal's id as AZURE_CLIENT_ID and ARM_CLIENT_ID (for
// the client-secret login), and DefaultAzureCredential and Terraform's
// azapi pass that same variable to the managed identity endpoint as the
// user-assigned identity to use, so that a shell without the secret still
// signs in, as the principal it names.
func (s *Service) hostedIdentity(ctx context.Context, q url.Values) (*DirectoryObject, error) {
	var o *DirectoryObject
	err := s.store.View(ctx, func(tx store.Tx) error {
		var err error
		for _, k := range []string{"client_id", "object_id", "principal_id", "mi_res_id", "msi_res_id"} {
			v := q.Get(k)
			if v == "" {
				continue
			}
			switch k {
			case "client_id":
				o, err = FindApp(tx, v)
			case "object_id", "principal_id":
				o, err = GetObject(tx, v)
			default:
				o, err = FindResource(tx, v)
			}
			return err
		}
		o, err = GetObject(tx, managedObjectID)
		return err
	})
	if err == nil && o.Kind != KindManagedIdentity && !strings.EqualFold(o.ObjectID, defaultClientObjectID) {
		return nil, ErrNotFound
	}
	return o, err
}

func (s *Service) msi(w http.ResponseWriter, r *http.Request, imds bool) {
	res := msiResource(r)
	if res == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request", "error_description": "Required query variable 'resource' is missing"})
		return
	}
	m, err := s.hostedIdentity(r.Context(), r.URL.Query())
	if errors.Is(err, ErrNotFound) {
		// Each endpoint's own answer: IMDS's OAuth error, App Service's
		// statusCode document.
		if imds {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request", "error_description": "Identity not found"})
		} else {
			writeJSON(w, http.StatusBadRequest, map[string]any{"statusCode": 400, "message": "Unable to load the proper Managed Identity.", "correlationId": randomID()})
		}
		return
	}
	if errors.Is(err, store.ErrUnavailable) {
		unavailable(w)
		return
	}
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "server_error"})
		return
	}
	tok, exp, err := s.Issue(m, "", res, BaseURL(r)+"/"+s.TenantID+"/v2.0")
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": "server_error"})
		return
	}
	body := map[string]any{"access_token": tok, "expires_on": strconv.FormatInt(exp.Unix(), 10), "resource": res, "token_type": "Bearer", "client_id": m.AppID}
	if imds {
		body["expires_in"] = strconv.Itoa(int(time.Until(exp).Seconds()))
		body["not_before"] = strconv.FormatInt(time.Now().Unix(), 10)
		body["refresh_token"] = ""
	}
	writeJSON(w, http.StatusOK, body)
}
