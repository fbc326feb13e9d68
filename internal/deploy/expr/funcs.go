package expr

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
)

// builtins is the function library, by lower-cased name. Each file of
// functions registers its own in init, next to their implementations.
var builtins = map[string]*Func{}

func register(fs ...*Func) {
	for _, f := range fs {
		k := strings.ToLower(f.Name)
		if _, dup := builtins[k]; dup {
			panic("expr: function registered twice: " + f.Name)
		}
		builtins[k] = f
	}
}

// Builtin returns the built-in function called name (case-insensitive), or
// nil. A Context can use it to wrap a built-in with a restriction.
func Builtin(name string) *Func { return builtins[strings.ToLower(name)] }

// Builtins returns the names of the built-in functions, sorted.
func Builtins() []string {
	names := make([]string, 0, len(builtins))
	for _, f := range builtins {
		names = append(names, f.Name)
	}
	sort.Strings(names)
	return names
}

// fn is shorthand for an eager function's table entry.
func fn(name string, min, max int, args []Kind, impl func(c *Call, a []any) (any, error)) *Func {
	return &Func{Name: name, Min: min, Max: max, Args: args, Fn: impl}
}

func kinds(k ...Kind) []Kind { return k }

// ToString converts v as string(), concat() and format() do: strings as
// they are, integers in decimal, booleans as .NET writes them ("True"),
// null as "", arrays and objects as compact JSON.
func ToString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		if x {
			return "True"
		}
		return "False"
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case json.Number:
		return string(x)
	}
	b, err := Marshal(v)
	if err != nil {
		return TypeName(v)
	}
	return string(b)
}

// utf16Len is the length of s as .NET counts it (UTF-16 code units), which
// is what length(), substring() and indexOf() measure.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}

func toU16(s string) []uint16 { return utf16.Encode([]rune(s)) }

func fromU16(u []uint16) string { return string(utf16.Decode(u)) }

// foldU16 upper-cases s rune by rune (keeping its length in code units),
// for .NET's OrdinalIgnoreCase comparisons.
func foldU16(s string) []uint16 {
	rs := []rune(s)
	for i, r := range rs {
		u := unicode.ToUpper(r)
		if (u >= 0x10000) == (r >= 0x10000) {
			rs[i] = u
		}
	}
	return utf16.Encode(rs)
}

func indexU16(s, sub []uint16, last bool) int {
	n, m := len(s), len(sub)
	if m > n {
		return -1
	}
	match := func(i int) bool {
		for j := 0; j < m; j++ {
			if s[i+j] != sub[j] {
				return false
			}
		}
		return true
	}
	if last {
		for i := n - m; i >= 0; i-- {
			if match(i) {
				return i
			}
		}
		return -1
	}
	for i := 0; i+m <= n; i++ {
		if match(i) {
			return i
		}
	}
	return -1
}

// toInt converts an integer-valued argument (int64 or a float with no
// fraction) to int64.
func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case float64, json.Number:
		if f := toFloat(x); f == float64(int64(f)) {
			return int64(f), true
		}
	}
	return 0, false
}

// intArg returns argument i as int64, or an error naming it.
func intArg(c *Call, a []any, i int) (int64, error) {
	n, ok := toInt(a[i])
	if !ok {
		return 0, c.argError(i, "The template function '%s' expects its %s parameter to be an integer. The provided value is of type '%s'.", c.Func.Name, ordinal(i), TypeName(a[i]))
	}
	return n, nil
}

// maxBuild bounds strings and arrays a function builds from small input
// (padLeft, range), well above what any template needs.
const maxBuild = 1 << 20

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
