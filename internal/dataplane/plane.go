package dataplane

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/privlink/privlink/internal/certs"
	"github.com/privlink/privlink/internal/proxy"
	"github.com/privlink/privlink/internal/resource"
	"github.com/privlink/privlink/internal/store"
)

// Config configures a Plane.
type Config struct {
	// Engine is the resource engine whose state the data path follows.
	Engine *resource.Engine
	// Range holds the managed networks (CheckRange); zero means DefaultRange.
	Range netip.Prefix
	// DataDir holds the CA that signs the built-in responder's certificates.
	DataDir string
	// Cert is served by the built-in responder to clients that name no
	// target (privlink's own server certificate).
	Cert tls.Certificate
	// Fallback decides for destinations that are no target's names: the
	// transparent mode's policy (proxy.Hosts), so that a program acting as
	// the cluster still reaches privlink's Resource Manager and login
	// names, and serve --offline holds. nil tunnels them.
	Fallback proxy.Policy
	// MaxConns bounds the connections each egress holds at once (default
	// 4096); past it new ones are refused, so that memory stays bounded.
	MaxConns int
	// Log receives the egress log (one line per decision, with the path
	// taken) and listener faults; nil discards.
	Log *slog.Logger
}

// Plane is the running data path of one server.
type Plane struct {
	cfg Config
	log *slog.Logger

	snap atomic.Pointer[snapshot]

	mu       sync.Mutex // serializes refreshes and the listeners
	table    *addrTable
	clusters map[string]*clusterNet // by cluster key
	privates map[string]*privateNet // by endpoint key
	public   *listener              // the public side
	resp     *listener              // the built-in responder
	respSrv  *http.Server           // serves resp
	closed   bool
	dirty    atomic.Bool
	wake     chan struct{}
	done     chan struct{}
	wg       sync.WaitGroup
	issuer   *certs.Issuer
	respAddr string
}

// clusterNet is what listens for one cluster: its egress and DNS server.
type clusterNet struct {
	gateway netip.Addr
	egress  *listener
	proxy   *proxy.Proxy
	dnsUDP  *dns.Server
	dnsTCP  *dns.Server
	dnsAddr string
}

// privateNet is an endpoint's private address, listening.
type privateNet struct {
	addr netip.Addr
	ln   *listener
}

// listener accepts connections and hands them to serve, holding at most
// max at once.
type listener struct {
	net.Listener
	sem chan struct{}
}

// New returns a Plane; Start loads the stored state and opens the listeners.
func New(cfg Config) (*Plane, error) {
	if !cfg.Range.IsValid() {
		cfg.Range = DefaultRange
	}
	if err := CheckRange(cfg.Range); err != nil {
		return nil, err
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 4096
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Plane{cfg: cfg, log: log, clusters: map[string]*clusterNet{}, privates: map[string]*privateNet{},
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	p.snap.Store(&snapshot{clusters: map[string]*cluster{}, endpoints: map[string]*endpoint{}, targets: map[string]*target{}, hosts: map[string]hostRef{}, addrs: map[netip.Addr]*endpoint{}})
	var err error
	if p.issuer, err = certs.NewIssuer(cfg.DataDir, cfg.Cert, p.isTargetName); err != nil {
		return nil, err
	}
	return p, nil
}

// Start loads the stored state, opens the public side, the built-in
// responder and every cluster's listeners, and follows the engine's
// commits from then on.
func (p *Plane) Start(ctx context.Context) error {
	var err error
	if p.resp, err = listen("127.0.0.1:0", p.cfg.MaxConns); err != nil {
		return fmt.Errorf("dataplane: built-in responder: %w", err)
	}
	p.respAddr = p.resp.Addr().String()
	p.respSrv = &http.Server{Handler: http.HandlerFunc(p.respond), ReadHeaderTimeout: 30 * time.Second,
		TLSConfig: &tls.Config{GetCertificate: p.issuer.GetCertificate, MinVersion: tls.VersionTLS12},
		ErrorLog:  slog.NewLogLogger(p.log.Handler(), slog.LevelDebug)}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_ = p.respSrv.Serve(tls.NewListener(p.resp, p.respSrv.TLSConfig))
	}()
	if err := p.Refresh(ctx); err != nil {
		return err
	}
	p.cfg.Engine.Watch(p.changed)
	p.wg.Add(1)
	go p.retry()
	return nil
}

// changed is the engine's commit hook: it refreshes at once when a commit
// touched what the data path reads (clusters, their endpoints, the targets
// and their connections).
func (p *Plane) changed(keys []string) {
	for _, k := range keys {
		if relevant(k) {
			if err := p.Refresh(context.Background()); err != nil {
				p.log.Error("dataplane: refresh", "err", err)
				p.dirty.Store(true)
				select {
				case p.wake <- struct{}{}:
				default:
				}
			}
			return
		}
	}
}

// retry refreshes again after a refresh failed (a store error), so that a
// transient fault does not leave stale state until the next change.
func (p *Plane) retry() {
	defer p.wg.Done()
	for {
		select {
		case <-p.done:
			return
		case <-p.wake:
		}
		for p.dirty.Load() {
			select {
			case <-p.done:
				return
			case <-time.After(time.Second):
			}
			p.dirty.Store(false)
			if err := p.Refresh(context.Background()); err != nil {
				p.dirty.Store(true)
			}
		}
	}
}

// relevant reports whether a record key is one the data path reads.
func relevant(key string) bool {
	if strings.HasPrefix(key, "/privlink/") {
		return false
	}
	i := strings.Index(key, "/providers/")
	if i < 0 {
		return strings.Count(key, "/") <= 4 // a subscription or resource group (cascades)
	}
	rest := key[i+len("/providers/"):]
	for _, t := range targetTypes {
		if strings.HasPrefix(rest, t+"/") {
			return true
		}
	}
	return false
}

// Refresh recomputes the data path from the store and applies it: new
// addresses, listeners opened and closed, and tunnels that lost what
// allowed them cut. The engine's commits call it; tests and start-up too.
func (p *Plane) Refresh(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	var s *snapshot
	var tbl *addrTable
	err := p.cfg.Engine.View(ctx, func(c *resource.Ctx) error {
		var err error
		if p.table == nil {
			if p.table, err = readTable(c.Tx, p.cfg.Range); err != nil {
				return err
			}
		}
		tbl = p.table.clone()
		s, err = load(c, tbl)
		return err
	})
	if err != nil {
		return err
	}
	if tbl.changed {
		if err := p.cfg.Engine.Store().Update(ctx, func(tx store.Tx) error { return tbl.write(tx) }); err != nil {
			return fmt.Errorf("dataplane: storing addresses: %w", err)
		}
		tbl.changed = false
	}
	p.table = tbl
	prev := p.snap.Load()
	carryGates(prev, s)
	p.snap.Store(s)
	p.revoke(prev, s)
	p.applyListeners(s)
	return nil
}

// carryGates keeps the gates of endpoints and targets whose traffic may go
// on as before, and gives the others new ones.
func carryGates(prev, s *snapshot) {
	for k, e := range s.endpoints {
		if o := prev.endpoints[k]; o != nil && o.open() && e.open() && o.addr == e.addr && sameBackend(prev, s, e) {
			e.gate = o.gate
		} else {
			e.gate = make(chan struct{})
		}
	}
	for k, t := range s.targets {
		if o := prev.targets[k]; o != nil && o.sig == t.sig {
			t.gate = o.gate
		} else {
			t.gate = make(chan struct{})
		}
	}
}

func sameBackend(prev, s *snapshot, e *endpoint) bool {
	o, n := prev.targets[e.target], s.targets[e.target]
	if o == nil || n == nil {
		return false
	}
	g := strings.ToLower(e.group)
	return o.backends[g] == n.backends[g]
}

// revoke closes the gates prev had that s does not keep: the tunnels that
// went through them end at once.
func (p *Plane) revoke(prev, s *snapshot) {
	for k, o := range prev.endpoints {
		if n := s.endpoints[k]; n == nil || n.gate != o.gate {
			if o.open() {
				p.log.Info("egress", "action", "cut", "endpoint", o.id.String(), "reason", cutReason(o, n))
			}
			close(o.gate)
		}
	}
	for k, o := range prev.targets {
		if n := s.targets[k]; n == nil || n.gate != o.gate {
			close(o.gate)
		}
	}
}

func cutReason(o, n *endpoint) string {
	switch {
	case n == nil:
		return "the managed private endpoint was deleted"
	case n.connection != o.connection:
		return "the connection is now " + n.connection
	}
	return "the endpoint's address or backend changed"
}

// applyListeners opens what s has and closes what it no longer has.
func (p *Plane) applyListeners(s *snapshot) {
	if p.public == nil {
		ln, err := listenPort(s.public, 443, p.cfg.MaxConns)
		if err != nil {
			p.log.Error("dataplane: public side", "addr", s.public, "err", err)
		} else {
			p.public = ln
			p.serve(ln, p.servePublic)
		}
	}
	for k, cn := range p.clusters {
		if c := s.clusters[k]; c == nil || c.gateway != cn.gateway {
			cn.close()
			delete(p.clusters, k)
		}
	}
	for k, c := range s.clusters {
		if _, ok := p.clusters[k]; ok || !c.gateway.IsValid() {
			continue
		}
		cn, err := p.openCluster(c)
		if err != nil {
			p.log.Error("dataplane: cluster network", "cluster", c.id.String(), "err", err)
			continue
		}
		p.clusters[k] = cn
	}
	for k, pn := range p.privates {
		if e := s.endpoints[k]; e == nil || e.addr != pn.addr {
			pn.ln.Close()
			delete(p.privates, k)
		}
	}
	for k, e := range s.endpoints {
		if _, ok := p.privates[k]; ok || !e.addr.IsValid() {
			continue
		}
		port := 443
		if t := s.targets[e.target]; t != nil {
			if h, ok := t.host(e.group); ok {
				port = h.Port
			}
		}
		ln, err := listenPort(e.addr, port, p.cfg.MaxConns)
		if err != nil {
			p.log.Error("dataplane: private address", "endpoint", e.id.String(), "addr", e.addr, "err", err)
			continue
		}
		key := k
		p.privates[k] = &privateNet{addr: e.addr, ln: ln}
		p.serve(ln, func(c net.Conn) { p.servePrivate(key, c) })
	}
}

// host returns the target's first name of sub-resource group.
func (t *target) host(group string) (Host, bool) {
	for _, h := range t.hosts {
		if strings.EqualFold(h.Group, group) {
			return h, true
		}
	}
	return Host{}, false
}

// openCluster starts a cluster's egress and DNS server on its gateway.
func (p *Plane) openCluster(c *cluster) (*clusterNet, error) {
	cn := &clusterNet{gateway: c.gateway}
	ln, err := listenPort(c.gateway, 1080, p.cfg.MaxConns)
	if err != nil {
		return nil, fmt.Errorf("egress: %w", err)
	}
	cn.egress = ln
	cn.proxy = &proxy.Proxy{Policy: &egress{p: p, cluster: c.key}, Log: p.log.With("egress", c.id.Name(), "cluster", c.id.String()), HandshakeTimeout: 30 * time.Second, DialTimeout: 5 * time.Second}
	p.serve(ln, cn.proxy.ServeConn)
	if err := p.startDNS(cn, c); err != nil {
		cn.close()
		return nil, fmt.Errorf("dns: %w", err)
	}
	return cn, nil
}

func (cn *clusterNet) close() {
	if cn.egress != nil {
		cn.egress.Close()
	}
	if cn.proxy != nil {
		cn.proxy.Close()
	}
	for _, s := range []*dns.Server{cn.dnsUDP, cn.dnsTCP} {
		if s != nil {
			_ = s.Shutdown()
		}
	}
}

// listenPort listens on addr:port, or on a port the kernel picks when that
// one is taken or privileged (port 443 needs root or
// net.ipv4.ip_unprivileged_port_start): the API says where it listens.
func listenPort(addr netip.Addr, port, max int) (*listener, error) {
	ln, err := listen(netip.AddrPortFrom(addr, uint16(port)).String(), max)
	if err != nil {
		ln, err = listen(netip.AddrPortFrom(addr, 0).String(), max)
	}
	return ln, err
}

func listen(addr string, max int) (*listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &listener{Listener: ln, sem: make(chan struct{}, max)}, nil
}

// serve accepts on ln until it is closed, each connection on its own
// goroutine; past the limit a connection is closed at once.
func (p *Plane) serve(ln *listener, handle func(net.Conn)) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		var delay time.Duration
		for {
			c, err := ln.Accept()
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					delay = min(max(2*delay, 5*time.Millisecond), time.Second)
					time.Sleep(delay)
					continue
				}
				return
			}
			delay = 0
			select {
			case ln.sem <- struct{}{}:
			default:
				p.log.Warn("dataplane: too many connections, refusing one", "listener", ln.Addr().String(), "max", cap(ln.sem))
				c.Close()
				continue
			}
			go func() {
				defer func() { <-ln.sem }()
				handle(c)
			}()
		}
	}()
}

// Close stops every listener and cuts every tunnel.
func (p *Plane) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	for _, cn := range p.clusters {
		cn.close()
	}
	for _, pn := range p.privates {
		pn.ln.Close()
	}
	for _, ln := range []*listener{p.public, p.resp} {
		if ln != nil {
			ln.Close()
		}
	}
	if p.respSrv != nil {
		p.respSrv.Close()
	}
	s := p.snap.Load()
	for _, e := range s.endpoints {
		close(e.gate)
	}
	for _, t := range s.targets {
		close(t.gate)
	}
	p.snap.Store(&snapshot{clusters: map[string]*cluster{}, endpoints: map[string]*endpoint{}, targets: map[string]*target{}, hosts: map[string]hostRef{}, addrs: map[netip.Addr]*endpoint{}})
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

// isTargetName reports whether name is a target's public or private name
// (the built-in responder's certificates cover those only).
func (p *Plane) isTargetName(name string) bool {
	_, ok := p.snap.Load().hosts[name]
	return ok
}
