package authorization

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/authz"
	"github.com/privlink/privlink/internal/resource"
	"github.com/privlink/privlink/internal/store"
)

// definitionProps are a role definition's properties, in Azure's order.
type definitionProps struct {
	RoleName         string        `json:"roleName"`
	Type             string        `json:"type"`
	Description      string        `json:"description"`
	AssignableScopes []string      `json:"assignableScopes"`
	Permissions      []authz.Block `json:"permissions"`
	CreatedOn        string        `json:"createdOn,omitempty"`
	UpdatedOn        string        `json:"updatedOn,omitempty"`
	CreatedBy        *string       `json:"createdBy"`
	UpdatedBy        *string       `json:"updatedBy"`
}

// definition is a role definition document.
type definition struct {
	Properties definitionProps `json:"properties"`
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Name       string          `json:"name"`
}

// definitionKey is the store key of a custom role definition. Whatever
// scope it is written at, a role definition's GUID is unique in the tenant
// and it is kept once, at the tenant root; reads at any scope where it
// applies find it there.
func definitionKey(guid string) string {
	return "/providers/microsoft.authorization/roledefinitions/" + strings.ToLower(guid)
}

// definitionID is the id of role definition guid as served at scope: in a
// subscription's form below a subscription, in the tenant's form elsewhere
// (the Azure CLI's recorded answers).
func definitionID(scope arm.ResourceID, guid string) string {
	prefix := ""
	if sub := scope.SubscriptionID(); sub != "" {
		prefix = "/subscriptions/" + sub
	}
	return prefix + "/providers/Microsoft.Authorization/roleDefinitions/" + guid
}

func (p *Provider) definitionKind() *resource.Kind {
	k := &resource.Kind{
		Type: authz.DefinitionType,
		// The catalog's and those clients send: 2022-04-01 (armauthorization
		// v2), 2022-05-01-preview (Terraform's azurerm, the Azure CLI).
		APIVersions: versions(authz.DefinitionType, "2015-07-01", "2018-01-01-preview", "2018-07-01", "2022-04-01", "2022-05-01-preview"),
		Scopes:      AllScopes,
		NoState:     true,
	}
	k.Handle = handlers(k, map[string]kindHandler{
		http.MethodGet: p.getDefinition, http.MethodPut: p.putDefinition, http.MethodDelete: p.deleteDefinition,
		http.MethodGet + " list": p.listDefinitions,
	})
	return k
}

// mayReadDefinitions decides whether r may read role definitions at scope:
// with the read action there, or with any access in or above it (role
// definitions are how a principal names what it may assign).
func mayReadDefinitions(ctx context.Context, e *resource.Engine, k *resource.Kind, r *resource.Request, id arm.ResourceID) error {
	err := e.AuthorizeKind(ctx, k, r, "read", id)
	if err != nil && e.Reach(ctx, r, id) != 0 {
		return nil
	}
	return err
}

// builtinAt is a built-in role's document as served at scope.
func (p *Provider) builtinAt(guid string, scope arm.ResourceID) (*definition, error) {
	raw := p.builtins[guid]
	if raw == nil {
		return nil, nil
	}
	d := &definition{}
	if err := json.Unmarshal(raw, d); err != nil {
		return nil, err
	}
	d.ID = definitionID(scope, d.Name)
	return d, nil
}

func loadDefinition(c *resource.Ctx, guid string) (*definition, error) {
	rec, err := c.Tx.Get(definitionKey(guid))
	if err != nil {
		return nil, err
	}
	d := &definition{}
	return d, json.Unmarshal(rec.Body, d)
}

// appliesAt reports whether a custom role definition applies at the scope
// with key k: k is the root, or lies at or below one of its assignable
// scopes ("role definitions applicable at scope and above").
func (d *definition) appliesAt(k string, below bool) bool {
	if k == "/" {
		return true
	}
	for _, s := range d.Properties.AssignableScopes {
		sk := authz.ScopeKey(s)
		if authz.Within(k, sk) || (below && authz.Within(sk, k)) {
			return true
		}
	}
	return false
}

func definitionNotFound(guid string) error {
	return arm.Errorf(arm.CodeRoleDefinitionDoesNotExist, "The specified role definition with ID '%s' does not exist.", guid)
}

func (p *Provider) getDefinition(ctx context.Context, e *resource.Engine, k *resource.Kind, r *resource.Request) (*resource.Response, error) {
	id := r.Path.ID
	scope := scopeOf(id)
	if err := mayReadDefinitions(ctx, e, k, r, id); err != nil {
		return nil, err
	}
	guid := strings.ToLower(id.Name())
	if d, err := p.builtinAt(guid, scope); err != nil || d != nil {
		if err != nil {
			return nil, err
		}
		return jsonResponse(http.StatusOK, d)
	}
	var d *definition
	err := e.ViewFor(ctx, r, func(c *resource.Ctx) error {
		var err error
		d, err = loadDefinition(c, guid)
		if resource.IsNotFound(err) || (err == nil && !d.appliesAt(authz.ScopeKey(scope.Key()), false)) {
			return definitionNotFound(id.Name())
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	d.ID = definitionID(scope, d.Name)
	return jsonResponse(http.StatusOK, d)
}

// blockIn is a permission block as a request writes it, every list optional.
type blockIn struct {
	Actions        []string `json:"actions"`
	NotActions     []string `json:"notActions"`
	DataActions    []string `json:"dataActions"`
	NotDataActions []string `json:"notDataActions"`
}

type definitionIn struct {
	Properties *struct {
		RoleName         *string   `json:"roleName"`
		Type             *string   `json:"type"`
		Description      *string   `json:"description"`
		AssignableScopes []string  `json:"assignableScopes"`
		Permissions      []blockIn `json:"permissions"`
	} `json:"properties"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// checkActions refuses an action of a provider namespace ARM does not know
// (InvalidActionOrNotAction).
func checkActions(e *resource.Engine, actions []string) error {
	for _, a := range actions {
		ns, _, _ := strings.Cut(a, "/")
		if strings.Contains(ns, "*") {
			continue
		}
		if e.Namespace(ns) == nil {
			return arm.Errorf(arm.CodeInvalidActionOrNotAction, "'%s' does not match any of the actions supported by the providers.", a)
		}
	}
	return nil
}

func (p *Provider) putDefinition(ctx context.Context, e *resource.Engine, k *resource.Kind, r *resource.Request) (*resource.Response, error) {
	id := r.Path.ID
	guid := strings.ToLower(id.Name())
	if !isGUID(guid) {
		return nil, arm.Errorf(arm.CodeInvalidRoleDefinitionID, "The role definition ID '%s' is not valid.", id.Name())
	}
	if p.rbac.Builtin(guid) != nil {
		return nil, arm.Errorf(arm.CodeBuiltInRoleCannotBeModified, "The role definition '%s' is a built-in role, which cannot be changed. Create a custom role instead.", guid)
	}
	if err := e.AuthorizeKind(ctx, k, r, "write", id); err != nil {
		return nil, err
	}
	if _, err := resource.ParseBody(r.Body); err != nil {
		return nil, err
	}
	var in definitionIn
	if err := json.Unmarshal(r.Body, &in); err != nil {
		return nil, arm.InvalidContent(err.Error())
	}
	if in.Properties == nil {
		return nil, resource.MissingProperty("properties")
	}
	props := in.Properties
	if props.RoleName == nil || strings.TrimSpace(*props.RoleName) == "" {
		return nil, resource.MissingProperty("properties.roleName")
	}
	if props.Type != nil && !strings.EqualFold(*props.Type, "CustomRole") {
		return nil, arm.Errorf(arm.CodeBadRequest, "The role definition type '%s' is not valid. Only 'CustomRole' definitions can be created.", *props.Type)
	}
	if len(props.AssignableScopes) == 0 {
		return nil, arm.Errorf(arm.CodeInvalidAssignableScope, "The role definition must have at least one assignable scope: a subscription, a resource group or a management group.")
	}
	var scopes []arm.ResourceID
	for _, s := range props.AssignableScopes {
		sid, aerr := arm.ParseResourceID(s)
		if aerr != nil || strings.TrimSpace(s) == "" {
			return nil, arm.Errorf(arm.CodeInvalidAssignableScope, "The assignable scope '%s' is not valid.", s)
		}
		if sid.IsRoot() {
			// learn.microsoft.com, custom roles: "you can't set
			// AssignableScopes to root scope".
			return nil, arm.Errorf(arm.CodeInvalidAssignableScope, "The assignable scope '/' is not valid for a custom role. Use subscriptions, resource groups or a management group.")
		}
		scopes = append(scopes, sid)
	}
	blocks := make([]authz.Block, 0, len(props.Permissions))
	for _, b := range props.Permissions {
		for _, list := range [][]string{b.Actions, b.NotActions, b.DataActions, b.NotDataActions} {
			if err := checkActions(e, list); err != nil {
				return nil, err
			}
		}
		blocks = append(blocks, authz.Block{Actions: nonNil(b.Actions), NotActions: nonNil(b.NotActions), DataActions: nonNil(b.DataActions), NotDataActions: nonNil(b.NotDataActions)})
	}
	// Creating a role to assign at scopes needs the right to write role
	// definitions at each of them.
	var denied []string
	for _, s := range scopes {
		if e.AuthorizeKind(ctx, k, r, "write", s) != nil {
			denied = append(denied, s.String())
		}
	}
	if len(denied) > 0 {
		return nil, arm.Errorf(arm.CodeLinkedAuthorizationFailed, "The client '%s' with object id '%s' has permission to perform action '%s' on scope '%s'; however, it does not have permission to perform action '%s' on the linked scope(s) '%s' or the linked scope(s) are invalid.",
			r.Principal.Name, r.Principal.ObjectID, k.Action("write"), id.String(), k.Action("write"), strings.Join(denied, ","))
	}
	description := ""
	if props.Description != nil {
		description = *props.Description
	}
	var out *definition
	err := e.UpdateFor(ctx, r, func(c *resource.Ctx) error {
		for _, s := range scopes {
			if err := c.CheckScope(s); err != nil {
				return err
			}
			if !s.IsSubscription() && !s.IsResourceGroup() {
				continue
			}
			if _, err := c.Load(s); resource.IsNotFound(err) {
				return c.NotFound(s)
			} else if err != nil {
				return err
			}
		}
		name := strings.TrimSpace(*props.RoleName)
		for _, b := range p.rbac.Builtins() {
			if strings.EqualFold(b.Name, name) {
				return arm.Errorf(arm.CodeRoleDefinitionWithSameNameExists, "A role definition cannot be updated with a name that already exists.")
			}
		}
		recs, err := c.Tx.List(store.Query{Type: authz.DefinitionType})
		if err != nil {
			return err
		}
		for _, rec := range recs {
			other := &definition{}
			if err := json.Unmarshal(rec.Body, other); err != nil {
				return err
			}
			if !strings.EqualFold(other.Name, guid) && strings.EqualFold(other.Properties.RoleName, name) {
				return arm.Errorf(arm.CodeRoleDefinitionWithSameNameExists, "A role definition cannot be updated with a name that already exists.")
			}
		}
		now := arm.FormatTime(c.Now)
		caller := r.Principal.ObjectID
		old, err := loadDefinition(c, guid)
		if err != nil && !resource.IsNotFound(err) {
			return err
		}
		created, createdBy := now, &caller
		if old != nil {
			created, createdBy = old.Properties.CreatedOn, old.Properties.CreatedBy
		}
		out = &definition{
			Properties: definitionProps{RoleName: name, Type: "CustomRole", Description: description, AssignableScopes: props.AssignableScopes,
				Permissions: blocks, CreatedOn: created, UpdatedOn: now, CreatedBy: createdBy, UpdatedBy: &caller},
			ID: "/providers/Microsoft.Authorization/roleDefinitions/" + guid, Type: authz.DefinitionType, Name: guid,
		}
		return p.write(c, out.ID, authz.DefinitionType, out, old != nil)
	})
	if err != nil {
		return nil, err
	}
	out.ID = definitionID(scopeOf(id), guid)
	// 201 for updates too: the spec's only success status for this PUT
	// (armauthorization's RoleDefinitionsClient accepts nothing else).
	return jsonResponse(http.StatusCreated, out)
}

func (p *Provider) deleteDefinition(ctx context.Context, e *resource.Engine, k *resource.Kind, r *resource.Request) (*resource.Response, error) {
	id := r.Path.ID
	guid := strings.ToLower(id.Name())
	if p.rbac.Builtin(guid) != nil {
		return nil, arm.Errorf(arm.CodeBuiltInRoleCannotBeModified, "The role definition '%s' is a built-in role, which cannot be deleted.", guid)
	}
	if err := e.AuthorizeKind(ctx, k, r, "delete", id); err != nil {
		return nil, err
	}
	var gone *definition
	err := e.UpdateFor(ctx, r, func(c *resource.Ctx) error {
		d, err := loadDefinition(c, guid)
		if resource.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		recs, err := c.Tx.List(store.Query{Type: authz.AssignmentType})
		if err != nil {
			return err
		}
		for _, rec := range recs {
			a := &assignment{}
			if err := json.Unmarshal(rec.Body, a); err != nil {
				return err
			}
			if g, _ := roleRef(a.Properties.RoleDefinitionID); g == guid {
				return arm.Errorf(arm.CodeRoleDefinitionHasAssignments, "There are existing role assignments referencing role")
			}
		}
		if err := c.Tx.Delete(definitionKey(guid)); err != nil {
			return err
		}
		p.refresh(c, definitionKey(guid))
		gone = d
		return nil
	})
	if err != nil {
		return nil, err
	}
	if gone == nil {
		return &resource.Response{Status: http.StatusNoContent, Header: http.Header{}}, nil
	}
	gone.ID = definitionID(scopeOf(id), guid)
	return jsonResponse(http.StatusOK, gone)
}

// definitionFilter is a role definition list's $filter: roleName eq
// '{name}' (case-insensitive), type eq 'BuiltInRole'|'CustomRole',
// atScopeAndBelow().
type definitionFilter struct {
	name, typ string
	below     bool
}

func parseDefinitionFilter(f string) (definitionFilter, error) {
	var out definitionFilter
	for _, t := range arm.FilterTerms(f) {
		if n, v, ok := arm.FilterEq(t); ok {
			switch strings.ToLower(n) {
			case "rolename":
				out.name = v
				continue
			case "type":
				out.typ = v
				continue
			}
		}
		if m := callTerm.FindStringSubmatch(t); m != nil && strings.EqualFold(m[1], "atScopeAndBelow") {
			out.below = true
			continue
		}
		return out, unsupportedFilter(f)
	}
	return out, nil
}

func (p *Provider) listDefinitions(ctx context.Context, e *resource.Engine, k *resource.Kind, r *resource.Request) (*resource.Response, error) {
	scope := scopeOf(r.Path.ID)
	f, err := parseDefinitionFilter(r.Query.Get("$filter"))
	if err != nil {
		return nil, err
	}
	if err := mayReadDefinitions(ctx, e, k, r, scope); err != nil {
		return nil, err
	}
	keep := func(d *definition) bool {
		return (f.name == "" || strings.EqualFold(d.Properties.RoleName, f.name)) && (f.typ == "" || strings.EqualFold(d.Properties.Type, f.typ))
	}
	var out []*definition
	for guid := range p.builtins {
		d, err := p.builtinAt(guid, scope)
		if err != nil {
			return nil, err
		}
		if keep(d) {
			out = append(out, d)
		}
	}
	key := authz.ScopeKey(scope.Key())
	err = e.ViewFor(ctx, r, func(c *resource.Ctx) error {
		if !scope.IsRoot() {
			if err := c.CheckScope(scope); err != nil {
				return err
			}
		}
		recs, err := c.Tx.List(store.Query{Type: authz.DefinitionType})
		if err != nil {
			return err
		}
		for _, rec := range recs {
			d := &definition{}
			if err := json.Unmarshal(rec.Body, d); err != nil {
				return err
			}
			if d.appliesAt(key, f.below) && keep(d) {
				d.ID = definitionID(scope, d.Name)
				out = append(out, d)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		return strings.ToLower(out[i].Properties.RoleName) < strings.ToLower(out[j].Properties.RoleName)
	})
	if out == nil {
		out = []*definition{}
	}
	return jsonResponse(http.StatusOK, listOf[*definition]{Value: out})
}

func (p *Provider) permissionsKind() *resource.Kind {
	k := &resource.Kind{
		Type:        PermissionsType,
		APIVersions: versions(PermissionsType, "2015-07-01", "2018-01-01-preview", "2018-07-01", "2022-04-01", "2022-05-01-preview"),
		Scopes:      AllScopes,
		NoState:     true,
		ReadOnly:    true,
	}
	k.Handle = map[string]handler{
		// {scope}/providers/Microsoft.Authorization/permissions: what the
		// caller may do at the scope, one entry per role it holds there or
		// above. It tells the caller about itself only, and so needs no
		// access (and says nothing of whether the scope exists).
		http.MethodGet + " list": func(ctx context.Context, e *resource.Engine, r *resource.Request) (*resource.Response, error) {
			scope := scopeOf(r.Path.ID)
			blocks := p.rbac.Permissions(r.Principal, authz.ScopeKey(scope.Key()))
			if blocks == nil {
				blocks = []authz.Block{}
			}
			return jsonResponse(http.StatusOK, listOf[authz.Block]{Value: blocks})
		},
	}
	return k
}
