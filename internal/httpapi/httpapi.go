// Package httpapi is privlink's HTTP server: one route table (routes.go),
// the ARM request pipeline (request ids, authentication, api-version, body
// limits), the single error writer, and the emulator-only /_privlink/ endpoints.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/dataplane"
	"github.com/privlink/privlink/internal/identity"
	"github.com/privlink/privlink/internal/resource"
	"github.com/privlink/privlink/internal/store"
)

// MaxBody is the largest request body accepted (ARM's limit is 4 MB).
const MaxBody = 4 << 20

// Server serves ARM, identity and emulator endpoints.
type Server struct {
	Engine   *resource.Engine
	Identity *identity.Service
	Log      *slog.Logger
	// AccessLog logs every request at Info (else at Debug).
	AccessLog bool
	// Check, when set, reports a fault that makes the server unhealthy
	// (the store refusing writes after a failed commit).
	Check func() error
	// Info is what GET /_privlink/info answers (Info): where the server
	// keeps its data and CA, so that 'privlink env' finds the right ones.
	Info Info
	// OwnHosts are the names this server answers to as itself (its
	// certificate's, besides IP addresses): a token whose audience is the
	// server's own URL is valid for ARM only when the request came in on
	// one of them (custom clouds ask for such tokens), never on one of
	// Azure's names, where the Host header would let a token for another
	// service (Graph's, Key Vault's) pass as ARM's.
	OwnHosts []string
	// Portal, when set, serves every path that no API claims (the web UI
	// at /); it is given the API's handler, which it calls in-process.
	Portal Portal
	// DataPlane, when set, serves the data path's endpoints
	// (/_privlink/network, /_privlink/backends, /_privlink/diagnose).
	// Replicas sharing a store run the data path on one of them at a time
	// (the data path's addresses exist once per machine): app swaps it
	// with SetDataPlane, and the others forward those endpoints to the one
	// that runs it (DataPlaneAt).
	DataPlane *dataplane.Plane
	// DataPlaneAt, when set, gives the base URL of the replica that runs
	// the data path now ("" while none does), for a replica without one.
	DataPlaneAt func(ctx context.Context) (string, error)
	// Forward is the transport that reaches DataPlaneAt (it trusts the
	// replicas' shared CA).
	Forward http.RoundTripper
	// Barrier, when set, runs before every authenticated request: it
	// returns once what this process keeps beside the store (the access
	// control index, the data path) has followed every write committed
	// anywhere before the request (store.Feed).
	Barrier func(ctx context.Context) error

	plane atomic.Pointer[dataplane.Plane]
	ready atomic.Bool
}

// Portal is the web UI (internal/portal).
type Portal interface {
	http.Handler
	// Claims reports whether a request is for one of the portal's pages.
	Claims(r *http.Request) bool
	// Attach gives the portal the handler of the API it calls.
	Attach(api http.Handler)
}

// SetDataPlane sets (or, with nil, removes) the data path this process
// runs, while requests are served.
func (s *Server) SetDataPlane(p *dataplane.Plane) { s.plane.Store(p) }

// dataPlane is the data path this process runs now, or nil.
func (s *Server) dataPlane() *dataplane.Plane {
	if p := s.plane.Load(); p != nil {
		return p
	}
	return s.DataPlane
}

// SetReady marks the server ready (health answers 200 from then on).
func (s *Server) SetReady(v bool) { s.ready.Store(v) }

type ctxKey int

const (
	requestIDKey ctxKey = iota
)

// requestID returns the x-ms-request-id of the request in ctx.
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// statusWriter remembers the status, and the ARM error code of a failed
// answer, for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
	code   string
}

func (w *statusWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
	w.ResponseWriter.WriteHeader(s)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// withRequest sets the ARM request headers every response carries, recovers
// panics into a 500 ARM error, and logs the request.
func (s *Server) withRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rid := uuid.NewString()
		h := w.Header()
		h.Set("x-ms-request-id", rid)
		corr := r.Header.Get("x-ms-correlation-request-id")
		if corr == "" {
			corr = rid
		}
		h.Set("x-ms-correlation-request-id", corr)
		if cid := r.Header.Get("x-ms-client-request-id"); cid != "" {
			h.Set("x-ms-client-request-id", cid)
		}
		h.Set("x-ms-routing-request-id", "PRIVLINK:"+start.UTC().Format("20060102T150405Z")+":"+rid)
		sw := &statusWriter{ResponseWriter: w}
		ctx := context.WithValue(r.Context(), requestIDKey, rid)
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.Log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "request_id", rid, "panic", p)
				if sw.status == 0 {
					writeARMError(sw, arm.InternalError(rid))
				}
			}
			level := slog.LevelDebug
			// Health checks (a load balancer's, every second per replica)
			// stay at Debug, or they would be most of the access log.
			if s.AccessLog && r.URL.Path != "/_privlink/health" {
				level = slog.LevelInfo
			}
			// Typed attributes and no work at all when the level is off:
			// the access log is on by default, so its cost is every
			// request's (docs/benchmarks.md).
			// A success logs five attributes, which a slog.Record holds
			// without allocating; an empty sixth would still take a slot.
			if s.Log.Enabled(ctx, level) {
				method, path, status := slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", sw.status)
				took, id := slog.Duration("duration", time.Since(start)), slog.String("request_id", rid)
				if sw.code == "" {
					s.Log.LogAttrs(ctx, level, "request", method, path, status, took, id)
				} else {
					s.Log.LogAttrs(ctx, level, "request", method, path, status, slog.String("error_code", sw.code), took, id)
				}
			}
		}()
		next.ServeHTTP(sw, r.WithContext(ctx))
	})
}

// challenge sets ARM's WWW-Authenticate header of a 401: the tenant's
// authority as a URI, and the reason.
func challenge(w http.ResponseWriter, authority string, ae *arm.Error) {
	w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="`+authority+`", error="invalid_token", error_description="`+strings.ReplaceAll(ae.Message, `"`, `'`)+`"`)
}

// authority is the Entra ID authority of the cloud the client reached:
// login.windows.net for Azure's public names (through the transparent
// proxy), privlink's own address otherwise.
func authority(r *http.Request) string {
	if identity.PublicHost(r.Host) {
		return "https://login.windows.net/" + identity.DefaultTenantID
	}
	return identity.BaseURL(r) + "/" + identity.DefaultTenantID
}

// writeError writes err as an ARM error: *arm.Error as itself, anything else
// as an InternalServerError whose cause goes to the log only.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := arm.AsError(err)
	if ae == nil && errors.Is(err, store.ErrUnavailable) {
		// The shared database is down or unreachable: ARM's answer to a
		// dependency that is out for a while, which clients retry after
		// Retry-After (writeARMError), instead of a 500.
		s.Log.Warn("store unavailable", "method", r.Method, "path", r.URL.Path, "request_id", requestID(r.Context()), "err", err)
		ae = &arm.Error{Code: arm.CodeServiceUnavailable, Message: "The service is temporarily unavailable: its database cannot be reached. Please retry the request later."}
	}
	if ae == nil {
		if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			return // the client went away; nobody reads an answer
		}
		s.Log.Error("internal error", "method", r.Method, "path", r.URL.Path, "request_id", requestID(r.Context()), "err", err)
		ae = arm.InternalError(requestID(r.Context()))
	}
	writeARMError(w, ae)
}

func writeARMError(w http.ResponseWriter, ae *arm.Error) {
	if sw, ok := w.(*statusWriter); ok {
		sw.code = ae.Code // for the access log
	}
	status := ae.HTTPStatus()
	if status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		challenge(w, "https://login.windows.net/"+identity.DefaultTenantID, ae)
	}
	switch {
	case ae.Code == arm.CodeServiceUnavailable:
		// Long enough that the SDKs' three retries outlast a database
		// restart of ten seconds or so.
		w.Header().Set("Retry-After", "5")
	case ae.Code == arm.CodeTooManyRequests || status == http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, arm.ErrorResponse{Error: ae})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := arm.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"InternalServerError","message":"The response could not be encoded."}}`)
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Pragma", "no-cache")
	h.Set("Expires", "-1")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
