// Package clientip finds the address a request came from: the TCP peer,
// or, when the peer is a trusted proxy, the nearest address its forwarding
// header names that is not itself a trusted proxy. It is resolved once per
// request; limits, audit events and the admin pages all read it from the
// request context.
package clientip

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// The forwarding headers a proxy may be configured to set.
const (
	HeaderXForwardedFor = "X-Forwarded-For"
	HeaderForwarded     = "Forwarded"
)

// ParseNetworks parses CIDRs ("10.0.0.0/8"); a bare address is a network of
// one. IPv4-mapped IPv6 networks are refused so that every IPv4 address has
// one spelling.
func ParseNetworks(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil || a.Zone() != "" {
				return nil, fmt.Errorf("%q is not an address or a CIDR network such as 10.0.0.0/8", s)
			}
			s = netip.PrefixFrom(a, a.BitLen()).String()
		}
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Is4In6() || p.Addr().Zone() != "" {
			return nil, fmt.Errorf("%q is not a CIDR network such as 10.0.0.0/8", s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Contains reports whether addr is in one of nets.
func Contains(nets []netip.Prefix, addr netip.Addr) bool {
	for _, n := range nets {
		if n.Contains(addr) {
			return true
		}
	}
	return false
}

// Resolver finds client addresses.
type Resolver struct {
	trusted []netip.Prefix
	header  string
}

// New returns a Resolver that believes header (HeaderXForwardedFor or
// HeaderForwarded) only on requests whose peer is in trusted. One header is
// chosen, not both: a proxy that sets one passes the other through from the
// client untouched.
func New(trusted []string, header string) (*Resolver, error) {
	nets, err := ParseNetworks(trusted)
	if err != nil {
		return nil, fmt.Errorf("trusted_proxies: %w", err)
	}
	if header != HeaderXForwardedFor && header != HeaderForwarded {
		return nil, fmt.Errorf("forwarded_header: must be %q or %q (got %q)", HeaderXForwardedFor, HeaderForwarded, header)
	}
	return &Resolver{trusted: nets, header: header}, nil
}

type ctxKey struct{}

// Middleware resolves the client address and stores it in the context.
func (res *Resolver) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, res.Resolve(r))))
	})
}

// Resolve walks the forwarding chain from the peer leftwards, past trusted
// proxies, and returns the first hop that is not one: every hop left of it
// could have been written by the client. A chain of trusted proxies only
// resolves to its leftmost member; a hop that cannot be read ends the walk at
// the last good one.
func (res *Resolver) Resolve(r *http.Request) string {
	peer, ok := peerAddr(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr
	}
	if !Contains(res.trusted, peer) {
		return peer.String()
	}
	var hops []string
	if res.header == HeaderForwarded {
		hops = forwardedFor(r.Header.Values(HeaderForwarded))
	} else {
		hops = xForwardedFor(r.Header.Values(HeaderXForwardedFor))
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			break
		}
		client = a
		if !Contains(res.trusted, a) {
			break
		}
	}
	return client.String()
}

// From returns the address Middleware resolved, or the peer address for a
// request that did not pass through it.
func From(r *http.Request) string {
	if s, ok := r.Context().Value(ctxKey{}).(string); ok {
		return s
	}
	if a, ok := peerAddr(r.RemoteAddr); ok {
		return a.String()
	}
	return r.RemoteAddr
}

func peerAddr(remote string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// parseHop reads one hop: an address, with or without a port, IPv6 possibly
// in brackets. "unknown" and obfuscated identifiers (RFC 7239) are unreadable.
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && a.Is6() && a.Zone() == "" {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// xForwardedFor lists the hops of every X-Forwarded-For line, in order.
func xForwardedFor(lines []string) []string {
	var hops []string
	for _, line := range lines {
		for hop := range strings.SplitSeq(line, ",") {
			hops = append(hops, strings.TrimSpace(hop))
		}
	}
	return hops
}

// forwardedFor lists the for= node of every element of every Forwarded line
// (RFC 7239), in order; an element without one, or one that cannot be read,
// is an empty hop, which ends the walk.
func forwardedFor(lines []string) []string {
	var hops []string
	for _, line := range lines {
		for _, element := range splitOutsideQuotes(line, ',') {
			node := ""
			for _, pair := range splitOutsideQuotes(element, ';') {
				name, value, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if !ok || !strings.EqualFold(name, "for") {
					continue
				}
				node = unquote(value)
			}
			hops = append(hops, node)
		}
	}
	return hops
}

// splitOutsideQuotes splits s at sep where sep is not inside a quoted string.
func splitOutsideQuotes(s string, sep byte) []string {
	var parts []string
	quoted, escaped, start := false, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// unquote returns a token as is and a quoted string without its quotes and
// escapes; a malformed quoted string is returned empty.
func unquote(v string) string {
	if !strings.HasPrefix(v, `"`) {
		return v
	}
	if len(v) < 2 || !strings.HasSuffix(v, `"`) {
		return ""
	}
	var b strings.Builder
	inner := v[1 : len(v)-1]
	for i := 0; i < len(inner); i++ {
		if inner[i] == '\\' {
			i++
			if i == len(inner) {
				return ""
			}
		}
		b.WriteByte(inner[i])
	}
	return b.String()
}

// LimitKey is what per-address limits count addr as: the address itself for
// IPv4, its /64 for IPv6. One home or one device is handed a whole /64 and
// can pick a new address in it for every try.
func LimitKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Unmap().Is4() {
		return addr
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return addr
	}
	return p.String()
}
