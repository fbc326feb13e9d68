// Package rbac tests access control end to end through the official Azure
// SDKs: principals of every kind, role assignments at every scope, what
// each may read, write, delete, approve and assign, what lists show them,
// and automatic and manual approval of managed private endpoints.
package rbac

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/authorization/armauthorization/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armsubscriptions"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/storage/armstorage"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/subscription/armsubscription"
	"github.com/google/uuid"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/testkit"
)

var ctx = context.Background()

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Built-in roles (their real ids).
const (
	owner       = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
	contributor = "b24988ac-6180-42a0-ab88-20f7382dd24c"
	reader      = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
	// approverRole is a custom role holding only the storage approval action.
	approverRole = "5a7c3e1d-2b4f-4c6a-8d9e-0f1a2b3c4d5e"
)

// world is the scene of the matrix: two subscriptions, a cluster in one
// group, a storage account in another, a storage account in the second
// subscription, and principals holding different roles.
type world struct {
	env                    *testkit.Env
	subA, subB             string // subscription ids
	adx, data              string // resource group ids in A
	cluster, account, far  string // resource ids
	owner                  azcore.TokenCredential
	clusterAdmin, approver *testkit.Principal
	readerSP, stranger     *testkit.Principal
	dataOwner              *testkit.User
	principals             map[string]azcore.TokenCredential
	principalIDs           map[string]string
	roleDef                func(sub, guid string) string
}

func setup(t *testing.T) *world {
	t.Helper()
	env := testkit.Start(t)
	w := &world{env: env, subA: env.Subscription, owner: env.Cred}
	w.roleDef = func(sub, guid string) string {
		return "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions/" + guid
	}
	// A second subscription, made by the default principal, which owns it.
	aliases := must(armsubscription.NewAliasClient(env.Cred, env.Options))
	p := must(aliases.BeginCreate(ctx, "second", armsubscription.PutAliasRequest{Properties: &armsubscription.PutAliasRequestProperties{
		DisplayName: to.Ptr("second"), Workload: to.Ptr(armsubscription.WorkloadProduction)}}, nil))
	w.subB = *must(p.PollUntilDone(ctx, testkit.PollOptions)).Properties.SubscriptionID

	for _, g := range []struct{ sub, name string }{{w.subA, "adx"}, {w.subA, "data"}, {w.subB, "far"}} {
		rg := must(armresources.NewResourceGroupsClient(g.sub, env.Cred, env.Options))
		must(rg.CreateOrUpdate(ctx, g.name, armresources.ResourceGroup{Location: to.Ptr("westus")}, nil))
	}
	w.adx = "/subscriptions/" + w.subA + "/resourceGroups/adx"
	w.data = "/subscriptions/" + w.subA + "/resourceGroups/data"
	kc := must(armkusto.NewClustersClient(w.subA, env.Cred, env.Options))
	cl := must(must(kc.BeginCreateOrUpdate(ctx, "adx", "mycluster", armkusto.Cluster{Location: to.Ptr("westus"),
		SKU: &armkusto.AzureSKU{Name: to.Ptr(armkusto.AzureSKUNameDevNoSLAStandardD11V2), Tier: to.Ptr(armkusto.AzureSKUTierBasic)}}, nil)).PollUntilDone(ctx, testkit.PollOptions))
	w.cluster = *cl.ID
	w.account = account(t, env, env.Cred, w.subA, "data", "share")
	w.far = account(t, env, env.Cred, w.subB, "far", "farshare")

	// The principals and their roles.
	w.clusterAdmin = env.NewPrincipal(t, "cluster-admin")
	env.Assign(t, w.clusterAdmin.ObjectID, "ServicePrincipal", w.roleDef(w.subA, contributor), w.adx)
	w.dataOwner = env.NewUser(t, "dataowner", "Data-owner-1")
	env.Assign(t, w.dataOwner.ObjectID, "User", w.roleDef(w.subA, owner), w.data)
	w.readerSP = env.NewPrincipal(t, "reader")
	env.Assign(t, w.readerSP.ObjectID, "ServicePrincipal", w.roleDef(w.subA, reader), "/subscriptions/"+w.subA)
	// A custom role with the storage approval action only, at the account.
	defs := must(armauthorization.NewRoleDefinitionsClient(env.Cred, env.Options))
	must(defs.CreateOrUpdate(ctx, "/subscriptions/"+w.subA, approverRole, armauthorization.RoleDefinition{Properties: &armauthorization.RoleDefinitionProperties{
		RoleName: to.Ptr("Storage private endpoint approver"), RoleType: to.Ptr("CustomRole"),
		Permissions:      []*armauthorization.Permission{{Actions: []*string{to.Ptr("Microsoft.Storage/storageAccounts/privateEndpointConnectionsApproval/action")}}},
		AssignableScopes: []*string{to.Ptr("/subscriptions/" + w.subA)},
	}}, nil))
	w.approver = env.NewPrincipal(t, "approver")
	env.Assign(t, w.approver.ObjectID, "ServicePrincipal", w.roleDef(w.subA, approverRole), w.account)
	w.stranger = env.NewPrincipal(t, "stranger")

	w.principals = map[string]azcore.TokenCredential{
		"owner": env.Cred, "clusterAdmin": w.clusterAdmin.Cred, "dataOwner": w.dataOwner.Cred,
		"reader": w.readerSP.Cred, "approver": w.approver.Cred, "stranger": w.stranger.Cred,
	}
	w.principalIDs = map[string]string{
		"owner": identity.DefaultClientObjectID, "clusterAdmin": w.clusterAdmin.ObjectID, "dataOwner": w.dataOwner.ObjectID,
		"reader": w.readerSP.ObjectID, "approver": w.approver.ObjectID, "stranger": w.stranger.ObjectID,
	}
	return w
}

// account creates a storage account as cred and returns its id.
func account(t *testing.T, env *testkit.Env, cred azcore.TokenCredential, sub, rg, name string) string {
	t.Helper()
	sc := must(armstorage.NewAccountsClient(sub, cred, env.Options))
	a := must(must(sc.BeginCreate(ctx, rg, name, armstorage.AccountCreateParameters{Location: to.Ptr("westus"),
		Kind: to.Ptr(armstorage.KindStorageV2), SKU: &armstorage.SKU{Name: to.Ptr(armstorage.SKUNameStandardLRS)}}, nil)).PollUntilDone(ctx, testkit.PollOptions))
	return *a.ID
}

// refusal checks that err is Azure's AuthorizationFailed for the principal
// and action at scope, and returns "" or what is wrong.
func refusal(err error, code, objectID, action, scope string) string {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return "no ARM error: " + errString(err)
	}
	if re.StatusCode != http.StatusForbidden || re.ErrorCode != code {
		return "got " + re.ErrorCode + " " + http.StatusText(re.StatusCode)
	}
	msg := re.Error()
	for _, s := range []string{objectID, action, scope} {
		if s != "" && !strings.Contains(strings.ToLower(msg), strings.ToLower(s)) {
			return "the message does not name " + s + ": " + msg
		}
	}
	return ""
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestAuthorizationMatrix: every principal × resource × action, allowed
// exactly where its roles say, refused with Azure's error elsewhere.
func TestAuthorizationMatrix(t *testing.T) {
	w := setup(t)
	// A Pending connection on the account, from an endpoint the cluster
	// administrator makes (it may not approve on the account).
	mc := must(armkusto.NewManagedPrivateEndpointsClient(w.subA, w.clusterAdmin.Cred, w.env.Options))
	must(must(mc.BeginCreateOrUpdate(ctx, "adx", "mycluster", "toShare", armkusto.ManagedPrivateEndpoint{Properties: &armkusto.ManagedPrivateEndpointProperties{
		PrivateLinkResourceID: to.Ptr(w.account), GroupID: to.Ptr("blob"), RequestMessage: to.Ptr("Please Approve.")}}, nil)).PollUntilDone(ctx, testkit.PollOptions))
	conns := must(must(armstorage.NewPrivateEndpointConnectionsClient(w.subA, w.env.Cred, w.env.Options)).NewListPager("data", "share", nil).NextPage(ctx))
	if len(conns.Value) != 1 || *conns.Value[0].Properties.PrivateLinkServiceConnectionState.Status != armstorage.PrivateEndpointServiceConnectionStatusPending {
		t.Fatalf("connections on the account: %+v, want one Pending", conns.Value)
	}
	conn := *conns.Value[0].Name

	type target struct {
		name, sub, rg, id, typ string
	}
	targets := []target{
		{"cluster", w.subA, "adx", w.cluster, "Microsoft.Kusto/clusters"},
		{"account", w.subA, "data", w.account, "Microsoft.Storage/storageAccounts"},
		{"far account", w.subB, "far", w.far, "Microsoft.Storage/storageAccounts"},
	}
	// What each principal may do, per target: r(ead) w(rite) d(elete)
	// a(pprove) s (assign roles). Written out, not computed.
	allowed := map[string]map[string]string{
		"owner":        {"cluster": "rwds", "account": "rwdas", "far account": "rwdas"},
		"clusterAdmin": {"cluster": "rwd", "account": "", "far account": ""},
		"dataOwner":    {"cluster": "", "account": "rwdas", "far account": ""},
		"reader":       {"cluster": "r", "account": "r", "far account": ""},
		"approver":     {"cluster": "", "account": "a", "far account": ""},
		"stranger":     {"cluster": "", "account": "", "far account": ""},
	}
	names := make([]string, 0, len(allowed))
	for n := range allowed {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, who := range names {
		cred, oid := w.principals[who], w.principalIDs[who]
		res := must(armresources.NewClient(w.subA, cred, w.env.Options))
		// The assignments who makes grant a principal that takes no part.
		nobody := w.env.NewPrincipal(t, "nobody-for-"+who)
		for _, tg := range targets {
			can := allowed[who][tg.name]
			apiVersion := "2024-04-13"
			if strings.HasPrefix(tg.typ, "Microsoft.Storage") {
				apiVersion = "2024-01-01"
			}
			check := func(action, verb string, err error) {
				t.Helper()
				want := strings.Contains(can, verb)
				if want && err != nil {
					t.Errorf("%s may %s the %s: %v", who, action, tg.name, err)
				}
				if !want {
					if msg := refusal(err, "AuthorizationFailed", oid, "", tg.id); msg != "" {
						t.Errorf("%s may not %s the %s: %s", who, action, tg.name, msg)
					}
				}
			}
			_, err := res.GetByID(ctx, tg.id, apiVersion, nil)
			check("read", "r", err)
			_, err = res.BeginUpdateByID(ctx, tg.id, apiVersion, armresources.GenericResource{Tags: map[string]*string{"by": to.Ptr(who)}}, nil)
			check("write", "w", err)
			// A delete of something that is not there: authorized before
			// existence, so it answers 204 or 403 without losing anything.
			_, err = res.BeginDeleteByID(ctx, tg.id+"/providers/Microsoft.Insights/diagnosticSettings/none", "2021-05-01-preview", nil)
			if strings.Contains(can, "d") != (err == nil) {
				t.Errorf("%s delete below the %s: %v (want allowed %v)", who, tg.name, err, strings.Contains(can, "d"))
			}
			ras := must(armauthorization.NewRoleAssignmentsClient(tg.sub, cred, w.env.Options))
			_, err = ras.Create(ctx, tg.id, uuid.NewString(), armauthorization.RoleAssignmentCreateParameters{Properties: &armauthorization.RoleAssignmentProperties{
				RoleDefinitionID: to.Ptr(w.roleDef(tg.sub, reader)), PrincipalID: to.Ptr(nobody.ObjectID), PrincipalType: to.Ptr(armauthorization.PrincipalTypeServicePrincipal)}}, nil)
			check("assign roles at", "s", err)
			if tg.name == "account" {
				pecs := must(armstorage.NewPrivateEndpointConnectionsClient(tg.sub, cred, w.env.Options))
				// A rejection of the Pending connection with an unknown
				// status is refused by the account (400) once authorized,
				// and by access control (403) otherwise: no state changes.
				_, err := pecs.Put(ctx, "data", "share", conn, armstorage.PrivateEndpointConnection{Properties: &armstorage.PrivateEndpointConnectionProperties{
					PrivateLinkServiceConnectionState: &armstorage.PrivateLinkServiceConnectionState{Status: to.Ptr(armstorage.PrivateEndpointServiceConnectionStatus("Maybe"))}}}, nil)
				var re *azcore.ResponseError
				authorized := errors.As(err, &re) && re.StatusCode == http.StatusBadRequest
				if authorized != strings.Contains(can, "a") {
					t.Errorf("%s approve on the account: %v (want authorized %v)", who, err, strings.Contains(can, "a"))
				}
			}
		}
	}
	// The approver, with the approval action alone, approves.
	pecs := must(armstorage.NewPrivateEndpointConnectionsClient(w.subA, w.approver.Cred, w.env.Options))
	got := must(pecs.Put(ctx, "data", "share", conn, armstorage.PrivateEndpointConnection{Properties: &armstorage.PrivateEndpointConnectionProperties{
		PrivateLinkServiceConnectionState: &armstorage.PrivateLinkServiceConnectionState{Status: to.Ptr(armstorage.PrivateEndpointServiceConnectionStatusApproved), Description: to.Ptr("ok")}}}, nil))
	if *got.Properties.PrivateLinkServiceConnectionState.Status != armstorage.PrivateEndpointServiceConnectionStatusApproved {
		t.Errorf("approver's approval: %+v", got.Properties.PrivateLinkServiceConnectionState)
	}
}

// TestListsShowWhatCallersMayRead: lists of subscriptions, groups and
// resources show each principal what it may read, and refuse one with no
// access in the scope at all.
func TestListsShowWhatCallersMayRead(t *testing.T) {
	w := setup(t)
	wantSubs := map[string][]string{
		"owner": {w.subA, w.subB}, "clusterAdmin": {w.subA}, "dataOwner": {w.subA}, "reader": {w.subA}, "approver": {w.subA}, "stranger": {},
	}
	wantGroups := map[string][]string{ // in subscription A; nil: refused
		"owner": {"adx", "data"}, "clusterAdmin": {"adx"}, "dataOwner": {"data"}, "reader": {"adx", "data"}, "approver": {}, "stranger": nil,
	}
	wantAccounts := map[string][]string{ // in subscription A; nil: refused
		"owner": {"share"}, "clusterAdmin": {}, "dataOwner": {"share"}, "reader": {"share"}, "approver": {}, "stranger": nil,
	}
	for who, cred := range w.principals {
		subs := []string{}
		for p := must(armsubscriptions.NewClient(cred, w.env.Options)).NewListPager(nil); p.More(); {
			for _, s := range must(p.NextPage(ctx)).Value {
				subs = append(subs, *s.SubscriptionID)
			}
		}
		if !sameSet(subs, wantSubs[who]) {
			t.Errorf("%s lists subscriptions %v, want %v", who, subs, wantSubs[who])
		}
		groups, err := list(func() ([]string, error) {
			var out []string
			for p := must(armresources.NewResourceGroupsClient(w.subA, cred, w.env.Options)).NewListPager(nil); p.More(); {
				page, err := p.NextPage(ctx)
				if err != nil {
					return nil, err
				}
				for _, g := range page.Value {
					out = append(out, *g.Name)
				}
			}
			return out, nil
		})
		checkList(t, who, "resource groups", groups, err, wantGroups[who], w.principalIDs[who])
		accounts, err := list(func() ([]string, error) {
			var out []string
			for p := must(armstorage.NewAccountsClient(w.subA, cred, w.env.Options)).NewListPager(nil); p.More(); {
				page, err := p.NextPage(ctx)
				if err != nil {
					return nil, err
				}
				for _, a := range page.Value {
					out = append(out, *a.Name)
				}
			}
			return out, nil
		})
		checkList(t, who, "storage accounts", accounts, err, wantAccounts[who], w.principalIDs[who])
		// The group's resources: never an item the caller may not read.
		items, err := list(func() ([]string, error) {
			var out []string
			for p := must(armresources.NewClient(w.subA, cred, w.env.Options)).NewListByResourceGroupPager("data", nil); p.More(); {
				page, err := p.NextPage(ctx)
				if err != nil {
					return nil, err
				}
				for _, a := range page.Value {
					out = append(out, *a.Name)
				}
			}
			return out, nil
		})
		want := map[string][]string{"owner": {"share"}, "dataOwner": {"share"}, "reader": {"share"}, "approver": {}}[who]
		if who == "clusterAdmin" || who == "stranger" {
			want = nil // no access in the group at all
		}
		checkList(t, who, "the data group's resources", items, err, want, w.principalIDs[who])
	}
	// A caller without access learns nothing of what is inside: a group
	// that exists and one that does not answer alike.
	rg := must(armresources.NewResourceGroupsClient(w.subA, w.stranger.Cred, w.env.Options))
	_, e1 := rg.Get(ctx, "data", nil)
	_, e2 := rg.Get(ctx, "nosuchgroup", nil)
	for _, e := range []error{e1, e2} {
		if msg := refusal(e, "AuthorizationFailed", w.stranger.ObjectID, "Microsoft.Resources/subscriptions/resourceGroups/read", ""); msg != "" {
			t.Errorf("stranger reading a group: %s", msg)
		}
	}
}

func list(f func() ([]string, error)) ([]string, error) { return f() }

func checkList(t *testing.T, who, what string, got []string, err error, want []string, oid string) {
	t.Helper()
	if want == nil {
		if msg := refusal(err, "AuthorizationFailed", oid, "", ""); msg != "" {
			t.Errorf("%s lists %s: %s (want AuthorizationFailed)", who, what, msg)
		}
		return
	}
	if err != nil {
		t.Errorf("%s lists %s: %v", who, what, err)
		return
	}
	if !sameSet(got, want) {
		t.Errorf("%s lists %s %v, want %v", who, what, got, want)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
