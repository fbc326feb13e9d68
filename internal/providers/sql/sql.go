// Package sql holds the rules of Microsoft.Sql/servers as a private link
// target (sub-resource sqlServer).
package sql

import (
	"regexp"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/catalog"
	"github.com/privlink/privlink/internal/providers/common"
	"github.com/privlink/privlink/internal/providers/privatelink"
	"github.com/privlink/privlink/internal/resource"
)

// APIVersions are the accepted api-versions, oldest first: the catalog's
// and those privlink accepted before it (armsql v1.2 uses several
// previews; the private endpoint spec is 2021-11-01).
var APIVersions = catalog.Accept(Type, "2014-04-01", "2015-05-01-preview", "2019-06-01-preview", "2020-02-02-preview", "2020-08-01-preview", "2020-11-01-preview", "2021-02-01-preview", "2021-05-01-preview", "2021-08-01-preview", "2021-11-01", "2021-11-01-preview", "2022-02-01-preview", "2022-05-01-preview", "2022-08-01-preview", "2022-11-01-preview", "2023-02-01-preview", "2023-05-01-preview", "2023-08-01", "2023-08-01-preview", "2024-05-01-preview")

// Type is the SQL server type.
const Type = "Microsoft.Sql/servers"

var serverName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Register adds SQL servers and their private link types.
func Register(e *resource.Engine, reg *privatelink.Registry) {
	e.Register(&resource.Kind{
		Type:        Type,
		APIVersions: APIVersions,
		Tracked:     true,
		Pageable:    true,
		Patchable:   true,
		// SQL servers have no provisioningState; their state is properties.state.
		NoState: true,
		ValidateName: common.NameRule(serverName, arm.CodeInvalidResourceName, "The server name",
			"It can only be made up of lowercase letters 'a'-'z', the numbers 0-9 and the hyphen, cannot start or end with a hyphen, and must be at most 63 characters."),
		Build: func(c *resource.Ctx, w *resource.Write) error {
			p := w.Doc.Props()
			// Azure never returns the administrator password.
			p.Delete("administratorLoginPassword")
			p.SetValue("fullyQualifiedDomainName", w.ID.Name()+".database.windows.net")
			p.SetValue("state", "Ready")
			common.Default(w.Doc, "version", "12.0")
			common.Default(w.Doc, "publicNetworkAccess", "Enabled")
			w.Doc.Obj.SetValue("kind", "v12.0")
			return nil
		},
	})
	reg.Add(e, &privatelink.Target{
		Type:        Type,
		APIVersions: APIVersions,
		// sql: ServerProperties.privateEndpointConnections is ServerPrivateEndpointConnection.
		EmbeddedMembers: []string{"id", "properties"},
		Groups:          []privatelink.Group{{ID: "sqlServer", RequiredMembers: []string{"sqlServer"}, ZoneNames: []string{"privatelink.database.windows.net"}}},
		Managed:         []string{"sqlServer"},
		GroupIDs:        "array",
		ConnectionState: "Ready",
		AcceptedWrites:  true,
		Transitions:     Transitions,
	})
}
