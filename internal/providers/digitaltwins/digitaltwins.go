// Package digitaltwins holds the rules of
// Microsoft.DigitalTwins/digitalTwinsInstances as a private link target. The
// sub-resource is "digitalTwinsInstance" as the REST specs' examples spell it;
// Kusto's documentation writes it in lower case, which matches too.
package digitaltwins

import (
	"regexp"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/catalog"
	"github.com/privlink/privlink/internal/providers/common"
	"github.com/privlink/privlink/internal/providers/privatelink"
	"github.com/privlink/privlink/internal/resource"
)

// APIVersions are the accepted api-versions, oldest first: the catalog's
// and those privlink accepted before it (armdigitaltwins v1.2 uses 2023-01-31).
var APIVersions = catalog.Accept(Type, "2020-10-31", "2020-12-01", "2021-06-30-preview", "2022-05-31", "2022-10-31", "2023-01-31")

// Type is the Digital Twins instance type.
const Type = "Microsoft.DigitalTwins/digitalTwinsInstances"

var instanceName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{1,61}[A-Za-z0-9]$`)

// Register adds Digital Twins instances and their private link types.
func Register(e *resource.Engine, reg *privatelink.Registry) {
	e.Register(&resource.Kind{
		Type:        Type,
		APIVersions: APIVersions,
		Tracked:     true,
		Pageable:    true,
		Patchable:   true,
		ValidateName: common.NameRule(instanceName, arm.CodeInvalidResourceName, "The Digital Twins instance name",
			"It must be 3 to 63 characters of letters, digits and hyphens, and start and end with a letter or digit."),
		Build: func(c *resource.Ctx, w *resource.Write) error {
			p := w.Doc.Props()
			p.SetValue("hostName", w.ID.Name()+".api."+shortRegion(w.Doc.Str("location"))+".digitaltwins.azure.net")
			common.Keep(w, "createdTime", arm.FormatTime(c.Now))
			p.SetValue("lastUpdatedTime", arm.FormatTime(c.Now))
			common.Default(w.Doc, "publicNetworkAccess", "Enabled")
			return nil
		},
	})
	reg.Add(e, &privatelink.Target{
		Type:            Type,
		APIVersions:     APIVersions,
		Groups:          []privatelink.Group{{ID: "digitalTwinsInstance", RequiredMembers: []string{"API"}, ZoneNames: []string{"privatelink.digitaltwins.azure.net"}}},
		Managed:         []string{"digitaltwinsinstance"},
		GroupIDs:        "array",
		ConnectionState: "Succeeded",
		Transitions:     Transitions,
	})
}

// shortRegion abbreviates a region the way Digital Twins host names do ("westus2" -> "wus2").
func shortRegion(loc string) string {
	short := map[string]string{"westus": "wus", "westus2": "wus2", "westus3": "wus3", "eastus": "eus", "eastus2": "eus2", "westeurope": "weu", "northeurope": "neu", "westcentralus": "wcus", "southcentralus": "scus", "centralus": "cus"}
	if s, ok := short[loc]; ok {
		return s
	}
	return loc
}
