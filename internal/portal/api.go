package portal

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// api calls privlink's own HTTP API in-process, through the same handler
// (request ids, authentication, the engine's rules) as any client, with the
// signed-in principal's token: every rule, refusal and approval the portal
// shows is the API's.
type api struct {
	ctx     context.Context
	handler http.Handler
	host    string
	token   string
}

// APIError is a refused API call, kept for showing in plain words with the
// API's JSON one click away.
type APIError struct {
	Status  int
	Code    string
	Message string
	// Raw is the API's answer.
	Raw string
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// recorder is the in-process response of an API call.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// do sends method path (with its query) and body (JSON-encoded unless nil
// or already []byte) and returns the answer; a status of 400 or more is an
// *APIError.
func (a *api) do(method, path string, body any) (*recorder, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequestWithContext(a.ctx, method, "https://"+a.host+path, rd)
	if err != nil {
		return nil, err
	}
	// The API writes absolute URLs (status URLs, nextLinks) with the
	// address the browser used.
	req.Host = a.host
	req.TLS = &tls.ConnectionState{}
	req.RemoteAddr = "127.0.0.1:0"
	req.Header.Set("Authorization", "Bearer "+a.token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := &recorder{header: http.Header{}}
	a.handler.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status >= 400 {
		e := &APIError{Status: rec.status, Raw: rec.body.String()}
		var env struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(rec.body.Bytes(), &env) == nil && env.Error.Code != "" {
			e.Code, e.Message = env.Error.Code, env.Error.Message
		} else {
			e.Code, e.Message = http.StatusText(rec.status), strings.TrimSpace(rec.body.String())
		}
		return rec, e
	}
	return rec, nil
}

// get decodes the JSON answer of GET path into v.
func (a *api) get(path string, v any) error {
	rec, err := a.do(http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	return json.Unmarshal(rec.body.Bytes(), v)
}

// list follows a list's nextLinks and returns every item.
func (a *api) list(path string) ([]map[string]any, error) {
	var out []map[string]any
	for path != "" {
		var page struct {
			Value    []map[string]any `json:"value"`
			NextLink string           `json:"nextLink"`
		}
		if err := a.get(path, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Value...)
		path = ""
		if page.NextLink != "" {
			if u, err := url.Parse(page.NextLink); err == nil {
				path = u.RequestURI()
			}
		}
	}
	return out, nil
}

// withVersion adds ?api-version=v to path.
func withVersion(path, v string) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "api-version=" + url.QueryEscape(v)
}

// plain says what an API refusal means, in words for people: the API's own
// message, after a sentence on the kind of problem.
func plain(err error) string {
	e, ok := err.(*APIError)
	if !ok {
		return err.Error()
	}
	lead := ""
	switch {
	case e.Status == http.StatusForbidden:
		lead = "You do not have permission to do this."
	case e.Status == http.StatusNotFound:
		lead = "It is not there (any more)."
	case e.Status == http.StatusConflict:
		lead = "It conflicts with what is there now."
	case e.Status == http.StatusUnauthorized:
		lead = "Your sign-in has ended; sign in again."
	case e.Status >= 500:
		lead = "privlink failed to do this; its log says why."
	default:
		lead = "The request was refused."
	}
	return fmt.Sprintf("%s %s", lead, e.Message)
}
