package httpapi

import (
	"net/http"
	"net/netip"
	"strings"
)

// clientIPResolver finds the real client address of a request. Forwarding
// headers are attacker-controlled unless they were written by a proxy we run,
// so they are read only when the direct peer is a trusted proxy.
type clientIPResolver struct {
	trustHeaders bool
	trusted      []netip.Prefix
}

// newClientIPResolver returns a resolver that honours X-Forwarded-For and
// X-Real-IP only when trustHeaders is set and the peer is inside trusted.
func newClientIPResolver(trustHeaders bool, trusted []netip.Prefix) *clientIPResolver {
	prefixes := make([]netip.Prefix, 0, len(trusted))
	for _, p := range trusted {
		if p.IsValid() {
			prefixes = append(prefixes, p.Masked())
		}
	}
	return &clientIPResolver{trustHeaders: trustHeaders && len(prefixes) > 0, trusted: prefixes}
}

// middleware rewrites r.RemoteAddr to the bare client IP (no port) and records
// it for [ClientIPFrom].
func (c *clientIPResolver) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ip, ok := c.resolve(r); ok {
			r.RemoteAddr = ip.String()
			if st := stateFrom(r.Context()); st != nil {
				st.clientIP = ip
			}
		}
		next.ServeHTTP(w, r)
	})
}

// resolve returns the client address of r.
func (c *clientIPResolver) resolve(r *http.Request) (netip.Addr, bool) {
	peer, ok := parseHostAddr(r.RemoteAddr)
	if !ok {
		return netip.Addr{}, false
	}
	if !c.trustHeaders || !c.isTrusted(peer) {
		return peer, true
	}
	if values := r.Header.Values("X-Forwarded-For"); len(values) > 0 {
		if ip, ok := c.fromForwardedFor(values); ok {
			return ip, true
		}
		return peer, true
	}
	if ip, ok := parseHostAddr(strings.TrimSpace(r.Header.Get("X-Real-IP"))); ok {
		return ip, true
	}
	return peer, true
}

// fromForwardedFor walks the X-Forwarded-For hops from the right (the hop our
// own proxy appended) and returns the first one that is not a trusted proxy.
// An unparsable hop stops the walk: nothing left of it can be trusted, so the
// last trusted hop seen is the best answer. When every hop is trusted the
// leftmost one is the client.
func (c *clientIPResolver) fromForwardedFor(values []string) (netip.Addr, bool) {
	var hops []string
	for _, v := range values {
		hops = append(hops, strings.Split(v, ",")...)
	}
	var last netip.Addr
	for i := len(hops) - 1; i >= 0; i-- {
		ip, ok := parseHostAddr(strings.TrimSpace(hops[i]))
		if !ok {
			return last, last.IsValid()
		}
		if !c.isTrusted(ip) {
			return ip, true
		}
		last = ip
	}
	return last, last.IsValid()
}

func (c *clientIPResolver) isTrusted(ip netip.Addr) bool {
	for _, p := range c.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// parseHostAddr parses "ip", "ip:port" or "[ipv6]:port", unmapping
// IPv4-mapped IPv6 addresses and dropping zones.
func parseHostAddr(s string) (netip.Addr, bool) {
	if s == "" {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			ip, err = netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
			if err != nil {
				return netip.Addr{}, false
			}
		} else {
			ip = ap.Addr()
		}
	}
	return ip.Unmap().WithZone(""), true
}
