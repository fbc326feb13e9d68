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
)

// bodyHelp says what a BODY argument may be.
const bodyHelp = `BODY is JSON, or JSON with single-quoted strings as Microsoft's docs print
armclient bodies, or PowerShell's @"..."@ here-string pasted into a POSIX shell;
@FILE reads it from a file (UTF-8, or UTF-16 with a byte order mark, as Windows
PowerShell's Out-File writes), @- from standard input.`

// restCmds are armclient's verbs: privlink get|head|delete PATH, put|patch
// PATH BODY, post PATH [BODY]. Each verb's usage says what it takes.
func restCmds(g *globals) []*cobra.Command {
	verbs := []struct {
		method string
		body   string // "" (none), "required" or "optional"
		short  string
	}{
		{http.MethodGet, "", "GET an ARM path and print the answer, as armclient does"},
		{http.MethodPut, "required", "PUT a body to an ARM path (create or replace), as armclient does"},
		{http.MethodPatch, "required", "PATCH an ARM path with a body (update), as armclient does"},
		{http.MethodPost, "optional", "POST to an ARM path (an action), with an optional body, as armclient does"},
		{http.MethodDelete, "", "DELETE an ARM path, as armclient does"},
		{http.MethodHead, "", "HEAD an ARM path: the exit code says whether it exists (0) or not (1)"},
	}
	var cmds []*cobra.Command
	for _, v := range verbs {
		method, verb := v.method, strings.ToLower(v.method)
		cmd := &cobra.Command{
			Use:     verb + " PATH",
			Aliases: []string{method},
			Short:   v.short,
			Long: v.short + `.
PATH is an ARM path with its query (/subscriptions/...?api-version=...), or a full URL.`,
			Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				var body []byte
				if len(args) == 2 {
					b, err := readBody(args[1], g.stdin)
					if err != nil {
						return err
					}
					body = b
				} else if method == http.MethodPut || method == http.MethodPatch {
					return fmt.Errorf("%s needs a body: privlink %s PATH BODY", method, verb)
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
		}
		switch v.body {
		case "required":
			cmd.Use = verb + " PATH BODY|@FILE|@-"
			cmd.Long += "\n" + bodyHelp
			// One argument is refused in RunE, saying that the body is missing.
			cmd.Args = cobra.RangeArgs(1, 2)
		case "optional":
			cmd.Use = verb + " PATH [BODY|@FILE|@-]"
			cmd.Long += "\n" + bodyHelp
			cmd.Args = cobra.RangeArgs(1, 2)
		}
		cmds = append(cmds, cmd)
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
// order and number spelling); else it reads it as ARM does (arm.ReadJSONNET:
// single quotes, bare names, comments), which keeps the order too, and what
// ARM could not read is refused here with ARM's words, before it is sent.
func normalizeJSON(b []byte) ([]byte, error) {
	b, err := readContent(b, "body")
	return bytes.TrimLeft(b, " \t\r\n"), err
}

// readContent is normalizeJSON of content that a message calls what ("body",
// "template"). Only the end is trimmed: white space before the content
// would move the line numbers of the server's errors, which then are the
// file's (JSON.NET's reading keeps lines).
func readContent(b []byte, what string) ([]byte, error) {
	// Files saved on Windows start with a byte order mark: UTF-8 (Notepad,
	// Out-File -Encoding utf8) or UTF-16 LE (Windows PowerShell's Out-File
	// and '>'). Read them as the server does, and send UTF-8.
	b, err := arm.DecodeContent(b)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimRight(b, " \t\r\n")
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("the %s is empty", what)
	}
	if json.Valid(b) {
		return b, nil
	}
	q, err := arm.ReadJSONNET(b)
	if err != nil {
		return nil, fmt.Errorf("the %s is not JSON as ARM reads it: %v", what, err)
	}
	return q, nil
}
