package generic

import (
	"testing"

	"github.com/privlink/privlink/internal/resource"
)

// The rule of generic.Kind, type by type: where it lives, whether it
// carries a location and needs one, whether it can be written.
func TestKindShapes(t *testing.T) {
	for _, c := range []struct {
		typ              string
		tracked, located bool // located: optional location
		readOnly         bool
		scopes           resource.Scopes
	}{
		// Network's specs say optional; ARM requires it of a group's top-level types.
		{typ: "Microsoft.Network/virtualNetworks", tracked: true, scopes: resource.InResourceGroup},
		{typ: "Microsoft.Network/virtualNetworks/subnets", scopes: resource.InResourceGroup},
		{typ: "Microsoft.Network/privateDnsZones/virtualNetworkLinks", located: true, scopes: resource.InResourceGroup},
		{typ: "Microsoft.Sql/servers/databases", tracked: true, scopes: resource.InResourceGroup},
		{typ: "Microsoft.Kusto/clusters/databases", located: true, scopes: resource.InResourceGroup},
		{typ: "Microsoft.EventHub/namespaces/eventhubs", scopes: resource.InResourceGroup}, // read-only: the parent's
		{typ: "Microsoft.Network/loadBalancers/frontendIPConfigurations", readOnly: true, scopes: resource.InResourceGroup},
		{typ: "Microsoft.Authorization/roleAssignments", scopes: resource.InTenant | resource.InManagementGroup | resource.InSubscription | resource.InResourceGroup | resource.InExtension},
		// Subscription and extension types keep an optional location optional.
		{typ: "Microsoft.Authorization/policyAssignments", located: true, scopes: resource.InTenant | resource.InManagementGroup | resource.InSubscription | resource.InResourceGroup | resource.InExtension},
		{typ: "Microsoft.Management/managementGroups", scopes: resource.InTenant},
	} {
		t.Run(c.typ, func(t *testing.T) {
			k := Kind(c.typ)
			if k == nil {
				t.Fatal("no kind")
			}
			if k.Tracked != c.tracked || k.OptionalLocation != c.located || k.ReadOnly != c.readOnly || k.Scopes != c.scopes {
				t.Fatalf("tracked %v, optional location %v, read-only %v, scopes %05b; want %v %v %v %05b",
					k.Tracked, k.OptionalLocation, k.ReadOnly, k.Scopes, c.tracked, c.located, c.readOnly, c.scopes)
			}
			if !k.Generic || k.CreatedStatus != 200 || !k.Patchable || len(k.APIVersions) == 0 {
				t.Fatalf("kind %+v: want generic, created 200, patchable, with api-versions", k)
			}
		})
	}
	if Kind("Microsoft.Network/virtualNetwork") != nil {
		t.Error("a type the catalog does not list has a kind")
	}
}
