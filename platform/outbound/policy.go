package outbound

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// ErrForbiddenAddress is wrapped by every refusal of a destination address,
// port or network made by a [Policy].
var ErrForbiddenAddress = errors.New("destination address is not allowed")

// Policy decides which destinations outbound connections may reach. The zero
// value is the production policy: public unicast addresses only, any port.
type Policy struct {
	// AllowPrivate (OUTBOUND_ALLOW_PRIVATE, development and tests only) allows
	// loopback, private (RFC 1918, fc00::/7), shared (100.64.0.0/10) and
	// link-local destinations. Cloud metadata addresses stay refused.
	AllowPrivate bool
	// AllowedPorts restricts destination ports, e.g. []int{80, 443} for
	// webhooks. Empty (nil) allows any port from 1 to 65535.
	AllowedPorts []int
}

// addrClass is why an address is special.
type addrClass int

const (
	classPublic   addrClass = iota // ordinary global unicast
	classPrivate                   // refused unless AllowPrivate
	classReserved                  // always refused: never a valid destination
	classMetadata                  // always refused: cloud instance metadata
)

// rangeRule names one special-purpose range.
type rangeRule struct {
	prefix netip.Prefix
	class  addrClass
	name   string
}

// metadataAddrs returns the cloud instance metadata endpoints, which are
// refused even when AllowPrivate is set.
func metadataAddrs() []netip.Addr {
	return []netip.Addr{
		netip.MustParseAddr("169.254.169.254"), // AWS, GCP, Azure, OCI, DigitalOcean, ...
		netip.MustParseAddr("169.254.170.2"),   // AWS ECS task metadata
		netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
		netip.MustParseAddr("168.63.129.16"),   // Azure wireserver
		netip.MustParseAddr("fd00:ec2::254"),   // AWS IMDS over IPv6
	}
}

// v4Rules returns the special-purpose IPv4 ranges (IANA registry, RFC 6890).
func v4Rules() []rangeRule {
	return []rangeRule{
		{netip.MustParsePrefix("0.0.0.0/8"), classReserved, "this-network"},
		{netip.MustParsePrefix("10.0.0.0/8"), classPrivate, "private"},
		{netip.MustParsePrefix("100.64.0.0/10"), classPrivate, "shared (CGNAT)"},
		{netip.MustParsePrefix("127.0.0.0/8"), classPrivate, "loopback"},
		{netip.MustParsePrefix("169.254.0.0/16"), classPrivate, "link-local"},
		{netip.MustParsePrefix("172.16.0.0/12"), classPrivate, "private"},
		{netip.MustParsePrefix("192.0.0.0/24"), classReserved, "IETF protocol assignment"},
		{netip.MustParsePrefix("192.0.2.0/24"), classReserved, "documentation"},
		{netip.MustParsePrefix("192.88.99.0/24"), classReserved, "6to4 relay anycast"},
		{netip.MustParsePrefix("192.168.0.0/16"), classPrivate, "private"},
		{netip.MustParsePrefix("198.18.0.0/15"), classReserved, "benchmarking"},
		{netip.MustParsePrefix("198.51.100.0/24"), classReserved, "documentation"},
		{netip.MustParsePrefix("203.0.113.0/24"), classReserved, "documentation"},
		{netip.MustParsePrefix("224.0.0.0/4"), classReserved, "multicast"},
		{netip.MustParsePrefix("240.0.0.0/4"), classReserved, "reserved/broadcast"},
	}
}

// v6Rules returns the special-purpose IPv6 ranges checked after embedded IPv4
// forms have been handled. Anything outside 2000::/3 is refused separately.
func v6Rules() []rangeRule {
	return []rangeRule{
		{netip.MustParsePrefix("::1/128"), classPrivate, "loopback"},
		{netip.MustParsePrefix("64:ff9b:1::/48"), classPrivate, "local-use NAT64"},
		{netip.MustParsePrefix("fc00::/7"), classPrivate, "unique local"},
		{netip.MustParsePrefix("fe80::/10"), classPrivate, "link-local"},
		{netip.MustParsePrefix("fec0::/10"), classPrivate, "site-local"},
		{netip.MustParsePrefix("100::/64"), classReserved, "discard-only"},
		{netip.MustParsePrefix("2001::/32"), classReserved, "Teredo"},
		{netip.MustParsePrefix("2001:2::/48"), classReserved, "benchmarking"},
		{netip.MustParsePrefix("2001:10::/28"), classReserved, "ORCHID"},
		{netip.MustParsePrefix("2001:20::/28"), classReserved, "ORCHIDv2"},
		{netip.MustParsePrefix("2001:db8::/32"), classReserved, "documentation"},
		{netip.MustParsePrefix("3fff::/20"), classReserved, "documentation"},
		{netip.MustParsePrefix("ff00::/8"), classReserved, "multicast"},
	}
}

// CheckAddr returns nil when ip may be connected to under the policy, and an
// error wrapping [ErrForbiddenAddress] otherwise. IPv4-mapped,
// IPv4-compatible, NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses are
// judged by the IPv4 address they embed. Metadata addresses are refused even
// when AllowPrivate is set.
func (p Policy) CheckAddr(ip netip.Addr) error {
	class, name := classify(ip)
	switch {
	case class == classPublic, class == classPrivate && p.AllowPrivate:
		return nil
	default:
		return fmt.Errorf("%s is %s: %w", ip, name, ErrForbiddenAddress)
	}
}

// classify reports the class of ip and a short name for error messages.
func classify(ip netip.Addr) (addrClass, string) {
	if !ip.IsValid() {
		return classReserved, "invalid"
	}
	ip = ip.WithZone("").Unmap()
	if slices.Contains(metadataAddrs(), ip) {
		return classMetadata, "a cloud metadata address"
	}
	if ip.Is4() {
		for _, r := range v4Rules() {
			if r.prefix.Contains(ip) {
				return r.class, r.name
			}
		}
		return classPublic, "public"
	}
	if ip.IsUnspecified() {
		return classReserved, "unspecified"
	}
	if v4, ok := embeddedV4(ip); ok {
		class, name := classify(v4)
		return class, name + " (embedded in " + ip.String() + ")"
	}
	for _, r := range v6Rules() {
		if r.prefix.Contains(ip) {
			return r.class, r.name
		}
	}
	if !netip.MustParsePrefix("2000::/3").Contains(ip) {
		return classReserved, "outside global unicast"
	}
	return classPublic, "public"
}

// embeddedV4 extracts the IPv4 address carried by IPv4-compatible (::/96,
// deprecated), NAT64 well-known prefix (64:ff9b::/96) and 6to4 (2002::/16)
// addresses. ::1 is left to the loopback rule.
func embeddedV4(ip netip.Addr) (netip.Addr, bool) {
	b := ip.As16()
	switch {
	case ip == netip.IPv6Loopback():
		return netip.Addr{}, false
	case netip.MustParsePrefix("::/96").Contains(ip),
		netip.MustParsePrefix("64:ff9b::/96").Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case netip.MustParsePrefix("2002::/16").Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	default:
		return netip.Addr{}, false
	}
}

// checkPort returns an error wrapping [ErrForbiddenAddress] when port is out
// of range or not in AllowedPorts.
func (p Policy) checkPort(port int) error {
	if port < 1 || port > 65535 {
		return fmt.Errorf("port %d is out of range: %w", port, ErrForbiddenAddress)
	}
	if len(p.AllowedPorts) > 0 && !slices.Contains(p.AllowedPorts, port) {
		return fmt.Errorf("port %d is not in the allowed ports: %w", port, ErrForbiddenAddress)
	}
	return nil
}
