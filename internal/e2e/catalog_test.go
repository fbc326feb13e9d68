package e2e

// The api-versions of the catalog (internal/catalog) on a real server: the
// versions current SDKs send, which privlink's own list did not have. No Go
// SDK sends them yet, so the requests are hand-rolled, as the JavaScript
// SDKs would send them.

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/catalog"
	"github.com/privlink/privlink/internal/testkit"
)

const (
	// catStorageV is what @azure/arm-storage 20.2.0 sends, catStorageNextV
	// what 21.0.0 sends, catEventHubV what @azure/arm-eventhub 6.0.0 sends.
	catStorageV     = "2026-06-01"
	catStorageNextV = "2026-09-01"
	catEventHubV    = "2026-01-01"
	// catInvented is a well-formed version Azure never published.
	catInvented = "2026-06-02"
)

func TestCatalogVersions(t *testing.T) {
	env := testkit.Start(t)
	token := env.Token(t)
	get := func(t *testing.T, path string) biResult {
		t.Helper()
		return biDo(t, env, token, http.MethodGet, path, nil, false, nil)
	}
	put := func(t *testing.T, path, body string) biResult {
		t.Helper()
		return biDo(t, env, token, http.MethodPut, path, strings.NewReader(body), true, nil)
	}
	sub := "/subscriptions/" + env.Subscription
	rg := sub + "/resourceGroups/cat"
	if r := put(t, biARM(rg), biGroupBody); r.status != http.StatusCreated {
		t.Fatalf("PUT group: %d %s", r.status, r.body)
	}
	account := rg + "/providers/Microsoft.Storage/storageAccounts/catsa1"
	namespace := rg + "/providers/Microsoft.EventHub/namespaces/cat-ns-1"

	t.Run("storage account at arm-storage 20's version", func(t *testing.T) {
		r := put(t, account+"?api-version="+catStorageV, biStorageBody)
		if r.status != http.StatusOK && r.status != http.StatusCreated {
			t.Fatalf("PUT: %d %s", r.status, r.body)
		}
		got := getDoc(t, get(t, account+"?api-version="+catStorageV))
		if got.Name != "catsa1" || got.Type != "Microsoft.Storage/storageAccounts" || got.Properties.ProvisioningState != "Succeeded" {
			t.Fatalf("GET = %+v", got)
		}
		// The account's private link types, at the version SDK 21 sends.
		for _, p := range []string{account + "/privateEndpointConnections", account + "/privateLinkResources"} {
			if r := get(t, p+"?api-version="+catStorageNextV); r.status != http.StatusOK {
				t.Errorf("GET %s: %d %s", p, r.status, r.body)
			}
		}
	})

	t.Run("event hubs namespace at arm-eventhub 6's version", func(t *testing.T) {
		r := put(t, namespace+"?api-version="+catEventHubV, `{"location":"westus"}`)
		if r.status != http.StatusOK && r.status != http.StatusCreated {
			t.Fatalf("PUT: %d %s", r.status, r.body)
		}
		got := getDoc(t, get(t, namespace+"?api-version="+catEventHubV))
		if got.Name != "cat-ns-1" || got.Properties.ProvisioningState != "Succeeded" {
			t.Fatalf("GET = %+v", got)
		}
	})

	t.Run("every catalog version is accepted", func(t *testing.T) {
		for _, c := range []struct{ path, typ string }{
			{account, "Microsoft.Storage/storageAccounts"},
			{namespace, "Microsoft.EventHub/namespaces"},
			{namespace + "/privateEndpointConnections", "Microsoft.EventHub/namespaces/privateEndpointConnections"},
		} {
			versions := catalog.Versions(c.typ)
			if len(versions) == 0 {
				t.Fatalf("the catalog has no versions of %s", c.typ)
			}
			for _, v := range versions {
				if r := get(t, c.path+"?api-version="+v); r.status != http.StatusOK {
					t.Errorf("GET %s at %s: %d %s", c.typ, v, r.status, r.body)
				}
			}
		}
	})

	t.Run("an invented version is refused", func(t *testing.T) {
		// ARM names the versions it supports, the catalog's among them.
		biCheckError(t, get(t, account+"?api-version="+catInvented), http.StatusBadRequest,
			arm.CodeNoRegisteredProviderFound, "for type 'storageAccounts'. The supported api-versions are '")
		biCheckError(t, get(t, account+"?api-version="+catInvented), http.StatusBadRequest,
			arm.CodeNoRegisteredProviderFound, catStorageV+", "+catStorageNextV)
		biCheckError(t, put(t, namespace+"?api-version="+catInvented, `{"location":"westus"}`), http.StatusBadRequest,
			arm.CodeNoRegisteredProviderFound, "API version '"+catInvented+"' for type 'namespaces'")
		biCheckError(t, get(t, account+"/privateEndpointConnections?api-version="+catInvented), http.StatusBadRequest,
			arm.CodeNoRegisteredProviderFound, catStorageNextV)
		// ARM's own types answer InvalidApiVersionParameter, newest first.
		biCheckError(t, get(t, rg+"?api-version="+catInvented), http.StatusBadRequest,
			arm.CodeInvalidAPIVersion, "The supported versions are '2025-04-01,")
	})

	t.Run("the provider listing reports the catalog's versions", func(t *testing.T) {
		for _, c := range []struct{ ns, typ, version string }{
			{"Microsoft.Storage", "storageAccounts", catStorageV},
			{"Microsoft.Storage", "storageAccounts", catStorageNextV},
			{"Microsoft.Storage", "storageAccounts/privateEndpointConnections", catStorageNextV},
			{"Microsoft.EventHub", "namespaces", catEventHubV},
			{"Microsoft.Kusto", "clusters/managedPrivateEndpoints", "2021-08-27"},
		} {
			r := get(t, biARM(sub+"/providers/"+c.ns))
			if r.status != http.StatusOK {
				t.Fatalf("GET provider %s: %d %s", c.ns, r.status, r.body)
			}
			var p struct {
				ResourceTypes []catProviderType `json:"resourceTypes"`
			}
			if err := json.Unmarshal(r.body, &p); err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(p.ResourceTypes, func(rt catProviderType) bool { return rt.ResourceType == c.typ })
			if i < 0 {
				t.Fatalf("%s lists no %s: %s", c.ns, c.typ, r.body)
			}
			vs := p.ResourceTypes[i].APIVersions
			if !slices.Contains(vs, c.version) {
				t.Errorf("%s/%s apiVersions = %v, want %s among them", c.ns, c.typ, vs, c.version)
			}
			if !slices.IsSortedFunc(vs, func(a, b string) int { return strings.Compare(b, a) }) {
				t.Errorf("%s/%s apiVersions = %v, want newest first", c.ns, c.typ, vs)
			}
		}
	})
}

// catProviderType is one resource type of a provider listing.
type catProviderType struct {
	ResourceType string   `json:"resourceType"`
	APIVersions  []string `json:"apiVersions"`
}

// catDoc is the part of a served resource these tests read.
type catDoc struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Properties struct {
		ProvisioningState string `json:"provisioningState"`
	} `json:"properties"`
}

func getDoc(t *testing.T, r biResult) catDoc {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("GET: %d %s", r.status, r.body)
	}
	var d catDoc
	if err := json.Unmarshal(r.body, &d); err != nil {
		t.Fatalf("GET: %v: %s", err, r.body)
	}
	return d
}
