package arm

import (
	"encoding/json"
	"testing"
)

func TestReadJSONNETRewrites(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`{'a':'b'}`, `{"a":"b"}`},
		{`{"a":'b', 'n': 1.50}`, `{"a":"b", "n": 1.50}`},
		{`{'q':'it\'s "x"'}`, `{"q":"it's \"x\""}`},
		{`{'e':'caf\u00e9\n'}`, `{"e":"café\n"}`},
		{`{'h':'<&>'}`, `{"h":"<&>"}`},
		{`{'m':''}`, `{"m":""}`},
		// What PowerShell leaves of {"identity": {"type": "SystemAssigned"}}
		// when it eats the quotes around names only.
		{`{identity: {type: 'SystemAssigned'}}`, `{"identity": {"type": "SystemAssigned"}}`},
		{"{\"a\": 1, // one\n \"b\": /* two */ [1, 2,],}", "{\"a\": 1,       \n \"b\":           [1, 2 ] }"},
		{"{\"raw\": \"a\tb\"}", `{"raw": "a\tb"}`},
		{`{"s": "\ud83d\ude00"}`, `{"s": "😀"}`},
		{`[]`, `[]`},
		{"{\u00a0\"a\":\u2003 1}", `{ "a":  1}`},
		{`{"a": , "b": [1,,2]}`, `{"a": null, "b": [1,null,2]}`},
		{`{'a':[{'b':null,'c':true}],'d':false}`, `{"a":[{"b":null,"c":true}],"d":false}`},
	} {
		got, err := ReadJSONNET([]byte(tt.in))
		if err != nil || string(got) != tt.want {
			t.Errorf("ReadJSONNET(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			continue
		}
		if !json.Valid(got) {
			t.Errorf("ReadJSONNET(%q) = %q: not JSON", tt.in, got)
		}
	}
}

// The messages, paths and positions are JSON.NET's: its own tests give
// "{'key':1," → "Unexpected end when deserializing object. Path 'key',
// line 1, position 9." and "{" → "Path ”, line 1, position 1."; ARM's
// errors in public reports give "Unexpected character encountered while
// parsing value: S. Path 'identity.type', line 1, position 16." and, for
// content whose first character is wrong, "Path ”, line 0, position 0.".
func TestReadJSONNETErrors(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`{'key':1,`, "Unexpected end when deserializing object. Path 'key', line 1, position 9."},
		{`{`, "Unexpected end when deserializing object. Path '', line 1, position 1."},
		{`{ "foo":`, "Unexpected end when deserializing object. Path 'foo', line 1, position 8."},
		{`{identity:{type:SystemAssigned}}`, "Unexpected character encountered while parsing value: S. Path 'identity.type', line 1, position 16."},
		{`Content`, "Unexpected character encountered while parsing value: C. Path '', line 0, position 0."},
		{`{"a": 1 "b": 2}`, "After parsing a value an unexpected character was encountered: \". Path 'a', line 1, position 8."},
		{`{"a" 1}`, "Invalid character after parsing property name. Expected ':' but got: 1. Path '', line 1, position 5."},
		{`{"a":1]`, "JsonToken EndArray is not valid for closing JsonType Object. Path '', line 1, position 7."},
		{`[1, 2 x]`, "After parsing a value an unexpected character was encountered: x. Path '[1]', line 1, position 6."},
		{`[x]`, "Unexpected character encountered while parsing value: x. Path '', line 1, position 1."},
		{`{"a":[1,`, "Unexpected end when deserializing array. Path 'a[0]', line 1, position 8."},
		{`{"a": "b`, "Unterminated string. Expected delimiter: \". Path 'a', line 1, position 8."},
		{"{\n  \"properties\": {\n    \"groupId\": blob\n  }\n}", "Unexpected character encountered while parsing value: b. Path 'properties.groupId', line 3, position 15."},
		{`{"a.b": x}`, "Unexpected character encountered while parsing value: x. Path '['a.b']', line 1, position 8."},
		{`{"n": 01x}`, "Input string '01x' is not a valid number. Path 'n', line 1, position 9."},
		{`{"a": "\q"}`, "Bad JSON escape sequence: \\q. Path 'a', line 1, position 9."},
		{`{} x`, "Additional text encountered after finished reading JSON content: x. Path '', line 1, position 3."},
		{`{"a": 1} /* open`, "Unexpected end while parsing comment. Path '', line 1, position 16."},
		{`{"é": x}`, "Unexpected character encountered while parsing value: x. Path 'é', line 1, position 6."},
		{`{-a: 1}`, "Invalid property identifier character: -. Path '', line 1, position 1."},
		// From JsonTextReader's source (ParseNumber, ParseValue, MatchValue,
		// JsonReader.ValidateEnd), where the above say nothing.
		{`{"n": 12px}`, "Unexpected character encountered while parsing number: p. Path 'n', line 1, position 8."},
		{`{"a":1"b":2}`, "Unexpected character encountered while parsing number: \". Path 'a', line 1, position 6."},
		{`[1, 2z]`, "Unexpected character encountered while parsing number: z. Path '[0]', line 1, position 5."},
		{`{"location": northeurope}`, "Unexpected character encountered while parsing value: n. Path 'location', line 1, position 13."},
		{`{"name": networkWatcher}`, "Unexpected content while parsing JSON. Path 'name', line 1, position 9."},
		{`{"a": None}`, "Error parsing NaN value. Path 'a', line 1, position 7."},
		{`{"a": unknown}`, "Unexpected end when reading JSON. Path 'a', line 1, position 14."},
		{`{"x":{"a":1]}`, "JsonToken EndArray is not valid for closing JsonType Object. Path 'x', line 1, position 12."},
		{`[1}`, "JsonToken EndObject is not valid for closing JsonType Array. Path '', line 1, position 3."},
		{`{"a":]`, "JsonToken EndArray is not valid for closing JsonType Object. Path '', line 1, position 6."},
	} {
		_, err := ReadJSONNET([]byte(tt.in))
		if err == nil || err.Error() != tt.want {
			t.Errorf("ReadJSONNET(%q) = %v\n want %s", tt.in, err, tt.want)
		}
		if _, ok := err.(*JSONReaderError); err != nil && !ok {
			t.Errorf("ReadJSONNET(%q): error of type %T", tt.in, err)
		}
	}
}

func FuzzReadJSONNET(f *testing.F) {
	for _, s := range []string{`{'a':'b'}`, `{a:1,}`, `[1,2,]`, "{\"a\": /* c */ 1}", `{"a":"\u00e9"}`, `{`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := ReadJSONNET([]byte(s))
		if err == nil && !json.Valid(out) {
			t.Fatalf("ReadJSONNET(%q) = %q: not JSON", s, out)
		}
		if json.Valid([]byte(s)) && err != nil {
			t.Fatalf("ReadJSONNET(%q) refused valid JSON: %v", s, err)
		}
	})
}
