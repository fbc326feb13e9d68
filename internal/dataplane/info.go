package dataplane

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/resource"
)

// ClusterNetwork is a cluster's managed network as GET
// /_privlink/network?cluster=ID shows it.
type ClusterNetwork struct {
	// Cluster is the cluster's resource id.
	Cluster string `json:"cluster"`
	// Subnet is the cluster's /24 of the private range.
	Subnet string `json:"subnet"`
	// Egress is the HOST:PORT of the cluster's egress: an HTTP proxy
	// (CONNECT, and absolute http:// requests) and a SOCKS5 proxy on one port.
	Egress string `json:"egress"`
	// DNS is the HOST:PORT (UDP and TCP) of the cluster's DNS server.
	DNS string `json:"dns"`
	// PublicAddress is the address of privlink's public side, where
	// public names resolve.
	PublicAddress string `json:"publicAddress"`
	// PublicListen is the HOST:PORT where the public side listens (port
	// 443, or one the kernel picked).
	PublicListen string `json:"publicListen,omitempty"`
	// Endpoints are the cluster's managed private endpoints.
	Endpoints []EndpointNetwork `json:"endpoints"`
}

// EndpointNetwork is one managed private endpoint's network details. The
// Kusto API has no such property (its managedPrivateEndpoints schema is
// privateLinkResourceId, groupId, privateLinkResourceRegion,
// requestMessage and provisioningState), so privlink serves them at
// /_privlink/network instead of adding to the ARM document; they are in the
// shape of a Microsoft.Network private endpoint's customDnsConfigs.
type EndpointNetwork struct {
	ID                string `json:"id"`
	GroupID           string `json:"groupId"`
	Target            string `json:"privateLinkResourceId"`
	ProvisioningState string `json:"provisioningState"`
	ConnectionState   string `json:"connectionState,omitempty"`
	// PrivateAddress is the endpoint's address ("" until provisioned).
	PrivateAddress string `json:"privateIPAddress,omitempty"`
	// Listen is the HOST:PORT where the private address really listens
	// (the target's port, or one the kernel picked when that was not
	// available to privlink, e.g. 443 without privileges).
	Listen string `json:"listen,omitempty"`
	// NotListening says why the private address does not listen (Listen
	// is ""): privlink listens on a bounded number of endpoint addresses
	// (dataplane.Config.MaxListeners); the cluster's egress still carries
	// the endpoint's traffic.
	NotListening string `json:"notListening,omitempty"`
	// CustomDNSConfigs are the names the endpoint answers for with its
	// address, as a private endpoint's properties.customDnsConfigs.
	CustomDNSConfigs []DNSConfig `json:"customDnsConfigs"`
}

// DNSConfig is one entry of customDnsConfigs.
type DNSConfig struct {
	FQDN        string   `json:"fqdn"`
	IPAddresses []string `json:"ipAddresses"`
}

// Network returns a cluster's managed network; the error is the API's
// ResourceNotFound for a cluster privlink does not have.
func (p *Plane) Network(clusterID arm.ResourceID) (*ClusterNetwork, error) {
	s, done := p.needRead(clusterID.Key())
	defer done()
	c := s.clusters[clusterID.Key()]
	if c == nil {
		return nil, arm.Errorf(arm.CodeResourceNotFound, "The Resource 'Microsoft.Kusto/clusters/%s' under resource group '%s' was not found.", clusterID.Name(), clusterID.ResourceGroup)
	}
	out := &ClusterNetwork{Cluster: c.id.String(), PublicAddress: s.public.String(), Endpoints: []EndpointNetwork{}}
	if c.subnet.IsValid() {
		out.Subnet = c.subnet.String()
	}
	p.lmu.Lock()
	if cn := p.clusters[c.key]; cn != nil {
		out.Egress = cn.egress.Addr().String()
		out.DNS = cn.dnsAddr
	}
	if p.public != nil {
		out.PublicListen = p.public.Addr().String()
	}
	p.lmu.Unlock()
	for _, e := range s.eps(c.key) {
		out.Endpoints = append(out.Endpoints, p.endpointNetwork(s, e))
	}
	return out, nil
}

// EndpointNetworkOf returns one endpoint's network details.
func (p *Plane) EndpointNetworkOf(id arm.ResourceID) (*EndpointNetwork, error) {
	s, done := p.needRead(id.Parent().Key())
	defer done()
	e := s.endpoints[id.Key()]
	if e == nil {
		return nil, arm.Errorf(arm.CodeResourceNotFound, "The managed private endpoint '%s' was not found.", id.String())
	}
	n := p.endpointNetwork(s, e)
	return &n, nil
}

func (p *Plane) endpointNetwork(s *snapshot, e *endpoint) EndpointNetwork {
	n := EndpointNetwork{ID: e.id.String(), GroupID: e.group, Target: e.targetID, ProvisioningState: e.provisioning, ConnectionState: e.connection, CustomDNSConfigs: []DNSConfig{}}
	if !e.addr.IsValid() {
		return n
	}
	n.PrivateAddress = e.addr.String()
	p.lmu.Lock()
	if pn := p.privates[e.key]; pn != nil {
		n.Listen = pn.ln.Addr().String()
	} else if len(p.privates) >= p.cfg.MaxListeners {
		n.NotListening = fmt.Sprintf("privlink listens on at most %d endpoint addresses at once, and that many are listening: reach this endpoint through its cluster's egress", p.cfg.MaxListeners)
	} else {
		n.NotListening = "its address could not be listened on (see privlink's log)"
	}
	p.lmu.Unlock()
	if t := s.targets[e.target]; t != nil {
		for _, h := range t.hosts {
			if strings.EqualFold(h.Group, e.group) {
				n.CustomDNSConfigs = append(n.CustomDNSConfigs, DNSConfig{FQDN: h.Name, IPAddresses: []string{e.addr.String()}})
			}
		}
	}
	return n
}

// Backends returns the services bound to a target's sub-resources
// (groupId -> HOST:PORT).
func (p *Plane) Backends(ctx context.Context, target arm.ResourceID) (map[string]string, error) {
	var out map[string]string
	err := p.cfg.Engine.View(ctx, func(c *resource.Ctx) error {
		d, err := p.loadTarget(c, target)
		if err != nil {
			return err
		}
		out = map[string]string{}
		d.Ext(backendsExt, &out)
		return nil
	})
	return out, err
}

// SetBackend binds the sub-resource group of target to the service at
// addr (HOST:PORT), or removes the binding when addr is "". The binding is
// kept with the target (it goes when the target goes) and takes effect at
// once: tunnels to the old backend are cut. Errors are ARM errors:
// ResourceNotFound, InvalidGroupId, BadRequest (addr).
func (p *Plane) SetBackend(ctx context.Context, target arm.ResourceID, group, addr string) error {
	if addr != "" {
		h, port, err := net.SplitHostPort(addr)
		if err != nil || h == "" || port == "" || port == "0" {
			return arm.Errorf(arm.CodeBadRequest, "The backend address '%s' is not HOST:PORT (for example 127.0.0.1:10000).", addr)
		}
		private := false
		if a, err := netip.ParseAddr(h); err == nil {
			p.needAddr(a)
			s, done := p.read()
			_, private = s.addrs[a]
			done()
		}
		if private {
			return arm.Errorf(arm.CodeBadRequest, "The backend address '%s' is a private endpoint's address; bind the real service's address.", addr)
		}
	}
	return p.cfg.Engine.Update(ctx, func(c *resource.Ctx) error {
		d, err := p.loadTarget(c, target)
		if err != nil {
			return err
		}
		var groups []string
		for _, h := range hostsOf(d) {
			if strings.EqualFold(h.Group, group) {
				group = h.Group
				groups = nil
				break
			}
			groups = append(groups, "'"+h.Group+"'")
		}
		if groups != nil {
			return arm.Errorf("InvalidGroupId", "The groupId '%s' is not a sub-resource privlink carries for %s; use one of: %s.", group, d.ID.String(), strings.Join(groups, ", "))
		}
		b := map[string]string{}
		d.Ext(backendsExt, &b)
		for k := range b {
			if strings.EqualFold(k, group) {
				delete(b, k)
			}
		}
		if addr != "" {
			b[group] = addr
		}
		if len(b) == 0 {
			d.SetExt(backendsExt, nil)
		} else {
			d.SetExt(backendsExt, b)
		}
		return c.Save(d)
	})
}

func (p *Plane) loadTarget(c *resource.Ctx, id arm.ResourceID) (*resource.Doc, error) {
	d, err := c.LoadKey(id.Key())
	if resource.IsNotFound(err) {
		return nil, c.NotFound(id)
	}
	if err != nil {
		return nil, err
	}
	if len(hostsOf(d)) == 0 {
		return nil, arm.Errorf(arm.CodeBadRequest, "privlink carries no traffic to resources of type '%s'.", d.Kind.Type)
	}
	return d, nil
}
