package dataplane

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"strings"

	"github.com/privlink/privlink/internal/arm"
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

// addrTableKey is the store record that keeps which /24 each cluster's
// managed network is and which address each endpoint has, so that they
// survive restarts. It lies under /privlink/, which no ARM path reaches.
const addrTableKey = "/privlink/dataplane/addresses"

// First and last host numbers of an endpoint in its cluster's /24: Azure
// keeps the first four addresses of a subnet and the last for itself, and
// privlink's egress and DNS listen on .1.
const firstHost, lastHost = 4, 254

// addrTable is the stored allocation: subnet index per cluster key (the
// public side is 0), host number per endpoint key.
type addrTable struct {
	Clusters  map[string]int `json:"clusters"`
	Endpoints map[string]int `json:"endpoints"`

	rng     netip.Prefix
	version int64
	changed bool
}

func newTable(rng netip.Prefix) *addrTable {
	return &addrTable{Clusters: map[string]int{}, Endpoints: map[string]int{}, rng: rng}
}

func readTable(tx store.Tx, rng netip.Prefix) (*addrTable, error) {
	t := newTable(rng)
	r, err := tx.Get(store.Key(addrTableKey))
	if err == store.ErrNotFound {
		return t, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(r.Body, t); err != nil {
		return nil, fmt.Errorf("dataplane: %s: %w", addrTableKey, err)
	}
	if t.Clusters == nil {
		t.Clusters = map[string]int{}
	}
	if t.Endpoints == nil {
		t.Endpoints = map[string]int{}
	}
	t.version = r.Version
	return t, nil
}

func (t *addrTable) clone() *addrTable {
	c := *t
	c.Clusters, c.Endpoints = maps.Clone(t.Clusters), maps.Clone(t.Endpoints)
	return &c
}

// write stores the table (Create or Replace).
func (t *addrTable) write(tx store.Tx) error {
	body, err := json.Marshal(t)
	if err != nil {
		return err
	}
	r := &store.Record{ID: addrTableKey, Type: "privlink.dataplane/addresses", Body: body}
	if _, err := tx.Get(store.Key(addrTableKey)); err == store.ErrNotFound {
		return tx.Create(r)
	} else if err != nil {
		return err
	}
	return tx.Replace(r)
}

func (t *addrTable) subnets() int { return 1 << (24 - t.rng.Bits()) }

// subnet is the /24 of index i.
func (t *addrTable) subnet(i int) netip.Prefix {
	b := t.rng.Masked().Addr().As4()
	n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n += uint32(i) << 8
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), 0}), 24)
}

// host is address h of a /24.
func host(p netip.Prefix, h int) netip.Addr {
	b := p.Addr().As4()
	b[3] = byte(h)
	return netip.AddrFrom4(b)
}

// assign gives s's clusters their /24 and its provisioned endpoints their
// address, keeping the ones already given, and forgets what s no longer
// has. It records in t.changed whether t must be written back.
func (t *addrTable) assign(s *snapshot) {
	s.public = host(t.subnet(0), 1)
	for k := range t.Clusters {
		if s.clusters[k] == nil || t.Clusters[k] <= 0 || t.Clusters[k] >= t.subnets() {
			delete(t.Clusters, k)
			t.changed = true
		}
	}
	used := map[int]bool{}
	for _, i := range t.Clusters {
		used[i] = true
	}
	for _, k := range sortedKeys(s.clusters) {
		c := s.clusters[k]
		i, ok := t.Clusters[k]
		if !ok {
			for i = 1; i < t.subnets() && used[i]; i++ {
			}
			if i >= t.subnets() {
				continue // out of /24s: the cluster has no managed network
			}
			t.Clusters[k], used[i], t.changed = i, true, true
		}
		c.subnet = t.subnet(i)
		c.gateway = host(c.subnet, 1)
	}
	for k := range t.Endpoints {
		e := s.endpoints[k]
		if e == nil || t.Endpoints[k] < firstHost || t.Endpoints[k] > lastHost {
			delete(t.Endpoints, k)
			t.changed = true
		}
	}
	for _, ck := range sortedKeys(s.clusters) {
		c := s.clusters[ck]
		if !c.subnet.IsValid() {
			continue
		}
		taken := map[int]bool{}
		for _, e := range c.eps {
			if h, ok := t.Endpoints[e.key]; ok {
				taken[h] = true
			}
		}
		for _, e := range c.eps {
			h, ok := t.Endpoints[e.key]
			if !ok {
				// An address once provisioned, as Azure gives the private
				// endpoint its NIC when it is created.
				if !strings.EqualFold(e.provisioning, arm.StateSucceeded) {
					continue
				}
				for h = firstHost; h <= lastHost && taken[h]; h++ {
				}
				if h > lastHost {
					continue
				}
				t.Endpoints[e.key], taken[h], t.changed = h, true, true
			}
			e.addr = host(c.subnet, h)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slicesSort(out)
	return out
}
