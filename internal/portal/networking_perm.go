package portal

import (
	"strings"

	"github.com/privlink/privlink/internal/authz"
)

// permissionsVersion is the api-version of Microsoft.Authorization/permissions.
const permissionsVersion = "2022-04-01"

// netPerms are the signed-in principal's permission blocks at a scope, as
// {scope}/providers/Microsoft.Authorization/permissions answers them: what
// the portal enables is what the API says the principal may do, and a
// button disabled here would be refused by the API too.
type netPerms struct {
	blocks []authz.Permission
	// known is false when the permissions could not be read: the portal
	// then enables everything and lets the API decide.
	known bool
}

// netPermissions reads the caller's permissions at scope.
func (c *reqCtx) netPermissions(scope string) netPerms {
	var out struct {
		Value []authz.Block `json:"value"`
	}
	if err := c.api.get(withVersion(strings.TrimSuffix(scope, "/")+"/providers/Microsoft.Authorization/permissions", permissionsVersion), &out); err != nil {
		return netPerms{}
	}
	ps := netPerms{known: true}
	for _, b := range out.Value {
		ps.blocks = append(ps.blocks, authz.Permission{Actions: authz.CompileAll(b.Actions), NotActions: authz.CompileAll(b.NotActions)})
	}
	return ps
}

// may reports whether one of the principal's roles grants action (each
// role's notActions subtract from that role only, as ARM evaluates them).
func (ps netPerms) may(action string) bool {
	if !ps.known {
		return true
	}
	a := strings.ToLower(action)
	for i := range ps.blocks {
		if ps.blocks[i].Grants(a) {
			return true
		}
	}
	return false
}

// mayAny reports whether one of actions is granted.
func (ps netPerms) mayAny(actions ...string) bool {
	for _, a := range actions {
		if ps.may(a) {
			return true
		}
	}
	return false
}

// netAllowed is whether a control is enabled, and if not, why, in words
// that name what would allow it.
type netAllowed struct {
	OK     bool
	Reason string
}
