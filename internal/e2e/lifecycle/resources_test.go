package lifecycle

import (
	"fmt"
	"net/http"
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

// TestResourcesListFilter: GET {subscription}/resources takes the $filter
// terms the SDK and azure-cli send (az resource list -g/--resource-type/-n,
// az keyvault list), pages through what they keep, shows no properties
// (ARM's GenericResourceExpanded), and adds what $expand asks for; a term
// it does not know is refused, never ignored.
func TestResourcesListFilter(t *testing.T) {
	defer fixtures.FailOnPanic(t)
	env := testkit.Start(t, testkit.WithPageSize(2), testkit.WithDelay(0))
	fixtures.CreateRG(t, env, env.Subscription, "one")
	fixtures.CreateRG(t, env, env.Subscription, "two")
	createCluster(t, env, "one", "onecluster", nil)
	sc := fixtures.Must(armstorage.NewAccountsClient(env.Subscription, env.Cred, env.Options))
	for _, a := range []struct{ group, name string }{{"one", "acct1"}, {"one", "acct2"}, {"one", "acct3"}, {"two", "acct4"}} {
		p := fixtures.Must(sc.BeginCreate(ctx, a.group, a.name, armstorage.AccountCreateParameters{
			Location: to.Ptr("westus"), Kind: to.Ptr(armstorage.KindStorageV2), SKU: &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)},
			Tags: map[string]*string{"team": to.Ptr(a.group)},
		}, nil))
		fixtures.Must(p.PollUntilDone(ctx, testkit.PollOptions))
	}
	ac := fixtures.Must(armresources.NewClient(env.Subscription, env.Cred, env.Options))
	list := func(filter, expand string) []*armresources.GenericResourceExpanded {
		t.Helper()
		var out []*armresources.GenericResourceExpanded
		opts := &armresources.ClientListOptions{Filter: to.Ptr(filter)}
		if expand != "" {
			opts.Expand = to.Ptr(expand)
		}
		for p := ac.NewListPager(opts); p.More(); {
			out = append(out, fixtures.Must(p.NextPage(ctx)).Value...)
		}
		return out
	}
	names := func(rs []*armresources.GenericResourceExpanded) []string {
		var out []string
		for _, r := range rs {
			out = append(out, *r.Name)
		}
		slices.Sort(out)
		return out
	}
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{"resourceGroup eq 'one'", []string{"acct1", "acct2", "acct3", "onecluster"}},
		{"resourceType eq 'Microsoft.Storage/storageAccounts' and resourceGroup eq 'one'", []string{"acct1", "acct2", "acct3"}},
		{"resourceType eq 'Microsoft.KeyVault/vaults'", nil},
		{"name eq 'acct4'", []string{"acct4"}},
		{"substringof('ct2', name)", []string{"acct2"}},
		{"tagName eq 'team' and tagValue eq 'two'", []string{"acct4"}},
		{"location eq 'westus' and resourceGroup eq 'two'", []string{"acct4"}},
	} {
		if got := names(list(tc.filter, "")); !slices.Equal(got, tc.want) {
			t.Errorf("$filter=%s: %v, want %v", tc.filter, got, tc.want)
		}
	}
	for _, r := range list("name eq 'acct1'", "createdTime,changedTime,provisioningState") {
		if r.Properties != nil || r.CreatedTime == nil || r.ChangedTime == nil || r.ProvisioningState == nil || *r.ProvisioningState != "Succeeded" {
			t.Errorf("acct1 with $expand: properties %v, createdTime %v, changedTime %v, provisioningState %v", r.Properties, r.CreatedTime, r.ChangedTime, r.ProvisioningState)
		}
	}
	pager := ac.NewListPager(&armresources.ClientListOptions{Filter: to.Ptr("plan/publisher eq 'x'")})
	_, err := pager.NextPage(ctx)
	armError(t, err, http.StatusBadRequest, "UnsupportedFilter")
}
