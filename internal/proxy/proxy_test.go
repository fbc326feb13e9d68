package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	xproxy "golang.org/x/net/proxy"
)

// startProxy serves p on a loopback listener and returns its address.
func startProxy(t *testing.T, p *Proxy) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.ServeConn(c)
		}
	}()
	t.Cleanup(func() { l.Close(); p.Close() })
	return l.Addr().String()
}

// viaProxy is an http.Client that uses the proxy at addr for every URL,
// as a program with HTTPS_PROXY/HTTP_PROXY does.
func viaProxy(addr string, tlsConfig *tls.Config) *http.Client {
	u := &url.URL{Scheme: "http", Host: addr}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: tlsConfig}}
}

// closedAddr is a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestConnectTunnel(t *testing.T) {
	backend := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "backend saw "+r.Host)
	}))
	defer backend.Close()
	var mu sync.Mutex
	var seen []Request
	addr := startProxy(t, &Proxy{Policy: PolicyFunc(func(_ context.Context, r Request) Decision {
		mu.Lock()
		seen = append(seen, r)
		mu.Unlock()
		return Decision{Action: Tunnel}
	})})
	c := viaProxy(addr, backend.Client().Transport.(*http.Transport).TLSClientConfig)
	resp, err := c.Get(backend.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got, want := string(b), "backend saw "+strings.TrimPrefix(backend.URL, "https://"); got != want {
		t.Fatalf("body %q, want %q", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0].Protocol != "connect" || seen[0].Addr() != strings.TrimPrefix(backend.URL, "https://") {
		t.Fatalf("policy saw %+v, want one CONNECT to the backend", seen)
	}
}

func TestConnectRefusals(t *testing.T) {
	closed := closedAddr(t)
	addr := startProxy(t, &Proxy{Policy: PolicyFunc(func(_ context.Context, r Request) Decision {
		switch r.Host {
		case "refused.example":
			return Decision{Action: Refuse, Reason: "the endpoint is Pending: the owner has not approved it"}
		case "teapot.example":
			return Decision{Action: Refuse, Status: 418, Reason: "short and stout"}
		case "closed.example":
			return Decision{Action: Tunnel, Addr: closed}
		case "noserve.example":
			return Decision{Action: Serve}
		}
		return Decision{Action: Tunnel}
	})})
	c := viaProxy(addr, nil)
	tests := []struct {
		name, url, want string
	}{
		{"policy refusal", "https://refused.example/", "the endpoint is Pending: the owner has not approved it"},
		{"own status", "https://teapot.example/", "short and stout"},
		{"dial failure", "https://closed.example/", "privlink cannot reach closed.example:443"},
		{"serve without a server", "https://noserve.example/", "nothing to serve"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Get(tt.url)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("GET %s: %v, want an error containing %q", tt.url, err, tt.want)
			}
		})
	}
	// The status line and body carry the reason for clients that show either.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "CONNECT teapot.example:443 HTTP/1.1\r\nHost: teapot.example:443\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 418 || resp.Status != "418 short and stout" || string(b) != "short and stout\n" {
		t.Fatalf("got %q with body %q", resp.Status, b)
	}
}

func TestMalformedRequests(t *testing.T) {
	addr := startProxy(t, &Proxy{Policy: PolicyFunc(func(context.Context, Request) Decision { return Decision{Action: Tunnel} })})
	tests := []struct {
		name, send, wantStatus string
	}{
		{"CONNECT without port", "CONNECT example.com HTTP/1.1\r\n\r\n", "400"},
		{"CONNECT port zero", "CONNECT example.com:0 HTTP/1.1\r\n\r\n", "400"},
		{"CONNECT port too big", "CONNECT example.com:70000 HTTP/1.1\r\n\r\n", "400"},
		{"CONNECT empty host", "CONNECT :443 HTTP/1.1\r\n\r\n", "400"},
		{"CONNECT host with a path", "CONNECT a/b:443 HTTP/1.1\r\n\r\n", "400"},
		{"origin-form request", "GET /subscriptions HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
		{"https absolute-form", "GET https://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", "400"},
		{"garbage", "\x00\x01\x02 nonsense\r\n\r\n", "400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(conn, tt.send)
			line, err := bufio.NewReader(conn).ReadString('\n')
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			if !strings.HasPrefix(line, "HTTP/1.1 "+tt.wantStatus+" ") {
				t.Fatalf("answer %q, want status %s", line, tt.wantStatus)
			}
		})
	}
}

func TestForwardPlainHTTP(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Proxy-Connection") != "" {
			t.Errorf("hop-by-hop header reached the backend")
		}
		io.WriteString(w, "plain "+r.URL.Path)
	}))
	defer backend.Close()
	addr := startProxy(t, &Proxy{Policy: PolicyFunc(func(_ context.Context, r Request) Decision {
		if r.Host == "served.example" {
			return Decision{Action: Serve, Serve: func(c net.Conn) { c.Close() }}
		}
		return Decision{Action: Tunnel}
	})})
	c := viaProxy(addr, nil)
	for i := 0; i < 3; i++ { // keep-alive: several requests on one proxy connection
		resp, err := c.Get(backend.URL + "/p")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "plain /p" {
			t.Fatalf("body %q", b)
		}
	}
	resp, err := c.Get("http://served.example/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "over HTTPS only") {
		t.Fatalf("plain HTTP to a served name: %s %q, want 400 saying HTTPS only", resp.Status, b)
	}
}

func TestSOCKS5(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "via socks") }))
	defer backend.Close()
	closed := closedAddr(t)
	addr := startProxy(t, &Proxy{Policy: PolicyFunc(func(_ context.Context, r Request) Decision {
		switch r.Host {
		case "refused.example":
			return Decision{Action: Refuse, Reason: "no endpoint"}
		case "closed.example":
			return Decision{Action: Tunnel, Addr: closed}
		case "backend.example":
			return Decision{Action: Tunnel, Addr: strings.TrimPrefix(backend.URL, "http://")}
		}
		return Decision{Action: Tunnel}
	})})
	for _, auth := range []*xproxy.Auth{nil, {User: "u", Password: "p"}} {
		d, err := xproxy.SOCKS5("tcp", addr, auth, xproxy.Direct)
		if err != nil {
			t.Fatal(err)
		}
		cd := d.(xproxy.ContextDialer)
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: cd.DialContext}}
		for _, u := range []string{backend.URL + "/", "http://backend.example/"} {
			resp, err := c.Get(u)
			if err != nil {
				t.Fatalf("auth %v, GET %s: %v", auth, u, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "via socks" {
				t.Fatalf("body %q", b)
			}
		}
		for host, want := range map[string]string{"refused.example:80": "connection not allowed by ruleset", "closed.example:80": "connection refused"} {
			if _, err := d.Dial("tcp", host); err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("dial %s: %v, want %q", host, err, want)
			}
		}
	}
	// A client offering only GSSAPI is told no acceptable method.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte{5, 1, 1})
	var reply [2]byte
	if _, err := io.ReadFull(conn, reply[:]); err != nil || reply != [2]byte{5, 0xff} {
		t.Fatalf("reply %v, %v; want 5 255", reply, err)
	}
}

func TestSOCKS5RequestErrors(t *testing.T) {
	addr := startProxy(t, &Proxy{Policy: PolicyFunc(func(context.Context, Request) Decision { return Decision{Action: Tunnel} })})
	tests := []struct {
		name    string
		request []byte
		want    byte
	}{
		{"BIND", []byte{5, 2, 0, 1, 127, 0, 0, 1, 0, 80}, socksCmdNotSupported},
		{"UDP ASSOCIATE", []byte{5, 3, 0, 1, 127, 0, 0, 1, 0, 80}, socksCmdNotSupported},
		{"unknown address type", []byte{5, 1, 0, 9, 127, 0, 0, 1, 0, 80}, socksAtypNotSupported},
		{"port zero", []byte{5, 1, 0, 1, 127, 0, 0, 1, 0, 0}, socksGeneralFailure},
		{"empty name", []byte{5, 1, 0, 3, 0, 0, 80}, socksGeneralFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			conn.Write([]byte{5, 1, 0})
			var m [2]byte
			if _, err := io.ReadFull(conn, m[:]); err != nil {
				t.Fatal(err)
			}
			conn.Write(tt.request)
			var reply [10]byte
			if _, err := io.ReadFull(conn, reply[:]); err != nil {
				t.Fatalf("no reply: %v", err)
			}
			if reply[1] != tt.want {
				t.Fatalf("reply %d (%s), want %d (%s)", reply[1], SOCKSReplyText(reply[1]), tt.want, SOCKSReplyText(tt.want))
			}
		})
	}
}

// TestCloseEndsTunnels: closing the proxy cuts the tunnels it carries.
func TestCloseEndsTunnels(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	p := &Proxy{Policy: PolicyFunc(func(context.Context, Request) Decision { return Decision{Action: Tunnel, Addr: echo.Addr().String()} })}
	addr := startProxy(t, p)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	// The first payload rides in the same packet as the CONNECT request.
	io.WriteString(conn, "CONNECT echo.example:7 HTTP/1.1\r\n\r\nping")
	if line, _ := br.ReadString('\n'); !strings.HasPrefix(line, "HTTP/1.1 200") {
		t.Fatalf("CONNECT answered %q", line)
	}
	br.ReadString('\n')
	got := make([]byte, 4)
	if _, err := io.ReadFull(br, got); err != nil || string(got) != "ping" {
		t.Fatalf("echo %q, %v", got, err)
	}
	p.Close()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("read after Close: %v, want the tunnel closed", err)
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "reset")
}

// TestMux: one port serves TLS clients and proxy clients, and connections the
// proxy serves itself come back to the TLS server.
func TestMux(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var m *Mux
	hosts := &Hosts{Names: []string{"management.azure.com", ".blob.core.windows.net"}, Serve: func(c net.Conn) { _ = m.Inject(c) }, Offline: true}
	m = NewMux(l, &Proxy{Policy: hosts}, 5*time.Second)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "served "+r.Host) }))
	srv.Listener = m
	srv.StartTLS()
	defer srv.Close()
	tlsConf := srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	// httptest's certificate names example.com; accept it for the test names.
	tlsConf.InsecureSkipVerify = true

	direct := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf}}
	resp, err := direct.Get("https://" + l.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got, want := string(b), "served "+l.Addr().String(); got != want {
		t.Fatalf("direct: %q, want %q", got, want)
	}
	proxied := viaProxy(l.Addr().String(), tlsConf)
	for _, host := range []string{"management.azure.com", "acct.blob.core.windows.net"} {
		resp, err := proxied.Get("https://" + host + "/")
		if err != nil {
			t.Fatalf("%s through the proxy: %v", host, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got, want := string(b), "served "+host; got != want {
			t.Fatalf("%q, want %q", got, want)
		}
	}
	if _, err := proxied.Get("https://blob.core.windows.net/"); err == nil || !strings.Contains(err.Error(), "offline") {
		t.Fatalf("a name outside the served ones, offline: %v, want a refusal", err)
	}
	if _, err := proxied.Get("https://management.azure.com:8443/"); err == nil || !strings.Contains(err.Error(), "port 443 only") {
		t.Fatalf("a served name on another port: %v, want a refusal", err)
	}
}

func TestHostsMatch(t *testing.T) {
	h := &Hosts{Names: []string{"management.azure.com", ".vault.azure.net"}}
	tests := []struct {
		host string
		want bool
	}{
		{"management.azure.com", true},
		{"Management.Azure.COM", true},
		{"management.azure.com.", true},
		{"xmanagement.azure.com", false},
		{"kv.vault.azure.net", true},
		{"vault.azure.net", false},
		{".vault.azure.net", false},
		{"example.com", false},
	}
	for _, tt := range tests {
		if got := h.Match(tt.host); got != tt.want {
			t.Errorf("Match(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}

// FuzzServeConn: whatever a client sends, the proxy answers or closes,
// never panics, and never dials anything the policy did not allow.
func FuzzServeConn(f *testing.F) {
	for _, s := range []string{
		"CONNECT management.azure.com:443 HTTP/1.1\r\n\r\n",
		"CONNECT [::1]:443 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"\x05\x01\x00\x05\x01\x00\x03\x0bexample.com\x01\xbb",
		"\x05\x02\x00\x02\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x50",
		"\x05\x01\x02\x01\x01u\x01p\x05\x01\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x01\xbb",
		"\x05\x00",
		"\x05\xff",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p := &Proxy{
			Policy: PolicyFunc(func(_ context.Context, r Request) Decision {
				if r.Port < 1 || r.Port > 65535 || r.Host == "" {
					t.Fatalf("policy asked about a bad destination %+v", r)
				}
				if r.Host == "served.example" {
					return Decision{Action: Serve, Serve: func(c net.Conn) { c.Close() }}
				}
				return Decision{Action: Refuse, Reason: "fuzz"}
			}),
			Dial: func(context.Context, string, string) (net.Conn, error) {
				t.Fatal("dialled without a Tunnel decision")
				return nil, nil
			},
			HandshakeTimeout: time.Second,
		}
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() { p.ServeConn(server); close(done) }()
		go func() { client.Write(in); client.Close() }()
		go io.Copy(io.Discard, client)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("ServeConn did not return for %q", in)
		}
	})
}

// FuzzSOCKSRequest: the SOCKS5 request parser accepts or refuses any input
// without panicking, and what it accepts is a usable destination.
func FuzzSOCKSRequest(f *testing.F) {
	f.Add([]byte{5, 1, 0, 1, 127, 0, 0, 1, 0, 80})
	f.Add([]byte{5, 1, 0, 3, 3, 'a', 'b', 'c', 1, 187})
	f.Add([]byte{5, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 22})
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := readSocksRequest(bytes.NewReader(in))
		if err != nil {
			return
		}
		if r.host == "" || r.port < 1 || r.port > 65535 || r.cmd != socksCmdConnect {
			t.Fatalf("accepted %+v from %v", r, in)
		}
	})
}

// TestDecisionDialRevokedSOCKSCode: a policy's own dial (its error reaching
// the client), a revocation that ends an open tunnel, and a refusal's
// SOCKS5 reply code.
func TestDecisionDialRevokedSOCKSCode(t *testing.T) {
	backend, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	go func() {
		for {
			c, err := backend.Accept()
			if err != nil {
				return
			}
			go io.Copy(io.Discard, c)
		}
	}()
	revoked := make(chan struct{})
	addr := startProxy(t, &Proxy{Policy: PolicyFunc(func(_ context.Context, r Request) Decision {
		switch r.Host {
		case "down.example":
			return Decision{Action: Tunnel, Dial: func(context.Context) (net.Conn, error) {
				return nil, errors.New("the bound backend does not answer")
			}}
		case "gated.example":
			return Decision{Action: Tunnel, Revoked: revoked, Dial: func(ctx context.Context) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "tcp", backend.Addr().String())
			}}
		}
		return Decision{Action: Refuse, Reason: "no", SOCKSCode: SOCKSHostUnreachable}
	})})
	connect := func(host string) (net.Conn, string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "CONNECT "+host+":443 HTTP/1.1\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		return c, resp.Status
	}
	if c, st := connect("down.example"); !strings.Contains(st, "502") || !strings.Contains(st, "the bound backend does not answer") {
		t.Fatalf("failed Dial: %q", st)
	} else {
		c.Close()
	}
	c, st := connect("gated.example")
	if !strings.HasPrefix(st, "200") {
		t.Fatalf("gated: %q", st)
	}
	defer c.Close()
	close(revoked)
	c.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("the tunnel outlived its revocation: %v", err)
	}
	d, err := xproxy.SOCKS5("tcp", addr, nil, &net.Dialer{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Dial("tcp", "refused.example:443"); err == nil || !strings.Contains(err.Error(), "host unreachable") {
		t.Fatalf("SOCKS5 refusal: %v, want the policy's code (host unreachable)", err)
	}
}
