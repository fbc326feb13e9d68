package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/privlink/privlink/internal/testkit"
)

// GUIDs of Azure's built-in roles the tests use.
const (
	readerRole      = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
	contributorRole = "b24988ac-6180-42a0-ab88-20f7382dd24c"
	ownerRole       = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
)

// assignmentDoc is a role assignment as the API answers it.
type assignmentDoc struct {
	ID, Name   string
	Properties struct {
		RoleDefinitionID, PrincipalID, PrincipalType, Scope string
		Description                                         *string
	}
}

// definitionDoc is a role definition as the API answers it.
type definitionDoc struct {
	ID, Name   string
	Properties struct {
		RoleName, Type, Description string
		AssignableScopes            []string
		Permissions                 []struct{ Actions, NotActions, DataActions, NotDataActions []string }
	}
}

// assignmentIDs lists the ids of 'role assignment list' output.
func assignmentIDs(t *testing.T, r result) []string {
	t.Helper()
	var list []assignmentDoc
	decode(t, r, &list)
	ids := []string{}
	for _, a := range list {
		ids = append(ids, a.ID)
	}
	return ids
}

// serverCode is the error code the server answers a GET of path with, as
// the default service principal.
func serverCode(t *testing.T, env *testkit.Env, path string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, env.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+env.Token(t))
	resp, err := env.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&e)
	if e.Error.Code == "" {
		t.Fatalf("GET %s: %d without an error code", path, resp.StatusCode)
	}
	return e.Error.Code
}

// TestRoleAssignments: create, list and delete role assignments with the
// assignee as an app id, an object id, a UPN or a user's name, and the
// role as a name, a GUID or a role definition id; az's list and delete
// semantics; the server's errors for bad inputs, usage errors for bad
// command lines.
func TestRoleAssignments(t *testing.T) {
	env, admin := adminCLI(t)
	sub := "/subscriptions/" + env.Subscription
	rg := sub + "/resourceGroups/work"
	admin.ok("put", rg+"?api-version=2021-04-01", "{'location':'westus'}")
	sp := createSP(t, admin, "--name", "worker")
	var spObj, user struct{ ObjectID string }
	decode(t, admin.ok("sp", "show", "--id", sp.AppID), &spObj)
	admin.ok("user", "create", "--name", "dana", "--password", "long-enough-1")
	decode(t, admin.ok("user", "show", "--id", "dana"), &user)

	tests := []struct {
		name, assignee, role, scope string
		wantPrincipal, wantType     string
		wantRole, listRole          string
	}{
		{"app id, role name", sp.AppID, "Reader", "", spObj.ObjectID, "ServicePrincipal", readerRole, "reader"},
		{"object id, role GUID", spObj.ObjectID, contributorRole, rg, spObj.ObjectID, "ServicePrincipal", contributorRole, "Contributor"},
		{"UPN, role definition id", "dana@privlink.local", sub + "/providers/Microsoft.Authorization/roleDefinitions/" + readerRole, rg, user.ObjectID, "User", readerRole, readerRole},
		{"user name, role name in another case", "dana", "contributor", "", user.ObjectID, "User", contributorRole, contributorRole},
		{"user's object id, Owner", user.ObjectID, "Owner", rg, user.ObjectID, "User", ownerRole, "Owner"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			admin.t = t
			args := []string{"role", "assignment", "create", "--assignee", tt.assignee, "--role", tt.role}
			scope := sub
			if tt.scope != "" {
				args, scope = append(args, "--scope", tt.scope), tt.scope
			}
			var a assignmentDoc
			decode(t, admin.ok(args...), &a)
			if a.Properties.PrincipalID != tt.wantPrincipal || a.Properties.PrincipalType != tt.wantType ||
				lastSegment(a.Properties.RoleDefinitionID) != tt.wantRole || !strings.EqualFold(a.Properties.Scope, scope) || !isGUID(a.Name) {
				t.Fatalf("created %+v; want principal %s (%s), role %s at %s, a GUID name", a, tt.wantPrincipal, tt.wantType, tt.wantRole, scope)
			}
			for _, list := range [][]string{
				{"--assignee", tt.assignee, "--scope", scope},
				{"--assignee", tt.assignee, "--scope", scope, "--role", tt.listRole},
				{"--assignee", tt.assignee, "--all"},
			} {
				if ids := assignmentIDs(t, admin.ok(append([]string{"role", "assignment", "list"}, list...)...)); !contains(ids, a.ID) {
					t.Fatalf("list %v: %v, want %s among them", list, ids, a.ID)
				}
			}
			if r := admin.ok("role", "assignment", "delete", "--ids", a.ID); !strings.Contains(r.stderr, "deleted role assignment "+a.ID) {
				t.Fatalf("delete said %q", r.stderr)
			}
			if ids := assignmentIDs(t, admin.ok("role", "assignment", "list", "--assignee", tt.assignee, "--all")); contains(ids, a.ID) {
				t.Fatalf("%s is still listed after its deletion", a.ID)
			}
			if r := admin.ok("role", "assignment", "delete", "--ids", a.ID); !strings.Contains(r.stderr, "nothing to delete") {
				t.Fatalf("a second delete said %q", r.stderr)
			}
		})
	}

	t.Run("list and delete as az does", func(t *testing.T) {
		admin.t = t
		var atSub, atRG assignmentDoc
		decode(t, admin.ok("role", "assignment", "create", "--assignee", "dana", "--role", "Reader", "--description", "reads everything"), &atSub)
		decode(t, admin.ok("role", "assignment", "create", "--assignee", "dana", "--role", "Contributor", "--scope", rg), &atRG)
		if atSub.Properties.Description == nil || *atSub.Properties.Description != "reads everything" {
			t.Fatalf("description not kept: %+v", atSub.Properties)
		}
		for _, tt := range []struct {
			args []string
			want []string
		}{
			{[]string{"--assignee", "dana"}, []string{atSub.ID}},
			{[]string{"--assignee", "dana", "--scope", rg}, []string{atRG.ID}},
			{[]string{"--assignee", "dana", "--scope", rg, "--include-inherited"}, []string{atRG.ID, atSub.ID}},
			{[]string{"--assignee", "dana", "--all"}, []string{atRG.ID, atSub.ID}},
			{[]string{"--assignee", "dana", "--all", "--role", "Reader"}, []string{atSub.ID}},
			{[]string{"--assignee", sp.AppID}, []string{}},
		} {
			got := assignmentIDs(t, admin.ok(append([]string{"role", "assignment", "list"}, tt.args...)...))
			if !sameSet(got, tt.want) {
				t.Fatalf("list %v: %v, want %v", tt.args, got, tt.want)
			}
		}
		// Without --assignee: every assignment at the subscription (the
		// default principals are its owners).
		if got := assignmentIDs(t, admin.ok("role", "assignment", "list")); !contains(got, atSub.ID) || contains(got, atRG.ID) || len(got) < 3 {
			t.Fatalf("list: %v, want the subscription's assignments only", got)
		}
		admin.fails(1, []string{"409 Conflict", "RoleAssignmentExists"}, "role", "assignment", "create", "--assignee", "dana", "--role", "Reader")
		admin.fails(1, []string{"400 Bad Request", "UnmatchedPrincipalType"}, "role", "assignment", "create", "--assignee", sp.AppID, "--role", "Reader", "--assignee-principal-type", "User")

		// dana may read assignments, not make them.
		as := newCLI(t)
		as.ok("login", "--endpoint", env.URL, "--ca", env.Server.CAPath(), "--username", "dana", "--password", "long-enough-1")
		as.ok("role", "assignment", "list", "--all")
		as.fails(1, []string{"403 Forbidden", "AuthorizationFailed"}, "role", "assignment", "create", "--assignee", "dana", "--role", "Owner")

		r := admin.ok("role", "assignment", "delete", "--assignee", "dana", "--role", "Reader")
		if !strings.Contains(r.stderr, "deleted role assignment "+atSub.ID) || strings.Contains(r.stderr, atRG.ID) {
			t.Fatalf("delete --assignee --role: %q, want only %s deleted", r.stderr, atSub.ID)
		}
		if r := admin.ok("role", "assignment", "delete", "--assignee", "dana"); !strings.Contains(r.stderr, "No matched assignments were found to delete") {
			t.Fatalf("delete at the subscription: %q, want nothing matched (the other is at the group)", r.stderr)
		}
		if r := admin.ok("role", "assignment", "delete", "--assignee", "dana", "--scope", rg); !strings.Contains(r.stderr, "deleted role assignment "+atRG.ID) {
			t.Fatalf("delete --scope: %q", r.stderr)
		}
		if got := assignmentIDs(t, admin.ok("role", "assignment", "list", "--assignee", "dana", "--all")); len(got) != 0 {
			t.Fatalf("assignments left: %v", got)
		}
	})

	t.Run("bad inputs", func(t *testing.T) {
		badSub := "/subscriptions/not-a-guid"
		missingRG := sub + "/resourceGroups/nope"
		for _, tt := range []struct {
			name string
			args []string
			code int
			want []string
		}{
			{"unknown role name", []string{"create", "--assignee", "dana", "--role", "Nope"}, 1, []string{"Role 'Nope' doesn't exist"}},
			{"unknown role GUID", []string{"create", "--assignee", "dana", "--role", "11111111-1111-1111-1111-111111111111"}, 1, []string{"400 Bad Request", "RoleDefinitionDoesNotExist"}},
			{"unknown assignee", []string{"create", "--assignee", "nobody@privlink.local", "--role", "Reader"}, 1, []string{"404 Not Found", "Request_ResourceNotFound", "nobody@privlink.local"}},
			{"unknown assignee GUID", []string{"create", "--assignee", "22222222-2222-2222-2222-222222222222", "--role", "Reader"}, 1, []string{"Request_ResourceNotFound"}},
			{"malformed subscription in scope", []string{"create", "--assignee", "dana", "--role", "Reader", "--scope", badSub}, 1,
				[]string{serverCode(t, env, badSub+"/providers/Microsoft.Authorization/roleDefinitions?api-version="+authorizationAPIVersion)}},
			{"malformed scope path", []string{"create", "--assignee", "dana", "--role", "Reader", "--scope", sub + "/resourceGroups"}, 1,
				[]string{serverCode(t, env, sub+"/resourceGroups/providers/Microsoft.Authorization/roleDefinitions?api-version="+authorizationAPIVersion)}},
			{"missing group in scope", []string{"create", "--assignee", "dana", "--role", contributorRole, "--scope", missingRG}, 1, []string{"404 Not Found", "ResourceGroupNotFound"}},
			{"list in a malformed scope", []string{"list", "--scope", badSub}, 1, []string{"400 Bad Request"}},
			{"bad principal type", []string{"create", "--assignee", "dana", "--role", "Reader", "--assignee-principal-type", "Robot"}, 1, []string{"InvalidPrincipalType"}},
			{"scope is not an id", []string{"create", "--assignee", "dana", "--role", "Reader", "--scope", "work"}, 2, []string{"--scope must be a resource id"}},
			{"no assignee", []string{"create", "--role", "Reader"}, 2, []string{`required flag(s) "assignee" not set`}},
			{"no role", []string{"create", "--assignee", "dana"}, 2, []string{`required flag(s) "role" not set`}},
			{"empty assignee", []string{"create", "--assignee", "", "--role", "Reader"}, 2, []string{"--assignee needs a value"}},
			{"all with scope", []string{"list", "--all", "--scope", rg}, 2, []string{"--all"}},
			{"delete nothing named", []string{"delete"}, 2, []string{"name the assignments to delete"}},
			{"delete ids and filters", []string{"delete", "--ids", rg, "--role", "Reader"}, 2, []string{"--ids names the assignments"}},
			{"delete with a stray word", []string{"delete", "--assignee", "dana", "Reader"}, 2, []string{"unexpected argument"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				admin.t = t
				admin.fails(tt.code, tt.want, append([]string{"role", "assignment"}, tt.args...)...)
			})
		}
	})
}

// sameSet reports whether a and b hold the same strings.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, s := range a {
		if !contains(b, s) {
			return false
		}
	}
	return true
}

// TestRoleDefinitions: a custom role in az's shape is created, listed,
// assigned (and then grants what it says), refused deletion while
// assigned, and deleted; ids, files, standard input and the API's own
// shape are accepted; bad definitions are refused.
func TestRoleDefinitions(t *testing.T) {
	env, admin := adminCLI(t)
	sub := "/subscriptions/" + env.Subscription

	r := admin.ok("role", "definition", "create", "--role-definition", `{"name": "Group Lister", "DESCRIPTION": "lists groups",
		"actions": ["Microsoft.Resources/subscriptions/resourceGroups/read"], "NotActions": [], "assignableScopes": ["`+sub+`"]}`)
	var d definitionDoc
	decode(t, r, &d)
	if d.Properties.RoleName != "Group Lister" || d.Properties.Type != "CustomRole" || d.Properties.Description != "lists groups" || !isGUID(d.Name) ||
		len(d.Properties.Permissions) != 1 || !reflect.DeepEqual(d.Properties.Permissions[0].Actions, []string{"Microsoft.Resources/subscriptions/resourceGroups/read"}) {
		t.Fatalf("created %+v", d)
	}
	names := func(args ...string) []string {
		t.Helper()
		var list []definitionDoc
		decode(t, admin.ok(append([]string{"role", "definition", "list"}, args...)...), &list)
		out := []string{}
		for _, x := range list {
			out = append(out, x.Name)
		}
		return out
	}
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"--custom-role-only"}, []string{d.Name}},
		{[]string{"--name", "Group Lister"}, []string{d.Name}},
		{[]string{"--name", "group lister", "--custom-role-only"}, []string{d.Name}},
		{[]string{"--name", d.Name}, []string{d.Name}},
		{[]string{"--name", "Owner"}, []string{ownerRole}},
		{[]string{"--name", ownerRole, "--scope", sub}, []string{ownerRole}},
		{[]string{"--name", ownerRole, "--custom-role-only"}, []string{}},
		{[]string{"--name", "No Such Role"}, []string{}},
		{[]string{"--name", "33333333-3333-3333-3333-333333333333"}, []string{}},
	} {
		if got := names(tt.args...); !reflect.DeepEqual(got, tt.want) {
			t.Fatalf("list %v: %v, want %v", tt.args, got, tt.want)
		}
	}
	if all := names(); len(all) < 900 || !contains(all, d.Name) || !contains(all, readerRole) {
		t.Fatalf("list: %d roles, want the built-in ones and the custom one", len(all))
	}

	// Assigned, the custom role grants what it says.
	sp := createSP(t, admin, "--name", "lister")
	as := newCLI(t)
	as.ok("login", "--endpoint", env.URL, "--ca", env.Server.CAPath(), "--client-id", sp.AppID, "--client-secret", sp.Password)
	rgs := sub + "/resourcegroups?api-version=2021-04-01"
	as.fails(1, []string{"AuthorizationFailed"}, "get", sub+"/resourcegroups/x?api-version=2021-04-01")
	admin.ok("role", "assignment", "create", "--assignee", sp.AppID, "--role", "Group Lister")
	as.ok("get", rgs)
	admin.fails(1, []string{"409 Conflict", "RoleDefinitionHasAssignments"}, "role", "definition", "delete", "--name", "Group Lister")
	admin.ok("role", "assignment", "delete", "--assignee", sp.AppID, "--role", "Group Lister")
	if r := admin.ok("role", "definition", "delete", "--name", "Group Lister"); !strings.Contains(r.stderr, "deleted role definition "+d.Name) {
		t.Fatalf("delete said %q", r.stderr)
	}
	if got := names("--custom-role-only"); len(got) != 0 {
		t.Fatalf("custom roles left: %v", got)
	}

	t.Run("ids, files, stdin and the API's shape", func(t *testing.T) {
		admin.t = t
		rg := sub + "/resourceGroups/roles"
		admin.ok("put", rg+"?api-version=2021-04-01", "{'location':'westus'}")
		const guid = "44444444-4444-4444-8444-444444444444"
		file := filepath.Join(t.TempDir(), "role.json")
		write := func(s string) {
			if err := os.WriteFile(file, []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write(`{"Name": "Watcher", "Id": "` + guid + `", "Description": "one", "Actions": ["*/read"], "AssignableScopes": ["` + rg + `"]}`)
		var got definitionDoc
		decode(t, admin.ok("role", "definition", "create", "--role-definition", "@"+file), &got)
		if got.Name != guid || got.Properties.AssignableScopes[0] != rg {
			t.Fatalf("created %+v, want the GUID %s assignable at %s", got, guid, rg)
		}
		// A file's name without '@', as az takes it: the same Id replaces the role.
		write(`{"roleName": "Watcher", "name": "` + guid + `", "description": "two", "actions": ["*/read"], "assignableScopes": ["` + rg + `"]}`)
		decode(t, admin.ok("role", "definition", "create", "--role-definition", file), &got)
		if got.Name != guid || got.Properties.Description != "two" {
			t.Fatalf("replaced %+v", got)
		}
		// The API's own shape, as 'role definition list' prints it, from stdin.
		var list []json.RawMessage
		decode(t, admin.ok("role", "definition", "list", "--name", "Watcher", "--scope", rg), &list)
		if len(list) != 1 {
			t.Fatalf("list --name Watcher at the group: %d roles", len(list))
		}
		doc := strings.Replace(string(list[0]), `"two"`, `"three"`, 1)
		r := admin.runIn(doc, "role", "definition", "create", "--role-definition", "@-")
		if r.code != 0 {
			t.Fatalf("create from the API's shape: exit %d\n%s", r.code, r.stderr)
		}
		decode(t, r, &got)
		if got.Name != guid || got.Properties.Description != "three" {
			t.Fatalf("replaced from the API's shape: %+v", got)
		}
		if r := admin.ok("role", "definition", "delete", "--name", guid, "--scope", rg); !strings.Contains(r.stderr, "deleted role definition "+guid) {
			t.Fatalf("delete by GUID said %q", r.stderr)
		}
		if r := admin.ok("role", "definition", "delete", "--name", guid, "--scope", rg); !strings.Contains(r.stderr, "nothing to delete") {
			t.Fatalf("a second delete said %q", r.stderr)
		}
	})

	t.Run("bad definitions", func(t *testing.T) {
		admin.t = t
		admin.ok("role", "definition", "create", "--role-definition", `{"Name": "Taken", "Actions": ["*/read"], "AssignableScopes": ["`+sub+`"]}`)
		scopes := `"AssignableScopes": ["` + sub + `"]`
		for _, tt := range []struct {
			name string
			args []string
			code int
			want []string
		}{
			{"name taken", []string{"create", "--role-definition", `{"Name": "Taken", ` + scopes + `}`}, 1, []string{"409 Conflict", "RoleDefinitionWithSameNameExists"}},
			{"name of a built-in role", []string{"create", "--role-definition", `{"Name": "Reader", ` + scopes + `}`}, 1, []string{"RoleDefinitionWithSameNameExists"}},
			{"unknown provider", []string{"create", "--role-definition", `{"Name": "Odd", "Actions": ["Contoso.Nothing/read"], ` + scopes + `}`}, 1, []string{"InvalidActionOrNotAction"}},
			{"assignable at a missing group", []string{"create", "--role-definition", `{"Name": "Odd", "AssignableScopes": ["` + sub + `/resourceGroups/nope"]}`}, 1, []string{"ResourceGroupNotFound"}},
			{"built-in id", []string{"create", "--role-definition", `{"Name": "Mine", "Id": "` + readerRole + `", ` + scopes + `}`}, 1, []string{"BuiltInRoleCannotBeModified"}},
			{"no scopes", []string{"create", "--role-definition", `{"Name": "Odd", "Actions": ["*/read"]}`}, 2, []string{"AssignableScopes"}},
			{"no name", []string{"create", "--role-definition", `{` + scopes + `}`}, 2, []string{"the role needs a name"}},
			{"unknown key", []string{"create", "--role-definition", `{"Name": "Odd", "Action": ["*/read"], ` + scopes + `}`}, 2, []string{`unknown key "action"`}},
			{"not JSON", []string{"create", "--role-definition", `{"Name": `}, 2, []string{"--role-definition"}},
			{"missing file", []string{"create", "--role-definition", "@" + filepath.Join(t.TempDir(), "none.json")}, 2, []string{"none.json"}},
			{"Id not a GUID", []string{"create", "--role-definition", `{"Name": "Odd", "Id": "abc", ` + scopes + `}`}, 2, []string{`"Id" must be a GUID`}},
			{"no definition", []string{"create"}, 2, []string{`required flag(s) "role-definition" not set`}},
			{"delete a built-in role", []string{"delete", "--name", "Reader"}, 1, []string{"BuiltInRoleCannotBeModified"}},
			{"delete an unknown role", []string{"delete", "--name", "No Such Role"}, 1, []string{"Role definition 'No Such Role' doesn't exist"}},
			{"delete without a name", []string{"delete"}, 2, []string{`required flag(s) "name" not set`}},
			{"list at a malformed scope", []string{"list", "--scope", "/subscriptions/not-a-guid"}, 1, []string{"400 Bad Request"}},
			{"list at a non-id scope", []string{"list", "--scope", "subscriptions"}, 2, []string{"--scope must be a resource id"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				admin.t = t
				admin.fails(tt.code, tt.want, append([]string{"role", "definition"}, tt.args...)...)
			})
		}
	})
}

// TestParseRoleDefinition: az's shape with keys in any case, roleName with
// a GUID name, ids, Permissions, the API's shape, and what is refused.
func TestParseRoleDefinition(t *testing.T) {
	const guid = "55555555-5555-4555-8555-555555555555"
	empty := []string{}
	tests := []struct {
		name, in       string
		wantName       string
		wantGUID       string // "" for a new one
		wantScopes     []string
		wantPermission []map[string][]string
		wantErr        string
	}{
		{name: "az's shape", in: `{"Name":"R","Description":"d","Actions":["a"],"NotActions":["n"],"DataActions":["da"],"NotDataActions":["nd"],"AssignableScopes":["/s"]}`,
			wantName: "R", wantScopes: []string{"/s"}, wantPermission: []map[string][]string{{"actions": {"a"}, "notActions": {"n"}, "dataActions": {"da"}, "notDataActions": {"nd"}}}},
		{name: "keys in any case", in: `{"NAME":"R","actions":["a"],"assignableSCOPES":["/s"]}`,
			wantName: "R", wantScopes: []string{"/s"}, wantPermission: []map[string][]string{{"actions": {"a"}, "notActions": empty, "dataActions": empty, "notDataActions": empty}}},
		{name: "roleName and a GUID name", in: `{"roleName":"R","name":"` + guid + `","assignableScopes":["/s"]}`,
			wantName: "R", wantGUID: guid, wantScopes: []string{"/s"}, wantPermission: []map[string][]string{{"actions": empty, "notActions": empty, "dataActions": empty, "notDataActions": empty}}},
		{name: "Id as a role definition id", in: `{"Name":"R","Id":"/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/` + guid + `","AssignableScopes":["/s"]}`,
			wantName: "R", wantGUID: guid, wantScopes: []string{"/s"}, wantPermission: []map[string][]string{{"actions": empty, "notActions": empty, "dataActions": empty, "notDataActions": empty}}},
		{name: "Permissions", in: `{"Name":"R","Permissions":[{"Actions":["a"]},{"notDataActions":["x"]}],"AssignableScopes":["/s"],"IsCustom":true}`,
			wantName: "R", wantScopes: []string{"/s"}, wantPermission: []map[string][]string{
				{"actions": {"a"}, "notActions": empty, "dataActions": empty, "notDataActions": empty},
				{"actions": empty, "notActions": empty, "dataActions": empty, "notDataActions": {"x"}}}},
		{name: "the API's shape", in: `{"id":"/providers/Microsoft.Authorization/roleDefinitions/` + guid + `","name":"` + guid + `","type":"Microsoft.Authorization/roleDefinitions",
			"properties":{"roleName":"R","type":"CustomRole","description":"d","assignableScopes":["/s"],"permissions":[{"actions":["a"],"notActions":[],"dataActions":[],"notDataActions":[]}],"createdOn":"x","createdBy":null}}`,
			wantName: "R", wantGUID: guid, wantScopes: []string{"/s"}, wantPermission: []map[string][]string{{"actions": {"a"}, "notActions": empty, "dataActions": empty, "notDataActions": empty}}},
		{name: "Actions and Permissions", in: `{"Name":"R","Actions":["a"],"Permissions":[],"AssignableScopes":["/s"]}`, wantErr: "not both"},
		{name: "name not a string", in: `{"Name":1,"AssignableScopes":["/s"]}`, wantErr: `"name" must be a string`},
		{name: "Actions not a list", in: `{"Name":"R","Actions":"a","AssignableScopes":["/s"]}`, wantErr: `"actions" must be a list of strings`},
		{name: "scope not an id", in: `{"Name":"R","AssignableScopes":["s"]}`, wantErr: "resource ids"},
		{name: "an array", in: `[{"Name":"R"}]`, wantErr: "a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRoleDefinition([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.roleName != tt.wantName || !reflect.DeepEqual(got.scopes, tt.wantScopes) || !reflect.DeepEqual(got.permissions, tt.wantPermission) {
				t.Fatalf("got name %q, scopes %v, permissions %v; want %q, %v, %v", got.roleName, got.scopes, got.permissions, tt.wantName, tt.wantScopes, tt.wantPermission)
			}
			if tt.wantGUID != "" && got.guid != tt.wantGUID || tt.wantGUID == "" && !isGUID(got.guid) {
				t.Fatalf("GUID %q, want %q (or a new one)", got.guid, tt.wantGUID)
			}
		})
	}
}
