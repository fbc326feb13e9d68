package lifecycle

import (
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/privlink/privlink/internal/testkit"
	"github.com/privlink/privlink/internal/testkit/fixtures"
)

// TestCascades deletes clusters, resource groups and targets and checks that
// endpoints and connections go with them, or read Disconnected when only the
// target side went away.
func TestCascades(t *testing.T) {
	defer fixtures.FailOnPanic(t)
	env := testkit.Start(t)
	storage, eventhub := targets()[0], targets()[1]
	fixtures.CreateRG(t, env, env.Subscription, "targets")
	fixtures.CreateRG(t, env, env.Subscription, "adx")
	sa := storage.Create(t, env, "targets", "share")
	eh := eventhub.Create(t, env, "targets", "myeventhubns")

	t.Run("cluster delete removes its endpoints and their connections", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		createCluster(t, env, "adx", "doomed", nil)
		fixtures.Must(fixtures.CreateMPE(t, env, "adx", "doomed", "toStorage", sa, "blob", "m"))
		fixtures.Must(fixtures.CreateMPE(t, env, "adx", "doomed", "toEventHub", eh, "namespace", "m"))
		if n := len(storage.Conns(t, env, "targets", "share")); n != 1 {
			t.Fatalf("storage connections = %d, want 1", n)
		}
		c := fixtures.Must(armkusto.NewClustersClient(env.Subscription, env.Cred, env.Options))
		p := fixtures.Must(c.BeginDelete(ctx, "adx", "doomed", nil))
		fixtures.Must(p.PollUntilDone(ctx, testkit.PollOptions))
		if n := len(storage.Conns(t, env, "targets", "share")); n != 0 {
			t.Fatalf("storage connections after cluster delete = %d, want 0", n)
		}
		if n := len(eventhub.Conns(t, env, "targets", "myeventhubns")); n != 0 {
			t.Fatalf("event hub connections after cluster delete = %d, want 0", n)
		}
		mc := fixtures.Must(armkusto.NewManagedPrivateEndpointsClient(env.Subscription, env.Cred, env.Options))
		_, err := mc.Get(ctx, "adx", "doomed", "toStorage", nil)
		armError(t, err, http.StatusNotFound, "ParentResourceNotFound")
	})

	t.Run("target delete leaves the endpoint Disconnected", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		createCluster(t, env, "adx", "keeper", nil)
		other := storage.Create(t, env, "targets", "goingaway")
		mpe := fixtures.Must(fixtures.CreateMPE(t, env, "adx", "keeper", "toGoingAway", other, "blob", "m"))
		sc := fixtures.Must(armstorage.NewAccountsClient(env.Subscription, env.Cred, env.Options))
		fixtures.Must(sc.Delete(ctx, "targets", "goingaway", nil))
		st := fixtures.StateOf(t, env, *mpe.ID)
		if got, want := st.ConnectionState, "Disconnected"; got != want {
			t.Fatalf("endpoint after its target was deleted reads %q, want %q", got, want)
		}
		if got, want := st.Description, "The private link resource was deleted."; got != want {
			t.Fatalf("endpoint after its target was deleted says %q, want %q", got, want)
		}
	})

	t.Run("resource group delete cascades both ways", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		fixtures.CreateRG(t, env, env.Subscription, "mixed")
		createCluster(t, env, "mixed", "inside", nil)
		fixtures.Must(fixtures.CreateMPE(t, env, "mixed", "inside", "out", sa, "blob", "from inside"))
		inner := storage.Create(t, env, "mixed", "innerstore")
		createCluster(t, env, "adx", "outside", nil)
		in := fixtures.Must(fixtures.CreateMPE(t, env, "adx", "outside", "in", inner, "blob", "from outside"))
		before := len(storage.Conns(t, env, "targets", "share"))

		rc := fixtures.Must(armresources.NewResourceGroupsClient(env.Subscription, env.Cred, env.Options))
		p := fixtures.Must(rc.BeginDelete(ctx, "mixed", nil))
		fixtures.Must(p.PollUntilDone(ctx, testkit.PollOptions))

		if _, err := rc.Get(ctx, "mixed", nil); err == nil {
			t.Fatal("resource group still exists after delete")
		} else {
			armError(t, err, http.StatusNotFound, "ResourceGroupNotFound")
		}
		if got, want := len(storage.Conns(t, env, "targets", "share")), before-1; got != want {
			t.Fatalf("connections on share after the group went = %d, want %d", got, want)
		}
		if got, want := fixtures.StateOf(t, env, *in.ID).ConnectionState, "Disconnected"; got != want {
			t.Fatalf("endpoint into the deleted group reads %q, want %q", got, want)
		}
		exists := fixtures.Must(rc.CheckExistence(ctx, "mixed", nil))
		if exists.Success {
			t.Fatal("CheckExistence says the deleted group exists")
		}
	})

	t.Run("resource group delete refuses new resources while running", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		slow := testkit.Start(t, testkit.WithDelay(2e9))
		fixtures.CreateRG(t, slow, slow.Subscription, "going")
		rc := fixtures.Must(armresources.NewResourceGroupsClient(slow.Subscription, slow.Cred, slow.Options))
		fixtures.Must(rc.BeginDelete(ctx, "going", nil))
		sc := fixtures.Must(armstorage.NewAccountsClient(slow.Subscription, slow.Cred, slow.Options))
		_, err := sc.BeginCreate(ctx, "going", "latecomer", armstorage.AccountCreateParameters{Location: to.Ptr("westus"), Kind: to.Ptr(armstorage.KindStorageV2), SKU: &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)}}, nil)
		armError(t, err, http.StatusConflict, "ResourceGroupBeingDeleted")
	})
}
