package e2e

import (
	"context"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/privlink/privlink/internal/testkit"
)

func TestSmoke(t *testing.T) {
	env := testkit.Start(t)
	ctx := context.Background()
	rgc, err := armresources.NewResourceGroupsClient(env.Subscription, env.Cred, env.Options)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rgc.CreateOrUpdate(ctx, "rg", armresources.ResourceGroup{Location: to.Ptr("westus")}, nil); err != nil {
		t.Fatal(err)
	}
	kc, err := armkusto.NewClustersClient(env.Subscription, env.Cred, env.Options)
	if err != nil {
		t.Fatal(err)
	}
	p, err := kc.BeginCreateOrUpdate(ctx, "rg", "adx1", armkusto.Cluster{Location: to.Ptr("westus"), SKU: &armkusto.AzureSKU{Name: to.Ptr(armkusto.AzureSKUNameDevNoSLAStandardD11V2), Tier: to.Ptr(armkusto.AzureSKUTierBasic)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := p.PollUntilDone(ctx, testkit.PollOptions)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster %s state %s", *cl.ID, *cl.Properties.ProvisioningState)
	sc, err := armstorage.NewAccountsClient(env.Subscription, env.Cred, env.Options)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := sc.BeginCreate(ctx, "rg", "share", armstorage.AccountCreateParameters{Location: to.Ptr("westus"), Kind: to.Ptr(armstorage.KindStorageV2), SKU: &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := sp.PollUntilDone(ctx, testkit.PollOptions)
	if err != nil {
		t.Fatal(err)
	}
	mc, err := armkusto.NewManagedPrivateEndpointsClient(env.Subscription, env.Cred, env.Options)
	if err != nil {
		t.Fatal(err)
	}
	mp, err := mc.BeginCreateOrUpdate(ctx, "rg", "adx1", "mpeToStorage", armkusto.ManagedPrivateEndpoint{Properties: &armkusto.ManagedPrivateEndpointProperties{
		PrivateLinkResourceID: sa.ID, GroupID: to.Ptr("blob"), RequestMessage: to.Ptr("Please Approve."),
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mpe, err := mp.PollUntilDone(ctx, testkit.PollOptions)
	if err != nil {
		t.Fatal(err)
	}
	if got := *mpe.Properties.ProvisioningState; got != armkusto.ProvisioningStateSucceeded {
		t.Fatalf("mpe state %s", got)
	}
	pc, err := armstorage.NewPrivateEndpointConnectionsClient(env.Subscription, env.Cred, env.Options)
	if err != nil {
		t.Fatal(err)
	}
	pager := pc.NewListPager("rg", "share", nil)
	page, err := pager.NextPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Value) != 1 || *page.Value[0].Properties.PrivateLinkServiceConnectionState.Status != armstorage.PrivateEndpointServiceConnectionStatusPending {
		t.Fatalf("connections %+v", page.Value)
	}
	name := *page.Value[0].Name
	_, err = pc.Put(ctx, "rg", "share", name, armstorage.PrivateEndpointConnection{Properties: &armstorage.PrivateEndpointConnectionProperties{
		PrivateLinkServiceConnectionState: &armstorage.PrivateLinkServiceConnectionState{Status: to.Ptr(armstorage.PrivateEndpointServiceConnectionStatusApproved), Description: to.Ptr("ok")},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	dp, err := mc.BeginDelete(ctx, "rg", "adx1", "mpeToStorage", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dp.PollUntilDone(ctx, testkit.PollOptions); err != nil {
		t.Fatal(err)
	}
	page, err = pc.NewListPager("rg", "share", nil).NextPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Value) != 0 {
		t.Fatalf("connection left after delete: %d", len(page.Value))
	}
}
