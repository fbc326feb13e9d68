package expr

import (
	"testing"
	"time"
)

// TestLimits checks that hostile expressions end quickly, with a value or an
// error: the shapes the evaluator fuzzer found slow, and their kin.
func TestLimits(t *testing.T) {
	for _, src := range []string{
		"[union(range(0,10000), range(5000,10000))]",
		"[intersection(range(0,10000), range(5000,10000), range(0, 10000))]",
		"[indexOf(padLeft('b',1000000,'a'), padLeft('c',500000,'a'))]",
		"[replace(padLeft('',1000000,'a'), 'a', padLeft('',1000,'b'))]",
		"[length(map(range(0,10000), lambda('x', map(range(0,10000), lambda('y', 1)))))]",
		"[reduce(range(0,60), createArray(1), lambda('a','b', createArray(lambdaVariables('a'), lambdaVariables('a'))))]",
		"[string(reduce(range(0,30), createArray(1), lambda('a','b', createArray(lambdaVariables('a'), lambdaVariables('a')))))]",
		"[sort(range(0,10000), lambda('a','b', greater(lambdaVariables('a'), lambdaVariables('b'))))]",
		"[split(padLeft('',1000000,'a'), map(range(0,10000), lambda('x', string(lambdaVariables('x')))))]",
		"[base64(base64(base64(base64(base64(base64(padLeft('',1000000,'a'))))))))]",
		"[concat(padLeft('',1000000,'a'),padLeft('',1000000,'a'),padLeft('',1000000,'a'),padLeft('',1000000,'a'),padLeft('',1000000,'a'),padLeft('',1000000,'a'),padLeft('',1000000,'a'),padLeft('',1000000,'a'),padLeft('',1000000,'a'))]",
		"[equals(range(0,10000), range(0,10000))]",
		"[toObject(range(0,10000), lambda('x', string(lambdaVariables('x'))))]",
		"[groupBy(range(0,10000), lambda('x', string(mod(lambdaVariables('x'), 7))))]",
		"[items(toObject(range(0,10000), lambda('x', string(lambdaVariables('x')))))]",
		"[format('{0,16000}{0,16000}{0,16000}{0,16000}', 'a')]",
		"[dateTimeAdd('2020-01-01', 'P999999999Y')]",
		"[cidrHost('::/0', 9223372036854775807)]",
		"[json(string(range(0,10000)))]",
	} {
		start := time.Now()
		_, err := Evaluate(src, fuzzContext{})
		d := time.Since(start)
		if d > 2*time.Second {
			t.Errorf("%s took %v (err %v)", src, d, err)
		}
		t.Logf("%v %s %.80v", d.Round(time.Millisecond), src[:min(len(src), 60)], err)
	}
}
