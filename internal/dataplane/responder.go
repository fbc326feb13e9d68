package dataplane

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/privlink/privlink/internal/proxy"
)

// respond is the built-in responder: what answers for a target's
// sub-resource that no real service is bound to. It identifies the target
// the request's host names and, for Kusto clusters, answers the engine's
// ping (/v1/rest/ping) as Kusto does, with "Pong!".
func (p *Plane) respond(w http.ResponseWriter, r *http.Request) {
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	s, done := p.needRead("", host)
	ref, ok := s.hosts[host]
	t := s.targets[ref.target]
	done()
	if !ok {
		http.Error(w, "privlink's built-in responder serves privlink's targets only; "+host+" is none of them", http.StatusMisdirectedRequest)
		return
	}
	if t == nil {
		http.Error(w, "the target of "+host+" is gone", http.StatusNotFound)
		return
	}
	if t.typ == kustoType && strings.EqualFold(r.URL.Path, "/v1/rest/ping") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "Pong!")
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("x-privlink-target", t.id.String())
	b, _ := json.MarshalIndent(map[string]string{
		"server":  "privlink built-in responder",
		"target":  t.id.String(),
		"type":    t.id.Type(),
		"groupId": ref.host.Group,
		"host":    host,
		"message": "You reached the " + ref.host.Group + " sub-resource of " + typeNoun(t.typ) + " '" + t.id.Name() + "'. Bind a real service to it with: privlink backend set --resource " + t.id.String() + " --group-id " + ref.host.Group + " --to HOST:PORT",
	}, "", "  ")
	_, _ = w.Write(append(b, '\n'))
}

// servePublic serves privlink's public side, the address public names
// resolve to: it reads the server name of the client's TLS hello and
// carries the connection to that target's backend when the target allows
// public network access, and closes it otherwise (traffic through a
// cluster's egress never gets here: the egress decides itself).
func (p *Plane) servePublic(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	name, hello, err := peekServerName(c)
	_ = c.SetReadDeadline(time.Time{})
	if err != nil {
		c.Close()
		return
	}
	s, done := p.needRead("", name)
	ref, ok := s.hosts[name]
	t := s.targets[ref.target]
	var unpin func()
	if t != nil {
		unpin = p.pin(t.key)
	}
	done()
	if unpin != nil {
		defer unpin()
	}
	if !ok || ref.private || t == nil {
		p.log.Info("public side", "action", "refuse", "host", name, "reason", "no target has this name")
		c.Close()
		return
	}
	if t.publicDisabled() {
		p.log.Info("public side", "action", "refuse", "host", name, "reason", "public network access is disabled on "+t.id.String())
		c.Close()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	b, err := p.connect(ctx, Verdict{Allowed: true, tgt: t, host: ref.host})
	cancel()
	if err != nil {
		p.log.Info("public side", "action", "refuse", "host", name, "reason", err.Error())
		c.Close()
		return
	}
	if _, err := b.Write(hello); err != nil {
		b.Close()
		c.Close()
		return
	}
	proxy.Join(c, b, t.gate)
}

// errHello ends a handshake once the client's hello has been read.
var errHello = errors.New("hello read")

// peekServerName reads a TLS ClientHello from c and returns its server
// name and the bytes read, to be replayed to the real server.
func peekServerName(c net.Conn) (string, []byte, error) {
	var buf bytes.Buffer
	var name string
	err := tls.Server(readOnly{io.TeeReader(io.LimitReader(c, 64<<10), &buf)}, &tls.Config{
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			name = strings.ToLower(h.ServerName)
			return nil, errHello
		},
	}).Handshake()
	if name == "" {
		if err == nil {
			err = errors.New("no server name")
		}
		return "", nil, err
	}
	return name, buf.Bytes(), nil
}

// readOnly is a net.Conn that reads from r and refuses writes, for reading
// a TLS hello without answering it.
type readOnly struct{ r io.Reader }

func (c readOnly) Read(b []byte) (int, error)     { return c.r.Read(b) }
func (readOnly) Write([]byte) (int, error)        { return 0, io.ErrClosedPipe }
func (readOnly) Close() error                     { return nil }
func (readOnly) LocalAddr() net.Addr              { return nil }
func (readOnly) RemoteAddr() net.Addr             { return nil }
func (readOnly) SetDeadline(time.Time) error      { return nil }
func (readOnly) SetReadDeadline(time.Time) error  { return nil }
func (readOnly) SetWriteDeadline(time.Time) error { return nil }
