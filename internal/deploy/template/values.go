package template

import (
	"errors"
	"fmt"
	"strings"

	"github.com/privlink/privlink/internal/deploy/expr"
)

// errNeedsRuntime is a runtime function (reference, list*) met where the
// deployment is not running yet: validation leaves such values for later.
var errNeedsRuntime = errors.New("the value needs the deployment to be running")

// value evaluates a template value: expressions in strings, property copy
// loops in objects, literals as they are.
func (c *evalCtx) value(n *jnode) (any, error) {
	switch n.kind {
	case jNull:
		return nil, nil
	case jBool:
		return n.b, nil
	case jNumber:
		return expr.NumberValue(n.str), nil
	case jString:
		if !expr.IsExpression(n.str) {
			return expr.Literal(n.str), nil
		}
		return c.expression(n)
	case jArray:
		out := make([]any, 0, len(n.items))
		for _, e := range n.items {
			v, err := c.value(e)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	return c.object(n)
}

// parsedExpr returns the syntax tree of an expression string, parsed once.
func parsedExpr(n *jnode) (expr.Node, error) {
	switch x := n.parsed.(type) {
	case expr.Node:
		return x, nil
	case error:
		return nil, x
	}
	node, err := expr.Parse(n.str)
	if err != nil {
		n.parsed = err
		return nil, err
	}
	n.parsed = node
	return node, nil
}

func (c *evalCtx) expression(n *jnode) (any, error) {
	node, err := parsedExpr(n)
	if err != nil {
		return nil, &nodeError{n: n, err: err}
	}
	ev := &expr.Evaluator{Context: c, Src: n.str}
	v, err := ev.Eval(node)
	if err != nil {
		if c.whatIf && errors.Is(err, errDeferred) {
			// What-if shows what cannot be known before deployment as
			// the expression itself.
			return n.str, nil
		}
		return nil, &nodeError{n: n, err: err}
	}
	if _, ok := v.(*expr.Lambda); ok {
		return nil, &nodeError{n: n, err: fmt.Errorf("a lambda function can only be used as an argument of a function that takes one (map, filter, reduce, ...)")}
	}
	return v, nil
}

// isPropertyCopy reports whether a "copy" member is a property copy loop:
// an array of {"name", "count", "input"}.
func isPropertyCopy(n *jnode) bool {
	if n.kind != jArray || len(n.items) == 0 {
		return false
	}
	for _, e := range n.items {
		if e.kind != jObject || e.get("name") == nil || e.get("input") == nil || e.get("count") == nil {
			return false
		}
	}
	return true
}

func (c *evalCtx) object(n *jnode) (any, error) {
	out := expr.NewObject()
	for i, key := range n.keys {
		v := n.vals[i]
		if strings.EqualFold(key, "copy") && c.ph != phStatic && isPropertyCopy(v) {
			for _, e := range v.items {
				name, err := c.value(e.get("name"))
				if err != nil {
					return nil, err
				}
				ns, ok := name.(string)
				if !ok || ns == "" {
					return nil, &nodeError{n: e.get("name"), err: fmt.Errorf("the name of a property copy must be a non-empty string")}
				}
				count, err := c.copyCount(e.get("count"))
				if err != nil {
					return nil, err
				}
				arr := make([]any, 0, count)
				for j := 0; j < count; j++ {
					d := c.with(c.ph, append(append([]loopIndex{}, c.loops...), loopIndex{name: ns, index: j}))
					if len(c.loops) == 0 {
						// Without an enclosing loop, an unnamed copyIndex()
						// in the input means this loop.
						d.loops = []loopIndex{{name: ns, index: j}}
					}
					x, err := d.value(e.get("input"))
					if err != nil {
						return nil, err
					}
					arr = append(arr, x)
				}
				out.Set(ns, arr)
			}
			continue
		}
		x, err := c.value(v)
		if err != nil {
			return nil, err
		}
		// A property whose expression evaluates to null is treated as
		// not given, as ARM does with json('null').
		if x == nil && c.ph == phBody && v.kind == jString {
			continue
		}
		out.Set(key, x)
	}
	return out, nil
}

// copyCount evaluates a copy count: an integer from 0 to 800.
func (c *evalCtx) copyCount(n *jnode) (int, error) {
	if n == nil {
		return 0, &nodeError{n: n, err: fmt.Errorf("the copy has no count")}
	}
	d := c.with(phStatic, c.loops)
	if c.ph == phBody || c.ph == phOutput {
		d.ph = c.ph
	}
	v, err := d.value(n)
	if err != nil {
		return 0, err
	}
	i, ok := v.(int64)
	if !ok || i < 0 || i > MaxCopyCount {
		return 0, &nodeError{n: n, err: msgf("The copy count must be a non-negative integer value and cannot exceed '%d'. Please see https://aka.ms/arm-copy for usage details", MaxCopyCount)}
	}
	return int(i), nil
}

// literal converts a template value without evaluating it (for
// deployment().properties.template and inline nested templates).
func literal(n *jnode) any {
	switch n.kind {
	case jNull:
		return nil
	case jBool:
		return n.b
	case jNumber:
		return expr.NumberValue(n.str)
	case jString:
		return n.str
	case jArray:
		out := make([]any, len(n.items))
		for i, e := range n.items {
			out[i] = literal(e)
		}
		return out
	}
	o := expr.NewObject()
	for i, k := range n.keys {
		o.Set(k, literal(n.vals[i]))
	}
	return o
}
