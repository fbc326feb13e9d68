package template

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/privlink/privlink/internal/deploy/expr"
	"github.com/privlink/privlink/internal/deploy/plan"
)

// sampleParameters gives each required parameter of a template a value of
// its type that meets its constraints.
func sampleParameters(t *testing.T, raw []byte) json.RawMessage {
	t.Helper()
	tmpl, err := parseTemplate(raw, "")
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	out := expr.NewObject()
	for _, d := range tmpl.params {
		if d.node.get("defaultValue") != nil || nullable(d.node) {
			continue
		}
		decl, _ := tmpl.resolveRef(d.node)
		if nullable(decl) {
			continue
		}
		var v any
		if av := firstOf(d.node, decl, "allowedValues"); av != nil && len(av.items) > 0 {
			v = literal(av.items[0])
			if tmpl.declType(d.node) == "array" {
				v = []any{v}
			}
		} else {
			switch tmpl.declType(d.node) {
			case "string", "securestring":
				s := "sample1234"
				if n := firstOf(d.node, decl, "minLength"); n != nil {
					if m, _ := expr.NumberValue(n.str).(int64); m > int64(len(s)) {
						s = strings.Repeat("a", int(m))
					}
				}
				if n := firstOf(d.node, decl, "maxLength"); n != nil {
					if m, _ := expr.NumberValue(n.str).(int64); m < int64(len(s)) {
						s = s[:m]
					}
				}
				v = s
			case "int":
				v = int64(1)
				if n := firstOf(d.node, decl, "minValue"); n != nil {
					v = expr.NumberValue(n.str)
				}
			case "bool":
				v = true
			case "array":
				arr := []any{}
				if n := firstOf(d.node, decl, "minLength"); n != nil {
					m, _ := expr.NumberValue(n.str).(int64)
					for i := int64(0); i < m; i++ {
						arr = append(arr, "item")
					}
				}
				v = arr
			default:
				v = expr.NewObject()
			}
		}
		e := expr.NewObject()
		e.Set("value", v)
		out.Set(d.name, e)
	}
	b, _ := expr.Marshal(out)
	return b
}

// nothingDeployed is a runtime before deployment: every GET is a 404, so
// what-if keeps runtime expressions as their text.
type nothingDeployed struct{ fakeRuntime }

// deployAll binds raw and evaluates every resource body (what-if) and the
// nested deployments, recursively.
func deployAll(t *testing.T, name string, p plan.Plan, depth int) int {
	t.Helper()
	n := 0
	rt := &nothingDeployed{}
	for _, r := range p.Resources() {
		n++
		if _, err := p.Body(r, rt, true); err != nil {
			t.Errorf("%s: body of %s: %v", name, r.ID, err)
		}
		if r.Nested != nil && depth < 3 {
			s := testScope()
			if r.Nested.ResourceGroup != "" {
				s.ResourceGroup = &plan.ResourceGroup{ID: "/subscriptions/" + r.Nested.SubscriptionID + "/resourceGroups/" + r.Nested.ResourceGroup, Name: r.Nested.ResourceGroup, Location: "westeurope"}
			} else {
				s.ResourceGroup, s.Location = nil, "westeurope"
			}
			np, err := p.Nested(r, rt, s)
			if err != nil {
				t.Errorf("%s: nested %s: %v", name, r.ID, err)
				continue
			}
			n += deployAll(t, name+"/"+r.Name, np, depth+1)
		}
	}
	return n
}

// fixtureParameters are values for parameters whose shape the sampler
// cannot guess.
var fixtureParameters = map[string]string{
	"Loops_LF":       `{"accounts": {"value": [{"name": "a", "location": "westus", "enabled": true}, {"name": "b", "location": "eastus", "enabled": false}]}}`,
	"Resources_CRLF": `{"cosmosDb": {"value": {"account": "acct", "databaseName": "db"}}}`,
}

// knownRefusals are baselines that test Bicep's compiler, not deployments,
// and that ARM refuses too: Bind must refuse them with this error.
var knownRefusals = map[string]string{
	"bicep/Variables_LF/main.json":                 "The template variable 'anyIndexOnAny'",
	"bicep/Variables_LF/main.symbolicnames.json":   "The template variable 'anyIndexOnAny'",
	"bicep/Modules_CRLF/main.json":                 "Microsoft.Resources/deployments/one' at line '938' and column '34' is defined multiple times",
	"bicep/Modules_CRLF/main.symbolicnames.json":   "Microsoft.Resources/deployments/one' at line '949' and column '34' is defined multiple times",
	"bicep/Loops_LF/main.json":                     "storageAccounts/sample1234-collection-a' at line '143' and column '5' is defined multiple times",
	"bicep/Loops_LF/main.symbolicnames.json":       "storageAccounts/sample1234-collection-a' at line '144' and column '25' is defined multiple times",
	"bicep/Resources_CRLF/main.json":               "virtualNetworks/vnet-0' at line '446' and column '5' is defined multiple times",
	"bicep/Resources_CRLF/main.symbolicnames.json": "virtualNetworks/vnet-0' at line '479' and column '39' is defined multiple times",
}

// TestCompiledTemplates binds templates as Bicep compiles them and as the
// Azure quickstarts publish them (see testdata/README.md).
func TestCompiledTemplates(t *testing.T) {
	files, _ := filepath.Glob("testdata/bicep/*/*.json")
	qs, _ := filepath.Glob("testdata/quickstarts/*.json")
	files = append(files, qs...)
	if len(files) < 10 {
		t.Fatalf("found %d fixtures", len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimPrefix(f, "testdata/"), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			s := testScope()
			if strings.Contains(string(raw), "subscriptionDeploymentTemplate.json") {
				s.ResourceGroup, s.Location = nil, "westeurope"
			}
			name := strings.TrimPrefix(f, "testdata/")
			params := sampleParameters(t, raw)
			if fp, ok := fixtureParameters[filepath.Base(filepath.Dir(f))]; ok {
				params = merge(t, params, fp)
			}
			p, err := NewBinder(nil).Bind(raw, params, s, &fakeRuntime{})
			if want, ok := knownRefusals[name]; ok {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("Bind = %v, want an error with %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("Bind: %v", err)
			}
			n := deployAll(t, f, p, 0)
			t.Logf("%d resources", n)
		})
	}
}

func merge(t *testing.T, a json.RawMessage, b string) json.RawMessage {
	x, err := expr.ParseJSON(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := expr.ParseJSON([]byte(b))
	if err != nil {
		t.Fatal(err)
	}
	yo := y.(*expr.Object)
	for _, k := range yo.Keys() {
		v, _ := yo.Get(k)
		x.(*expr.Object).Set(k, v)
	}
	out, _ := expr.Marshal(x)
	return out
}
