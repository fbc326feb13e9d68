package lifecycle

import (
	"encoding/json"
	"fmt"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/privlink/privlink/internal/testkit"
	"github.com/privlink/privlink/internal/testkit/fixtures"
)

// TestEveryTarget drives the whole lifecycle against each of the seven target
// types, each through its own official SDK: the managed private endpoint is
// created and provisioned, its Pending connection carries the request
// message on the target, the owner approves one connection and rejects
// another, removal leaves the endpoint Disconnected, and deleting the
// endpoint takes its connection away. (Which other changes of state each
// target makes is TestTransitions'.)
func TestEveryTarget(t *testing.T) {
	defer fixtures.FailOnPanic(t)
	env := testkit.Start(t)
	fixtures.CreateRG(t, env, env.Subscription, "adx")
	fixtures.CreateRG(t, env, env.Subscription, "targets")
	cluster := "mycluster"
	createCluster(t, env, "adx", cluster, nil)
	for i, tc := range targets() {
		t.Run(tc.Group, func(t *testing.T) {
			defer fixtures.FailOnPanic(t)
			id := tc.Create(t, env, "targets", tc.Name)
			if g := tc.Groups(t, env, "targets", tc.Name); !containsFold(g, tc.Group) {
				t.Fatalf("privateLinkResources groupIds = %v, want one matching %q", g, tc.Group)
			}

			// Create: Succeeded, with a Pending connection carrying the message.
			mpe, err := fixtures.CreateMPE(t, env, "adx", cluster, fmt.Sprintf("mpe%d", i), id, tc.Group, "Please Approve.")
			if err != nil {
				t.Fatal(err)
			}
			if got, want := *mpe.Properties.ProvisioningState, armkusto.ProvisioningStateSucceeded; got != want {
				t.Fatalf("provisioningState = %s, want %s", got, want)
			}
			if got, want := *mpe.Properties.GroupID, tc.Group; got != want {
				t.Fatalf("groupId echoed as %q, want %q exactly as sent", got, want)
			}
			conns := tc.Conns(t, env, "targets", tc.Name)
			if len(conns) != 1 {
				t.Fatalf("connections on target = %d, want 1", len(conns))
			}
			pec := conns[0]
			if got, want := pec.Properties.State.Status, "Pending"; got != want {
				t.Fatalf("connection status = %q, want %q", got, want)
			}
			if got, want := pec.Properties.State.Description, "Please Approve."; got != want {
				t.Fatalf("connection description = %q, want the request message %q", got, want)
			}
			if pec.Properties.PrivateEndpoint.ID == "" {
				t.Fatal("connection has no privateEndpoint.id")
			}
			if got, want := fixtures.StateOf(t, env, *mpe.ID).ConnectionState, "Pending"; got != want {
				t.Fatalf("endpoint connection state = %q, want %q", got, want)
			}

			// Approve: the endpoint follows.
			if err := tc.Set(t, env, "targets", tc.Name, pec.Name, "Approved", "Approved by the owner"); err != nil {
				t.Fatal(err)
			}
			if got := tc.Conns(t, env, "targets", tc.Name)[0].Properties.State; got.Status != "Approved" || got.Description != "Approved by the owner" {
				t.Fatalf("after approval the connection reads %+v", got)
			}
			if st := fixtures.StateOf(t, env, *mpe.ID); st.ConnectionState != "Approved" || st.Description != "Approved by the owner" {
				t.Fatalf("after approval the endpoint reads %+v", st)
			}
			// The target's own document lists its connections, read with its
			// SDK (properties.privateEndpointConnections).
			embedded := tc.Embedded(t, env, "targets", tc.Name)
			if len(embedded) != 1 || !strings.EqualFold(embedded[0].ID, pec.ID) || embedded[0].Properties.State.Status != "Approved" ||
				embedded[0].Properties.State.Description != "Approved by the owner" || embedded[0].Properties.PrivateEndpoint.ID != pec.Properties.PrivateEndpoint.ID {
				t.Fatalf("the target's privateEndpointConnections: %+v, want the approved connection %+v", embedded, pec)
			}

			// Delete the endpoint: its connection leaves the target.
			fixtures.DeleteMPE(t, env, "adx", cluster, fmt.Sprintf("mpe%d", i))
			if n := len(tc.Conns(t, env, "targets", tc.Name)); n != 0 {
				t.Fatalf("connections after deleting the endpoint = %d, want 0", n)
			}
			if n := len(tc.Embedded(t, env, "targets", tc.Name)); n != 0 {
				t.Fatalf("the target's privateEndpointConnections after deleting the endpoint: %d, want 0", n)
			}

			// A second endpoint whose connection the owner removes reads Disconnected.
			mpe2, err := fixtures.CreateMPE(t, env, "adx", cluster, fmt.Sprintf("second%d", i), id, tc.Group, "again please")
			if err != nil {
				t.Fatal(err)
			}
			conns = tc.Conns(t, env, "targets", tc.Name)
			if len(conns) != 1 {
				t.Fatalf("connections = %d, want 1", len(conns))
			}
			// Reject it: the endpoint follows.
			if err := tc.Set(t, env, "targets", tc.Name, conns[0].Name, "Rejected", "No longer wanted"); err != nil {
				t.Fatal(err)
			}
			if st := fixtures.StateOf(t, env, *mpe2.ID); st.ConnectionState != "Rejected" || st.Description != "No longer wanted" {
				t.Fatalf("after rejection the endpoint reads %+v", st)
			}
			if err := tc.Remove(t, env, "targets", tc.Name, conns[0].Name); err != nil {
				t.Fatal(err)
			}
			if n := len(tc.Conns(t, env, "targets", tc.Name)); n != 0 {
				t.Fatalf("connections after removal = %d, want 0", n)
			}
			if st := fixtures.StateOf(t, env, *mpe2.ID); st.ConnectionState != "Disconnected" || st.Description != "The connection was removed by the owner of the private link resource." {
				t.Fatalf("after removal the endpoint reads %q, %q; want Disconnected, removed by the owner", st.ConnectionState, st.Description)
			}
			if !strings.EqualFold(fixtures.StateOf(t, env, *mpe2.ID).ProvisioningState, "Succeeded") {
				t.Fatal("a removed connection changed the endpoint's provisioningState")
			}
		})
	}
}

// TestConnectionStateShapes: each target's connections carry the state
// its own spec gives, read through its SDK or raw: Storage's
// actionRequired (the common types' v1), Event Hubs' status and
// description alone, the others' actionsRequired; and each target's own
// document lists them in properties.privateEndpointConnections, in the
// shape its spec gives (Key Vault: id, etag, properties; SQL: id,
// properties).
func TestConnectionStateShapes(t *testing.T) {
	defer fixtures.FailOnPanic(t)
	env := testkit.Start(t)
	fixtures.CreateRG(t, env, env.Subscription, "adx")
	fixtures.CreateRG(t, env, env.Subscription, "targets")
	createCluster(t, env, "adx", "mycluster", nil)
	actions := map[string]string{"blob": "actionRequired", "namespace": ""}
	embedded := map[string][]string{"vault": {"id", "etag", "properties"}, "sqlServer": {"id", "properties"}}
	// An api-version of each target's type, which its connections take too.
	versions := map[string]string{"blob": "2023-01-01", "namespace": "2024-01-01", "iotHub": "2023-06-30", "vault": "2023-07-01",
		"sqlServer": "2021-11-01", "digitaltwinsinstance": "2023-01-31", "cluster": "2024-04-13"}
	for i, tc := range targets() {
		t.Run(tc.Group, func(t *testing.T) {
			defer fixtures.FailOnPanic(t)
			id := tc.Create(t, env, "targets", tc.Name)
			if _, err := fixtures.CreateMPE(t, env, "adx", "mycluster", fmt.Sprintf("mpe%d", i), id, tc.Group, "Please Approve."); err != nil {
				t.Fatal(err)
			}
			conn := tc.Conns(t, env, "targets", tc.Name)[0]
			var raw struct {
				Properties struct {
					State map[string]any `json:"privateLinkServiceConnectionState"`
				} `json:"properties"`
			}
			env.GetJSON(t, conn.ID+"?api-version="+versions[tc.Group], &raw)
			want, ok := actions[tc.Group]
			if !ok {
				want = "actionsRequired"
			}
			var keys []string
			for k := range raw.Properties.State {
				keys = append(keys, k)
			}
			wantKeys := 2
			if want != "" {
				wantKeys = 3
				if raw.Properties.State[want] != "None" {
					t.Errorf("the state's %s: %v, want None (%v)", want, raw.Properties.State[want], raw.Properties.State)
				}
			}
			if len(keys) != wantKeys {
				t.Errorf("the state's members: %v, want status, description and %q", keys, want)
			}
			var target struct {
				Properties struct {
					Conns []map[string]any `json:"privateEndpointConnections"`
				} `json:"properties"`
			}
			env.GetJSON(t, id+"?api-version="+versions[tc.Group], &target)
			if len(target.Properties.Conns) != 1 {
				t.Fatalf("the target lists %d connections, want 1", len(target.Properties.Conns))
			}
			members := embedded[tc.Group]
			if members == nil {
				members = []string{"id", "name", "type", "properties"}
			}
			for _, m := range members {
				if _, ok := target.Properties.Conns[0][m]; !ok {
					t.Errorf("the target's listed connection lacks %q: %v", m, target.Properties.Conns[0])
				}
			}
			if embedded[tc.Group] != nil && len(target.Properties.Conns[0]) != len(members) {
				t.Errorf("the target's listed connection: %v, want only %v", target.Properties.Conns[0], members)
			}
			if tc.Group != "blob" {
				return
			}
			// A client that sends the list back (the SDKs send read-only
			// members too) does not get it stored: no reader sees it.
			fake := `{"properties":{"privateEndpointConnections":[{"id":"` + id + `/privateEndpointConnections/fake","properties":{"privateLinkServiceConnectionState":{"status":"Approved"}}}]}}`
			env.Call(t, "PATCH", id+"?api-version="+versions[tc.Group], fake, http.StatusOK, nil)
			// What-if shows the group's other resources as stored.
			deps := fixtures.Must(armresources.NewDeploymentsClient(env.Subscription, env.Cred, env.Options))
			wp := fixtures.Must(deps.BeginWhatIf(t.Context(), "targets", "stored", armresources.DeploymentWhatIf{Properties: &armresources.DeploymentWhatIfProperties{
				Mode: to.Ptr(armresources.DeploymentModeIncremental), Template: map[string]any{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", "contentVersion": "1.0.0.0", "resources": []any{}}}}, nil))
			stored, _ := json.Marshal(fixtures.Must(wp.PollUntilDone(t.Context(), testkit.PollOptions)))
			env.GetJSON(t, id+"?api-version="+versions[tc.Group], &target)
			if !strings.Contains(string(stored), "primaryEndpoints") {
				t.Fatalf("what-if does not show the account as stored: %s", stored)
			}
			for _, v := range []string{string(stored), fmt.Sprint(target.Properties.Conns)} {
				if strings.Contains(v, "/fake") {
					t.Fatalf("a privateEndpointConnections sent on PATCH was stored: %s", v)
				}
			}
			if len(target.Properties.Conns) != 1 {
				t.Fatalf("after the PATCH the target lists %d connections, want 1", len(target.Properties.Conns))
			}
		})
	}
}
