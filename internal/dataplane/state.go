package dataplane

import (
	"encoding/json"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/providers/privatelink"
	"github.com/privlink/privlink/internal/resource"
)

// snapshot is the data path's view of the stored state. Its maps change
// under Plane.smu (readers hold it for reading); the entities they hold are
// never changed once published: a change replaces them, so a pointer taken
// under the lock stays a consistent picture after it.
type snapshot struct {
	clusters  map[string]*cluster             // by cluster key
	endpoints map[string]*endpoint            // by endpoint key
	targets   map[string]*target              // by target key
	hosts     map[string]hostRef              // public and private names -> target
	addrs     map[netip.Addr]*endpoint        // private addresses
	byCluster map[string]map[string]*endpoint // cluster key -> its endpoints
	byTarget  map[string]map[string]*endpoint // target key -> endpoints to it
	public    netip.Addr                      // the public side's address

	// used holds when each loaded cluster and target was last used (a
	// Plane.tick), for eviction: readers store into it under the read lock.
	used map[string]*atomic.Int64
	// noName holds names below the targets' suffixes known to be no
	// target's (bounded; forgotten when a target changes).
	noName map[string]bool
}

func newSnapshot() *snapshot {
	return &snapshot{clusters: map[string]*cluster{}, endpoints: map[string]*endpoint{}, targets: map[string]*target{}, hosts: map[string]hostRef{},
		addrs: map[netip.Addr]*endpoint{}, byCluster: map[string]map[string]*endpoint{}, byTarget: map[string]map[string]*endpoint{},
		used: map[string]*atomic.Int64{}, noName: map[string]bool{}}
}

// use records key (a cluster or target just published) as used at tick.
func (s *snapshot) use(key string, tick int64) {
	u := s.used[key]
	if u == nil {
		u = new(atomic.Int64)
		s.used[key] = u
	}
	u.Store(tick)
}

// eps returns cluster ck's endpoints, in key order.
func (s *snapshot) eps(ck string) []*endpoint {
	m := s.byCluster[ck]
	out := make([]*endpoint, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// toTarget returns cluster ck's endpoints to target tk, in key order: what
// a decision looks at, without walking all of the cluster's endpoints.
func (s *snapshot) toTarget(ck, tk string) []*endpoint {
	var out []*endpoint
	for _, e := range s.byTarget[tk] {
		if e.cluster == ck {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

func (s *snapshot) putEndpoint(e *endpoint) {
	s.dropEndpoint(e.key)
	s.endpoints[e.key] = e
	for _, idx := range []struct {
		m map[string]map[string]*endpoint
		k string
	}{{s.byCluster, e.cluster}, {s.byTarget, e.target}} {
		if idx.m[idx.k] == nil {
			idx.m[idx.k] = map[string]*endpoint{}
		}
		idx.m[idx.k][e.key] = e
	}
	if e.addr.IsValid() {
		s.addrs[e.addr] = e
	}
}

func (s *snapshot) dropEndpoint(key string) {
	o := s.endpoints[key]
	if o == nil {
		return
	}
	delete(s.endpoints, key)
	delete(s.byCluster[o.cluster], key)
	if len(s.byCluster[o.cluster]) == 0 {
		delete(s.byCluster, o.cluster)
	}
	delete(s.byTarget[o.target], key)
	if len(s.byTarget[o.target]) == 0 {
		delete(s.byTarget, o.target)
	}
	if o.addr.IsValid() && s.addrs[o.addr] == o {
		delete(s.addrs, o.addr)
	}
}

func (s *snapshot) putTarget(t *target) {
	s.dropTarget(t.key)
	s.targets[t.key] = t
	for _, h := range t.hosts {
		s.hosts[h.Name] = hostRef{target: t.key, host: h}
		s.hosts[h.Private] = hostRef{target: t.key, host: h, private: true}
	}
}

func (s *snapshot) dropTarget(key string) {
	o := s.targets[key]
	if o == nil {
		return
	}
	delete(s.targets, key)
	for _, h := range o.hosts {
		for _, n := range []string{h.Name, h.Private} {
			if s.hosts[n].target == key {
				delete(s.hosts, n)
			}
		}
	}
}

type hostRef struct {
	target  string // target key
	host    Host
	private bool // the name is the privatelink one
}

type cluster struct {
	id       arm.ResourceID
	key      string
	identity bool // it has a managed identity (system- or user-assigned)
	subnet   netip.Prefix
	gateway  netip.Addr
}

type endpoint struct {
	id           arm.ResourceID
	key          string
	cluster      string // cluster key
	target       string // target key
	targetID     string
	group        string
	provisioning string
	connection   string // Pending, Approved, Rejected, Disconnected ("" before its connection)
	description  string
	addr         netip.Addr // zero until provisioned

	// gate is open (not closed) while traffic may use the endpoint; it is
	// closed when that ends, which cuts the tunnels through it.
	gate chan struct{}
}

// open reports whether traffic may pass through the endpoint.
func (e *endpoint) open() bool {
	return e.connection == privatelink.Approved && strings.EqualFold(e.provisioning, arm.StateSucceeded) && e.addr.IsValid()
}

type target struct {
	id           arm.ResourceID
	key          string
	typ          string // lower case
	hosts        []Host
	publicAccess string // publicNetworkAccess as stored ("" when unset: Enabled)
	defaultDeny  bool   // networkAcls.defaultAction Deny
	bypass       bool   // networkAcls.bypass includes AzureServices
	accessRules  []string
	backends     map[string]string // lower-case groupId -> host:port

	// gate is open while the public and trusted paths stay as they were.
	gate chan struct{}
	// sig is what gate depends on.
	sig string
}

// publicDisabled reports whether the target refuses traffic from the
// public network (publicNetworkAccess Disabled, or network rules that deny
// by default).
func (t *target) publicDisabled() bool {
	return strings.EqualFold(t.publicAccess, "Disabled") || t.defaultDeny
}

// trusts reports whether the target lets cluster c in as a trusted Azure
// service: Azure Storage and Event Hubs with networkAcls.bypass including
// AzureServices or a resource instance rule naming the cluster, for a
// cluster that has a managed identity (the seed's note on managed identities).
func (t *target) trusts(c *cluster) bool {
	if !c.identity || (t.typ != storageType && t.typ != eventHubType) {
		return false
	}
	return t.bypass || slices.Contains(t.accessRules, c.key)
}

// backendsExt is the target's Meta entry with its bound backends.
const backendsExt = "dataplane.backends"

// readEndpoint parses a managed private endpoint's record.
func readEndpoint(d *resource.Doc) *endpoint {
	e := &endpoint{id: d.ID, key: d.ID.Key(), cluster: d.ID.Parent().Key(), provisioning: d.State()}
	e.targetID, _, _ = d.Props().String("privateLinkResourceId")
	e.target = arm.KeyOf(e.targetID)
	e.group, _, _ = d.Props().String("groupId")
	if l, ok := privatelink.LinkOf(d); ok {
		e.connection, e.description = l.Status, l.Description
		if l.GroupID != "" {
			e.group = l.GroupID
		}
	}
	return e
}

// isTargetType reports whether typ (any case) is one the data path reads as a target.
func isTargetType(typ string) bool {
	for _, t := range targetTypes {
		if strings.EqualFold(t, typ) {
			return true
		}
	}
	return false
}

func readCluster(d *resource.Doc) *cluster {
	cl := &cluster{id: d.ID, key: d.ID.Key()}
	if id, err := d.Obj.Object("identity"); err == nil && id != nil {
		typ, _, _ := id.String("type")
		cl.identity = strings.Contains(strings.ToLower(typ), "assigned")
	}
	return cl
}

func readTarget(c *resource.Ctx, d *resource.Doc) *target {
	t := &target{id: d.ID, key: d.ID.Key(), typ: strings.ToLower(d.Kind.Type), hosts: hostsOf(d), backends: map[string]string{}}
	p := d.Props()
	t.publicAccess, _, _ = p.String("publicNetworkAccess")
	if acls, err := p.Object("networkAcls"); err == nil && acls != nil {
		def, _, _ := acls.String("defaultAction")
		t.defaultDeny = strings.EqualFold(def, "Deny")
		by, _, _ := acls.String("bypass")
		for _, b := range strings.Split(by, ",") {
			t.bypass = t.bypass || strings.EqualFold(strings.TrimSpace(b), "AzureServices")
		}
		if raw, ok := acls.Get("resourceAccessRules"); ok {
			var rules []struct {
				ResourceID string `json:"resourceId"`
			}
			_ = json.Unmarshal(raw, &rules)
			for _, r := range rules {
				t.accessRules = append(t.accessRules, arm.KeyOf(r.ResourceID))
			}
		}
	}
	if t.typ == eventHubType {
		// Event Hubs keeps its network rules in a child resource
		// (namespaces/networkRuleSets/default): trustedServiceAccessEnabled
		// is its "allow trusted Microsoft services".
		if rs, err := c.LoadKey(d.ID.Child("networkRuleSets", "default").Key()); err == nil {
			rp := rs.Props()
			if pna, ok, _ := rp.String("publicNetworkAccess"); ok && pna != "" {
				t.publicAccess = pna
			}
			def, _, _ := rp.String("defaultAction")
			t.defaultDeny = strings.EqualFold(def, "Deny")
			if raw, ok := rp.Get("trustedServiceAccessEnabled"); ok {
				var on bool
				_ = json.Unmarshal(raw, &on)
				t.bypass = on
			}
		}
	}
	var b map[string]string
	if d.Ext(backendsExt, &b) {
		for g, a := range b {
			t.backends[strings.ToLower(g)] = a
		}
	}
	keys := make([]string, 0, len(t.backends))
	for g, a := range t.backends {
		keys = append(keys, g+"="+a)
	}
	sort.Strings(keys)
	t.sig = strings.Join([]string{t.publicAccess, boolStr(t.defaultDeny), boolStr(t.bypass), strings.Join(t.accessRules, ","), strings.Join(keys, ",")}, "|")
	return t
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
