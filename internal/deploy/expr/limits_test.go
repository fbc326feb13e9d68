package expr

import (
	"testing"
	"time"
)

// TestLimits checks that hostile expressions (the shapes the evaluator
// fuzzer found slow, and their kin) end with a value or with the error of
// the budget they exceed: the evaluator's step and size budgets bound the
// work, whatever the machine's speed. How long each took is logged, not
// asserted (under -race on a busy machine the largest takes seconds);
// an evaluation that never ends fails the run at go test's timeout.
func TestLimits(t *testing.T) {
	for _, c := range []struct {
		src string
		// refused: the expression exceeds a budget (or is malformed), so
		// an error is the only right answer.
		refused bool
	}{
		{"[union(range(0,10000), range(5000,10000))]", false},
		{"[intersection(range(0,10000), range(5000,10000), range(0, 10000))]", false},
		{"[indexOf(padLeft('b',1000000,'a'), padLeft('c',500000,'a'))]", false},
		{"[replace(padLeft('',1000000,'a'), 'a', padLeft('',1000,'b'))]", true},
		{"[length(map(range(0,10000), lambda('x', map(range(0,10000), lambda('y', 1)))))]", true},
		{"[reduce(range(0,60), createArray(1), lambda('a','b', createArray(lambdaVariables('a'), lambdaVariables('a'))))]", true},
		{"[string(reduce(range(0,30), createArray(1), lambda('a','b', createArray(lambdaVariables('a'), lambdaVariables('a')))))]", true},
		{"[sort(range(0,10000), lambda('a','b', greater(lambdaVariables('a'), lambdaVariables('b'))))]", false},
		{"[split(padLeft('',1000000,'a'), map(range(0,10000), lambda('x', string(lambdaVariables('x')))))]", true},
		{"[base64(base64(base64(base64(base64(base64(padLeft('',1000000,'a'))))))))]", true},
		{"[concat(padLeft('',1000000,'a'),padLeft('',1000000,'a'),padLeft('',1000000,'a'),padLeft('',1000000,'a'),padLeft('',1000000,'a'),padLeft('',1000000,'a'),padLeft('',1000000,'a'),padLeft('',1000000,'a'),padLeft('',1000000,'a'))]", true},
		{"[equals(range(0,10000), range(0,10000))]", false},
		{"[toObject(range(0,10000), lambda('x', string(lambdaVariables('x'))))]", false},
		{"[groupBy(range(0,10000), lambda('x', string(mod(lambdaVariables('x'), 7))))]", false},
		{"[items(toObject(range(0,10000), lambda('x', string(lambdaVariables('x')))))]", false},
		{"[format('{0,16000}{0,16000}{0,16000}{0,16000}', 'a')]", false},
		{"[dateTimeAdd('2020-01-01', 'P999999999Y')]", false},
		{"[cidrHost('::/0', 9223372036854775807)]", false},
		{"[json(string(range(0,10000)))]", false},
	} {
		start := time.Now()
		_, err := Evaluate(c.src, fuzzContext{})
		t.Logf("%v %s %.80v", time.Since(start).Round(time.Millisecond), c.src[:min(len(c.src), 60)], err)
		if (err != nil) != c.refused {
			t.Errorf("%s: error %v, want refused=%v", c.src, err, c.refused)
		}
	}
}
