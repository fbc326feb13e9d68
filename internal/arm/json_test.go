package arm_test

import (
	"encoding/json"
	"testing"

	"github.com/privlink/privlink/internal/arm"
)

func TestMarshalDoesNotEscapeHTML(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"plain", "abc", `"abc"`},
		{"html characters", "<a & b>", `"<a & b>"`},
		{"in a struct", struct {
			M string `json:"m"`
		}{"x<y>&z"}, `{"m":"x<y>&z"}`},
		{"in a map key", map[string]int{"<k>": 1}, `{"<k>":1}`},
		{"an ARM error", arm.ErrorResponse{Error: arm.Errorf(arm.CodeBadRequest, "The name 'a<b>' & more.")},
			`{"error":{"code":"BadRequest","message":"The name 'a<b>' & more."}}`},
		{"a raw message written by encoding/json", struct {
			R json.RawMessage `json:"r"`
		}{json.RawMessage(`"\u003cb\u003e"`)}, `{"r":"<b>"}`},
		{"an Object member", mustObject(`{"m":"\u003c\u0026\u003e"}`), `{"m":"<&>"}`},
		// The text \u003c (a backslash, then u003c) is no escape of '<'.
		{"a backslash before u003c", `\u003c`, `"\\u003c"`},
		{"control characters stay escaped", "a\x00b\x1f", `"a\u0000b\u001f"`},
		{"other unicode stays as encoding/json writes it", "é\u2028", `"é\u2028"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := arm.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := string(b), tt.want; got != want {
				t.Fatalf("Marshal = %s, want %s", got, want)
			}
			// The same value as encoding/json's own output.
			std, _ := json.Marshal(tt.v)
			var a, s any
			if err := json.Unmarshal(b, &a); err != nil {
				t.Fatalf("Marshal wrote invalid JSON %s: %v", b, err)
			}
			_ = json.Unmarshal(std, &s)
			if ga, gs := mustJSON(t, a), mustJSON(t, s); ga != gs {
				t.Fatalf("Marshal = %s, json.Marshal = %s: not the same value", ga, gs)
			}
		})
	}
}

func TestUnescapeHTML(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"nothing to do", `{"a":"b"}`, `{"a":"b"}`},
		{"all three", `{"a":"\u003c\u003e\u0026"}`, `{"a":"<>&"}`},
		{"upper-case hex", `{"a":"\u003C\u003E"}`, `{"a":"<>"}`},
		{"in keys", `{"\u003ck\u003e":1}`, `{"<k>":1}`},
		{"escaped backslash before u003c", `{"a":"\\u003c"}`, `{"a":"\\u003c"}`},
		{"escaped backslash then an escape", `{"a":"\\\u003c"}`, `{"a":"\\<"}`},
		{"other escapes stay", `{"a":"\u00e9\u0000\"\n\/"}`, `{"a":"\u00e9\u0000\"\n\/"}`},
		{"at the very end", `"\u0026"`, `"&"`},
		{"short tail", `"\u00"`, `"\u00"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(arm.UnescapeHTML([]byte(tt.in)))
			if got != tt.want {
				t.Fatalf("UnescapeHTML(%s) = %s, want %s", tt.in, got, tt.want)
			}
			var a, b any
			if json.Unmarshal([]byte(tt.in), &a) == nil {
				if err := json.Unmarshal([]byte(got), &b); err != nil {
					t.Fatalf("UnescapeHTML(%s) = %s: invalid JSON: %v", tt.in, got, err)
				}
				if mustJSON(t, a) != mustJSON(t, b) {
					t.Fatalf("UnescapeHTML(%s) = %s: another value", tt.in, got)
				}
			}
		})
	}
}

func mustObject(s string) *arm.Object {
	o, err := arm.ParseObject([]byte(s))
	if err != nil {
		panic(err)
	}
	return o
}

// mustJSON is v as canonical JSON, to compare decoded values.
func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Marshal of a string writes what encoding/json writes, HTML characters
// unescaped, for every ASCII character and some beyond: its shortcut for
// plain strings changes nothing.
func TestMarshalStringAsEncodingJSON(t *testing.T) {
	var strs []string
	for c := 0; c < 0x80; c++ {
		strs = append(strs, string(rune(c)), "id-"+string(rune(c))+"-x")
	}
	strs = append(strs, "", "/subscriptions/x/resourceGroups/rg", "é", "\u2028", "a\xffb", `"q"`, `\`)
	for _, s := range strs {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := arm.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(arm.UnescapeHTML(want)) {
			t.Errorf("Marshal(%q) = %s, encoding/json writes %s", s, got, arm.UnescapeHTML(want))
		}
	}
}

// reference is what Marshal promises: encoding/json's output without the
// HTML escapes.
func reference(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(arm.UnescapeHTML(b))
}

// FuzzMarshalFastPaths holds Marshal's paths without reflection (string,
// []string, SystemData's AppendJSON, AppendMember) to encoding/json's
// output, over strings that need escapes: HTML characters, control
// characters, invalid UTF-8, U+2028.
func FuzzMarshalFastPaths(f *testing.F) {
	f.Add("plain", "<&>", "", "\u2028\x00\"\\", "a\xffb", "x\\u003cy")
	f.Add("", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, a, b, c, d, e, g string) {
		for _, v := range []any{
			a,
			[]string{a, b, c},
			[]string{},
			[]string(nil),
			arm.SystemData{CreatedBy: a, CreatedByType: b, CreatedAt: c, LastModifiedBy: d, LastModifiedByType: e, LastModifiedAt: g},
			arm.SystemData{CreatedAt: c, LastModifiedAt: g},
			(*arm.SystemData)(nil),
		} {
			got, err := arm.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			// encoding/json sees SystemData's fields, not its AppendJSON.
			type plain arm.SystemData
			ref := v
			if sd, ok := v.(arm.SystemData); ok {
				ref = plain(sd)
			}
			if sd, ok := v.(*arm.SystemData); ok && sd == nil {
				ref = (*plain)(nil)
			}
			if want := reference(t, ref); string(got) != want {
				t.Fatalf("Marshal(%#v) = %s, encoding/json: %s", v, got, want)
			}
		}
		if got, want := string(arm.AppendString([]byte("x"), a)), "x"+reference(t, a); got != want {
			t.Fatalf("AppendString(%q) = %s, want %s", a, got, want)
		}
	})
}

// TestFilterTerms: a $filter splits on "and" outside quoted values only,
// and eq terms read their value with OData's doubled quotes.
func TestFilterTerms(t *testing.T) {
	got := arm.FilterTerms("  name eq 'salt and pepper'  AND  resourceGroup eq 'o''brien' and startswith(displayName,'a and b') ")
	want := []string{"name eq 'salt and pepper'", "resourceGroup eq 'o''brien'", "startswith(displayName,'a and b')"}
	if len(got) != len(want) {
		t.Fatalf("FilterTerms: %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("FilterTerms: %q, want %q", got, want)
		}
	}
	if n, v, ok := arm.FilterEq(got[1]); !ok || n != "resourceGroup" || v != "o'brien" {
		t.Fatalf("FilterEq(%q) = %q %q %v", got[1], n, v, ok)
	}
	if _, _, ok := arm.FilterEq(got[2]); ok {
		t.Fatalf("FilterEq took %q", got[2])
	}
	if len(arm.FilterTerms("  ")) != 0 {
		t.Fatal("an empty filter has terms")
	}
}
