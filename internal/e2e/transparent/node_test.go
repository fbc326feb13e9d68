package transparent

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/eventhub/armeventhub"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/testkit"
)

// TestNodeSDK runs the seed's scenario with the official Azure SDK for
// JavaScript (@azure/identity's DefaultAzureCredential, @azure/arm-kusto,
// -resources, -eventhub and -storage from npm, versions fixed by the lock
// file in internal/e2e/node) in a shell with only what 'privlink env'
// exports: a second language with no privlink setting of its own.
func TestNodeSDK(t *testing.T) {
	node, err := exec.LookPath("node")
	testkit.Need(t, err == nil, "node is not installed", "install Node.js 20 or later")
	dir, err := filepath.Abs(filepath.Join("..", "node"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = os.Stat(filepath.Join(dir, "node_modules", "@azure", "arm-kusto"))
	testkit.Need(t, err == nil, "the JavaScript SDK is not installed", "run 'npm ci --prefix internal/e2e/node'")

	env := testkit.Start(t, testkit.WithOffline())
	vars, _ := env.ShellEnv(t)
	cmd := testkit.InShell(exec.Command(node, "seed.mjs"), vars, "PRIVLINK_TEST_SUFFIX=1")
	cmd.Dir = dir
	out := testkit.Output(t, cmd)
	var r struct {
		Endpoints  []string `json:"endpoints"`
		State      string   `json:"state"`
		CreatedBy  string   `json:"createdBy"`
		Connection string   `json:"connection"`
		Status     string   `json:"status"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("node printed %q: %v", out, err)
	}
	if len(r.Endpoints) != 2 || r.Endpoints[0] != "mycluster1/mpeToEventHub" || r.Endpoints[1] != "mycluster1/mpeToStorage" {
		t.Errorf("endpoints %v, want mycluster1/mpeToEventHub and mycluster1/mpeToStorage", r.Endpoints)
	}
	if r.State != "Succeeded" || r.Status != "Approved" || r.CreatedBy != identity.DefaultClientID {
		t.Errorf("got %+v, want the endpoint Succeeded, created by %s, its connection Approved", r, identity.DefaultClientID)
	}
	// The server holds the approval the program made.
	c, err := armeventhub.NewPrivateEndpointConnectionsClient(env.Subscription, env.Cred, env.Options)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(t.Context(), "adx-node1", "myeventhubns1", r.Connection, nil)
	if err != nil {
		t.Fatalf("connection %s: %v", r.Connection, err)
	}
	if s := *got.Properties.PrivateLinkServiceConnectionState.Status; s != armeventhub.PrivateLinkConnectionStatusApproved {
		t.Fatalf("server says the connection is %s", s)
	}
}
