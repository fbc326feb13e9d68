package lifecycle

import (
	"fmt"
	"slices"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/privlink/privlink/internal/testkit"
	"github.com/privlink/privlink/internal/testkit/fixtures"
)

// TestResourcesListPages pages through GET {subscription}/resources and
// {group}/resources with the SDK's pagers: every tracked resource once, in
// pages of the server's size, the endpoints and connections between them
// (which are not tracked) never.
func TestResourcesListPages(t *testing.T) {
	defer fixtures.FailOnPanic(t)
	env := testkit.Start(t, testkit.WithPageSize(2), testkit.WithDelay(0))
	fixtures.CreateRG(t, env, env.Subscription, "paged")
	cluster := createCluster(t, env, "paged", "pagedcluster", nil)
	sc := fixtures.Must(armstorage.NewAccountsClient(env.Subscription, env.Cred, env.Options))
	want := []string{cluster}
	for i := range 4 {
		p := fixtures.Must(sc.BeginCreate(ctx, "paged", fmt.Sprintf("acct%d", i), armstorage.AccountCreateParameters{
			Location: to.Ptr("westus"), Kind: to.Ptr(armstorage.KindStorageV2), SKU: &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)},
		}, nil))
		a := fixtures.Must(p.PollUntilDone(ctx, testkit.PollOptions))
		want = append(want, *a.ID)
		for j := range 3 {
			if _, err := fixtures.CreateMPE(t, env, "paged", "pagedcluster", fmt.Sprintf("m%d%d", i, j), *a.ID, "blob", "hi"); err != nil {
				t.Fatal(err)
			}
		}
	}
	slices.Sort(want)
	ac := fixtures.Must(armresources.NewClient(env.Subscription, env.Cred, env.Options))
	ids := func(rs []*armresources.GenericResourceExpanded) []string {
		var out []string
		for _, r := range rs {
			out = append(out, *r.ID)
		}
		slices.Sort(out)
		return out
	}
	inGroup, pages := all(ac.NewListByResourceGroupPager("paged", nil), func(p armresources.ClientListByResourceGroupResponse) []*armresources.GenericResourceExpanded {
		return p.Value
	})
	if got := ids(inGroup); !slices.Equal(got, want) {
		t.Fatalf("group's resources = %v, want %v", got, want)
	}
	if pages < 3 {
		t.Fatalf("group's %d resources came in %d pages of 2", len(inGroup), pages)
	}
	inSub, _ := all(ac.NewListPager(nil), func(p armresources.ClientListResponse) []*armresources.GenericResourceExpanded { return p.Value })
	got := ids(inSub)
	for _, id := range want {
		if !slices.Contains(got, id) {
			t.Fatalf("subscription's resources %v lack %s", got, id)
		}
	}
	if len(got) != len(slices.Compact(slices.Clone(got))) {
		t.Fatalf("subscription's resources repeat one: %v", got)
	}
}
