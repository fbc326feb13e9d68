package lifecycle

import (
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/privlink/privlink/internal/testkit"
	"github.com/privlink/privlink/internal/testkit/fixtures"
)

// TestPostgresStore runs the seed's story on a server whose store is
// PostgreSQL (serve --store postgres://...): a cluster, a storage account
// and an endpoint created through the SDK, the endpoint still there after a
// restart. PRIVLINK_TEST_POSTGRES names the server (.ci/run starts one);
// without it the test is skipped (see testkit.PostgresURL).
func TestPostgresStore(t *testing.T) {
	defer fixtures.FailOnPanic(t)
	env := testkit.Start(t, testkit.WithStore(testkit.FreshSchema(t, testkit.PostgresURL(t), "privlink_lifecycle")))
	fixtures.CreateRG(t, env, env.Subscription, "adx")
	createCluster(t, env, "adx", "pgcluster", nil)
	target := targets()[0].Create(t, env, "adx", "pgshare") // a storage account
	mpe, err := fixtures.CreateMPE(t, env, "adx", "pgcluster", "mpe1", target, "blob", "Please Approve.")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := *mpe.Properties.ProvisioningState, armkusto.ProvisioningStateSucceeded; got != want {
		t.Fatalf("endpoint provisioningState = %s, want %s", got, want)
	}
	env = env.Restart(t)
	c := fixtures.Must(armkusto.NewManagedPrivateEndpointsClient(env.Subscription, env.Cred, env.Options))
	got := fixtures.Must(c.Get(ctx, "adx", "pgcluster", "mpe1", nil))
	if *got.ID != *mpe.ID {
		t.Fatalf("after restart the endpoint is %s, want %s", *got.ID, *mpe.ID)
	}
}
