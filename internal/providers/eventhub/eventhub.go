// Package eventhub holds the rules of Microsoft.EventHub/namespaces as a
// private link target (sub-resource namespace).
package eventhub

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
	})
	reg.Add(e, &privatelink.Target{
		Type:            Type,
		APIVersions:     APIVersions,
		Groups:          []privatelink.Group{{ID: "namespace", RequiredMembers: []string{"namespace"}, ZoneNames: []string{"privatelink.servicebus.windows.net"}}},
		Managed:         []string{"namespace"},
		ConnectionState: "Succeeded",
	})
}
