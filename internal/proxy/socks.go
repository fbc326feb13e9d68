package proxy

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// SOCKS5 constants (RFC 1928, RFC 1929).
const (
	socksVersion     = 0x05
	socksAuthNone    = 0x00
	socksAuthUser    = 0x02
	socksAuthRefused = 0xff
	socksCmdConnect  = 0x01
	socksAtypIPv4    = 0x01
	socksAtypDomain  = 0x03
	socksAtypIPv6    = 0x04
)

// SOCKS5 reply codes (RFC 1928 §6).
const (
	socksSucceeded         = 0x00
	socksGeneralFailure    = 0x01
	socksNotAllowed        = 0x02
	socksNetUnreachable    = 0x03
	socksHostUnreachable   = 0x04
	socksConnRefused       = 0x05
	socksTTLExpired        = 0x06
	socksCmdNotSupported   = 0x07
	socksAtypNotSupported  = 0x08
	socksUserPassVersion   = 0x01
	socksUserPassSucceeded = 0x00
)

// socksRequest is a parsed SOCKS5 request.
type socksRequest struct {
	cmd  byte
	host string
	port int
}

// errSocksReply is a request error that has a reply code.
type errSocksReply struct {
	code byte
	msg  string
}

func (e *errSocksReply) Error() string { return e.msg }

// readSocksGreeting reads the client's greeting and returns its methods.
func readSocksGreeting(r io.Reader) ([]byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	if h[0] != socksVersion {
		return nil, fmt.Errorf("socks: version %d, want 5", h[0])
	}
	if h[1] == 0 {
		return nil, errors.New("socks: greeting offers no authentication method")
	}
	methods := make([]byte, h[1])
	if _, err := io.ReadFull(r, methods); err != nil {
		return nil, err
	}
	return methods, nil
}

// readSocksUserPass reads an RFC 1929 username/password sub-negotiation.
// privlink accepts any credentials: the proxy is local, and clients that
// can only speak SOCKS with credentials still work.
func readSocksUserPass(r io.Reader) error {
	var v [2]byte
	if _, err := io.ReadFull(r, v[:]); err != nil {
		return err
	}
	if v[0] != socksUserPassVersion {
		return fmt.Errorf("socks: username/password version %d, want 1", v[0])
	}
	if _, err := io.CopyN(io.Discard, r, int64(v[1])); err != nil {
		return err
	}
	var pl [1]byte
	if _, err := io.ReadFull(r, pl[:]); err != nil {
		return err
	}
	_, err := io.CopyN(io.Discard, r, int64(pl[0]))
	return err
}

// readSocksRequest reads a request: VER CMD RSV ATYP DST.ADDR DST.PORT.
func readSocksRequest(r io.Reader) (*socksRequest, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	if h[0] != socksVersion {
		return nil, &errSocksReply{socksGeneralFailure, fmt.Sprintf("socks: request version %d, want 5", h[0])}
	}
	req := &socksRequest{cmd: h[1]}
	switch h[3] {
	case socksAtypIPv4:
		var a [4]byte
		if _, err := io.ReadFull(r, a[:]); err != nil {
			return nil, err
		}
		req.host = netip.AddrFrom4(a).String()
	case socksAtypIPv6:
		var a [16]byte
		if _, err := io.ReadFull(r, a[:]); err != nil {
			return nil, err
		}
		req.host = netip.AddrFrom16(a).String()
	case socksAtypDomain:
		var n [1]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return nil, err
		}
		name := make([]byte, n[0])
		if _, err := io.ReadFull(r, name); err != nil {
			return nil, err
		}
		req.host = strings.ToLower(string(name))
	default:
		return nil, &errSocksReply{socksAtypNotSupported, fmt.Sprintf("socks: address type %d is not supported", h[3])}
	}
	var pb [2]byte
	if _, err := io.ReadFull(r, pb[:]); err != nil {
		return nil, err
	}
	req.port = int(binary.BigEndian.Uint16(pb[:]))
	if req.cmd != socksCmdConnect {
		return nil, &errSocksReply{socksCmdNotSupported, fmt.Sprintf("socks: command %d is not supported (privlink proxies CONNECT only)", req.cmd)}
	}
	if req.host == "" || strings.ContainsAny(req.host, " /\\@?#%\x00") {
		return nil, &errSocksReply{socksGeneralFailure, fmt.Sprintf("socks: bad host %q", req.host)}
	}
	if req.port == 0 {
		return nil, &errSocksReply{socksGeneralFailure, "socks: port 0"}
	}
	return req, nil
}

// socksReply writes a reply with a bound address (nil: 0.0.0.0:0).
func socksReply(w io.Writer, code byte, bound net.Addr) error {
	b := []byte{socksVersion, code, 0, socksAtypIPv4, 0, 0, 0, 0, 0, 0}
	if ta, ok := bound.(*net.TCPAddr); ok && ta != nil {
		if ip4 := ta.IP.To4(); ip4 != nil {
			copy(b[4:8], ip4)
		} else if ip16 := ta.IP.To16(); ip16 != nil {
			b = append([]byte{socksVersion, code, 0, socksAtypIPv6}, ip16...)
			b = append(b, 0, 0)
		}
		binary.BigEndian.PutUint16(b[len(b)-2:], uint16(ta.Port))
	}
	_, err := w.Write(b)
	return err
}

// socks serves the SOCKS5 front end. It reports whether c was handed off.
func (p *Proxy) socks(c net.Conn, br *bufio.Reader) bool {
	methods, err := readSocksGreeting(br)
	if err != nil {
		return false
	}
	method := byte(socksAuthRefused)
	for _, m := range methods {
		if m == socksAuthNone {
			method = socksAuthNone
			break
		}
		if m == socksAuthUser {
			method = socksAuthUser
		}
	}
	if _, err := c.Write([]byte{socksVersion, method}); err != nil || method == socksAuthRefused {
		return false
	}
	if method == socksAuthUser {
		if err := readSocksUserPass(br); err != nil {
			return false
		}
		if _, err := c.Write([]byte{socksUserPassVersion, socksUserPassSucceeded}); err != nil {
			return false
		}
	}
	sr, err := readSocksRequest(br)
	if err != nil {
		var re *errSocksReply
		if errors.As(err, &re) {
			p.log().Info("proxy", "protocol", "socks5", "action", "refuse", "reason", re.msg, "client", clientString(c.RemoteAddr()))
			_ = socksReply(c, re.code, nil)
		}
		return false
	}
	r := Request{Host: sr.host, Port: sr.port, Protocol: "socks5", Client: c.RemoteAddr()}
	d := p.decide(r)
	p.logDecision(r, d)
	if d.Action == Refuse {
		_ = socksReply(c, refusalCode(d), nil)
		return false
	}
	return p.carry(c, br, r, d, func(bound net.Addr) error {
		return socksReply(c, socksSucceeded, bound)
	}, func(err error) {
		_ = socksReply(c, socksDialCode(err), nil)
	})
}

// refusalCode is the SOCKS5 reply of a refusal: the policy's own code when
// it gave one, else "connection not allowed by ruleset". SOCKS5 replies
// carry no text; the code is what a client can show.
func refusalCode(d Decision) byte {
	if d.SOCKSCode != 0 {
		return d.SOCKSCode
	}
	return socksNotAllowed
}

// socksDialCode maps a dial error to the reply code that best names it.
func socksDialCode(err error) byte {
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return socksConnRefused
	case errors.Is(err, syscall.ENETUNREACH):
		return socksNetUnreachable
	case errors.Is(err, syscall.EHOSTUNREACH), errors.As(err, &dnsErr):
		return socksHostUnreachable
	case errors.Is(err, os.ErrDeadlineExceeded), isTimeout(err):
		return socksTTLExpired
	}
	return socksGeneralFailure
}

// SOCKSReplyText names a SOCKS5 reply code, for logs and tests.
func SOCKSReplyText(code byte) string {
	switch code {
	case socksSucceeded:
		return "succeeded"
	case socksGeneralFailure:
		return "general SOCKS server failure"
	case socksNotAllowed:
		return "connection not allowed by ruleset"
	case socksNetUnreachable:
		return "network unreachable"
	case socksHostUnreachable:
		return "host unreachable"
	case socksConnRefused:
		return "connection refused"
	case socksTTLExpired:
		return "TTL expired"
	case socksCmdNotSupported:
		return "command not supported"
	case socksAtypNotSupported:
		return "address type not supported"
	}
	return "reply " + strconv.Itoa(int(code))
}

// SOCKS5 reply codes a Policy may give a refusal (Decision.SOCKSCode), as
// RFC 1928 §6 names them.
const (
	SOCKSNotAllowed      byte = socksNotAllowed
	SOCKSNetUnreachable  byte = socksNetUnreachable
	SOCKSHostUnreachable byte = socksHostUnreachable
	SOCKSConnRefused     byte = socksConnRefused
)
