package arm

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sync"
)

// Marshal is json.Marshal without HTML escaping. encoding/json writes '<',
// '>' and '&' as \u003c, \u003e and \u0026 (for JSON embedded in HTML);
// ARM (Newtonsoft.Json) writes them as they are, and so does privlink in
// every JSON document it serves, stores or prints. Use it instead of
// json.Marshal everywhere.
//
// Values privlink sets on every write take a path without reflection: a
// string, a []string, and a type with an AppendJSON method (see
// JSONAppender).
func Marshal(v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		if b, ok := plainQuote(v); ok {
			return b, nil
		}
	case []string:
		if v == nil {
			return []byte("null"), nil
		}
		n := 2
		for _, s := range v {
			n += len(s) + 3
		}
		b := append(make([]byte, 0, n), '[')
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendString(b, s)
		}
		return append(b, ']'), nil
	case JSONAppender:
		// A nil pointer to a type with a value method: encoding/json
		// writes null for it.
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
			return []byte("null"), nil
		}
		// Written into a pooled buffer and copied out at its size: one
		// allocation of what the value needs, as encoding/json does.
		p := scratch.Get().(*[]byte)
		b := v.AppendJSON((*p)[:0])
		out := append([]byte(nil), b...)
		*p = b
		scratch.Put(p)
		return out, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	// json.Marshal is the fast path (pooled buffers); its output holds
	// \u00 only for the HTML escapes and control characters, so this check
	// is cheap and rarely true.
	if bytes.Contains(b, []byte(`\u00`)) {
		b = UnescapeHTML(b)
	}
	return b, nil
}

// UnescapeHTML rewrites the escapes \u003c, \u003e and \u0026 (in any case)
// inside the strings of valid JSON b as the characters '<', '>' and '&'.
// Other escapes stay as they are. It returns b itself when there is nothing
// to rewrite.
func UnescapeHTML(b []byte) []byte {
	i := bytes.IndexByte(b, '\\')
	if i < 0 {
		return b
	}
	var out []byte
	last := 0
	for ; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		// In valid JSON a backslash only starts an escape inside a string,
		// and the character after it belongs to the escape: skipping it
		// keeps "\\u003c" (a backslash, then u003c) as it is.
		if i+5 < len(b) && b[i+1] == 'u' && b[i+2] == '0' && b[i+3] == '0' {
			if c := HTMLChar(b[i+4], b[i+5]); c != 0 {
				if out == nil {
					out = make([]byte, 0, len(b))
				}
				out = append(out, b[last:i]...)
				out = append(out, c)
				last = i + 6
				i += 5
				continue
			}
		}
		i++
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// HTMLChar returns the character of the escape \u00{hi}{lo} when it is one
// of encoding/json's HTML escapes (\u003c, \u003e, \u0026, either case),
// or 0.
func HTMLChar(hi, lo byte) byte {
	switch {
	case hi == '3' && (lo == 'c' || lo == 'C'):
		return '<'
	case hi == '3' && (lo == 'e' || lo == 'E'):
		return '>'
	case hi == '2' && lo == '6':
		return '&'
	}
	return 0
}

// plainQuote is the JSON string literal of s when s is printable ASCII
// that needs no escape (ids, names, states: most strings privlink sets),
// written directly: what json.Marshal writes for it, at a fraction of the
// cost. ok is false for any other s.
func plainQuote(s string) (b []byte, ok bool) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return nil, false
		}
	}
	b = make([]byte, 0, len(s)+2)
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}

// AppendString appends the JSON string literal of s to b, exactly as
// Marshal(s) writes it (encoding/json's escapes, without the HTML ones).
// Hand-written encoders of privlink's hot documents use it.
func AppendString(b []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	q, _ := Marshal(s) // a string always marshals
	return append(b, q...)
}

// scratch holds buffers for Marshal's JSONAppender path.
var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// JSONAppender is a value that writes its own JSON, for Marshal to call
// instead of encoding/json's reflection: AppendJSON appends to b exactly
// what Marshal would write for the value's fields (a test holds each
// implementation to that), and never fails. Marshal prefers it to a
// MarshalJSON method, so a type has one or the other; and a struct that
// embeds an implementation gets its method, so such types are not
// embedded.
type JSONAppender interface {
	AppendJSON(b []byte) []byte
}

// AppendMember appends the member "name":"v" to the object being written
// in b, after a comma unless b ends with the object's '{'; with omitEmpty
// and v empty it appends nothing (encoding/json's omitempty).
func AppendMember(b []byte, name, v string, omitEmpty bool) []byte {
	if omitEmpty && v == "" {
		return b
	}
	if len(b) > 0 && b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	b = append(append(append(b, '"'), name...), '"', ':')
	return AppendString(b, v)
}
