package arm

import "testing"

func TestSingleQuotedJSON(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`{'a':'b'}`, `{"a":"b"}`},
		{`{"a":'b', 'n': 1.50}`, `{"a":"b", "n": 1.50}`},
		{`{'q':'it\'s "x"'}`, `{"q":"it's \"x\""}`},
		{`{'e':'caf\u00e9\n'}`, `{"e":"café\n"}`},
		{`{'h':'<&>'}`, `{"h":"<&>"}`},
		{`{"a":"it's"}`, `{"a":"it's"}`},
	} {
		got, ok := SingleQuotedJSON([]byte(tt.in))
		if !ok || string(got) != tt.want {
			t.Errorf("SingleQuotedJSON(%s) = %s, %v; want %s", tt.in, got, ok, tt.want)
		}
	}
	for _, in := range []string{`{'a':'b}`, `{'a' 'b'}`, `{'a':'\x'}`, `{a:'b'}`} {
		if got, ok := SingleQuotedJSON([]byte(in)); ok {
			t.Errorf("SingleQuotedJSON(%s) = %s, true; want false", in, got)
		}
	}
}
