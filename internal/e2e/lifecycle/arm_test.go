package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armsubscriptions"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/subscription/armsubscription"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/testkit"
	"github.com/privlink/privlink/internal/testkit/fixtures"
)

// kustoVersion is the api-version armkusto v2.3 sends; raw requests use it too.
const kustoVersion = "2024-04-13"

// capture returns a context whose SDK call leaves its final HTTP response in *resp.
func capture(resp **http.Response) context.Context {
	return policy.WithCaptureResponse(ctx, resp)
}

// raw sends a request with the default service principal's token, for what
// no SDK client sends; it returns the response with its body read.
func raw(t *testing.T, env *testkit.Env, method, path, body string) (*http.Response, []byte) {
	t.Helper()
	return send(t, env, method, path, body, "Bearer "+env.Token(t))
}

// anon sends a request without credentials.
func anon(t *testing.T, env *testkit.Env, method, path string) (*http.Response, []byte) {
	t.Helper()
	return send(t, env, method, path, "", "")
}

func send(t *testing.T, env *testkit.Env, method, path, body, auth string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, env.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp := fixtures.Must(env.HTTP.Do(req))
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func newCluster(tags map[string]*string) armkusto.Cluster {
	return armkusto.Cluster{
		Location: to.Ptr("westus"),
		Tags:     tags,
		SKU:      &armkusto.AzureSKU{Name: to.Ptr(armkusto.AzureSKUNameDevNoSLAStandardE2AV4), Tier: to.Ptr(armkusto.AzureSKUTierBasic), Capacity: to.Ptr[int32](1)},
		Identity: &armkusto.Identity{Type: to.Ptr(armkusto.IdentityTypeSystemAssigned)},
	}
}

func tagsOf(m map[string]*string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}

func sameTags(got map[string]*string, want map[string]string) bool {
	g := tagsOf(got)
	if len(g) != len(want) {
		return false
	}
	for k, v := range want {
		if g[k] != v {
			return false
		}
	}
	return true
}

// all drains a pager, counting its pages; values picks a page's items.
func all[P, V any](pager *runtime.Pager[P], values func(P) []V) (items []V, pages int) {
	for pager.More() {
		items = append(items, values(fixtures.Must(pager.NextPage(ctx)))...)
		pages++
	}
	return items, pages
}

// TestSubscriptions reads the default subscription through armsubscriptions,
// creates others through Microsoft.Subscription aliases, puts a resource
// group in one, and pages through the list.
func TestSubscriptions(t *testing.T) {
	defer fixtures.FailOnPanic(t)
	env := testkit.Start(t, testkit.WithPageSize(2))
	sc := fixtures.Must(armsubscriptions.NewClient(env.Cred, env.Options))
	ac := fixtures.Must(armsubscription.NewAliasClient(env.Cred, env.Options))

	// listed lists the subscriptions by id, and the number of pages that took.
	listed := func(t *testing.T) (map[string]*armsubscriptions.Subscription, int) {
		subs, pages := all(sc.NewListPager(nil), func(p armsubscriptions.ClientListResponse) []*armsubscriptions.Subscription { return p.Value })
		out := map[string]*armsubscriptions.Subscription{}
		for _, s := range subs {
			if out[*s.SubscriptionID] != nil {
				t.Fatalf("subscription %s listed twice", *s.SubscriptionID)
			}
			out[*s.SubscriptionID] = s
		}
		return out, pages
	}
	newSubscription := func(t *testing.T, alias, display string) string {
		p := fixtures.Must(ac.BeginCreate(ctx, alias, armsubscription.PutAliasRequest{Properties: &armsubscription.PutAliasRequestProperties{
			DisplayName: to.Ptr(display), Workload: to.Ptr(armsubscription.WorkloadProduction), BillingScope: to.Ptr("/billing")}}, nil))
		res := fixtures.Must(p.PollUntilDone(ctx, testkit.PollOptions))
		if res.Properties == nil || res.Properties.SubscriptionID == nil || *res.Properties.SubscriptionID == "" {
			t.Fatalf("alias %s has no subscriptionId", alias)
		}
		return *res.Properties.SubscriptionID
	}

	t.Run("default subscription", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		s := fixtures.Must(sc.Get(ctx, identity.DefaultSubscriptionID, nil)).Subscription
		if got, want := *s.SubscriptionID, "00000000-0000-4000-8000-000000000002"; got != want {
			t.Fatalf("subscriptionId = %s, want %s", got, want)
		}
		if got, want := *s.ID, "/subscriptions/"+identity.DefaultSubscriptionID; got != want {
			t.Fatalf("id = %s, want %s", got, want)
		}
		if got, want := *s.State, armsubscriptions.SubscriptionStateEnabled; got != want {
			t.Fatalf("state = %s, want %s", got, want)
		}
		if got, want := *s.TenantID, "00000000-0000-4000-8000-000000000001"; got != want {
			t.Fatalf("tenantId = %s, want %s", got, want)
		}
		subs, _ := listed(t)
		d, ok := subs[identity.DefaultSubscriptionID]
		if !ok {
			t.Fatalf("list has no default subscription: %v", subs)
		}
		if got, want := *d.State, armsubscriptions.SubscriptionStateEnabled; got != want {
			t.Fatalf("listed state = %s, want %s", got, want)
		}
	})

	t.Run("alias creates a subscription", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		sub := newSubscription(t, "team-b", "Team B")
		if sub == identity.DefaultSubscriptionID {
			t.Fatal("alias named the default subscription instead of creating one")
		}
		subs, _ := listed(t)
		s, ok := subs[sub]
		if !ok {
			t.Fatalf("new subscription %s is not in the list", sub)
		}
		if got, want := *s.DisplayName, "Team B"; got != want {
			t.Fatalf("displayName = %q, want %q", got, want)
		}
		if got, want := *s.State, armsubscriptions.SubscriptionStateEnabled; got != want {
			t.Fatalf("state = %s, want %s", got, want)
		}
		if got, want := *fixtures.Must(sc.Get(ctx, sub, nil)).TenantID, identity.DefaultTenantID; got != want {
			t.Fatalf("tenantId = %s, want %s", got, want)
		}
		if again := newSubscription(t, "team-b", "Team B"); again != sub {
			t.Fatalf("a second PUT of alias team-b named subscription %s, the first %s", again, sub)
		}
		fixtures.CreateRG(t, env, sub, "in-new-sub")
		rc := fixtures.Must(armresources.NewResourceGroupsClient(sub, env.Cred, env.Options))
		rg := fixtures.Must(rc.Get(ctx, "in-new-sub", nil))
		if got, want := *rg.ID, "/subscriptions/"+sub+"/resourceGroups/in-new-sub"; got != want {
			t.Fatalf("resource group id = %s, want %s", got, want)
		}
		// The same group name in the default subscription is another group.
		dc := fixtures.Must(armresources.NewResourceGroupsClient(env.Subscription, env.Cred, env.Options))
		_, err := dc.Get(ctx, "in-new-sub", nil)
		armError(t, err, http.StatusNotFound, "ResourceGroupNotFound")
	})

	t.Run("list pages", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		// With the default one, at least three: more than a page of two.
		made := []string{newSubscription(t, "team-c", "Team C"), newSubscription(t, "team-d", "Team D")}
		subs, pages := listed(t)
		for _, s := range append(made, identity.DefaultSubscriptionID) {
			if subs[s] == nil {
				t.Fatalf("subscription %s is not listed", s)
			}
		}
		if got, want := pages, (len(subs)+1)/2; got != want {
			t.Fatalf("%d subscriptions came in %d pages, want %d", len(subs), got, want)
		}
		resp, body := raw(t, env, http.MethodGet, "/subscriptions?api-version=2022-12-01", "")
		var first struct {
			NextLink string `json:"nextLink"`
		}
		if err := json.Unmarshal(body, &first); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("list: %s %s", resp.Status, body)
		}
		next := fixtures.Must(url.Parse(first.NextLink))
		if got, want := next.Path, "/subscriptions"; got != want {
			t.Fatalf("nextLink %s has path %q, want %q", first.NextLink, got, want)
		}
		if next.Query().Get("$skipToken") == "" {
			t.Fatalf("nextLink %s has no $skipToken", first.NextLink)
		}
	})

	t.Run("unknown subscription", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		_, err := sc.Get(ctx, "00000000-0000-4000-8000-0000000000ff", nil)
		armError(t, err, http.StatusNotFound, "SubscriptionNotFound")
		rc := fixtures.Must(armresources.NewResourceGroupsClient("00000000-0000-4000-8000-0000000000ff", env.Cred, env.Options))
		_, err = rc.CreateOrUpdate(ctx, "nowhere", armresources.ResourceGroup{Location: to.Ptr("westus")}, nil)
		armError(t, err, http.StatusNotFound, "SubscriptionNotFound")
	})
}

// TestResourceGroups drives resource groups through armresources: create and
// replace, read, patch, existence, paging across nextLinks, and the
// asynchronous delete of a group with resources inside.
func TestResourceGroups(t *testing.T) {
	defer fixtures.FailOnPanic(t)
	env := testkit.Start(t, testkit.WithPageSize(2))
	rc := fixtures.Must(armresources.NewResourceGroupsClient(env.Subscription, env.Cred, env.Options))

	t.Run("create, replace, get, patch, exists", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		steps := []struct {
			name   string
			tags   map[string]string
			status int
		}{
			{"create", map[string]string{"team": "adx", "env": "dev"}, http.StatusCreated},
			{"replace", map[string]string{"owner": "me"}, http.StatusOK},
		}
		for _, s := range steps {
			var resp *http.Response
			tags := map[string]*string{}
			for k, v := range s.tags {
				tags[k] = to.Ptr(v)
			}
			rg := fixtures.Must(rc.CreateOrUpdate(capture(&resp), "groupone", armresources.ResourceGroup{Location: to.Ptr("westus"), Tags: tags}, nil))
			if got, want := resp.StatusCode, s.status; got != want {
				t.Fatalf("%s: status = %d, want %d", s.name, got, want)
			}
			if !sameTags(rg.Tags, s.tags) {
				t.Fatalf("%s: tags = %v, want exactly %v", s.name, tagsOf(rg.Tags), s.tags)
			}
		}
		rg := fixtures.Must(rc.Get(ctx, "groupone", nil))
		if got, want := *rg.ID, "/subscriptions/"+env.Subscription+"/resourceGroups/groupone"; got != want {
			t.Fatalf("id = %s, want %s", got, want)
		}
		if got, want := *rg.Type, "Microsoft.Resources/resourceGroups"; got != want {
			t.Fatalf("type = %s, want %s", got, want)
		}
		if got, want := *rg.Location, "westus"; got != want {
			t.Fatalf("location = %s, want %s", got, want)
		}
		if got, want := *rg.Properties.ProvisioningState, "Succeeded"; got != want {
			t.Fatalf("provisioningState = %s, want %s", got, want)
		}
		if !sameTags(rg.Tags, map[string]string{"owner": "me"}) {
			t.Fatalf("tags after replace = %v, want only owner=me", tagsOf(rg.Tags))
		}

		up := fixtures.Must(rc.Update(ctx, "groupone", armresources.ResourceGroupPatchable{Tags: map[string]*string{"cost": to.Ptr("low")}}, nil))
		if !sameTags(up.Tags, map[string]string{"cost": "low"}) {
			t.Fatalf("PATCH answered tags %v, want only cost=low (tags are replaced)", tagsOf(up.Tags))
		}
		if got := fixtures.Must(rc.Get(ctx, "groupone", nil)); !sameTags(got.Tags, map[string]string{"cost": "low"}) || *got.Location != "westus" {
			t.Fatalf("after PATCH the group reads tags %v location %s", tagsOf(got.Tags), *got.Location)
		}

		_, err := rc.Update(ctx, "nosuchgroup", armresources.ResourceGroupPatchable{Tags: map[string]*string{"a": to.Ptr("b")}}, nil)
		armError(t, err, http.StatusNotFound, "ResourceGroupNotFound")

		for _, tc := range []struct {
			name  string
			group string
			want  bool
		}{{"existing", "groupone", true}, {"existing, other case", "GROUPONE", true}, {"missing", "nosuchgroup", false}} {
			if got := fixtures.Must(rc.CheckExistence(ctx, tc.group, nil)).Success; got != tc.want {
				t.Errorf("CheckExistence(%s) = %v, want %v", tc.name, got, tc.want)
			}
		}
	})

	t.Run("list follows nextLink", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		for i := 1; i <= 5; i++ {
			fixtures.CreateRG(t, env, env.Subscription, fmt.Sprintf("paged%d", i))
		}
		groups, pages := all(rc.NewListPager(nil), func(p armresources.ResourceGroupsClientListResponse) []*armresources.ResourceGroup {
			if len(p.Value) > 2 {
				t.Fatalf("a page has %d groups, more than the page size 2", len(p.Value))
			}
			return p.Value
		})
		names := map[string]bool{}
		for _, g := range groups {
			if names[*g.Name] {
				t.Fatalf("group %s listed twice", *g.Name)
			}
			names[*g.Name] = true
		}
		for i := 1; i <= 5; i++ {
			if n := fmt.Sprintf("paged%d", i); !names[n] {
				t.Fatalf("group %s not listed (listed %v)", n, names)
			}
		}
		if got, want := pages, (len(groups)+1)/2; got != want || pages < 3 {
			t.Fatalf("%d groups came in %d pages, want %d", len(groups), got, want)
		}

		// The first page's nextLink, as the SDK saw it.
		resp, body := raw(t, env, http.MethodGet, "/subscriptions/"+env.Subscription+"/resourcegroups?api-version=2021-04-01", "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("list: %s %s", resp.Status, body)
		}
		var first struct {
			Value    []json.RawMessage `json:"value"`
			NextLink string            `json:"nextLink"`
		}
		if err := json.Unmarshal(body, &first); err != nil {
			t.Fatal(err)
		}
		if got, want := len(first.Value), 2; got != want {
			t.Fatalf("first page holds %d groups, want %d", got, want)
		}
		next, err := url.Parse(first.NextLink)
		if err != nil || !strings.HasPrefix(first.NextLink, env.URL+"/") {
			t.Fatalf("nextLink %q is not an absolute URL on %s", first.NextLink, env.URL)
		}
		if next.Query().Get("$skipToken") == "" || next.Query().Get("api-version") != "2021-04-01" {
			t.Fatalf("nextLink %q lacks $skipToken or the api-version", first.NextLink)
		}
	})

	t.Run("delete takes everything inside", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		fixtures.CreateRG(t, env, env.Subscription, "doomed")
		cluster := createCluster(t, env, "doomed", "insider", nil)
		storage := targets()[0]
		storage.Create(t, env, "doomed", "insidestore")

		p := fixtures.Must(rc.BeginDelete(ctx, "doomed", nil))
		if p.Done() {
			t.Fatal("a group delete finished without polling; it is asynchronous")
		}
		fixtures.Must(p.PollUntilDone(ctx, testkit.PollOptions))

		_, err := rc.Get(ctx, "doomed", nil)
		armError(t, err, http.StatusNotFound, "ResourceGroupNotFound")
		if fixtures.Must(rc.CheckExistence(ctx, "doomed", nil)).Success {
			t.Fatal("CheckExistence says the deleted group exists")
		}
		kc := fixtures.Must(armkusto.NewClustersClient(env.Subscription, env.Cred, env.Options))
		_, err = kc.Get(ctx, "doomed", "insider", nil)
		armError(t, err, http.StatusNotFound, "ResourceGroupNotFound")
		clusters, _ := all(kc.NewListPager(nil), func(p armkusto.ClustersClientListResponse) []*armkusto.Cluster { return p.Value })
		for _, c := range clusters {
			if strings.EqualFold(*c.ID, cluster) {
				t.Fatalf("cluster %s is still listed after its group was deleted", cluster)
			}
		}
		sc := fixtures.Must(armstorage.NewAccountsClient(env.Subscription, env.Cred, env.Options))
		_, err = sc.GetProperties(ctx, "doomed", "insidestore", nil)
		armError(t, err, http.StatusNotFound, "ResourceGroupNotFound")
		// A group of the same name made again starts empty.
		fixtures.CreateRG(t, env, env.Subscription, "doomed")
		ac := fixtures.Must(armresources.NewClient(env.Subscription, env.Cred, env.Options))
		inside, _ := all(ac.NewListByResourceGroupPager("doomed", nil), func(p armresources.ClientListByResourceGroupResponse) []*armresources.GenericResourceExpanded {
			return p.Value
		})
		if len(inside) != 0 {
			t.Fatalf("the recreated group holds %d resources, first %s", len(inside), *inside[0].ID)
		}
	})
}

// TestProviders lists, reads, registers and unregisters resource providers
// through armresources.ProvidersClient.
func TestProviders(t *testing.T) {
	defer fixtures.FailOnPanic(t)
	env := testkit.Start(t)
	pc := fixtures.Must(armresources.NewProvidersClient(env.Subscription, env.Cred, env.Options))

	t.Run("Microsoft.Kusto is listed with its types", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		var kusto *armresources.Provider
		provs, _ := all(pc.NewListPager(nil), func(p armresources.ProvidersClientListResponse) []*armresources.Provider { return p.Value })
		for _, p := range provs {
			if *p.Namespace == "Microsoft.Kusto" {
				kusto = p
			}
		}
		if kusto == nil {
			t.Fatal("Microsoft.Kusto is not in the provider list")
		}
		if got, want := *kusto.RegistrationState, "Registered"; got != want {
			t.Fatalf("Microsoft.Kusto registrationState = %s, want %s", got, want)
		}
		if got, want := *kusto.ID, "/subscriptions/"+env.Subscription+"/providers/Microsoft.Kusto"; got != want {
			t.Fatalf("id = %s, want %s", got, want)
		}
		types := map[string][]string{}
		for _, rt := range kusto.ResourceTypes {
			for _, v := range rt.APIVersions {
				types[strings.ToLower(*rt.ResourceType)] = append(types[strings.ToLower(*rt.ResourceType)], *v)
			}
		}
		for _, typ := range []string{"clusters", "clusters/managedPrivateEndpoints"} {
			versions, ok := types[strings.ToLower(typ)]
			if !ok {
				t.Fatalf("resourceTypes lack %s: %v", typ, types)
			}
			for _, v := range []string{"2022-02-01", "2023-08-15", "2024-04-13"} {
				if !containsFold(versions, v) {
					t.Errorf("%s apiVersions = %v, want %s among them", typ, versions, v)
				}
			}
		}
	})

	t.Run("register and unregister toggle the state", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		for _, step := range []struct {
			name string
			do   func() (armresources.Provider, error)
			want string
		}{
			{"unregister", func() (armresources.Provider, error) {
				r, err := pc.Unregister(ctx, "Microsoft.Compute", nil)
				return r.Provider, err
			}, "Unregistered"},
			{"register", func() (armresources.Provider, error) {
				r, err := pc.Register(ctx, "Microsoft.Compute", nil)
				return r.Provider, err
			}, "Registered"},
			{"unregister again", func() (armresources.Provider, error) {
				r, err := pc.Unregister(ctx, "microsoft.compute", nil)
				return r.Provider, err
			}, "Unregistered"},
		} {
			p := fixtures.Must(step.do())
			if got := *p.RegistrationState; got != step.want {
				t.Fatalf("%s answered %s, want %s", step.name, got, step.want)
			}
			if got := *fixtures.Must(pc.Get(ctx, "Microsoft.Compute", nil)).RegistrationState; got != step.want {
				t.Fatalf("after %s Get reads %s, want %s", step.name, got, step.want)
			}
		}
	})

	t.Run("first PUT registers an unregistered namespace", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		if got := *fixtures.Must(pc.Unregister(ctx, "Microsoft.Kusto", nil)).RegistrationState; got != "Unregistered" {
			t.Fatalf("unregister answered %s", got)
		}
		fixtures.CreateRG(t, env, env.Subscription, "adx")
		createCluster(t, env, "adx", "reregister", nil)
		if got, want := *fixtures.Must(pc.Get(ctx, "Microsoft.Kusto", nil)).RegistrationState, "Registered"; got != want {
			t.Fatalf("after creating a cluster Microsoft.Kusto is %s, want %s", got, want)
		}
	})

	t.Run("unknown namespace", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		for _, tc := range []struct {
			name string
			call func() error
		}{
			{"get", func() error { _, err := pc.Get(ctx, "Microsoft.DoesNotExist", nil); return err }},
			{"register", func() error { _, err := pc.Register(ctx, "Microsoft.DoesNotExist", nil); return err }},
			{"unregister", func() error { _, err := pc.Unregister(ctx, "Microsoft.DoesNotExist", nil); return err }},
		} {
			var re *azcore.ResponseError
			if err := tc.call(); !errors.As(err, &re) || re.StatusCode < 400 || re.StatusCode >= 500 {
				t.Fatalf("%s of an unknown namespace: %v, want a 4xx ARM error", tc.name, err)
			}
			if got, want := re.ErrorCode, "InvalidResourceNamespace"; got != want {
				t.Fatalf("%s: error code = %s, want %s", tc.name, got, want)
			}
		}
		provs, _ := all(pc.NewListPager(nil), func(p armresources.ProvidersClientListResponse) []*armresources.Provider { return p.Value })
		for _, p := range provs {
			if strings.EqualFold(*p.Namespace, "Microsoft.DoesNotExist") {
				t.Fatal("a refused registration left the namespace in the list")
			}
		}
	})
}

// TestClusters drives Kusto clusters through armkusto: create with a system
// identity, read, list in a group and in the subscription, patch, ETag
// conditions and delete.
func TestClusters(t *testing.T) {
	defer fixtures.FailOnPanic(t)
	env := testkit.Start(t)
	fixtures.CreateRG(t, env, env.Subscription, "adx")
	fixtures.CreateRG(t, env, env.Subscription, "other")
	kc := fixtures.Must(armkusto.NewClustersClient(env.Subscription, env.Cred, env.Options))

	var resp *http.Response
	p := fixtures.Must(kc.BeginCreateOrUpdate(capture(&resp), "adx", "alpha", newCluster(map[string]*string{"team": to.Ptr("adx")}), nil))
	if got, want := resp.StatusCode, http.StatusCreated; got != want {
		t.Fatalf("create status = %d, want %d", got, want)
	}
	if resp.Header.Get("Azure-AsyncOperation") == "" {
		t.Fatal("cluster create answered without Azure-AsyncOperation")
	}
	alpha := fixtures.Must(p.PollUntilDone(ctx, testkit.PollOptions)).Cluster
	if got, want := *alpha.Properties.ProvisioningState, armkusto.ProvisioningStateSucceeded; got != want {
		t.Fatalf("provisioningState = %s, want %s", got, want)
	}
	if got, want := *alpha.Properties.State, armkusto.StateRunning; got != want {
		t.Fatalf("state = %s, want %s", got, want)
	}
	if got, want := *alpha.Properties.URI, "https://alpha.westus.kusto.windows.net"; got != want {
		t.Fatalf("uri = %s, want %s", got, want)
	}
	if alpha.Identity == nil || alpha.Identity.PrincipalID == nil || *alpha.Identity.PrincipalID == "" {
		t.Fatal("system-assigned identity has no principalId")
	}
	if got, want := *alpha.Identity.TenantID, identity.DefaultTenantID; got != want {
		t.Fatalf("identity tenantId = %s, want %s", got, want)
	}
	principal := *alpha.Identity.PrincipalID

	got := fixtures.Must(kc.Get(ctx, "adx", "alpha", nil)).Cluster
	if *got.ID != *alpha.ID || *got.Etag != *alpha.Etag || *got.Identity.PrincipalID != principal {
		t.Fatalf("Get reads %s etag %s principal %s, the poller's result %s etag %s principal %s",
			*got.ID, *got.Etag, *got.Identity.PrincipalID, *alpha.ID, *alpha.Etag, principal)
	}
	createCluster(t, env, "other", "beta", nil)

	t.Run("lists", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		names := func(cs []*armkusto.Cluster, _ int) []string {
			var out []string
			for _, c := range cs {
				out = append(out, *c.Name)
			}
			return out
		}
		for _, tc := range []struct {
			name string
			got  []string
			want []string
		}{
			{"by resource group", names(all(kc.NewListByResourceGroupPager("adx", nil), func(p armkusto.ClustersClientListByResourceGroupResponse) []*armkusto.Cluster { return p.Value })), []string{"alpha"}},
			{"subscription-wide", names(all(kc.NewListPager(nil), func(p armkusto.ClustersClientListResponse) []*armkusto.Cluster { return p.Value })), []string{"alpha", "beta"}},
		} {
			if len(tc.got) != len(tc.want) {
				t.Fatalf("%s: clusters = %v, want %v", tc.name, tc.got, tc.want)
			}
			for _, w := range tc.want {
				if !containsFold(tc.got, w) {
					t.Fatalf("%s: clusters = %v, want %v", tc.name, tc.got, tc.want)
				}
			}
		}
	})

	t.Run("update tags", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		var resp *http.Response
		p := fixtures.Must(kc.BeginUpdate(capture(&resp), "adx", "alpha", armkusto.ClusterUpdate{Tags: map[string]*string{"env": to.Ptr("test")}}, nil))
		if got, want := resp.StatusCode, http.StatusAccepted; got != want {
			t.Fatalf("PATCH status = %d, want %d", got, want)
		}
		c := fixtures.Must(p.PollUntilDone(ctx, testkit.PollOptions)).Cluster
		if got, want := *c.Properties.ProvisioningState, armkusto.ProvisioningStateSucceeded; got != want {
			t.Fatalf("provisioningState after PATCH = %s, want %s", got, want)
		}
		if !sameTags(c.Tags, map[string]string{"env": "test"}) {
			t.Fatalf("tags after PATCH = %v, want only env=test", tagsOf(c.Tags))
		}
		if got := *c.Identity.PrincipalID; got != principal {
			t.Fatalf("principalId changed on update: %s, was %s", got, principal)
		}
		if *c.Etag == *alpha.Etag {
			t.Fatal("etag unchanged by an update")
		}
		if got, want := *c.Properties.State, armkusto.StateRunning; got != want {
			t.Fatalf("state after PATCH = %s, want %s", got, want)
		}
	})

	t.Run("etag conditions", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		current := func() string {
			var resp *http.Response
			etag := *fixtures.Must(kc.Get(capture(&resp), "adx", "alpha", nil)).Etag
			if got := resp.Header.Get("ETag"); got != etag {
				t.Fatalf("ETag header %s, body etag %s", got, etag)
			}
			return etag
		}
		tests := []struct {
			name string
			opts func(etag string) *armkusto.ClustersClientBeginCreateOrUpdateOptions
			ok   bool
		}{
			{"If-Match a wrong etag", func(string) *armkusto.ClustersClientBeginCreateOrUpdateOptions {
				return &armkusto.ClustersClientBeginCreateOrUpdateOptions{IfMatch: to.Ptr(`"00000000-0000-0000-0000-000000000000"`)}
			}, false},
			{"If-None-Match * on an existing cluster", func(string) *armkusto.ClustersClientBeginCreateOrUpdateOptions {
				return &armkusto.ClustersClientBeginCreateOrUpdateOptions{IfNoneMatch: to.Ptr("*")}
			}, false},
			{"If-Match the current etag", func(etag string) *armkusto.ClustersClientBeginCreateOrUpdateOptions {
				return &armkusto.ClustersClientBeginCreateOrUpdateOptions{IfMatch: to.Ptr(etag)}
			}, true},
			{"If-Match *", func(string) *armkusto.ClustersClientBeginCreateOrUpdateOptions {
				return &armkusto.ClustersClientBeginCreateOrUpdateOptions{IfMatch: to.Ptr("*")}
			}, true},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				defer fixtures.FailOnPanic(t)
				before := current()
				p, err := kc.BeginCreateOrUpdate(ctx, "adx", "alpha", newCluster(map[string]*string{"case": to.Ptr(tc.name)}), tc.opts(before))
				if !tc.ok {
					armError(t, err, http.StatusPreconditionFailed, "PreconditionFailed")
					if after := current(); after != before {
						t.Fatalf("a failed precondition changed the etag from %s to %s", before, after)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				c := fixtures.Must(p.PollUntilDone(ctx, testkit.PollOptions)).Cluster
				if *c.Etag == before {
					t.Fatal("etag unchanged by a conditional replace")
				}
				if !sameTags(c.Tags, map[string]string{"case": tc.name}) {
					t.Fatalf("tags = %v, want case=%s", tagsOf(c.Tags), tc.name)
				}
			})
		}
		t.Run("If-None-Match * creates a new cluster", func(t *testing.T) {
			defer fixtures.FailOnPanic(t)
			p := fixtures.Must(kc.BeginCreateOrUpdate(ctx, "adx", "gamma", newCluster(nil), &armkusto.ClustersClientBeginCreateOrUpdateOptions{IfNoneMatch: to.Ptr("*")}))
			if got, want := *fixtures.Must(p.PollUntilDone(ctx, testkit.PollOptions)).Properties.ProvisioningState, armkusto.ProvisioningStateSucceeded; got != want {
				t.Fatalf("provisioningState = %s, want %s", got, want)
			}
		})
		t.Run("PATCH with If-Match a wrong etag", func(t *testing.T) {
			defer fixtures.FailOnPanic(t)
			_, err := kc.BeginUpdate(ctx, "adx", "alpha", armkusto.ClusterUpdate{Tags: map[string]*string{"x": to.Ptr("y")}},
				&armkusto.ClustersClientBeginUpdateOptions{IfMatch: to.Ptr(`"stale"`)})
			armError(t, err, http.StatusPreconditionFailed, "PreconditionFailed")
		})
	})

	t.Run("delete", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		for _, name := range []string{"alpha", "gamma"} {
			p := fixtures.Must(kc.BeginDelete(ctx, "adx", name, nil))
			fixtures.Must(p.PollUntilDone(ctx, testkit.PollOptions))
			_, err := kc.Get(ctx, "adx", name, nil)
			armError(t, err, http.StatusNotFound, "ResourceNotFound")
		}
		if left, _ := all(kc.NewListByResourceGroupPager("adx", nil), func(p armkusto.ClustersClientListByResourceGroupResponse) []*armkusto.Cluster { return p.Value }); len(left) != 0 {
			t.Fatalf("group still lists %d clusters after delete", len(left))
		}
		if _, err := kc.Get(ctx, "other", "beta", nil); err != nil {
			t.Fatalf("a cluster in another group went too: %v", err)
		}
	})
}

// TestManagedPrivateEndpointsMore covers what the lifecycle tests do not:
// listing, PATCH of the request message (which reaches the target's Pending
// connection), the operation results client and the operations list.
func TestManagedPrivateEndpointsMore(t *testing.T) {
	defer fixtures.FailOnPanic(t)
	env := testkit.Start(t)
	fixtures.CreateRG(t, env, env.Subscription, "adx")
	fixtures.CreateRG(t, env, env.Subscription, "targets")
	clusterID := createCluster(t, env, "adx", "mycluster", nil)
	eventhub, storage := targets()[1], targets()[0]
	eh := eventhub.Create(t, env, "targets", eventhub.Name)
	sa := storage.Create(t, env, "targets", storage.Name)
	mc := fixtures.Must(armkusto.NewManagedPrivateEndpointsClient(env.Subscription, env.Cred, env.Options))
	fixtures.Must(fixtures.CreateMPE(t, env, "adx", "mycluster", "toEventHub", eh, "namespace", "Please Approve."))
	fixtures.Must(fixtures.CreateMPE(t, env, "adx", "mycluster", "toStorage", sa, "blob", "blob please"))

	t.Run("list", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		got := map[string]string{}
		mpes, _ := all(mc.NewListPager("adx", "mycluster", nil), func(p armkusto.ManagedPrivateEndpointsClientListResponse) []*armkusto.ManagedPrivateEndpoint {
			return p.Value
		})
		for _, m := range mpes {
			got[*m.Name] = *m.Properties.GroupID
		}
		want := map[string]string{"mycluster/toEventHub": "namespace", "mycluster/toStorage": "blob"}
		if len(got) != len(want) {
			t.Fatalf("listed %v, want %v", got, want)
		}
		for n, g := range want {
			if got[n] != g {
				t.Fatalf("listed %v, want %v", got, want)
			}
		}
	})

	t.Run("location only at 2022-02-01", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		// The docs' REST walk-through (2022-02-01) prints "DummyLocation"
		// after "type"; the specs of later versions have no location, and
		// Terraform's azapi would replace the endpoint if one appeared.
		base := clusterID + "/managedPrivateEndpoints"
		own := eventhub.Create(t, env, "targets", "locationns")
		body := `{"properties":{"privateLinkResourceId":"` + own + `","groupId":"namespace","requestMessage":"m"}}`
		for _, tt := range []struct {
			version string
			want    bool
		}{{"2022-02-01", true}, {"2023-08-15", false}, {"2024-04-13", false}, {"2025-02-14", false}} { // 2025-02-14: from the catalog
			name := "loc" + strings.ReplaceAll(tt.version, "-", "")
			for _, call := range []struct{ method, path, body string }{
				{http.MethodPut, base + "/" + name + "?api-version=" + tt.version, body},
				{http.MethodGet, base + "/" + name + "?api-version=" + tt.version, ""},
				{http.MethodGet, base + "/toEventHub?api-version=" + tt.version, ""},
				{http.MethodGet, base + "?api-version=" + tt.version, ""},
			} {
				resp, b := raw(t, env, call.method, call.path, call.body)
				if resp.StatusCode >= 300 {
					t.Fatalf("%s %s: %d %s", call.method, call.path, resp.StatusCode, b)
				}
				has := strings.Contains(string(b), `"location"`)
				if has != tt.want {
					t.Fatalf("%s %s: location present %v, want %v: %s", call.method, call.path, has, tt.want, b)
				}
				if tt.want && !strings.Contains(string(b), `"type":"Microsoft.Kusto/Clusters/ManagedPrivateEndpoints","location":"DummyLocation"`) {
					t.Fatalf("%s %s: want \"location\":\"DummyLocation\" right after the type: %s", call.method, call.path, b)
				}
			}
		}
	})

	t.Run("PATCH requestMessage reaches the Pending connection", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		p := fixtures.Must(mc.BeginUpdate(ctx, "adx", "mycluster", "toEventHub", armkusto.ManagedPrivateEndpoint{Properties: &armkusto.ManagedPrivateEndpointProperties{
			RequestMessage: to.Ptr("Please approve, it is urgent."),
		}}, nil))
		m := fixtures.Must(p.PollUntilDone(ctx, testkit.PollOptions))
		if got, want := *m.Properties.ProvisioningState, armkusto.ProvisioningStateSucceeded; got != want {
			t.Fatalf("provisioningState = %s, want %s", got, want)
		}
		m2 := fixtures.Must(mc.Get(ctx, "adx", "mycluster", "toEventHub", nil))
		if got, want := *m2.Properties.RequestMessage, "Please approve, it is urgent."; got != want {
			t.Fatalf("requestMessage = %q, want %q", got, want)
		}
		if got, want := *m2.Properties.PrivateLinkResourceID, eh; !strings.EqualFold(got, want) {
			t.Fatalf("a PATCH of the message changed privateLinkResourceId to %s", got)
		}
		if got, want := *m2.Properties.GroupID, "namespace"; got != want {
			t.Fatalf("a PATCH of the message changed groupId to %s", got)
		}
		conns := eventhub.Conns(t, env, "targets", eventhub.Name)
		if len(conns) != 1 {
			t.Fatalf("connections on the namespace = %d, want 1", len(conns))
		}
		if got, want := conns[0].Properties.State.Status, "Pending"; got != want {
			t.Fatalf("connection status = %s, want %s", got, want)
		}
		if got, want := conns[0].Properties.State.Description, "Please approve, it is urgent."; got != want {
			t.Fatalf("connection description = %q, want the new request message %q", got, want)
		}
		if got := storage.Conns(t, env, "targets", storage.Name)[0].Properties.State.Description; got != "blob please" {
			t.Fatalf("another endpoint's connection changed its description to %q", got)
		}
	})

	t.Run("operation results", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		body := `{"properties":{"privateLinkResourceId":"` + sa + `","groupId":"dfs","requestMessage":"raw"}}`
		resp, b := raw(t, env, http.MethodPut, clusterID+"/managedPrivateEndpoints/rawEndpoint?api-version="+kustoVersion, body)
		if got, want := resp.StatusCode, http.StatusCreated; got != want {
			t.Fatalf("PUT status = %d, want %d: %s", got, want, b)
		}
		status, err := url.Parse(resp.Header.Get("Azure-AsyncOperation"))
		if err != nil || status.Path == "" {
			t.Fatalf("Azure-AsyncOperation = %q", resp.Header.Get("Azure-AsyncOperation"))
		}
		// …/providers/Microsoft.Kusto/locations/{location}/operationResults/{id}
		segs := strings.Split(strings.Trim(status.Path, "/"), "/")
		if len(segs) != 8 || !strings.EqualFold(segs[6], "operationResults") || !strings.EqualFold(segs[4], "locations") {
			t.Fatalf("Azure-AsyncOperation path %s is not a Kusto operation result", status.Path)
		}
		location, opID := segs[5], segs[7]
		orc := fixtures.Must(armkusto.NewOperationsResultsClient(env.Subscription, env.Cred, env.Options))
		res := fixtures.Must(orc.Get(ctx, location, opID, nil))
		if got, want := *res.Status, armkusto.StatusSucceeded; got != want {
			t.Fatalf("operation status = %s, want %s", got, want)
		}
		if got, want := *res.Name, opID; got != want {
			t.Fatalf("operation name = %s, want %s", got, want)
		}
		if res.PercentComplete == nil || *res.PercentComplete != 100 {
			t.Fatalf("percentComplete = %v, want 100", res.PercentComplete)
		}
		if res.StartTime == nil || res.EndTime == nil || res.EndTime.Before(*res.StartTime) {
			t.Fatalf("startTime %v endTime %v", res.StartTime, res.EndTime)
		}
		if got, want := *fixtures.Must(mc.Get(ctx, "adx", "mycluster", "rawEndpoint", nil)).Properties.ProvisioningState, armkusto.ProvisioningStateSucceeded; got != want {
			t.Fatalf("endpoint after its operation succeeded reads %s", got)
		}
		_, err = orc.Get(ctx, location, "00000000-0000-0000-0000-000000000000", nil)
		armError(t, err, http.StatusNotFound, "OperationNotFound")
	})

	t.Run("operations list", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		oc := fixtures.Must(armkusto.NewOperationsClient(env.Cred, env.Options))
		var names []string
		ops, _ := all(oc.NewListPager(nil), func(p armkusto.OperationsClientListResponse) []*armkusto.Operation { return p.Value })
		for _, op := range ops {
			if !strings.HasPrefix(strings.ToLower(*op.Name), "microsoft.kusto/") {
				t.Fatalf("operation %s is not Microsoft.Kusto's", *op.Name)
			}
			names = append(names, *op.Name)
		}
		for _, want := range []string{
			"Microsoft.Kusto/clusters/managedPrivateEndpoints/write",
			"Microsoft.Kusto/clusters/managedPrivateEndpoints/read",
			"Microsoft.Kusto/clusters/managedPrivateEndpoints/delete",
			"Microsoft.Kusto/clusters/write",
		} {
			if !containsFold(names, want) {
				t.Errorf("operations lack %s (have %v)", want, names)
			}
		}
	})
}

// miKey is the token signing key of every server TestManagedIdentity starts.
// MSAL keeps managed identity tokens in one cache per process, keyed by
// identity and resource but not by endpoint, so a later server (go test
// -count=2) is handed the token an earlier one signed; sharing the key keeps
// that token valid.
var miKey []byte

// startMIServer starts a server whose signing key is miKey.
func startMIServer(t *testing.T) *testkit.Env {
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, "signing-key.pem")
	if miKey != nil {
		if err := os.WriteFile(key, miKey, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := testkit.Start(t, testkit.WithDataDir(dir))
	if miKey == nil {
		miKey = fixtures.Must(os.ReadFile(key))
	}
	return env
}

// TestManagedIdentity signs in as the managed identity the way App Service
// code does, and reads the cloud and OpenID discovery documents. It sets
// environment variables, so it must not run in parallel.
func TestManagedIdentity(t *testing.T) {
	defer fixtures.FailOnPanic(t)
	env := startMIServer(t)
	secret, err := os.ReadFile(filepath.Join(env.Dir, "msi-secret"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("IDENTITY_ENDPOINT", env.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", strings.TrimSpace(string(secret)))
	// Other managed identity sources would take precedence or interfere.
	for _, v := range []string{"IDENTITY_SERVER_THUMBPRINT", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT"} {
		t.Setenv(v, "")
	}

	t.Run("token accepted by ARM, resources stamped ManagedIdentity", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		cred := fixtures.Must(azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
			ClientOptions: policy.ClientOptions{Transport: env.HTTP}}))
		rc := fixtures.Must(armresources.NewResourceGroupsClient(env.Subscription, cred, env.Options))
		var resp *http.Response
		fixtures.Must(rc.CreateOrUpdate(capture(&resp), "mi-group", armresources.ResourceGroup{Location: to.Ptr("westus")}, nil))
		// armresources has no systemData in its model; the answer it read has.
		var rg struct {
			SystemData map[string]string `json:"systemData"`
		}
		if err := json.Unmarshal(fixtures.Must(runtime.Payload(resp)), &rg); err != nil {
			t.Fatal(err)
		}
		if got, want := rg.SystemData["createdByType"], "ManagedIdentity"; got != want {
			t.Fatalf("resource group systemData.createdByType = %q, want %q (%v)", got, want, rg.SystemData)
		}

		kc := fixtures.Must(armkusto.NewClustersClient(env.Subscription, cred, env.Options))
		p := fixtures.Must(kc.BeginCreateOrUpdate(ctx, "mi-group", "mimade", newCluster(nil), nil))
		c := fixtures.Must(p.PollUntilDone(ctx, testkit.PollOptions))
		sd := c.SystemData
		if sd == nil || sd.CreatedByType == nil || sd.CreatedBy == nil {
			t.Fatal("cluster has no systemData")
		}
		if got, want := *sd.CreatedByType, armkusto.CreatedByTypeManagedIdentity; got != want {
			t.Fatalf("cluster systemData.createdByType = %s, want %s", got, want)
		}
		if got, want := *sd.CreatedBy, identity.ManagedIdentityID; got != want {
			t.Fatalf("cluster systemData.createdBy = %s, want the managed identity's client id %s", got, want)
		}
	})

	t.Run("wrong IDENTITY_HEADER is refused", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		t.Setenv("IDENTITY_HEADER", "not-the-secret")
		// A resource no test gets a token for, so that MSAL's process-wide
		// cache cannot answer in place of the server.
		cred := fixtures.Must(azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
			ClientOptions: policy.ClientOptions{Transport: env.HTTP}}))
		if _, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}}); err == nil {
			t.Fatal("a wrong IDENTITY_HEADER got a token")
		}
	})

	t.Run("cloud metadata", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		// ARM answers one cloud object before 2020-06-01, a list from
		// 2020-06-01 and one object again from 2022-09-01.
		type cloudDoc struct {
			ResourceManager string `json:"resourceManager"`
			Authentication  struct {
				LoginEndpoint string   `json:"loginEndpoint"`
				Audiences     []string `json:"audiences"`
			} `json:"authentication"`
		}
		for _, tt := range []struct {
			version string
			list    bool
		}{{"2019-05-01", false}, {"2020-06-01", true}, {"2022-09-01", false}, {"", false}} {
			resp, body := anon(t, env, http.MethodGet, "/metadata/endpoints?api-version="+tt.version)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("metadata %s: %s %s", tt.version, resp.Status, body)
			}
			var c cloudDoc
			if tt.list {
				var clouds []cloudDoc
				if err := json.Unmarshal(body, &clouds); err != nil || len(clouds) != 1 {
					t.Fatalf("metadata for %s: want a list of one cloud: %v: %s", tt.version, err, body)
				}
				c = clouds[0]
			} else if err := json.Unmarshal(body, &c); err != nil {
				t.Fatalf("metadata for %s is not one object: %v: %s", tt.version, err, body)
			}
			if got, want := strings.TrimSuffix(c.ResourceManager, "/"), env.URL; got != want {
				t.Fatalf("%s: resourceManager = %s, want %s", tt.version, got, want)
			}
			if got, want := strings.TrimSuffix(c.Authentication.LoginEndpoint, "/"), env.URL; got != want {
				t.Fatalf("%s: loginEndpoint = %s, want %s", tt.version, got, want)
			}
			if !containsFold(c.Authentication.Audiences, "https://management.core.windows.net/") {
				t.Fatalf("%s: audiences = %v", tt.version, c.Authentication.Audiences)
			}
		}
	})

	t.Run("OpenID discovery", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		resp, body := anon(t, env, http.MethodGet, "/"+identity.DefaultTenantID+"/v2.0/.well-known/openid-configuration")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("openid-configuration: %s %s", resp.Status, body)
		}
		var doc struct {
			Issuer        string `json:"issuer"`
			TokenEndpoint string `json:"token_endpoint"`
			JWKSURI       string `json:"jwks_uri"`
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		server := fixtures.Must(url.Parse(env.URL))
		for _, tc := range []struct{ name, value, path string }{
			{"issuer", doc.Issuer, "/" + identity.DefaultTenantID + "/v2.0"},
			{"token_endpoint", doc.TokenEndpoint, "/" + identity.DefaultTenantID + "/oauth2/v2.0/token"},
		} {
			u, err := url.Parse(tc.value)
			if err != nil {
				t.Fatalf("%s %q: %v", tc.name, tc.value, err)
			}
			if u.Scheme != server.Scheme || u.Host != server.Host {
				t.Errorf("%s = %s, want it on %s", tc.name, tc.value, env.URL)
			}
			if u.Path != tc.path {
				t.Errorf("%s path = %s, want %s", tc.name, u.Path, tc.path)
			}
		}
		// The token endpoint it names is the one that works.
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {identity.DefaultClientID}, "client_secret": {identity.DefaultClientSecret}, "scope": {"https://management.azure.com/.default"}}
		tr := fixtures.Must(env.HTTP.PostForm(doc.TokenEndpoint, form))
		tr.Body.Close()
		if got, want := tr.StatusCode, http.StatusOK; got != want {
			t.Fatalf("token_endpoint answered %d, want %d", got, want)
		}
	})
}

// TestARMBehaviours checks what every ARM resource shares: case-insensitive
// ids, request ids, echoed correlation ids, systemData, and the missing
// resource group refusal.
func TestARMBehaviours(t *testing.T) {
	defer fixtures.FailOnPanic(t)
	env := testkit.Start(t)
	fixtures.CreateRG(t, env, env.Subscription, "Adx-Case")
	fixtures.CreateRG(t, env, env.Subscription, "targets")
	clusterID := createCluster(t, env, "Adx-Case", "mycluster", nil)
	sa := targets()[0].Create(t, env, "targets", "share")
	mpe := fixtures.Must(fixtures.CreateMPE(t, env, "Adx-Case", "mycluster", "MyEndpoint", sa, "blob", "m"))
	sub := env.Subscription

	t.Run("ids are case-insensitive and keep the creation casing", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		if got, want := clusterID, "/subscriptions/"+sub+"/resourceGroups/Adx-Case/providers/Microsoft.Kusto/Clusters/mycluster"; got != want {
			t.Fatalf("cluster id = %s, want %s", got, want)
		}
		tests := []struct {
			name, path, want string
		}{
			{"cluster as created", clusterID, clusterID},
			{"cluster, keywords upper", "/SUBSCRIPTIONS/" + sub + "/RESOURCEGROUPS/Adx-Case/PROVIDERS/MICROSOFT.KUSTO/CLUSTERS/mycluster", clusterID},
			{"cluster, names other case", "/subscriptions/" + sub + "/resourcegroups/adx-case/providers/microsoft.kusto/clusters/MyCluster", clusterID},
			{"endpoint, keywords lower", "/subscriptions/" + sub + "/resourcegroups/ADX-CASE/providers/microsoft.kusto/clusters/MYCLUSTER/managedprivateendpoints/myendpoint", *mpe.ID},
			{"endpoint, mixed", "/Subscriptions/" + strings.ToUpper(sub) + "/ResourceGroups/adx-CASE/Providers/Microsoft.KUSTO/Clusters/myCluster/ManagedPrivateEndpoints/MYENDPOINT", *mpe.ID},
		}
		for _, tc := range tests {
			resp, body := raw(t, env, http.MethodGet, tc.path+"?api-version="+kustoVersion, "")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %s %s", tc.name, resp.Status, body)
			}
			var doc struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(body, &doc); err != nil {
				t.Fatal(err)
			}
			if doc.ID != tc.want {
				t.Errorf("%s: id = %s, want %s", tc.name, doc.ID, tc.want)
			}
		}
		resp, body := raw(t, env, http.MethodGet, "/SUBSCRIPTIONS/"+sub+"/resourcegroups/adx-case/providers/MICROSOFT.KUSTO/clusters/MyCluster/MANAGEDPRIVATEENDPOINTS?api-version="+kustoVersion, "")
		var list struct {
			Value []struct {
				ID string `json:"id"`
			} `json:"value"`
		}
		if err := json.Unmarshal(body, &list); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("list in other case: %s %s", resp.Status, body)
		}
		if len(list.Value) != 1 || list.Value[0].ID != *mpe.ID {
			t.Fatalf("list in other case = %s, want just %s", body, *mpe.ID)
		}
		if !strings.HasSuffix(*mpe.ID, "/ManagedPrivateEndpoints/MyEndpoint") {
			t.Fatalf("endpoint id %s does not keep the name as created", *mpe.ID)
		}
		// The SDK, given the group in another case, finds the same cluster.
		kc := fixtures.Must(armkusto.NewClustersClient(sub, env.Cred, env.Options))
		if got := *fixtures.Must(kc.Get(ctx, "ADX-case", "mycluster", nil)).ID; got != clusterID {
			t.Fatalf("SDK Get with the group in other case: id = %s, want %s", got, clusterID)
		}
		// Resources created through other casing take their scope's and
		// parent's spelling, and their own name as written.
		if got, want := createCluster(t, env, "ADX-CASE", "second", nil), "/subscriptions/"+sub+"/resourceGroups/Adx-Case/providers/Microsoft.Kusto/Clusters/second"; got != want {
			t.Fatalf("cluster created in ADX-CASE has id %s, want %s", got, want)
		}
		m := fixtures.Must(fixtures.CreateMPE(t, env, "adx-case", "MYCLUSTER", "OtherEndpoint", sa, "dfs", "m"))
		if got, want := *m.ID, clusterID+"/ManagedPrivateEndpoints/OtherEndpoint"; got != want {
			t.Fatalf("endpoint created under MYCLUSTER has id %s, want %s", got, want)
		}
		if got, want := *m.Name, "mycluster/OtherEndpoint"; got != want {
			t.Fatalf("endpoint name = %s, want %s", got, want)
		}
	})

	t.Run("every response has x-ms-request-id", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		tests := []struct {
			name, method, path string
			auth               bool
			status             int
		}{
			{"ARM read", http.MethodGet, clusterID + "?api-version=" + kustoVersion, true, http.StatusOK},
			{"ARM not found", http.MethodGet, "/subscriptions/" + sub + "/resourceGroups/nope?api-version=2021-04-01", true, http.StatusNotFound},
			{"ARM bad api-version", http.MethodGet, clusterID + "?api-version=1999-01-01", true, http.StatusBadRequest},
			{"ARM without a token", http.MethodGet, clusterID + "?api-version=" + kustoVersion, false, http.StatusUnauthorized},
			{"ARM HEAD", http.MethodHead, "/subscriptions/" + sub + "/resourceGroups/targets?api-version=2021-04-01", true, http.StatusNoContent},
			{"cloud metadata", http.MethodGet, "/metadata/endpoints?api-version=2022-09-01", false, http.StatusOK},
			{"OpenID discovery", http.MethodGet, "/" + identity.DefaultTenantID + "/v2.0/.well-known/openid-configuration", false, http.StatusOK},
			{"emulator health", http.MethodGet, "/_privlink/health", false, http.StatusOK},
			{"no such route", http.MethodGet, "/nothing/here", false, http.StatusNotFound},
		}
		seen := map[string]string{}
		for _, tc := range tests {
			send := anon
			if tc.auth {
				send = func(t *testing.T, env *testkit.Env, method, path string) (*http.Response, []byte) {
					return raw(t, env, method, path, "")
				}
			}
			resp, _ := send(t, env, tc.method, tc.path)
			if got := resp.StatusCode; got != tc.status {
				t.Errorf("%s: status = %d, want %d", tc.name, got, tc.status)
			}
			rid := resp.Header.Get("x-ms-request-id")
			if rid == "" {
				t.Errorf("%s: no x-ms-request-id", tc.name)
				continue
			}
			if other, dup := seen[rid]; dup {
				t.Errorf("%s: x-ms-request-id %s also answered %s", tc.name, rid, other)
			}
			seen[rid] = tc.name
		}
	})

	t.Run("correlation and client request ids are echoed", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		kc := fixtures.Must(armkusto.NewClustersClient(sub, env.Cred, env.Options))
		tests := []struct {
			name string
			call func(ctx context.Context) error
		}{
			{"success", func(ctx context.Context) error { _, err := kc.Get(ctx, "Adx-Case", "mycluster", nil); return err }},
			{"error", func(ctx context.Context) error { _, err := kc.Get(ctx, "Adx-Case", "nocluster", nil); return err }},
		}
		for i, tc := range tests {
			corr, client := fmt.Sprintf("corr-%d-0000-4000-8000-000000000000", i), fmt.Sprintf("client-%d-0000-4000-8000-000000000000", i)
			var resp *http.Response
			cctx := policy.WithHTTPHeader(capture(&resp), http.Header{
				"X-Ms-Correlation-Request-Id": {corr},
				"X-Ms-Client-Request-Id":      {client},
			})
			err := tc.call(cctx)
			if resp == nil {
				t.Fatalf("%s: no response captured (err %v)", tc.name, err)
			}
			if got := resp.Header.Get("x-ms-correlation-request-id"); got != corr {
				t.Errorf("%s: x-ms-correlation-request-id = %q, want %q", tc.name, got, corr)
			}
			if got := resp.Header.Get("x-ms-client-request-id"); got != client {
				t.Errorf("%s: x-ms-client-request-id = %q, want %q", tc.name, got, client)
			}
			if resp.Header.Get("x-ms-request-id") == "" {
				t.Errorf("%s: no x-ms-request-id", tc.name)
			}
		}
		// Without a correlation id, ARM makes one up.
		var resp *http.Response
		fixtures.Must(kc.Get(capture(&resp), "Adx-Case", "mycluster", nil))
		if resp.Header.Get("x-ms-correlation-request-id") == "" {
			t.Error("no x-ms-correlation-request-id when the client sent none")
		}
	})

	t.Run("systemData", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		kc := fixtures.Must(armkusto.NewClustersClient(sub, env.Cred, env.Options))
		sd := fixtures.Must(kc.Get(ctx, "Adx-Case", "mycluster", nil)).SystemData
		if sd == nil || sd.CreatedBy == nil || sd.CreatedByType == nil || sd.CreatedAt == nil || sd.LastModifiedBy == nil || sd.LastModifiedByType == nil || sd.LastModifiedAt == nil {
			t.Fatalf("systemData lacks fields: %+v", sd)
		}
		for _, tc := range []struct{ name, got, want string }{
			{"createdBy", *sd.CreatedBy, identity.DefaultClientID},
			{"createdByType", string(*sd.CreatedByType), string(armkusto.CreatedByTypeApplication)},
			{"lastModifiedBy", *sd.LastModifiedBy, identity.DefaultClientID},
			{"lastModifiedByType", string(*sd.LastModifiedByType), string(armkusto.CreatedByTypeApplication)},
		} {
			if tc.got != tc.want {
				t.Errorf("systemData.%s = %s, want %s", tc.name, tc.got, tc.want)
			}
		}
		created := *sd.CreatedAt
		p := fixtures.Must(kc.BeginUpdate(ctx, "Adx-Case", "mycluster", armkusto.ClusterUpdate{Tags: map[string]*string{"touched": to.Ptr("yes")}}, nil))
		after := fixtures.Must(p.PollUntilDone(ctx, testkit.PollOptions)).SystemData
		if !after.CreatedAt.Equal(created) {
			t.Fatalf("createdAt changed on update: %v, was %v", *after.CreatedAt, created)
		}
		if after.LastModifiedAt.Before(created) {
			t.Fatalf("lastModifiedAt %v before createdAt %v", *after.LastModifiedAt, created)
		}
		// The endpoint carries one too.
		msd := fixtures.Must(armkusto.NewManagedPrivateEndpointsClient(sub, env.Cred, env.Options)).Get
		m := fixtures.Must(msd(ctx, "Adx-Case", "mycluster", "MyEndpoint", nil))
		if m.SystemData == nil || m.SystemData.CreatedByType == nil || *m.SystemData.CreatedByType != armkusto.CreatedByTypeApplication {
			t.Fatalf("endpoint systemData = %+v, want createdByType Application", m.SystemData)
		}
	})

	t.Run("PUT into a missing resource group", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		kc := fixtures.Must(armkusto.NewClustersClient(sub, env.Cred, env.Options))
		tests := []struct {
			name string
			put  func() error
		}{
			{"cluster", func() error {
				_, err := kc.BeginCreateOrUpdate(ctx, "nogroup", "orphan", newCluster(nil), nil)
				return err
			}},
			{"managed private endpoint", func() error {
				_, err := fixtures.CreateMPE(t, env, "nogroup", "mycluster", "orphan", sa, "blob", "m")
				return err
			}},
			{"storage account", func() error {
				sc := fixtures.Must(armstorage.NewAccountsClient(sub, env.Cred, env.Options))
				_, err := sc.BeginCreate(ctx, "nogroup", "orphan", armstorage.AccountCreateParameters{Location: to.Ptr("westus"), Kind: to.Ptr(armstorage.KindStorageV2), SKU: &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)}}, nil)
				return err
			}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				defer fixtures.FailOnPanic(t)
				armError(t, tc.put(), http.StatusNotFound, "ResourceGroupNotFound")
			})
		}
		if fixtures.Must(fixtures.Must(armresources.NewResourceGroupsClient(sub, env.Cred, env.Options)).CheckExistence(ctx, "nogroup", nil)).Success {
			t.Fatal("a refused PUT created its resource group")
		}
	})
}
