package outbound

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
)

// DialContext returns a dial function for [net/http.Transport.DialContext]
// or an SMTP client that enforces the policy. It resolves the host itself
// (with d.Resolver, or the default resolver), refuses the connection when any
// resolved address is forbidden, and then dials only the checked IP literals,
// so the name is never resolved a second time. The dialer's control hook
// re-checks the address of the actual socket. Only the tcp, tcp4 and tcp6
// networks are supported. Refusals wrap [ErrForbiddenAddress]. d may be nil;
// it is copied, never modified.
func (p Policy) DialContext(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var base net.Dialer
	if d != nil {
		base = *d
	}
	dialer := base
	dialer.Control = nil
	dialer.ControlContext = p.controlFunc(base.Control, base.ControlContext)

	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		ips, port, err := p.resolve(ctx, base.Resolver, network, addr)
		if err != nil {
			return nil, err
		}
		var errs []error
		for _, ip := range ips {
			conn, err := dialer.DialContext(ctx, network, netip.AddrPortFrom(ip, port).String())
			if err == nil {
				return conn, nil
			}
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
		return nil, fmt.Errorf("dial %s: %w", addr, errors.Join(errs...))
	}
}

// resolve splits addr, checks the network and port, resolves the host once
// and checks every resulting address.
func (p Policy) resolve(ctx context.Context, r *net.Resolver, network, addr string) ([]netip.Addr, uint16, error) {
	lookupNet, err := lookupNetwork(network)
	if err != nil {
		return nil, 0, err
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, 0, fmt.Errorf("split %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, 0, fmt.Errorf("port %q is not numeric: %w", portStr, ErrForbiddenAddress)
	}
	if err := p.checkPort(port); err != nil {
		return nil, 0, err
	}
	if host == "" {
		return nil, 0, fmt.Errorf("empty host in %q: %w", addr, ErrForbiddenAddress)
	}

	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		if r == nil {
			r = net.DefaultResolver
		}
		ips, err = r.LookupNetIP(ctx, lookupNet, host)
		if err != nil {
			return nil, 0, fmt.Errorf("resolve %s: %w", host, err)
		}
		if len(ips) == 0 {
			return nil, 0, fmt.Errorf("resolve %s: no addresses", host)
		}
	}
	for i, ip := range ips {
		if err := p.CheckAddr(ip); err != nil {
			return nil, 0, fmt.Errorf("connect to %s: %w", host, err)
		}
		ips[i] = ip.Unmap()
	}
	return ips, uint16(port), nil
}

// lookupNetwork maps a dial network to the resolver network.
func lookupNetwork(network string) (string, error) {
	switch network {
	case "tcp":
		return "ip", nil
	case "tcp4":
		return "ip4", nil
	case "tcp6":
		return "ip6", nil
	default:
		return "", fmt.Errorf("network %q is not supported: %w", network, ErrForbiddenAddress)
	}
}

// controlFunc returns a [net.Dialer.ControlContext] hook that re-checks the
// socket's remote address against the policy before connecting, then runs
// the dialer's own hook, if any.
func (p Policy) controlFunc(
	control func(network, address string, c syscall.RawConn) error,
	controlCtx func(ctx context.Context, network, address string, c syscall.RawConn) error,
) func(ctx context.Context, network, address string, c syscall.RawConn) error {
	return func(ctx context.Context, network, address string, c syscall.RawConn) error {
		if err := p.checkSocketAddr(address); err != nil {
			return err
		}
		switch {
		case controlCtx != nil:
			return controlCtx(ctx, network, address, c)
		case control != nil:
			return control(network, address, c)
		default:
			return nil
		}
	}
}

// checkSocketAddr checks an "ip:port" socket address.
func (p Policy) checkSocketAddr(address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("socket address %q: %w", address, ErrForbiddenAddress)
	}
	if err := p.checkPort(int(ap.Port())); err != nil {
		return err
	}
	return p.CheckAddr(ap.Addr())
}
