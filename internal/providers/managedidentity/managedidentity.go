// Package managedidentity holds the rules of Microsoft.ManagedIdentity's
// user-assigned identities: generic resources with their ids.
package managedidentity

import (
	"github.com/privlink/privlink/internal/providers/common"
	"github.com/privlink/privlink/internal/providers/generic"
	"github.com/privlink/privlink/internal/resource"
)

// Register adds user-assigned identities to e.
func Register(e *resource.Engine) { e.Register(userAssignedIdentity()) }

// userAssignedIdentity is the kind of userAssignedIdentities: generic, plus the read-only ids that templates
// read back to assign roles to the identity (reference(id).principalId) and
// that resources using it show (generic.Identity): tenantId, principalId and
// clientId, made once and kept.
func userAssignedIdentity() *resource.Kind {
	k := generic.Kind(generic.UserAssignedIdentityType)
	k.Generic = false // rules of its own: not to be replaced
	base := k.Build
	k.Build = func(c *resource.Ctx, w *resource.Write) error {
		if err := base(c, w); err != nil {
			return err
		}
		tenant := ""
		if c.Principal != nil {
			tenant = c.Principal.TenantID
		}
		common.Keep(w, "tenantId", tenant)
		common.Keep(w, "principalId", generic.StableID("principal", w.ID.String()))
		common.Keep(w, "clientId", generic.StableID("client", w.ID.String()))
		return nil
	}
	return k
}
