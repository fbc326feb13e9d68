package dataplane

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/privlink/privlink/internal/store"
)

// DefaultRange is the default range of private addresses: loopback
// addresses, which Linux routes to this host without any set-up or
// privilege.
var DefaultRange = netip.MustParsePrefix("127.77.0.0/16")

// CheckRange reports why r cannot hold managed networks, or nil: it must be
// IPv4 loopback (in 127.0.0.0/8, so that no privilege or interface set-up is
// needed) and at least a /23, since each cluster's managed network is a /24
// of it and the first /24 is privlink's public side.
func CheckRange(r netip.Prefix) error {
	if !r.IsValid() || !r.Addr().Is4() {
		return fmt.Errorf("private range %s: give an IPv4 prefix such as %s", r, DefaultRange)
	}
	if !r.Addr().IsLoopback() || r.Bits() < 8 {
		return fmt.Errorf("private range %s is not inside 127.0.0.0/8: privlink listens on these addresses on this host, which needs loopback addresses", r)
	}
	if r.Bits() > 23 {
		return fmt.Errorf("private range %s is too small: it needs at least a /23 (a /24 per cluster, plus one for the public side)", r)
	}
	return nil
}

// addrPrefix starts the store records that keep which /24 each cluster's
// managed network is and which address each endpoint has, so that they
// survive restarts: one record per cluster or endpoint, its key this prefix
// followed by the resource's key (out of ARM's reach, under /privlink/), so
// that a change writes one small record whatever the number of endpoints.
const addrPrefix = "/privlink/dataplane/addr"

// rangeKey is the record of the range the addresses were last given in
// (--private-range), so that a start with another one can say that they
// all moved.
const rangeKey = "/privlink/dataplane/range"

// storedRange is the range of the last start ("" before the first).
func storedRange(tx store.Tx) (string, error) {
	r, err := tx.Get(rangeKey)
	if err == store.ErrNotFound {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var v struct{ Range string }
	if err := json.Unmarshal(r.Body, &v); err != nil {
		return "", fmt.Errorf("dataplane: %s: %w", rangeKey, err)
	}
	return v.Range, nil
}

// storeRange records rng as the range of the addresses.
func storeRange(tx store.Tx, rng string) error {
	body, _ := json.Marshal(struct{ Range string }{rng})
	rec := &store.Record{ID: rangeKey, Type: AddressType, Body: body}
	if _, err := tx.Get(rangeKey); err == store.ErrNotFound {
		return tx.Create(rec)
	} else if err != nil {
		return err
	}
	return tx.Replace(rec)
}

// AddressType is the type of those records. They are read by key prefix
// only, never listed by parent or by type, so a store may keep them out of
// its indexes by parent and by type (store.ParentLister): with them in,
// every new endpoint's address wrote two more index entries at places
// scattered over those indexes, each a page of its own (2026-12-03).
const AddressType = "privlink.dataplane/address"

// First and last host numbers of an endpoint in its cluster's /24: Azure
// keeps the first four addresses of a subnet and the last for itself, and
// privlink's egress and DNS listen on .1.
const firstHost, lastHost = 4, 254

// allocator hands out the /24s and addresses, and remembers what it must
// write back. It keeps every cluster's /24 (a small index: the range holds
// at most 2^(24-bits) of them) but the endpoints' host numbers only of the
// clusters whose state is loaded (loadCluster), each from that cluster's
// own records, so that its memory does not grow with the endpoints stored.
type allocator struct {
	rng      netip.Prefix
	subnetOf map[string]int            // cluster key -> /24 index (the public side is 0)
	subnets  map[int]string            // index -> cluster key
	hostOf   map[string]int            // endpoint key -> host number (loaded clusters)
	hosts    map[string]map[int]string // loaded cluster key -> host number -> endpoint key
	pending  map[string]int            // resource key -> number to store (0: delete)
}

type addrRecord struct {
	N int `json:"n"`
}

func newAllocator(rng netip.Prefix) *allocator {
	return &allocator{rng: rng, subnetOf: map[string]int{}, subnets: map[int]string{}, hostOf: map[string]int{}, hosts: map[string]map[int]string{}, pending: map[string]int{}}
}

// isEndpointKey reports whether key is a managed private endpoint's.
func isEndpointKey(key string) bool { return strings.Contains(key, "/managedprivateendpoints/") }

// loadIndex reads the clusters' /24s: the records of clusters only, found
// by skipping from one cluster's key past its endpoints' records (which
// follow it in key order) to the next, so it reads one key per cluster,
// not the endpoints'. Numbers outside the range (after a change of
// --private-range) are forgotten, to be given again.
func (a *allocator) loadIndex(tx store.Tx) error {
	after := ""
	for {
		recs, err := tx.List(store.Query{Prefix: addrPrefix, After: after, Limit: 1})
		if err != nil || len(recs) == 0 {
			return err
		}
		r := recs[0]
		key := strings.TrimPrefix(r.Key(), addrPrefix)
		ck := key
		if isEndpointKey(key) {
			ck = store.ParentKey(key) // an endpoint whose cluster has no record
		} else {
			var v addrRecord
			if err := json.Unmarshal(r.Body, &v); err != nil {
				return fmt.Errorf("dataplane: %s: %w", r.ID, err)
			}
			if v.N <= 0 || v.N >= a.count() || a.subnets[v.N] != "" {
				a.pending[key] = 0
			} else {
				a.subnetOf[key], a.subnets[v.N] = v.N, key
			}
		}
		// Keys are lower-case ASCII: nothing below the cluster sorts after
		// its key + "/\x7f".
		after = addrPrefix + ck + "/\x7f"
	}
}

// loadCluster reads the host numbers of cluster ck's endpoints (a prefix
// query of its own records), unless they are loaded.
func (a *allocator) loadCluster(tx store.Tx, ck string) error {
	if a.hosts[ck] != nil {
		return nil
	}
	recs, err := tx.List(store.Query{Prefix: addrPrefix + ck})
	if err != nil {
		return err
	}
	used := map[int]string{}
	for _, r := range recs {
		key := strings.TrimPrefix(r.Key(), addrPrefix)
		if !isEndpointKey(key) || store.ParentKey(key) != ck {
			continue
		}
		var v addrRecord
		if err := json.Unmarshal(r.Body, &v); err != nil {
			return fmt.Errorf("dataplane: %s: %w", r.ID, err)
		}
		if v.N < firstHost || v.N > lastHost || used[v.N] != "" {
			a.pending[key] = 0
			continue
		}
		a.hostOf[key], used[v.N] = v.N, key
	}
	a.hosts[ck] = used
	return nil
}

// unloadCluster forgets the host numbers of cluster ck's endpoints (its
// state was evicted); loadCluster reads them again when needed.
func (a *allocator) unloadCluster(ck string) {
	for _, k := range a.hosts[ck] {
		delete(a.hostOf, k)
	}
	delete(a.hosts, ck)
}

func (a *allocator) count() int { return 1 << (24 - a.rng.Bits()) }

// subnet is the /24 of index i.
func (a *allocator) subnet(i int) netip.Prefix {
	b := a.rng.Masked().Addr().As4()
	n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n += uint32(i) << 8
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), 0}), 24)
}

// public is the public side's address.
func (a *allocator) public() netip.Addr { return host(a.subnet(0), 1) }

// host is address h of a /24.
func host(p netip.Prefix, h int) netip.Addr {
	b := p.Addr().As4()
	b[3] = byte(h)
	return netip.AddrFrom4(b)
}

// clusterNet gives cluster key its /24 (the one it had, else the first
// free one); ok is false when the range is full.
func (a *allocator) clusterNet(key string) (netip.Prefix, bool) {
	i, ok := a.subnetOf[key]
	if !ok {
		for i = 1; i < a.count() && a.subnets[i] != ""; i++ {
		}
		if i >= a.count() {
			return netip.Prefix{}, false
		}
		a.subnetOf[key], a.subnets[i], a.pending[key] = i, key, i
	}
	return a.subnet(i), true
}

// endpointAddr gives endpoint key of cluster ck its address in the
// cluster's /24: the one it had, else, when assign is set (it is
// provisioned), the first free one.
func (a *allocator) endpointAddr(ck, key string, assign bool) netip.Addr {
	i, ok := a.subnetOf[ck]
	if !ok {
		return netip.Addr{}
	}
	h, ok := a.hostOf[key]
	if !ok {
		if !assign || a.hosts[ck] == nil {
			return netip.Addr{}
		}
		used := a.hosts[ck] // loaded with the cluster's state (loadCluster)
		for h = firstHost; h <= lastHost && used[h] != ""; h++ {
		}
		if h > lastHost {
			return netip.Addr{}
		}
		a.hostOf[key], a.hosts[ck][h], a.pending[key] = h, key, h
	}
	return host(a.subnet(i), h)
}

// release forgets what key (a cluster or an endpoint) had.
func (a *allocator) release(key string) {
	if i, ok := a.subnetOf[key]; ok {
		delete(a.subnetOf, key)
		delete(a.subnets, i)
		a.pending[key] = 0
	}
	if h, ok := a.hostOf[key]; ok {
		ck := store.ParentKey(key)
		delete(a.hostOf, key)
		delete(a.hosts[ck], h)
		a.pending[key] = 0
	} else if isEndpointKey(key) && a.hosts[store.ParentKey(key)] == nil {
		// Its cluster's numbers are not loaded: delete its record, if any.
		a.pending[key] = 0
	}
}

// flush writes what changed since the last flush.
func (a *allocator) flush(tx store.Tx) error {
	for key, n := range a.pending {
		rk := addrPrefix + key
		_, err := tx.Get(rk)
		exists := err == nil
		if err != nil && err != store.ErrNotFound {
			return err
		}
		switch {
		case n == 0 && exists:
			err = tx.Delete(rk)
		case n == 0:
		case exists:
			body, _ := json.Marshal(addrRecord{N: n})
			err = tx.Replace(&store.Record{ID: rk, Type: AddressType, Body: body})
		default:
			body, _ := json.Marshal(addrRecord{N: n})
			err = tx.Create(&store.Record{ID: rk, Type: AddressType, Body: body})
		}
		if err != nil {
			return err
		}
	}
	return nil
}
