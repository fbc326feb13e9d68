package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Action is what the proxy does with one connection request.
type Action int

const (
	// Tunnel dials the destination (or Decision.Addr) and copies bytes both
	// ways until either side closes.
	Tunnel Action = iota
	// Serve hands the client's connection, past the proxy handshake, to
	// Decision.Serve (privlink's own TLS server, for the Azure names it serves).
	Serve
	// Refuse answers the client with Decision.Reason and closes.
	Refuse
)

func (a Action) String() string {
	switch a {
	case Tunnel:
		return "tunnel"
	case Serve:
		return "serve"
	case Refuse:
		return "refuse"
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// Request is one connection request as a Policy sees it.
type Request struct {
	// Host is the destination: a host name in lower case, or an IP literal
	// without brackets.
	Host string
	// Port is the destination port, 1-65535.
	Port int
	// Protocol is the front end that took the request: "connect" (HTTP
	// CONNECT), "http" (an absolute-form HTTP request) or "socks5".
	Protocol string
	// Client is the address of the proxy's client.
	Client net.Addr
}

// Addr is the destination as host:port.
func (r Request) Addr() string { return net.JoinHostPort(r.Host, strconv.Itoa(r.Port)) }

// Decision is a Policy's answer.
type Decision struct {
	Action Action
	// Serve receives the client connection when Action is Serve and owns it
	// from then on. Bytes the client sent after its proxy request are still
	// readable from the connection.
	Serve func(net.Conn)
	// Addr is the host:port a Tunnel dials instead of the requested one
	// (a backend bound to a name); "" dials the requested destination.
	Addr string
	// Reason says why a connection is refused. It reaches the client (the
	// CONNECT status line, an HTTP body) and the log; SOCKS5 has room for a
	// code only, so there it reaches the log alone.
	Reason string
	// Status is the HTTP status of a refusal; 0 means 403 Forbidden.
	Status int
	// SOCKSCode is the SOCKS5 reply code of a refusal (RFC 1928 §6: 0x02
	// not allowed by ruleset, 0x04 host unreachable, 0x05 connection
	// refused, ...); 0 means 0x02.
	SOCKSCode byte
	// Dial, when set, connects a Tunnel instead of Addr and Proxy.Dial: a
	// policy that knows more about the destination (the data path's
	// backends) says in its error why it is unreachable; the error reaches
	// the client as the refusal's reason (wrap syscall errors with %w so
	// that SOCKS5 clients get the matching reply code).
	Dial func(ctx context.Context) (net.Conn, error)
	// Revoked, when not nil, ends a Tunnel when it is closed: the policy
	// withdrew what allowed it (the data path's endpoint was rejected or
	// removed), so both sides are closed at once.
	Revoked <-chan struct{}
	// Via names the path a Tunnel takes, for the log (the data path's
	// "private endpoint NAME (ADDRESS)", "trusted service", "public").
	Via string
}

// Policy decides what happens to each connection request. Decide must be
// safe for concurrent use.
type Policy interface {
	Decide(ctx context.Context, r Request) Decision
}

// PolicyFunc adapts a function to a Policy.
type PolicyFunc func(ctx context.Context, r Request) Decision

// Decide calls f.
func (f PolicyFunc) Decide(ctx context.Context, r Request) Decision { return f(ctx, r) }

// Proxy serves proxy connections: HTTP CONNECT, absolute-form HTTP requests
// (what clients send for http:// URLs through HTTP_PROXY) and SOCKS5 (RFC
// 1928, no authentication or any username and password), told apart by the
// first byte. The zero value is not usable: set Policy.
type Proxy struct {
	Policy Policy
	// Dial connects tunnels; nil uses a net.Dialer with DialTimeout.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// DialTimeout bounds connecting a tunnel (default 10 s).
	DialTimeout time.Duration
	// HandshakeTimeout bounds reading a proxy request (default 30 s).
	HandshakeTimeout time.Duration
	// Log receives one line per decision; nil discards.
	Log *slog.Logger

	mu     sync.Mutex
	conns  map[net.Conn]struct{} // client and tunnel connections the proxy owns
	closed bool
	tr     *http.Transport
	trOnce sync.Once
}

// ErrClosed is returned for work offered to a closed Proxy or Mux.
var ErrClosed = net.ErrClosed

// ServeConn serves one client connection and closes it when done, unless a
// Serve decision handed it on.
func (p *Proxy) ServeConn(c net.Conn) {
	p.serve(c, bufio.NewReader(c))
}

// serve serves c, whose reads go through br (which may hold bytes already
// read from c, e.g. by the Mux's sniffing).
func (p *Proxy) serve(c net.Conn, br *bufio.Reader) {
	if !p.track(c) {
		c.Close()
		return
	}
	handedOff := false
	defer func() {
		p.untrack(c)
		if !handedOff {
			c.Close()
		}
	}()
	_ = c.SetReadDeadline(time.Now().Add(p.handshakeTimeout()))
	first, err := br.Peek(1)
	if err != nil {
		return
	}
	if first[0] == socksVersion {
		handedOff = p.socks(c, br)
		return
	}
	handedOff = p.http(c, br)
}

// Close closes every connection the proxy holds (tunnels and handshakes in
// progress) and refuses new ones.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for c := range conns {
		c.Close()
	}
	if p.tr != nil {
		p.tr.CloseIdleConnections()
	}
	return nil
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	if p.conns == nil {
		p.conns = map[net.Conn]struct{}{}
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *Proxy) handshakeTimeout() time.Duration {
	if p.HandshakeTimeout > 0 {
		return p.HandshakeTimeout
	}
	return 30 * time.Second
}

func (p *Proxy) log() *slog.Logger {
	if p.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Log
}

// logDecision writes the one line a decision gets.
func (p *Proxy) logDecision(r Request, d Decision) {
	args := []any{"protocol", r.Protocol, "destination", r.Addr(), "action", d.Action.String(), "reason", d.Reason, "client", clientString(r.Client)}
	if d.Via != "" {
		args = append(args, "via", d.Via)
	}
	p.log().Info("proxy", args...)
}

func (p *Proxy) decide(r Request) Decision {
	ctx, cancel := context.WithTimeout(context.Background(), p.handshakeTimeout())
	defer cancel()
	d := p.Policy.Decide(ctx, r)
	if d.Action == Serve && d.Serve == nil {
		d = Decision{Action: Refuse, Reason: "privlink has nothing to serve " + r.Addr() + " with", Status: http.StatusBadGateway}
	}
	return d
}

// dial connects a tunnel for r as d says.
func (p *Proxy) dial(r Request, d Decision) (net.Conn, error) {
	addr := d.Addr
	if addr == "" {
		addr = r.Addr()
	}
	timeout := p.DialTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if d.Dial != nil {
		return d.Dial(ctx)
	}
	if p.Dial != nil {
		return p.Dial(ctx, "tcp", addr)
	}
	var dl net.Dialer
	return dl.DialContext(ctx, "tcp", addr)
}

// unreachable is the reason given for a tunnel that could not be dialled.
func unreachable(r Request, err error) string {
	return "privlink cannot reach " + r.Addr() + ": " + err.Error()
}

// splice copies bytes between client and server until both directions end
// (or revoked is closed), then closes both.
func (p *Proxy) splice(client, server net.Conn, revoked <-chan struct{}) {
	if !p.track(server) {
		server.Close()
		return
	}
	defer p.untrack(server)
	Join(client, server, revoked)
}

// Join copies bytes between client and server until both directions end,
// then closes both: the tunnel of the proxy, and of anything else that
// carries a connection on (the data path's private addresses). A side that
// ends its writing half-closes the other, so protocols that shut down one
// direction first keep working. Closing revoked (when not nil) closes both
// at once. Between TCP connections the copies use the kernel's splice.
func Join(client, server net.Conn, revoked <-chan struct{}) {
	done := make(chan struct{})
	if revoked != nil {
		go func() {
			select {
			case <-revoked:
				client.Close()
				server.Close()
			case <-done:
			}
		}()
	}
	defer close(done)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(server, client)
		closeWrite(server)
	}()
	go func() {
		defer wg.Done()
		_, _ = io.Copy(client, server)
		closeWrite(client)
	}()
	wg.Wait()
	server.Close()
	client.Close()
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	c.Close()
}

// bufferedConn is a connection whose first bytes were read into r.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) {
	if b.r.Buffered() > 0 {
		return b.r.Read(p)
	}
	return b.Conn.Read(p)
}

// withBuffered returns c itself when br holds nothing more (so that copies
// can use the kernel's splice on TCP), else c reading br first.
func withBuffered(c net.Conn, br *bufio.Reader) net.Conn {
	if br.Buffered() == 0 {
		return c
	}
	return &bufferedConn{Conn: c, r: br}
}

// http serves the HTTP front end: one CONNECT, or a series of absolute-form
// requests on a keep-alive connection. It reports whether c was handed off.
func (p *Proxy) http(c net.Conn, br *bufio.Reader) bool {
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !isTimeout(err) && !errors.Is(err, net.ErrClosed) {
				writeStatus(c, http.StatusBadRequest, "privlink proxy: malformed request: "+err.Error())
			}
			return false
		}
		if req.Method == http.MethodConnect {
			return p.connect(c, br, req)
		}
		if !p.forward(c, req) {
			return false
		}
		_ = c.SetReadDeadline(time.Now().Add(p.handshakeTimeout()))
	}
}

// connect answers one CONNECT request.
func (p *Proxy) connect(c net.Conn, br *bufio.Reader, req *http.Request) bool {
	host, port, err := splitTarget(req.RequestURI, 0)
	if err != nil {
		writeStatus(c, http.StatusBadRequest, "privlink proxy: CONNECT needs host:port, not "+strconv.Quote(req.RequestURI))
		return false
	}
	r := Request{Host: host, Port: port, Protocol: "connect", Client: c.RemoteAddr()}
	d := p.decide(r)
	p.logDecision(r, d)
	if d.Action == Refuse {
		writeStatus(c, refusalStatus(d), d.Reason)
		return false
	}
	return p.carry(c, br, r, d, func(net.Addr) error {
		_, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
		return err
	}, func(err error) {
		writeStatus(c, http.StatusBadGateway, unreachable(r, err))
	})
}

// carry completes an accepted request the same way for every front end:
// Serve hands c on, Tunnel dials the destination and splices. accept writes
// the front end's success reply (bound is the tunnel's local address, or
// c's for Serve); fail writes its answer to a failed dial. It reports whether
// c was handed off.
func (p *Proxy) carry(c net.Conn, br *bufio.Reader, r Request, d Decision, accept func(bound net.Addr) error, fail func(error)) bool {
	if d.Action == Serve {
		if accept(c.LocalAddr()) != nil {
			return false
		}
		_ = c.SetReadDeadline(time.Time{})
		p.untrack(c)
		d.Serve(withBuffered(c, br))
		return true
	}
	server, err := p.dial(r, d)
	if err != nil {
		p.log().Info("proxy", "protocol", r.Protocol, "destination", r.Addr(), "action", "refuse", "reason", unreachable(r, err))
		fail(err)
		return false
	}
	if accept(server.LocalAddr()) != nil {
		server.Close()
		return false
	}
	_ = c.SetReadDeadline(time.Time{})
	// What the client sent right behind its request (a TLS ClientHello
	// in the same packet as the CONNECT) goes first.
	if n := br.Buffered(); n > 0 {
		b, _ := br.Peek(n)
		if _, err := server.Write(b); err != nil {
			server.Close()
			return false
		}
		_, _ = br.Discard(n)
	}
	p.splice(c, server, d.Revoked)
	return false
}

type addrKey struct{}

// forward relays one absolute-form request (a client's http:// request
// through HTTP_PROXY). It reports whether the connection stays open.
func (p *Proxy) forward(c net.Conn, req *http.Request) bool {
	if req.URL == nil || req.URL.Host == "" || !strings.EqualFold(req.URL.Scheme, "http") {
		body := "This is privlink's HTTPS port. It also serves as an HTTP proxy (CONNECT, or absolute http:// URLs) and a SOCKS5 proxy; " +
			"a request for " + strconv.Quote(req.RequestURI) + " is neither. Use https:// for privlink's API."
		writeStatus(c, http.StatusBadRequest, body)
		return false
	}
	host, port, err := splitTarget(req.URL.Host, 80)
	if err != nil {
		writeStatus(c, http.StatusBadRequest, "privlink proxy: bad host in "+strconv.Quote(req.URL.String()))
		return false
	}
	r := Request{Host: host, Port: port, Protocol: "http", Client: c.RemoteAddr()}
	d := p.decide(r)
	if d.Action == Serve {
		// A Serve handler takes whole connections (TLS inside a tunnel); a
		// plain request in the middle of a proxy connection has no such form.
		d = Decision{Action: Refuse, Status: http.StatusBadRequest, Reason: "privlink serves " + host + " over HTTPS only: use https://" + host + "/ (through HTTPS_PROXY)"}
	}
	p.logDecision(r, d)
	if d.Action == Refuse {
		writeStatus(c, refusalStatus(d), d.Reason)
		return false
	}
	out := req.Clone(context.WithValue(context.Background(), addrKey{}, dialTarget{r, d}))
	out.RequestURI = ""
	removeHopHeaders(out.Header)
	resp, err := p.transport().RoundTrip(out)
	if err != nil {
		writeStatus(c, http.StatusBadGateway, unreachable(r, err))
		return false
	}
	defer resp.Body.Close()
	removeHopHeaders(resp.Header)
	keep := !req.Close && !resp.Close
	if !keep {
		resp.Close = true
	}
	if err := resp.Write(c); err != nil {
		return false
	}
	return keep
}

type dialTarget struct {
	r Request
	d Decision
}

func (p *Proxy) transport() *http.Transport {
	p.trOnce.Do(func() {
		p.tr = &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				t, ok := ctx.Value(addrKey{}).(dialTarget)
				if !ok {
					return nil, errors.New("privlink proxy: no destination")
				}
				return p.dial(t.r, t.d)
			},
			// Each request may be decided differently (a binding may change),
			// so connections are not pooled across requests.
			DisableKeepAlives:     true,
			ResponseHeaderTimeout: 5 * time.Minute,
		}
	})
	return p.tr
}

// hopHeaders are the hop-by-hop headers (RFC 9110 §7.6.1) a proxy drops.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func removeHopHeaders(h http.Header) {
	for _, f := range h.Values("Connection") {
		for _, name := range strings.Split(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, k := range hopHeaders {
		h.Del(k)
	}
}

func refusalStatus(d Decision) int {
	if d.Status >= 400 && d.Status <= 599 {
		return d.Status
	}
	return http.StatusForbidden
}

// writeStatus answers with status and the reason both in the status line
// (what Go's and curl's proxy errors show) and as a text body.
func writeStatus(c net.Conn, status int, reason string) {
	line := statusText(reason)
	if line == "" {
		line = http.StatusText(status)
	}
	body := reason + "\n"
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "HTTP/1.1 %03d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", status, line, len(body), body)
}

// statusText makes reason fit a status line: one line of printable text.
func statusText(reason string) string {
	var b strings.Builder
	for _, r := range reason {
		switch {
		case r == '\r' || r == '\n' || r == '\t':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f:
		default:
			b.WriteRune(r)
		}
		if b.Len() > 400 {
			b.WriteString("...")
			break
		}
	}
	return b.String()
}

// splitTarget parses host:port (an authority), with def as the port when
// none is given (0: the port is required).
func splitTarget(s string, def int) (string, int, error) {
	host, ps, err := net.SplitHostPort(s)
	if err != nil {
		if def == 0 {
			return "", 0, err
		}
		host, ps = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), strconv.Itoa(def)
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", ps)
	}
	if host == "" || strings.ContainsAny(host, " /\\@?#%\x00") {
		return "", 0, fmt.Errorf("bad host %q", host)
	}
	return strings.ToLower(host), port, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func clientString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
