package expr

import (
	"strings"
	"testing"
)

// json() reads its argument as JSON.NET does; what it cannot read fails
// with JSON.NET's words.
func TestParseLenientJSON(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`{"a": 1.50, "b": [true, null]}`, `{"a":1.50,"b":[true,null]}`},
		{`{'a': 'x', b: 2, /* note */ c: [1, 2,],}`, `{"a":"x","b":2,"c":[1,2]}`},
		{"{// why\n z: 'last', a: 'first'}", `{"z":"last","a":"first"}`},
	} {
		v, err := ParseLenientJSON(tt.in)
		if err != nil {
			t.Errorf("ParseLenientJSON(%q): %v", tt.in, err)
			continue
		}
		got, err := Marshal(v)
		if err != nil || string(got) != tt.want {
			t.Errorf("ParseLenientJSON(%q) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	if _, err := ParseLenientJSON(`{"a": x}`); err == nil || !strings.Contains(err.Error(), "Unexpected character encountered while parsing value: x. Path 'a', line 1, position 6.") {
		t.Errorf("error = %v", err)
	}
	if _, err := ParseLenientJSON(strings.Repeat("[", maxDepth+2) + strings.Repeat("]", maxDepth+2)); err == nil {
		t.Error("nesting beyond maxDepth was read")
	}
}
