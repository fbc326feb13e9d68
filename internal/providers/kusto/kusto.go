// Package kusto holds the rules of Microsoft.Kusto: clusters, their managed
// private endpoints (the one-way private connections this emulator is about),
// and clusters as private link targets themselves (groupId "cluster").
package kusto

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

// Namespace is the Kusto provider namespace.
const Namespace = "Microsoft.Kusto"

// Types.
const (
	ClusterType  = "Microsoft.Kusto/clusters"
	EndpointType = "Microsoft.Kusto/clusters/managedPrivateEndpoints"
)

// APIVersions are the cluster api-versions, oldest first: the catalog's and
// those privlink accepted before it (armkusto v2.3 uses 2024-04-13).
var APIVersions = catalog.Accept(ClusterType, "2021-01-01", "2021-08-27", "2022-02-01", "2022-07-07", "2022-11-11", "2022-12-29", "2023-05-02", "2023-08-15", "2024-04-13")

// EndpointAPIVersions are the managed private endpoint api-versions, oldest
// first: the catalog's (managed private endpoints came with 2021-08-27, so
// older cluster versions are refused for them) and the ones whose OpenAPI
// documents privlink's tests validate against.
var EndpointAPIVersions = catalog.Accept(EndpointType, "2022-02-01", "2023-08-15", "2024-04-13")

// Kusto has no "Updating" provisioning state; updates run as "Running".
var states = resource.States{Creating: arm.StateCreating, Updating: arm.StateRunning, Deleting: arm.StateDeleting}

var clusterName = regexp.MustCompile(`^[a-z][a-z0-9-]{2,20}[a-z0-9]$`)

// Register adds clusters, managed private endpoints and clusters' private
// link types. Managed private endpoints look their targets up in reg.
func Register(e *resource.Engine, reg *privatelink.Registry) {
	e.Register(clusterKind(), endpointKind(reg))
	reg.Add(e, &privatelink.Target{
		Type:                 ClusterType,
		APIVersions:          APIVersions,
		GroupsOf:             clusterGroups,
		Managed:              []string{"cluster"},
		GroupIDs:             "single",
		ConnectionState:      "Succeeded",
		ConnectionWireType:   "Microsoft.Kusto/clusters/privateEndpointConnections",
		LinkResourceWireType: "Microsoft.Kusto/clusters/PrivateLinkResources",
		// Kusto's sources do not pin down its own table: its spec's status is a
		// free string (PrivateLinkServiceConnectionStateProperty) and azure-cli's
		// test_private_endpoint_connection_kusto_cluster only approves a
		// connection and rejects it, as privlink's default rule does.
		Transitions: privatelink.DefaultTransitions,
	})
}

func clusterKind() *resource.Kind {
	return &resource.Kind{
		Type:        ClusterType,
		WireType:    "Microsoft.Kusto/Clusters",
		IDTypes:     []string{"Clusters"},
		APIVersions: APIVersions,
		Tracked:     true,
		ETag:        true,
		Async:       true,
		Patchable:   true,
		StatusStyle: "kusto",
		States:      states,
		ValidateName: common.NameRule(clusterName, arm.CodeInvalidResourceName, "Cluster name",
			"Cluster names must be 4 to 22 characters of lowercase letters, digits and hyphens, start with a letter and end with a letter or digit."),
		Build:        buildCluster,
		BeforeDelete: generic.ReleaseIdentity,
		Provisioned: func(c *resource.Ctx, d *resource.Doc) error {
			d.Props().SetValue("state", "Running")
			return nil
		},
		Actions: map[string]resource.Action{
			"managedprivateendpointschecknameavailability": checkEndpointName,
		},
	}
}

func buildCluster(c *resource.Ctx, w *resource.Write) error {
	sku, err := common.RequireObject(w, "sku")
	if err != nil {
		return err
	}
	for _, f := range []string{"name", "tier"} {
		if _, ok, err := resource.StringProp(sku, f, "sku."+f); err != nil {
			return err
		} else if !ok {
			return resource.MissingProperty("sku." + f)
		}
	}
	if vnet, err := resource.ObjectProp(w.Doc.Props(), "virtualNetworkConfiguration", "properties.virtualNetworkConfiguration"); err != nil {
		return err
	} else if vnet != nil {
		if _, ok, err := resource.StringProp(vnet, "subnetId", "properties.virtualNetworkConfiguration.subnetId"); err != nil {
			return err
		} else if !ok {
			return resource.MissingProperty("properties.virtualNetworkConfiguration.subnetId")
		}
	}
	n, loc := w.ID.Name(), w.Doc.Str("location")
	p := w.Doc.Props()
	if w.Created() {
		p.SetValue("state", "Creating")
	} else {
		p.SetValue("state", "Updating")
	}
	p.SetValue("uri", "https://"+n+"."+loc+".kusto.windows.net")
	p.SetValue("dataIngestionUri", "https://ingest-"+n+"."+loc+".kusto.windows.net")
	common.Default(w.Doc, "engineType", "V3")
	common.Default(w.Doc, "enableDiskEncryption", false)
	common.Default(w.Doc, "enableStreamingIngest", false)
	common.Default(w.Doc, "enablePurge", false)
	common.Default(w.Doc, "enableDoubleEncryption", false)
	common.Default(w.Doc, "publicNetworkAccess", "Enabled")
	common.Default(w.Doc, "restrictOutboundNetworkAccess", "Disabled")
	return generic.Identity(c, w)
}

// VNetInjected reports whether a cluster is injected into a virtual network.
func VNetInjected(cluster *resource.Doc) bool {
	v, err := cluster.Props().Object("virtualNetworkConfiguration")
	if err != nil || v == nil {
		return false
	}
	st, _, _ := v.String("state")
	return !strings.EqualFold(st, "Disabled")
}

// clusterGroups are a cluster's private link sub-resources: one, "cluster",
// whose members and zones depend on its region.
func clusterGroups(cluster *resource.Doc) []privatelink.Group {
	loc := cluster.Str("location")
	n := cluster.ID.Name()
	return []privatelink.Group{{
		ID: "cluster",
		RequiredMembers: []string{"Engine", "DataManagement",
			"blob-" + n + "-00", "queue-" + n + "-00", "table-" + n + "-00"},
		ZoneNames: []string{"privatelink." + loc + ".kusto.windows.net", "privatelink.blob.core.windows.net",
			"privatelink.queue.core.windows.net", "privatelink.table.core.windows.net"},
	}}
}
