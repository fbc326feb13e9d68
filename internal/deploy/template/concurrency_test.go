package template

import (
	"sync"
	"testing"
)

// The engine deploys independent resources in parallel: a plan's methods,
// and those of an outer-scope nested plan sharing the parent's variables,
// may be called at once (go test -race checks it).
func TestConcurrentUse(t *testing.T) {
	tmpl := head + `"variables": {"v": "[concat('a', 'b')]"}, "resources": [
    {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "[concat('st', copyIndex())]", "copy": {"name": "l", "count": 8},
     "properties": {"v": "[variables('v')]"}},
    {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": "outer",
     "properties": {"mode": "Incremental", "template": {"contentVersion": "1.0.0.0", "resources": [
       {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "[variables('v')]", "properties": {"x": "[variables('v')]"}}]}}}
  ], "outputs": {"v": {"type": "string", "value": "[variables('v')]"}}}`
	p := mustBind(t, tmpl, "")
	rt := &fakeRuntime{}
	nested, err := p.Nested(p.Resources()[8], rt, testScope())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, r := range p.Resources()[:8] {
		wg.Add(3)
		go func() { defer wg.Done(); _, _ = p.Body(r, &fakeRuntime{}, false) }()
		go func() { defer wg.Done(); _, _ = nested.Body(nested.Resources()[0], &fakeRuntime{}, false) }()
		go func() { defer wg.Done(); _, _ = p.Outputs(&fakeRuntime{}); _ = p.Parameters(); _ = p.Hash() }()
	}
	wg.Wait()
	if got := body(t, nested.(*Plan), 0, rt); got != `{"properties":{"x":"ab"}}` {
		t.Errorf("nested body = %s", got)
	}
}
