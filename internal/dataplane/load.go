package dataplane

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/providers/kusto"
	"github.com/privlink/privlink/internal/resource"
	"github.com/privlink/privlink/internal/store"
)

// The data path's state is loaded on demand and bounded by configuration,
// not by what is stored: a cluster's state (the cluster, all its managed
// private endpoints and the targets they point at) is read when something
// first needs it (a DNS question or a connection at its egress, the
// network endpoints, a commit that touches it) and kept in a bounded set,
// least recently used first out, except while tunnels are open through it
// (pinned), so that a rejection still finds the gate to close. Targets
// named by a host name are read the same way, by name, and kept in a
// bounded set of their own.

// Defaults of the bounds (Config.MaxClusters, MaxTargets, MaxListeners).
const (
	DefaultMaxClusters  = 256
	DefaultMaxTargets   = 4096
	DefaultMaxListeners = 1024
)

// has reports whether state s holds cluster ck (unless "") and what the
// names resolve to (a target, or known to be none), marking them used.
// The caller holds smu, for reading at least.
func (p *Plane) has(s *snapshot, ck string, names []string) bool {
	tick := p.tick.Add(1)
	if ck != "" {
		if s.clusters[ck] == nil {
			return false
		}
		s.touch(ck, tick)
	}
	for _, n := range names {
		n = strings.TrimSuffix(strings.ToLower(n), ".")
		if _, err := netip.ParseAddr(n); err == nil || !underAzure(n) {
			continue // an address (of a loaded cluster) or no target's name
		}
		ref, ok := s.hosts[n]
		if !ok && !s.noName[n] {
			return false
		}
		if ok {
			s.touch(ref.target, tick)
		}
	}
	return true
}

// touch marks key used at tick.
func (s *snapshot) touch(key string, tick int64) {
	if u := s.used[key]; u != nil {
		u.Store(tick)
	}
}

// need loads what has finds missing: cluster ck's state and the targets
// names belong to. It must not be called while holding smu or mu.
func (p *Plane) need(ck string, names ...string) {
	_, done := p.needRead(ck, names...)
	done()
}

// needRead is need, then read: it returns the state locked for reading,
// holding what was needed. Errors are logged: the state then lacks them,
// and the caller answers as for something that does not exist (a later
// call tries again). What it loads is neither evicted by its own eviction
// nor by another caller's before the caller reads it (the read lock is
// taken before mu is let go, and eviction needs both), so that a bound
// smaller than the clusters in use at once, or open tunnels pinning every
// other cluster, cannot make it answer as if ck did not exist. It must not
// be called while holding smu or mu.
func (p *Plane) needRead(ck string, names ...string) (*snapshot, func()) {
	if p.cfg.Engine == nil {
		return p.read()
	}
	s, done := p.read()
	if p.has(s, ck, names) {
		return s, done
	}
	done()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.alloc == nil {
		return p.read()
	}
	s, done = p.read()
	ok := p.has(s, ck, names)
	done()
	if ok {
		return p.read() // mu held: nothing can be evicted meanwhile
	}
	s = p.st // read without smu: only mu's holders write it
	var changes []change
	var missing []string
	err := p.cfg.Engine.View(context.Background(), func(c *resource.Ctx) error {
		changes, missing = nil, nil
		if ck != "" && s.clusters[ck] == nil {
			chs, err := p.loadCluster(c, s, ck)
			if err != nil {
				return err
			}
			changes = append(changes, chs...)
		}
		for _, n := range names {
			n = strings.TrimSuffix(strings.ToLower(n), ".")
			if _, err := netip.ParseAddr(n); err == nil || !underAzure(n) || s.noName[n] {
				continue
			}
			if _, ok := s.hosts[n]; ok {
				continue
			}
			chs, err := lookupName(c, n)
			if err != nil {
				return err
			}
			if len(chs) == 0 {
				missing = append(missing, n)
			}
			changes = append(changes, chs...)
		}
		return nil
	})
	if err == nil {
		err = p.apply(context.Background(), changes)
	}
	if err != nil {
		p.log.Error("dataplane: loading state", "cluster", ck, "names", names, "err", err)
		return p.read()
	}
	if len(missing) > 0 {
		p.smu.Lock()
		if len(s.noName)+len(missing) > p.cfg.MaxTargets {
			clear(s.noName) // bounded: start again
		}
		for _, n := range missing {
			s.noName[n] = true
		}
		p.smu.Unlock()
	}
	keep := []string{ck}
	for _, n := range names {
		if ref, ok := s.hosts[strings.TrimSuffix(strings.ToLower(n), ".")]; ok {
			keep = append(keep, ref.target)
		}
	}
	p.evict(keep...)
	return p.read() // mu held: nothing can be evicted before the caller reads
}

// loadCluster reads cluster ck's state as changes: the cluster, its
// endpoints (and, for those the state holds that are no longer stored,
// their removal) and the targets they point at that the state lacks; and
// its endpoints' host numbers into the allocator. p.mu is held.
func (p *Plane) loadCluster(c *resource.Ctx, s *snapshot, ck string) ([]change, error) {
	d, err := c.LoadKey(ck)
	if resource.IsNotFound(err) {
		return []change{{key: ck}}, nil
	}
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(d.Kind.Type, kustoType) {
		return nil, nil
	}
	if err := p.alloc.loadCluster(c.Tx, ck); err != nil {
		return nil, err
	}
	out := []change{newChange(c, d)}
	out[0].asCluster = true
	eps, err := c.Children(d.ID, kusto.EndpointType)
	if err != nil {
		return nil, err
	}
	listed := map[string]bool{}
	targets := map[string]bool{}
	for _, e := range eps {
		ep := readEndpoint(e)
		out = append(out, change{key: ep.key, doc: e, ep: ep})
		listed[ep.key] = true
		if tk := ep.target; tk != "" && s.targets[tk] == nil && tk != ck {
			targets[tk] = true
		}
	}
	for ek := range s.byCluster[ck] {
		if !listed[ek] {
			out = append(out, change{key: ek})
		}
	}
	keys := make([]string, 0, len(targets))
	for tk := range targets {
		keys = append(keys, tk)
	}
	sort.Strings(keys)
	for _, tk := range keys {
		td, err := c.LoadKey(tk)
		switch {
		case resource.IsNotFound(err):
		case err != nil:
			return nil, err
		case isTargetType(td.Kind.Type):
			out = append(out, newChange(c, td))
		}
	}
	return out, nil
}

// nameTypes maps the DNS suffixes of the targets' names to their types.
var nameTypes = []struct{ suffix, typ string }{
	{".blob.core.windows.net", storageType}, {".dfs.core.windows.net", storageType},
	{".servicebus.windows.net", eventHubType}, {".azure-devices.net", iotHubType},
	{".vault.azure.net", vaultType}, {".vaultcore.azure.net", vaultType},
	{".database.windows.net", sqlType}, {".kusto.windows.net", kustoType},
	{".digitaltwins.azure.net", twinsType},
}

// nameScanPage is how many keys a name lookup reads per query.
const nameScanPage = 5000

// lookupName reads the targets whose public or private names include
// name. Every name's first label is its resource's name (Kusto's ingest
// name adds "ingest-"), so it scans the keys of the name's type (an index
// of keys, no documents, a page at a time) for that resource name, and
// reads only the matches. The store has no index by name; a lookup costs
// a scan of one type's keys, which the caches of loaded targets and of
// names that are none (both bounded) spare repeated questions.
func lookupName(c *resource.Ctx, name string) ([]change, error) {
	label, _, _ := strings.Cut(name, ".")
	cands := map[string]bool{"/" + label: true}
	if l, ok := strings.CutPrefix(label, "ingest-"); ok {
		cands["/"+l] = true
	}
	var out []change
	seen := map[string]bool{}
	for _, nt := range nameTypes {
		if !strings.HasSuffix(name, nt.suffix) || seen[nt.typ] {
			continue
		}
		seen[nt.typ] = true
		after := ""
		for {
			recs, err := c.Tx.List(store.Query{Type: nt.typ, KeysOnly: true, After: after, Limit: nameScanPage})
			if err != nil {
				return nil, err
			}
			for _, r := range recs {
				k := r.Key()
				if !cands[k[strings.LastIndexByte(k, '/'):]] {
					continue
				}
				d, err := c.LoadKey(k)
				if resource.IsNotFound(err) {
					continue
				}
				if err != nil {
					return nil, err
				}
				for _, h := range hostsOf(d) {
					if h.Name == name || h.Private == name {
						out = append(out, newChange(c, d))
						break
					}
				}
			}
			if len(recs) < nameScanPage {
				break
			}
			after = recs[len(recs)-1].Key()
		}
	}
	return out, nil
}

// evict drops the least recently used clusters' state past
// Config.MaxClusters and targets held for their names alone past
// Config.MaxTargets, except what open tunnels pin and keep (what the
// caller loaded to answer with: when everything else is pinned, it would
// otherwise be the one dropped). p.mu is held.
func (p *Plane) evict(keep ...string) {
	s := p.st
	overC := len(s.clusters) - p.cfg.MaxClusters
	overT := len(s.targets) - len(s.byTarget) - p.cfg.MaxTargets
	if overC <= 0 && overT <= 0 {
		return
	}
	p.smu.Lock()
	defer p.smu.Unlock()
	p.pins.Lock()
	defer p.pins.Unlock()
	used := func(k string) int64 {
		if u := s.used[k]; u != nil {
			return u.Load()
		}
		return 0
	}
	oldest := func(keys []string) []string {
		sort.Slice(keys, func(i, j int) bool { return used(keys[i]) < used(keys[j]) })
		return keys
	}
	if overC > 0 {
		var keys []string
		for k := range s.clusters {
			if p.pins.n[k] == 0 && !slices.Contains(keep, k) {
				keys = append(keys, k)
			}
		}
		for _, k := range oldest(keys)[:min(overC, len(keys))] {
			for ek := range s.byCluster[k] {
				s.dropEndpoint(ek)
			}
			delete(s.clusters, k)
			if s.targets[k] == nil {
				delete(s.used, k)
			}
			p.alloc.unloadCluster(k)
		}
	}
	if overT = len(s.targets) - len(s.byTarget) - p.cfg.MaxTargets; overT > 0 {
		var keys []string
		for k := range s.targets {
			if len(s.byTarget[k]) == 0 && p.pins.n[k] == 0 && !slices.Contains(keep, k) {
				keys = append(keys, k)
			}
		}
		for _, k := range oldest(keys)[:min(overT, len(keys))] {
			s.dropTarget(k)
			if s.clusters[k] == nil {
				delete(s.used, k)
			}
		}
	}
}

// pins counts the open tunnels through each cluster and target, which
// keep their state from being evicted (its gates must stay the ones that
// a change closes).
type pins struct {
	sync.Mutex
	n map[string]int
}

// pin pins keys until the returned function is called. The caller holds
// smu (for reading at least), so that eviction, which holds it for
// writing, sees the pin before it could drop what was just read.
func (p *Plane) pin(keys ...string) (unpin func()) {
	p.pins.Lock()
	for _, k := range keys {
		p.pins.n[k]++
	}
	p.pins.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			p.pins.Lock()
			for _, k := range keys {
				if p.pins.n[k]--; p.pins.n[k] <= 0 {
					delete(p.pins.n, k)
				}
			}
			p.pins.Unlock()
		})
	}
}

// pinnedConn unpins its keys when closed.
type pinnedConn struct {
	net.Conn
	unpin func()
}

func (c *pinnedConn) Close() error {
	c.unpin()
	return c.Conn.Close()
}

// warm loads clusters that have a managed network, in the order of their
// /24s, in the background after start, until the bounds of loaded
// clusters or listening endpoint addresses are reached: so that on a small
// installation every endpoint's address listens soon after a restart, as
// it did when everything was loaded at start, while a large one stops
// after a few.
func (p *Plane) warm() {
	defer p.wg.Done()
	p.mu.Lock()
	var keys []string
	if p.alloc != nil {
		idx := make([]int, 0, len(p.alloc.subnets))
		for i := range p.alloc.subnets {
			idx = append(idx, i)
		}
		sort.Ints(idx)
		for _, i := range idx {
			keys = append(keys, p.alloc.subnets[i])
		}
	}
	p.mu.Unlock()
	for n, k := range keys {
		select {
		case <-p.done:
			return
		default:
		}
		p.lmu.Lock()
		full := len(p.privates) >= p.cfg.MaxListeners
		p.lmu.Unlock()
		if full || n >= p.cfg.MaxClusters/2 {
			return
		}
		p.need(k)
	}
}

// needAddr loads the state of the cluster whose /24 holds a, if any.
func (p *Plane) needAddr(a netip.Addr) {
	if !p.cfg.Range.Contains(a) {
		return
	}
	p.mu.Lock()
	ck := ""
	if p.alloc != nil {
		for k, i := range p.alloc.subnetOf {
			if p.alloc.subnet(i).Contains(a) {
				ck = k
				break
			}
		}
	}
	p.mu.Unlock()
	if ck != "" {
		p.need(ck)
	}
}

// Usage is how much of its bounds the data path holds at one moment.
type Usage struct {
	// Clusters is the number of clusters whose state is loaded
	// (Config.MaxClusters, exceeded only by clusters open tunnels pin).
	Clusters int
	// Targets is the number of targets loaded for their names alone, not
	// pointed at by a loaded endpoint (Config.MaxTargets).
	Targets int
	// Names is the number of names known to be no target's (Config.MaxTargets).
	Names int
	// Listeners is the number of endpoint addresses listening (Config.MaxListeners).
	Listeners int
	// Pinned is the number of clusters and targets that open tunnels pin.
	Pinned int
}

// Usage reports how much of its bounds the data path holds, for tests and
// diagnostics.
func (p *Plane) Usage() Usage {
	s, done := p.read()
	u := Usage{Clusters: len(s.clusters), Names: len(s.noName)}
	for k := range s.targets {
		if len(s.byTarget[k]) == 0 {
			u.Targets++
		}
	}
	done()
	p.lmu.Lock()
	u.Listeners = len(p.privates)
	p.lmu.Unlock()
	p.pins.Lock()
	u.Pinned = len(p.pins.n)
	p.pins.Unlock()
	return u
}

// Loaded reports whether the state of the cluster with id is loaded (it
// is loaded again on demand when it is not).
func (p *Plane) Loaded(clusterID string) bool {
	s, done := p.read()
	defer done()
	return s.clusters[arm.KeyOf(clusterID)] != nil
}
