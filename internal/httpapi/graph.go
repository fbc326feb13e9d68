package httpapi

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
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

// graphRoute routes Graph's paths (/v1.0/… and /beta/…), whose segments
// Graph matches case-insensitively: me, me/ownedObjects, users[/{id}],
// servicePrincipals[/{id}], servicePrincipals(appId='{appId}'),
// directoryObjects/{id}, directoryObjects/getByIds, and
// {users|servicePrincipals|directoryObjects}/{id}/{checkMemberGroups|getMemberGroups}
// (privlink's tenant has no groups). Anything else is answered as Graph
// answers a segment it does not know.
func (s *Server) graphRoute(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")[1:]
	low := make([]string, len(segs))
	for i, x := range segs {
		low[i] = strings.ToLower(x)
	}
	method := func(m string, h func()) {
		if r.Method != m {
			graphError(w, http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
			return
		}
		h()
	}
	empty := func() { writeJSON(w, http.StatusOK, map[string]any{"value": []any{}}) }
	collection := map[string]string{"users": "users", "serviceprincipals": "servicePrincipals", "directoryobjects": "directoryObjects"}
	switch {
	case len(low) == 1 && low[0] == "me":
		method(http.MethodGet, func() { s.graphMe(w, r) })
		return
	case len(low) == 2 && low[0] == "me" && low[1] == "ownedobjects":
		method(http.MethodGet, empty) // nothing in privlink's tenant has owners
		return
	case len(low) == 1 && (low[0] == "users" || low[0] == "serviceprincipals"):
		method(http.MethodGet, func() { s.graphList(w, r, collection[low[0]]) })
		return
	case len(low) == 1 && strings.HasPrefix(low[0], "serviceprincipals(appid="):
		if m := graphAppIDKey.FindStringSubmatch(segs[0]); m != nil {
			method(http.MethodGet, func() { s.graphGet(w, r, "servicePrincipals", m[1], true) })
			return
		}
	case len(low) == 2 && low[0] == "directoryobjects" && low[1] == "getbyids":
		method(http.MethodPost, func() { s.graphGetByIds(w, r) })
		return
	case len(low) == 2 && collection[low[0]] != "":
		method(http.MethodGet, func() { s.graphGet(w, r, collection[low[0]], segs[1], false) })
		return
	case len(low) == 3 && collection[low[0]] != "" && (low[2] == "checkmembergroups" || low[2] == "getmembergroups"):
		method(http.MethodPost, empty)
		return
	}
	unknown := ""
	if len(segs) > 0 {
		unknown = segs[len(segs)-1]
		for i, x := range low {
			if collection[x] == "" && x != "me" {
				unknown = segs[i]
				break
			}
		}
	}
	graphError(w, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '%s'.", unknown)
}

// graphAppIDKey is the alternate key of a service principal by its app id.
var graphAppIDKey = regexp.MustCompile(`(?i)^servicePrincipals\(appId='([^']*)'\)$`)

// graphGet serves GET /{users|servicePrincipals|directoryObjects}/{id}:
// id is an object id (or a user's user principal name); byAppID takes a
// service principal's app id instead (the alternate key).
func (s *Server) graphGet(w http.ResponseWriter, r *http.Request, collection, id string, byAppID bool) {
	o, err := s.Identity.Find(r.Context(), id, "")
	if err == nil && collection != "directoryObjects" && !slices.Contains(graphKinds(collection), o.Kind) {
		err = identity.ErrNotFound
	}
	if err == nil {
		// Find also takes an app id for an object id: Graph does not.
		named := strings.EqualFold(id, o.ObjectID) || o.Kind == identity.KindUser && collection == "users" && strings.EqualFold(id, o.UserPrincipalName)
		if byAppID {
			named = o.Kind != identity.KindUser && strings.EqualFold(id, o.AppID)
		}
		if !named {
			err = identity.ErrNotFound
		}
	}
	if err != nil {
		s.graphFailure(w, r, id, err)
		return
	}
	m := graphObject(o, s.Identity.TenantID, collection == "directoryObjects")
	if sel, ok := graphSelect(r); ok {
		m = sel(m)
	}
	m["@odata.context"] = graphV1 + collection + "/$entity"
	writeJSON(w, http.StatusOK, m)
}

// graphFilter is the subset of OData's $filter that Azure's tools send to
// find a principal: clauses `field eq 'value'`, `startswith(field,'value')`,
// `field in ('a','b')` and `servicePrincipalNames/any(c:c eq 'value')`,
// joined with `and` (az joins its options' filters so).
var (
	graphStartsWith = regexp.MustCompile(`(?i)^\s*startswith\(\s*(\w+)\s*,\s*'((?:[^']|'')*)'\s*\)\s*$`)
	graphIn         = regexp.MustCompile(`(?i)^\s*(\w+)\s+in\s+\(((?:\s*'(?:[^']|'')*'\s*,?)*)\)\s*$`)
	graphInValue    = regexp.MustCompile(`'((?:[^']|'')*)'`)
	graphAny        = regexp.MustCompile(`(?i)^\s*servicePrincipalNames/any\(\s*(\w+)\s*:\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*\)\s*$`)
)

// graphField is an object's member named field, matched as Graph matches
// names (case-insensitively), as a string.
func graphField(m map[string]any, field string) string {
	for k, v := range m {
		if strings.EqualFold(k, field) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

// graphMatch returns the test of a $filter on one object's Graph form, or
// ok false for a filter outside graphFilter's subset.
func graphMatch(filter string) (match func(m map[string]any) bool, ok bool) {
	if strings.TrimSpace(filter) == "" {
		return func(map[string]any) bool { return true }, true
	}
	var tests []func(map[string]any) bool
	for _, clause := range arm.FilterTerms(filter) {
		t, ok := graphClause(clause)
		if !ok {
			return nil, false
		}
		tests = append(tests, t)
	}
	return func(m map[string]any) bool {
		for _, t := range tests {
			if !t(m) {
				return false
			}
		}
		return true
	}, true
}

// graphClause is one clause of graphMatch's subset.
func graphClause(c string) (func(m map[string]any) bool, bool) {
	if g := graphAny.FindStringSubmatch(c); g != nil && g[1] == g[2] {
		v := arm.Unquote(g[3])
		return func(m map[string]any) bool {
			names, _ := m["servicePrincipalNames"].([]string)
			return slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, v) })
		}, true
	}
	if field, v, ok := arm.FilterEq(c); ok {
		return func(m map[string]any) bool { return strings.EqualFold(graphField(m, field), v) }, true
	}
	if g := graphStartsWith.FindStringSubmatch(c); g != nil {
		field, v := g[1], strings.ToLower(arm.Unquote(g[2]))
		return func(m map[string]any) bool { return strings.HasPrefix(strings.ToLower(graphField(m, field)), v) }, true
	}
	if g := graphIn.FindStringSubmatch(c); g != nil {
		field := g[1]
		var vs []string
		for _, q := range graphInValue.FindAllStringSubmatch(g[2], -1) {
			vs = append(vs, arm.Unquote(q[1]))
		}
		return func(m map[string]any) bool {
			f := graphField(m, field)
			return slices.ContainsFunc(vs, func(v string) bool { return strings.EqualFold(f, v) })
		}, true
	}
	return nil, false
}

// graphSelect returns the projection $select asks for (ok false: none):
// the members it names, matched case-insensitively, and @odata.type.
func graphSelect(r *http.Request) (func(map[string]any) map[string]any, bool) {
	sel := r.URL.Query().Get("$select")
	if sel == "" {
		return nil, false
	}
	names := strings.Split(sel, ",")
	return func(m map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			if k == "@odata.type" || slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(strings.TrimSpace(n), k) }) {
				out[k] = v
			}
		}
		return out
	}, true
}

// graphList serves GET /{users|servicePrincipals} with an optional
// $filter (graphFilter's subset), $select, $top and $count; $search and
// filters outside the subset are refused, as Graph refuses what it cannot
// run, rather than answered with everything.
func (s *Server) graphList(w http.ResponseWriter, r *http.Request, collection string) {
	q := r.URL.Query()
	if q.Has("$search") {
		graphError(w, http.StatusBadRequest, "Request_UnsupportedQuery", "privlink's directory does not support $search: use $filter.")
		return
	}
	match, ok := graphMatch(q.Get("$filter"))
	if !ok {
		graphError(w, http.StatusBadRequest, "Request_UnsupportedQuery", "Unsupported Query.")
		return
	}
	top := -1
	if t := q.Get("$top"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 || n > 999 {
			graphError(w, http.StatusBadRequest, "Request_BadRequest", "Invalid page size specified: '%s'. Must be between 1 and 999 inclusive.", t)
			return
		}
		top = n
	}
	sel, selected := graphSelect(r)
	out := []map[string]any{}
	for _, kind := range graphKinds(collection) {
		objs, err := s.Identity.List(r.Context(), kind)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		for _, o := range objs {
			if m := graphObject(o, s.Identity.TenantID, false); match(m) {
				if selected {
					m = sel(m)
				}
				out = append(out, m)
			}
		}
	}
	count := len(out)
	if top >= 0 && len(out) > top {
		// privlink's directory is small: no next page, the first $top.
		out = out[:top]
	}
	body := map[string]any{"@odata.context": graphV1 + collection, "value": out}
	if strings.EqualFold(q.Get("$count"), "true") {
		body["@odata.count"] = count
	}
	writeJSON(w, http.StatusOK, body)
}

// graphGetByIds serves POST /directoryObjects/getByIds: the objects of the
// ids asked for (object ids; each once, those that exist), of the types
// asked for (all when none), each with its @odata.type.
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
	seen := map[string]bool{}
	for _, id := range in.IDs {
		if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
			graphError(w, http.StatusBadRequest, "Request_BadRequest", "Invalid object identifier '%s'.", id)
			return
		}
		if seen[strings.ToLower(id)] {
			continue
		}
		seen[strings.ToLower(id)] = true
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
		if len(in.Types) > 0 && !slices.ContainsFunc(in.Types, func(t string) bool { return strings.EqualFold(t, typ) }) {
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
