package portal

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/eventhub/armeventhub"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/chromedp/chromedp"
	"github.com/privlink/privlink/internal/testkit"
)

// Built-in roles (their real ids).
const (
	netOwner       = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
	netContributor = "b24988ac-6180-42a0-ab88-20f7382dd24c"
	netReader      = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
)

// The option the Resource type field offers for storage accounts.
const netStorageOption = "Storage account (Microsoft.Storage/storageAccounts)"

var netCtx = context.Background()

// netMust returns v, or panics with err; functions using it defer
// netRecover, which makes the panic the test's failure. (A helper taking t
// cannot take a call's two results as well.)
func netMust[T any](v T, err error) T {
	if err != nil {
		panic(netFailure{err})
	}
	return v
}

type netFailure struct{ err error }

func netRecover(t *testing.T) {
	if r := recover(); r != nil {
		if f, ok := r.(netFailure); ok {
			t.Fatalf("%v", f.err)
		}
		panic(r)
	}
}

// netScene is the seed's scene: a cluster in group adx and a storage
// account in group data, made by the default principal.
type netScene struct {
	env              *testkit.Env
	sub              string
	cluster, account string // resource ids
}

func netSetup(t *testing.T, opts ...testkit.Option) *netScene {
	t.Helper()
	defer netRecover(t)
	env := testkit.Start(t, opts...)
	s := &netScene{env: env, sub: env.Subscription}
	rg := netMust(armresources.NewResourceGroupsClient(s.sub, env.Cred, env.Options))
	for _, g := range []string{"adx", "data"} {
		netMust(rg.CreateOrUpdate(netCtx, g, armresources.ResourceGroup{Location: to.Ptr("westus")}, nil))
	}
	kc := netMust(armkusto.NewClustersClient(s.sub, env.Cred, env.Options))
	cl := netMust(netMust(kc.BeginCreateOrUpdate(netCtx, "adx", "mycluster", armkusto.Cluster{Location: to.Ptr("westus"),
		SKU: &armkusto.AzureSKU{Name: to.Ptr(armkusto.AzureSKUNameDevNoSLAStandardD11V2), Tier: to.Ptr(armkusto.AzureSKUTierBasic)}}, nil)).PollUntilDone(netCtx, testkit.PollOptions))
	s.cluster = *cl.ID
	sc := netMust(armstorage.NewAccountsClient(s.sub, env.Cred, env.Options))
	a := netMust(netMust(sc.BeginCreate(netCtx, "data", "share", armstorage.AccountCreateParameters{Location: to.Ptr("westus"),
		Kind: to.Ptr(armstorage.KindStorageV2), SKU: &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)}}, nil)).PollUntilDone(netCtx, testkit.PollOptions))
	s.account = *a.ID
	return s
}

func (s *netScene) roleDef(guid string) string {
	return "/subscriptions/" + s.sub + "/providers/Microsoft.Authorization/roleDefinitions/" + guid
}

// mpe creates a managed private endpoint as cred through the SDK.
func (s *netScene) mpe(t *testing.T, cred azcore.TokenCredential, name, target, group string) {
	t.Helper()
	defer netRecover(t)
	mc := netMust(armkusto.NewManagedPrivateEndpointsClient(s.sub, cred, s.env.Options))
	netMust(netMust(mc.BeginCreateOrUpdate(netCtx, "adx", "mycluster", name, armkusto.ManagedPrivateEndpoint{Properties: &armkusto.ManagedPrivateEndpointProperties{
		PrivateLinkResourceID: to.Ptr(target), GroupID: to.Ptr(group), RequestMessage: to.Ptr("Please approve.")}}, nil)).PollUntilDone(netCtx, testkit.PollOptions))
}

// netOpen goes from Home through All resources to a resource's Networking.
func netOpen(name string) step {
	return chromedp.Steps(
		follow("Home"), follow("All resources"), follow(name), follow("Networking"),
		chromedp.WaitVisible(`//nav[@aria-label='Networking']`),
	)
}

// netCell is the XPath of the cell of column col (1-based) in the row of
// the table whose first cell starts with name.
func netCell(name string, col int) string {
	return fmt.Sprintf(`//main//table//tr[td[1][starts-with(normalize-space(), %s)]]/td[%d]`, xq(name), col)
}

// netWaitCell waits until that cell reads want.
func netWaitCell(name string, col int, want string) step {
	return chromedp.WaitVisible(netCell(name, col) + fmt.Sprintf(`[normalize-space()=%s]`, xq(want)))
}

// netCheck ticks the check box whose label starts with prefix (connection
// names end with an id the API makes up).
func netCheck(prefix string) step {
	x := fmt.Sprintf(`//input[@type='checkbox'][@id=//label[starts-with(normalize-space(), %s)]/@for]`, xq(prefix))
	return chromedp.Steps(chromedp.WaitVisible(x), chromedp.Click(x))
}

// netFillPane fills the New managed private endpoint pane as the seed's
// table says, and goes on to the review.
func netFillPane(name, typ, resource, group, message string) step {
	steps := []step{
		fill("Name", name),
		choose("Subscription", "privlink default subscription"),
		choose("Resource type", typ),
		choose("Resource name", resource),
		choose("Target sub-resource", group),
	}
	if message != "" {
		steps = append(steps, fill("Request message", message))
	}
	return chromedp.Steps(steps...)
}

// TestPortalSeedManualApproval walks the seed's portal path with two
// principals: a cluster administrator who may only read the storage
// account creates the endpoint (which waits Pending), the account's owner
// approves it on the account's Networking page, and the cluster's page
// then shows it approved.
func TestPortalSeedManualApproval(t *testing.T) {
	ctx := browser(t)
	s := netSetup(t, testkit.WithDelay(time.Second))
	admin := s.env.NewPrincipal(t, "cluster-admin")
	s.env.Assign(t, admin.ObjectID, "ServicePrincipal", s.roleDef(netContributor), "/subscriptions/"+s.sub+"/resourceGroups/adx")
	s.env.Assign(t, admin.ObjectID, "ServicePrincipal", s.roleDef(netReader), s.account)
	owner := s.env.NewUser(t, "dataowner", "Data-owner-1")
	s.env.Assign(t, owner.ObjectID, "User", s.roleDef(netOwner), "/subscriptions/"+s.sub+"/resourceGroups/data")

	run(t, ctx, "the cluster admin opens the cluster's Networking",
		signIn(s.env, admin.ClientID, admin.Secret),
		netOpen("mycluster"),
		follow("Managed private endpoints"),
		waitText("This cluster has no managed private endpoints."),
		click("Add"),
		waitText("New managed private endpoint"))
	if u := location(t, ctx); !strings.Contains(u, "pane=add") {
		t.Errorf("the pane is at %s, not a URL of its own", u)
	}
	run(t, ctx, "the pane survives a refresh", chromedp.Reload(), chromedp.WaitVisible(byLabel("Target sub-resource")))
	checkNarrow(t, ctx, byLabel("Target sub-resource"))
	run(t, ctx, "filling the pane",
		netFillPane("mpeToStorage", netStorageOption, "share", "blob", "Please approve."),
		click("Next"),
		waitText("This managed private endpoint will be created:"),
		waitText("The connection waits (Pending) until the owner of share approves it"))
	review := text(t, ctx, "#mpe-pane")
	for _, want := range []string{"mpeToStorage", "privlink default subscription", "Microsoft.Storage/storageAccounts", "share", "blob", "Please approve."} {
		if !strings.Contains(review, want) {
			t.Errorf("the review does not show %q:\n%s", want, review)
		}
	}
	run(t, ctx, "Create", click("Create"), waitText("Creating managed private endpoint mpeToStorage."),
		// A mark in the page: it is still there once the state is final,
		// so no navigation (refresh) brought the new state.
		evaluate(`window.netMark = 'unchanged'`))
	first := text(t, ctx, "#mpe-live table tbody")
	if !strings.Contains(first, "mpeToStorage") {
		t.Fatalf("the new endpoint does not appear at once:\n%s", first)
	}
	if !strings.Contains(first, "Creating") {
		t.Errorf("the first view does not show the endpoint Creating (the server takes a second):\n%s", first)
	}
	if f := focused(t, ctx, "Creating managed private endpoint mpeToStorage. Its states update here as they change."); !strings.HasPrefix(f, "Creating managed private endpoint") {
		t.Errorf("after Create the focus is on %q, not on what became of it", f)
	}
	run(t, ctx, "the provisioning state becomes Succeeded by itself",
		netWaitCell("mpeToStorage", 4, "Succeeded"), netWaitCell("mpeToStorage", 5, "Pending"),
		waitText("Managed private endpoint mpeToStorage: Succeeded; its connection is Pending."))
	mark, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.netMark`))
	if err != nil || mark != "unchanged" {
		t.Errorf("the page was reloaded to show the new state (mark %q, %v)", mark, err)
	}

	run(t, ctx, "the data owner approves on the storage account",
		click("Sign out"), chromedp.WaitVisible(byLabel("User name")),
		signIn(s.env, owner.UserPrincipalName, owner.Password),
		netOpen("share"),
		follow("Private endpoint connections"),
		netWaitCell("mycluster.mpeToStorage.", 2, "Pending"),
		netCheck("mycluster.mpeToStorage."),
		fill("Description", "Approved by the data owner."),
		click("Approve"),
		netWaitCell("mycluster.mpeToStorage.", 2, "Approved"),
		waitText("Approved."))
	if got := text(t, ctx, "#conn-live table tbody"); !strings.Contains(got, "Approved by the data owner.") {
		t.Errorf("the description is not shown:\n%s", got)
	}
	run(t, ctx, "the cluster admin sees it approved",
		click("Sign out"), chromedp.WaitVisible(byLabel("User name")),
		signIn(s.env, admin.ClientID, admin.Secret),
		netOpen("mycluster"),
		follow("Managed private endpoints"),
		netWaitCell("mpeToStorage", 5, "Approved"),
		netWaitCell("mpeToStorage", 6, "Approved by the data owner."))
}

// TestPortalAutomaticApproval: the default principal owns the storage
// account, so the endpoint it creates in the pane is approved at once.
func TestPortalAutomaticApproval(t *testing.T) {
	defer netRecover(t)
	ctx := browser(t)
	s := netSetup(t)
	run(t, ctx, "creating an endpoint as the owner of everything",
		signInDefault(s.env),
		netOpen("mycluster"),
		click("Add"),
		netFillPane("auto", netStorageOption, "share", "dfs", ""),
		click("Next"),
		waitText("You may approve connections to share, so the connection is approved at once."),
		waitText("this cluster has none to share yet"),
		click("Create"),
		netWaitCell("auto", 5, "Approved"),
		netWaitCell("auto", 6, "Auto-approved"),
		netWaitCell("auto", 4, "Succeeded"))
	run(t, ctx, "the account shows the connection approved",
		netOpen("share"), follow("Private endpoint connections"),
		netWaitCell("mycluster.auto.", 2, "Approved"))

	// Delete, after a confirmation: Cancel keeps the endpoint, Yes, delete
	// removes it and its connection on the account.
	run(t, ctx, "asking to delete, then cancelling",
		netOpen("mycluster"), follow("Managed private endpoints"),
		click("Delete auto"), waitText("Delete managed private endpoint auto?"),
		follow("Cancel"), netWaitCell("auto", 5, "Approved"))
	run(t, ctx, "deleting",
		click("Delete auto"), click("Yes, delete"),
		// The row goes by itself once the API no longer lists it, and
		// the words above the table follow.
		chromedp.WaitNotPresent(netCell("auto", 1)),
		waitText("Managed private endpoint auto was deleted."))
	mc := netMust(armkusto.NewManagedPrivateEndpointsClient(s.sub, s.env.Cred, s.env.Options))
	if list := netMust(mc.NewListPager("adx", "mycluster", nil).NextPage(netCtx)); len(list.Value) != 0 {
		t.Errorf("after the deletion the cluster has %d endpoints", len(list.Value))
	}
	run(t, ctx, "the account's connection is gone",
		netOpen("share"), follow("Private endpoint connections"),
		waitText("Private endpoint connections"),
		chromedp.WaitNotPresent(netCell("mycluster.auto.", 1)))
}

// TestPortalRejectAndRemove: the owner of an Event Hubs namespace rejects
// one connection and removes another; the cluster's tab shows Rejected and
// Disconnected.
func TestPortalRejectAndRemove(t *testing.T) {
	defer netRecover(t)
	ctx := browser(t)
	s := netSetup(t)
	ec := netMust(armeventhub.NewNamespacesClient(s.sub, s.env.Cred, s.env.Options))
	ns := netMust(netMust(ec.BeginCreateOrUpdate(netCtx, "data", "events-ns", armeventhub.EHNamespace{Location: to.Ptr("westus"),
		SKU: &armeventhub.SKU{Name: to.Ptr(armeventhub.SKUNameStandard), Tier: to.Ptr(armeventhub.SKUTierStandard)}}, nil)).PollUntilDone(netCtx, testkit.PollOptions))
	// Made by a principal that may not approve: both wait Pending.
	req := s.env.Requester(t)
	s.mpe(t, req.Cred, "toReject", *ns.ID, "namespace")
	s.mpe(t, req.Cred, "toRemove", *ns.ID, "namespace")
	s.mpe(t, req.Cred, "pairA", *ns.ID, "namespace")
	s.mpe(t, req.Cred, "pairB", *ns.ID, "namespace")
	s.mpe(t, req.Cred, "pairC", *ns.ID, "namespace")

	run(t, ctx, "rejecting one",
		signInDefault(s.env),
		netOpen("events-ns"),
		waitText("Private endpoint connections"),
		netWaitCell("mycluster.toReject.", 2, "Pending"),
		netCheck("mycluster.toReject."),
		fill("Description", "Not this one."),
		click("Reject"),
		waitText("Reject 1 connection?"),
		waitText("A rejected connection cannot be approved again"),
		click("Yes, reject"),
		netWaitCell("mycluster.toReject.", 2, "Rejected"),
		// Name, state, private endpoint, description, provisioning state.
		netWaitCell("mycluster.toReject.", 4, "Not this one."))
	run(t, ctx, "asking to remove, then cancelling",
		netCheck("mycluster.toRemove."),
		click("Remove"),
		waitText("Remove 1 connection?"),
		click("Cancel"),
		chromedp.WaitNotPresent(byButton("Yes, remove")),
		netWaitCell("mycluster.toRemove.", 2, "Pending"),
		// The selection survives the cancel.
		chromedp.WaitVisible(`//input[@type='checkbox'][@checked][@id=//label[starts-with(normalize-space(), 'mycluster.toRemove.')]/@for]`))
	run(t, ctx, "removing the other",
		click("Remove"),
		click("Yes, remove"),
		waitText("Removed."),
		chromedp.WaitNotPresent(netCell("mycluster.toRemove.", 1)))
	if got := text(t, ctx, "#conn-live table tbody"); strings.Contains(got, "toRemove") || !strings.Contains(got, "toReject") {
		t.Errorf("after the removal the connections are:\n%s", got)
	}
	run(t, ctx, "approving two at once",
		netCheck("mycluster.pairA."), netCheck("mycluster.pairB."),
		click("Approve"),
		netWaitCell("mycluster.pairA.", 2, "Approved"),
		netWaitCell("mycluster.pairB.", 2, "Approved"),
		netWaitCell("mycluster.toReject.", 2, "Rejected"))
	// A rejected connection with an approved one: the refusal says what to
	// do, and the success is said apart from it.
	run(t, ctx, "approving a rejected connection with a pending one",
		netCheck("mycluster.toReject."), netCheck("mycluster.pairC."),
		click("Approve"),
		chromedp.WaitVisible(`//div[@role='alert'][contains(., "mycluster.toReject.")][contains(., "does not let a connection go from Rejected to Approved")][contains(., "deletes the managed private endpoint and creates it anew")]`),
		chromedp.WaitVisible(`//div[@role='status'][contains(., "mycluster.pairC.")][contains(., "Approved.")][not(contains(., "toReject"))]`),
		netWaitCell("mycluster.pairC.", 2, "Approved"))
	checkNarrow(t, ctx, netCell("mycluster.toReject.", 2))
	run(t, ctx, "the cluster's side",
		netOpen("mycluster"),
		netWaitCell("toReject", 5, "Rejected"),
		netWaitCell("toReject", 6, "Not this one."),
		netWaitCell("toRemove", 5, "Disconnected"))
}

// TestPortalValidation: a name against the rule is said next to the Name
// field on Next and nothing is created; a taken name and a request message
// the API refuses are said in plain words, with the API's JSON one click
// away.
func TestPortalValidation(t *testing.T) {
	defer netRecover(t)
	ctx := browser(t)
	s := netSetup(t)
	s.mpe(t, s.env.Cred, "taken", s.account, "blob")
	run(t, ctx, "a bad name",
		signInDefault(s.env),
		netOpen("mycluster"),
		click("Add"),
		netFillPane("-bad-", netStorageOption, "share", "blob", ""),
		click("Next"),
		chromedp.WaitVisible(`//p[@id='mpe-name-error'][contains(., "The name must be 1 to 80 characters")]`),
		chromedp.WaitVisible(byLabel("Name")+`[@aria-invalid='true'][contains(@aria-describedby, 'mpe-name-error')]`))
	run(t, ctx, "correcting the name clears its error",
		chromedp.SendKeys(byLabel("Name"), "x"),
		chromedp.WaitNotVisible(`//p[@id='mpe-name-error']`),
		chromedp.WaitVisible(byLabel("Name")+`[not(@aria-invalid)]`))
	run(t, ctx, "an empty name and no sub-resource",
		fill("Name", ""), choose("Resource name", "share"), click("Next"),
		chromedp.WaitVisible(`//p[@id='mpe-name-error'][contains(., "Enter a name")]`),
		chromedp.WaitVisible(`//p[@id='mpe-group-error'][contains(., "Choose the sub-resource of share")]`))
	run(t, ctx, "a taken name",
		fill("Name", "taken"), choose("Target sub-resource", "blob"), click("Next"),
		chromedp.WaitVisible(`//p[@id='mpe-name-error'][contains(., "Name 'taken' is already taken")]`))
	mc := netMust(armkusto.NewManagedPrivateEndpointsClient(s.sub, s.env.Cred, s.env.Options))
	list := netMust(mc.NewListPager("adx", "mycluster", nil).NextPage(netCtx))
	if len(list.Value) != 1 {
		t.Errorf("the refused steps created endpoints: %d of them", len(list.Value))
	}
	run(t, ctx, "a request message too long for the API",
		fill("Name", "longmessage"),
		fill("Request message", strings.Repeat("x", 141)),
		click("Next"), click("Create"),
		waitText("Managed private endpoint longmessage was not created. The request was refused. The request message is 141 characters long"),
		chromedp.WaitVisible(`//p[@id='mpe-message-error'][contains(., "at most 140 characters")]`),
		chromedp.Click(`//main//summary[normalize-space()="Details (the API's answer)"]`),
		chromedp.WaitVisible(`//main//details[@open]/pre[contains(., '"code": "RequestMessageTooLong"') or contains(., '"code":"RequestMessageTooLong"')]`))
}

// TestPortalRefusal: a principal with only Reader on a target sees the
// connection commands disabled with the reason; one with no access to a
// cluster is told so in plain words with the API's answer one click away;
// a change the target refuses is said in plain words.
func TestPortalRefusal(t *testing.T) {
	ctx := browser(t)
	s := netSetup(t)
	s.mpe(t, s.env.Requester(t).Cred, "waiting", s.account, "blob")
	reader := s.env.NewPrincipal(t, "reader")
	s.env.Assign(t, reader.ObjectID, "ServicePrincipal", s.roleDef(netReader), s.account)
	stranger := s.env.NewPrincipal(t, "stranger")

	run(t, ctx, "a reader of the account",
		signIn(s.env, reader.ClientID, reader.Secret),
		netOpen("share"),
		netWaitCell("mycluster.waiting.", 2, "Pending"))
	for _, b := range []string{"Approve", "Reject", "Remove"} {
		x := fmt.Sprintf(`//button[normalize-space()=%s][@disabled][@aria-describedby='conn-reason']`, xq(b))
		run(t, ctx, b+" is disabled with the reason", chromedp.WaitVisible(x))
	}
	reason := text(t, ctx, "#conn-reason")
	for _, want := range []string{"You may not approve, reject or remove the connections of share", "Microsoft.Storage/storageAccounts/privateEndpointConnectionsApproval/action"} {
		if !strings.Contains(reason, want) {
			t.Errorf("the reason does not say %q: %s", want, reason)
		}
	}

	run(t, ctx, "a stranger opens the cluster's Networking",
		click("Sign out"), chromedp.WaitVisible(byLabel("User name")),
		signIn(s.env, stranger.ClientID, stranger.Secret),
		chromedp.Navigate(s.env.URL+"/resource"+s.cluster+"/networking"),
		waitText("You do not have permission to do this."),
		chromedp.Click(`//main//summary[normalize-space()="Details (the API's answer)"]`),
		chromedp.WaitVisible(`//main//details[@open]/pre[contains(., 'AuthorizationFailed')]`))

	run(t, ctx, "the owner approves twice",
		click("Sign out"), chromedp.WaitVisible(byLabel("User name")),
		signInDefault(s.env),
		netOpen("share"),
		netCheck("mycluster.waiting."), click("Approve"),
		netWaitCell("mycluster.waiting.", 2, "Approved"),
		netCheck("mycluster.waiting."), click("Approve"),
		waitText("Not approved: share (Storage account) does not let a connection go from Approved to Approved."),
		chromedp.WaitVisible(`//div[@role='alert']//details/summary`))
}

// TestPortalDfsWarning: a dfs endpoint without a blob one to the same
// account shows the warning on the cluster's tab, which goes once the
// blob endpoint exists; the page reads on a narrow window.
func TestPortalDfsWarning(t *testing.T) {
	ctx := browser(t)
	s := netSetup(t)
	s.mpe(t, s.env.Cred, "toDfs", s.account, "dfs")
	const warning = "dfs traffic to a storage account also needs a managed private endpoint to its 'blob' sub-resource"
	run(t, ctx, "the warning",
		signInDefault(s.env),
		netOpen("mycluster"),
		chromedp.WaitVisible(`//main//div[@role='note'][contains(., "toDfs")][contains(., "`+warning+`")]`))
	checkNarrow(t, ctx, `//main//div[@role='note'][contains(., "toDfs")]`)
	s.mpe(t, s.env.Cred, "toBlob", s.account, "blob")
	run(t, ctx, "the warning goes with a blob endpoint", chromedp.Reload(), netWaitCell("toBlob", 3, "blob"))
	if got := text(t, ctx, "#mpe-live"); strings.Contains(got, warning) {
		t.Errorf("the warning stays with a blob endpoint:\n%s", got)
	}
}
