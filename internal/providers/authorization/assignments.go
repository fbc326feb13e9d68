package authorization

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/authz"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/resource"
	"github.com/privlink/privlink/internal/store"
)

// assignmentProps are a role assignment's properties in the order and with
// the explicit nulls Azure answers them (api-version 2022-04-01; the Azure
// CLI's recorded responses).
type assignmentProps struct {
	RoleDefinitionID                   string  `json:"roleDefinitionId"`
	PrincipalID                        string  `json:"principalId"`
	PrincipalType                      string  `json:"principalType"`
	Scope                              string  `json:"scope"`
	Condition                          *string `json:"condition"`
	ConditionVersion                   *string `json:"conditionVersion"`
	CreatedOn                          string  `json:"createdOn"`
	UpdatedOn                          string  `json:"updatedOn"`
	CreatedBy                          *string `json:"createdBy"`
	UpdatedBy                          *string `json:"updatedBy"`
	DelegatedManagedIdentityResourceID *string `json:"delegatedManagedIdentityResourceId"`
	Description                        *string `json:"description"`
}

// assignment is a role assignment document, as stored and served.
type assignment struct {
	Properties assignmentProps `json:"properties"`
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Name       string          `json:"name"`
}

// principalTypes are the principalType values ARM accepts.
var principalTypes = []string{"User", "Group", "ServicePrincipal", "ForeignGroup", "Device"}

func (p *Provider) assignmentKind() *resource.Kind {
	k := &resource.Kind{
		Type: authz.AssignmentType,
		// The catalog's and those clients and templates send (2022-04-01:
		// armauthorization v2 and Terraform; older ones: templates).
		APIVersions: versions(authz.AssignmentType, "2015-07-01", "2017-05-01", "2017-10-01-preview", "2018-01-01-preview",
			"2018-07-01", "2018-09-01-preview", "2020-03-01-preview", "2020-04-01-preview", "2020-08-01-preview",
			"2020-10-01-preview", "2021-04-01-preview", "2022-01-01-preview", "2022-04-01"),
		Scopes:  AllScopes,
		NoState: true,
		// A role assignment goes with the scope it was made at (a deleted
		// resource group takes its assignments along).
		BeforeDelete: func(c *resource.Ctx, d *resource.Doc) error {
			p.refresh(c, d.ID.Key())
			return nil
		},
	}
	k.Handle = handlers(k, map[string]kindHandler{
		http.MethodGet: p.getAssignment, http.MethodPut: p.putAssignment, http.MethodDelete: p.deleteAssignment,
		http.MethodGet + " list": p.listAssignments,
	})
	return k
}

func invalidAssignmentID(name string) error {
	return arm.Errorf(arm.CodeInvalidRoleAssignmentID, "The role assignment ID '%s' is not valid. The role assignment ID must be a GUID.", name)
}

func loadAssignment(c *resource.Ctx, key string) (*assignment, error) {
	rec, err := c.Tx.Get(key)
	if err != nil {
		return nil, err
	}
	a := &assignment{}
	if err := json.Unmarshal(rec.Body, a); err != nil {
		return nil, err
	}
	return a, nil
}

func (p *Provider) getAssignment(ctx context.Context, e *resource.Engine, k *resource.Kind, r *resource.Request) (*resource.Response, error) {
	id := r.Path.ID
	if err := e.AuthorizeKind(ctx, k, r, "read", id); err != nil {
		return nil, err
	}
	var a *assignment
	err := e.ViewFor(ctx, r, func(c *resource.Ctx) error {
		var err error
		a, err = loadAssignment(c, id.Key())
		if resource.IsNotFound(err) {
			if err := c.CheckScope(id); err != nil {
				return err
			}
			return arm.Errorf(arm.CodeRoleAssignmentNotFound, "The role assignment '%s' is not found.", id.Name())
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if r.Method == http.MethodHead {
		return &resource.Response{Status: http.StatusNoContent, Header: http.Header{}}, nil
	}
	return jsonResponse(http.StatusOK, a)
}

// roleRef reads the GUID of a role definition id, written at any scope
// ("/subscriptions/{s}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
// "/providers/…", or a bare GUID at old api-versions).
func roleRef(s string) (string, bool) {
	if isGUID(s) {
		return strings.ToLower(s), true
	}
	id, aerr := arm.ParseResourceID(s)
	if aerr != nil || !strings.EqualFold(id.Type(), authz.DefinitionType) || !isGUID(id.Name()) {
		return "", false
	}
	return strings.ToLower(id.Name()), true
}

// roleAt finds the role definition with the GUID id that applies at the
// scope with key scope: a built-in role, or a custom role assignable there.
// The error is RoleDefinitionDoesNotExist (status as given).
func (p *Provider) roleAt(c *resource.Ctx, guid, scope string, status int) (*authz.Role, error) {
	if b := p.rbac.Builtin(guid); b != nil {
		return b, nil
	}
	rec, err := c.Tx.Get(definitionKey(guid))
	if err != nil && !resource.IsNotFound(err) {
		return nil, err
	}
	if err == nil {
		role, err := authz.ParseDefinition(rec.Body)
		if err != nil {
			return nil, err
		}
		if role.AssignableAt(scope) {
			return role, nil
		}
	}
	return nil, arm.Errorf(arm.CodeRoleDefinitionDoesNotExist, "The specified role definition with ID '%s' does not exist.", guid).WithStatus(status)
}

// compactGUID writes a GUID as ARM's role assignment errors print them:
// 32 hex digits, no dashes.
func compactGUID(s string) string { return strings.ToLower(strings.ReplaceAll(s, "-", "")) }

func (p *Provider) putAssignment(ctx context.Context, e *resource.Engine, k *resource.Kind, r *resource.Request) (*resource.Response, error) {
	id := r.Path.ID
	if !isGUID(id.Name()) {
		return nil, invalidAssignmentID(id.Name())
	}
	if err := e.AuthorizeKind(ctx, k, r, "write", id); err != nil {
		return nil, err
	}
	in, err := resource.ParseBody(r.Body)
	if err != nil {
		return nil, err
	}
	props, err := resource.ObjectProp(in, "properties", "properties")
	if err != nil {
		return nil, err
	}
	if props == nil {
		return nil, resource.MissingProperty("properties")
	}
	str := func(key string) (string, bool, error) { return resource.StringProp(props, key, "properties."+key) }
	roleID, ok, err := str("roleDefinitionId")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, resource.MissingProperty("properties.roleDefinitionId")
	}
	principalID, ok, err := str("principalId")
	if err != nil {
		return nil, err
	}
	switch {
	case !ok || principalID == "":
		return nil, arm.Errorf(arm.CodeInvalidPrincipalID, "A valid principal ID must be provided for role assignment.")
	case !isGUID(principalID):
		return nil, arm.Errorf(arm.CodeInvalidPrincipalID, "The Principal ID '%s' is not valid. Principal ID must be a GUID.", principalID)
	}
	principalType, hasType, err := str("principalType")
	if err != nil {
		return nil, err
	}
	if hasType {
		known := ""
		for _, t := range principalTypes {
			if strings.EqualFold(t, principalType) {
				known = t
			}
		}
		if known == "" {
			return nil, arm.Errorf(arm.CodeInvalidPrincipalType, "The PrincipalType property '%s' is not valid. It must be 'User', 'Group' or 'ServicePrincipal'.", principalType)
		}
		principalType = known
	}
	optional := func(key string) (*string, error) {
		v, ok, err := str(key)
		if err != nil || !ok {
			return nil, err
		}
		return &v, nil
	}
	var description, condition, conditionVersion, delegated *string
	for key, dst := range map[string]**string{"description": &description, "condition": &condition, "conditionVersion": &conditionVersion, "delegatedManagedIdentityResourceId": &delegated} {
		if *dst, err = optional(key); err != nil {
			return nil, err
		}
	}
	guid, ok := roleRef(roleID)
	if !ok {
		return nil, arm.Errorf(arm.CodeInvalidRoleDefinitionID, "The role definition ID '%s' is not valid.", roleID)
	}
	scope := scopeOf(id)
	scopeKey := authz.ScopeKey(scope.Key())
	status := http.StatusCreated
	var out *assignment
	err = e.UpdateFor(ctx, r, func(c *resource.Ctx) error {
		if err := c.CheckScope(id); err != nil {
			return err
		}
		if !scope.IsRoot() && !scope.IsSubscription() && !scope.IsResourceGroup() {
			if _, err := c.Load(scope); resource.IsNotFound(err) {
				return c.NotFound(scope)
			} else if err != nil {
				return err
			}
		}
		if _, err := p.roleAt(c, guid, scopeKey, http.StatusBadRequest); err != nil {
			return err
		}
		o, err := identity.GetObject(c.Tx, principalID)
		if resource.IsNotFound(err) {
			return arm.Errorf(arm.CodePrincipalNotFound, "Principal %s does not exist in the directory %s. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype",
				compactGUID(principalID), identity.DefaultTenantID)
		}
		if err != nil {
			return err
		}
		if hasType && !strings.EqualFold(principalType, o.PrincipalType()) {
			// Azure's message, its spelling included.
			return arm.Errorf(arm.CodeUnmatchedPrincipalType, "The PrincipalId '%s' has type '%s' , which is different from specified PrinciaplType '%s'.", compactGUID(principalID), o.PrincipalType(), principalType)
		}
		principalType = o.PrincipalType()
		now := arm.FormatTime(c.Now)
		caller := r.Principal.ObjectID
		old, err := loadAssignment(c, id.Key())
		switch {
		case err == nil:
			oldGUID, _ := roleRef(old.Properties.RoleDefinitionID)
			if !strings.EqualFold(old.Properties.PrincipalID, principalID) || oldGUID != guid || !strings.EqualFold(old.Properties.Scope, scopeString(scope)) {
				return arm.Errorf(arm.CodeRoleAssignmentUpdateNotPermitted, "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.")
			}
			status = http.StatusOK
			old.Properties.Description, old.Properties.Condition, old.Properties.ConditionVersion = description, condition, conditionVersion
			old.Properties.DelegatedManagedIdentityResourceID = delegated
			old.Properties.UpdatedOn, old.Properties.UpdatedBy = now, &caller
			out = old
		case resource.IsNotFound(err):
			if dup, err := p.sameAssignment(c, scope, principalID, guid); err != nil {
				return err
			} else if dup != "" {
				return arm.Errorf(arm.CodeRoleAssignmentExists, "The role assignment already exists. The ID of the existing role assignment is %s.", compactGUID(dup))
			}
			out = &assignment{
				Properties: assignmentProps{
					RoleDefinitionID: roleID, PrincipalID: principalID, PrincipalType: principalType, Scope: scopeString(scope),
					Condition: condition, ConditionVersion: conditionVersion, CreatedOn: now, UpdatedOn: now,
					CreatedBy: &caller, UpdatedBy: &caller, DelegatedManagedIdentityResourceID: delegated, Description: description,
				},
				ID: id.String(), Type: authz.AssignmentType, Name: id.Name(),
			}
		default:
			return err
		}
		return p.write(c, out.ID, authz.AssignmentType, out, status == http.StatusOK)
	})
	if err != nil {
		return nil, err
	}
	return jsonResponse(status, out)
}

// sameAssignment returns the name of another assignment of the same role
// to the same principal at the same scope, or "".
func (p *Provider) sameAssignment(c *resource.Ctx, scope arm.ResourceID, principal, guid string) (string, error) {
	parent := scope.Key()
	if scope.IsRoot() {
		parent = ""
	}
	recs, err := c.Tx.List(store.Query{Parent: parent, Type: authz.AssignmentType})
	if err != nil {
		return "", err
	}
	for _, rec := range recs {
		a := &assignment{}
		if err := json.Unmarshal(rec.Body, a); err != nil {
			return "", err
		}
		g, _ := roleRef(a.Properties.RoleDefinitionID)
		if g == guid && strings.EqualFold(a.Properties.PrincipalID, principal) && strings.EqualFold(a.Properties.Scope, scopeString(scope)) {
			return a.Name, nil
		}
	}
	return "", nil
}

func (p *Provider) deleteAssignment(ctx context.Context, e *resource.Engine, k *resource.Kind, r *resource.Request) (*resource.Response, error) {
	id := r.Path.ID
	if !isGUID(id.Name()) {
		return nil, invalidAssignmentID(id.Name())
	}
	if err := e.AuthorizeKind(ctx, k, r, "delete", id); err != nil {
		return nil, err
	}
	var gone *assignment
	err := e.UpdateFor(ctx, r, func(c *resource.Ctx) error {
		if err := c.CheckScope(id); err != nil {
			return err
		}
		a, err := loadAssignment(c, id.Key())
		if resource.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		d, err := c.LoadKey(id.Key())
		if err != nil {
			return err
		}
		gone = a
		return c.Remove(d)
	})
	if err != nil {
		return nil, err
	}
	if gone == nil {
		// "Role assignment was already deleted or does not exist." (spec)
		return &resource.Response{Status: http.StatusNoContent, Header: http.Header{}}, nil
	}
	return jsonResponse(http.StatusOK, gone)
}

// assignmentFilter is a role assignment list's $filter: atScope() keeps
// assignments at or above the scope (not below); principalId eq '{id}' and
// assignedTo('{id}') keep one principal's (the spec's
// RoleAssignmentFilterParameter; without groups, assignedTo is principalId).
type assignmentFilter struct {
	atScope   bool
	principal string
}

func parseAssignmentFilter(f string) (assignmentFilter, error) {
	var out assignmentFilter
	byPrincipalID := false
	for _, t := range arm.FilterTerms(f) {
		if n, v, ok := arm.FilterEq(t); ok && strings.EqualFold(n, "principalId") {
			out.principal, byPrincipalID = v, true
			continue
		}
		m := callTerm.FindStringSubmatch(t)
		switch {
		case m != nil && strings.EqualFold(m[1], "atScope") && m[2] == "":
			out.atScope = true
		case m != nil && strings.EqualFold(m[1], "assignedTo") && m[2] != "":
			out.principal = m[2]
		default:
			return out, unsupportedFilter(f)
		}
	}
	if out.atScope && byPrincipalID {
		// The Azure CLI: "atScope()" and "principalId eq '{value}'" query
		// cannot be used together (API limitation).
		return out, arm.Errorf(arm.CodeUnsupportedFilter, "The filter '%s' is not supported: atScope() and principalId eq cannot be used together; use atScope() and assignedTo('{id}').", f)
	}
	return out, nil
}

func (p *Provider) listAssignments(ctx context.Context, e *resource.Engine, k *resource.Kind, r *resource.Request) (*resource.Response, error) {
	scope := scopeOf(r.Path.ID)
	f, err := parseAssignmentFilter(r.Query.Get("$filter"))
	if err != nil {
		return nil, err
	}
	// Lists show the assignments the caller may read: all those at, above
	// and below the scope when it may read at the scope, else those below
	// it that it may read one by one (learn.microsoft.com, "List Azure role
	// assignments": "This list includes all role assignments you have
	// permission to read").
	partial := false
	if err := e.AuthorizeKind(ctx, k, r, "read", scope); err != nil {
		if f.atScope || e.Reach(ctx, r, scope)&authz.Below == 0 {
			return nil, err
		}
		partial = true
	}
	key := authz.ScopeKey(scope.Key())
	var out []*assignment
	err = e.ViewFor(ctx, r, func(c *resource.Ctx) error {
		if !scope.IsRoot() {
			if err := c.CheckScope(scope); err != nil {
				return err
			}
			if _, err := c.Load(scope); resource.IsNotFound(err) {
				return c.NotFound(scope)
			} else if err != nil {
				return err
			}
		}
		for _, a := range p.rbac.Assignments(f.principal) {
			above := authz.Within(key, a.Scope)
			below := !above && authz.Within(a.Scope, key)
			if !above && !(below && !f.atScope) {
				continue
			}
			x, err := loadAssignment(c, a.Key)
			if resource.IsNotFound(err) {
				continue // removed since the index was read
			}
			if err != nil {
				return err
			}
			if partial {
				aid, aerr := arm.ParseResourceID(x.ID)
				if !below || aerr != nil || e.AuthorizeKind(ctx, k, r, "read", aid) != nil {
					continue
				}
			}
			// An assignment at the root, listed below a subscription, names
			// its role in that subscription's form (as ARM answers).
			if a.Scope == "/" && scope.SubscriptionID() != "" {
				if g, ok := roleRef(x.Properties.RoleDefinitionID); ok {
					x.Properties.RoleDefinitionID = "/subscriptions/" + scope.SubscriptionID() + "/providers/Microsoft.Authorization/roleDefinitions/" + g
				}
			}
			out = append(out, x)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortByID(out, func(a *assignment) string { return a.ID })
	if out == nil {
		out = []*assignment{}
	}
	return jsonResponse(http.StatusOK, listOf[*assignment]{Value: out})
}
