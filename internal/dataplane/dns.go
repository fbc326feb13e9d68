package dataplane

import (
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// dnsTTL is the TTL of the answers, in seconds: short, since an approval or
// rejection changes them at once.
const dnsTTL = 10

// startDNS starts the cluster's DNS server on its gateway, UDP and TCP on
// the same port (53, or one the kernel picks when 53 is taken or privileged).
func (p *Plane) startDNS(cn *clusterNet, c *cluster) error {
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) { p.answer(w, q, c.key) })
	var err error
	for _, port := range []int{53, 0} {
		var pc net.PacketConn
		pc, err = net.ListenPacket("udp", netip.AddrPortFrom(c.gateway, uint16(port)).String())
		if err != nil {
			continue
		}
		var tl net.Listener
		tl, err = net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			continue
		}
		cn.dnsUDP = &dns.Server{PacketConn: pc, Handler: h}
		cn.dnsTCP = &dns.Server{Listener: tl, Handler: h}
		cn.dnsAddr = pc.LocalAddr().String()
		for _, s := range []*dns.Server{cn.dnsUDP, cn.dnsTCP} {
			started := make(chan struct{})
			s.NotifyStartedFunc = func() { close(started) }
			go func() { _ = s.ActivateAndServe() }()
			<-started
		}
		return nil
	}
	return err
}

// answer resolves names as Azure's DNS does from inside the cluster's
// managed network: a target's public name is a CNAME of its name in the
// privatelink zone when the cluster has a managed private endpoint to that
// sub-resource, and that name has an A record with the endpoint's address
// while the connection is Approved; otherwise the public name has the
// public side's address. Names below the targets' DNS suffixes that no
// target has are NXDOMAIN; privlink answers nothing else (REFUSED).
func (p *Plane) answer(w dns.ResponseWriter, q *dns.Msg, ck string) {
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	if len(q.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		_ = w.WriteMsg(m)
		return
	}
	qu := q.Question[0]
	name := strings.TrimSuffix(strings.ToLower(qu.Name), ".")
	rrs, rcode := p.resolve(ck, name, qu.Qtype)
	m.Rcode = rcode
	m.Answer = rrs
	_ = w.WriteMsg(m)
}

// resolve answers one question from cluster ck's view.
func (p *Plane) resolve(ck, name string, qtype uint16) ([]dns.RR, int) {
	s, done := p.needRead(ck, name)
	defer done()
	ref, ok := s.hosts[name]
	if !ok {
		if underAzure(name) {
			return nil, dns.RcodeNameError
		}
		return nil, dns.RcodeRefused
	}
	var ep *endpoint
	{
		for _, e := range s.toTarget(ck, ref.target) {
			if strings.EqualFold(e.group, ref.host.Group) {
				if ep == nil || e.open() {
					ep = e
				}
			}
		}
	}
	hdr := func(n string, t uint16) dns.RR_Header {
		return dns.RR_Header{Name: dns.Fqdn(n), Rrtype: t, Class: dns.ClassINET, Ttl: dnsTTL}
	}
	a := func(n string, addr netip.Addr) dns.RR {
		return &dns.A{Hdr: hdr(n, dns.TypeA), A: net.IP(addr.AsSlice())}
	}
	wantA := qtype == dns.TypeA || qtype == dns.TypeANY
	var out []dns.RR
	if ref.private {
		// The privatelink zone as linked to the cluster's managed network:
		// a record only for an approved endpoint.
		if ep == nil || !ep.open() {
			return nil, dns.RcodeNameError
		}
		if wantA {
			out = append(out, a(name, ep.addr))
		}
		return out, dns.RcodeSuccess
	}
	if ep == nil {
		if wantA {
			out = append(out, a(name, s.public))
		}
		return out, dns.RcodeSuccess
	}
	out = append(out, &dns.CNAME{Hdr: hdr(name, dns.TypeCNAME), Target: dns.Fqdn(ref.host.Private)})
	if qtype == dns.TypeCNAME {
		return out, dns.RcodeSuccess
	}
	if ep.open() {
		if wantA {
			out = append(out, a(ref.host.Private, ep.addr))
		}
	} else {
		// Outside the managed network's view the privatelink name has no
		// record: Azure's public DNS goes on to the public address.
		pub := "public." + ref.host.Private
		out = append(out, &dns.CNAME{Hdr: hdr(ref.host.Private, dns.TypeCNAME), Target: dns.Fqdn(pub)})
		if wantA {
			out = append(out, a(pub, s.public))
		}
	}
	return out, dns.RcodeSuccess
}

// DNSAnswer is one resolution from a cluster's view, for diagnose and the
// API: the chain of names and the addresses at its end.
type DNSAnswer struct {
	Name      string   `json:"name"`
	CNAMEs    []string `json:"cnames,omitempty"`
	Addresses []string `json:"addresses,omitempty"`
	// Rcode is the DNS response code (NOERROR, NXDOMAIN, REFUSED).
	Rcode string `json:"rcode"`
}

// Resolve answers an A question for name from cluster's view, as its DNS
// server does.
func (p *Plane) Resolve(clusterID, name string) DNSAnswer {
	rrs, rc := p.resolve(strings.ToLower(clusterID), strings.TrimSuffix(strings.ToLower(name), "."), dns.TypeA)
	out := DNSAnswer{Name: name, Rcode: dns.RcodeToString[rc]}
	for _, rr := range rrs {
		switch r := rr.(type) {
		case *dns.CNAME:
			out.CNAMEs = append(out.CNAMEs, strings.TrimSuffix(r.Target, "."))
		case *dns.A:
			out.Addresses = append(out.Addresses, r.A.String())
		}
	}
	return out
}
