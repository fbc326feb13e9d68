package expr

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

func init() {
	s, i, b, a, o := KString, KInt, KBool, KArray, KObject
	register(
		// Array and object functions.
		fn("array", 1, 1, kinds(Any), func(c *Call, x []any) (any, error) {
			if arr, ok := x[0].([]any); ok {
				return arr, nil
			}
			return []any{x[0]}, nil
		}),
		fn("createArray", 0, -1, kinds(Any), func(c *Call, x []any) (any, error) {
			return append([]any{}, x...), nil
		}),
		fn("createObject", 0, -1, kinds(s, Any), func(c *Call, x []any) (any, error) {
			if len(x)%2 != 0 {
				return nil, c.Errorf("The template function 'createObject' expects an even number of parameters (name and value pairs); %d were provided.", len(x))
			}
			obj := NewObject()
			for k := 0; k < len(x); k += 2 {
				key, ok := x[k].(string)
				if !ok {
					return nil, c.argError(k, "The template function 'createObject' expects its property names to be strings; the %s parameter is of type '%s'.", ordinal(k), TypeName(x[k]))
				}
				obj.Set(key, x[k+1])
			}
			return obj, nil
		}),
		fn("distinct", 1, 1, kinds(a), func(c *Call, x []any) (any, error) {
			out := []any{}
			seen := map[string]bool{}
			for _, e := range x[0].([]any) {
				if k := canonical(e); !seen[k] {
					seen[k] = true
					out = append(out, e)
				}
			}
			return out, nil
		}),
		fn("flatten", 1, 1, kinds(a), func(c *Call, x []any) (any, error) {
			out := []any{}
			for _, e := range x[0].([]any) {
				switch y := e.(type) {
				case []any:
					out = append(out, y...)
				case nil:
				default:
					return nil, c.Fail("the array elements must be arrays; found '%s'", TypeName(e))
				}
			}
			return out, nil
		}),
		fn("indexFromEnd", 2, 2, kinds(a, i), func(c *Call, x []any) (any, error) {
			arr, n := x[0].([]any), x[1].(int64)
			if n < 1 || n > int64(len(arr)) {
				return nil, c.Errorf("The template function 'indexFromEnd' expects its reverse index to be between 1 and the length of the array (%d); it is %d.", len(arr), n)
			}
			return arr[int64(len(arr))-n], nil
		}),
		fn("tryIndexFromEnd", 2, 2, kinds(a|KNull, i), func(c *Call, x []any) (any, error) {
			arr, _ := x[0].([]any)
			n := x[1].(int64)
			if n < 1 || n > int64(len(arr)) {
				return nil, nil
			}
			return arr[int64(len(arr))-n], nil
		}),
		fn("intersection", 2, -1, kinds(a|o), intersection),
		fn("union", 1, -1, kinds(a|o), union),
		fn("items", 1, 1, kinds(o), func(c *Call, x []any) (any, error) {
			obj := x[0].(*Object)
			idx := make([]int, obj.Len())
			for k := range idx {
				idx[k] = k
			}
			sort.SliceStable(idx, func(p, q int) bool {
				return strings.ToLower(obj.keys[idx[p]]) < strings.ToLower(obj.keys[idx[q]])
			})
			out := make([]any, 0, len(idx))
			for _, k := range idx {
				e := NewObject()
				e.Set("key", obj.keys[k])
				e.Set("value", obj.vals[k])
				out = append(out, e)
			}
			return out, nil
		}),
		fn("objectKeys", 1, 1, kinds(o), func(c *Call, x []any) (any, error) {
			out := []any{}
			for _, k := range x[0].(*Object).keys {
				out = append(out, k)
			}
			return out, nil
		}),
		fn("shallowMerge", 1, 1, kinds(a), func(c *Call, x []any) (any, error) {
			out := NewObject()
			for _, e := range x[0].([]any) {
				obj, ok := e.(*Object)
				if !ok {
					if e == nil {
						continue
					}
					return nil, c.Fail("the array elements must be objects; found '%s'", TypeName(e))
				}
				for k, key := range obj.keys {
					out.Set(key, obj.vals[k])
				}
			}
			return out, nil
		}),
		fn("max", 1, -1, kinds(i|a), func(c *Call, x []any) (any, error) { return minMax(c, x, true) }),
		fn("min", 1, -1, kinds(i|a), func(c *Call, x []any) (any, error) { return minMax(c, x, false) }),
		fn("range", 2, 2, kinds(i, i), func(c *Call, x []any) (any, error) {
			start, count := x[0].(int64), x[1].(int64)
			if count < 0 || count > 10000 {
				return nil, c.Errorf("The template function 'range' expects its count parameter to be between 0 and 10000; it is %d.", count)
			}
			if start+count > 2147483647 || start < -2147483648 {
				return nil, c.Errorf("The template function 'range' expects the sum of its startIndex and count parameters to be no more than 2147483647.")
			}
			out := make([]any, count)
			for k := range out {
				out[k] = start + int64(k)
			}
			return out, nil
		}),
		fn("tryGet", 2, -1, kinds(o|a|KNull, s|i), func(c *Call, x []any) (any, error) {
			v := x[0]
			for _, key := range x[1:] {
				switch y := v.(type) {
				case *Object:
					k, ok := key.(string)
					if !ok {
						return nil, nil
					}
					v, ok = y.Get(k)
					if !ok {
						return nil, nil
					}
				case []any:
					n, ok := key.(int64)
					if !ok || n < 0 || n >= int64(len(y)) {
						return nil, nil
					}
					v = y[n]
				default:
					return nil, nil
				}
			}
			return v, nil
		}),
		fn("null", 0, 0, nil, func(c *Call, x []any) (any, error) { return nil, nil }),

		// Logical functions.
		fn("true", 0, 0, nil, func(c *Call, x []any) (any, error) { return true, nil }),
		fn("false", 0, 0, nil, func(c *Call, x []any) (any, error) { return false, nil }),
		fn("not", 1, 1, kinds(b), func(c *Call, x []any) (any, error) { return !x[0].(bool), nil }),
		fn("bool", 1, 1, kinds(b|s|i), func(c *Call, x []any) (any, error) {
			switch y := x[0].(type) {
			case bool:
				return y, nil
			case int64:
				return y != 0, nil
			case string:
				switch strings.ToLower(strings.TrimSpace(y)) {
				case "true":
					return true, nil
				case "false":
					return false, nil
				}
				return nil, c.Fail("the value '%s' cannot be converted to a boolean", y)
			}
			return false, nil
		}),
		&Func{Name: "and", Min: 1, Max: -1, Args: kinds(b), Lazy: func(c *Call) (any, error) {
			for k := 0; k < c.NArgs(); k++ {
				v, err := c.Arg(k)
				if err != nil {
					return nil, err
				}
				if !v.(bool) {
					return false, nil
				}
			}
			return true, nil
		}},
		&Func{Name: "or", Min: 1, Max: -1, Args: kinds(b), Lazy: func(c *Call) (any, error) {
			for k := 0; k < c.NArgs(); k++ {
				v, err := c.Arg(k)
				if err != nil {
					return nil, err
				}
				if v.(bool) {
					return true, nil
				}
			}
			return false, nil
		}},
		// if evaluates only the branch taken: templates guard reference()
		// of conditional resources with it.
		&Func{Name: "if", Min: 3, Max: 3, Args: kinds(b, Any, Any), Lazy: func(c *Call) (any, error) {
			cond, err := c.Arg(0)
			if err != nil {
				return nil, err
			}
			if cond.(bool) {
				return c.Arg(1)
			}
			return c.Arg(2)
		}},
		&Func{Name: "coalesce", Min: 1, Max: -1, Args: kinds(Any), Lazy: func(c *Call) (any, error) {
			for k := 0; k < c.NArgs(); k++ {
				v, err := c.Arg(k)
				if err != nil {
					return nil, err
				}
				if v != nil {
					return v, nil
				}
			}
			return nil, nil
		}},

		// Comparison functions.
		fn("equals", 2, 2, kinds(Any, Any), func(c *Call, x []any) (any, error) { return Equal(x[0], x[1]), nil }),
		fn("greater", 2, 2, kinds(i|s|KFloat), func(c *Call, x []any) (any, error) { return compare(c, x, func(r int) bool { return r > 0 }) }),
		fn("greaterOrEquals", 2, 2, kinds(i|s|KFloat), func(c *Call, x []any) (any, error) { return compare(c, x, func(r int) bool { return r >= 0 }) }),
		fn("less", 2, 2, kinds(i|s|KFloat), func(c *Call, x []any) (any, error) { return compare(c, x, func(r int) bool { return r < 0 }) }),
		fn("lessOrEquals", 2, 2, kinds(i|s|KFloat), func(c *Call, x []any) (any, error) { return compare(c, x, func(r int) bool { return r <= 0 }) }),

		// Numeric functions: 64-bit integers, division truncating.
		fn("add", 2, 2, kinds(i, i), func(c *Call, x []any) (any, error) { return x[0].(int64) + x[1].(int64), nil }),
		fn("sub", 2, 2, kinds(i, i), func(c *Call, x []any) (any, error) { return x[0].(int64) - x[1].(int64), nil }),
		fn("mul", 2, 2, kinds(i, i), func(c *Call, x []any) (any, error) { return x[0].(int64) * x[1].(int64), nil }),
		fn("div", 2, 2, kinds(i, i), func(c *Call, x []any) (any, error) {
			if x[1].(int64) == 0 {
				return nil, c.Errorf("The template function 'div' has an invalid parameter: attempted to divide by zero.")
			}
			return x[0].(int64) / x[1].(int64), nil
		}),
		fn("mod", 2, 2, kinds(i, i), func(c *Call, x []any) (any, error) {
			if x[1].(int64) == 0 {
				return nil, c.Errorf("The template function 'mod' has an invalid parameter: attempted to divide by zero.")
			}
			return x[0].(int64) % x[1].(int64), nil
		}),
		fn("int", 1, 1, kinds(i|s|KFloat), func(c *Call, x []any) (any, error) {
			switch y := x[0].(type) {
			case int64:
				return y, nil
			case float64, json.Number:
				if f := toFloat(y); f >= -9.2e18 && f <= 9.2e18 {
					return int64(f), nil
				}
				return nil, c.Fail("the value %v is out of range", y)
			case string:
				n, err := strconv.ParseInt(strings.TrimSpace(y), 10, 64)
				if err != nil {
					return nil, c.Fail("the value '%s' cannot be converted to an integer", y)
				}
				return n, nil
			}
			return nil, nil
		}),
		fn("float", 1, 1, kinds(i|s|KFloat), func(c *Call, x []any) (any, error) {
			switch y := x[0].(type) {
			case int64:
				return float64(y), nil
			case float64, json.Number:
				return toFloat(y), nil
			case string:
				f, err := strconv.ParseFloat(strings.TrimSpace(y), 64)
				if err != nil {
					return nil, c.Fail("the value '%s' cannot be converted to a float", y)
				}
				return f, nil
			}
			return nil, nil
		}),

		// Lambda functions.
		&Func{Name: "lambda", Min: 1, Max: -1, Lazy: func(c *Call) (any, error) {
			n := c.NArgs()
			l := &Lambda{Body: c.Node.Args[n-1], scope: c.scope, ev: c.ev}
			for k := 0; k < n-1; k++ {
				v, err := c.Arg(k)
				if err != nil {
					return nil, err
				}
				name, ok := v.(string)
				if !ok || name == "" {
					return nil, c.argError(k, "The lambda function's parameter names must be non-empty strings; the %s parameter is of type '%s'.", ordinal(k), TypeName(v))
				}
				l.Params = append(l.Params, name)
			}
			return l, nil
		}},
		fn("lambdaVariables", 1, 1, kinds(s), func(c *Call, x []any) (any, error) {
			v, ok := c.LambdaVariable(x[0].(string))
			if !ok {
				return nil, c.Errorf("The lambda variable '%s' is not defined in this scope.", x[0])
			}
			return v, nil
		}),
		fn("filter", 2, 2, kinds(a, KLambda), func(c *Call, x []any) (any, error) {
			l, err := c.Lambda(x, 1, 1, 2)
			if err != nil {
				return nil, err
			}
			out := []any{}
			for k, e := range x[0].([]any) {
				r, err := c.Apply(l, e, int64(k))
				if err != nil {
					return nil, err
				}
				keep, ok := r.(bool)
				if !ok {
					return nil, c.Fail("the lambda must return a boolean; it returned '%s'", TypeName(r))
				}
				if keep {
					out = append(out, e)
				}
			}
			return out, nil
		}),
		fn("map", 2, 2, kinds(a, KLambda), func(c *Call, x []any) (any, error) {
			l, err := c.Lambda(x, 1, 1, 2)
			if err != nil {
				return nil, err
			}
			out := make([]any, 0, len(x[0].([]any)))
			for k, e := range x[0].([]any) {
				r, err := c.Apply(l, e, int64(k))
				if err != nil {
					return nil, err
				}
				out = append(out, r)
			}
			return out, nil
		}),
		fn("mapValues", 2, 2, kinds(o, KLambda), func(c *Call, x []any) (any, error) {
			l, err := c.Lambda(x, 1, 1, 1)
			if err != nil {
				return nil, err
			}
			obj := x[0].(*Object)
			out := NewObject()
			for k, key := range obj.keys {
				r, err := c.Apply(l, obj.vals[k])
				if err != nil {
					return nil, err
				}
				out.Set(key, r)
			}
			return out, nil
		}),
		fn("reduce", 3, 3, kinds(a, Any, KLambda), func(c *Call, x []any) (any, error) {
			l, err := c.Lambda(x, 2, 2, 3)
			if err != nil {
				return nil, err
			}
			acc := x[1]
			for k, e := range x[0].([]any) {
				acc, err = c.Apply(l, acc, e, int64(k))
				if err != nil {
					return nil, err
				}
			}
			return acc, nil
		}),
		fn("sort", 2, 2, kinds(a, KLambda), func(c *Call, x []any) (any, error) {
			l, err := c.Lambda(x, 1, 2, 2)
			if err != nil {
				return nil, err
			}
			out := append([]any{}, x[0].([]any)...)
			var failed error
			sort.SliceStable(out, func(p, q int) bool {
				if failed != nil {
					return false
				}
				r, err := c.Apply(l, out[p], out[q])
				if err != nil {
					failed = err
					return false
				}
				less, ok := r.(bool)
				if !ok {
					failed = c.Fail("the lambda must return a boolean; it returned '%s'", TypeName(r))
				}
				return less
			})
			if failed != nil {
				return nil, failed
			}
			return out, nil
		}),
		fn("groupBy", 2, 2, kinds(a, KLambda), func(c *Call, x []any) (any, error) {
			l, err := c.Lambda(x, 1, 1, 1)
			if err != nil {
				return nil, err
			}
			out := NewObject()
			for _, e := range x[0].([]any) {
				r, err := c.Apply(l, e)
				if err != nil {
					return nil, err
				}
				key, ok := r.(string)
				if !ok {
					return nil, c.Fail("the key lambda must return a string; it returned '%s'", TypeName(r))
				}
				group, _ := out.Get(key)
				g, _ := group.([]any)
				out.Set(key, append(g, e))
			}
			return out, nil
		}),
		fn("toObject", 2, 3, kinds(a, KLambda, KLambda), func(c *Call, x []any) (any, error) {
			kl, err := c.Lambda(x, 1, 1, 1)
			if err != nil {
				return nil, err
			}
			var vl *Lambda
			if len(x) > 2 {
				if vl, err = c.Lambda(x, 2, 1, 1); err != nil {
					return nil, err
				}
			}
			out := NewObject()
			for _, e := range x[0].([]any) {
				r, err := c.Apply(kl, e)
				if err != nil {
					return nil, err
				}
				key, ok := r.(string)
				if !ok {
					return nil, c.Fail("the key lambda must return a string; it returned '%s'", TypeName(r))
				}
				v := e
				if vl != nil {
					if v, err = c.Apply(vl, e); err != nil {
						return nil, err
					}
				}
				out.Set(key, v)
			}
			return out, nil
		}),
	)
}

func compare(c *Call, x []any, ok func(int) bool) (any, error) {
	switch a := x[0].(type) {
	case string:
		b, isStr := x[1].(string)
		if !isStr {
			break
		}
		return ok(compareCulture(a, b)), nil
	case int64, float64, json.Number:
		fa := toFloat(a)
		switch x[1].(type) {
		case int64, float64, json.Number:
			if ai, isInt := a.(int64); isInt {
				if bi, isInt := x[1].(int64); isInt {
					switch {
					case ai < bi:
						return ok(-1), nil
					case ai > bi:
						return ok(1), nil
					}
					return ok(0), nil
				}
			}
			fb := toFloat(x[1])
			switch {
			case fa < fb:
				return ok(-1), nil
			case fa > fb:
				return ok(1), nil
			}
			return ok(0), nil
		}
	}
	return nil, c.Errorf("The template function '%s' expects two parameters of the same type, integers or strings; they are of types '%s' and '%s'.", c.Func.Name, TypeName(x[0]), TypeName(x[1]))
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	case json.Number:
		return numberFloat(x)
	}
	return 0
}

// compareCulture compares strings as ARM's comparison functions do: with
// .NET's invariant culture, where letters compare without regard to case
// first and, between strings that differ only in case, lower case sorts
// first (greater('A', 'a') is true in ARM's documentation). This is that
// rule for letters by code point, not the whole Unicode collation.
func compareCulture(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	for k := 0; k < len(ra) && k < len(rb); k++ {
		x, y := unicode.ToLower(ra[k]), unicode.ToLower(rb[k])
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(ra) < len(rb):
		return -1
	case len(ra) > len(rb):
		return 1
	}
	for k := range ra {
		if ra[k] != rb[k] {
			if unicode.IsLower(ra[k]) {
				return -1
			}
			return 1
		}
	}
	return 0
}

func minMax(c *Call, x []any, isMax bool) (any, error) {
	vals := x
	if len(x) == 1 {
		if arr, ok := x[0].([]any); ok {
			vals = arr
		}
	}
	if len(vals) == 0 {
		return nil, c.Errorf("The template function '%s' expects at least one integer.", c.Func.Name)
	}
	var best int64
	for k, v := range vals {
		n, ok := v.(int64)
		if !ok {
			return nil, c.Errorf("The template function '%s' expects integers or one array of integers; found a value of type '%s'.", c.Func.Name, TypeName(v))
		}
		if k == 0 || isMax && n > best || !isMax && n < best {
			best = n
		}
	}
	return best, nil
}

func intersection(c *Call, x []any) (any, error) {
	switch first := x[0].(type) {
	case []any:
		// An element is kept when every other array has it; each array is
		// read once, through the canonical form of its elements.
		counts := map[string]int{}
		for k, other := range x[1:] {
			arr, ok := other.([]any)
			if !ok {
				return nil, c.argError(k+1, "The template function 'intersection' expects all its parameters to be arrays or all objects.")
			}
			seen := map[string]bool{}
			for _, y := range arr {
				key := canonical(y)
				if !seen[key] && counts[key] == k {
					seen[key] = true
					counts[key]++
				}
			}
		}
		out := []any{}
		kept := map[string]bool{}
		for _, e := range first {
			key := canonical(e)
			if counts[key] == len(x)-1 && !kept[key] {
				kept[key] = true
				out = append(out, e)
			}
		}
		return out, nil
	case *Object:
		out := NewObject()
	members:
		for k, key := range first.keys {
			for n, other := range x[1:] {
				obj, ok := other.(*Object)
				if !ok {
					return nil, c.argError(n+1, "The template function 'intersection' expects all its parameters to be arrays or all objects.")
				}
				v, ok := obj.Get(key)
				if !ok || !Equal(v, first.vals[k]) {
					continue members
				}
			}
			out.Set(key, first.vals[k])
		}
		return out, nil
	}
	return nil, nil
}

// union of arrays keeps each distinct element once, in order; of objects,
// later members win and nested objects are merged recursively.
func union(c *Call, x []any) (any, error) {
	switch x[0].(type) {
	case []any:
		out := []any{}
		seen := map[string]bool{}
		for k, v := range x {
			arr, ok := v.([]any)
			if !ok {
				if v == nil {
					continue
				}
				return nil, c.argError(k, "The template function 'union' expects all its parameters to be arrays or all objects.")
			}
			for _, e := range arr {
				key := canonical(e)
				if !seen[key] {
					seen[key] = true
					out = append(out, e)
				}
			}
		}
		return out, nil
	case *Object:
		out := NewObject()
		for k, v := range x {
			obj, ok := v.(*Object)
			if !ok {
				if v == nil {
					continue
				}
				return nil, c.argError(k, "The template function 'union' expects all its parameters to be arrays or all objects.")
			}
			mergeInto(out, obj)
		}
		return out, nil
	}
	return nil, nil
}

func mergeInto(dst, src *Object) {
	for k, key := range src.keys {
		v := src.vals[k]
		if so, ok := v.(*Object); ok {
			if cur, ok := dst.Get(key); ok {
				if do, ok := cur.(*Object); ok {
					merged := do.Clone()
					mergeInto(merged, so)
					dst.Set(key, merged)
					continue
				}
			}
		}
		dst.Set(key, v)
	}
}
