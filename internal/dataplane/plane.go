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
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/certs"
	"github.com/privlink/privlink/internal/providers/kusto"
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
	// MaxClusters bounds the clusters whose state (their endpoints and the
	// targets those point at) is kept loaded at once (default 256); the
	// least recently used without open tunnels is dropped past it.
	MaxClusters int
	// MaxTargets bounds the targets kept for their names alone, and the
	// names kept as no target's (default 4096 each).
	MaxTargets int
	// MaxListeners bounds the endpoint addresses listening at once
	// (default 1024; first come): an endpoint past it is reached through
	// its cluster's egress, and Network says so.
	MaxListeners int
	// Log receives the egress log (one line per decision, with the path
	// taken) and listener faults; nil discards.
	Log *slog.Logger
	// Delivered means the caller hands the plane the keys of every commit
	// (Changed) instead of Start registering with Engine.Watch: replicas
	// start and stop planes while serving (Watch is for start-up wiring),
	// and hand them other replicas' commits too.
	Delivered bool
}

// Plane is the running data path of one server.
type Plane struct {
	cfg Config
	log *slog.Logger

	smu sync.RWMutex // guards st's maps: readers RLock (read), refreshes Lock
	st  *snapshot

	mu sync.Mutex // serializes refreshes and the listeners
	// lmu guards the maps clusters and privates for readers (Network):
	// taken last and alone, never while waiting for mu or smu.
	lmu      sync.Mutex
	alloc    *allocator
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
	tick     atomic.Int64 // orders uses, for eviction
	pins     pins

	// batch gathers the keys of commits that happen while a refresh runs,
	// so that concurrent writers share one refresh instead of queueing on
	// mu one by one (each still returns only once its keys are applied).
	batch struct {
		sync.Mutex
		cond    *sync.Cond
		pending map[string]bool
		gen     uint64 // the batch now gathering keys
		done    uint64 // batches before this one are applied
		running bool
		full    bool // the next batch reads everything again (ChangedLater(nil))
	}
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
	if cfg.MaxClusters <= 0 {
		cfg.MaxClusters = DefaultMaxClusters
	}
	if cfg.MaxTargets <= 0 {
		cfg.MaxTargets = DefaultMaxTargets
	}
	if cfg.MaxListeners <= 0 {
		cfg.MaxListeners = DefaultMaxListeners
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Plane{cfg: cfg, log: log, clusters: map[string]*clusterNet{}, privates: map[string]*privateNet{},
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	p.batch.cond = sync.NewCond(&p.batch)
	p.batch.pending = map[string]bool{}
	p.pins.n = map[string]int{}
	p.st = newSnapshot()
	var err error
	if p.issuer, err = certs.NewIssuer(cfg.DataDir, cfg.Cert, p.isTargetName); err != nil {
		return nil, err
	}
	return p, nil
}

// Start opens the built-in responder, reads the clusters' /24s (a small
// index, bounded by the private range) and opens their egress and DNS
// listeners and the public side, and follows the engine's commits from
// then on. It reads no endpoint or target: the state is loaded on demand
// (load.go), and a goroutine loads the first clusters' in the background.
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
	if err := p.openNets(ctx); err != nil {
		return err
	}
	p.openPublic()
	if !p.cfg.Delivered {
		p.cfg.Engine.Watch(p.changed)
	}
	p.wg.Add(2)
	go p.retry()
	go p.warm()
	return nil
}

// openNets reads the clusters' /24s and opens their listeners: what a
// client dials exists for every cluster with a managed network, whether or
// not its state is loaded.
func (p *Plane) openNets(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := newAllocator(p.cfg.Range)
	var cls []*cluster
	var was string
	err := p.cfg.Engine.View(ctx, func(c *resource.Ctx) error {
		a, cls = newAllocator(p.cfg.Range), nil
		var err error
		if was, err = storedRange(c.Tx); err != nil {
			return err
		}
		if err := a.loadIndex(c.Tx); err != nil {
			return err
		}
		for k, i := range a.subnetOf {
			d, err := c.LoadKey(k)
			if resource.IsNotFound(err) {
				continue // gone meanwhile: its commit releases it
			}
			if err != nil {
				return err
			}
			cl := readCluster(d)
			cl.subnet = a.subnet(i)
			cl.gateway = host(cl.subnet, 1)
			cls = append(cls, cl)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(a.pending) > 0 {
		if err := p.cfg.Engine.Store().Update(ctx, a.flush); err != nil {
			return fmt.Errorf("dataplane: storing addresses: %w", err)
		}
		clear(a.pending)
	}
	if now := p.cfg.Range.String(); was != now {
		if err := p.cfg.Engine.Store().Update(ctx, func(tx store.Tx) error { return storeRange(tx, now) }); err != nil {
			return fmt.Errorf("dataplane: storing the private range: %w", err)
		}
		if was != "" {
			// The addresses are kept as /24 and host numbers within the
			// range, so they all move with it: say so, since the README
			// promises the same addresses after a restart.
			p.log.Warn("dataplane: the private range changed since the last start: every cluster's managed network and its endpoints' addresses moved into the new one (same /24 and host numbers)", "was", was, "now", now)
		}
	}
	p.alloc = a
	p.smu.Lock()
	p.st.public = a.public()
	p.smu.Unlock()
	for _, c := range cls {
		p.listenCluster(c)
	}
	return nil
}

// Changed applies the keys a commit of this process wrote
// (Config.Delivered) before returning, so that a change takes effect
// before its caller hears of it. Other replicas' commits go through
// ChangedLater.
func (p *Plane) Changed(keys []string) { p.changed(keys) }

// changed is the engine's commit hook: it refreshes at once when a commit
// touched what the data path reads (clusters, their endpoints, the targets
// and their connections).
func (p *Plane) changed(keys []string) {
	var mine []string
	for _, k := range keys {
		if relevant(k) {
			mine = append(mine, k)
		}
	}
	if len(mine) == 0 {
		return
	}
	b := &p.batch
	b.Lock()
	defer b.Unlock()
	for _, k := range mine {
		b.pending[k] = true
	}
	p.applyBy(b.gen)
}

// ChangedLater hands the plane the keys another replica's commit wrote
// (nil: everything may have changed) without waiting for them to be
// applied: no request of this process waits on that commit, and the
// commit feed must not wait on a refresh (which may itself write, through
// this process's writer, addresses for the new endpoints). The refresh
// runs on a goroutine of its own; Settle waits for it, so the data path's
// endpoints still answer with the change once the feed has delivered it.
func (p *Plane) ChangedLater(keys []string) {
	b := &p.batch
	b.Lock()
	if keys == nil {
		b.full = true
	}
	for _, k := range keys {
		if relevant(k) {
			b.pending[k] = true
		}
	}
	if len(b.pending) == 0 && !b.full {
		b.Unlock()
		return
	}
	my := b.gen
	b.Unlock()
	go func() {
		b.Lock()
		defer b.Unlock()
		p.applyBy(my)
	}()
}

// applyBy returns once batch number my is applied: the refresh that
// starts after the caller's keys joined pending. Whoever finds no refresh
// running runs the next one, for everyone's keys gathered so far. p.batch
// is locked.
func (p *Plane) applyBy(my uint64) {
	b := &p.batch
	for b.done <= my {
		if b.running {
			b.cond.Wait()
			continue
		}
		b.running = true
		keys := make([]string, 0, len(b.pending))
		for k := range b.pending {
			keys = append(keys, k)
		}
		if b.full {
			keys, b.full = nil, false // nil: read everything again
		}
		b.pending = map[string]bool{}
		g := b.gen
		b.gen++
		b.Unlock()
		err := p.update(context.Background(), keys)
		b.Lock()
		b.running = false
		b.done = g + 1
		b.cond.Broadcast()
		if err != nil {
			p.log.Error("dataplane: refresh", "err", err)
			p.dirty.Store(true)
			select {
			case p.wake <- struct{}{}:
			default:
			}
		}
	}
}

// Settle waits until the commits whose keys reached the plane are applied
// (a refresh running or keys waiting for one), so that a reader of the
// plane's state (the network and decide endpoints, hence diagnose) sees
// what a client that just saw the API's answer expects. A commit's keys
// reach the plane right after it commits, on the committing goroutine, so
// what remains unseen is that instant. Never call it from a refresh.
func (p *Plane) Settle() {
	b := &p.batch
	b.Lock()
	defer b.Unlock()
	var target uint64
	switch {
	case len(b.pending) > 0 || b.full:
		target = b.gen // the batch gathering now
	case b.running:
		target = b.gen - 1 // the batch being applied
	default:
		return
	}
	for b.done <= target {
		b.cond.Wait()
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
	if strings.HasPrefix(key, "/privlink/") || childType(key) == "privateendpointconnections" {
		// Nothing the data path serves is read from a connection: the
		// endpoint carries its connection's state, and a commit that
		// changes a connection's state writes the endpoint too.
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

// read locks the state for reading; call done when finished with the maps
// (entities taken from them stay valid after).
func (p *Plane) read() (s *snapshot, done func()) {
	p.smu.RLock()
	return p.st, p.smu.RUnlock
}

// Refresh reads the whole data path from the store again and applies it:
// start-up, and the retry after a failed update.
func (p *Plane) Refresh(ctx context.Context) error { return p.update(ctx, nil) }

// change is one resource read back after a commit: doc is nil when it is gone.
type change struct {
	key string
	doc *resource.Doc
	tgt *target // the target doc is, parsed in the same view
	// ep is doc parsed as a managed private endpoint (nil for other
	// types): parsed once, since update and apply both read it.
	ep *endpoint
	// asCluster: doc is a Kusto cluster read as a cluster (with its
	// endpoints), not only as a target.
	asCluster bool
}

// update applies the records of keys (nil: everything loaded) as they now
// are: entities replaced or removed, addresses given and stored, gates of
// what no longer may pass closed (cutting its tunnels), listeners opened
// and closed. Only what the state holds is read again, and the clusters a
// commit's endpoints or cluster keys name (loaded if they were not), so its
// cost is that of the keys, not of what is stored; keys of what is not
// loaded cost nothing (a target's key only forgets the names known to be
// none, since it may give one).
func (p *Plane) update(ctx context.Context, keys []string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.alloc == nil {
		return nil
	}
	s := p.st // read without smu: only mu's holders write it
	var changes []change
	forget := false
	err := p.cfg.Engine.View(ctx, func(c *resource.Ctx) error {
		changes, forget = nil, keys == nil
		seen := map[string]bool{}
		if keys == nil {
			for ck := range s.clusters {
				chs, err := p.loadCluster(c, s, ck)
				if err != nil {
					return err
				}
				changes = append(changes, chs...)
				seen[ck] = true
			}
			for tk := range s.targets {
				keys = append(keys, tk)
				seen["load "+tk] = true // a target's reading does not load its cluster
			}
		}
		for _, k := range keys {
			for _, rk := range []string{k, ownerKey(k)} {
				if rk == "" || seen[rk] || rk != k && childType(k) == "managedprivateendpoints" {
					// A cluster's state is read from the cluster alone:
					// an endpoint's change leaves it as it is.
					continue
				}
				seen[rk] = true
				ck := ""
				switch {
				case isEndpointKey(rk):
					ck = store.ParentKey(rk)
				case strings.Contains(rk, "/providers/"+kustoType+"/") && ownerKey(rk) == rk:
					ck = rk
				}
				if ck != "" && s.clusters[ck] == nil && !seen["load "+ck] {
					// A commit that touches a cluster loads it: its
					// endpoints get their addresses as they are provisioned.
					seen["load "+ck] = true
					chs, err := p.loadCluster(c, s, ck)
					if err != nil {
						return err
					}
					changes = append(changes, chs...)
				}
				if !isEndpointKey(rk) && ck == "" {
					forget = forget || strings.Contains(rk, "/providers/")
					if s.targets[rk] == nil && len(s.byTarget[rk]) == 0 {
						continue // not loaded: nothing holds it
					}
				}
				d, err := c.LoadKey(rk)
				switch {
				case resource.IsNotFound(err):
					changes = append(changes, change{key: rk})
				case err != nil:
					return err
				case isTargetType(d.Kind.Type) || strings.EqualFold(d.Kind.Type, kusto.EndpointType):
					ch := newChange(c, d)
					ch.asCluster = ck == rk
					changes = append(changes, ch)
				}
			}
		}
		// The targets of the endpoints read, that the state lacks.
		var more []change
		for _, ch := range changes {
			if ch.ep == nil {
				continue
			}
			tk := ch.ep.target
			if tk == "" || s.targets[tk] != nil || seen[tk] {
				continue
			}
			seen[tk] = true
			d, err := c.LoadKey(tk)
			switch {
			case resource.IsNotFound(err):
			case err != nil:
				return err
			case isTargetType(d.Kind.Type):
				more = append(more, newChange(c, d))
			}
		}
		changes = append(changes, more...)
		return nil
	})
	if err != nil {
		return err
	}
	if forget {
		p.smu.Lock()
		clear(s.noName)
		p.smu.Unlock()
	}
	if err := p.apply(ctx, changes); err != nil {
		return err
	}
	p.evict()
	return nil
}

func newChange(c *resource.Ctx, d *resource.Doc) change {
	ch := change{key: d.ID.Key(), doc: d}
	if isTargetType(d.Kind.Type) {
		ch.tgt = readTarget(c, d)
	} else if strings.EqualFold(d.Kind.Type, kusto.EndpointType) {
		ch.ep = readEndpoint(d)
	}
	return ch
}

// childType is the last type segment of a child resource's key
// (".../providers/ns/type/name/childtype/childname" -> "childtype"), or ""
// for a top-level resource or a key that names no resource.
func childType(key string) string {
	i := strings.Index(key, "/providers/")
	if i < 0 {
		return ""
	}
	rest := key[i+len("/providers/"):]
	if strings.Count(rest, "/") < 4 {
		return ""
	}
	j := strings.LastIndexByte(rest, '/')
	return rest[strings.LastIndexByte(rest[:j], '/')+1 : j]
}

// ownerKey is the key of the top-level resource that key lies in or is
// ("/subscriptions/s/resourcegroups/g/providers/ns/type/name"), or "".
func ownerKey(key string) string {
	i := strings.Index(key, "/providers/")
	if i < 0 {
		return ""
	}
	rest := strings.Split(key[i+len("/providers/"):], "/")
	if len(rest) < 3 {
		return ""
	}
	return key[:i] + "/providers/" + strings.Join(rest[:3], "/")
}

// apply publishes changes (see update).
func (p *Plane) apply(ctx context.Context, changes []change) error {
	a := p.alloc
	s := p.st // read without smu: only apply (under mu) writes it
	var clusters []*cluster
	newTargets := map[string]*target{}
	newClusters := map[string]*cluster{}
	newEndpoints := map[string]*endpoint{}
	gone := map[string]bool{}
	for _, ch := range changes {
		if ch.doc == nil {
			gone[ch.key] = true
			continue
		}
		if ch.ep != nil {
			newEndpoints[ch.key] = ch.ep
			continue
		}
		typ := strings.ToLower(ch.doc.Kind.Type)
		newTargets[ch.key] = ch.tgt
		if typ == kustoType && ch.asCluster {
			newClusters[ch.key] = readCluster(ch.doc)
		}
	}
	// A cluster that goes takes its endpoints along (the cascade lists
	// them too; this is for certainty).
	for k := range gone {
		for ek := range s.byCluster[k] {
			if newEndpoints[ek] == nil {
				gone[ek] = true
			}
		}
	}
	// Addresses: clusters first, then their endpoints.
	for k, c := range newClusters {
		if sub, ok := a.clusterNet(k); ok {
			c.subnet, c.gateway = sub, host(sub, 1)
		} else {
			p.log.Error("dataplane: the private range is full: cluster has no managed network", "cluster", c.id.String(), "range", p.cfg.Range.String())
		}
		clusters = append(clusters, c)
	}
	for k, e := range newEndpoints {
		if newClusters[e.cluster] == nil && s.clusters[e.cluster] == nil {
			delete(newEndpoints, k) // its cluster is gone
			gone[k] = true
			continue
		}
		e.addr = a.endpointAddr(e.cluster, k, strings.EqualFold(e.provisioning, arm.StateSucceeded))
	}
	for k := range gone {
		if newEndpoints[k] == nil && newClusters[k] == nil {
			a.release(k)
		}
	}
	if len(a.pending) > 0 {
		if err := p.cfg.Engine.Store().Update(ctx, a.flush); err != nil {
			return fmt.Errorf("dataplane: storing addresses: %w", err)
		}
		clear(a.pending)
	}

	// Gates: what may go on as before keeps its gate.
	var closing []chan struct{}
	var cut []*endpoint
	for k, t := range newTargets {
		if o := s.targets[k]; o != nil && o.sig == t.sig {
			t.gate = o.gate
		} else {
			t.gate = make(chan struct{})
			if o != nil {
				closing = append(closing, o.gate)
			}
		}
	}
	target := func(k string) *target {
		if t := newTargets[k]; t != nil {
			return t
		}
		if gone[k] {
			return nil
		}
		return s.targets[k]
	}
	// Endpoints to a changed target are looked at again (their backend may
	// have changed).
	for tk, t := range newTargets {
		if o := s.targets[tk]; o != nil && o.sig == t.sig {
			continue // same backends and rules: its endpoints' traffic is as it was
		}
		for ek, e := range s.byTarget[tk] {
			if newEndpoints[ek] == nil && !gone[ek] {
				cp := *e
				newEndpoints[ek] = &cp
			}
		}
	}
	for tk := range gone {
		for ek, e := range s.byTarget[tk] {
			if newEndpoints[ek] == nil && !gone[ek] {
				cp := *e
				newEndpoints[ek] = &cp
			}
		}
	}
	for k, e := range newEndpoints {
		o := s.endpoints[k]
		if o != nil && o.open() && e.open() && o.addr == e.addr && sameBackend(s.targets[e.target], target(e.target), e.group) {
			e.gate = o.gate
			continue
		}
		e.gate = make(chan struct{})
		if o != nil {
			closing = append(closing, o.gate)
			if o.open() {
				cut = append(cut, o)
			}
		}
	}
	for k := range gone {
		if o := s.endpoints[k]; o != nil && newEndpoints[k] == nil {
			closing = append(closing, o.gate)
			if o.open() {
				p.log.Info("egress", "action", "cut", "endpoint", o.id.String(), "reason", "the managed private endpoint was deleted")
			}
		}
		if o := s.targets[k]; o != nil && newTargets[k] == nil {
			closing = append(closing, o.gate)
		}
	}
	for _, o := range cut {
		p.log.Info("egress", "action", "cut", "endpoint", o.id.String(), "reason", cutReason(o, newEndpoints[o.key]))
	}

	// Publish.
	p.smu.Lock()
	s.public = a.public()
	for k := range gone {
		if newEndpoints[k] == nil {
			s.dropEndpoint(k)
		}
		if newTargets[k] == nil {
			s.dropTarget(k)
		}
		if newClusters[k] == nil {
			delete(s.clusters, k)
		}
		if s.clusters[k] == nil && s.targets[k] == nil {
			delete(s.used, k)
		}
	}
	tick := p.tick.Add(1)
	for _, t := range newTargets {
		s.putTarget(t)
		s.use(t.key, tick)
	}
	for _, c := range clusters {
		s.clusters[c.key] = c
		s.use(c.key, tick)
	}
	for _, e := range newEndpoints {
		s.putEndpoint(e)
	}
	p.smu.Unlock()
	for _, g := range closing {
		close(g)
	}

	// Listeners of what changed.
	closed := 0 // private addresses that stopped listening
	for k := range gone {
		if cn := p.clusters[k]; cn != nil && newClusters[k] == nil {
			cn.close()
			p.lmu.Lock()
			delete(p.clusters, k)
			p.lmu.Unlock()
		}
		if pn := p.privates[k]; pn != nil && newEndpoints[k] == nil {
			pn.ln.Close()
			p.lmu.Lock()
			delete(p.privates, k)
			p.lmu.Unlock()
			closed++
		}
	}
	for _, c := range clusters {
		if cn := p.clusters[c.key]; cn != nil {
			if cn.gateway == c.gateway {
				continue
			}
			cn.close()
			p.lmu.Lock()
			delete(p.clusters, c.key)
			p.lmu.Unlock()
		}
		if !c.gateway.IsValid() {
			continue
		}
		p.listenCluster(c)
	}
	for k, e := range newEndpoints {
		if pn := p.privates[k]; pn != nil {
			if pn.addr == e.addr {
				continue
			}
			pn.ln.Close()
			p.lmu.Lock()
			delete(p.privates, k)
			p.lmu.Unlock()
			closed++
		}
		p.openPrivate(e, target(e.target))
	}
	if closed > 0 {
		// Places freed under Config.MaxListeners go to the loaded
		// endpoints that found none (first come: in key order), which
		// would otherwise wait for a change of their own.
		var waiting []*endpoint
		p.lmu.Lock()
		free := p.cfg.MaxListeners - len(p.privates)
		for k, e := range s.endpoints {
			if free > 0 && e.addr.IsValid() && p.privates[k] == nil {
				waiting = append(waiting, e)
			}
		}
		p.lmu.Unlock()
		sort.Slice(waiting, func(i, j int) bool { return waiting[i].key < waiting[j].key })
		for _, e := range waiting {
			if !p.openPrivate(e, s.targets[e.target]) {
				break
			}
		}
	}
	return nil
}

// openPrivate opens endpoint e's private address (t is its target, if
// loaded), unless it has none or Config.MaxListeners are listening; it
// reports whether there was room. p.mu is held.
func (p *Plane) openPrivate(e *endpoint, t *target) bool {
	if !e.addr.IsValid() {
		return true
	}
	p.lmu.Lock()
	full := len(p.privates) >= p.cfg.MaxListeners
	p.lmu.Unlock()
	if full {
		return false // reached through its cluster's egress; Network says why not here
	}
	port := 443
	if t != nil {
		if h, ok := t.host(e.group); ok {
			port = h.Port
		}
	}
	ln, err := p.listenPort(e.addr, port, p.cfg.MaxConns)
	if err != nil {
		p.log.Error("dataplane: private address", "endpoint", e.id.String(), "addr", e.addr, "err", err)
		return true
	}
	key := e.key
	p.lmu.Lock()
	p.privates[key] = &privateNet{addr: e.addr, ln: ln}
	p.lmu.Unlock()
	p.serve(ln, func(c net.Conn) { p.servePrivate(key, c) })
	return true
}

func sameBackend(o, n *target, group string) bool {
	if o == nil || n == nil {
		return false
	}
	g := strings.ToLower(group)
	return o.backends[g] == n.backends[g]
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

// openPublic opens the public side.
func (p *Plane) openPublic() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.public != nil || p.alloc == nil {
		return
	}
	ln, err := p.listenPort(p.alloc.public(), 443, p.cfg.MaxConns)
	if err != nil {
		p.log.Error("dataplane: public side", "addr", p.alloc.public(), "err", err)
		return
	}
	p.lmu.Lock()
	p.public = ln
	p.lmu.Unlock()
	p.serve(ln, p.servePublic)
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

// listenCluster opens c's egress and DNS server and records them; a
// failure is logged (the cluster then has no network until its next change).
func (p *Plane) listenCluster(c *cluster) {
	cn, err := p.openCluster(c)
	if err != nil {
		p.log.Error("dataplane: cluster network", "cluster", c.id.String(), "err", err)
		return
	}
	p.lmu.Lock()
	p.clusters[c.key] = cn
	p.lmu.Unlock()
}

// openCluster starts a cluster's egress and DNS server on its gateway.
func (p *Plane) openCluster(c *cluster) (*clusterNet, error) {
	cn := &clusterNet{gateway: c.gateway}
	ln, err := p.listenPort(c.gateway, 1080, p.cfg.MaxConns)
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
// A port taken is worth a warning: the private range is this process's
// alone, so another process holds its address, most likely another
// privlink started with the same --private-range, and the two answer
// for each other's endpoints' addresses only on the ports they got.
func (p *Plane) listenPort(addr netip.Addr, port, max int) (*listener, error) {
	ln, err := listen(netip.AddrPortFrom(addr, uint16(port)).String(), max)
	if err != nil {
		inUse := errors.Is(err, syscall.EADDRINUSE)
		ln, err = listen(netip.AddrPortFrom(addr, 0).String(), max)
		if inUse && err == nil {
			p.log.Warn("dataplane: the address is in use by another process (another privlink with the same --private-range? give each its own): listening on a port the kernel picked instead",
				"addr", netip.AddrPortFrom(addr, uint16(port)).String(), "listening", ln.Addr().String())
		}
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
	p.smu.Lock()
	for _, e := range p.st.endpoints {
		close(e.gate)
	}
	for _, t := range p.st.targets {
		close(t.gate)
	}
	p.st = newSnapshot()
	p.smu.Unlock()
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

// isTargetName reports whether name is a target's public or private name
// (the built-in responder's certificates cover those only).
func (p *Plane) isTargetName(name string) bool {
	s, done := p.needRead("", name)
	defer done()
	_, ok := s.hosts[name]
	return ok
}
