package proxy

import (
	"bufio"
	"errors"
	"net"
	"sync"
	"time"
)

// tlsHandshake is the first byte of a TLS record carrying a handshake
// message: every TLS client starts with one (its ClientHello).
const tlsHandshake = 0x16

// Mux shares one TCP listener between an HTTPS server and a Proxy: a
// connection whose first byte starts a TLS handshake is returned by Accept
// (wrap the Mux with tls.NewListener); any other goes to the Proxy. So one
// address is both privlink's API (https://127.0.0.1:8443) and the proxy that
// clients name in HTTPS_PROXY (http://127.0.0.1:8443). Connections that the
// Proxy serves here (Serve decisions) come back through Inject and Accept.
type Mux struct {
	ln    net.Listener
	proxy *Proxy
	// SniffTimeout bounds the wait for a new connection's first byte.
	sniffTimeout time.Duration

	conns chan net.Conn
	done  chan struct{}
	once  sync.Once

	mu      sync.Mutex
	sniffed map[net.Conn]struct{} // connections whose first byte is awaited
	err     error                 // the listener's fatal error
}

// NewMux starts accepting on ln. Close stops it and closes ln.
func NewMux(ln net.Listener, p *Proxy, sniffTimeout time.Duration) *Mux {
	if sniffTimeout <= 0 {
		sniffTimeout = 30 * time.Second
	}
	m := &Mux{ln: ln, proxy: p, sniffTimeout: sniffTimeout, conns: make(chan net.Conn), done: make(chan struct{}), sniffed: map[net.Conn]struct{}{}}
	go m.acceptLoop()
	return m
}

func (m *Mux) acceptLoop() {
	var delay time.Duration
	for {
		c, err := m.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Out of file descriptors and the like: back off as net/http does.
				if delay == 0 {
					delay = 5 * time.Millisecond
				} else if delay *= 2; delay > time.Second {
					delay = time.Second
				}
				select {
				case <-time.After(delay):
					continue
				case <-m.done:
					return
				}
			}
			m.mu.Lock()
			m.err = err
			m.mu.Unlock()
			m.Close()
			return
		}
		delay = 0
		go m.sniff(c)
	}
}

// sniff reads c's first byte and routes it.
func (m *Mux) sniff(c net.Conn) {
	m.mu.Lock()
	select {
	case <-m.done:
		m.mu.Unlock()
		c.Close()
		return
	default:
	}
	m.sniffed[c] = struct{}{}
	m.mu.Unlock()

	_ = c.SetReadDeadline(time.Now().Add(m.sniffTimeout))
	var first [1]byte
	n, err := c.Read(first[:])

	m.mu.Lock()
	delete(m.sniffed, c)
	m.mu.Unlock()
	if err != nil || n == 0 {
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	pc := &prefixConn{Conn: c, prefix: first[:]}
	if first[0] == tlsHandshake {
		_ = m.Inject(pc)
		return
	}
	m.proxy.serve(c, bufio.NewReader(pc))
}

// Inject hands c to the HTTPS server as if it had been accepted; it closes
// c and returns ErrClosed once the Mux is closed.
func (m *Mux) Inject(c net.Conn) error {
	select {
	case m.conns <- c:
		return nil
	case <-m.done:
		c.Close()
		return ErrClosed
	}
}

// Accept returns the next connection for the HTTPS server.
func (m *Mux) Accept() (net.Conn, error) {
	select {
	case c := <-m.conns:
		return c, nil
	case <-m.done:
		m.mu.Lock()
		err := m.err
		m.mu.Unlock()
		if err == nil {
			err = ErrClosed
		}
		return nil, err
	}
}

// Close stops accepting, closes the listener, the connections still being
// sniffed and everything the Proxy holds.
func (m *Mux) Close() error {
	var err error
	m.once.Do(func() {
		m.mu.Lock()
		close(m.done)
		for c := range m.sniffed {
			c.Close()
		}
		m.sniffed = map[net.Conn]struct{}{}
		m.mu.Unlock()
		err = m.ln.Close()
		m.proxy.Close()
	})
	return err
}

// Addr is the listener's address.
func (m *Mux) Addr() net.Addr { return m.ln.Addr() }

// prefixConn replays bytes already read from Conn before reading on.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}
