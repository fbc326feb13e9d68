package httpapi

import (
	"net/http"
	"strings"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/identity"
)

// Handler returns the whole route table. ARM paths are matched
// case-insensitively by prefix and parsed by arm.ParsePath, since ARM treats
// /Subscriptions/… and /subscriptions/… alike.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()

	// Emulator-only endpoints, apart from the emulated APIs.
	mux.HandleFunc("GET /_privlink/health", s.health)
	mux.HandleFunc("GET /_privlink/info", s.info)
	mux.HandleFunc("GET /_privlink/endpoints", s.authenticated(s.endpointStates))
	// The data path: managed networks, backends, the egress's decisions.
	mux.HandleFunc("GET /_privlink/network", s.authenticated(s.network))
	mux.HandleFunc("GET /_privlink/network/decide", s.authenticated(s.decide))
	mux.HandleFunc("GET /_privlink/backends", s.authenticated(s.backends))
	mux.HandleFunc("PUT /_privlink/backends", s.authenticated(s.setBackend))
	mux.HandleFunc("DELETE /_privlink/backends", s.authenticated(s.setBackend))

	// The directory: service principals, users, managed identities.
	sp, users, mi := identity.KindServicePrincipal, identity.KindUser, identity.KindManagedIdentity
	mux.HandleFunc("GET /_privlink/directory/servicePrincipals", s.authenticated(s.listPrincipals(sp)))
	mux.HandleFunc("POST /_privlink/directory/servicePrincipals", s.authenticated(s.createServicePrincipal))
	mux.HandleFunc("GET /_privlink/directory/servicePrincipals/{id}", s.authenticated(s.getPrincipal(sp)))
	mux.HandleFunc("DELETE /_privlink/directory/servicePrincipals/{id}", s.authenticated(s.deletePrincipal(sp)))
	mux.HandleFunc("POST /_privlink/directory/servicePrincipals/{id}/addPassword", s.authenticated(s.addPassword))
	mux.HandleFunc("GET /_privlink/directory/users", s.authenticated(s.listPrincipals(users)))
	mux.HandleFunc("POST /_privlink/directory/users", s.authenticated(s.createUser))
	mux.HandleFunc("GET /_privlink/directory/users/{id}", s.authenticated(s.getPrincipal(users)))
	mux.HandleFunc("DELETE /_privlink/directory/users/{id}", s.authenticated(s.deletePrincipal(users)))
	mux.HandleFunc("GET /_privlink/directory/managedIdentities", s.authenticated(s.listPrincipals(mi)))
	mux.HandleFunc("GET /_privlink/directory/managedIdentities/{id}", s.authenticated(s.getPrincipal(mi)))
	mux.HandleFunc("GET /_privlink/directory/principals/{id}", s.authenticated(s.getPrincipal("")))

	// Cloud metadata, for tools that discover endpoints (Terraform's metadata_host).
	mux.HandleFunc("GET /metadata/endpoints", s.metadata)

	// Identity: discovery, keys, tokens, managed identity.
	id := s.Identity
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", id.OpenIDConfiguration)
	mux.HandleFunc("GET /{tenant}/.well-known/openid-configuration", id.OpenIDConfiguration)
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", id.Keys)
	mux.HandleFunc("GET /{tenant}/discovery/keys", id.Keys)
	mux.HandleFunc("GET /common/discovery/instance", id.InstanceDiscovery)
	mux.HandleFunc("GET /common/UserRealm/{user}", id.UserRealm)
	mux.HandleFunc("GET /common/userrealm/{user}", id.UserRealm)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", id.Token)
	mux.HandleFunc("POST /{tenant}/oauth2/token", id.Token)
	mux.HandleFunc("GET /msi/token", id.AppServiceMSI)
	mux.HandleFunc("GET /metadata/identity/oauth2/token", id.IMDSMSI)

	armHandler := s.authenticated(s.arm)
	// Microsoft Graph's lookups of principals (graph.go), for Azure's tools.
	// Graph matches its paths case-insensitively, so graph.go routes them
	// (and the mux's {tenant} patterns would take /v1.0/… too).
	graphHandler := s.graphAuthenticated(s.graphRoute)
	root := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.ToLower(r.URL.Path)
		if p == "/subscriptions" || p == "/tenants" || strings.HasPrefix(p, "/subscriptions/") || strings.HasPrefix(p, "/providers/") {
			armHandler(w, r)
			return
		}
		if strings.HasPrefix(p, "/v1.0/") || strings.HasPrefix(p, "/beta/") {
			graphHandler(w, r)
			return
		}
		// The portal has every page that no API path above claims.
		if _, pattern := mux.Handler(r); pattern == "" {
			switch {
			case s.Portal != nil && s.Portal.Claims(r):
				s.Portal.ServeHTTP(w, r)
				return
			case unrouted(mux, r):
				// What ARM's front end says of a path no service has
				// (its words), in ARM's envelope rather than the mux's
				// plain text, which clients cannot parse as an error.
				writeARMError(w, arm.Errorf(arm.CodeNotFound, "No HTTP resource was found that matches the request URI '%s'.", requestURI(r)))
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
	h := s.withRequest(root)
	if s.Portal != nil {
		s.Portal.Attach(h)
	}
	return h
}

// unrouted reports whether no route of mux has r's path, with any method:
// a path some route has gets the mux's own 405 for another method.
func unrouted(mux *http.ServeMux, r *http.Request) bool {
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if _, pattern := mux.Handler(&http.Request{Method: m, URL: r.URL, Host: r.Host}); pattern != "" {
			return false
		}
	}
	return true
}

// requestURI is the absolute URI r asked for, as ARM's messages quote it
// (http:// on privlink's plain HTTP port, --http-addr).
func requestURI(r *http.Request) string {
	scheme := "https://"
	if r.TLS == nil {
		scheme = "http://"
	}
	return scheme + r.Host + r.URL.RequestURI()
}
