package proxy

import (
	"context"
	"net"
	"net/http"
	"strings"
)

// Hosts is the policy of privlink's transparent mode: connections to the
// Azure host names privlink serves, on port 443, are served by privlink
// itself (its TLS server presents a certificate for the name, signed by the
// local CA); every other destination is tunnelled directly, or refused when
// Offline is set.
type Hosts struct {
	// Names are the served host names, lower case; an entry starting with
	// "." matches every name below it (".blob.core.windows.net").
	Names []string
	// Serve takes the connections of served names (TLS inside).
	Serve func(net.Conn)
	// Offline refuses destinations privlink does not serve instead of
	// tunnelling them, for hermetic test runs.
	Offline bool
}

// Match reports whether privlink serves host (any case, with or without a
// trailing dot).
func (h *Hosts) Match(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	for _, n := range h.Names {
		if strings.HasPrefix(n, ".") {
			if strings.HasSuffix(host, n) && len(host) > len(n) {
				return true
			}
		} else if host == n {
			return true
		}
	}
	return false
}

// Decide serves the Azure names on 443, refuses them on other ports (so that
// nothing meant for privlink leaks to the real service), and tunnels or
// refuses the rest.
func (h *Hosts) Decide(_ context.Context, r Request) Decision {
	if h.Match(r.Host) {
		if r.Port != 443 {
			return Decision{Action: Refuse, Status: http.StatusBadGateway, Reason: "privlink serves " + r.Host + " on port 443 only"}
		}
		return Decision{Action: Serve, Serve: h.Serve}
	}
	if h.Offline {
		return Decision{Action: Refuse, Reason: "privlink serve --offline: the proxy serves " + strings.Join(h.Names, ", ") + " and refuses " + r.Addr()}
	}
	return Decision{Action: Tunnel}
}
