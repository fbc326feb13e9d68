// Package devices holds the rules of Microsoft.Devices/IotHubs as a private
// link target (sub-resource iotHub).
package devices

import (
	"regexp"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/catalog"
	"github.com/privlink/privlink/internal/providers/common"
	"github.com/privlink/privlink/internal/providers/privatelink"
	"github.com/privlink/privlink/internal/resource"
)

// APIVersions are the accepted api-versions, oldest first: the catalog's
// and those privlink accepted before it (armiothub v1.3 uses 2023-06-30).
var APIVersions = catalog.Accept(Type, "2021-03-31", "2021-07-01", "2021-07-02", "2022-04-30-preview", "2022-11-15-preview", "2023-06-30", "2023-06-30-preview")

// Type is the IoT hub type, spelled as Azure serves it.
const Type = "Microsoft.Devices/IotHubs"

var hubName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9-]{1,48}[a-zA-Z0-9]$`)

// Register adds IoT hubs and their private link types.
func Register(e *resource.Engine, reg *privatelink.Registry) {
	e.Register(&resource.Kind{
		Type:        Type,
		APIVersions: APIVersions,
		Tracked:     true,
		ETag:        true,
		Pageable:    true,
		Patchable:   true,
		ValidateName: common.NameRule(hubName, arm.CodeInvalidResourceName, "The IoT hub name",
			"It must be 3 to 50 characters of letters, digits and hyphens, and start and end with a letter or digit."),
		Build: func(c *resource.Ctx, w *resource.Write) error {
			sku, err := common.RequireObject(w, "sku")
			if err != nil {
				return err
			}
			if _, ok, err := resource.StringProp(sku, "name", "sku.name"); err != nil {
				return err
			} else if !ok {
				return resource.MissingProperty("sku.name")
			}
			n := w.ID.Name()
			p := w.Doc.Props()
			p.SetValue("hostName", n+".azure-devices.net")
			p.SetValue("state", "Active")
			p.SetValue("locations", []map[string]string{{"location": w.Doc.Str("location"), "role": "primary"}})
			common.Default(w.Doc, "eventHubEndpoints", map[string]any{"events": map[string]any{
				"retentionTimeInDays": 1, "partitionCount": 4, "partitionIds": []string{"0", "1", "2", "3"},
				"path": n, "endpoint": "sb://iothub-ns-" + n + ".servicebus.windows.net/",
			}})
			return nil
		},
	})
	reg.Add(e, &privatelink.Target{
		Type:                 Type,
		APIVersions:          APIVersions,
		Groups:               []privatelink.Group{{ID: "iotHub", RequiredMembers: []string{"iotHub"}, ZoneNames: []string{"privatelink.azure-devices.net", "privatelink.servicebus.windows.net"}}},
		Managed:              []string{"iotHub"},
		ConnectionListArray:  true,
		ConnectionWireType:   "Microsoft.Devices/IotHubs/PrivateEndpointConnections",
		LinkResourceWireType: "Microsoft.Devices/IotHubs/PrivateLinkResources",
		LinkResourceIDTypes:  []string{"IotHubs", "PrivateLinkResources"},
	})
}
