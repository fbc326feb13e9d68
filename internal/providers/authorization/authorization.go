// Package authorization holds the rules of Microsoft.Authorization's role
// assignments, role definitions and permissions: Azure role-based access
// control's API, whose records internal/authz evaluates on every request.
package authorization

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/google/uuid"
	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/authz"
	"github.com/privlink/privlink/internal/authz/builtin"
	"github.com/privlink/privlink/internal/catalog"
	"github.com/privlink/privlink/internal/resource"
	"github.com/privlink/privlink/internal/store"
)

// PermissionsType is the type of {scope}/providers/Microsoft.Authorization/permissions.
const PermissionsType = "Microsoft.Authorization/permissions"

// AllScopes is where Microsoft.Authorization's types live: at the tenant
// root, in management groups, subscriptions and resource groups, and on any
// resource.
const AllScopes = resource.InTenant | resource.InManagementGroup | resource.InSubscription | resource.InResourceGroup | resource.InExtension

// Provider serves Microsoft.Authorization over the role assignments and
// definitions that rbac evaluates.
type Provider struct {
	rbac     *authz.RBAC
	log      *slog.Logger
	builtins map[string][]byte // GUID -> the built-in role's document, tenant form
}

// BuiltinRoles are Azure's built-in roles (internal/authz/builtin),
// compiled for authz.NewRBAC.
func BuiltinRoles() []*authz.Role {
	all := builtin.All()
	out := make([]*authz.Role, 0, len(all))
	for _, b := range all {
		blocks := make([]authz.Block, len(b.Permissions))
		for i, p := range b.Permissions {
			blocks[i] = authz.Block{Actions: p.Actions, NotActions: p.NotActions, DataActions: p.DataActions, NotDataActions: p.NotDataActions}
		}
		out = append(out, authz.NewRole(b.ID, b.Name, true, blocks, []string{"/"}))
	}
	return out
}

// Register adds role assignments, role definitions and permissions to e.
func Register(e *resource.Engine, rbac *authz.RBAC, log *slog.Logger) *Provider {
	if log == nil {
		log = slog.Default()
	}
	p := &Provider{rbac: rbac, log: log, builtins: map[string][]byte{}}
	for _, b := range builtin.All() {
		p.builtins[strings.ToLower(b.ID)] = b.Raw
	}
	e.Register(p.assignmentKind(), p.definitionKind(), p.permissionsKind())
	return p
}

// refresh brings rbac's index up to date with the records of keys, once
// the transaction that changed them commits.
func (p *Provider) refresh(c *resource.Ctx, keys ...string) {
	c.OnCommit(func() {
		if err := p.rbac.Refresh(context.Background(), keys...); err != nil {
			p.log.Error("access control: refreshing role assignments", "keys", keys, "err", err)
		}
	})
}

// write stores doc (an assignment or a definition) at id in c's
// transaction, replacing the one there when replace, and refreshes access
// control's index once it commits.
func (p *Provider) write(c *resource.Ctx, id, typ string, doc any, replace bool) error {
	body, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	rec := &store.Record{ID: id, Type: typ, Body: body}
	if replace {
		err = c.Tx.Replace(rec)
	} else {
		err = c.Tx.Create(rec)
	}
	if err != nil {
		return err
	}
	p.refresh(c, rec.Key())
	return nil
}

// guidPattern is a GUID as ARM writes them.
var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func isGUID(s string) bool { return guidPattern.MatchString(s) }

// scopeOf is the scope an item or a collection of Microsoft.Authorization
// lives at: the id without its Microsoft.Authorization part.
func scopeOf(id arm.ResourceID) arm.ResourceID {
	if id.Scope != nil {
		return *id.Scope
	}
	return arm.ResourceID{Subscription: id.Subscription, ResourceGroup: id.ResourceGroup}
}

// scopeString writes a scope as role assignments show it ("/" for the root).
func scopeString(s arm.ResourceID) string { return s.String() }

// handler is a Kind.Handle function.
type handler = func(ctx context.Context, e *resource.Engine, r *resource.Request) (*resource.Response, error)

// kindHandler is a handler that is also given its kind.
type kindHandler = func(ctx context.Context, e *resource.Engine, k *resource.Kind, r *resource.Request) (*resource.Response, error)

// handlers makes k's Handle map from handlers given k.
func handlers(k *resource.Kind, m map[string]kindHandler) map[string]handler {
	out := make(map[string]handler, len(m))
	for method, h := range m {
		out[method] = func(ctx context.Context, e *resource.Engine, r *resource.Request) (*resource.Response, error) {
			return h(ctx, e, k, r)
		}
	}
	return out
}

func jsonResponse(status int, v any) (*resource.Response, error) {
	b, err := arm.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &resource.Response{Status: status, Body: b, Header: http.Header{}}, nil
}

// listOf is a {"value": [...]} list.
type listOf[T any] struct {
	Value []T `json:"value"`
}

// callTerm reads a term "fn()" or "fn('value')" of a $filter (see
// arm.FilterTerms).
var callTerm = regexp.MustCompile(`(?i)^(\w+)\(\s*(?:'([^']*)')?\s*\)$`)

// unsupportedFilter is the refusal of a $filter a list cannot apply.
func unsupportedFilter(f string) error {
	return arm.Errorf(arm.CodeUnsupportedFilter, "The filter '%s' is not supported.", f)
}

func sortByID[T any](items []T, id func(T) string) {
	sort.Slice(items, func(i, j int) bool { return strings.ToLower(id(items[i])) < strings.ToLower(id(items[j])) })
}

// versions accepts the catalog's api-versions of typ and those given.
func versions(typ string, extra ...string) []string { return catalog.Accept(typ, extra...) }

// OwnerRoleID is the GUID of Azure's built-in Owner role.
const OwnerRoleID = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"

// Grant assigns role (a GUID) at scope to the principal with the given
// object id and principalType (User or ServicePrincipal), in c's
// transaction, unless the same assignment exists: what ARM does for the
// creator of a subscription, and what privlink does for its default
// principals. The assignment's name is derived from what it grants, so
// granting twice makes one assignment.
func (p *Provider) Grant(c *resource.Ctx, scope arm.ResourceID, principalID, principalType, role string) error {
	guid := strings.ToLower(role)
	if dup, err := p.sameAssignment(c, scope, principalID, guid); err != nil || dup != "" {
		return err
	}
	name := uuid.NewSHA1(uuid.NameSpaceURL, []byte("privlink:grant:"+scope.Key()+":"+strings.ToLower(principalID)+":"+guid)).String()
	id := scope.Child(authz.AssignmentType, name)
	if scope.Namespace != "" || len(scope.Types) > 0 {
		s := scope
		id = arm.ResourceID{Scope: &s, Namespace: "Microsoft.Authorization", Types: []string{"roleAssignments"}, Names: []string{name}}
	}
	now := arm.FormatTime(c.Now)
	roleID := definitionID(scope, guid)
	var by *string
	if c.Principal != nil {
		oid := c.Principal.ObjectID
		by = &oid
	}
	a := &assignment{
		Properties: assignmentProps{RoleDefinitionID: roleID, PrincipalID: principalID, PrincipalType: principalType, Scope: scopeString(scope),
			CreatedOn: now, UpdatedOn: now, CreatedBy: by, UpdatedBy: by},
		ID: id.String(), Type: authz.AssignmentType, Name: name,
	}
	return p.write(c, a.ID, authz.AssignmentType, a, false)
}

// GrantCreator makes the caller of c Owner of the subscription it just
// created (through Microsoft.Subscription/aliases), as ARM does.
func (p *Provider) GrantCreator(c *resource.Ctx, subscription string) error {
	if c.Principal == nil {
		return nil
	}
	typ := "ServicePrincipal"
	if c.Principal.Type == arm.PrincipalUser {
		typ = "User"
	}
	return p.Grant(c, arm.ResourceID{Subscription: subscription}, c.Principal.ObjectID, typ, OwnerRoleID)
}

// SeedOwners makes each of principals (object ids of service principals)
// Owner of subscription when no role assignment exists at all: a new data
// directory, or one from before access control, whose default principals
// must keep the access they had.
func (p *Provider) SeedOwners(ctx context.Context, e *resource.Engine, subscription string, principals ...string) error {
	return e.Update(ctx, func(c *resource.Ctx) error {
		recs, err := c.Tx.List(store.Query{Type: authz.AssignmentType, Limit: 1})
		if err != nil || len(recs) > 0 {
			return err
		}
		for _, id := range principals {
			if err := p.Grant(c, arm.ResourceID{Subscription: subscription}, id, "ServicePrincipal", OwnerRoleID); err != nil {
				return err
			}
		}
		return nil
	})
}
