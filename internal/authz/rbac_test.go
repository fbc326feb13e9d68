package authz_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/authz"
	"github.com/privlink/privlink/internal/store"
	"github.com/privlink/privlink/internal/store/sqlite"
)

func TestPatternMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, action string
		want            bool
	}{
		{"*", "microsoft.storage/storageaccounts/write", true},
		{"*/read", "microsoft.storage/storageaccounts/read", true},
		{"*/read", "microsoft.storage/storageaccounts/write", false},
		{"Microsoft.Storage/*", "microsoft.storage/storageaccounts/write", true},
		{"Microsoft.Storage/*", "microsoft.storagesync/x/write", false},
		{"Microsoft.Cost*/*", "microsoft.costmanagement/query/action", true},
		{"Microsoft.Compute/*/read", "microsoft.compute/virtualmachines/extensions/read", true},
		{"Microsoft.Compute/*/read", "microsoft.compute/virtualmachines/write", false},
		{"Microsoft.Authorization/*/Write", "microsoft.authorization/roleassignments/write", true},
		{"Microsoft.Authorization/*/Write", "microsoft.authorization/write", false},
		{"Microsoft.Storage/storageAccounts/read", "microsoft.storage/storageaccounts/read", true},
		{"Microsoft.Storage/storageAccounts/read", "microsoft.storage/storageaccounts/reads", false},
		{"*/privateEndpointConnectionsApproval/action", "microsoft.storage/storageaccounts/privateendpointconnectionsapproval/action", true},
		{"a*b*c", "abc", true},
		{"a*b*c", "axbyc", true},
		{"a*b*c", "acb", false},
		{"ab*ba", "aba", false}, // prefix and suffix may not overlap
	} {
		if got := authz.Compile(tc.pattern).Match(tc.action); got != tc.want {
			t.Errorf("Compile(%q).Match(%q) = %v, want %v", tc.pattern, tc.action, got, tc.want)
		}
	}
}

const (
	ownerID       = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
	contributorID = "b24988ac-6180-42a0-ab88-20f7382dd24c"
	readerID      = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
	sub           = "/subscriptions/00000000-0000-4000-8000-000000000002"
)

func builtins() []*authz.Role {
	return []*authz.Role{
		authz.NewRole(ownerID, "Owner", true, []authz.Block{{Actions: []string{"*"}}}, []string{"/"}),
		authz.NewRole(contributorID, "Contributor", true, []authz.Block{{Actions: []string{"*"}, NotActions: []string{
			"Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write", "Microsoft.Authorization/elevateAccess/Action",
		}}}, []string{"/"}),
		authz.NewRole(readerID, "Reader", true, []authz.Block{{Actions: []string{"*/read"}}}, []string{"/"}),
	}
}

func openStore(t *testing.T) store.Store {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// put stores a role assignment or definition document at id.
func put(t *testing.T, s store.Store, id, typ, body string) string {
	t.Helper()
	err := s.Update(context.Background(), func(tx store.Tx) error {
		rec := &store.Record{ID: id, Type: typ, Body: []byte(body)}
		if _, err := tx.Get(rec.Key()); err == nil {
			return tx.Replace(rec)
		}
		return tx.Create(rec)
	})
	if err != nil {
		t.Fatal(err)
	}
	return store.Key(id)
}

func assign(t *testing.T, s store.Store, scope, name, principal, role string) string {
	return put(t, s, strings.TrimSuffix(scope, "/")+"/providers/Microsoft.Authorization/roleAssignments/"+name, authz.AssignmentType,
		`{"properties":{"principalId":"`+principal+`","roleDefinitionId":"`+sub+`/providers/Microsoft.Authorization/roleDefinitions/`+role+`"}}`)
}

func id(t *testing.T, s string) arm.ResourceID {
	t.Helper()
	r, aerr := arm.ParseResourceID(s)
	if aerr != nil {
		t.Fatal(aerr)
	}
	return r
}

func TestRBAC(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	alice := &arm.Principal{ObjectID: "11111111-1111-1111-1111-111111111111", Name: "alice@privlink.local"}
	bob := &arm.Principal{ObjectID: "22222222-2222-2222-2222-222222222222", Name: "bob"}
	rg := sub + "/resourceGroups/data"
	sa := rg + "/providers/Microsoft.Storage/storageAccounts/sa"
	k1 := assign(t, s, rg, "a1", alice.ObjectID, contributorID)
	assign(t, s, sa, "a2", bob.ObjectID, readerID)
	custom := put(t, s, sub+"/providers/Microsoft.Authorization/roleDefinitions/33333333-3333-3333-3333-333333333333", authz.DefinitionType,
		`{"name":"33333333-3333-3333-3333-333333333333","properties":{"roleName":"Approver","permissions":[{"actions":["Microsoft.Storage/storageAccounts/privateEndpointConnectionsApproval/action"]}],"assignableScopes":["`+sub+`"]}}`)
	assign(t, s, sa, "a3", bob.ObjectID, "33333333-3333-3333-3333-333333333333")

	r := authz.NewRBAC(s, builtins())
	if err := r.Load(ctx); err != nil {
		t.Fatal(err)
	}
	check := func(p *arm.Principal, action, scope string, want bool) {
		t.Helper()
		err := r.Authorize(ctx, p, action, id(t, scope))
		if got := err == nil; got != want {
			t.Errorf("%s %s at %s: allowed %v, want %v (%v)", p.Name, action, scope, got, want, err)
		}
		if err != nil && arm.AsError(err).Code != arm.CodeAuthorizationFailed {
			t.Errorf("error code %s", arm.AsError(err).Code)
		}
	}
	check(alice, "Microsoft.Storage/storageAccounts/write", sa, true)
	check(alice, "Microsoft.Storage/storageAccounts/write", rg, true)
	check(alice, "Microsoft.Storage/storageAccounts/write", sub+"/resourceGroups/other", false)
	check(alice, "Microsoft.Resources/subscriptions/resourceGroups/read", sub, false)
	check(alice, "Microsoft.Authorization/roleAssignments/write", sa, false) // Contributor's notActions
	check(alice, "microsoft.authorization/ROLEASSIGNMENTS/read", sa, true)
	check(bob, "Microsoft.Storage/storageAccounts/read", sa, true)
	check(bob, "Microsoft.Storage/storageAccounts/read", rg, false)
	check(bob, "Microsoft.Storage/storageAccounts/privateEndpointConnectionsApproval/action", sa, true)
	check(bob, "Microsoft.Storage/storageAccounts/privateEndpointConnections/write", sa+"/privateEndpointConnections/c", false)
	check(bob, "Microsoft.Storage/storageAccounts/privateEndpointConnections/read", sa+"/privateEndpointConnections/c", true)

	if got := r.Reach(ctx, bob, id(t, rg)); got != authz.Below {
		t.Errorf("bob's reach at the group = %v, want Below", got)
	}
	if got := r.Reach(ctx, alice, id(t, sa)); got != authz.At {
		t.Errorf("alice's reach at the account = %v, want At", got)
	}
	if got := r.Reach(ctx, alice, id(t, sub+"/resourceGroups/other")); got != 0 {
		t.Errorf("alice's reach elsewhere = %v, want none", got)
	}

	// Changes take effect once refreshed: the assignment removed, a role changed.
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Delete(k1) }); err != nil {
		t.Fatal(err)
	}
	put(t, s, sub+"/providers/Microsoft.Authorization/roleDefinitions/33333333-3333-3333-3333-333333333333", authz.DefinitionType,
		`{"name":"33333333-3333-3333-3333-333333333333","properties":{"roleName":"Approver","permissions":[{"actions":["*/write"]}],"assignableScopes":["`+sub+`"]}}`)
	if err := r.Refresh(ctx, k1, custom); err != nil {
		t.Fatal(err)
	}
	check(alice, "Microsoft.Storage/storageAccounts/write", sa, false)
	check(bob, "Microsoft.Storage/storageAccounts/privateEndpointConnectionsApproval/action", sa, false)
	check(bob, "Microsoft.Storage/storageAccounts/write", sa, true)

	// The tenant root reaches everything.
	assign(t, s, "/", "a4", alice.ObjectID, readerID)
	if err := r.Refresh(ctx, "/providers/microsoft.authorization/roleassignments/a4"); err != nil {
		t.Fatal(err)
	}
	check(alice, "Microsoft.Resources/subscriptions/read", sub, true)
	check(alice, "Microsoft.Resources/subscriptions/read", "/", true)
	if got := len(r.Permissions(bob, store.Key(sa))); got != 2 {
		t.Errorf("bob's permission blocks at the account: %d, want 2", got)
	}
}
