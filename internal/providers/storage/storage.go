// Package storage holds the rules of Microsoft.Storage/storageAccounts as a
// private link target (sub-resources blob, dfs, and the others Azure lists).
package storage

import (
	"regexp"
	"strings"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/catalog"
	"github.com/privlink/privlink/internal/providers/common"
	"github.com/privlink/privlink/internal/providers/privatelink"
	"github.com/privlink/privlink/internal/resource"
)

// APIVersions are the accepted api-versions, oldest first: the catalog's
// and those privlink accepted before it (armstorage v1.8 uses 2024-01-01,
// v2 2025-01-01; @azure/arm-storage 20 2026-06-01, 21 2026-09-01).
var APIVersions = catalog.Accept(Type, "2021-04-01", "2021-06-01", "2021-08-01", "2021-09-01", "2022-05-01", "2022-09-01", "2023-01-01", "2023-04-01", "2023-05-01", "2024-01-01", "2025-01-01")

// Type is the storage account type.
const Type = "Microsoft.Storage/storageAccounts"

var accountName = regexp.MustCompile(`^[a-z0-9]{3,24}$`)

// Register adds storage accounts and their private link types.
func Register(e *resource.Engine, reg *privatelink.Registry) {
	e.Register(&resource.Kind{
		Type:        Type,
		APIVersions: APIVersions,
		Tracked:     true,
		Pageable:    true,
		Patchable:   true,
		// armstorage accepts only 200 or 202 from a create, never 201.
		CreatedStatus: 200,
		ValidateName: common.NameRule(accountName, "AccountNameInvalid", "Storage account name",
			"Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only."),
		Build: build,
		Actions: map[string]resource.Action{
			"listkeys":      listKeys,
			"regeneratekey": regenerateKey,
		},
	})
	var groups []privatelink.Group
	for _, g := range []string{"blob", "blob_secondary", "table", "table_secondary", "queue", "queue_secondary", "file", "web", "web_secondary", "dfs", "dfs_secondary"} {
		svc := strings.TrimSuffix(g, "_secondary")
		groups = append(groups, privatelink.Group{ID: g, RequiredMembers: []string{g}, ZoneNames: []string{"privatelink." + svc + ".core.windows.net"}})
	}
	reg.Add(e, &privatelink.Target{
		Type:            Type,
		APIVersions:     APIVersions,
		Groups:          groups,
		Managed:         []string{"blob", "dfs"},
		ConnectionState: "Succeeded",
		Transitions:     Transitions,
		// storage.json takes the common types' v1 state: "actionRequired"
		// (armstorage's PrivateLinkServiceConnectionState.ActionRequired).
		StateActions: "actionRequired",
	})
}

func build(c *resource.Ctx, w *resource.Write) error {
	sku, err := common.RequireObject(w, "sku")
	if err != nil {
		return err
	}
	name, ok, err := resource.StringProp(sku, "name", "sku.name")
	if err != nil {
		return err
	}
	if !ok {
		return resource.MissingProperty("sku.name")
	}
	if !sku.Has("tier") {
		tier := "Standard"
		if strings.HasPrefix(strings.ToLower(name), "premium") {
			tier = "Premium"
		}
		sku = sku.Clone()
		sku.SetValue("tier", tier)
		w.Doc.Obj.SetObject("sku", sku)
	}
	if _, ok, err := resource.StringProp(w.Input, "kind", "kind"); err != nil {
		return err
	} else if !ok {
		return resource.MissingProperty("kind")
	}
	n := w.ID.Name()
	loc := w.Doc.Str("location")
	endpoints := map[string]string{}
	for _, s := range []string{"blob", "queue", "table", "file", "dfs"} {
		endpoints[s] = "https://" + n + "." + s + ".core.windows.net/"
	}
	endpoints["web"] = "https://" + n + ".z13.web.core.windows.net/"
	w.Doc.Props().SetValue("primaryEndpoints", endpoints)
	w.Doc.Props().SetValue("primaryLocation", loc)
	w.Doc.Props().SetValue("statusOfPrimary", "available")
	common.Keep(w, "creationTime", arm.FormatTime(c.Now))
	common.Default(w.Doc, "supportsHttpsTrafficOnly", true)
	common.Default(w.Doc, "accessTier", "Hot")
	common.Keys(w.Doc, keysExt, 64)
	return nil
}

// keysExt keeps an account's two access keys (64 random bytes each, as
// Azure's), made with the account and stable for its life.
const keysExt = "storage.keys"

type accountKey struct {
	KeyName      string `json:"keyName"`
	Value        string `json:"value"`
	Permissions  string `json:"permissions"`
	CreationTime string `json:"creationTime,omitempty"`
}

// listKeys is POST {account}/listKeys: StorageAccountListKeysResult, as
// ARM templates read it (listKeys(id, version).keys[0].value). Permissions
// are "FULL" as Azure answers them (the spec's enum spells "Full").
func listKeys(c *resource.Ctx, id arm.ResourceID, r *resource.Request) (*resource.Response, error) {
	d, err := c.Load(id)
	if err != nil {
		return nil, err
	}
	keys, made := common.Keys(d, keysExt, 64)
	if made { // an account stored before privlink kept keys
		if err := c.Save(d); err != nil {
			return nil, err
		}
	}
	return keysResponse(d, keys)
}

// regenerateKey is POST {account}/regenerateKey {"keyName": "key1"|"key2"}.
func regenerateKey(c *resource.Ctx, id arm.ResourceID, r *resource.Request) (*resource.Response, error) {
	in, err := resource.ParseBody(r.Body)
	if err != nil {
		return nil, err
	}
	name, ok, err := resource.StringProp(in, "keyName", "keyName")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, resource.MissingProperty("keyName")
	}
	d, err := c.Load(id)
	if err != nil {
		return nil, err
	}
	keys, _ := common.Keys(d, keysExt, 64)
	switch strings.ToLower(name) {
	case "key1":
		keys.Primary = common.NewKey(64)
	case "key2":
		keys.Secondary = common.NewKey(64)
	default:
		return nil, arm.Errorf(arm.CodeInvalidParameter, "The key name '%s' is invalid. It must be 'key1' or 'key2'.", name)
	}
	d.SetExt(keysExt, keys)
	if err := c.Save(d); err != nil {
		return nil, err
	}
	return keysResponse(d, keys)
}

func keysResponse(d *resource.Doc, keys common.KeyPair) (*resource.Response, error) {
	created, _, _ := d.Props().String("creationTime")
	return common.JSON(map[string][]accountKey{"keys": {
		{KeyName: "key1", Value: keys.Primary, Permissions: "FULL", CreationTime: created},
		{KeyName: "key2", Value: keys.Secondary, Permissions: "FULL", CreationTime: created},
	}})
}
