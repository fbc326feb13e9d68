package dataplane

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/privlink/privlink/internal/proxy"
	"github.com/privlink/privlink/internal/store"
)

// Paths a connection to a target can take, as the egress log and diagnose
// name them.
const (
	PathPrivate = "private endpoint"
	PathTrusted = "trusted service"
	PathPublic  = "public network"
)

// Verdict is the data path's decision for one destination from one
// cluster: the egress acts on it, and diagnose shows it.
type Verdict struct {
	// Allowed reports whether a connection may pass.
	Allowed bool `json:"allowed"`
	// Path is how it passes (PathPrivate, PathTrusted, PathPublic), or "".
	Path string `json:"path,omitempty"`
	// Via describes the path: the endpoint and its address, or the rule
	// that lets the cluster in.
	Via string `json:"via,omitempty"`
	// Reason says why a connection is refused (one line, for people).
	Reason string `json:"reason,omitempty"`
	// Target is the id of the target the name belongs to ("" for names
	// that are no target's).
	Target string `json:"target,omitempty"`
	// GroupID is the sub-resource the name belongs to.
	GroupID string `json:"groupId,omitempty"`
	// Endpoint is the id of the managed private endpoint that carries or
	// would carry the connection, if the cluster has one for the target.
	Endpoint string `json:"endpoint,omitempty"`
	// Backend is where an allowed connection goes: a bound service's
	// HOST:PORT, or "built-in responder".
	Backend string `json:"backend,omitempty"`

	ep    *endpoint
	tgt   *target
	host  Host
	code  byte // SOCKS5 reply code of a refusal
	other bool // the name is no target's
}

// Decide is the data path's decision for a connection from cluster (an
// id) to host:port, against the current state.
func (p *Plane) Decide(clusterID, host string, port int) Verdict {
	ck := strings.ToLower(clusterID)
	s, done := p.needRead(ck, host)
	defer done()
	return p.decide(s, ck, host, port)
}

func (p *Plane) decide(s *snapshot, ck, host string, port int) Verdict {
	c := s.clusters[ck]
	if c == nil {
		return Verdict{Reason: "privlink has no cluster " + ck + " (deleted?)", code: proxy.SOCKSNotAllowed}
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if a, err := netip.ParseAddr(host); err == nil {
		// A private address of this cluster stands for its endpoint's name.
		e := s.addrs[a]
		t := (*target)(nil)
		if e != nil {
			t = s.targets[e.target]
		}
		if e == nil || e.cluster != ck || t == nil {
			if c.subnet.Contains(a) || a == s.public {
				return Verdict{Reason: "no managed private endpoint of cluster " + c.id.Name() + " has the address " + host, code: proxy.SOCKSHostUnreachable}
			}
			return Verdict{Allowed: true, other: true}
		}
		h, _ := t.host(e.group)
		host = h.Name
	}
	ref, ok := s.hosts[host]
	if !ok {
		if underAzure(host) {
			return Verdict{Reason: "privlink has no target named " + host + ": no such resource exists (check the name, and that the resource was created in privlink)", code: proxy.SOCKSHostUnreachable}
		}
		return Verdict{Allowed: true, other: true}
	}
	t := s.targets[ref.target]
	h := ref.host
	v := Verdict{Target: t.id.String(), GroupID: h.Group, tgt: t, host: h}
	noun := typeNoun(t.typ) + " '" + t.id.Name() + "'"
	if port != h.Port {
		v.Reason = fmt.Sprintf("privlink carries %s on port %d only (the %s sub-resource of %s), not port %d", host, h.Port, h.Group, noun, port)
		v.code = proxy.SOCKSConnRefused
		return v
	}
	var exact, other *endpoint
	eps := s.toTarget(ck, t.key)
	for _, e := range eps {
		if strings.EqualFold(e.group, h.Group) {
			if exact == nil || e.open() {
				exact = e
			}
		} else if other == nil {
			other = e
		}
	}
	var why string
	switch {
	case exact != nil && exact.open():
		v.Endpoint, v.ep = exact.id.String(), exact
		if strings.EqualFold(h.Group, "dfs") && !hasOpen(eps, t, "blob") {
			why = "dfs without blob: the managed private endpoint '" + exact.id.Name() + "' to " + noun + " is for its dfs sub-resource, but dfs traffic also needs an approved managed private endpoint to its 'blob' sub-resource, which cluster " + c.id.Name() + " does not have"
			break
		}
		v.Allowed, v.Path, v.Via = true, PathPrivate, "managed private endpoint "+exact.id.Name()+" at "+exact.addr.String()
		v.Backend = p.backendName(t, h.Group)
		return v
	case exact != nil:
		v.Endpoint, v.ep = exact.id.String(), exact
		why = endpointWhy(exact, noun)
	case other != nil:
		v.Endpoint = other.id.String()
		why = fmt.Sprintf("wrong sub-resource: cluster %s's managed private endpoint '%s' to %s is for sub-resource '%s', and %s is its '%s' sub-resource; create a managed private endpoint with groupId '%s'", c.id.Name(), other.id.Name(), noun, other.group, host, h.Group, h.Group)
	default:
		why = "no endpoint: cluster " + c.id.Name() + " has no managed private endpoint to " + noun + " (groupId '" + h.Group + "')"
	}
	if t.trusts(c) {
		v.Allowed, v.Path = true, PathTrusted
		v.Via = "cluster " + c.id.Name() + "'s managed identity; "
		if t.bypass {
			v.Via += "networkAcls.bypass includes AzureServices"
		} else {
			v.Via += "a resource access rule names the cluster"
		}
		v.Backend = p.backendName(t, h.Group)
		v.ep = nil
		return v
	}
	if !t.publicDisabled() {
		v.Allowed, v.Path, v.Via = true, PathPublic, noun+" allows public network access ("+why+")"
		v.Backend = p.backendName(t, h.Group)
		v.ep = nil
		return v
	}
	v.Reason = why + "; and public network access is disabled on " + noun
	v.code = proxy.SOCKSNotAllowed
	return v
}

func hasOpen(eps []*endpoint, t *target, group string) bool {
	for _, e := range eps {
		if e.target == t.key && strings.EqualFold(e.group, group) && e.open() {
			return true
		}
	}
	return false
}

// endpointWhy says why an endpoint carries no traffic.
func endpointWhy(e *endpoint, noun string) string {
	name := "the managed private endpoint '" + e.id.Name() + "' to " + noun
	switch {
	case e.connection == "Pending":
		return "pending: " + name + " awaits approval by the owner of the target (privlink pec approve)"
	case e.connection == "Rejected":
		return "rejected: the owner of the target rejected " + name + withDesc(e.description)
	case e.connection == "Disconnected":
		return "disconnected: " + name + " lost its connection (the owner removed it, or the target was deleted)" + withDesc(e.description)
	case !strings.EqualFold(e.provisioning, "Succeeded"):
		return "provisioning: " + name + " is " + e.provisioning + ", not yet Succeeded"
	}
	return name + " has no private address yet"
}

func withDesc(d string) string {
	if d == "" {
		return ""
	}
	return " (\"" + d + "\")"
}

// backendName names where the target's sub-resource group is served.
func (p *Plane) backendName(t *target, group string) string {
	if a := t.backends[strings.ToLower(group)]; a != "" {
		return a
	}
	return "built-in responder"
}

// connect dials the backend of v's target: the bound service, or the
// built-in responder (HTTPS on 443 only). Its errors say which backend and
// why, wrapping the dial's error.
func (p *Plane) connect(ctx context.Context, v Verdict) (net.Conn, error) {
	t := v.tgt
	if a := t.backends[strings.ToLower(v.host.Group)]; a != "" {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", a)
		if err != nil {
			return nil, fmt.Errorf("the backend bound to the %s sub-resource of %s '%s' at %s does not answer (is it running? privlink backend set/remove changes it): %w", v.host.Group, typeNoun(t.typ), t.id.Name(), a, err)
		}
		return c, nil
	}
	if v.host.Port != 443 {
		return nil, fmt.Errorf("no backend is bound to the %s sub-resource of %s '%s', and privlink's built-in responder speaks HTTPS on port 443 only: bind one with privlink backend set --resource %s --group-id %s --to HOST:PORT", v.host.Group, typeNoun(t.typ), t.id.Name(), t.id.String(), v.host.Group)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", p.respAddr)
}

// egress is one cluster's proxy.Policy.
type egress struct {
	p       *Plane
	cluster string
}

// Decide lets a connection through on the path Decide finds, or refuses it
// with the reason; a tunnel through an endpoint ends when the endpoint's
// gate closes (rejection, removal, deletion), one on the public or trusted
// path when the target's network rules or backend change.
func (g *egress) Decide(ctx context.Context, r proxy.Request) proxy.Decision {
	s, done := g.p.needRead(g.cluster, r.Host)
	v := g.p.decide(s, g.cluster, r.Host, r.Port)
	done()
	switch {
	case !v.Allowed:
		return proxy.Decision{Action: proxy.Refuse, Reason: "privlink egress: " + v.Reason, Status: http.StatusForbidden, SOCKSCode: v.code}
	case v.other && g.p.cfg.Fallback != nil:
		d := g.p.cfg.Fallback.Decide(ctx, r)
		if d.Via == "" {
			d.Via = "not a target: as privlink's proxy does"
		}
		return d
	case v.other:
		return proxy.Decision{Action: proxy.Tunnel, Via: "direct (not a target)"}
	}
	gate := v.tgt.gate
	if v.ep != nil {
		gate = v.ep.gate
	}
	return proxy.Decision{Action: proxy.Tunnel, Via: v.Path + ": " + v.Via + " -> " + v.Backend, Revoked: gate,
		Dial: func(ctx context.Context) (net.Conn, error) {
			unpin, err := g.p.pinFor(g.cluster, v)
			if err != nil {
				return nil, err
			}
			c, err := g.p.connect(ctx, v)
			if err != nil {
				unpin()
				return nil, err
			}
			return &pinnedConn{Conn: c, unpin: unpin}, nil
		}}
}

// pinFor pins what v's tunnel passes through (cluster ck, v's target) for
// as long as the tunnel lasts, so that their state, whose gates end it,
// stays loaded. v's entities must still be in the state: one evicted
// between the decision and the dial (rare: it was just used) has no one
// to close its gate, so the dial fails instead.
func (p *Plane) pinFor(ck string, v Verdict) (func(), error) {
	s, done := p.read()
	defer done()
	cur := s.targets[v.tgt.key] != nil
	if v.ep != nil {
		cur = s.endpoints[v.ep.key] != nil
	}
	if !cur || s.clusters[ck] == nil {
		return nil, fmt.Errorf("the data path's state for %s changed while deciding; try again", v.tgt.id.String())
	}
	return p.pin(ck, v.tgt.key), nil
}

// servePrivate serves a connection to an endpoint's private address
// (reached directly, not through the egress): it is carried to the
// target's backend while the endpoint is approved, and closed otherwise.
func (p *Plane) servePrivate(key string, c net.Conn) {
	ck := store.ParentKey(key)
	s, done := p.needRead(ck)
	e := s.endpoints[key]
	var t *target
	if e != nil {
		t = s.targets[e.target]
	}
	pinned := []string{ck}
	if e != nil {
		pinned = append(pinned, e.target)
	}
	defer p.pin(pinned...)()
	done()
	if e == nil || !e.open() {
		reason := "the endpoint is gone"
		if e != nil {
			reason = endpointWhy(e, "its target")
		}
		p.log.Info("private address", "action", "refuse", "endpoint", key, "reason", reason, "client", c.RemoteAddr().String())
		c.Close()
		return
	}
	h, ok := Host{}, false
	if t != nil {
		h, ok = t.host(e.group)
	}
	if !ok {
		c.Close()
		return
	}
	v := Verdict{Allowed: true, tgt: t, host: h, ep: e}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	b, err := p.connect(ctx, v)
	cancel()
	if err != nil {
		p.log.Info("private address", "action", "refuse", "endpoint", e.id.String(), "reason", err.Error())
		c.Close()
		return
	}
	proxy.Join(c, b, e.gate)
}
