// Package authorization holds the rules of Microsoft.Authorization's role
// assignments, role definitions and permissions: Azure role-based access
// control's API, whose records internal/authz evaluates on every request.
package authorization

import (
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/authz"
	"github.com/privlink/privlink/internal/authz/builtin"
	"github.com/privlink/privlink/internal/catalog"
	"github.com/privlink/privlink/internal/resource"
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

// handlers builds a Handle map.
type handler = func(ctx context.Context, e *resource.Engine, r *resource.Request) (*resource.Response, error)

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

// filterTerms splits a $filter on " and ", trimmed.
func filterTerms(f string) []string {
	var out []string
	for _, t := range regexp.MustCompile(`(?i)\s+and\s+`).Split(strings.TrimSpace(f), -1) {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// quoted reads the value of a term "name eq 'value'" or "fn('value')".
var (
	eqTerm   = regexp.MustCompile(`(?i)^(\w+)\s+eq\s+'([^']*)'$`)
	callTerm = regexp.MustCompile(`(?i)^(\w+)\(\s*(?:'([^']*)')?\s*\)$`)
)

// unsupportedFilter is the refusal of a $filter a list cannot apply.
func unsupportedFilter(f string) error {
	return arm.Errorf(arm.CodeUnsupportedFilter, "The filter '%s' is not supported.", f)
}

func sortByID[T any](items []T, id func(T) string) {
	sort.Slice(items, func(i, j int) bool { return strings.ToLower(id(items[i])) < strings.ToLower(id(items[j])) })
}

// versions accepts the catalog's api-versions of typ and those given.
func versions(typ string, extra ...string) []string { return catalog.Accept(typ, extra...) }
