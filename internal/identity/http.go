package identity

import (
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
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

// Token serves the client-credentials grant at /{tenant}/oauth2/v2.0/token
// (scope=…/.default) and /{tenant}/oauth2/token (resource=…).
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
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '"+gt+"'. privlink supports client_credentials.")
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	c, ok := s.Authenticate(id, secret)
	if !ok {
		if _, known := s.clients[strings.ToLower(id)]; !known {
			oauthError(w, http.StatusBadRequest, "unauthorized_client", 700016, "Application with identifier '"+id+"' was not found in the directory '"+s.TenantID+"'.")
			return
		}
		oauthError(w, http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '"+id+"'.")
		return
	}
	// The v2.0 endpoint takes scope=…/.default; the v1 endpoint takes
	// resource=…, except that MSAL sends scope there too (AD FS authorities
	// have only the v1 path), and then gets the v2 answer it parses.
	v2 := strings.Contains(r.URL.Path, "/v2.0/") || (r.PostForm.Get("resource") == "" && r.PostForm.Get("scope") != "")
	audience := r.PostForm.Get("resource")
	if v2 {
		audience = ""
		for _, sc := range strings.Fields(r.PostForm.Get("scope")) {
			if strings.HasSuffix(sc, "/.default") {
				audience = strings.TrimSuffix(sc, "/.default")
				break
			}
		}
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
	tok, exp, err := s.Issue(&c.Principal, audience, issuer)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", 50000, "There was an error issuing a token.")
		return
	}
	secs := int(time.Until(exp).Seconds())
	if v2 {
		writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": strconv.Itoa(secs), "ext_expires_in": strconv.Itoa(secs),
		"expires_on": strconv.FormatInt(exp.Unix(), 10), "not_before": strconv.FormatInt(time.Now().Unix(), 10), "resource": audience, "access_token": tok})
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

// hostedIdentity picks the identity a managed identity request asks for
// (client_id, object_id, principal_id, mi_res_id or msi_res_id; none: the
// managed identity). Besides the managed identity it serves the default
// service principal: 'privlink env' exports that principal's id as
// AZURE_CLIENT_ID and ARM_CLIENT_ID (for the client-secret login), and
// DefaultAzureCredential and Terraform's azapi pass that same variable to the
// managed identity endpoint as the user-assigned identity to use, so that a
// shell without the secret still signs in, as the principal it names.
func (s *Service) hostedIdentity(q url.Values) (*Client, bool) {
	for _, k := range []string{"client_id", "object_id", "principal_id", "mi_res_id", "msi_res_id"} {
		v := q.Get(k)
		if v == "" {
			continue
		}
		if strings.EqualFold(v, s.managed.AppID) || strings.EqualFold(v, s.managed.ObjectID) {
			return s.managed, true
		}
		if c := s.clients[strings.ToLower(DefaultClientID)]; c != nil && (strings.EqualFold(v, c.AppID) || strings.EqualFold(v, c.ObjectID)) {
			return c, true
		}
		return nil, false
	}
	return s.managed, true
}

func (s *Service) msi(w http.ResponseWriter, r *http.Request, imds bool) {
	res := msiResource(r)
	if res == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request", "error_description": "Required query variable 'resource' is missing"})
		return
	}
	m, ok := s.hostedIdentity(r.URL.Query())
	if !ok {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request", "error_description": "Identity not found: privlink's managed identity endpoints serve the managed identity (client id " + s.managed.AppID + ") and the default service principal (client id " + DefaultClientID + ")."})
		return
	}
	tok, exp, err := s.Issue(&m.Principal, res, BaseURL(r)+"/"+s.TenantID+"/v2.0")
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
