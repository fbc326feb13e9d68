package rbac

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"github.com/privlink/privlink/internal/testkit"
)

// raw sends a request as cred and returns the status and the ARM error code.
func raw(t *testing.T, env *testkit.Env, cred azcore.TokenCredential, method, path, body string) (int, string, string) {
	t.Helper()
	tok := must(cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://management.core.windows.net//.default"}}))
	req := must(http.NewRequest(method, env.URL+path, strings.NewReader(body)))
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp := must(env.HTTP.Do(req))
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Error struct{ Code, Message string }
	}
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, e.Error.Code, e.Error.Message
}

// count is how many role assignments and custom role definitions exist.
func count(t *testing.T, env *testkit.Env) (int, int) {
	t.Helper()
	var list struct{ Value []json.RawMessage }
	get := func(path string) int {
		tok := must(env.Cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://management.core.windows.net//.default"}}))
		req := must(http.NewRequest(http.MethodGet, env.URL+path, nil))
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		resp := must(env.HTTP.Do(req))
		defer resp.Body.Close()
		list.Value = nil
		if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
			t.Fatal(err)
		}
		return len(list.Value)
	}
	sub := "/subscriptions/" + env.Subscription
	return get(sub + "/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01"),
		get(sub + "/providers/Microsoft.Authorization/roleDefinitions?api-version=2022-04-01&$filter=" + url.QueryEscape("type eq 'CustomRole'"))
}

// TestBadInput: refused requests to Microsoft.Authorization get Azure's
// status and code, and store nothing.
func TestBadInput(t *testing.T) {
	w := setup(t)
	sub := "/subscriptions/" + w.subA
	ra := func(scope, name string) string {
		return scope + "/providers/Microsoft.Authorization/roleAssignments/" + name + "?api-version=2022-04-01"
	}
	rd := func(name string) string {
		return sub + "/providers/Microsoft.Authorization/roleDefinitions/" + name + "?api-version=2022-04-01"
	}
	body := func(role, principal, typ string) string {
		b := `{"properties":{"roleDefinitionId":"` + role + `","principalId":"` + principal + `"`
		if typ != "" {
			b += `,"principalType":"` + typ + `"`
		}
		return b + `}}`
	}
	// A custom role assignable in the data group only, and one assigned (so not deletable).
	narrow := "0b6e2f1a-1c2d-4e3f-8a9b-1c2d3e4f5a6b"
	if st, code, msg := raw(t, w.env, w.env.Cred, "PUT", rd(narrow), `{"properties":{"roleName":"Narrow","type":"CustomRole","permissions":[{"actions":["*/read"]}],"assignableScopes":["`+w.data+`"]}}`); st != 201 {
		t.Fatalf("custom role: %d %s %s", st, code, msg)
	}
	if st, code, msg := raw(t, w.env, w.env.Cred, "PUT", ra(w.data, "1f1f1f1f-0000-4000-8000-000000000001"), body(w.roleDef(w.subA, narrow), w.stranger.ObjectID, "")); st != 201 {
		t.Fatalf("assigning the custom role: %d %s %s", st, code, msg)
	}
	existing := "2a2a2a2a-0000-4000-8000-000000000002"
	if st, code, msg := raw(t, w.env, w.env.Cred, "PUT", ra(w.adx, existing), body(w.roleDef(w.subA, reader), w.readerSP.ObjectID, "ServicePrincipal")); st != 201 {
		t.Fatalf("an assignment: %d %s %s", st, code, msg)
	}
	assignments, definitions := count(t, w.env)

	newName := "3b3b3b3b-0000-4000-8000-000000000003"
	for _, tc := range []struct {
		name, method, path, body string
		cred                     azcore.TokenCredential
		status                   int
		code, msg                string
	}{
		{"unknown role definition", "PUT", ra(w.adx, newName), body(w.roleDef(w.subA, "99999999-9999-4999-8999-999999999999"), w.stranger.ObjectID, ""), nil, 400, "RoleDefinitionDoesNotExist", "99999999-9999-4999-8999-999999999999"},
		{"role definition id not an id", "PUT", ra(w.adx, newName), body("Reader", w.stranger.ObjectID, ""), nil, 400, "InvalidRoleDefinitionId", "Reader"},
		{"principal not in the directory", "PUT", ra(w.adx, newName), body(w.roleDef(w.subA, reader), "99999999-9999-4999-8999-999999999999", "User"), nil, 400, "PrincipalNotFound", "99999999999949998999999999999999"},
		{"principal id not a GUID", "PUT", ra(w.adx, newName), body(w.roleDef(w.subA, reader), "User", ""), nil, 400, "InvalidPrincipalId", "Principal ID must be a GUID"},
		{"principal type that is not", "PUT", ra(w.adx, newName), body(w.roleDef(w.subA, reader), w.stranger.ObjectID, "User"), nil, 400, "UnmatchedPrincipalType", "ServicePrincipal"},
		{"principal type unknown", "PUT", ra(w.adx, newName), body(w.roleDef(w.subA, reader), w.stranger.ObjectID, "MSI"), nil, 400, "InvalidPrincipalType", "'MSI'"},
		{"assignment name not a GUID", "PUT", ra(w.adx, "my-assignment"), body(w.roleDef(w.subA, reader), w.stranger.ObjectID, ""), nil, 400, "InvalidRoleAssignmentId", "must be a GUID"},
		{"duplicate assignment", "PUT", ra(w.adx, newName), body(w.roleDef(w.subA, reader), w.readerSP.ObjectID, ""), nil, 409, "RoleAssignmentExists", strings.ReplaceAll(existing, "-", "")},
		{"changing an assignment's principal", "PUT", ra(w.adx, existing), body(w.roleDef(w.subA, reader), w.stranger.ObjectID, ""), nil, 400, "RoleAssignmentUpdateNotPermitted", "not allowed to be updated"},
		{"custom role outside its assignable scopes", "PUT", ra(w.adx, newName), body(w.roleDef(w.subA, narrow), w.stranger.ObjectID, ""), nil, 400, "RoleDefinitionDoesNotExist", narrow},
		{"scope that does not exist", "PUT", ra(w.adx+"/providers/Microsoft.Storage/storageAccounts/nosuch", newName), body(w.roleDef(w.subA, reader), w.stranger.ObjectID, ""), nil, 404, "ResourceNotFound", "nosuch"},
		{"group that does not exist", "PUT", ra(sub+"/resourceGroups/nogroup", newName), body(w.roleDef(w.subA, reader), w.stranger.ObjectID, ""), nil, 404, "ResourceGroupNotFound", "nogroup"},
		{"malformed scope", "PUT", sub + "/resourceGroups/providers/Microsoft.Authorization/roleAssignments/" + newName + "?api-version=2022-04-01", body(w.roleDef(w.subA, reader), w.stranger.ObjectID, ""), nil, 400, "", ""},
		{"missing properties", "PUT", ra(w.adx, newName), `{}`, nil, 400, "InvalidRequestContent", "properties"},
		{"assignment by a Contributor", "PUT", ra(w.adx, newName), body(w.roleDef(w.subA, owner), w.clusterAdmin.ObjectID, ""), w.clusterAdmin.Cred, 403, "AuthorizationFailed", "Microsoft.Authorization/roleAssignments/write"},
		{"deleting an assigned custom role", "DELETE", rd(narrow), "", nil, 409, "RoleDefinitionHasAssignments", "existing role assignments"},
		{"changing a built-in role", "PUT", rd(reader), `{"properties":{"roleName":"Reader","type":"CustomRole","permissions":[{"actions":["*"]}],"assignableScopes":["` + sub + `"]}}`, nil, 403, "BuiltInRoleCannotBeModified", "built-in"},
		{"deleting a built-in role", "DELETE", rd(owner), "", nil, 403, "BuiltInRoleCannotBeModified", "built-in"},
		{"custom role at the root", "PUT", rd(newName), `{"properties":{"roleName":"Root","permissions":[{"actions":["*/read"]}],"assignableScopes":["/"]}}`, nil, 400, "InvalidAssignableScope", "'/'"},
		{"custom role without scopes", "PUT", rd(newName), `{"properties":{"roleName":"None","permissions":[{"actions":["*/read"]}]}}`, nil, 400, "InvalidAssignableScope", "assignable scope"},
		{"custom role of an unknown provider", "PUT", rd(newName), `{"properties":{"roleName":"Odd","permissions":[{"actions":["Contoso.Nothing/things/read"]}],"assignableScopes":["` + sub + `"]}}`, nil, 400, "InvalidActionOrNotAction", "Contoso.Nothing/things/read"},
		{"custom role named as a built-in", "PUT", rd(newName), `{"properties":{"roleName":"owner","permissions":[{"actions":["*/read"]}],"assignableScopes":["` + sub + `"]}}`, nil, 409, "RoleDefinitionWithSameNameExists", "already exists"},
		{"custom role name taken", "PUT", rd(newName), `{"properties":{"roleName":"Narrow","permissions":[{"actions":["*/read"]}],"assignableScopes":["` + sub + `"]}}`, nil, 409, "RoleDefinitionWithSameNameExists", "already exists"},
		{"custom role in a subscription the caller cannot write", "PUT", rd(newName), `{"properties":{"roleName":"Far","permissions":[{"actions":["*/read"]}],"assignableScopes":["` + sub + `","/subscriptions/` + w.subB + `"]}}`, w.dataOwner.Cred, 403, "AuthorizationFailed", "roleDefinitions/write"},
		{"custom role at scopes the caller may write only in part", "PUT", w.data + "/providers/Microsoft.Authorization/roleDefinitions/" + newName + "?api-version=2022-04-01", `{"properties":{"roleName":"Part","permissions":[{"actions":["*/read"]}],"assignableScopes":["` + w.data + `","/subscriptions/` + w.subB + `"]}}`, w.dataOwner.Cred, 403, "LinkedAuthorizationFailed", "/subscriptions/" + w.subB},
		{"unsupported filter", "GET", sub + "/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=" + url.QueryEscape("roleName eq 'x'"), "", nil, 400, "UnsupportedFilter", "roleName"},
		{"atScope with principalId", "GET", sub + "/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=" + url.QueryEscape("atScope() and principalId eq '"+w.stranger.ObjectID+"'"), "", nil, 400, "UnsupportedFilter", "atScope()"},
		{"GET of a missing assignment", "GET", ra(w.adx, newName), "", nil, 404, "RoleAssignmentNotFound", newName},
		{"GET of a missing role", "GET", rd(newName), "", nil, 404, "RoleDefinitionDoesNotExist", newName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cred := tc.cred
			if cred == nil {
				cred = w.env.Cred
			}
			st, code, msg := raw(t, w.env, cred, tc.method, tc.path, tc.body)
			if st != tc.status || (tc.code != "" && code != tc.code) || !strings.Contains(msg, tc.msg) {
				t.Errorf("%s %s: %d %s %q, want %d %s containing %q", tc.method, tc.path, st, code, msg, tc.status, tc.code, tc.msg)
			}
			if a, d := count(t, w.env); a != assignments || d != definitions {
				t.Errorf("after a refused request: %d assignments and %d custom roles, was %d and %d", a, d, assignments, definitions)
			}
		})
	}
	// A deleted assignment twice: the second answers 204.
	if st, _, _ := raw(t, w.env, w.env.Cred, "DELETE", ra(w.adx, existing), ""); st != 200 {
		t.Errorf("delete: %d, want 200", st)
	}
	if st, _, _ := raw(t, w.env, w.env.Cred, "DELETE", ra(w.adx, existing), ""); st != 204 {
		t.Errorf("delete again: %d, want 204", st)
	}
}

// TestDeploymentPreflight: a deployment whose template holds a resource
// the deployer may not write is refused before anything is deployed.
func TestDeploymentPreflight(t *testing.T) {
	w := setup(t)
	deps := must(armresources.NewDeploymentsClient(w.subA, w.clusterAdmin.Cred, w.env.Options))
	tmpl := map[string]any{
		"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", "contentVersion": "1.0.0.0",
		"resources": []any{
			map[string]any{"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "fromtemplate", "location": "westus",
				"sku": map[string]any{"name": "Standard_LRS"}, "kind": "StorageV2"},
			map[string]any{"type": "Microsoft.Authorization/roleAssignments", "apiVersion": "2022-04-01", "name": "4c4c4c4c-0000-4000-8000-000000000004",
				"properties": map[string]any{"roleDefinitionId": w.roleDef(w.subA, owner), "principalId": w.clusterAdmin.ObjectID}},
		},
	}
	_, err := deps.BeginCreateOrUpdate(ctx, "adx", "grant", armresources.Deployment{Properties: &armresources.DeploymentProperties{
		Template: tmpl, Mode: to.Ptr(armresources.DeploymentModeIncremental)}}, nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 400 || re.ErrorCode != "InvalidTemplateDeployment" ||
		!strings.Contains(re.Error(), "Authorization failed for template resource '4c4c4c4c-0000-4000-8000-000000000004' of type 'Microsoft.Authorization/roleAssignments'") ||
		!strings.Contains(re.Error(), w.clusterAdmin.ObjectID) {
		t.Fatalf("deployment: %v, want 400 InvalidTemplateDeployment naming the role assignment", err)
	}
	sc := must(armresources.NewClient(w.subA, w.env.Cred, w.env.Options))
	if _, err := sc.GetByID(ctx, w.adx+"/providers/Microsoft.Storage/storageAccounts/fromtemplate", "2023-01-01", nil); err == nil {
		t.Error("the refused deployment created its storage account")
	}
	// Without it, the deployment runs as its deployer.
	tmpl["resources"] = tmpl["resources"].([]any)[:1]
	p := must(deps.BeginCreateOrUpdate(ctx, "adx", "storage", armresources.Deployment{Properties: &armresources.DeploymentProperties{
		Template: tmpl, Mode: to.Ptr(armresources.DeploymentModeIncremental)}}, nil))
	must(p.PollUntilDone(ctx, testkit.PollOptions))
}
