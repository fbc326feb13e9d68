package transparent

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/testkit"
)

// TestGraphLookups: the principal lookups Azure's tools make in Microsoft
// Graph, with tokens that azidentity gets for Graph's scope: the signed-in
// user (GET /me; refused, as Graph refuses it, for an application), users
// by userPrincipalName, service principals by name or app id, objects by
// id (getByIds, with their @odata.type), Graph's 404, its refusal of a
// query it cannot run, and tokens for the wrong service on either side.
// (TestAzureCLI drives the same through az keyvault create.)
func TestGraphLookups(t *testing.T) {
	env := testkit.Start(t)
	dana := env.NewUser(t, "dana", "Data-owner-1")
	sp := env.NewPrincipal(t, "asker")
	token := func(cred azcore.TokenCredential, scope string) string {
		t.Helper()
		tok, err := cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{scope}})
		if err != nil {
			t.Fatal(err)
		}
		return tok.Token
	}
	graph := "https://graph.microsoft.com/.default"
	app, user := token(env.Cred, graph), token(dana.Cred, graph)
	call := func(method, path, tok string, body any, want int, out any) {
		t.Helper()
		b := ""
		if body != nil {
			j, _ := json.Marshal(body)
			b = string(j)
		}
		env.CallWith(t, tok, method, path, b, want, out)
	}
	type object struct {
		Type                  string   `json:"@odata.type"`
		ID                    string   `json:"id"`
		AppID                 string   `json:"appId"`
		UserPrincipalName     string   `json:"userPrincipalName"`
		ServicePrincipalNames []string `json:"servicePrincipalNames"`
		ServicePrincipalType  string   `json:"servicePrincipalType"`
	}
	var list struct{ Value []object }
	var errBody struct {
		Error struct{ Code, Message string }
	}

	// /me: the user; an application has none.
	var me object
	call("GET", "/v1.0/me", user, nil, http.StatusOK, &me)
	if me.ID != dana.ObjectID || me.UserPrincipalName != dana.UserPrincipalName {
		t.Fatalf("/me as dana: %+v", me)
	}
	call("GET", "/v1.0/me", app, nil, http.StatusBadRequest, &errBody)
	if errBody.Error.Code != "BadRequest" || !strings.Contains(errBody.Error.Message, "delegated authentication flow") {
		t.Fatalf("/me as an application: %+v", errBody)
	}

	// Lookups by name, as az makes them.
	call("GET", "/v1.0/users?$filter="+url.QueryEscape("userPrincipalName eq '"+dana.UserPrincipalName+"'"), app, nil, http.StatusOK, &list)
	if len(list.Value) != 1 || list.Value[0].ID != dana.ObjectID {
		t.Fatalf("users by userPrincipalName: %+v", list.Value)
	}
	call("GET", "/v1.0/servicePrincipals?$filter="+url.QueryEscape("servicePrincipalNames/any(c:c eq '"+sp.ClientID+"')"), app, nil, http.StatusOK, &list)
	if len(list.Value) != 1 || list.Value[0].ID != sp.ObjectID || list.Value[0].ServicePrincipalType != "Application" {
		t.Fatalf("service principals by name: %+v", list.Value)
	}
	call("GET", "/v1.0/servicePrincipals?$filter="+url.QueryEscape("appId eq '"+identity.DefaultClientID+"'"), user, nil, http.StatusOK, &list)
	if len(list.Value) != 1 || list.Value[0].AppID != identity.DefaultClientID {
		t.Fatalf("service principals by app id: %+v", list.Value)
	}
	call("GET", "/v1.0/users?$filter="+url.QueryEscape("userPrincipalName eq 'nobody@privlink.local'"), app, nil, http.StatusOK, &list)
	if len(list.Value) != 0 {
		t.Fatalf("users by an unknown name: %+v", list.Value)
	}
	call("GET", "/v1.0/users?$filter="+url.QueryEscape("accountEnabled eq true and city eq 'x'"), app, nil, http.StatusBadRequest, &errBody)
	if errBody.Error.Code != "Request_UnsupportedQuery" {
		t.Fatalf("a query outside the subset: %+v", errBody)
	}

	// Clauses joined with "and" (az joins its options' filters so), "in",
	// and the query options az and Graph's SDKs add.
	call("GET", "/v1.0/servicePrincipals?$filter="+url.QueryEscape("servicePrincipalNames/any(c:c eq '"+sp.ClientID+"') and startswith(displayName,'ask')"), app, nil, http.StatusOK, &list)
	if len(list.Value) != 1 || list.Value[0].ID != sp.ObjectID {
		t.Fatalf("service principals by name and display name: %+v", list.Value)
	}
	call("GET", "/v1.0/servicePrincipals?$filter="+url.QueryEscape("servicePrincipalNames/any(c:c eq '"+sp.ClientID+"') and startswith(displayName,'other')"), app, nil, http.StatusOK, &list)
	if len(list.Value) != 0 {
		t.Fatalf("a conjunction one clause of which fails: %+v", list.Value)
	}
	var selected struct{ Value []map[string]any }
	call("GET", "/v1.0/servicePrincipals?$filter="+url.QueryEscape("appId in ('"+sp.ClientID+"', '"+identity.DefaultClientID+"')")+"&$select=id,appId", app, nil, http.StatusOK, &selected)
	if len(selected.Value) != 2 || len(selected.Value[0]) != 2 || selected.Value[0]["appId"] == nil {
		t.Fatalf("service principals by app ids, two members selected: %+v", selected.Value)
	}
	var counted struct {
		Count int `json:"@odata.count"`
		Value []object
	}
	call("GET", "/v1.0/servicePrincipals?$top=1&$count=true", app, nil, http.StatusOK, &counted)
	if len(counted.Value) != 1 || counted.Count < 2 {
		t.Fatalf("$top=1 with $count: %d objects of %d", len(counted.Value), counted.Count)
	}
	call("GET", "/v1.0/users?$search="+url.QueryEscape(`"displayName:dana"`), app, nil, http.StatusBadRequest, &errBody)
	if errBody.Error.Code != "Request_UnsupportedQuery" {
		t.Fatalf("$search: %+v", errBody)
	}
	// Paths as Graph matches them: any case, the app id as alternate key,
	// Graph's answer to a segment it does not know.
	var byApp object
	call("GET", "/v1.0/servicePrincipals(appId='"+sp.ClientID+"')", app, nil, http.StatusOK, &byApp)
	if byApp.ID != sp.ObjectID {
		t.Fatalf("servicePrincipals(appId=...): %+v", byApp)
	}
	call("GET", "/v1.0/SERVICEPRINCIPALS/"+sp.ObjectID, app, nil, http.StatusOK, nil)
	call("GET", "/v1.0/directoryObjects/"+sp.ClientID, app, nil, http.StatusNotFound, nil)
	call("GET", "/v1.0/groups", app, nil, http.StatusBadRequest, &errBody)
	if errBody.Error.Code != "BadRequest" || errBody.Error.Message != "Resource not found for the segment 'groups'." {
		t.Fatalf("an unknown segment: %+v", errBody)
	}
	call("POST", "/v1.0/directoryObjects/"+dana.ObjectID+"/checkMemberGroups", app, map[string]any{"groupIds": []string{}}, http.StatusOK, &list)
	call("GET", "/v1.0/me/ownedObjects", user, nil, http.StatusOK, &list)
	if len(list.Value) != 0 {
		t.Fatalf("/me/ownedObjects: %+v", list.Value)
	}

	// By id.
	var ids struct{ Value []object }
	call("POST", "/v1.0/directoryObjects/getByIds", app, map[string]any{"ids": []string{dana.ObjectID, sp.ObjectID, "00000000-0000-0000-0000-00000000dead", dana.ObjectID}}, http.StatusOK, &ids)
	types := map[string]string{}
	for _, o := range ids.Value {
		types[o.ID] = o.Type
	}
	if len(ids.Value) != 2 || types[dana.ObjectID] != "#microsoft.graph.user" || types[sp.ObjectID] != "#microsoft.graph.servicePrincipal" {
		t.Fatalf("getByIds: %+v", ids.Value)
	}
	call("POST", "/v1.0/directoryObjects/getByIds", app, map[string]any{"ids": []string{"dana"}}, http.StatusBadRequest, &errBody)
	if errBody.Error.Message != "Invalid object identifier 'dana'." {
		t.Fatalf("getByIds of a name: %+v", errBody)
	}
	call("GET", "/v1.0/users/"+dana.UserPrincipalName, app, nil, http.StatusOK, &me)
	if me.ID != dana.ObjectID {
		t.Fatalf("users/{upn}: %+v", me)
	}
	call("GET", "/v1.0/servicePrincipals/"+sp.ObjectID, app, nil, http.StatusOK, nil)
	call("GET", "/v1.0/servicePrincipals/"+dana.ObjectID, app, nil, http.StatusNotFound, &errBody)
	if errBody.Error.Code != "Request_ResourceNotFound" {
		t.Fatalf("a user as a service principal: %+v", errBody)
	}

	// Each service takes only its own tokens, also once a token was seen.
	call("GET", "/v1.0/me", token(env.Cred, "https://management.azure.com/.default"), nil, http.StatusUnauthorized, &errBody)
	if errBody.Error.Code != "InvalidAuthenticationToken" {
		t.Fatalf("an ARM token at Graph: %+v", errBody)
	}
	call("GET", "/subscriptions?api-version=2022-12-01", app, nil, http.StatusUnauthorized, &errBody)
	if errBody.Error.Code != "InvalidAuthenticationTokenAudience" {
		t.Fatalf("a Graph token at ARM: %+v", errBody)
	}
	call("GET", "/v1.0/me", "", nil, http.StatusUnauthorized, &errBody)

	// A request that names another service's host (as one through the
	// proxy does) cannot make that service's token pass as ARM's.
	for host, scope := range map[string]string{"graph.microsoft.com": graph, "vault.azure.net": "https://vault.azure.net/.default"} {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", env.URL+"/subscriptions?api-version=2022-12-01", nil)
		req.Host = host
		req.Header.Set("Authorization", "Bearer "+token(env.Cred, scope))
		resp, err := env.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("ARM with a token for %s and Host %s: %d, want 401", scope, host, resp.StatusCode)
		}
	}
}
