package dataplane

import (
	"strings"

	"github.com/privlink/privlink/internal/resource"
)

// Host is one public name of a target's sub-resource, as Azure's public DNS
// serves it, with the name in the privatelink zone that a private endpoint
// puts it behind.
type Host struct {
	// Name is the public host name, lower case
	// ("account.blob.core.windows.net").
	Name string `json:"fqdn"`
	// Private is the name in Azure's privatelink zone that Name is a CNAME
	// of ("account.privatelink.blob.core.windows.net").
	Private string `json:"privateFqdn"`
	// Zone is the private DNS zone ("privatelink.blob.core.windows.net").
	Zone string `json:"zone"`
	// Group is the sub-resource (groupId) the name belongs to.
	Group string `json:"groupId"`
	// Port is the port the target serves the name on (443; 1433 for SQL).
	Port int `json:"port"`
}

// Target types the data path knows the names of.
const (
	storageType  = "microsoft.storage/storageaccounts"
	eventHubType = "microsoft.eventhub/namespaces"
	iotHubType   = "microsoft.devices/iothubs"
	vaultType    = "microsoft.keyvault/vaults"
	sqlType      = "microsoft.sql/servers"
	kustoType    = "microsoft.kusto/clusters"
	twinsType    = "microsoft.digitaltwins/digitaltwinsinstances"
)

// targetTypes are the types whose records the data path reads.
var targetTypes = []string{storageType, eventHubType, iotHubType, vaultType, sqlType, kustoType, twinsType}

// azureSuffixes are the DNS suffixes of the targets' public and private
// names: a name below one that names no target is answered NXDOMAIN by the
// cluster's DNS and refused by its egress, rather than sent to the real Azure.
var azureSuffixes = []string{
	".blob.core.windows.net", ".dfs.core.windows.net", ".servicebus.windows.net", ".azure-devices.net",
	".vault.azure.net", ".vaultcore.azure.net", ".database.windows.net", ".kusto.windows.net", ".digitaltwins.azure.net",
}

// underAzure reports whether name lies below one of azureSuffixes.
func underAzure(name string) bool {
	for _, s := range azureSuffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// hostsOf returns the names of target d, from Azure's documentation of
// each service's private DNS zone ("Azure Private Endpoint private DNS zone
// values", learn.microsoft.com/azure/private-link/private-endpoint-dns):
// the public name is a CNAME of the same first label in the zone
// "privatelink." + the public suffix, except Key Vault, whose zone is
// privatelink.vaultcore.azure.net.
func hostsOf(d *resource.Doc) []Host {
	n := strings.ToLower(d.ID.Name())
	loc := strings.ToLower(strings.ReplaceAll(d.Str("location"), " ", ""))
	h := func(group, prefix, suffix, zone string, port int) Host {
		if zone == "" {
			zone = "privatelink." + suffix
		}
		return Host{Name: prefix + "." + suffix, Private: prefix + "." + zone, Zone: zone, Group: group, Port: port}
	}
	switch strings.ToLower(d.Kind.Type) {
	case storageType:
		return []Host{h("blob", n, "blob.core.windows.net", "", 443), h("dfs", n, "dfs.core.windows.net", "", 443)}
	case eventHubType:
		return []Host{h("namespace", n, "servicebus.windows.net", "", 443)}
	case iotHubType:
		return []Host{h("iotHub", n, "azure-devices.net", "", 443)}
	case vaultType:
		return []Host{h("vault", n, "vault.azure.net", "privatelink.vaultcore.azure.net", 443)}
	case sqlType:
		return []Host{h("sqlServer", n, "database.windows.net", "", 1433)}
	case kustoType:
		s := loc + ".kusto.windows.net"
		return []Host{h("cluster", n, s, "", 443), h("cluster", "ingest-"+n, s, "", 443)}
	case twinsType:
		// The host is the instance's properties.hostName:
		// NAME.api.REGION-SHORT.digitaltwins.azure.net.
		hn, _, _ := d.Props().String("hostName")
		prefix, ok := strings.CutSuffix(strings.ToLower(hn), ".digitaltwins.azure.net")
		if !ok || prefix == "" {
			return nil
		}
		return []Host{h("digitalTwinsInstance", prefix, "digitaltwins.azure.net", "", 443)}
	}
	return nil
}

// typeNoun is how refusals name a target type.
func typeNoun(typ string) string {
	switch strings.ToLower(typ) {
	case storageType:
		return "storage account"
	case eventHubType:
		return "Event Hubs namespace"
	case iotHubType:
		return "IoT hub"
	case vaultType:
		return "key vault"
	case sqlType:
		return "SQL server"
	case kustoType:
		return "Kusto cluster"
	case twinsType:
		return "Digital Twins instance"
	}
	return typ
}
