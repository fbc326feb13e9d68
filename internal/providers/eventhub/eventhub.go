// Package eventhub holds the rules of Microsoft.EventHub/namespaces as a
// private link target (sub-resource namespace).
package eventhub

import (
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
// and those privlink accepted before it (armeventhub v1.3 uses 2024-01-01,
// @azure/arm-eventhub 6 2026-01-01).
var APIVersions = catalog.Accept(Type, "2017-04-01", "2018-01-01-preview", "2021-01-01-preview", "2021-06-01-preview", "2021-11-01", "2022-01-01-preview", "2022-10-01-preview", "2023-01-01-preview", "2024-01-01", "2024-05-01-preview")

// Type is the Event Hubs namespace type.
const Type = "Microsoft.EventHub/namespaces"

var nsName = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]{4,48}[a-zA-Z0-9]$`)

// Register adds Event Hubs namespaces and their private link types.
func Register(e *resource.Engine, reg *privatelink.Registry) {
	rule := common.NameRule(nsName, arm.CodeInvalidResourceName, "The namespace name",
		"It must be 6 to 50 characters long, start with a letter, end with a letter or digit, and contain only letters, digits and hyphens.")
	e.Register(&resource.Kind{
		Type:        Type,
		APIVersions: APIVersions,
		Tracked:     true,
		Pageable:    true,
		Patchable:   true,
		ValidateName: func(name string) *arm.Error {
			if err := rule(name); err != nil {
				return err
			}
			if l := strings.ToLower(name); strings.HasSuffix(l, "-sb") || strings.HasSuffix(l, "-mgmt") {
				return arm.Errorf(arm.CodeInvalidResourceName, "The namespace name '%s' is invalid. It cannot end with '-sb' or '-mgmt'.", name)
			}
			return nil
		},
		Build: func(c *resource.Ctx, w *resource.Write) error {
			if !w.Input.Has("sku") {
				w.Doc.Obj.SetValue("sku", map[string]any{"name": "Standard", "tier": "Standard", "capacity": 1})
			}
			n := w.ID.Name()
			p := w.Doc.Props()
			p.SetValue("serviceBusEndpoint", "https://"+n+".servicebus.windows.net:443/")
			p.SetValue("metricId", w.ID.SubscriptionID()+":"+strings.ToLower(n))
			p.SetValue("status", "Active")
			common.Keep(w, "createdAt", arm.FormatTime(c.Now))
			p.SetValue("updatedAt", arm.FormatTime(c.Now))
			return nil
		},
		AfterWrite: func(c *resource.Ctx, w *resource.Write) error {
			if !w.Created() {
				return nil
			}
			return createRootRule(c, w.Doc)
		},
	})
	e.Register(ruleKind(NamespaceRuleType), ruleKind(HubRuleType))
	reg.Add(e, &privatelink.Target{
		Type:            Type,
		APIVersions:     APIVersions,
		Groups:          []privatelink.Group{{ID: "namespace", RequiredMembers: []string{"namespace"}, ZoneNames: []string{"privatelink.servicebus.windows.net"}}},
		Managed:         []string{"namespace"},
		ConnectionState: "Succeeded",
		Transitions:     Transitions,
		// eventhub's ConnectionState is status and description only.
		StateActions: privatelink.NoStateActions,
	})
}

// The authorization rule types: a namespace's and an event hub's.
const (
	NamespaceRuleType = "Microsoft.EventHub/namespaces/authorizationRules"
	HubRuleType       = "Microsoft.EventHub/namespaces/eventhubs/authorizationRules"
)

// RootRule is the rule every namespace is created with, as in Azure, with
// every right: the one templates read a connection string from
// (listKeys(resourceId('Microsoft.EventHub/namespaces/authorizationRules',
// ns, 'RootManageSharedAccessKey'), v).primaryConnectionString).
const RootRule = "RootManageSharedAccessKey"

// rulesExt keeps a rule's two shared access keys (32 random bytes, as Azure's).
const rulesExt = "eventhub.keys"

// ruleKind is an authorization rule type: generic, with its keys made on
// creation and kept, and listKeys / regenerateKeys actions.
func ruleKind(typ string) *resource.Kind {
	k := generic.Kind(typ)
	k.Generic = false // rules of its own: not to be replaced
	base := k.Build
	k.Build = func(c *resource.Ctx, w *resource.Write) error {
		if err := base(c, w); err != nil {
			return err
		}
		common.Keys(w.Doc, rulesExt, 32)
		return nil
	}
	k.Actions = map[string]resource.Action{"listkeys": listKeys, "regeneratekeys": regenerateKeys}
	return k
}

func createRootRule(c *resource.Ctx, ns *resource.Doc) error {
	d := c.NewDoc(c.Kind(NamespaceRuleType), ns.ID.Child("authorizationRules", RootRule))
	if l := ns.Str("location"); l != "" {
		d.Obj.SetValue("location", l)
	}
	d.Props().SetValue("rights", []string{"Listen", "Manage", "Send"})
	common.Keys(d, rulesExt, 32)
	c.StampSystemData(d, nil)
	return c.Save(d)
}

// accessKeys is the AccessKeys answer of listKeys and regenerateKeys.
type accessKeys struct {
	PrimaryConnectionString   string `json:"primaryConnectionString"`
	SecondaryConnectionString string `json:"secondaryConnectionString"`
	PrimaryKey                string `json:"primaryKey"`
	SecondaryKey              string `json:"secondaryKey"`
	KeyName                   string `json:"keyName"`
}

func keysOf(id arm.ResourceID, keys common.KeyPair) accessKeys {
	// Names: [namespace, rule] or [namespace, hub, rule].
	conn := func(key string) string {
		s := "Endpoint=sb://" + id.Names[0] + ".servicebus.windows.net/;SharedAccessKeyName=" + id.Name() + ";SharedAccessKey=" + key
		if len(id.Names) == 3 {
			s += ";EntityPath=" + id.Names[1]
		}
		return s
	}
	return accessKeys{
		PrimaryConnectionString: conn(keys.Primary), SecondaryConnectionString: conn(keys.Secondary),
		PrimaryKey: keys.Primary, SecondaryKey: keys.Secondary, KeyName: id.Name(),
	}
}

// listKeys is POST {rule}/listKeys.
func listKeys(c *resource.Ctx, id arm.ResourceID, r *resource.Request) (*resource.Response, error) {
	d, err := c.Load(id)
	if err != nil {
		return nil, err
	}
	keys, made := common.Keys(d, rulesExt, 32)
	if made {
		if err := c.Save(d); err != nil {
			return nil, err
		}
	}
	return common.JSON(keysOf(d.ID, keys))
}

// regenerateKeys is POST {rule}/regenerateKeys {"keyType": "PrimaryKey"|"SecondaryKey", "key": optional}.
func regenerateKeys(c *resource.Ctx, id arm.ResourceID, r *resource.Request) (*resource.Response, error) {
	in, err := resource.ParseBody(r.Body)
	if err != nil {
		return nil, err
	}
	typ, ok, err := resource.StringProp(in, "keyType", "keyType")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, resource.MissingProperty("keyType")
	}
	key, _, err := resource.StringProp(in, "key", "key")
	if err != nil {
		return nil, err
	}
	if key == "" {
		key = common.NewKey(32)
	}
	d, err := c.Load(id)
	if err != nil {
		return nil, err
	}
	keys, _ := common.Keys(d, rulesExt, 32)
	switch strings.ToLower(typ) {
	case "primarykey":
		keys.Primary = key
	case "secondarykey":
		keys.Secondary = key
	default:
		return nil, arm.Errorf(arm.CodeInvalidParameter, "The keyType '%s' is invalid. It must be 'PrimaryKey' or 'SecondaryKey'.", typ)
	}
	d.SetExt(rulesExt, keys)
	if err := c.Save(d); err != nil {
		return nil, err
	}
	return common.JSON(keysOf(d.ID, keys))
}
