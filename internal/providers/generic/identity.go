package generic

import (
	"strings"

	"github.com/google/uuid"
	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/resource"
)

// UserAssignedIdentityType is the type of user-assigned managed identities.
const UserAssignedIdentityType = "Microsoft.ManagedIdentity/userAssignedIdentities"

// Identity gives the managed identities a write asks for their ids, as
// ARM's ManagedServiceIdentity shows them (common-types v5
// managedidentity.json): a system-assigned identity ("SystemAssigned", or
// "SystemAssigned, UserAssigned" in either spelling) gets principalId and
// tenantId, kept across updates; each of userAssignedIdentities gets the
// principalId and clientId of that identity resource (a stored
// userAssignedIdentities resource's own, else stable ids made from its id,
// so that a template's reference() reads the same values each time). An
// identity without a system-assigned part loses principalId and tenantId.
//
// A system-assigned identity is a real principal of the directory, a
// managed identity belonging to the resource: it can be given roles, and
// the managed identity endpoints hand out its tokens (mi_res_id = the
// resource's id). It lives as long as the resource has it (ReleaseIdentity).
func Identity(c *resource.Ctx, w *resource.Write) error {
	ident, err := resource.ObjectProp(w.Input, "identity", "identity")
	if err != nil {
		return err
	}
	if ident == nil {
		// No identity sent: a PUT replaces the resource without one.
		return releaseOld(c, w)
	}
	typ, _, err := resource.StringProp(ident, "type", "identity.type")
	if err != nil {
		return err
	}
	ident = ident.Clone()
	norm := strings.ToLower(strings.ReplaceAll(typ, " ", ""))
	if strings.Contains(norm, "systemassigned") {
		principal, tenant := uuid.NewString(), ""
		if c.Principal != nil {
			tenant = c.Principal.TenantID
		}
		if w.Old != nil {
			if old, _ := w.Old.Obj.Object("identity"); old != nil {
				if p, ok, _ := old.String("principalId"); ok && p != "" {
					principal = p
				}
				if t, ok, _ := old.String("tenantId"); ok && t != "" {
					tenant = t
				}
			}
		}
		ident.SetValue("principalId", principal)
		ident.SetValue("tenantId", tenant)
		if err := ensurePrincipal(c, w.ID, principal); err != nil {
			return err
		}
	} else {
		ident.Delete("principalId")
		ident.Delete("tenantId")
		if err := releaseOld(c, w); err != nil {
			return err
		}
	}
	uais, err := resource.ObjectProp(ident, "userAssignedIdentities", "identity.userAssignedIdentities")
	if err != nil {
		return err
	}
	if uais != nil {
		out := &arm.Object{}
		for _, id := range uais.Keys() {
			principal, client, err := userAssigned(c, id)
			if err != nil {
				return err
			}
			out.SetValue(id, map[string]string{"principalId": principal, "clientId": client})
		}
		ident.SetObject("userAssignedIdentities", out)
	}
	w.Doc.Obj.SetObject("identity", ident)
	return nil
}

// ensurePrincipal makes sure the directory holds the system-assigned
// identity principal of the resource id.
func ensurePrincipal(c *resource.Ctx, id arm.ResourceID, principal string) error {
	if _, err := identity.GetObject(c.Tx, principal); err == nil || !resource.IsNotFound(err) {
		return err
	}
	return identity.SaveObject(c.Tx, &identity.DirectoryObject{
		ObjectID: principal, Kind: identity.KindManagedIdentity, AppID: StableID("client", id.String()),
		DisplayName: id.Name(), ResourceID: id.String(), Created: c.Now.UTC(),
	})
}

// releaseOld removes the system-assigned identity principal a write takes
// away from the resource.
func releaseOld(c *resource.Ctx, w *resource.Write) error {
	if w.Old == nil {
		return nil
	}
	return ReleaseIdentity(c, w.Old)
}

// ReleaseIdentity removes the system-assigned identity principal of d (a
// BeforeDelete rule of every type that may carry one): Azure deletes a
// resource's system-assigned identity with the resource. Its role
// assignments stay, naming a principal that is gone, as in Azure.
func ReleaseIdentity(c *resource.Ctx, d *resource.Doc) error {
	old, _ := d.Obj.Object("identity")
	if old == nil {
		return nil
	}
	p, _, _ := old.String("principalId")
	if p == "" {
		return nil
	}
	o, err := identity.GetObject(c.Tx, p)
	if resource.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if o.Kind != identity.KindManagedIdentity || !strings.EqualFold(o.ResourceID, d.ID.String()) {
		return nil
	}
	return identity.DeleteObject(c.Tx, p)
}

// userAssigned returns the principal and client ids of the user-assigned
// identity id: the stored resource's, else ids derived from id.
func userAssigned(c *resource.Ctx, id string) (principal, client string, err error) {
	if rid, aerr := arm.ParseResourceID(id); aerr == nil && strings.EqualFold(rid.Type(), UserAssignedIdentityType) {
		d, err := c.LoadKey(rid.Key())
		switch {
		case err == nil:
			p, _, _ := d.Props().String("principalId")
			cl, _, _ := d.Props().String("clientId")
			if p != "" && cl != "" {
				return p, cl, nil
			}
		case !resource.IsNotFound(err):
			return "", "", err
		}
	}
	return StableID("principal", id), StableID("client", id), nil
}

// StableID is a GUID made from what and the case-insensitive id: the same
// inputs always give the same GUID.
func StableID(what, id string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("privlink:"+what+":"+strings.ToLower(id))).String()
}
