package template

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/deploy/plan"
)

const testSub = "00000000-0000-0000-0000-000000000001"

// testScope is a resource-group deployment in a fixed subscription.
func testScope() plan.Scope {
	return plan.Scope{
		TenantID:                "72f988bf-86f1-41af-91ab-2d7cd011db47",
		SubscriptionID:          testSub,
		SubscriptionDisplayName: "privlink",
		ResourceGroup: &plan.ResourceGroup{
			ID:       "/subscriptions/" + testSub + "/resourceGroups/rg",
			Name:     "rg",
			Location: "westeurope",
		},
		DeploymentName:  "dep",
		Mode:            "Incremental",
		Deployer:        plan.Principal{ObjectID: "11111111-1111-1111-1111-111111111111", TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47", UserPrincipalName: "user@contoso.com"},
		Now:             time.Date(2020, 4, 7, 14, 53, 14, 0, time.UTC),
		ResourceManager: "https://management.azure.com/",
	}
}

// fakeRuntime answers reference() from a map of GET bodies and list*()
// with the action's name.
type fakeRuntime struct {
	bodies  map[string]string // lower-cased id -> body
	secrets map[string]string // secret name -> value
	calls   []string
}

func (f *fakeRuntime) Reference(id, apiVersion string) (json.RawMessage, error) {
	f.calls = append(f.calls, "GET "+id+"@"+apiVersion)
	if b, ok := f.bodies[strings.ToLower(id)]; ok {
		return json.RawMessage(b), nil
	}
	return nil, arm.Errorf(arm.CodeResourceNotFound, "The Resource '%s' was not found.", id)
}

func (f *fakeRuntime) Invoke(id, action, apiVersion string, body json.RawMessage) (json.RawMessage, error) {
	f.calls = append(f.calls, "POST "+id+"/"+action+"@"+apiVersion)
	return json.RawMessage(`{"keys":[{"keyName":"key1","value":"secret-key-1"}],"action":"` + action + `"}`), nil
}

func (f *fakeRuntime) Secret(vaultID, name, version string) (string, error) {
	if v, ok := f.secrets[name]; ok {
		return v, nil
	}
	return "", arm.Errorf(arm.CodeKeyVaultSecretRetrieveFailed, "secret %s not found", name)
}

func mustBind(t *testing.T, tmpl, params string) *Plan {
	t.Helper()
	p, err := NewBinder(nil).Bind(json.RawMessage(tmpl), json.RawMessage(params), testScope(), &fakeRuntime{})
	if err != nil {
		t.Fatalf("Bind: %v", err)
	}
	return p.(*Plan)
}

func bindErr(t *testing.T, tmpl, params string) *arm.Error {
	t.Helper()
	_, err := NewBinder(nil).Bind(json.RawMessage(tmpl), json.RawMessage(params), testScope(), &fakeRuntime{})
	if err == nil {
		t.Fatalf("Bind succeeded, want an error")
	}
	ae := arm.AsError(err)
	if ae == nil {
		t.Fatalf("Bind error %T %v, want *arm.Error", err, err)
	}
	return ae
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func body(t *testing.T, p *Plan, i int, rt plan.Runtime) string {
	t.Helper()
	b, err := p.Body(p.Resources()[i], rt, false)
	if err != nil {
		t.Fatalf("Body(%d): %v", i, err)
	}
	return string(b)
}

func outputs(t *testing.T, p *Plan, rt plan.Runtime) string {
	t.Helper()
	b, err := p.Outputs(rt)
	if err != nil {
		t.Fatalf("Outputs: %v", err)
	}
	return string(b)
}
