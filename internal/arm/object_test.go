package arm_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/privlink/privlink/internal/arm"
	"strconv"
	"sync"
)

func mustParseObject(t testing.TB, s string) *arm.Object {
	t.Helper()
	o, err := arm.ParseObject([]byte(s))
	if err != nil {
		t.Fatalf("ParseObject(%s): %v", s, err)
	}
	return o
}

func marshal(t testing.TB, o *arm.Object) string {
	t.Helper()
	b, err := o.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseObjectKeepsMembers(t *testing.T) {
	tests := []struct {
		name string
		in   string
		keys []string
		vals []string // raw value of each key, in order
		out  string   // MarshalJSON
	}{
		{"empty", `{}`, nil, nil, `{}`},
		{"empty with space", " { \n } ", nil, nil, `{}`},
		{
			"order is the client's, not sorted", `{"z":1,"a":2,"m":3}`,
			[]string{"z", "a", "m"}, []string{`1`, `2`, `3`}, `{"z":1,"a":2,"m":3}`,
		},
		{
			"numbers keep their spelling", `{"int":2,"float":2.0,"exp":1e3,"neg":-0,"frac":0.10}`,
			[]string{"int", "float", "exp", "neg", "frac"}, []string{`2`, `2.0`, `1e3`, `-0`, `0.10`},
			`{"int":2,"float":2.0,"exp":1e3,"neg":-0,"frac":0.10}`,
		},
		{
			"big numbers stay exact", `{"big":123456789012345678901234567890,"huge":1e400,"precise":0.1000000000000000055511151231257827}`,
			[]string{"big", "huge", "precise"}, []string{`123456789012345678901234567890`, `1e400`, `0.1000000000000000055511151231257827`},
			`{"big":123456789012345678901234567890,"huge":1e400,"precise":0.1000000000000000055511151231257827}`,
		},
		{
			"HTML escapes are read as the characters, other escapes kept", `{"\u003ck\u003e":"\u003cb\u003e \u0026 \\u003c \u00e9"}`,
			[]string{"<k>"}, []string{`"<b> & \\u003c \u00e9"`},
			`{"<k>":"<b> & \\u003c \u00e9"}`,
		},
		{
			"unicode and escapes in values are kept raw", `{"s":"caf\u00e9 café 😀 \"q\" \\ \/","e":""}`,
			[]string{"s", "e"}, []string{`"caf\u00e9 café 😀 \"q\" \\ \/"`, `""`},
			`{"s":"caf\u00e9 café 😀 \"q\" \\ \/","e":""}`,
		},
		{
			"escaped keys are decoded", `{"a\"b":1,"caf\u00e9":2,"tab\t":3,"back\\slash":4,"\u00e9t\u00e9":5}`,
			[]string{`a"b`, "café", "tab\t", `back\slash`, "été"}, []string{`1`, `2`, `3`, `4`, `5`},
			`{"a\"b":1,"café":2,"tab\t":3,"back\\slash":4,"été":5}`,
		},
		{
			"whitespace is compacted, inside strings kept", "{\n  \"a\" : [ 1 , 2 ,\t3 ] ,\r\n  \"b\" : { \"c\" : \"x  y\" , \"d\" : [ ] } ,\n \"e\" : null , \"f\" : true\n}",
			[]string{"a", "b", "e", "f"}, []string{`[1,2,3]`, `{"c":"x  y","d":[]}`, `null`, `true`},
			`{"a":[1,2,3],"b":{"c":"x  y","d":[]},"e":null,"f":true}`,
		},
		{
			"nested structures with brackets in strings", `{"a":{"b":"}],{["},"c":["]","}"],"d":"\"}"}`,
			[]string{"a", "c", "d"}, []string{`{"b":"}],{["}`, `["]","}"]`, `"\"}"`},
			`{"a":{"b":"}],{["},"c":["]","}"],"d":"\"}"}`,
		},
		{
			"duplicate key: last value wins, first position", `{"a":1,"b":2,"a":3}`,
			[]string{"a", "b"}, []string{`3`, `2`}, `{"a":3,"b":2}`,
		},
		{
			"keys differing only in case are distinct members", `{"name":1,"Name":2,"NAME":3}`,
			[]string{"name", "Name", "NAME"}, []string{`1`, `2`, `3`}, `{"name":1,"Name":2,"NAME":3}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := mustParseObject(t, tt.in)
			if got, want := o.Keys(), tt.keys; !reflect.DeepEqual(got, want) {
				t.Fatalf("Keys() = %q, want %q", got, want)
			}
			if got, want := o.Len(), len(tt.keys); got != want {
				t.Fatalf("Len() = %d, want %d", got, want)
			}
			for i, k := range tt.keys {
				v, ok := o.Get(k)
				if !ok {
					t.Fatalf("Get(%q): missing", k)
				}
				if got, want := string(v), tt.vals[i]; got != want {
					t.Fatalf("Get(%q) = %s, want %s", k, got, want)
				}
			}
			if got, want := marshal(t, o), tt.out; got != want {
				t.Fatalf("MarshalJSON =\n %s\nwant\n %s", got, want)
			}
			// encoding/json uses MarshalJSON and UnmarshalJSON too (through
			// arm.Marshal, without HTML escaping, as privlink writes JSON).
			b, err := arm.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := string(b), tt.out; got != want {
				t.Fatalf("arm.Marshal =\n %s\nwant\n %s", got, want)
			}
			var viaJSON arm.Object
			if err := json.Unmarshal([]byte(tt.in), &viaJSON); err != nil {
				t.Fatalf("json.Unmarshal: %v", err)
			}
			if got, want := marshal(t, &viaJSON), tt.out; got != want {
				t.Fatalf("json.Unmarshal then MarshalJSON =\n %s\nwant\n %s", got, want)
			}
			// ParseTrustedObject agrees on compact input.
			trusted, err := arm.ParseTrustedObject([]byte(tt.out))
			if err != nil {
				t.Fatalf("ParseTrustedObject(%s): %v", tt.out, err)
			}
			if got, want := marshal(t, trusted), tt.out; got != want {
				t.Fatalf("ParseTrustedObject round trip =\n %s\nwant\n %s", got, want)
			}
			if got, want := trusted.Keys(), tt.keys; !reflect.DeepEqual(got, want) {
				t.Fatalf("ParseTrustedObject Keys() = %q, want %q", got, want)
			}
		})
	}
}

func TestParseObjectErrors(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantType string // non-empty: a *TypeError with this Got
	}{
		{"empty input", ``, ""},
		{"only whitespace", "  \n", ""},
		{"null", `null`, "null"},
		{"array", `[{"a":1}]`, "array"},
		{"string", `"{}"`, "string"},
		{"number", `42`, "number"},
		{"boolean", `true`, "boolean"},
		{"array after whitespace", ` [1]`, "array"},
		{"trailing garbage", `{"a":1} x`, ""},
		{"two objects", `{"a":1}{"b":2}`, ""},
		{"trailing comma", `{"a":1,}`, ""},
		{"unclosed", `{"a":1`, ""},
		{"single quotes", `{'a':1}`, ""},
		{"unquoted key", `{a:1}`, ""},
		{"missing value", `{"a":}`, ""},
		{"bad literal", `{"a":tru}`, ""},
		{"leading zero", `{"a":01}`, ""},
		{"nan", `{"a":NaN}`, ""},
		{"control character in string", "{\"a\":\"x\ny\"}", ""},
		{"bad escape", `{"a":"\x"}`, ""},
		{"comment", `{"a":1 /* c */}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := arm.ParseObject([]byte(tt.in))
			if err == nil {
				t.Fatalf("ParseObject(%q) = %s, want error", tt.in, marshal(t, o))
			}
			var te *arm.TypeError
			if got, want := errors.As(err, &te), tt.wantType != ""; got != want {
				t.Fatalf("ParseObject(%q) error %v: is TypeError = %v, want %v", tt.in, err, got, want)
			}
			if te != nil {
				if got, want := te.Got, tt.wantType; got != want {
					t.Fatalf("TypeError.Got = %q, want %q", got, want)
				}
				if got, want := te.Want, "object"; got != want {
					t.Fatalf("TypeError.Want = %q, want %q", got, want)
				}
				if got, want := te.Error(), "expected object, found "+tt.wantType; got != want {
					t.Fatalf("Error() = %q, want %q", got, want)
				}
			}
			var viaJSON arm.Object
			if err := json.Unmarshal([]byte(tt.in), &viaJSON); err == nil && tt.in != `null` {
				t.Fatalf("json.Unmarshal(%q) into Object succeeded", tt.in)
			}
		})
	}
}

func TestParseTrustedObject(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		keys    []string
		wantErr bool
	}{
		{"empty", `{}`, nil, false},
		{"members", `{"id":"/x","properties":{"a":[1,{"b":null}]},"n":1.50}`, []string{"id", "properties", "n"}, false},
		{"escaped key", `{"a\u0062":1}`, []string{"ab"}, false},
		{"not an object", `[1]`, nil, true},
		{"empty input", ``, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := arm.ParseTrustedObject([]byte(tt.in))
			if got, want := err != nil, tt.wantErr; got != want {
				t.Fatalf("ParseTrustedObject(%s) error = %v, want error %v", tt.in, err, want)
			}
			if err != nil {
				return
			}
			if got, want := o.Keys(), tt.keys; !reflect.DeepEqual(got, want) {
				t.Fatalf("Keys() = %q, want %q", got, want)
			}
			full := mustParseObject(t, tt.in)
			if got, want := marshal(t, o), marshal(t, full); got != want {
				t.Fatalf("ParseTrustedObject = %s, ParseObject = %s", got, want)
			}
		})
	}
}

func TestObjectGet(t *testing.T) {
	o := mustParseObject(t, `{"Name":"upper","name":"lower","location":"westus","Props":{"x":1}}`)
	tests := []struct {
		name   string
		key    string
		want   string
		wantOK bool
	}{
		{"exact match", "name", `"lower"`, true},
		{"exact match, other casing present", "Name", `"upper"`, true},
		{"case-insensitive falls back to the first in order", "NAME", `"upper"`, true},
		{"case-insensitive single", "LOCATION", `"westus"`, true},
		{"nested object", "props", `{"x":1}`, true},
		{"absent", "tags", "", false},
		{"empty key absent", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, ok := o.Get(tt.key)
			if got, want := ok, tt.wantOK; got != want {
				t.Fatalf("Get(%q) ok = %v, want %v", tt.key, got, want)
			}
			if got, want := string(v), tt.want; got != want {
				t.Fatalf("Get(%q) = %s, want %s", tt.key, got, want)
			}
		})
	}
}

func TestObjectHas(t *testing.T) {
	o := mustParseObject(t, `{"a":1,"n":null,"e":"","z":0,"f":false}`)
	tests := []struct {
		name string
		key  string
		want bool
	}{
		{"present", "a", true},
		{"present other casing", "A", true},
		{"null is absent", "n", false},
		{"empty string is present", "e", true},
		{"zero is present", "z", true},
		{"false is present", "f", true},
		{"absent", "x", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := o.Has(tt.key), tt.want; got != want {
				t.Fatalf("Has(%q) = %v, want %v", tt.key, got, want)
			}
		})
	}
}

func TestObjectSet(t *testing.T) {
	tests := []struct {
		name string
		in   string
		key  string
		val  string
		want string
	}{
		{"replace keeps position", `{"a":1,"b":2,"c":3}`, "b", `20`, `{"a":1,"b":20,"c":3}`},
		{"replace keeps the existing spelling", `{"a":1,"provisioningState":"Creating","c":3}`, "ProvisioningState", `"Succeeded"`, `{"a":1,"provisioningState":"Succeeded","c":3}`},
		{"replace prefers the exact spelling", `{"Name":1,"name":2}`, "name", `3`, `{"Name":1,"name":3}`},
		{"new member goes last", `{"a":1}`, "etag", `"W/\"1\""`, `{"a":1,"etag":"W/\"1\""}`},
		{"into empty", `{}`, "a", `[]`, `{"a":[]}`},
		{"empty raw value writes null", `{"a":1}`, "b", ``, `{"a":1,"b":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := mustParseObject(t, tt.in)
			o.Set(tt.key, json.RawMessage(tt.val))
			if got, want := marshal(t, o), tt.want; got != want {
				t.Fatalf("after Set(%q, %s) = %s, want %s", tt.key, tt.val, got, want)
			}
		})
	}

	t.Run("zero Object", func(t *testing.T) {
		var o arm.Object
		o.Set("a", json.RawMessage(`1`))
		o.SetValue("b", map[string]int{"x": 2})
		o.SetObject("c", mustParseObject(t, `{"z":1,"y":2}`))
		if got, want := marshal(t, &o), `{"a":1,"b":{"x":2},"c":{"z":1,"y":2}}`; got != want {
			t.Fatalf("MarshalJSON = %s, want %s", got, want)
		}
	})
	t.Run("nil Object", func(t *testing.T) {
		var o *arm.Object
		if got, want := marshal(t, o), `null`; got != want {
			t.Fatalf("MarshalJSON = %s, want %s", got, want)
		}
		if got, want := o.Len(), 0; got != want {
			t.Fatalf("Len() = %d, want %d", got, want)
		}
		if _, ok := o.Get("a"); ok {
			t.Fatalf("Get on nil Object found a member")
		}
	})
}

func TestObjectDelete(t *testing.T) {
	tests := []struct {
		name string
		in   string
		key  string
		want string
	}{
		{"middle", `{"a":1,"b":2,"c":3}`, "b", `{"a":1,"c":3}`},
		{"first", `{"a":1,"b":2,"c":3}`, "a", `{"b":2,"c":3}`},
		{"last", `{"a":1,"b":2,"c":3}`, "c", `{"a":1,"b":2}`},
		{"case-insensitive", `{"a":1,"systemData":{},"c":3}`, "SYSTEMDATA", `{"a":1,"c":3}`},
		{"exact spelling first", `{"Name":1,"name":2}`, "name", `{"Name":1}`},
		{"absent is a no-op", `{"a":1}`, "x", `{"a":1}`},
		{"only member", `{"a":1}`, "a", `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := mustParseObject(t, tt.in)
			n := o.Len()
			o.Delete(tt.key)
			if got, want := marshal(t, o), tt.want; got != want {
				t.Fatalf("after Delete(%q) = %s, want %s", tt.key, got, want)
			}
			if got, want := o.Len(), len(mustParseObject(t, tt.want).Keys()); got != want {
				t.Fatalf("Len() = %d, want %d (was %d)", got, want, n)
			}
		})
	}
}

func TestObjectClone(t *testing.T) {
	o := mustParseObject(t, `{"a":1,"b":{"c":2}}`)
	c := o.Clone()
	c.Set("a", json.RawMessage(`10`))
	c.Delete("b")
	c.Set("d", json.RawMessage(`4`))
	if got, want := marshal(t, o), `{"a":1,"b":{"c":2}}`; got != want {
		t.Fatalf("original after changing the clone = %s, want %s", got, want)
	}
	if got, want := marshal(t, c), `{"a":10,"d":4}`; got != want {
		t.Fatalf("clone = %s, want %s", got, want)
	}
	var nilObj *arm.Object
	if got, want := marshal(t, nilObj.Clone()), `{}`; got != want {
		t.Fatalf("nil Clone = %s, want %s", got, want)
	}
}

// Clone shares the member list until a change (copy on write): each side's
// changes, of every kind, stay its own, whichever changes first, and a
// clone of a clone is as independent.
func TestObjectCloneCopiesOnWrite(t *testing.T) {
	const doc = `{"type":"t","a":1,"b":2}`
	change := map[string]func(*arm.Object){
		"Set":       func(o *arm.Object) { o.Set("a", json.RawMessage(`9`)) },
		"Set new":   func(o *arm.Object) { o.Set("z", json.RawMessage(`9`)) },
		"SetAfter":  func(o *arm.Object) { o.SetAfter("type", "location", json.RawMessage(`"w"`)) },
		"Delete":    func(o *arm.Object) { o.Delete("a") },
		"Unmarshal": func(o *arm.Object) { _ = o.UnmarshalJSON([]byte(`{"x":0}`)) },
	}
	for name, f := range change {
		t.Run(name, func(t *testing.T) {
			src := mustParseObject(t, doc)
			c := src.Clone()
			cc := c.Clone()
			f(src) // the source first: the clones keep the document
			if got := marshal(t, c); got != doc {
				t.Fatalf("clone after changing the source = %s", got)
			}
			f(c)
			if got := marshal(t, cc); got != doc {
				t.Fatalf("clone of the clone after changing the clone = %s", got)
			}
			if marshal(t, src) != marshal(t, c) {
				t.Fatalf("source %s and clone %s changed alike but differ", marshal(t, src), marshal(t, c))
			}
		})
	}
	// Many readers clone one document at once (the decode cache), each then
	// changing its own copy: -race checks the sharing.
	src := mustParseObject(t, doc)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := src.Clone()
			c.Set("a", json.RawMessage(strconv.Itoa(i)))
			c.Set("n"+strconv.Itoa(i), json.RawMessage(`1`))
		}(i)
	}
	wg.Wait()
	if got := marshal(t, src); got != doc {
		t.Fatalf("source after its clones changed = %s", got)
	}
}

func TestObjectString(t *testing.T) {
	o := mustParseObject(t, `{"s":"caf\u00e9","e":"","n":null,"i":1,"b":true,"o":{},"a":["x"],"Loc":"westus"}`)
	tests := []struct {
		name     string
		key      string
		want     string
		wantOK   bool
		wantType string // non-empty: a *TypeError with this Got
	}{
		{"string, escapes decoded", "s", "café", true, ""},
		{"empty string", "e", "", true, ""},
		{"case-insensitive", "loc", "westus", true, ""},
		{"null", "n", "", false, ""},
		{"absent", "x", "", false, ""},
		{"number", "i", "", false, "number"},
		{"boolean", "b", "", false, "boolean"},
		{"object", "o", "", false, "object"},
		{"array", "a", "", false, "array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ok, err := o.String(tt.key)
			if got, want := s, tt.want; got != want {
				t.Fatalf("String(%q) = %q, want %q", tt.key, got, want)
			}
			if got, want := ok, tt.wantOK; got != want {
				t.Fatalf("String(%q) ok = %v, want %v", tt.key, got, want)
			}
			checkTypeError(t, err, "string", tt.wantType)
		})
	}
}

func TestObjectObject(t *testing.T) {
	o := mustParseObject(t, `{"p":{ "z" : 1, "a" : {"b":2.0} },"n":null,"s":"x","a":[{}],"i":3,"e":{}}`)
	tests := []struct {
		name     string
		key      string
		want     string // MarshalJSON of the result; "" for nil
		wantType string
	}{
		{"object", "p", `{"z":1,"a":{"b":2.0}}`, ""},
		{"case-insensitive", "P", `{"z":1,"a":{"b":2.0}}`, ""},
		{"empty object", "e", `{}`, ""},
		{"null", "n", "", ""},
		{"absent", "x", "", ""},
		{"string", "s", "", "string"},
		{"array", "a", "", "array"},
		{"number", "i", "", "number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := o.Object(tt.key)
			checkTypeError(t, err, "object", tt.wantType)
			if tt.want == "" {
				if got != nil {
					t.Fatalf("Object(%q) = %s, want nil", tt.key, marshal(t, got))
				}
				return
			}
			if got == nil {
				t.Fatalf("Object(%q) = nil, want %s", tt.key, tt.want)
			}
			if g, want := marshal(t, got), tt.want; g != want {
				t.Fatalf("Object(%q) = %s, want %s", tt.key, g, want)
			}
		})
	}
}

func checkTypeError(t *testing.T, err error, want, wantGot string) {
	t.Helper()
	if wantGot == "" {
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
		return
	}
	var te *arm.TypeError
	if !errors.As(err, &te) {
		t.Fatalf("error = %v, want a *TypeError", err)
	}
	if got := te.Want; got != want {
		t.Fatalf("TypeError.Want = %q, want %q", got, want)
	}
	if got := te.Got; got != wantGot {
		t.Fatalf("TypeError.Got = %q, want %q", got, wantGot)
	}
}

// TestMergePatchRFC7396 runs the examples of RFC 7396 Appendix A whose
// target and patch are objects (an Object is always one), plus cases of our own.
func TestMergePatchRFC7396(t *testing.T) {
	tests := []struct {
		name   string
		target string
		patch  string
		want   string
	}{
		{"A.1 replace", `{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
		{"A.2 add", `{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
		{"A.3 remove", `{"a":"b"}`, `{"a":null}`, `{}`},
		{"A.4 remove one of two", `{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
		{"A.5 array replaced by string", `{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
		{"A.6 string replaced by array", `{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
		{"A.7 nested merge", `{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
		{"A.8 arrays replaced whole", `{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
		{"A.13 existing null kept", `{"e":null}`, `{"a":1}`, `{"e":null,"a":1}`},
		{"A.14 array target becomes object", `{}`, `{"a":"b","c":null}`, `{"a":"b"}`},
		{"A.15 nulls vanish in new objects", `{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
		// From the RFC's section 3 example.
		{
			"section 3 example",
			`{"title":"Goodbye!","author":{"givenName":"John","familyName":"Doe"},"tags":["example","sample"],"content":"This will be unchanged"}`,
			`{"title":"Hello!","phoneNumber":"+01-123-456-7890","author":{"familyName":null},"tags":["example"]}`,
			`{"title":"Hello!","author":{"givenName":"John"},"tags":["example"],"content":"This will be unchanged","phoneNumber":"+01-123-456-7890"}`,
		},
		{"empty patch", `{"a":1}`, `{}`, `{"a":1}`},
		{"object replaces scalar", `{"a":1}`, `{"a":{"b":1,"c":null}}`, `{"a":{"b":1}}`},
		{"scalar replaces object", `{"a":{"b":1}}`, `{"a":2}`, `{"a":2}`},
		{"removing an absent member", `{"a":1}`, `{"b":null}`, `{"a":1}`},
		{"numbers in the patch keep their spelling", `{"a":1}`, `{"a":1.0,"b":1e2}`, `{"a":1.0,"b":1e2}`},
		{"untouched members keep order and spelling", `{"z":2.50,"y":{"k":[1,2]},"x":0}`, `{"y":{"j":true}}`, `{"z":2.50,"y":{"k":[1,2],"j":true},"x":0}`},
		{"keys match case-insensitively", `{"properties":{"groupId":"blob"}}`, `{"Properties":{"GroupId":"file","requestMessage":"hi"}}`, `{"properties":{"groupId":"file","requestMessage":"hi"}}`},
		{"case-insensitive removal", `{"tags":{"a":"1"},"b":2}`, `{"TAGS":null}`, `{"b":2}`},
		{"deep", `{"a":{"b":{"c":{"d":1,"e":2}}}}`, `{"a":{"b":{"c":{"d":null,"f":3}}}}`, `{"a":{"b":{"c":{"e":2,"f":3}}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := mustParseObject(t, tt.target)
			p := mustParseObject(t, tt.patch)
			patchBefore := marshal(t, p)
			if err := o.MergePatch(p); err != nil {
				t.Fatalf("MergePatch: %v", err)
			}
			if got, want := marshal(t, o), tt.want; got != want {
				t.Fatalf("MergePatch(%s, %s) =\n %s\nwant\n %s", tt.target, tt.patch, got, want)
			}
			if got, want := marshal(t, p), patchBefore; got != want {
				t.Fatalf("MergePatch changed the patch: %s, was %s", got, want)
			}
		})
	}
}

func TestKind(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"object", ` {"a":1}`, "object"},
		{"array", `[]`, "array"},
		{"string", `"x"`, "string"},
		{"true", `true`, "boolean"},
		{"false", `false`, "boolean"},
		{"null", `null`, "null"},
		{"empty is null", ``, "null"},
		{"number", `-1.5e3`, "number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := arm.Kind(json.RawMessage(tt.in)), tt.want; got != want {
				t.Fatalf("Kind(%s) = %q, want %q", tt.in, got, want)
			}
		})
	}
}

// FuzzParseObject checks ParseObject against encoding/json: it accepts
// exactly the inputs that decode into a map[string]json.RawMessage, and what
// it writes back decodes to the same value as the input. The seeds run on
// every `go test`; `go test -fuzz=FuzzParseObject ./internal/arm` explores.
func FuzzParseObject(f *testing.F) {
	for _, s := range []string{
		`{}`,
		` { } `,
		`{"a":1}`,
		`{"a":2.0,"b":2,"c":1e400,"d":123456789012345678901234567890,"e":-0}`,
		`{"z":1,"a":2}`,
		`{"a":1,"a":2}`,
		`{"a":1,"A":2}`,
		`{"K":1,"k":2,"\u212a":3}`,
		`{"a":{"b":[1,{"c":null}],"d":"}]"},"e":[[],{}]}`,
		`{"a\"b":1,"caf\u00e9":"caf\u00e9","\u0000":"\u0000"}`,
		`{"":""}`,
		`{"a":"\ud800"}`,
		"{\"\xff\":1,\"\\ufffd\":2}",
		"{\"a\":\"\xff\xfe\"}",
		"\n{\"a\" :\t[ 1 , 2 ] }\n",
		`{"<>&":"<>&"}`,
		`{"\u003c\u003e\u0026":"\u003c\\u003c\u0026","<>&":1}`,
		`{"a":1,}`,
		`{"a":1} x`,
		`{"a":1}{}`,
		`{"a"}`,
		`{"a":}`,
		`{`,
		`}`,
		`[]`,
		`[{"a":1}]`,
		`null`,
		`"x"`,
		`0`,
		``,
		`{"a":tru}`,
		`{"a":"\x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m map[string]json.RawMessage
		mErr := json.Unmarshal(data, &m)
		// "null" decodes into a map without error but leaves it nil: that is
		// no object, and ParseObject rightly refuses it.
		decodes := mErr == nil && m != nil

		o, err := arm.ParseObject(data)
		if got, want := err == nil, decodes; got != want {
			t.Fatalf("ParseObject(%q) error = %v; json.Unmarshal into map: err %v, map %v", data, err, mErr, m != nil)
		}
		if err != nil {
			return
		}
		out, err := arm.Marshal(o)
		if err != nil {
			t.Fatalf("marshal ParseObject(%q): %v", data, err)
		}
		if !json.Valid(out) {
			t.Fatalf("ParseObject(%q) marshals to invalid JSON %q", data, out)
		}
		// Compact: no whitespace outside strings (a key or value may hold
		// spaces, also ones the input wrote as \u0020).
		var compact bytes.Buffer
		if err := json.Compact(&compact, out); err != nil || compact.String() != string(out) {
			t.Fatalf("ParseObject(%q) marshals to %q, which is not compact", data, out)
		}
		// The same value as the input, to the last digit of every number.
		if got, want := decodeNumbers(t, out), decodeNumbers(t, data); !reflect.DeepEqual(got, want) {
			t.Fatalf("ParseObject(%q) round trip\n got %q = %#v\nwant %#v", data, out, got, want)
		}
		// And as plain encoding/json sees it, when it can decode the input
		// (it cannot when a number overflows float64).
		var want any
		if json.Unmarshal(data, &want) == nil {
			var got any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("json.Unmarshal(%q): %v", out, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("ParseObject(%q) round trip\n got %q = %#v\nwant %#v", data, out, got, want)
			}
		}
		// What we wrote is compact and valid: the trusted fast path reads it
		// as the full parser does.
		trusted, err := arm.ParseTrustedObject(out)
		if err != nil {
			t.Fatalf("ParseTrustedObject(%q): %v", out, err)
		}
		if got, want := marshal(t, trusted), marshal(t, mustParseObject(t, string(out))); got != want {
			t.Fatalf("ParseTrustedObject(%q) = %q, ParseObject = %q", out, got, want)
		}
	})
}

func decodeNumbers(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return v
}

func TestSetAfter(t *testing.T) {
	tests := []struct {
		name, in, after, key, val, want string
	}{
		{"after a middle member", `{"id":1,"type":2,"properties":3}`, "type", "location", `"L"`, `{"id":1,"type":2,"location":"L","properties":3}`},
		{"after the last member", `{"id":1,"type":2}`, "type", "location", `"L"`, `{"id":1,"type":2,"location":"L"}`},
		{"anchor absent", `{"id":1}`, "type", "location", `"L"`, `{"id":1,"location":"L"}`},
		{"already there keeps its place", `{"location":"A","id":1,"type":2}`, "type", "location", `"L"`, `{"location":"L","id":1,"type":2}`},
		{"anchor matched in any case", `{"id":1,"Type":2,"x":3}`, "type", "location", `"L"`, `{"id":1,"Type":2,"location":"L","x":3}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := arm.ParseObject([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			o.SetAfter(tt.after, tt.key, json.RawMessage(tt.val))
			b, err := o.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if got := string(b); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestObjectWritesHTMLCharacters(t *testing.T) {
	o := &arm.Object{}
	o.SetValue("m", "<a & b>")
	o.SetValue("<k>", map[string]string{"x": "&"})
	if got, want := marshal(t, o), `{"m":"<a & b>","<k>":{"x":"&"}}`; got != want {
		t.Fatalf("MarshalJSON = %s, want %s", got, want)
	}
}

// TestObjectStringAsEncodingJSON: String's fast path for literals without
// escapes reads every literal as encoding/json does.
func TestObjectStringAsEncodingJSON(t *testing.T) {
	for _, lit := range []string{`""`, `"plain"`, `"a\"b"`, `"tab\tx"`, `"\u00e9t\u00e9"`, `"été"`, "\"bad \xff utf8\"", `"\\"`, `"a/b\/c"`, `"€ and 𝄞"`} {
		o, err := arm.ParseTrustedObject([]byte(`{"k":` + lit + `}`))
		if err != nil {
			t.Fatalf("%s: %v", lit, err)
		}
		got, ok, err := o.String("k")
		var want string
		if jerr := json.Unmarshal([]byte(lit), &want); jerr != nil {
			t.Fatalf("%s: encoding/json: %v", lit, jerr)
		}
		if err != nil || !ok || got != want {
			t.Errorf("String of %s = %q, %v, %v; want %q", lit, got, ok, err, want)
		}
	}
}

// TrustedString reads the member Object.String reads, in every case of
// names an object can hold: exact, differently cased, repeated, escaped.
func TestTrustedStringReadsWhatStringReads(t *testing.T) {
	docs := []string{
		`{}`,
		`{"location":"westus"}`,
		`{"id":"x","location":"westus","properties":{"location":"inner"}}`,
		`{"Location":"a","location":"b"}`,
		`{"Location":"a","LOCATION":"b","Location":"c"}`,
		`{"location":"a","location":"b"}`,
		`{"location":null}`,
		`{"location":1}`,
		`{"location":{"a":"b"}}`,
		`{"location":"caf\u00e9 \"q\""}`,
		`{"loc\u0061tion":"escaped name"}`,
		`{"a":[1,{"location":"no"}],"location":"yes"}`,
		`{"LOCATION":"only folded"}`,
		`{"registrationState":"Registered","location":"x"}`,
	}
	for _, doc := range docs {
		for _, k := range []string{"location", "registrationState"} {
			want, wok := "", true
			o, err := arm.ParseObject([]byte(doc))
			if err != nil {
				t.Fatalf("%s: %v", doc, err)
			}
			if s, _, err := o.String(k); err != nil {
				wok = false
			} else {
				want = s
			}
			got, ok := arm.TrustedString([]byte(doc), k)
			if ok != wok || (ok && got != want) {
				t.Errorf("TrustedString(%s, %q) = %q, %v; Object.String reads %q, %v", doc, k, got, ok, want, wok)
			}
		}
	}
	for _, bad := range []string{``, `[]`, `{"location"}`, `{"location":`, `"location"`} {
		if s, ok := arm.TrustedString([]byte(bad), "location"); ok && s != "" {
			t.Errorf("TrustedString(%q) = %q, %v", bad, s, ok)
		}
	}
}

// TestObjectOnly: Only keeps the members named, in the object's order, and
// leaves the object as it was.
func TestObjectOnly(t *testing.T) {
	o, err := arm.ParseObject([]byte(`{"id":"x","etag":"e","name":"n","properties":{"a":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := o.Only("properties", "id", "missing").MarshalJSON()
	if string(b) != `{"id":"x","properties":{"a":1}}` {
		t.Fatalf("Only: %s", b)
	}
	if b, _ := o.MarshalJSON(); string(b) != `{"id":"x","etag":"e","name":"n","properties":{"a":1}}` {
		t.Fatalf("Only changed the object: %s", b)
	}
}
