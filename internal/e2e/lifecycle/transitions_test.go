package lifecycle

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/providers/digitaltwins"
	"github.com/privlink/privlink/internal/providers/eventhub"
	"github.com/privlink/privlink/internal/providers/keyvault"
	"github.com/privlink/privlink/internal/providers/privatelink"
	"github.com/privlink/privlink/internal/providers/sql"
	"github.com/privlink/privlink/internal/providers/storage"
	"github.com/privlink/privlink/internal/testkit"
	"github.com/privlink/privlink/internal/testkit/fixtures"
)

// move is one change of state asked of a target and Azure's answer to it,
// as docs/private-endpoint-connections.md records it.
type move struct {
	from, to string
	status   int    // the PUT's HTTP status
	code     string // the ARM error code; "" when the target makes the move
	msg      string // a part of the error message, where a source quotes it
}

const (
	pending      = privatelink.Pending
	approved     = privatelink.Approved
	rejected     = privatelink.Rejected
	disconnected = privatelink.Disconnected
	// bogus is a status no target knows.
	bogus = "Deleted"
)

// transitionCases are each target's moves: one per row of its table, and the
// statuses the table does not name.
var transitionCases = []struct {
	typ   string // the target type
	group string // the groupId its endpoints ask for
	table *privatelink.Transitions
	moves []move
}{
	{"Microsoft.Storage/storageAccounts", "blob", storage.Transitions, []move{
		{pending, pending, 400, arm.CodeInvalidValuesForRequestParameters, "privateLinkServiceConnectionState.status"},
		{pending, approved, 200, "", ""},
		{pending, rejected, 200, "", ""},
		{approved, pending, 400, arm.CodeInvalidValuesForRequestParameters, ""},
		{approved, approved, 400, arm.CodeInvalidValuesForRequestParameters, "Values for request parameters are invalid: privateLinkServiceConnectionState.status."},
		{approved, rejected, 200, "", ""},
		{rejected, pending, 400, arm.CodeInvalidValuesForRequestParameters, ""},
		{rejected, approved, 400, arm.CodeInvalidValuesForRequestParameters, ""},
		{rejected, rejected, 400, arm.CodeInvalidValuesForRequestParameters, ""},
		{pending, disconnected, 400, arm.CodeInvalidValuesForRequestParameters, ""},
		{approved, bogus, 400, arm.CodeInvalidValuesForRequestParameters, ""},
	}},
	{"Microsoft.EventHub/namespaces", "namespace", eventhub.Transitions, []move{
		{pending, pending, 400, arm.CodeBadRequest, "same state"},
		{pending, approved, 200, "", ""},
		{pending, rejected, 200, "", ""},
		{pending, disconnected, 400, arm.CodeBadRequest, "'Disconnected'"},
		{approved, pending, 400, arm.CodeBadRequest, "back to 'Pending'"},
		{approved, approved, 400, arm.CodeBadRequest, "already 'Approved'"},
		{approved, rejected, 200, "", ""},
		{approved, disconnected, 400, arm.CodeBadRequest, "'Disconnected'"},
		{rejected, pending, 400, arm.CodeBadRequest, "back to 'Pending'"},
		{rejected, approved, 400, arm.CodeBadRequest, "rejected private endpoint connection cannot be approved"},
		{rejected, rejected, 400, arm.CodeBadRequest, "already 'Rejected'"},
		{rejected, disconnected, 400, arm.CodeBadRequest, "'Disconnected'"},
		{pending, bogus, 400, arm.CodeBadRequest, "'Deleted' is not a valid value"},
	}},
	{"Microsoft.Devices/IotHubs", "iotHub", privatelink.DefaultTransitions, defaultMoves},
	{"Microsoft.KeyVault/vaults", "vault", keyvault.Transitions, []move{
		{pending, pending, 200, "", ""},
		{pending, approved, 200, "", ""},
		{pending, rejected, 200, "", ""},
		{pending, disconnected, 400, arm.CodeBadRequest, "'Disconnected'"},
		{approved, pending, 400, arm.CodeBadRequest, "back to 'Pending'"},
		{approved, approved, 200, "", ""},
		{approved, rejected, 200, "", ""},
		{approved, disconnected, 400, arm.CodeBadRequest, "'Disconnected'"},
		{rejected, pending, 400, arm.CodeBadRequest, "back to 'Pending'"},
		{rejected, approved, 200, "", ""},
		{rejected, rejected, 200, "", ""},
		{rejected, disconnected, 400, arm.CodeBadRequest, "'Disconnected'"},
		{pending, bogus, 400, arm.CodeBadRequest, "'Deleted' is invalid"},
	}},
	{"Microsoft.Sql/servers", "sqlServer", sql.Transitions, []move{
		{pending, approved, 202, "", ""},
		{pending, rejected, 202, "", ""},
		{approved, approved, 400, arm.CodePrivateEndpointConnectionStatusNotPending, "Private Endpoint Connection Status is not Pending"},
		{approved, rejected, 400, arm.CodePrivateEndpointConnectionStatusNotPending, "Private Endpoint Connection Status is not Pending"},
		{rejected, approved, 400, arm.CodePrivateEndpointConnectionStatusNotPending, ""},
		{rejected, rejected, 400, arm.CodePrivateEndpointConnectionStatusNotPending, ""},
		{pending, pending, 400, arm.CodeIncorrectPrivateLinkServiceConnectionStateStatus, `Private Link Service Connection State Status must be "Approved" or "Rejected"`},
		{approved, pending, 400, arm.CodeIncorrectPrivateLinkServiceConnectionStateStatus, ""},
		{rejected, disconnected, 400, arm.CodeIncorrectPrivateLinkServiceConnectionStateStatus, ""},
		{pending, bogus, 400, arm.CodeIncorrectPrivateLinkServiceConnectionStateStatus, ""},
	}},
	{"Microsoft.DigitalTwins/digitalTwinsInstances", "digitaltwinsinstance", digitaltwins.Transitions, []move{
		{pending, pending, 200, "", ""},
		{pending, approved, 200, "", ""},
		{pending, rejected, 200, "", ""},
		{pending, disconnected, 400, arm.CodeBadRequest, dtException},
		{approved, pending, 400, arm.CodeBadRequest, dtException},
		{approved, approved, 200, "", ""},
		{approved, rejected, 200, "", ""},
		{approved, disconnected, 400, arm.CodeBadRequest, dtException},
		{rejected, pending, 400, arm.CodeBadRequest, dtException},
		{rejected, approved, 400, arm.CodeBadRequest, dtException},
		{rejected, rejected, 200, "", ""},
		{rejected, disconnected, 400, arm.CodeBadRequest, dtException},
		{pending, bogus, 400, arm.CodeBadRequest, dtException},
	}},
	{"Microsoft.Kusto/clusters", "cluster", privatelink.DefaultTransitions, defaultMoves},
}

// dtException is Digital Twins' answer, as azure-cli's recording has it.
const dtException = "Exception of type 'Microsoft.Azure.DigitalTwins.ScaleUnitRPManagement.Exceptions.PrivateEndpointBadRequestException' was thrown."

// defaultMoves are privlink's default rule, the table of IoT Hub and Kusto.
var defaultMoves = []move{
	{pending, pending, 200, "", ""},
	{pending, approved, 200, "", ""},
	{pending, rejected, 200, "", ""},
	{pending, disconnected, 400, arm.CodeBadRequest, "cannot be set to 'Disconnected'"},
	{approved, pending, 400, arm.CodeBadRequest, "cannot go back to 'Pending' once it was 'Approved'"},
	{approved, approved, 200, "", ""},
	{approved, rejected, 200, "", ""},
	{approved, disconnected, 400, arm.CodeBadRequest, "cannot be set to 'Disconnected'"},
	{rejected, pending, 400, arm.CodeBadRequest, "was rejected"},
	{rejected, approved, 400, arm.CodeBadRequest, "was rejected"},
	{rejected, rejected, 200, "", ""},
	{rejected, disconnected, 400, arm.CodeBadRequest, "cannot be set to 'Disconnected'"},
	{pending, bogus, 400, arm.CodeBadRequest, "status 'Deleted' is invalid"},
}

// TestTransitions drives every row of each target's table end to end, each
// through the target's official SDK: a managed private endpoint places a
// Pending connection, the owner brings it to the row's state and asks for
// the row's status. A move the target makes answers its write status and
// leaves the connection (and the endpoint's view of it) in the new state
// with the new description; a refused one answers the target's own status
// and code and changes nothing, the description included.
func TestTransitions(t *testing.T) {
	defer fixtures.FailOnPanic(t)
	env := testkit.Start(t)
	fixtures.CreateRG(t, env, env.Subscription, "adx")
	fixtures.CreateRG(t, env, env.Subscription, "targets")
	cluster := "mycluster"
	createCluster(t, env, "adx", cluster, nil)
	byGroup := map[string]fixtures.Target{}
	for _, tc := range targets() {
		byGroup[tc.Group] = tc
	}
	n := 0
	for _, tt := range transitionCases {
		tc := byGroup[tt.group]
		t.Run(tt.typ, func(t *testing.T) {
			defer fixtures.FailOnPanic(t)
			checkCovers(t, tt.table, tt.moves)
			id := tc.Create(t, env, "targets", tc.Name)
			for _, mv := range tt.moves {
				n++
				t.Run(mv.from+"_to_"+mv.to, func(t *testing.T) {
					defer fixtures.FailOnPanic(t)
					driveMove(t, env, tc, cluster, fmt.Sprintf("mv%d", n), id, mv)
				})
			}
		})
	}
}

// checkCovers fails unless moves has a row for each row of table, so that a
// change of a table shows here.
func checkCovers(t *testing.T, table *privatelink.Transitions, moves []move) {
	t.Helper()
	for _, r := range table.Rows {
		found := false
		for _, mv := range moves {
			if mv.from == r.From && mv.to == r.To {
				found = true
				if (r.Refuse == nil) != (mv.code == "") {
					t.Fatalf("%s -> %s: the table and the test disagree on whether the move is made", r.From, r.To)
				}
			}
		}
		if !found {
			t.Fatalf("no move tests the row %s -> %s", r.From, r.To)
		}
	}
}

// driveMove makes a connection in state mv.from on the target targetID and
// asks for mv.to.
func driveMove(t *testing.T, env *testkit.Env, tc fixtures.Target, cluster, mpeName, targetID string, mv move) {
	mpe, err := fixtures.CreateMPE(t, env, "adx", cluster, mpeName, targetID, tc.Group, "Please Approve.")
	if err != nil {
		t.Fatal(err)
	}
	defer fixtures.DeleteMPE(t, env, "adx", cluster, mpeName)
	pec := fixtures.StateOf(t, env, *mpe.ID).ConnectionID
	pec = pec[strings.LastIndexByte(pec, '/')+1:]
	before := "Please Approve."
	if mv.from != pending {
		before = "Set to " + mv.from
		if err := tc.Set(t, env, "targets", tc.Name, pec, mv.from, before); err != nil {
			t.Fatalf("bringing the connection to %s: %v", mv.from, err)
		}
	}

	var resp *http.Response
	err = tc.Put(policy.WithCaptureResponse(ctx, &resp), t, env, "targets", tc.Name, pec, mv.to, "Asked for "+mv.to)

	wantStatus, wantDesc := mv.to, "Asked for "+mv.to
	if mv.code != "" {
		msg := armError(t, err, mv.status, mv.code)
		// The error text holds the response's JSON, where quotes are escaped.
		quoted, _ := json.Marshal(mv.msg)
		if !strings.Contains(msg, string(quoted[1:len(quoted)-1])) {
			t.Fatalf("error message does not say %q:\n%s", mv.msg, msg)
		}
		wantStatus, wantDesc = mv.from, before
	} else {
		if err != nil {
			t.Fatal(err)
		}
		if resp == nil || resp.StatusCode != mv.status {
			t.Fatalf("PUT answered %v, want %d", statusOf(resp), mv.status)
		}
	}
	got := connection(t, env, tc, pec)
	if got.Properties.State.Status != wantStatus || got.Properties.State.Description != wantDesc {
		t.Fatalf("the connection reads %+v, want %s with %q", got.Properties.State, wantStatus, wantDesc)
	}
	if st := fixtures.StateOf(t, env, *mpe.ID); st.ConnectionState != wantStatus || st.Description != wantDesc {
		t.Fatalf("the endpoint reads %s with %q, want %s with %q", st.ConnectionState, st.Description, wantStatus, wantDesc)
	}
}

// connection returns the target's connection named pec.
func connection(t *testing.T, env *testkit.Env, tc fixtures.Target, pec string) fixtures.Conn {
	t.Helper()
	for _, c := range tc.Conns(t, env, "targets", tc.Name) {
		if strings.EqualFold(c.Name, pec) {
			return c
		}
	}
	t.Fatalf("no connection %s on %s", pec, tc.Name)
	return fixtures.Conn{}
}

func statusOf(resp *http.Response) any {
	if resp == nil {
		return "nothing"
	}
	return resp.StatusCode
}
