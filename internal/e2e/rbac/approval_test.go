package rbac

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/msi/armmsi"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/google/uuid"
	"github.com/privlink/privlink/internal/testkit"
)

// mpe creates a managed private endpoint on the cluster as cred and
// returns the endpoint and its connection's state on the target.
func (w *world) mpe(t *testing.T, cred azcore.TokenCredential, name, target, msg string) (armkusto.ManagedPrivateEndpoint, error) {
	t.Helper()
	mc := must(armkusto.NewManagedPrivateEndpointsClient(w.subA, cred, w.env.Options))
	p, err := mc.BeginCreateOrUpdate(ctx, "adx", "mycluster", name, armkusto.ManagedPrivateEndpoint{Properties: &armkusto.ManagedPrivateEndpointProperties{
		PrivateLinkResourceID: to.Ptr(target), GroupID: to.Ptr("blob"), RequestMessage: to.Ptr(msg)}}, nil)
	if err != nil {
		return armkusto.ManagedPrivateEndpoint{}, err
	}
	r, err := p.PollUntilDone(ctx, testkit.PollOptions)
	return r.ManagedPrivateEndpoint, err
}

// connection finds the connection that endpoint name placed on the
// account (sub, rg, account), as the owner sees it.
func (w *world) connection(t *testing.T, sub, rg, account, name string) *armstorage.PrivateEndpointConnection {
	t.Helper()
	pc := must(armstorage.NewPrivateEndpointConnectionsClient(sub, w.env.Cred, w.env.Options))
	for p := pc.NewListPager(rg, account, nil); p.More(); {
		for _, c := range must(p.NextPage(ctx)).Value {
			if strings.HasPrefix(*c.Name, "mycluster."+name+".") {
				return c
			}
		}
	}
	t.Fatalf("no connection of %s on %s", name, account)
	return nil
}

func state(c *armstorage.PrivateEndpointConnection) (string, string) {
	st := c.Properties.PrivateLinkServiceConnectionState
	return string(*st.Status), *st.Description
}

// TestManualApprovalAcrossPrincipals: the seed's story. The cluster's
// administrator (Contributor of the cluster's group) asks; the storage
// account's owner (a user, signed in with a password) approves.
func TestManualApprovalAcrossPrincipals(t *testing.T) {
	w := setup(t)
	if _, err := w.mpe(t, w.clusterAdmin.Cred, "toShare", w.account, "Please Approve."); err != nil {
		t.Fatalf("the cluster administrator creates an endpoint to an account it may not even read: %v", err)
	}
	c := w.connection(t, w.subA, "data", "share", "toShare")
	if st, desc := state(c); st != "Pending" || desc != "Please Approve." {
		t.Fatalf("connection %s %q, want Pending with the request message", st, desc)
	}
	// The administrator may not approve its own request.
	approve := func(cred azcore.TokenCredential) error {
		pc := must(armstorage.NewPrivateEndpointConnectionsClient(w.subA, cred, w.env.Options))
		_, err := pc.Put(ctx, "data", "share", *c.Name, armstorage.PrivateEndpointConnection{Properties: &armstorage.PrivateEndpointConnectionProperties{
			PrivateLinkServiceConnectionState: &armstorage.PrivateLinkServiceConnectionState{Status: to.Ptr(armstorage.PrivateEndpointServiceConnectionStatusApproved), Description: to.Ptr("Approved by the data owner.")}}}, nil)
		return err
	}
	if msg := refusal(approve(w.clusterAdmin.Cred), "AuthorizationFailed", w.clusterAdmin.ObjectID, "Microsoft.Storage/storageAccounts/privateEndpointConnections/write", *c.ID); msg != "" {
		t.Errorf("the cluster administrator approving: %s", msg)
	}
	if err := approve(w.dataOwner.Cred); err != nil {
		t.Fatalf("the data owner approving: %v", err)
	}
	// privlink's own view of the endpoints (GET /_privlink/endpoints, what
	// 'privlink mpe list' shows) is the cluster administrator's, not the
	// data owner's: the API's rules.
	for _, tc := range []struct {
		who    string
		cred   azcore.TokenCredential
		status int
	}{{"the cluster administrator", w.clusterAdmin.Cred, 200}, {"the data owner", w.dataOwner.Cred, 403}} {
		for _, q := range []string{"cluster=" + w.cluster, "id=" + w.cluster + "/managedPrivateEndpoints/toShare"} {
			if st, code, _ := raw(t, w.env, tc.cred, "GET", "/_privlink/endpoints?"+q, ""); st != tc.status {
				t.Errorf("%s reading /_privlink/endpoints?%s: %d %s, want %d", tc.who, q, st, code, tc.status)
			}
		}
	}
	mc := must(armkusto.NewManagedPrivateEndpointsClient(w.subA, w.clusterAdmin.Cred, w.env.Options))
	if got := must(mc.Get(ctx, "adx", "mycluster", "toShare", nil)); *got.Properties.ProvisioningState != armkusto.ProvisioningStateSucceeded {
		t.Errorf("endpoint %s", *got.Properties.ProvisioningState)
	}
	if st, desc := state(w.connection(t, w.subA, "data", "share", "toShare")); st != "Approved" || desc != "Approved by the data owner." {
		t.Errorf("after approval: %s %q", st, desc)
	}
	// The approval is the data owner's: systemData names the user (the
	// storage SDK has no systemData; read the document).
	var doc struct {
		SystemData struct{ LastModifiedBy, LastModifiedByType string } `json:"systemData"`
	}
	pl := runtime.NewPipeline("test", "v1", runtime.PipelineOptions{}, &policy.ClientOptions{Transport: w.env.HTTP,
		PerRetryPolicies: []policy.Policy{runtime.NewBearerTokenPolicy(w.env.Cred, []string{"https://management.core.windows.net//.default"}, nil)}})
	req := must(runtime.NewRequest(ctx, http.MethodGet, w.env.URL+*c.ID+"?api-version=2024-01-01"))
	if err := runtime.UnmarshalAsJSON(must(pl.Do(req)), &doc); err != nil {
		t.Fatal(err)
	}
	if sd := doc.SystemData; sd.LastModifiedBy != w.dataOwner.UserPrincipalName || sd.LastModifiedByType != "User" {
		t.Errorf("systemData %+v, want the data owner's UPN as a User", sd)
	}
}

// TestAutomaticApproval: an endpoint is approved at once, with a
// description saying so, when its creator holds the target's approval
// action: as Owner of the target, or through a custom role holding only
// that action, from the next request after the role is assigned.
func TestAutomaticApproval(t *testing.T) {
	w := setup(t)
	if _, err := w.mpe(t, w.env.Cred, "byOwner", w.account, "Please Approve."); err != nil {
		t.Fatal(err)
	}
	if st, desc := state(w.connection(t, w.subA, "data", "share", "byOwner")); st != "Approved" || desc != "Auto-approved" {
		t.Errorf("the owner's endpoint: %s %q, want Approved, Auto-approved", st, desc)
	}
	if _, err := w.mpe(t, w.clusterAdmin.Cred, "before", w.account, "Please Approve."); err != nil {
		t.Fatal(err)
	}
	if st, _ := state(w.connection(t, w.subA, "data", "share", "before")); st != "Pending" {
		t.Errorf("before the approver role: %s, want Pending", st)
	}
	w.env.Assign(t, w.clusterAdmin.ObjectID, "ServicePrincipal", w.roleDef(w.subA, approverRole), w.account)
	if _, err := w.mpe(t, w.clusterAdmin.Cred, "after", w.account, "Please Approve."); err != nil {
		t.Fatal(err)
	}
	if st, desc := state(w.connection(t, w.subA, "data", "share", "after")); st != "Approved" || desc != "Auto-approved" {
		t.Errorf("after the approver role: %s %q, want Approved, Auto-approved", st, desc)
	}
	// The role reaches the account only: another account still waits.
	other := account(t, w.env, w.env.Cred, w.subA, "data", "other")
	if _, err := w.mpe(t, w.clusterAdmin.Cred, "toOther", other, "m"); err != nil {
		t.Fatal(err)
	}
	if st, _ := state(w.connection(t, w.subA, "data", "other", "toOther")); st != "Pending" {
		t.Errorf("an account the role does not reach: %s, want Pending", st)
	}
}

// TestSecondSubscription: the target in a subscription the cluster's
// administrator has no access to: its endpoint waits for that
// subscription's owner.
func TestSecondSubscription(t *testing.T) {
	w := setup(t)
	must(must(armresources.NewProvidersClient(w.subB, w.env.Cred, w.env.Options)).Register(ctx, "Microsoft.Network", nil))
	if _, err := w.mpe(t, w.clusterAdmin.Cred, "toFar", w.far, "Please Approve."); err != nil {
		t.Fatal(err)
	}
	c := w.connection(t, w.subB, "far", "farshare", "toFar")
	if st, _ := state(c); st != "Pending" {
		t.Fatalf("connection %s, want Pending", st)
	}
	pc := must(armstorage.NewPrivateEndpointConnectionsClient(w.subB, w.env.Cred, w.env.Options))
	must(pc.Put(ctx, "far", "farshare", *c.Name, armstorage.PrivateEndpointConnection{Properties: &armstorage.PrivateEndpointConnectionProperties{
		PrivateLinkServiceConnectionState: &armstorage.PrivateLinkServiceConnectionState{Status: to.Ptr(armstorage.PrivateEndpointServiceConnectionStatusApproved)}}}, nil))
	if st, _ := state(w.connection(t, w.subB, "far", "farshare", "toFar")); st != "Approved" {
		t.Errorf("after the owner's approval: %s", st)
	}
}

// TestMissingTargets: creating an endpoint needs no read access on the
// target, and the refusal for a missing one tells nothing of what the
// caller may not read: an account that is not there, in a group that is
// not there, or in a subscription the caller cannot see, all answer alike.
func TestMissingTargets(t *testing.T) {
	w := setup(t)
	missing := []string{
		w.data + "/providers/Microsoft.Storage/storageAccounts/nosuch",
		"/subscriptions/" + w.subA + "/resourceGroups/nogroup/providers/Microsoft.Storage/storageAccounts/nosuch",
		"/subscriptions/" + w.subB + "/resourceGroups/far/providers/Microsoft.Storage/storageAccounts/nosuch",
		"/subscriptions/" + uuid.NewString() + "/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/nosuch",
	}
	var first string
	for i, id := range missing {
		_, err := w.mpe(t, w.clusterAdmin.Cred, "missing", id, "m")
		var re *azcore.ResponseError
		if !errors.As(err, &re) || re.StatusCode != http.StatusBadRequest || re.ErrorCode != "PrivateLinkResourceNotFound" {
			t.Errorf("%s: %v, want 400 PrivateLinkResourceNotFound", id, err)
			continue
		}
		msg := strings.ReplaceAll(re.Error()[strings.Index(re.Error(), `"message"`):], id, "<id>")
		msg = msg[:strings.Index(msg, "\n")]
		if i == 0 {
			first = msg
		} else if msg != first {
			t.Errorf("the refusals differ:\n%s\n%s", first, msg)
		}
	}
}

// TestAccessChangesAtOnce: a role assigned or removed takes effect on the
// next request, with no restart; a Contributor cannot grant itself more;
// an operation's status needs the read access of its resource.
func TestAccessChangesAtOnce(t *testing.T) {
	w := setup(t)
	sc := must(armstorage.NewAccountsClient(w.subA, w.stranger.Cred, w.env.Options))
	if _, err := sc.GetProperties(ctx, "data", "share", nil); refusal(err, "AuthorizationFailed", w.stranger.ObjectID, "Microsoft.Storage/storageAccounts/read", w.account) != "" {
		t.Fatalf("before: %v", err)
	}
	ras := must(armauthorization.NewRoleAssignmentsClient(w.subA, w.env.Cred, w.env.Options))
	name := uuid.NewString()
	must(ras.Create(ctx, w.data, name, armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
		RoleDefinitionID: to.Ptr(w.roleDef(w.subA, reader)), PrincipalID: to.Ptr(w.stranger.ObjectID)}}, nil))
	if _, err := sc.GetProperties(ctx, "data", "share", nil); err != nil {
		t.Fatalf("after the assignment: %v", err)
	}
	must(ras.Delete(ctx, w.data, name, nil))
	if _, err := sc.GetProperties(ctx, "data", "share", nil); refusal(err, "AuthorizationFailed", w.stranger.ObjectID, "", "") != "" {
		t.Fatalf("after the assignment was deleted: %v", err)
	}

	// An assignment in a resource group goes with the group (the delete
	// runs as an operation): made again, the group grants nothing.
	rgs := must(armresources.NewResourceGroupsClient(w.subA, w.env.Cred, w.env.Options))
	must(rgs.CreateOrUpdate(ctx, "temp", armresources.ResourceGroup{Location: to.Ptr("westus")}, nil))
	must(ras.Create(ctx, "/subscriptions/"+w.subA+"/resourceGroups/temp", uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
		RoleDefinitionID: to.Ptr(w.roleDef(w.subA, reader)), PrincipalID: to.Ptr(w.stranger.ObjectID)}}, nil))
	strangerRGs := must(armresources.NewResourceGroupsClient(w.subA, w.stranger.Cred, w.env.Options))
	if _, err := strangerRGs.Get(ctx, "temp", nil); err != nil {
		t.Fatalf("Reader of the group: %v", err)
	}
	must(must(rgs.BeginDelete(ctx, "temp", nil)).PollUntilDone(ctx, testkit.PollOptions))
	must(rgs.CreateOrUpdate(ctx, "temp", armresources.ResourceGroup{Location: to.Ptr("westus")}, nil))
	if _, err := strangerRGs.Get(ctx, "temp", nil); refusal(err, "AuthorizationFailed", w.stranger.ObjectID, "", "") != "" {
		t.Errorf("the group made again: %v, want AuthorizationFailed (the assignment went with the group)", err)
	}

	// A Contributor cannot grant itself more.
	own := must(armauthorization.NewRoleAssignmentsClient(w.subA, w.clusterAdmin.Cred, w.env.Options))
	_, err := own.Create(ctx, w.adx, uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
		RoleDefinitionID: to.Ptr(w.roleDef(w.subA, owner)), PrincipalID: to.Ptr(w.clusterAdmin.ObjectID)}}, nil)
	if msg := refusal(err, "AuthorizationFailed", w.clusterAdmin.ObjectID, "Microsoft.Authorization/roleAssignments/write", w.adx); msg != "" {
		t.Errorf("a Contributor assigning itself Owner: %s", msg)
	}

	// The status URL of the administrator's endpoint: its own, not a stranger's.
	mc := must(armkusto.NewManagedPrivateEndpointsClient(w.subA, w.clusterAdmin.Cred, w.env.Options))
	var raw *http.Response
	p := must(mc.BeginCreateOrUpdate(policy.WithCaptureResponse(ctx, &raw), "adx", "mycluster", "op", armkusto.ManagedPrivateEndpoint{Properties: &armkusto.ManagedPrivateEndpointProperties{
		PrivateLinkResourceID: to.Ptr(w.account), GroupID: to.Ptr("blob")}}, nil))
	must(p.PollUntilDone(ctx, testkit.PollOptions))
	status := raw.Header.Get("Azure-AsyncOperation")
	if status == "" {
		t.Fatal("no Azure-AsyncOperation header")
	}
	get := func(cred azcore.TokenCredential) (*http.Response, error) {
		pl := runtime.NewPipeline("test", "v1", runtime.PipelineOptions{}, &policy.ClientOptions{Transport: w.env.HTTP,
			PerRetryPolicies: []policy.Policy{runtime.NewBearerTokenPolicy(cred, []string{"https://management.core.windows.net//.default"}, nil)}})
		req := must(runtime.NewRequest(ctx, http.MethodGet, status))
		return pl.Do(req)
	}
	if r := must(get(w.clusterAdmin.Cred)); r.StatusCode != http.StatusOK {
		t.Errorf("the administrator reading its operation: %d", r.StatusCode)
	}
	if r := must(get(w.stranger.Cred)); r.StatusCode != http.StatusForbidden {
		t.Errorf("a stranger reading the operation: %d, want 403", r.StatusCode)
	}
}

// TestManagedIdentities: a user-assigned identity and a cluster's
// system-assigned identity are principals: given roles, they sign in at
// the managed identity endpoint and act with those roles.
func TestManagedIdentities(t *testing.T) {
	w := setup(t)
	ids := must(armmsi.NewUserAssignedIdentitiesClient(w.subA, w.env.Cred, w.env.Options))
	uami := must(ids.CreateOrUpdate(ctx, "adx", "pipeline", armmsi.Identity{Location: to.Ptr("westus")}, nil))
	w.env.Assign(t, *uami.Properties.PrincipalID, "ServicePrincipal", w.roleDef(w.subA, contributor), w.adx)

	// The App Service managed identity endpoint, as an Azure host offers it.
	t.Setenv("IDENTITY_ENDPOINT", w.env.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", w.env.Server.Identity().MSISecret)
	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ClientOptions: policy.ClientOptions{Transport: w.env.HTTP}, ID: azidentity.ClientID(*uami.Properties.ClientID)})
	if err != nil {
		t.Fatal(err)
	}
	ep, err := w.mpe(t, cred, "byIdentity", w.account, "From the pipeline.")
	if err != nil {
		t.Fatalf("the identity creating an endpoint: %v", err)
	}
	if sd := ep.SystemData; sd == nil || *sd.CreatedByType != armkusto.CreatedByTypeManagedIdentity {
		t.Errorf("systemData %+v, want a ManagedIdentity", ep.SystemData)
	}
	if st, _ := state(w.connection(t, w.subA, "data", "share", "byIdentity")); st != "Pending" {
		t.Errorf("the identity's endpoint: %s, want Pending (it may not approve on the account)", st)
	}
	// The cluster's own identity, by the cluster's resource id.
	kc := must(armkusto.NewClustersClient(w.subA, w.env.Cred, w.env.Options))
	cl := must(must(kc.BeginCreateOrUpdate(ctx, "adx", "withid", armkusto.Cluster{Location: to.Ptr("westus"),
		SKU:      &armkusto.AzureSKU{Name: to.Ptr(armkusto.AzureSKUNameDevNoSLAStandardD11V2), Tier: to.Ptr(armkusto.AzureSKUTierBasic)},
		Identity: &armkusto.Identity{Type: to.Ptr(armkusto.IdentityTypeSystemAssigned)}}, nil)).PollUntilDone(ctx, testkit.PollOptions))
	w.env.Assign(t, *cl.Identity.PrincipalID, "ServicePrincipal", w.roleDef(w.subA, reader), w.data)
	clusterCred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ClientOptions: policy.ClientOptions{Transport: w.env.HTTP}, ID: azidentity.ResourceID(*cl.ID)})
	if err != nil {
		t.Fatal(err)
	}
	sc := must(armstorage.NewAccountsClient(w.subA, clusterCred, w.env.Options))
	if _, err := sc.GetProperties(ctx, "data", "share", nil); err != nil {
		t.Errorf("the cluster's identity reading the account it is Reader of: %v", err)
	}
	if _, err := sc.BeginCreate(ctx, "data", "newone", armstorage.AccountCreateParameters{Location: to.Ptr("westus"),
		Kind: to.Ptr(armstorage.KindStorageV2), SKU: &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)}}, nil); refusal(err, "AuthorizationFailed", *cl.Identity.PrincipalID, "Microsoft.Storage/storageAccounts/write", "") != "" {
		t.Errorf("the cluster's identity writing: %v, want AuthorizationFailed", err)
	}
	// Deleting the cluster deletes its identity: no more tokens (asked
	// directly: azidentity would answer from its cache).
	must(must(kc.BeginDelete(ctx, "adx", "withid", nil)).PollUntilDone(ctx, testkit.PollOptions))
	req := must(http.NewRequest(http.MethodGet, w.env.URL+"/msi/token?api-version=2019-08-01&resource=https://management.core.windows.net/&mi_res_id="+*cl.ID, nil))
	req.Header.Set("X-IDENTITY-HEADER", w.env.Server.Identity().MSISecret)
	if r := must(w.env.HTTP.Do(req)); r.StatusCode != http.StatusBadRequest {
		t.Errorf("a deleted cluster's identity: %d, want 400 (identity not found)", r.StatusCode)
	}
}

// TestPermissions: {scope}/providers/Microsoft.Authorization/permissions
// tells a caller its own permission blocks there, through the SDK.
func TestPermissions(t *testing.T) {
	w := setup(t)
	blocks := func(cred azcore.TokenCredential, rg string) [][]string {
		var out [][]string
		pc := must(armauthorization.NewPermissionsClient(w.subA, cred, w.env.Options))
		for p := pc.NewListForResourceGroupPager(rg, nil); p.More(); {
			for _, v := range must(p.NextPage(ctx)).Value {
				var a []string
				for _, s := range v.Actions {
					a = append(a, *s)
				}
				out = append(out, a)
			}
		}
		return out
	}
	if got := blocks(w.dataOwner.Cred, "data"); len(got) != 1 || len(got[0]) != 1 || got[0][0] != "*" {
		t.Errorf("the data owner's permissions in its group: %v, want Owner's [*]", got)
	}
	if got := blocks(w.readerSP.Cred, "data"); len(got) != 1 || got[0][0] != "*/read" {
		t.Errorf("the reader's permissions: %v, want Reader's [*/read]", got)
	}
	if got := blocks(w.stranger.Cred, "data"); len(got) != 0 {
		t.Errorf("a stranger's permissions: %v, want none", got)
	}
}
