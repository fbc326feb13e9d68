package dataplane

import (
	"context"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/privlink/privlink/internal/arm"
	"github.com/privlink/privlink/internal/proxy"
)

func mustID(t testing.TB, s string) arm.ResourceID {
	id, err := arm.ParseResourceID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// testPlane is a Plane whose snapshot is made by hand: cluster c1 (with a
// managed identity) has an approved blob endpoint to account "open", a
// Pending one to "waiting", a dfs one to "nodfs"; "trusting" lets trusted
// services in; "public" allows public access.
func testPlane(t testing.TB) (*Plane, string) {
	p, err := New(Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	p.respAddr = "127.0.0.1:1" // nothing listens: dials fail at once
	sub := "/subscriptions/s/resourceGroups/rg/providers/"
	cl := &cluster{id: mustID(t, sub+"Microsoft.Kusto/clusters/c1"), identity: true, subnet: netip.MustParsePrefix("127.77.1.0/24"), gateway: netip.MustParseAddr("127.77.1.1")}
	cl.key = cl.id.Key()
	s := newSnapshot()
	s.clusters[cl.key] = cl
	s.public = netip.MustParseAddr("127.77.0.1")
	acct := func(name string, public string, bypass bool) *target {
		tg := &target{id: mustID(t, sub+"Microsoft.Storage/storageAccounts/"+name), typ: storageType, publicAccess: public, bypass: bypass, backends: map[string]string{}, gate: make(chan struct{})}
		tg.key = tg.id.Key()
		for _, g := range []string{"blob", "dfs"} {
			h := Host{Name: name + "." + g + ".core.windows.net", Private: name + ".privatelink." + g + ".core.windows.net", Zone: "privatelink." + g + ".core.windows.net", Group: g, Port: 443}
			tg.hosts = append(tg.hosts, h)
		}
		s.putTarget(tg)
		return tg
	}
	ep := func(name string, tg *target, group, state string, host int) {
		e := &endpoint{id: cl.id.Child("managedPrivateEndpoints", name), cluster: cl.key, target: tg.key, targetID: tg.id.String(), group: group, provisioning: "Succeeded", connection: state, gate: make(chan struct{})}
		e.key = e.id.Key()
		e.addr = netip.AddrFrom4([4]byte{127, 77, 1, byte(host)})
		s.putEndpoint(e)
	}
	ep("open", acct("open", "Disabled", false), "blob", "Approved", 4)
	ep("waiting", acct("waiting", "Disabled", false), "blob", "Pending", 5)
	ep("nodfs", acct("nodfs", "Disabled", false), "dfs", "Approved", 6)
	acct("trusting", "Disabled", true)
	acct("public", "", false)
	p.st = s
	return p, cl.key
}

func TestDecide(t *testing.T) {
	p, c := testPlane(t)
	for _, tc := range []struct {
		name, host string
		port       int
		allowed    bool
		want       string // the path, or a word of the reason
	}{
		{"approved", "open.blob.core.windows.net", 443, true, PathPrivate},
		{"by address", "127.77.1.4", 443, true, PathPrivate},
		{"trailing dot and case", "OPEN.blob.core.windows.net.", 443, true, PathPrivate},
		{"pending", "waiting.blob.core.windows.net", 443, false, "pending"},
		{"wrong sub-resource", "open.dfs.core.windows.net", 443, false, "wrong sub-resource"},
		{"dfs without blob", "nodfs.dfs.core.windows.net", 443, false, "dfs without blob"},
		{"no endpoint", "trusting.dfs.core.windows.net", 443, true, PathTrusted},
		{"public", "public.blob.core.windows.net", 443, true, PathPublic},
		{"port", "open.blob.core.windows.net", 80, false, "port 443 only"},
		{"unknown target", "nosuch.blob.core.windows.net", 443, false, "no target named"},
		{"unknown address in the subnet", "127.77.1.99", 443, false, "no managed private endpoint"},
		{"not a target", "example.com", 443, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := p.Decide(c, tc.host, tc.port)
			if v.Allowed != tc.allowed || (tc.allowed && v.Path != tc.want) || (!tc.allowed && !strings.Contains(v.Reason, tc.want)) {
				t.Fatalf("Decide(%s:%d) = %+v, want allowed=%v with %q", tc.host, tc.port, v, tc.allowed, tc.want)
			}
		})
	}
	if v := p.Decide("/subscriptions/s/resourcegroups/rg/providers/microsoft.kusto/clusters/gone", "open.blob.core.windows.net", 443); v.Allowed {
		t.Fatal("a cluster that does not exist was let through")
	}
}

func TestResolve(t *testing.T) {
	p, c := testPlane(t)
	for _, tc := range []struct{ name, cname, addr, rcode string }{
		{"open.blob.core.windows.net", "open.privatelink.blob.core.windows.net", "127.77.1.4", "NOERROR"},
		{"open.privatelink.blob.core.windows.net", "", "127.77.1.4", "NOERROR"},
		{"waiting.blob.core.windows.net", "waiting.privatelink.blob.core.windows.net", "127.77.0.1", "NOERROR"},
		{"waiting.privatelink.blob.core.windows.net", "", "", "NXDOMAIN"},
		{"public.blob.core.windows.net", "", "127.77.0.1", "NOERROR"},
		{"nosuch.blob.core.windows.net", "", "", "NXDOMAIN"},
		{"example.com", "", "", "REFUSED"},
	} {
		a := p.Resolve(c, tc.name)
		cname := ""
		if len(a.CNAMEs) > 0 {
			cname = a.CNAMEs[0]
		}
		addr := ""
		if len(a.Addresses) > 0 {
			addr = a.Addresses[0]
		}
		if cname != tc.cname || addr != tc.addr || a.Rcode != tc.rcode {
			t.Errorf("Resolve(%s) = %+v, want CNAME %q, A %q, %s", tc.name, a, tc.cname, tc.addr, tc.rcode)
		}
	}
}

// FuzzEgress: whatever a client sends to a cluster's egress (CONNECT,
// absolute-form HTTP, SOCKS5, garbage), the egress answers or closes,
// never panics, and never hangs.
func FuzzEgress(f *testing.F) {
	for _, s := range []string{
		"CONNECT open.blob.core.windows.net:443 HTTP/1.1\r\n\r\n",
		"CONNECT waiting.blob.core.windows.net:443 HTTP/1.1\r\n\r\n",
		"CONNECT 127.77.1.4:443 HTTP/1.1\r\n\r\n",
		"CONNECT nosuch.blob.core.windows.net:443 HTTP/1.1\r\n\r\n",
		"GET http://open.blob.core.windows.net/ HTTP/1.1\r\nHost: open.blob.core.windows.net\r\n\r\n",
		"\x05\x01\x00\x05\x01\x00\x03\x1aopen.blob.core.windows.net\x01\xbb",
		"\x05\x01\x00\x05\x01\x00\x01\x7f\x4d\x01\x04\x01\xbb",
		"\x05\x01\x00\x05\x01\x00\x03\x00\x01\xbb",
		"",
	} {
		f.Add([]byte(s))
	}
	p, c := testPlane(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		px := &proxy.Proxy{Policy: &egress{p: p, cluster: c}, HandshakeTimeout: time.Second, DialTimeout: time.Second,
			Dial: func(context.Context, string, string) (net.Conn, error) { return nil, io.EOF }}
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() { px.ServeConn(server); close(done) }()
		go func() { _, _ = client.Write(in); client.Close() }()
		go func() { _, _ = io.Copy(io.Discard, client) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("the egress did not finish with %q", in)
		}
	})
}

// FuzzDNS: any packet gets an answer that packs, or none, never a panic.
func FuzzDNS(f *testing.F) {
	for _, n := range []string{"open.blob.core.windows.net.", "waiting.privatelink.blob.core.windows.net.", "example.com.", "."} {
		m := new(dns.Msg)
		m.SetQuestion(n, dns.TypeA)
		b, _ := m.Pack()
		f.Add(b)
	}
	p, c := testPlane(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		q := new(dns.Msg)
		if q.Unpack(in) != nil {
			return
		}
		w := &recorder{}
		p.answer(w, q, c)
		if w.msg == nil {
			t.Fatal("no answer")
		}
		if _, err := w.msg.Pack(); err != nil {
			t.Fatalf("the answer does not pack: %v", err)
		}
	})
}

// recorder is a dns.ResponseWriter that keeps the answer.
type recorder struct{ msg *dns.Msg }

func (r *recorder) LocalAddr() net.Addr       { return &net.UDPAddr{} }
func (r *recorder) RemoteAddr() net.Addr      { return &net.UDPAddr{} }
func (r *recorder) WriteMsg(m *dns.Msg) error { r.msg = m; return nil }
func (r *recorder) Write(b []byte) (int, error) {
	return len(b), nil
}
func (r *recorder) Close() error        { return nil }
func (r *recorder) TsigStatus() error   { return nil }
func (r *recorder) TsigTimersOnly(bool) {}
func (r *recorder) Hijack()             {}

func TestChildType(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"/subscriptions/s/resourcegroups/g/providers/microsoft.kusto/clusters/c/managedprivateendpoints/e", "managedprivateendpoints"},
		{"/subscriptions/s/resourcegroups/g/providers/microsoft.storage/storageaccounts/a/privateendpointconnections/p.1", "privateendpointconnections"},
		{"/subscriptions/s/resourcegroups/g/providers/microsoft.eventhub/namespaces/n/networkrulesets/default", "networkrulesets"},
		{"/subscriptions/s/resourcegroups/g/providers/microsoft.kusto/clusters/c", ""},
		{"/subscriptions/s/resourcegroups/g", ""},
		{"/privlink/dataplane/addr/x", ""},
	} {
		if got := childType(tc.key); got != tc.want {
			t.Errorf("childType(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
}
