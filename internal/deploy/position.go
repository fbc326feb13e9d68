package deploy

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"unicode/utf8"
)

// sentTemplate finds properties.template in body, the request as sent, and
// returns it as sent, preceded by blanks that stand for the body before it:
// a newline for each of the body's newlines, a space for each other
// character. The template's errors then give the line and column of the
// request as it was sent, as ARM's do (ARM reads the whole request with
// line information): a template sent formatted has its errors on the lines
// the user sees, where the compact copy the request's parsing keeps puts
// everything on line 1. JSON takes the blanks as whitespace; what is
// stored and exported is compacted again (json.RawMessage is written
// compact).
//
// compact is that compact copy: ok is false when the value found is not
// the same JSON (a key given twice, say), and the caller keeps compact.
func sentTemplate(body []byte, compact json.RawMessage) (json.RawMessage, bool) {
	start, end, ok := memberSpan(body, "properties", "template")
	if !ok {
		return nil, false
	}
	var c bytes.Buffer
	if json.Compact(&c, body[start:end]) != nil || !bytes.Equal(c.Bytes(), compact) {
		return nil, false
	}
	var b strings.Builder
	b.Grow(end)
	for _, r := range string(body[:start]) {
		if r == '\n' {
			b.WriteByte('\n')
		} else {
			b.WriteByte(' ')
		}
	}
	b.Write(body[start:end])
	return json.RawMessage(b.String()), true
}

// memberSpan returns where, in the JSON document data, the value at the
// path of object members (names matched case-insensitively, as ARM's are)
// starts and ends.
func memberSpan(data []byte, path ...string) (start, end int, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	for depth := 0; depth < len(path); depth++ {
		if t, err := dec.Token(); err != nil || t != json.Delim('{') {
			return 0, 0, false
		}
		for {
			t, err := dec.Token()
			if err != nil {
				return 0, 0, false
			}
			if t == json.Delim('}') {
				return 0, 0, false // not found
			}
			name, _ := t.(string)
			if strings.EqualFold(name, path[depth]) {
				break
			}
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return 0, 0, false
			}
		}
	}
	// The value follows the name's colon and whitespace.
	i := int(dec.InputOffset())
	for i < len(data) {
		c, size := utf8.DecodeRune(data[i:])
		if c != ':' && c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			break
		}
		i += size
	}
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil && err != io.EOF {
		return 0, 0, false
	}
	end = int(dec.InputOffset())
	if i > end || !bytes.Equal(bytes.TrimSpace(data[i:end]), bytes.TrimSpace(v)) {
		return 0, 0, false
	}
	return i, i + len(bytes.TrimSpace(data[i:end])), true
}
