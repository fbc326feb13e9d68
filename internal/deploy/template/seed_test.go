package template

import (
	"slices"
	"testing"
)

// The seed's ARM template (docs: security-network-managed-private-endpoint-
// create.md, "Create multiple managed private endpoints") binds, and its
// plan deploys the storage endpoint after the Event Hubs one.
func TestSeedTemplate(t *testing.T) {
	p := mustBind(t, readFile(t, "testdata/seed/managed-private-endpoints.json"), `{}`)
	rs := p.Resources()
	if got, want := len(rs), 3; got != want {
		t.Fatalf("resources = %d, want %d", got, want)
	}
	base := "/subscriptions/" + testSub + "/resourceGroups/rg/providers/Microsoft.Kusto/Clusters/kustoseed"
	for i, want := range []string{base, base + "/ManagedPrivateEndpoints/mpeToEventHub", base + "/ManagedPrivateEndpoints/mpeToStorage"} {
		if rs[i].ID != want {
			t.Errorf("resource %d id = %s, want %s", i, rs[i].ID, want)
		}
	}
	if !slices.Contains(rs[2].DependsOn, 1) || !slices.Contains(rs[2].DependsOn, 0) {
		t.Errorf("storage endpoint depends on %v, want [0 1]", rs[2].DependsOn)
	}
	if !slices.Equal(rs[1].DependsOn, []int{0}) {
		t.Errorf("event hubs endpoint depends on %v, want [0]", rs[1].DependsOn)
	}
	got := body(t, p, 2, nil)
	want := `{"properties":{"privateLinkResourceId":"/subscriptions/00000000-0000-0000-0000-000000000003/resourceGroups/rg-storage/providers/Microsoft.Storage/storageAccounts/stseed","groupId":"blob","requestMessage":"Please approve"}}`
	if got != want {
		t.Errorf("body = %s\nwant %s", got, want)
	}
	if got, want := body(t, p, 0, nil), `{"location":"westeurope","sku":{"name":"Dev(No SLA)_Standard_E2a_v4","tier":"Basic","capacity":1},"zones":[],"properties":{"enableStreamingIngest":false,"publicNetworkAccess":"Enabled"}}`; got != want {
		t.Errorf("cluster body = %s\nwant %s", got, want)
	}
}
