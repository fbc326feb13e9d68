package portal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/chromedp/chromedp"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/testkit"
)

// Built-in roles the access control tests assign (their real ids).
const (
	iamContributor = "b24988ac-6180-42a0-ab88-20f7382dd24c"
	iamReader      = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
	// iamApproverRole is the custom role holding only the storage approval
	// action.
	iamApproverRole = "5a7c3e1d-2b4f-4c6a-8d9e-0f1a2b3c4d5e"
)

// iamMust stops the test on an SDK error (a panic fails it with the stack
// of the call that failed).
func iamMust[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// iamScene is what the access control tests work on: groups adx (a
// cluster) and data (a storage account) in the default subscription.
type iamScene struct {
	env              *testkit.Env
	sub              string
	adx, data        string // resource group ids
	cluster, account string // resource ids
}

func (s *iamScene) roleDef(guid string) string {
	return s.sub + "/providers/Microsoft.Authorization/roleDefinitions/" + guid
}

// iamSetup makes the groups, and with the cluster and account when
// resources is set.
func iamSetup(t *testing.T, resources bool) *iamScene {
	t.Helper()
	env := testkit.Start(t)
	ctx := context.Background()
	s := &iamScene{env: env, sub: "/subscriptions/" + env.Subscription}
	s.adx, s.data = s.sub+"/resourceGroups/adx", s.sub+"/resourceGroups/data"
	rg := iamMust(armresources.NewResourceGroupsClient(env.Subscription, env.Cred, env.Options))
	for _, g := range []string{"adx", "data"} {
		iamMust(rg.CreateOrUpdate(ctx, g, armresources.ResourceGroup{Location: to.Ptr("westus")}, nil))
	}
	if !resources {
		return s
	}
	kc := iamMust(armkusto.NewClustersClient(env.Subscription, env.Cred, env.Options))
	cp := iamMust(kc.BeginCreateOrUpdate(ctx, "adx", "mycluster", armkusto.Cluster{Location: to.Ptr("westus"),
		SKU: &armkusto.AzureSKU{Name: to.Ptr(armkusto.AzureSKUNameDevNoSLAStandardD11V2), Tier: to.Ptr(armkusto.AzureSKUTierBasic)}}, nil))
	s.cluster = *iamMust(cp.PollUntilDone(ctx, testkit.PollOptions)).ID
	sc := iamMust(armstorage.NewAccountsClient(env.Subscription, env.Cred, env.Options))
	ap := iamMust(sc.BeginCreate(ctx, "data", "share", armstorage.AccountCreateParameters{Location: to.Ptr("westus"),
		Kind: to.Ptr(armstorage.KindStorageV2), SKU: &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)}}, nil))
	s.account = *iamMust(ap.PollUntilDone(ctx, testkit.PollOptions)).ID
	return s
}

// endpoint creates a managed private endpoint on the cluster to the
// account's blob as cred and returns the state of its connection on the
// account, as the account's owner reads it.
func (s *iamScene) endpoint(t *testing.T, cred azcore.TokenCredential, name string) (string, string) {
	t.Helper()
	ctx := context.Background()
	mc := iamMust(armkusto.NewManagedPrivateEndpointsClient(s.env.Subscription, cred, s.env.Options))
	p := iamMust(mc.BeginCreateOrUpdate(ctx, "adx", "mycluster", name, armkusto.ManagedPrivateEndpoint{Properties: &armkusto.ManagedPrivateEndpointProperties{
		PrivateLinkResourceID: to.Ptr(s.account), GroupID: to.Ptr("blob"), RequestMessage: to.Ptr("Please approve.")}}, nil))
	iamMust(p.PollUntilDone(ctx, testkit.PollOptions))
	pc := iamMust(armstorage.NewPrivateEndpointConnectionsClient(s.env.Subscription, s.env.Cred, s.env.Options))
	for pg := pc.NewListPager("data", "share", nil); pg.More(); {
		for _, c := range iamMust(pg.NextPage(ctx)).Value {
			if strings.HasPrefix(*c.Name, "mycluster."+name+".") {
				st := c.Properties.PrivateLinkServiceConnectionState
				return string(*st.Status), *st.Description
			}
		}
	}
	t.Fatalf("no connection of endpoint %s on the account", name)
	return "", ""
}

// iamChoose selects, in the select labelled label, the option whose text
// contains option (options sit in optgroups), firing change as a person's
// choice does.
func iamChoose(label, option string) step {
	opt := byLabel(label) + fmt.Sprintf(`//option[contains(normalize-space(), %s)]`, xq(option))
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		if err := chromedp.Do(ctx, chromedp.WaitReady(opt)); err != nil {
			return fmt.Errorf("option %q of %q: %w", option, label, err)
		}
		v, err := chromedp.Run(ctx, chromedp.AttributeValue(opt, "value"))
		if err != nil {
			return err
		}
		return chromedp.Do(ctx, chromedp.SetValue(byLabel(label), v.Value),
			evaluate(fmt.Sprintf(`document.evaluate(%q, document, null, 9, null).singleNodeValue.dispatchEvent(new Event('change', {bubbles: true}))`, byLabel(label))))
	})
}

// iamRow is the XPath of the role assignments table's row of the
// principal named name with role, whose Scope cell reads scope (contains).
func iamRow(name, role, scope string) string {
	return fmt.Sprintf(`//section[@id='iam-assignments']//tbody/tr[td[1][contains(normalize-space(), %s)]][td[3][starts-with(normalize-space(), %s)]][td[4][contains(normalize-space(), %s)]]`,
		xq(name), xq(role), xq(scope))
}

// iamBlade opens the Access control (IAM) blade of id from its overview,
// through the resource menu.
func iamBlade(env *testkit.Env, id string) step {
	return chromedp.Steps(
		chromedp.Navigate(env.URL+"/resource"+id),
		follow("Access control (IAM)"),
		chromedp.WaitVisible(`//h2[normalize-space()='Role assignments']`),
	)
}

// iamAdd walks the Add role assignment pane: role (through the role
// search when search is set), member, description, review, assign.
func iamAdd(search, role, member, description string) step {
	steps := []step{click("Add role assignment"), chromedp.WaitVisible(`//h2[normalize-space()='Add role assignment']`)}
	if search != "" {
		steps = append(steps, fill("Search roles", search), chromedp.WaitVisible(`//p[@id='iam-role-count'][contains(., 'match')]`))
	}
	steps = append(steps, iamChoose("Role", role), iamChoose("Members", member))
	if description != "" {
		steps = append(steps, fill("Description", description))
	}
	return chromedp.Steps(append(steps, click("Review + assign"), chromedp.WaitVisible(byButton("Assign")), click("Assign"))...)
}

// TestPortalIAMGrantApprover: the owner of a storage account grants a
// cluster's administrator the custom approver role on the account in
// Access control (IAM); the table shows it, next to the owner's inherited
// Owner role; and the administrator's next managed private endpoint to the
// account is approved at once, where its first one waited.
func TestPortalIAMGrantApprover(t *testing.T) {
	s := iamSetup(t, true)
	ctx := browser(t)
	env := s.env
	defs := iamMust(armauthorization.NewRoleDefinitionsClient(env.Cred, env.Options))
	iamMust(defs.CreateOrUpdate(context.Background(), s.sub, iamApproverRole, armauthorization.RoleDefinition{Properties: &armauthorization.RoleDefinitionProperties{
		RoleName: to.Ptr("Storage private endpoint approver"), RoleType: to.Ptr("CustomRole"),
		Description:      to.Ptr("Approves private endpoint connections to storage accounts."),
		Permissions:      []*armauthorization.Permission{{Actions: []*string{to.Ptr("Microsoft.Storage/storageAccounts/privateEndpointConnectionsApproval/action")}}},
		AssignableScopes: []*string{to.Ptr(s.sub)},
	}}, nil))
	admin := env.NewPrincipal(t, "cluster-admin")
	env.Assign(t, admin.ObjectID, "ServicePrincipal", s.roleDef(iamContributor), s.adx)
	if st, _ := s.endpoint(t, admin.Cred, "before"); st != "Pending" {
		t.Fatalf("before the grant, the administrator's endpoint is %s, want Pending", st)
	}

	run(t, ctx, "the account's access control", signInDefault(env), iamBlade(env, s.account))
	run(t, ctx, "the owner's inherited role",
		chromedp.WaitVisible(iamRow(identity.DefaultClientID, "Owner", s.sub)),
		chromedp.WaitVisible(iamRow(identity.DefaultClientID, "Owner", "(Inherited)")))
	run(t, ctx, "adding the approver role",
		iamAdd("private endpoint approver", "Storage private endpoint approver", "cluster-admin (Service principal", "Approves the cluster's endpoints"),
		waitText("Added: Storage private endpoint approver for cluster-admin"))
	if u := location(t, ctx); !strings.Contains(u, "/resource"+s.account+"/iam") {
		t.Errorf("after the assignment the browser is at %s", u)
	}
	run(t, ctx, "the table lists the new assignment",
		chromedp.WaitVisible(iamRow("cluster-admin", "Storage private endpoint approver", "This resource")),
		chromedp.WaitVisible(iamRow(admin.ClientID, "Storage private endpoint approver", "This resource")))
	if row := text(t, ctx, "#iam-assignments tbody"); !strings.Contains(row, "Approves the cluster's endpoints") || !strings.Contains(row, "Service principal") {
		t.Errorf("the table does not show the assignment's description and principal type:\n%s", row)
	}

	// The grant's effect, through the API: the administrator's next
	// endpoint to the account is approved at once.
	if st, desc := s.endpoint(t, admin.Cred, "after"); st != "Approved" || desc != "Auto-approved" {
		t.Errorf("after the grant, the administrator's endpoint is %s %q, want Approved, Auto-approved", st, desc)
	}

	// A narrow window: the page does not overflow sideways (the table
	// scrolls in its own box).
	checkNarrow(t, ctx, byButton("Add role assignment"))
}

// TestPortalIAMRemove: removing an assignment asks first (the focus on
// Cancel; Cancel keeps it), then, confirmed from the keyboard, removes it:
// it leaves the table and the principal's next request is refused.
func TestPortalIAMRemove(t *testing.T) {
	s := iamSetup(t, false)
	ctx := browser(t)
	env := s.env
	reader := env.NewPrincipal(t, "group-reader")
	env.Assign(t, reader.ObjectID, "ServicePrincipal", s.roleDef(iamReader), s.data)
	groups := iamMust(armresources.NewResourceGroupsClient(env.Subscription, reader.Cred, env.Options))
	iamMust(groups.Get(context.Background(), "data", nil))

	remove := byButton("Remove Reader for group-reader")
	run(t, ctx, "the group's access control", signInDefault(env), iamBlade(env, s.data),
		chromedp.WaitVisible(iamRow("group-reader", "Reader", "This resource")))
	run(t, ctx, "asking to remove", chromedp.Click(remove), chromedp.WaitVisible(byButton("Yes, remove")), waitText("Remove the role Reader of group-reader"))
	if f := focused(t, ctx, "Cancel"); f != "Cancel" {
		t.Errorf("the confirmation puts the focus on %q, want Cancel", f)
	}
	run(t, ctx, "cancelling", click("Cancel"), chromedp.WaitNotPresent(byButton("Yes, remove")), chromedp.WaitVisible(iamRow("group-reader", "Reader", "This resource")), settled())
	if f := focused(t, ctx, "Remove"); f != "Remove" {
		t.Errorf("after Cancel the focus is on %q, want the Remove button again", f)
	}
	run(t, ctx, "removing, from the keyboard",
		chromedp.Click(remove), chromedp.WaitVisible(byButton("Yes, remove")), settled(),
		chromedp.Focus(byButton("Yes, remove")), chromedp.KeyEvent("\r"),
		waitText("The role assignment was removed."))
	rows, err := chromedp.Run(ctx, chromedp.Nodes(iamRow("group-reader", "", ""), chromedp.AtLeast(0)))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 0 {
		t.Errorf("the removed assignment is still listed")
	}
	_, err = groups.Get(context.Background(), "data", nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusForbidden || re.ErrorCode != "AuthorizationFailed" {
		t.Errorf("the principal reading the group after the removal: %v, want 403 AuthorizationFailed", err)
	}
}

// TestPortalIAMRefusals: a Contributor of a group sees its assignments and
// is told beforehand that its roles do not allow adding any; adding one
// anyway shows the API's AuthorizationFailed in plain words, its answer
// one click away. The owner adding an assignment that exists is told so
// (RoleAssignmentExists).
func TestPortalIAMRefusals(t *testing.T) {
	s := iamSetup(t, false)
	ctx := browser(t)
	env := s.env
	user := env.NewUser(t, "contrib", "Contrib-pass-1")
	env.Assign(t, user.ObjectID, "User", s.roleDef(iamContributor), s.data)
	env.NewPrincipal(t, "helper")

	run(t, ctx, "the contributor's view of the group", signIn(env, user.UserPrincipalName, user.Password), iamBlade(env, s.data),
		chromedp.WaitVisible(iamRow(user.UserPrincipalName, "Contributor", "This resource")),
		waitText("You have: Contributor (at this resource group)."),
		waitText("allow neither adding nor removing role assignments"))
	run(t, ctx, "the contributor adding a role assignment",
		iamAdd("", "Reader", "helper (Service principal", ""),
		waitText("You do not have permission to do this here"))
	problem := text(t, ctx, ".iam-pane [role=alert]")
	if !strings.Contains(problem, "Microsoft.Authorization/roleAssignments/write") || !strings.Contains(problem, "AuthorizationFailed") {
		t.Errorf("the refusal does not name the action and the code:\n%s", problem)
	}
	run(t, ctx, "the API's answer, one click away", chromedp.Click(`//summary[contains(., "the API's answer")]`),
		chromedp.WaitVisible(`//details[@open]/pre[contains(., '"code": "AuthorizationFailed"') or contains(., '"code":"AuthorizationFailed"')]`))

	run(t, ctx, "the owner adding what exists", signInDefault(env), iamBlade(env, s.data),
		iamAdd("", "Contributor", user.UserPrincipalName, ""),
		waitText("This member already has this role at this scope"))
	if problem := text(t, ctx, ".iam-pane [role=alert]"); !strings.Contains(problem, "RoleAssignmentExists") {
		t.Errorf("the refusal does not name its code:\n%s", problem)
	}
}
