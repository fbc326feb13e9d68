package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/resource"
)

type principalKey struct{}

// authenticated requires a valid ARM bearer token.
func (s *Server) authenticated(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		scheme, token, ok := strings.Cut(auth, " ")
		if auth == "" {
			unauthorized(w, r, arm.Errorf(arm.CodeAuthenticationFailed, "Authentication failed. The 'Authorization' header is missing."))
			return
		}
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			unauthorized(w, r, arm.Errorf(arm.CodeAuthenticationFailed, "Authentication failed. The 'Authorization' header is provided in an invalid format."))
			return
		}
		self := ""
		if s.ownHost(r.Host) {
			self = identity.BaseURL(r)
		}
		p, aerr := s.Identity.Validate(strings.TrimSpace(token), self)
		if aerr != nil {
			unauthorized(w, r, aerr)
			return
		}
		if s.Barrier != nil {
			if err := s.Barrier(r.Context()); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		next(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	}
}

// ownHost reports whether host (a request's Host, maybe with a port) is
// one of this server's own names (Server.OwnHosts) or an IP address.
func (s *Server) ownHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	for _, o := range s.OwnHosts {
		if strings.EqualFold(o, host) {
			return true
		}
	}
	return false
}

// unauthorized answers a request whose token was refused, naming the
// authority of the cloud the client reached.
func unauthorized(w http.ResponseWriter, r *http.Request, ae *arm.Error) {
	if ae.HTTPStatus() == http.StatusUnauthorized {
		challenge(w, authority(r), ae)
	}
	writeARMError(w, ae)
}

func principalOf(r *http.Request) *arm.Principal {
	p, _ := r.Context().Value(principalKey{}).(*arm.Principal)
	return p
}

// arm is the pipeline of every ARM request: parse, read the body, hand it to
// the engine, write what it answers.
func (s *Server) arm(w http.ResponseWriter, r *http.Request) {
	// ARM's own operation results: /subscriptions/{s}/operationresults/{id}.
	if sub, op, ok := operationResult(r.URL.Path); ok && r.Method == http.MethodGet {
		if aerr := arm.CheckSubscriptionID(sub); aerr != nil {
			writeARMError(w, aerr)
			return
		}
		resp, err := s.Engine.OperationResult(r.Context(), &resource.Request{Method: r.Method, Path: arm.Path{ID: arm.ResourceID{Subscription: sub}}, Principal: principalOf(r)}, sub, op)
		s.respond(w, r, resp, err)
		return
	}
	path, aerr := arm.ParsePath(r.URL.Path)
	if aerr != nil {
		writeARMError(w, aerr)
		return
	}
	// A malformed subscription id is refused before anything else is
	// looked at, in every path under /subscriptions/{s} (and in extension
	// scopes under one), as ARM does.
	if sub := path.ID.SubscriptionID(); sub != "" {
		if aerr := arm.CheckSubscriptionID(sub); aerr != nil {
			writeARMError(w, aerr)
			return
		}
	}
	q := r.URL.Query()
	req := &resource.Request{
		Method:     r.Method,
		Path:       path,
		Query:      q,
		APIVersion: q.Get("api-version"),
		Header:     r.Header,
		BaseURL:    identity.BaseURL(r),
		Principal:  principalOf(r),
	}
	if path.ID.IsRoot() && strings.EqualFold(path.Tail, "tenants") {
		if r.Method != http.MethodGet {
			writeARMError(w, arm.Errorf(arm.CodeMethodNotAllowed, "The requested resource does not support http method '%s'.", r.Method))
			return
		}
		s.tenants(w, r)
		return
	}
	if r.Body != nil && r.Method != http.MethodGet && r.Method != http.MethodHead {
		if ct := r.Header.Get("Content-Type"); ct != "" && r.ContentLength != 0 {
			mt, _, err := mime.ParseMediaType(ct)
			if err != nil || !(mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "text/json") {
				writeARMError(w, arm.Errorf(arm.CodeUnsupportedMediaType, "The content media type '%s' is not supported. Only 'application/json' is supported.", ct))
				return
			}
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeARMError(w, arm.Errorf(arm.CodeRequestEntityTooLarge, "The request content size exceeds the maximum of %d bytes.", MaxBody))
				return
			}
			s.writeError(w, r, err)
			return
		}
		// Read the bytes as ARM reads them (a byte order mark decides the
		// encoding; see arm.DecodeContent), once for every request.
		body, err = arm.DecodeContent(body)
		if err != nil {
			writeARMError(w, arm.InvalidContent(err.Error()))
			return
		}
		// ARM reads content with JSON.NET, which takes more than JSON
		// (armclient sends the docs' {'properties': {...}} as written):
		// such content is read as the JSON it means, and content that
		// JSON.NET cannot read either gets JSON.NET's account of why.
		if len(bytes.TrimSpace(body)) > 0 && !json.Valid(body) {
			out, err := arm.ReadJSONNET(body)
			if err != nil {
				writeARMError(w, arm.UnreadableContent(err))
				return
			}
			body = out
		}
		req.Body = body
	}
	resp, err := s.Engine.Serve(r.Context(), req)
	s.respond(w, r, resp, err)
}

// operationResult recognizes /subscriptions/{s}/operationresults/{id}, an
// ARM endpoint that is no resource path.
func operationResult(p string) (sub, op string, ok bool) {
	// Every request passes here: only a path of four segments is split
	// (splitting every path was 1.5% of a GET's CPU).
	t := strings.Trim(p, "/")
	if strings.Count(t, "/") != 3 {
		return "", "", false
	}
	segs := strings.Split(t, "/")
	if len(segs) == 4 && strings.EqualFold(segs[0], "subscriptions") && strings.EqualFold(segs[2], "operationresults") {
		return segs[1], segs[3], true
	}
	return "", "", false
}

func (s *Server) respond(w http.ResponseWriter, r *http.Request, resp *resource.Response, err error) {
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	if resp.Body == nil || r.Method == http.MethodHead {
		w.WriteHeader(resp.Status)
		return
	}
	writeRaw(w, resp.Status, resp.Body)
}

func (s *Server) tenants(w http.ResponseWriter, r *http.Request) {
	t := s.Identity.TenantID
	writeJSON(w, http.StatusOK, map[string]any{"value": []map[string]any{{
		"id": "/tenants/" + t, "tenantId": t, "tenantCategory": "Home", "displayName": "privlink", "defaultDomain": "privlink.local", "domains": []string{"privlink.local"},
	}}})
}
