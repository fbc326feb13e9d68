// Package managedidentity holds the rules of Microsoft.ManagedIdentity's
// user-assigned identities: generic resources with their ids.
package managedidentity

import (
	"github.com/privlink/privlink/internal/identity"
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
		// The identity is a principal of the directory: roles can be
		// assigned to it, and the managed identity endpoints serve its
		// tokens (client_id, object_id, or mi_res_id = this id).
		principal, _, _ := w.Doc.Props().String("principalId")
		client, _, _ := w.Doc.Props().String("clientId")
		if _, err := identity.GetObject(c.Tx, principal); err == nil {
			return nil
		} else if !resource.IsNotFound(err) {
			return err
		}
		return identity.SaveObject(c.Tx, &identity.DirectoryObject{ObjectID: principal, Kind: identity.KindManagedIdentity, AppID: client,
			DisplayName: w.ID.Name(), ResourceID: w.ID.String(), Created: c.Now.UTC()})
	}
	k.BeforeDelete = func(c *resource.Ctx, d *resource.Doc) error {
		principal, _, _ := d.Props().String("principalId")
		if principal == "" {
			return nil
		}
		if err := identity.DeleteObject(c.Tx, principal); err != nil && !resource.IsNotFound(err) {
			return err
		}
		return nil
	}
	return k
}
