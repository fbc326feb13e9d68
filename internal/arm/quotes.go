package arm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// SingleQuotedJSON reads b as JSON whose strings may be in single quotes,
// as JSON.NET reads it, and returns it as JSON: each 'single-quoted' string
// rewritten as a "double-quoted" one, everything else (double-quoted
// strings, numbers as spelled, the members' order) as it is. ok is false
// when the result is not valid JSON.
//
// ARM and the resource providers read request content with JSON.NET, which
// takes single-quoted strings; Microsoft's docs print armclient's bodies so
// ({'properties': {'groupId': 'blob'}}), and armclient sends its argument
// as it is. Inside the quotes, \' is a quote and a bare " is a character;
// other escapes (\n, \u00e9, ...) mean what they mean in JSON.
func SingleQuotedJSON(b []byte) (out []byte, ok bool) {
	q, ok := singleQuoted(b)
	if !ok || !json.Valid(q) {
		return nil, false
	}
	return q, true
}

func singleQuoted(b []byte) ([]byte, bool) {
	var out bytes.Buffer
	for i := 0; i < len(b); i++ {
		switch ch := b[i]; ch {
		case '"':
			j := i + 1
			for ; j < len(b) && b[j] != '"'; j++ {
				if b[j] == '\\' {
					j++
				}
			}
			if j >= len(b) {
				return nil, false
			}
			out.Write(b[i : j+1])
			i = j
		case '\'':
			// The contents as a JSON string's: \' becomes ', a bare " is
			// escaped, other escapes mean what they mean in JSON.
			var raw strings.Builder
			j := i + 1
			for ; j < len(b) && b[j] != '\''; j++ {
				switch {
				case b[j] == '\\' && j+1 < len(b) && b[j+1] == '\'':
					raw.WriteByte('\'')
					j++
				case b[j] == '\\' && j+1 < len(b):
					raw.Write(b[j : j+2])
					j++
				case b[j] == '"':
					raw.WriteString(`\"`)
				case b[j] < 0x20:
					fmt.Fprintf(&raw, `\u%04x`, b[j])
				default:
					raw.WriteByte(b[j])
				}
			}
			if j >= len(b) {
				return nil, false
			}
			var s string
			if json.Unmarshal([]byte(`"`+raw.String()+`"`), &s) != nil {
				return nil, false
			}
			enc := json.NewEncoder(&out)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(s)
			out.Truncate(out.Len() - 1) // Encode's newline
			i = j
		default:
			out.WriteByte(ch)
		}
	}
	return out.Bytes(), true
}
