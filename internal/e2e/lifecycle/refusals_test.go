package lifecycle

import (
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/kusto/armkusto/v2"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/subscription/armsubscription"
	"github.com/privlink/privlink/internal/testkit"
	"github.com/privlink/privlink/internal/testkit/fixtures"
)

// TestRefusals covers every reason to refuse a managed private endpoint, each
// an ARM error that says what to do, and that nothing is left behind.
func TestRefusals(t *testing.T) {
	defer fixtures.FailOnPanic(t)
	env := testkit.Start(t)
	fixtures.CreateRG(t, env, env.Subscription, "adx")
	fixtures.CreateRG(t, env, env.Subscription, "targets")
	createCluster(t, env, "adx", "mycluster", nil)
	createCluster(t, env, "adx", "injected", &armkusto.VirtualNetworkConfiguration{
		SubnetID:                 to.Ptr("/subscriptions/" + env.Subscription + "/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/vnet/subnets/adx"),
		EnginePublicIPID:         to.Ptr("/subscriptions/" + env.Subscription + "/resourceGroups/net/providers/Microsoft.Network/publicIPAddresses/engine"),
		DataManagementPublicIPID: to.Ptr("/subscriptions/" + env.Subscription + "/resourceGroups/net/providers/Microsoft.Network/publicIPAddresses/dm"),
	})
	sa := targets()[0].Create(t, env, "targets", "share")
	missing := "/subscriptions/" + env.Subscription + "/resourceGroups/targets/providers/Microsoft.Storage/storageAccounts/nothere"

	tests := []struct {
		name, cluster, mpe, target, group string
		status                            int
		code                              string
		mention                           []string
	}{
		{"target does not exist", "mycluster", "m1", missing, "blob", http.StatusBadRequest, "PrivateLinkResourceNotFound", []string{"nothere"}},
		{"groupId not valid for the type", "mycluster", "m2", sa, "queue", http.StatusBadRequest, "InvalidGroupId", []string{"'blob'", "'dfs'"}},
		{"type cannot be a target", "mycluster", "m3", "/subscriptions/" + env.Subscription + "/resourceGroups/targets", "blob", http.StatusBadRequest, "PrivateLinkResourceTypeNotSupported", []string{"Microsoft.Storage/storageAccounts"}},
		{"id does not parse", "mycluster", "m4", "storage-account-name", "blob", http.StatusBadRequest, "LinkedInvalidPropertyId", []string{"privateLinkResourceId"}},
		{"cluster is VNet-injected", "injected", "m5", sa, "blob", http.StatusBadRequest, "ManagedPrivateEndpointsNotSupported", []string{"virtual network"}},
		{"name out of bounds", "mycluster", strings.Repeat("n", 81), sa, "blob", http.StatusBadRequest, "InvalidResourceName", []string{"80"}},
		{"cluster does not exist", "nocluster", "m6", sa, "blob", http.StatusNotFound, "ParentResourceNotFound", []string{"nocluster"}},
	}
	mc := fixtures.Must(armkusto.NewManagedPrivateEndpointsClient(env.Subscription, env.Cred, env.Options))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer fixtures.FailOnPanic(t)
			_, err := fixtures.CreateMPE(t, env, "adx", tc.cluster, tc.mpe, tc.target, tc.group, "Please Approve.")
			msg := armError(t, err, tc.status, tc.code)
			for _, m := range tc.mention {
				if !strings.Contains(msg, m) {
					t.Errorf("message does not mention %q: %s", m, msg)
				}
			}
			if _, err := mc.Get(ctx, "adx", tc.cluster, tc.mpe, nil); err == nil {
				t.Fatal("a refused endpoint exists")
			}
		})
	}
	if n := len(targets()[0].Conns(t, env, "targets", "share")); n != 0 {
		t.Fatalf("refused endpoints left %d connections on the target", n)
	}

	t.Run("target subscription not registered to Microsoft.Network", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		ac := fixtures.Must(armsubscription.NewAliasClient(env.Cred, env.Options))
		p := fixtures.Must(ac.BeginCreate(ctx, "second", armsubscription.PutAliasRequest{Properties: &armsubscription.PutAliasRequestProperties{
			DisplayName: to.Ptr("second"), Workload: to.Ptr(armsubscription.WorkloadProduction), BillingScope: to.Ptr("/billing")}}, nil))
		alias := fixtures.Must(p.PollUntilDone(ctx, testkit.PollOptions))
		sub := *alias.Properties.SubscriptionID
		fixtures.CreateRG(t, env, sub, "far")
		sc := fixtures.Must(armresources.NewProvidersClient(sub, env.Cred, env.Options))
		reg := fixtures.Must(sc.Get(ctx, "Microsoft.Network", nil))
		if got := *reg.RegistrationState; got != "NotRegistered" {
			t.Fatalf("a new subscription's Microsoft.Network is %s, want NotRegistered", got)
		}
		// A target in the new subscription (its Storage registration happens on first PUT).
		other := *env
		other.Subscription = sub
		far := targets()[0].Create(t, &other, "far", "farstore")
		_, err := fixtures.CreateMPE(t, env, "adx", "mycluster", "toFar", far, "blob", "m")
		msg := armError(t, err, http.StatusConflict, "LinkedMissingSubscriptionRegistration")
		if !strings.Contains(msg, "Microsoft.Network") || !strings.Contains(msg, "register") {
			t.Fatalf("message does not tell how to register: %s", msg)
		}
		fixtures.Must(sc.Register(ctx, "Microsoft.Network", nil))
		if _, err := fixtures.CreateMPE(t, env, "adx", "mycluster", "toFar", far, "blob", "m"); err != nil {
			t.Fatalf("after registering Microsoft.Network: %v", err)
		}
		fixtures.Must(sc.Unregister(ctx, "Microsoft.Network", nil))
		if got := *fixtures.Must(sc.Get(ctx, "Microsoft.Network", nil)).RegistrationState; got != "Unregistered" {
			t.Fatalf("after unregister: %s", got)
		}
	})

	t.Run("groupId and target cannot change", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		fixtures.Must(fixtures.CreateMPE(t, env, "adx", "mycluster", "fixed", sa, "blob", "m"))
		_, err := fixtures.CreateMPE(t, env, "adx", "mycluster", "fixed", sa, "dfs", "m")
		armError(t, err, http.StatusBadRequest, "BadRequest")
	})

	t.Run("dfs without blob is allowed, with a note", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		createCluster(t, env, "adx", "lake", nil)
		lake := targets()[0].Create(t, env, "targets", "lakestore")
		dfs := fixtures.Must(fixtures.CreateMPE(t, env, "adx", "lake", "dfsOnly", lake, "dfs", "m"))
		if notes := fixtures.StateOf(t, env, *dfs.ID).Notes; len(notes) != 1 || !strings.Contains(notes[0], "blob") {
			t.Fatalf("notes = %q, want one saying dfs needs blob", notes)
		}
		fixtures.Must(fixtures.CreateMPE(t, env, "adx", "lake", "blobToo", lake, "blob", "m"))
		if notes := fixtures.StateOf(t, env, *dfs.ID).Notes; len(notes) != 0 {
			t.Fatalf("notes after adding blob = %q, want none", notes)
		}
	})

	t.Run("check name availability", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		for _, tc := range []struct {
			name      string
			available bool
			reason    armkusto.Reason
		}{{"fixed", false, armkusto.ReasonAlreadyExists}, {"brandNew", true, ""}, {"bad name!", false, armkusto.ReasonInvalid}} {
			res := fixtures.Must(mc.CheckNameAvailability(ctx, "adx", "mycluster", armkusto.ManagedPrivateEndpointsCheckNameRequest{Name: to.Ptr(tc.name), Type: to.Ptr("Microsoft.Kusto/clusters/managedPrivateEndpoints")}, nil))
			if got := *res.NameAvailable; got != tc.available {
				t.Errorf("%q available = %v, want %v", tc.name, got, tc.available)
			}
			if tc.reason != "" && (res.Reason == nil || *res.Reason != tc.reason) {
				t.Errorf("%q reason = %v, want %s", tc.name, res.Reason, tc.reason)
			}
		}
	})

	t.Run("unsupported api-version", func(t *testing.T) {
		defer fixtures.FailOnPanic(t)
		// The SDK pins 2024-04-13; a raw request asks for a version without
		// managed private endpoints (they came with 2021-08-27).
		req, _ := http.NewRequest(http.MethodGet, env.URL+"/subscriptions/"+env.Subscription+"/resourceGroups/adx/providers/Microsoft.Kusto/clusters/mycluster/managedPrivateEndpoints?api-version=2021-01-01", nil)
		req.Header.Set("Authorization", "Bearer "+env.Token(t))
		resp := fixtures.Must(env.HTTP.Do(req))
		resp.Body.Close()
		if got, want := resp.StatusCode, http.StatusBadRequest; got != want {
			t.Fatalf("status = %d, want %d", got, want)
		}
	})
}
