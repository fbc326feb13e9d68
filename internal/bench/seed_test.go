package bench

import (
	"context"
	"fmt"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/eventhub/armeventhub"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/privlink/privlink/internal/testkit"
)

// BenchmarkSeedScenario is the documentation's whole story through the
// official SDK with its default polling options (zero provisioning delay):
// create a cluster, a managed private endpoint to an Event Hubs namespace and
// one to a storage account, approve the Event Hubs connection as its owner,
// then delete both endpoints and the cluster. One op is one whole scenario.
func BenchmarkSeedScenario(b *testing.B) {
	env := testkit.Start(b)
	ctx := context.Background()
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	rg, _ := armresources.NewResourceGroupsClient(env.Subscription, env.Cred, env.Options)
	_, err := rg.CreateOrUpdate(ctx, "adx", armresources.ResourceGroup{Location: to.Ptr("westus")}, nil)
	must(err)
	ns, _ := armeventhub.NewNamespacesClient(env.Subscription, env.Cred, env.Options)
	np, err := ns.BeginCreateOrUpdate(ctx, "adx", "myeventhubns", armeventhub.EHNamespace{Location: to.Ptr("westus")}, nil)
	must(err)
	eh, err := np.PollUntilDone(ctx, nil)
	must(err)
	sa, _ := armstorage.NewAccountsClient(env.Subscription, env.Cred, env.Options)
	sp, err := sa.BeginCreate(ctx, "adx", "share", armstorage.AccountCreateParameters{Location: to.Ptr("westus"), Kind: to.Ptr(armstorage.KindStorageV2), SKU: &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)}}, nil)
	must(err)
	st, err := sp.PollUntilDone(ctx, nil)
	must(err)
	clusters, _ := armkusto.NewClustersClient(env.Subscription, env.Cred, env.Options)
	mpes, _ := armkusto.NewManagedPrivateEndpointsClient(env.Subscription, env.Cred, env.Options)
	pecs, _ := armeventhub.NewPrivateEndpointConnectionsClient(env.Subscription, env.Cred, env.Options)

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("adx%d", i)
		cp, err := clusters.BeginCreateOrUpdate(ctx, "adx", name, armkusto.Cluster{Location: to.Ptr("westus"),
			SKU: &armkusto.AzureSKU{Name: to.Ptr(armkusto.AzureSKUNameStandardE2AV4), Tier: to.Ptr(armkusto.AzureSKUTierStandard)}}, nil)
		must(err)
		_, err = cp.PollUntilDone(ctx, nil)
		must(err)
		for _, m := range []struct{ name, target, group string }{{"mpeToEventHub", *eh.ID, "namespace"}, {"mpeToStorage", *st.ID, "blob"}} {
			p, err := mpes.BeginCreateOrUpdate(ctx, "adx", name, m.name, armkusto.ManagedPrivateEndpoint{Properties: &armkusto.ManagedPrivateEndpointProperties{
				PrivateLinkResourceID: to.Ptr(m.target), GroupID: to.Ptr(m.group), RequestMessage: to.Ptr("Please Approve.")}}, nil)
			must(err)
			_, err = p.PollUntilDone(ctx, nil)
			must(err)
		}
		page, err := pecs.NewListPager("adx", "myeventhubns", nil).NextPage(ctx)
		must(err)
		if len(page.Value) != 1 {
			b.Fatalf("event hub connections = %d, want 1", len(page.Value))
		}
		_, err = pecs.CreateOrUpdate(ctx, "adx", "myeventhubns", *page.Value[0].Name, armeventhub.PrivateEndpointConnection{Properties: &armeventhub.PrivateEndpointConnectionProperties{
			PrivateLinkServiceConnectionState: &armeventhub.ConnectionState{Status: to.Ptr(armeventhub.PrivateLinkConnectionStatusApproved), Description: to.Ptr("ok")}}}, nil)
		must(err)
		for _, m := range []string{"mpeToEventHub", "mpeToStorage"} {
			p, err := mpes.BeginDelete(ctx, "adx", name, m, nil)
			must(err)
			_, err = p.PollUntilDone(ctx, nil)
			must(err)
		}
		dp, err := clusters.BeginDelete(ctx, "adx", name, nil)
		must(err)
		_, err = dp.PollUntilDone(ctx, nil)
		must(err)
	}
}
