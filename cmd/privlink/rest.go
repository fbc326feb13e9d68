package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/privlink/privlink/internal/arm"
	"github.com/spf13/cobra"
	"github.com/titanous/json5"
)

// restCmds are armclient's verbs: privlink get|put|patch|post|delete PATH [BODY | @FILE].
func restCmds(g *globals) []*cobra.Command {
	var cmds []*cobra.Command
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodPost, http.MethodDelete, http.MethodHead} {
		method := m
		use := strings.ToLower(method) + " PATH"
		if method == http.MethodPut || method == http.MethodPatch || method == http.MethodPost {
			use += " [BODY | @FILE | @-]"
		}
		cmds = append(cmds, &cobra.Command{
			Use:     use,
			Aliases: []string{method},
			Short:   method + " an ARM path, as armclient does (the body may be JSON with single quotes, as the docs print it)",
			Args:    cobra.RangeArgs(1, 2),
			RunE: func(cmd *cobra.Command, args []string) error {
				var body []byte
				if len(args) == 2 {
					b, err := readBody(args[1], g.stdin)
					if err != nil {
						return err
					}
					body = b
				} else if method == http.MethodPut || method == http.MethodPatch {
					return fmt.Errorf("%s needs a body: privlink %s PATH BODY", method, strings.ToLower(method))
				}
				c, err := g.client()
				if err != nil {
					return err
				}
				r, err := c.do(method, args[0], body)
				if err != nil {
					return err
				}
				printJSON(g.stdout, r.Body)
				if !r.OK() {
					return &exitError{code: 1}
				}
				return nil
			},
		})
	}
	return cmds
}

// readBody turns the body argument into JSON. It accepts JSON; JSON with
// single-quoted strings (as Microsoft's docs print armclient bodies); "@FILE"
// or "@-" for a file or stdin; and PowerShell's @"…"@ here-string pasted into
// a POSIX shell, which arrives as "@\n{…}\n@".
func readBody(arg string, stdin io.Reader) ([]byte, error) {
	raw := []byte(arg)
	t := strings.TrimSpace(arg)
	switch {
	case strings.HasPrefix(t, "@") && len(t) > 1 && strings.ContainsAny(strings.TrimSpace(t[1:])[:1], "{["):
		t = strings.TrimSpace(strings.TrimPrefix(t, "@"))
		t = strings.TrimSpace(strings.TrimSuffix(t, "@"))
		t = strings.TrimPrefix(strings.TrimSuffix(t, `"`), `"`)
		raw = []byte(t)
	case t == "@-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, err
		}
		raw = b
	case strings.HasPrefix(t, "@"):
		b, err := os.ReadFile(t[1:])
		if err != nil {
			return nil, err
		}
		b, err = normalizeJSON(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t[1:], err)
		}
		return b, nil
	}
	return normalizeJSON(raw)
}

// normalizeJSON returns JSON as it is when it is JSON already (keeping key
// order and number spelling); else it rewrites single-quoted strings as JSON
// strings, which keeps the order too; else it parses the body as JSON5.
func normalizeJSON(b []byte) ([]byte, error) {
	// Files saved on Windows start with a byte order mark: UTF-8 (Notepad,
	// Out-File -Encoding utf8) or UTF-16 LE (Windows PowerShell's Out-File
	// and '>'). Read them as the server does, and send UTF-8.
	b, err := arm.DecodeContent(b)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimSpace(b)
	if json.Valid(b) {
		return b, nil
	}
	if q, ok := doubleQuote(b); ok && json.Valid(q) {
		return q, nil
	}
	var v any
	if err := json5.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("the body is neither JSON nor JSON with single quotes: %v", err)
	}
	return arm.Marshal(v)
}

// doubleQuote rewrites 'single-quoted' strings as "double-quoted" JSON
// strings, leaving double-quoted strings and everything else alone.
func doubleQuote(b []byte) ([]byte, bool) {
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
			// Rewrite the contents as a JSON string's: \' becomes ', a bare "
			// is escaped, other escapes (\n, \u00e9, ...) mean what they
			// mean in JSON, as they do in armclient's and JSON5's single quotes.
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
