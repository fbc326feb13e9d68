package catalog

import (
	"slices"
	"strings"
	"testing"
)

// Facts about the embedded data that privlink relies on. When a
// regeneration breaks one, the sources changed shape or lost a type: look
// before changing the test.
func TestDataFacts(t *testing.T) {
	for _, c := range []struct {
		name, typ, version string
	}{
		// @azure/arm-storage 20.2.0 calls 2026-06-01 and 21.0.0 calls
		// 2026-09-01, ahead of the specs digest (newest there: 2026-04-01).
		{"arm-storage 20", "Microsoft.Storage/storageAccounts", "2026-06-01"},
		{"arm-storage 21", "Microsoft.Storage/storageAccounts", "2026-09-01"},
		{"arm-storage 21 connections", "Microsoft.Storage/storageAccounts/privateEndpointConnections", "2026-09-01"},
		{"storage from the specs", "Microsoft.Storage/storageAccounts", "2015-06-15"},
		{"arm-eventhub 6", "Microsoft.EventHub/namespaces", "2026-01-01"},
		{"eventhub preview from the specs", "Microsoft.EventHub/namespaces", "2024-05-01-preview"},
		{"armstorage (Go) 1.8", "Microsoft.Storage/storageAccounts", "2024-01-01"},
		{"armkusto (Go) 2.3", "Microsoft.Kusto/clusters", "2024-04-13"},
		{"kusto endpoints", "Microsoft.Kusto/clusters/managedPrivateEndpoints", "2024-04-13"},
		{"kusto endpoints first version", "Microsoft.Kusto/clusters/managedPrivateEndpoints", "2021-08-27"},
		{"arm-kusto 8", "Microsoft.Kusto/clusters", "2023-08-15"},
		{"iot hub, any case", "microsoft.devices/iothubs", "2023-06-30"},
		{"key vault", "Microsoft.KeyVault/vaults", "2026-02-01"},
		{"sql", "Microsoft.Sql/servers", "2021-11-01"},
		{"digital twins", "Microsoft.DigitalTwins/digitalTwinsInstances", "2023-01-31"},
		{"resource groups", "Microsoft.Resources/resourceGroups", "2021-04-01"},
		{"subscriptions (arm-resources-subscriptions)", "Microsoft.Resources/subscriptions", "2022-12-01"},
		{"providers (arm-resources)", "Microsoft.Resources/providers", "2025-04-01"},
		{"aliases", "Microsoft.Subscription/aliases", "2021-10-01"},
		// The whole of Azure is kept, for ARM templates.
		{"virtual networks", "Microsoft.Network/virtualNetworks", "2024-05-01"},
		{"role assignments", "Microsoft.Authorization/roleAssignments", "2022-04-01"},
		// Missing before restspecs.txt and templates.txt: previews whose
		// documents no readme tag names (so bicep-types-az leaves them
		// out), and versions that Microsoft's quickstart templates deploy.
		// quickstarts/microsoft.kusto/kusto-event-hub:
		{"role assignments, kusto-event-hub quickstart", "Microsoft.Authorization/roleAssignments", "2021-04-01-preview"},
		{"role assignments, 2022-01-01-preview spec", "Microsoft.Authorization/roleAssignments", "2022-01-01-preview"},
		{"PIM requests, 2021-04-01-preview spec", "Microsoft.Authorization/roleAssignmentScheduleRequests", "2021-04-01-preview"},
		{"policy assignments of PIM", "Microsoft.Authorization/roleManagementPolicyAssignments", "2021-04-01-preview"},
		{"disks, DiskRP 2020-09-30", "Microsoft.Compute/disks", "2020-09-30"},
		{"snapshots, DiskRP 2020-09-30", "Microsoft.Compute/snapshots", "2020-09-30"},
		{"disk accesses' connections", "Microsoft.Compute/diskAccesses/privateEndpointConnections", "2020-09-30"},
		{"NSGs in templates", "Microsoft.Network/networkSecurityGroups", "2021-12-01"},
		{"virtual networks in templates", "Microsoft.Network/virtualNetworks", "2017-04-01"},
		{"private DNS zone groups in templates", "Microsoft.Network/privateEndpoints/privateDnsZoneGroups", "2021-12-01"},
		{"log analytics workspaces in templates", "Microsoft.OperationalInsights/workspaces", "2017-03-15-preview"},
		{"SQL servers in templates", "Microsoft.Sql/servers", "2014-04-01-preview"},
		{"SQL databases in templates", "Microsoft.Sql/servers/databases", "2018-06-01-preview"},
		{"web site extensions in templates", "Microsoft.Web/sites/extensions", "2015-04-01"},
		{"nested deployments in templates", "Microsoft.Resources/deployments", "2020-05-01"},
		{"a type only templates name", "Microsoft.OperationalInsights/workspaces/views", "2020-08-01"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !Has(c.typ, c.version) {
				t.Fatalf("%s lacks %s; it has %v", c.typ, c.version, Versions(c.typ))
			}
		})
	}
	for _, c := range []struct{ typ, version string }{
		{"Microsoft.Kusto/clusters/managedPrivateEndpoints", "2021-01-01"}, // clusters only
		{"Microsoft.Storage/storageAccounts", "2099-01-01"},
		{"Microsoft.EventHub/namespaces", "2026-01-02"},
		// Near misses of versions that the new sources brought in.
		{"Microsoft.Authorization/roleAssignments", "2021-04-01"},
		{"Microsoft.Authorization/roleAssignments", "2021-04-01-previw"},
		{"Microsoft.Authorization/roleAssignments", "2021-04-02-preview"},
		{"Microsoft.Compute/disks", "2020-09-31"},
		{"Microsoft.Network/networkSecurityGroups", "2021-12-02"},
	} {
		if Has(c.typ, c.version) {
			t.Errorf("%s has %s, which Azure does not publish", c.typ, c.version)
		}
	}
	if got := Types("Microsoft.Kusto"); !slices.Contains(got, "Microsoft.Kusto/clusters/managedPrivateEndpoints") {
		t.Errorf("Types(Microsoft.Kusto) = %v, want clusters/managedPrivateEndpoints among them", got)
	}
	if n := len(Namespaces()); n < 200 {
		t.Errorf("%d namespaces, want the whole of Azure (more than 200)", n)
	}
	// Storage's privateLinkResources is only a list in Azure: not a type of
	// its own, so it takes its account's versions.
	if _, ok := Name("Microsoft.Storage/storageAccounts/privateLinkResources"); ok {
		t.Log("storageAccounts/privateLinkResources is now a type of its own")
	}
	if got := Accept("Microsoft.Storage/storageAccounts/privateLinkResources"); !slices.Contains(got, "2026-06-01") {
		t.Errorf("storage privateLinkResources accept %v, want 2026-06-01 among them", got)
	}
}

// Facts about scopes.txt that the generic kinds rely on.
func TestShapeFacts(t *testing.T) {
	for _, c := range []struct {
		typ      string
		scopes   Scopes
		writable bool
		location Location
	}{
		{"Microsoft.Authorization/roleAssignments", Tenant | ManagementGroup | Subscription | ResourceGroup | Extension, true, LocationNone},
		{"Microsoft.Insights/diagnosticSettings", Tenant | ManagementGroup | Subscription | ResourceGroup | Extension, true, LocationNone},
		{"Microsoft.Authorization/locks", Tenant | ManagementGroup | Subscription | ResourceGroup | Extension, true, LocationNone},
		// Network's specs leave location optional; ARM requires it (see
		// internal/providers/generic for the rule that makes up for it).
		{"Microsoft.Network/virtualNetworks", ResourceGroup, true, LocationOptional},
		{"Microsoft.Network/virtualNetworks/subnets", ResourceGroup, true, LocationNone},
		{"Microsoft.Sql/servers/databases", ResourceGroup, true, LocationRequired},
		{"Microsoft.EventHub/namespaces/eventhubs", ResourceGroup, true, LocationReadOnly},
		{"Microsoft.Management/managementGroups", Tenant, true, LocationNone},
		{"Microsoft.Storage/storageAccounts/privateEndpointConnections", ResourceGroup, true, LocationNone},
	} {
		t.Run(c.typ, func(t *testing.T) {
			s, ok := ShapeOf(c.typ)
			if !ok {
				t.Fatalf("no shape for %s", c.typ)
			}
			if s.Scopes != c.scopes || s.Writable != c.writable || s.Location != c.location {
				t.Fatalf("ShapeOf(%s) = %+v, want {%v %v %v}", c.typ, s, c.scopes, c.writable, c.location)
			}
		})
	}
	if got := len(All()); got < 3400 {
		t.Errorf("All() has %d types, want the whole of Azure", got)
	}
}

// Each source holds what it is read for: the facts above would pass with a
// pair in any of the files, and a regeneration that loses one from its own
// source should say so here.
func TestSources(t *testing.T) {
	for _, c := range []struct{ file, data, typ, version string }{
		{"specs.txt", specsData, "Microsoft.Storage/storageAccounts", "2015-06-15"},
		{"restspecs.txt", restSpecsData, "Microsoft.Authorization/roleAssignments", "2021-04-01-preview"},
		{"sdks.txt", sdksData, "Microsoft.Storage/storageAccounts", "2026-09-01"},
		{"templates.txt", templatesData, "Microsoft.Authorization/roleAssignments", "2021-04-01-preview"},
	} {
		t.Run(c.file, func(t *testing.T) {
			if !strings.Contains(c.data, "# Generated by internal/catalog/gen") {
				t.Errorf("%s has no generated header", c.file)
			}
			ix, err := parse(map[string]string{c.file: c.data}, c.file)
			if err != nil {
				t.Fatal(err)
			}
			e := ix.types[strings.ToLower(c.typ)]
			if e == nil || !slices.Contains(e.versions, c.version) {
				t.Fatalf("%s lacks %s at %s", c.file, c.typ, c.version)
			}
		})
	}
}
