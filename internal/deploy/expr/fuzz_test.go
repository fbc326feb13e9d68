package expr

import (
	"strings"
	"testing"
)

// fuzzSeeds are expressions of the shapes templates use: Bicep output,
// quickstart templates, and the edge cases of the lexer.
var fuzzSeeds = []string{
	"[concat('a', 'b')]",
	"[parameters('p')]",
	"[variables('v').x[0]]",
	"[resourceGroup().location]",
	"[format('{0}-{1:D3}', 'a', 7)]",
	"[if(equals(parameters('p'), 'x'), createObject('a', 1), json('null'))]",
	"[uniqueString(resourceGroup().id, 'x')]",
	"[guid(subscription().id, 'a', 'b')]",
	"[reference(resourceId('Microsoft.Storage/storageAccounts', 'sa'), '2023-01-01').primaryEndpoints['blob']]",
	"[map(range(0, 3), lambda('i', add(lambdaVariables('i'), 1)))]",
	"[reduce(createArray(1, 2), 0, lambda('a', 'b', add(lambdaVariables('a'), lambdaVariables('b'))))]",
	"[sys.concat('a')]",
	"[ns.fn(1, -2, 'x''y')]",
	"[[not an expression]",
	"[]",
	"[ ]",
	"[concat('a'",
	"['unterminated]",
	"[createArray(1,2,3)[5]]",
	"[json('{\"a\":{\"b\":[1,2,{\"c\":true}]}}').a.b[2].c]",
	"[dateTimeAdd('2020-04-07 14:53:14Z', 'P3Y', 'o')]",
	"[cidrSubnet('10.0.0.0/16', 24, 3)]",
	"[union(createObject('a', createObject('b', 1)), createObject('a', createObject('c', 2)))]",
	"[padLeft(123, 10, '0')]",
	"[substring('abc', 1, 5)]",
	"[copyIndex(1)]",
	"[99999999999999999999]",
	"[-5]",
	"[a.b.c(1)]",
	"[x(]",
}

// FuzzParse checks that the parser never panics, that every node's offset
// lies within the source, and that parsing is deterministic.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		n, err := Parse(src)
		if err != nil {
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("Parse(%q) error %T, want *Error", src, err)
			}
			if e.Pos < 0 || e.Pos > len(src) {
				t.Fatalf("Parse(%q) error at %d, outside 0..%d", src, e.Pos, len(src))
			}
			return
		}
		Walk(n, func(x Node) bool {
			if x.Pos() < 0 || x.Pos() >= len(src) {
				t.Fatalf("Parse(%q): node %T at %d, outside the source", src, x, x.Pos())
			}
			return true
		})
		if _, err := Parse(src); err != nil {
			t.Fatalf("Parse(%q) failed the second time: %v", src, err)
		}
	})
}

// fuzzContext offers the deployment functions the evaluator fuzzer calls.
type fuzzContext struct{}

func (fuzzContext) Function(name string) *Func {
	switch name {
	case "parameters", "variables":
		return fn(name, 1, 1, kinds(KString), func(c *Call, a []any) (any, error) {
			o := NewObject()
			o.Set("x", []any{int64(1), "two", true})
			o.Set("name", a[0])
			return o, nil
		})
	case "copyindex":
		return fn("copyIndex", 0, 2, kinds(KString|KInt, KInt), func(c *Call, a []any) (any, error) { return int64(2), nil })
	case "resourcegroup":
		return fn("resourceGroup", 0, 0, nil, func(c *Call, a []any) (any, error) {
			o := NewObject()
			o.Set("id", "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg")
			o.Set("location", "westeurope")
			return o, nil
		})
	}
	return nil
}

// FuzzEval checks that evaluating any expression that parses returns a
// value or an *Error, never panics, and that the value can be written as
// JSON (lambdas aside).
func FuzzEval(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		if !strings.HasPrefix(src, "[") {
			src = "[" + src + "]"
		}
		v, err := Evaluate(src, fuzzContext{})
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Evaluate(%q) error %T, want *Error", src, err)
			}
			return
		}
		if _, isLambda := v.(*Lambda); isLambda {
			return
		}
		if _, err := Marshal(v); err != nil && !strings.Contains(err.Error(), "lambda") && !strings.Contains(err.Error(), "JSON") {
			t.Fatalf("Marshal(Evaluate(%q)): %v", src, err)
		}
	})
}
