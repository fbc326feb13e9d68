package lifecycle

import (
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/privlink/privlink/internal/testkit"
)

// TestCascades deletes clusters, resource groups and targets and checks that
// endpoints and connections go with them, or read Disconnected when only the
// target side went away.
func TestCascades(t *testing.T) {
	defer failOnPanic(t)
	env := testkit.Start(t)
	storage, eventhub := targets()[0], targets()[1]
	createRG(t, env, env.Subscription, "targets")
	createRG(t, env, env.Subscription, "adx")
	sa := storage.create(t, env, "targets", "share")
	eh := eventhub.create(t, env, "targets", "myeventhubns")

	t.Run("cluster delete removes its endpoints and their connections", func(t *testing.T) {
		defer failOnPanic(t)
		createCluster(t, env, "adx", "doomed", nil)
		must(createMPE(t, env, "adx", "doomed", "toStorage", sa, "blob", "m"))
		must(createMPE(t, env, "adx", "doomed", "toEventHub", eh, "namespace", "m"))
		if n := len(storage.conns(t, env, "targets", "share")); n != 1 {
			t.Fatalf("storage connections = %d, want 1", n)
		}
		c := must(armkusto.NewClustersClient(env.Subscription, env.Cred, env.Options))
		p := must(c.BeginDelete(ctx, "adx", "doomed", nil))
		must(p.PollUntilDone(ctx, testkit.PollOptions))
		if n := len(storage.conns(t, env, "targets", "share")); n != 0 {
			t.Fatalf("storage connections after cluster delete = %d, want 0", n)
		}
		if n := len(eventhub.conns(t, env, "targets", "myeventhubns")); n != 0 {
			t.Fatalf("event hub connections after cluster delete = %d, want 0", n)
		}
		mc := must(armkusto.NewManagedPrivateEndpointsClient(env.Subscription, env.Cred, env.Options))
		_, err := mc.Get(ctx, "adx", "doomed", "toStorage", nil)
		armError(t, err, http.StatusNotFound, "ParentResourceNotFound")
	})

	t.Run("target delete leaves the endpoint Disconnected", func(t *testing.T) {
		defer failOnPanic(t)
		createCluster(t, env, "adx", "keeper", nil)
		other := storage.create(t, env, "targets", "goingaway")
		mpe := must(createMPE(t, env, "adx", "keeper", "toGoingAway", other, "blob", "m"))
		sc := must(armstorage.NewAccountsClient(env.Subscription, env.Cred, env.Options))
		must(sc.Delete(ctx, "targets", "goingaway", nil))
		st := stateOf(t, env, *mpe.ID)
		if got, want := st.ConnectionState, "Disconnected"; got != want {
			t.Fatalf("endpoint after its target was deleted reads %q, want %q", got, want)
		}
	})

	t.Run("resource group delete cascades both ways", func(t *testing.T) {
		defer failOnPanic(t)
		createRG(t, env, env.Subscription, "mixed")
		createCluster(t, env, "mixed", "inside", nil)
		must(createMPE(t, env, "mixed", "inside", "out", sa, "blob", "from inside"))
		inner := storage.create(t, env, "mixed", "innerstore")
		createCluster(t, env, "adx", "outside", nil)
		in := must(createMPE(t, env, "adx", "outside", "in", inner, "blob", "from outside"))
		before := len(storage.conns(t, env, "targets", "share"))

		rc := must(armresources.NewResourceGroupsClient(env.Subscription, env.Cred, env.Options))
		p := must(rc.BeginDelete(ctx, "mixed", nil))
		must(p.PollUntilDone(ctx, testkit.PollOptions))

		if _, err := rc.Get(ctx, "mixed", nil); err == nil {
			t.Fatal("resource group still exists after delete")
		} else {
			armError(t, err, http.StatusNotFound, "ResourceGroupNotFound")
		}
		if got, want := len(storage.conns(t, env, "targets", "share")), before-1; got != want {
			t.Fatalf("connections on share after the group went = %d, want %d", got, want)
		}
		if got, want := stateOf(t, env, *in.ID).ConnectionState, "Disconnected"; got != want {
			t.Fatalf("endpoint into the deleted group reads %q, want %q", got, want)
		}
		exists := must(rc.CheckExistence(ctx, "mixed", nil))
		if exists.Success {
			t.Fatal("CheckExistence says the deleted group exists")
		}
	})

	t.Run("resource group delete refuses new resources while running", func(t *testing.T) {
		defer failOnPanic(t)
		slow := testkit.Start(t, testkit.WithDelay(2e9))
		createRG(t, slow, slow.Subscription, "going")
		rc := must(armresources.NewResourceGroupsClient(slow.Subscription, slow.Cred, slow.Options))
		must(rc.BeginDelete(ctx, "going", nil))
		sc := must(armstorage.NewAccountsClient(slow.Subscription, slow.Cred, slow.Options))
		_, err := sc.BeginCreate(ctx, "going", "latecomer", armstorage.AccountCreateParameters{Location: to.Ptr("westus"), Kind: to.Ptr(armstorage.KindStorageV2), SKU: &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)}}, nil)
		armError(t, err, http.StatusConflict, "ResourceGroupBeingDeleted")
	})
}
