package deploy

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestSentTemplate(t *testing.T) {
	compactOf := func(s string) json.RawMessage {
		var b bytes.Buffer
		if err := json.Compact(&b, []byte(s)); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	for _, tt := range []struct {
		name, body, want string // want: the template as sent, "" for none
	}{
		{"formatted", "{\n \"properties\": {\n  \"mode\": \"x\",\n  \"template\" :\n   {\"a\": [1, 2]}\n }\n}", `{"a": [1, 2]}`},
		{"names in other cases, values before it with braces", `{"Tags":{"t":"{x}"},"PROPERTIES":{"p":{"q":"\"}"},"Template":{"b":"é"}}}`, `{"b":"é"}`},
		{"no template", `{"properties":{"mode":"x"}}`, ""},
		{"template outside properties", `{"template":{"a":1},"properties":{}}`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var compact json.RawMessage
			if tt.want != "" {
				compact = compactOf(tt.want)
			}
			got, ok := sentTemplate([]byte(tt.body), compact)
			if tt.want == "" {
				if ok {
					t.Fatalf("found %q", got)
				}
				return
			}
			if !ok || strings.TrimLeft(string(got), " \n") != tt.want {
				t.Fatalf("got %q, %v; want %q", got, ok, tt.want)
			}
			// The blanks stand for the body before it, character for character.
			if i := strings.Index(tt.body, tt.want); len([]rune(string(got))) != len([]rune(tt.body[:i]))+len([]rune(tt.want)) || strings.Count(string(got), "\n") != strings.Count(tt.body[:i], "\n")+strings.Count(tt.want, "\n") {
				t.Fatalf("blanks do not match the body before the template: %q", got)
			}
		})
	}
	// A template the request's parsing read otherwise (a name given twice)
	// is not taken.
	if _, ok := sentTemplate([]byte(`{"properties":{"template":{"a":1},"template":{"a":2}}}`), compactOf(`{"a":2}`)); ok {
		t.Error("took the first of two templates where the parsing kept the second")
	}
}
