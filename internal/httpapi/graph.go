package httpapi

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/identity"
)

// Microsoft Graph, the part of it that Azure's tools read to find who a
// principal is (v1.0, served at https://graph.microsoft.com through the
// transparent proxy): the Azure CLI's 'az keyvault create' asks for the
// signed-in principal's object id (GET /me, then, for an application, the
// service principal whose servicePrincipalNames hold its app id), and
// 'az role assignment create --assignee NAME' for NAME's (users by
// userPrincipalName, service principals by name, directoryObjects/getByIds).
// Read-only: the directory changes through /_privlink/directory and
// privlink's CLI. Shapes and messages are Graph v1.0's (the user and
// servicePrincipal resource types; its error codes).

// graphV1 is the base of the @odata.context URLs.
const graphV1 = "https://graph.microsoft.com/v1.0/$metadata#"

// graphAuthenticated checks the bearer token for Microsoft Graph's audience.
func (s *Server) graphAuthenticated(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			graphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
			return
		}
		p, aerr := s.Identity.ValidateGraph(strings.TrimSpace(token))
		if aerr != nil {
			graphError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token validation failure. %s", aerr.Message)
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	}
}

// graphObject is a directory object as Graph v1.0 serves it: a user or a
// service principal (managed identities are service principals of type
// ManagedIdentity). with writes its @odata.type, as lists of mixed
// directory objects do.
func graphObject(o *identity.DirectoryObject, tenant string, withType bool) map[string]any {
	var m map[string]any
	if o.Kind == identity.KindUser {
		m = map[string]any{
			"id": o.ObjectID, "displayName": o.DisplayName, "userPrincipalName": o.UserPrincipalName,
			"mail": nil, "givenName": nil, "surname": nil, "jobTitle": nil, "mobilePhone": nil,
			"officeLocation": nil, "preferredLanguage": nil, "businessPhones": []string{},
		}
		if withType {
			m["@odata.type"] = "#microsoft.graph.user"
		}
		return m
	}
	typ, names, alt := "Application", []string{o.AppID}, []string{}
	if o.Kind == identity.KindManagedIdentity {
		// What Graph shows of a managed identity: its client id and
		// resource id as names, "isExplicit" for a user-assigned one.
		typ = "ManagedIdentity"
		names = append(names, "https://identity.azure.net/"+o.ObjectID)
		if o.ResourceID != "" {
			explicit := strings.Contains(strings.ToLower(o.ResourceID), "/microsoft.managedidentity/userassignedidentities/")
			alt = []string{"isExplicit=" + map[bool]string{true: "True", false: "False"}[explicit], o.ResourceID}
		}
	}
	m = map[string]any{
		"id": o.ObjectID, "appId": o.AppID, "displayName": o.DisplayName, "accountEnabled": true,
		"servicePrincipalType": typ, "servicePrincipalNames": names, "alternativeNames": alt,
		"appOwnerOrganizationId": tenant, "appDisplayName": o.DisplayName, "tags": []string{},
	}
	if withType {
		m["@odata.type"] = "#microsoft.graph.servicePrincipal"
	}
	return m
}

// graphKinds are the directory kinds a Graph collection holds.
func graphKinds(collection string) []string {
	if collection == "users" {
		return []string{identity.KindUser}
	}
	return []string{identity.KindServicePrincipal, identity.KindManagedIdentity}
}

// graphMe serves GET /v1.0/me: the signed-in user. An application's token
// has no user: Graph refuses it, and az then looks the application up by
// its name (graphList).
func (s *Server) graphMe(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	if p.Type != arm.PrincipalUser {
		graphError(w, http.StatusBadRequest, "BadRequest", "/me request is only valid with delegated authentication flow.")
		return
	}
	o, err := s.Identity.Find(r.Context(), p.ObjectID, identity.KindUser)
	if err != nil {
		s.graphFailure(w, r, p.ObjectID, err)
		return
	}
	m := graphObject(o, s.Identity.TenantID, false)
	m["@odata.context"] = graphV1 + "users/$entity"
	writeJSON(w, http.StatusOK, m)
}

// graphGet serves GET /v1.0/{users|servicePrincipals|directoryObjects}/{id}:
// id is an object id (or, for users, a user principal name).
func (s *Server) graphGet(collection string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		o, err := s.Identity.Find(r.Context(), id, "")
		if err == nil && collection != "directoryObjects" && !containsKind(graphKinds(collection), o.Kind) {
			err = identity.ErrNotFound
		}
		if err == nil && collection != "users" && strings.Contains(id, "@") {
			err = identity.ErrNotFound // only users are found by name in the path
		}
		if err == nil && collection != "directoryObjects" && o.Kind != identity.KindUser && !strings.EqualFold(id, o.ObjectID) {
			err = identity.ErrNotFound // a service principal's path takes its object id, not its app id
		}
		if err != nil {
			s.graphFailure(w, r, id, err)
			return
		}
		m := graphObject(o, s.Identity.TenantID, collection == "directoryObjects")
		if collection == "directoryObjects" {
			m["@odata.context"] = graphV1 + "directoryObjects/$entity"
		} else {
			m["@odata.context"] = graphV1 + collection + "/$entity"
		}
		writeJSON(w, http.StatusOK, m)
	}
}

// graphFilter is the subset of OData's $filter that Azure's tools send to
// find a principal: `field eq 'value'`, `startswith(field,'value')`, and
// `servicePrincipalNames/any(c:c eq 'value')`.
var (
	graphEq         = regexp.MustCompile(`^\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*$`)
	graphStartsWith = regexp.MustCompile(`^\s*startswith\(\s*(\w+)\s*,\s*'((?:[^']|'')*)'\s*\)\s*$`)
	graphAny        = regexp.MustCompile(`^\s*servicePrincipalNames/any\(\s*(\w+)\s*:\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*\)\s*$`)
)

// graphMatch returns the test of a $filter on one object's Graph form, or
// ok false for a filter outside graphFilter's subset.
func graphMatch(filter string) (match func(m map[string]any) bool, ok bool) {
	str := func(m map[string]any, field string) string {
		for k, v := range m {
			if strings.EqualFold(k, field) {
				s, _ := v.(string)
				return s
			}
		}
		return ""
	}
	unquote := func(v string) string { return strings.ReplaceAll(v, "''", "'") }
	if filter == "" {
		return func(map[string]any) bool { return true }, true
	}
	if g := graphAny.FindStringSubmatch(filter); g != nil && g[1] == g[2] {
		v := unquote(g[3])
		return func(m map[string]any) bool {
			names, _ := m["servicePrincipalNames"].([]string)
			for _, n := range names {
				if strings.EqualFold(n, v) {
					return true
				}
			}
			return false
		}, true
	}
	if g := graphEq.FindStringSubmatch(filter); g != nil {
		field, v := g[1], unquote(g[2])
		return func(m map[string]any) bool { return strings.EqualFold(str(m, field), v) }, true
	}
	if g := graphStartsWith.FindStringSubmatch(filter); g != nil {
		field, v := g[1], strings.ToLower(unquote(g[2]))
		return func(m map[string]any) bool { return strings.HasPrefix(strings.ToLower(str(m, field)), v) }, true
	}
	return nil, false
}

// graphList serves GET /v1.0/{users|servicePrincipals} with an optional
// $filter (graphFilter's subset; others are refused as Graph refuses what
// it cannot run).
func (s *Server) graphList(collection string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		match, ok := graphMatch(r.URL.Query().Get("$filter"))
		if !ok {
			graphError(w, http.StatusBadRequest, "Request_UnsupportedQuery", "Unsupported Query.")
			return
		}
		out := []map[string]any{}
		for _, kind := range graphKinds(collection) {
			objs, err := s.Identity.List(r.Context(), kind)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			for _, o := range objs {
				if m := graphObject(o, s.Identity.TenantID, false); match(m) {
					out = append(out, m)
				}
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"@odata.context": graphV1 + collection, "value": out})
	}
}

// graphGetByIds serves POST /v1.0/directoryObjects/getByIds: the objects
// of the ids asked for (those that exist), of the types asked for (all
// when none), each with its @odata.type.
func (s *Server) graphGetByIds(w http.ResponseWriter, r *http.Request) {
	var in struct {
		IDs   []string `json:"ids"`
		Types []string `json:"types"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	if len(in.IDs) > 1000 {
		graphError(w, http.StatusBadRequest, "Request_BadRequest", "The number of ids cannot exceed 1000.")
		return
	}
	out := []map[string]any{}
	for _, id := range in.IDs {
		o, err := s.Identity.Find(r.Context(), id, "")
		if errors.Is(err, identity.ErrNotFound) || err == nil && !strings.EqualFold(id, o.ObjectID) {
			continue // getByIds takes object ids only
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		typ := "servicePrincipal"
		if o.Kind == identity.KindUser {
			typ = "user"
		}
		if len(in.Types) > 0 && !containsFold(in.Types, typ) {
			continue
		}
		out = append(out, graphObject(o, s.Identity.TenantID, true))
	}
	writeJSON(w, http.StatusOK, map[string]any{"@odata.context": graphV1 + "directoryObjects", "value": out})
}

// graphFailure answers a failed lookup as Graph does.
func (s *Server) graphFailure(w http.ResponseWriter, r *http.Request, id string, err error) {
	if errors.Is(err, identity.ErrNotFound) {
		graphError(w, http.StatusNotFound, "Request_ResourceNotFound", "Resource '%s' does not exist or one of its queried reference-property objects are not present.", id)
		return
	}
	s.writeError(w, r, err)
}

func containsKind(kinds []string, k string) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
