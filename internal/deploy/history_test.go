package deploy_test

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/privlink/privlink/internal/deploy"
	"github.com/privlink/privlink/internal/resource"
	"github.com/privlink/privlink/internal/store"
	"github.com/privlink/privlink/internal/testkit"
)

// small is a history small enough for tests: it holds 20, and past 12
// deletes the oldest down to 8 (Azure: 800, 700, 600).
var small = deploy.History{Limit: 20, Trigger: 12, Target: 8}

// identityResource is a resource that deploys at once (no provisioning delay), so
// that each deployment of it has a deployment operation.
func identityResource(name string) map[string]any {
	return map[string]any{"type": "Microsoft.ManagedIdentity/userAssignedIdentities", "apiVersion": "2023-01-31", "name": name, "location": "westus"}
}

// names lists the deployments of a resource group ("" for the
// subscription), sorted.
func (f *fixture) names(rg string) []string {
	f.t.Helper()
	var out []string
	if rg == "" {
		pager := f.deps.NewListAtSubscriptionScopePager(nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				f.t.Fatal(err)
			}
			for _, d := range page.Value {
				out = append(out, *d.Name)
			}
		}
	} else {
		pager := f.deps.NewListByResourceGroupPager(rg, nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				f.t.Fatal(err)
			}
			for _, d := range page.Value {
				out = append(out, *d.Name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// stored counts the records at or below key: a deployment and its operations.
func (f *fixture) stored(key string) int {
	f.t.Helper()
	n := 0
	err := f.env.Server.Engine().View(ctx, func(c *resource.Ctx) error {
		recs, err := c.Tx.List(store.Query{Prefix: key, KeysOnly: true})
		n = len(recs)
		if _, err := c.Tx.Get(key); err == nil {
			n++
		}
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

func seq(prefix string, from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("%s%02d", prefix, i))
	}
	return out
}

// TestHistoryTrim: past the trigger, the oldest deployments are deleted,
// with their operations, until the history is down to the target; the
// newest are kept, a running one is kept however old, and a deployment
// deployed again moves to the newest place.
func TestHistoryTrim(t *testing.T) {
	f := newFixture(t, testkit.WithDeploymentHistory(small), testkit.WithDelay(time.Hour))
	rg := f.group("hist")
	// The oldest deployment is still running: its cluster takes an hour.
	if _, err := f.deps.BeginCreateOrUpdate(ctx, "hist", "running", armresources.Deployment{Properties: &armresources.DeploymentProperties{
		Mode: to.Ptr(armresources.DeploymentModeIncremental), Template: template(cluster("slowcluster"))}}, nil); err != nil {
		t.Fatal(err)
	}
	tmpl := template(identityResource("id1"))
	deployAll := func(names ...string) {
		t.Helper()
		for _, n := range names {
			if _, err := f.deploy("hist", n, tmpl, armresources.DeploymentModeIncremental); err != nil {
				t.Fatalf("deploy %s: %v", n, err)
			}
		}
	}
	deployAll(seq("d", 0, 5)...)
	deployAll("d00") // moves d00 to the newest place
	deployAll(seq("d", 6, 10)...)
	if got, want := len(f.names("hist")), 12; got != want {
		t.Fatalf("%d deployments before the trigger, want %d", got, want)
	}
	ops := f.operations("hist", "d01")
	if len(ops) != 1 {
		t.Fatalf("d01 has %d operations, want 1", len(ops))
	}
	d01 := rg + "/providers/Microsoft.Resources/deployments/d01"
	if got := f.stored(store.Key(d01)); got != 2 {
		t.Fatalf("d01 has %d records, want 2 (itself and its operation)", got)
	}

	deployAll("d11") // the 13th: past the trigger of 12, down to 8

	want := append([]string{"d00"}, seq("d", 6, 11)...)
	want = append(want, "running")
	if got := f.names("hist"); !slices.Equal(got, want) {
		t.Fatalf("after the trim: %v, want %v", got, want)
	}
	for _, gone := range seq("d", 1, 5) {
		if _, err := f.deps.Get(ctx, "hist", gone, nil); armCode(err) != "DeploymentNotFound" {
			t.Errorf("GET %s: %v, want DeploymentNotFound", gone, err)
		}
	}
	if got := f.stored(store.Key(d01)); got != 0 {
		t.Errorf("d01 left %d records, want none (its operations go with it)", got)
	}
	d, err := f.deps.Get(ctx, "hist", "running", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := *d.Properties.ProvisioningState; s != armresources.ProvisioningStateRunning {
		t.Errorf("running is %s, want Running", s)
	}
}

// TestHistoryLimit: a scope under a CanNotDelete lock deletes nothing, and
// at its limit a deployment of a new name fails with DeploymentQuotaExceeded
// (the same name may be deployed again); once the lock is gone, the failed
// deployment starts the deletions and, tried again, succeeds.
func TestHistoryLimit(t *testing.T) {
	f := newFixture(t, testkit.WithDeploymentHistory(small))
	rg := f.group("locked")
	lock := rg + "/providers/Microsoft.Authorization/locks/keep?api-version=2020-05-01"
	f.env.Call(t, http.MethodPut, lock, `{"properties":{"level":"CanNotDelete"}}`, http.StatusOK, nil)
	empty := template()
	for i := 0; i < small.Limit; i++ {
		if _, err := f.deploy("locked", fmt.Sprintf("d%02d", i), empty, armresources.DeploymentModeIncremental); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(f.names("locked")); got != small.Limit {
		t.Fatalf("%d deployments under the lock, want %d", got, small.Limit)
	}
	_, err := f.deploy("locked", "extra", empty, armresources.DeploymentModeIncremental)
	if armCode(err) != "DeploymentQuotaExceeded" {
		t.Fatalf("deployment beyond the limit: %v, want DeploymentQuotaExceeded", err)
	}
	if _, err := f.deploy("locked", "d03", empty, armresources.DeploymentModeIncremental); err != nil {
		t.Fatalf("deploying d03 again at the limit: %v", err)
	}

	f.env.Call(t, http.MethodDelete, lock, "", http.StatusOK, nil)
	_, err = f.deploy("locked", "extra", empty, armresources.DeploymentModeIncremental)
	if armCode(err) != "DeploymentQuotaExceeded" {
		t.Fatalf("deployment beyond the limit, lock removed: %v, want DeploymentQuotaExceeded", err)
	}
	// That failure started the deletions: d03, deployed again, is now the newest.
	want := append(seq("d", 13, 19), "d03")
	sort.Strings(want)
	if got := f.names("locked"); !slices.Equal(got, want) {
		t.Fatalf("after the deletions: %v, want %v", got, want)
	}
	if _, err := f.deploy("locked", "extra", empty, armresources.DeploymentModeIncremental); err != nil {
		t.Fatalf("deployment tried again: %v", err)
	}
}

// TestHistorySubscriptionAndValidate: a subscription's history is trimmed
// as a group's is, and a validate or what-if trims a history past the
// trigger too.
func TestHistorySubscriptionAndValidate(t *testing.T) {
	f := newFixture(t, testkit.WithDeploymentHistory(small))
	empty := template()
	for i := 0; i <= small.Trigger; i++ {
		p, err := f.deps.BeginCreateOrUpdateAtSubscriptionScope(ctx, fmt.Sprintf("s%02d", i), armresources.Deployment{Location: to.Ptr("westus"),
			Properties: &armresources.DeploymentProperties{Mode: to.Ptr(armresources.DeploymentModeIncremental), Template: empty}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.PollUntilDone(ctx, testkit.PollOptions); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := f.names(""), seq("s", 5, 12); !slices.Equal(got, want) {
		t.Fatalf("subscription's history: %v, want %v", got, want)
	}

	// A group filled under a lock, then trimmed by a validate.
	rg := f.group("val")
	lock := rg + "/providers/Microsoft.Authorization/locks/keep?api-version=2020-05-01"
	f.env.Call(t, http.MethodPut, lock, `{"properties":{"level":"ReadOnly"}}`, http.StatusOK, nil)
	for i := 0; i <= small.Trigger; i++ {
		if _, err := f.deploy("val", fmt.Sprintf("v%02d", i), empty, armresources.DeploymentModeIncremental); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(f.names("val")); got != small.Trigger+1 {
		t.Fatalf("%d deployments under a ReadOnly lock, want %d", got, small.Trigger+1)
	}
	f.env.Call(t, http.MethodDelete, lock, "", http.StatusOK, nil)
	p, err := f.deps.BeginValidate(ctx, "val", "check", armresources.Deployment{Properties: &armresources.DeploymentProperties{
		Mode: to.Ptr(armresources.DeploymentModeIncremental), Template: empty}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PollUntilDone(ctx, testkit.PollOptions); err != nil {
		t.Fatal(err)
	}
	if got, want := f.names("val"), seq("v", 5, 12); !slices.Equal(got, want) {
		t.Fatalf("after a validate: %v, want %v", got, want)
	}
}

// TestHistoryAzureNumbers: at Azure's numbers, the 701st deployment of a
// group deletes the 101 oldest, leaving 600. About 3 s; skipped under the
// race detector (ten times slower) unless the slow suites run.
func TestHistoryAzureNumbers(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	if raceEnabled && !testkit.Slow() {
		t.Skip("701 deployments under the race detector; " + testkit.SlowEnv + "=1 runs them")
	}
	f := newFixture(t)
	f.group("azure")
	empty := template()
	name := func(i int) string { return fmt.Sprintf("d%04d", i) }
	for i := 0; i < deploy.HistoryTrigger; i++ {
		if _, err := f.deps.BeginCreateOrUpdate(ctx, "azure", name(i), armresources.Deployment{Properties: &armresources.DeploymentProperties{
			Mode: to.Ptr(armresources.DeploymentModeIncremental), Template: empty}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Every one has ended before the 701st arrives.
	for deadline := time.Now().Add(30 * time.Second); ; {
		n := 0
		for _, s := range []string{"Accepted", "Running"} {
			pager := f.deps.NewListByResourceGroupPager("azure", &armresources.DeploymentsClientListByResourceGroupOptions{Filter: to.Ptr("provisioningState eq '" + s + "'")})
			for pager.More() {
				page, err := pager.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				n += len(page.Value)
			}
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deployments still running", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := len(f.names("azure")); got != deploy.HistoryTrigger {
		t.Fatalf("%d deployments at the trigger, want %d", got, deploy.HistoryTrigger)
	}
	if _, err := f.deploy("azure", name(deploy.HistoryTrigger), empty, armresources.DeploymentModeIncremental); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := deploy.HistoryTrigger + 1 - deploy.HistoryTarget; i <= deploy.HistoryTrigger; i++ {
		want = append(want, name(i))
	}
	if got := f.names("azure"); !slices.Equal(got, want) {
		t.Fatalf("after the 701st: %d deployments from %s, want %d from %s", len(got), got[0], len(want), want[0])
	}
}

// TestHistoryDeployerMayNotDelete: the deletions are made as the deployer,
// so a deployer without Microsoft.Resources/deployments/delete deletes
// nothing; the next deployment by one who may delete does.
func TestHistoryDeployerMayNotDelete(t *testing.T) {
	f := newFixture(t, testkit.WithDeploymentHistory(small))
	rg := f.group("nodelete")
	const roleID = "6b1f6f3e-2d7a-4c55-9a0e-5d3c8e1f7a42"
	def := rg + "/providers/Microsoft.Authorization/roleDefinitions/" + roleID
	f.env.Call(t, http.MethodPut, def+"?api-version=2022-04-01", `{"properties":{"roleName":"deployer that may not delete","type":"CustomRole",`+
		`"permissions":[{"actions":["*"],"notActions":["Microsoft.Resources/deployments/delete"]}],"assignableScopes":["`+rg+`"]}}`, http.StatusCreated, nil)
	p := f.env.NewPrincipal(t, "nodelete")
	f.env.Assign(t, p.ObjectID, "ServicePrincipal", def, rg)
	deps, err := armresources.NewDeploymentsClient(f.env.Subscription, p.Cred, f.env.Options)
	if err != nil {
		t.Fatal(err)
	}
	empty := template()
	for i := 0; i <= small.Trigger; i++ {
		poller, err := deps.BeginCreateOrUpdate(ctx, "nodelete", fmt.Sprintf("n%02d", i), armresources.Deployment{Properties: &armresources.DeploymentProperties{
			Mode: to.Ptr(armresources.DeploymentModeIncremental), Template: empty}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := poller.PollUntilDone(ctx, testkit.PollOptions); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(f.names("nodelete")); got != small.Trigger+1 {
		t.Fatalf("%d deployments by a deployer that may not delete, want %d", got, small.Trigger+1)
	}
	if _, err := f.deploy("nodelete", "owner", empty, armresources.DeploymentModeIncremental); err != nil {
		t.Fatal(err)
	}
	want := append(seq("n", 6, 12), "owner")
	if got := f.names("nodelete"); !slices.Equal(got, want) {
		t.Fatalf("after the owner's deployment: %v, want %v", got, want)
	}
}
