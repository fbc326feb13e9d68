// Package keyvault holds the rules of Microsoft.KeyVault/vaults as a private
// link target (sub-resource vault).
package keyvault

import (
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"strings"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/catalog"
	"github.com/privlink/privlink/internal/providers/common"
	"github.com/privlink/privlink/internal/providers/generic"
	"github.com/privlink/privlink/internal/providers/privatelink"
	"github.com/privlink/privlink/internal/resource"
)

// APIVersions are the accepted api-versions, oldest first: the catalog's
// and those privlink accepted before it (armkeyvault v1.5 uses 2024-11-01,
// @azure/arm-keyvault 5 2026-02-01).
var APIVersions = catalog.Accept(Type, "2019-09-01", "2021-04-01-preview", "2021-06-01-preview", "2021-10-01", "2021-11-01-preview", "2022-02-01-preview", "2022-07-01", "2022-11-01", "2023-02-01", "2023-07-01", "2024-04-01-preview", "2024-11-01", "2024-12-01-preview", "2025-05-01")

// Type is the vault type.
const Type = "Microsoft.KeyVault/vaults"

var vaultName = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$`)

// Register adds vaults and their private link types.
func Register(e *resource.Engine, reg *privatelink.Registry) {
	rule := common.NameRule(vaultName, "VaultNameNotValid", "The vault name",
		"Vault name must be between 3-24 alphanumeric characters. The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens.")
	e.Register(&resource.Kind{
		Type:        Type,
		APIVersions: APIVersions,
		Tracked:     true,
		Pageable:    true,
		Patchable:   true,
		ValidateName: func(name string) *arm.Error {
			if strings.Contains(name, "--") {
				return rule("--")
			}
			return rule(name)
		},
		Build: func(c *resource.Ctx, w *resource.Write) error {
			p := w.Doc.Props()
			if _, ok, err := resource.StringProp(p, "tenantId", "properties.tenantId"); err != nil {
				return err
			} else if !ok {
				return resource.MissingProperty("properties.tenantId")
			}
			if sku, err := resource.ObjectProp(p, "sku", "properties.sku"); err != nil {
				return err
			} else if sku == nil {
				return resource.MissingProperty("properties.sku")
			}
			p.SetValue("vaultUri", "https://"+w.ID.Name()+".vault.azure.net/")
			common.Default(w.Doc, "accessPolicies", []any{})
			common.Default(w.Doc, "enableSoftDelete", true)
			common.Default(w.Doc, "softDeleteRetentionInDays", 90)
			return nil
		},
	})
	e.Register(secretKind())
	reg.Add(e, &privatelink.Target{
		Type:        Type,
		APIVersions: APIVersions,
		// keyvault.json: VaultProperties.privateEndpointConnections is PrivateEndpointConnectionItem.
		EmbeddedMembers: []string{"id", "etag", "properties"},
		Groups:          []privatelink.Group{{ID: "vault", RequiredMembers: []string{"default"}, ZoneNames: []string{"privatelink.vaultcore.azure.net"}}},
		Managed:         []string{"vault"},
		ETag:            true,
		ConnectionState: "Succeeded",
		Transitions:     Transitions,
	})
}

// SecretType is the type of a vault's secrets.
const SecretType = "Microsoft.KeyVault/vaults/secrets"

// secretExt keeps a secret's value, which Azure never serves through ARM.
const secretExt = "keyvault.secret"

// secretKind is a vault's secrets: generic, with the read-only values the
// spec gives them (SecretProperties: secretUri, secretUriWithVersion, and
// attributes' created and updated, in seconds since 1970) and without the
// value, which Azure's ARM API never returns. Templates read secretUri back
// for Key Vault references ("@Microsoft.KeyVault(SecretUri=...)"). Each
// write makes a new version, as a PUT of a secret does in Azure.
func secretKind() *resource.Kind {
	k := generic.Kind(SecretType)
	k.Generic = false // rules of its own: not to be replaced
	base := k.Build
	k.Build = func(c *resource.Ctx, w *resource.Write) error {
		if err := base(c, w); err != nil {
			return err
		}
		p := w.Doc.Props()
		if v, ok := p.Get("value"); ok {
			w.Doc.SetExt(secretExt, v)
			p.Delete("value")
		}
		attrs, err := resource.ObjectProp(p, "attributes", "properties.attributes")
		if err != nil {
			return err
		}
		if attrs == nil {
			attrs = &arm.Object{}
		}
		attrs = attrs.Clone()
		if !attrs.Has("enabled") {
			attrs.SetValue("enabled", true)
		}
		created := c.Now.Unix()
		if w.Old != nil {
			if old, _ := w.Old.Props().Object("attributes"); old != nil {
				if raw, ok := old.Get("created"); ok {
					attrs.Set("created", raw)
					created = -1
				}
			}
		}
		if created >= 0 {
			attrs.SetValue("created", created)
		}
		attrs.SetValue("updated", c.Now.Unix())
		p.SetObject("attributes", attrs)
		uri := "https://" + w.ID.Names[0] + ".vault.azure.net/secrets/" + w.ID.Name()
		p.SetValue("secretUri", uri)
		p.SetValue("secretUriWithVersion", uri+"/"+newVersion())
		return nil
	}
	return k
}

// newVersion is a secret version id: 32 hexadecimal digits, as Key Vault's.
func newVersion() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// SecretValue returns the value a secret was last written with, for Key
// Vault references in deployment parameters: vaultID is the vault's id,
// version "" the current one. The error is ARM's when the vault or secret
// does not exist.
func SecretValue(c *resource.Ctx, vaultID, name, version string) (string, error) {
	vid, aerr := arm.ParseResourceID(vaultID)
	if aerr != nil {
		return "", aerr
	}
	d, err := c.LoadKey(vid.Child("secrets", name).Key())
	if resource.IsNotFound(err) {
		return "", arm.Errorf(arm.CodeResourceNotFound, "The secret '%s' was not found in the key vault '%s'.", name, vaultID)
	}
	if err != nil {
		return "", err
	}
	var v string
	if !d.Ext(secretExt, &v) {
		return "", arm.Errorf(arm.CodeResourceNotFound, "The secret '%s' of the key vault '%s' has no value.", name, vaultID)
	}
	return v, nil
}
