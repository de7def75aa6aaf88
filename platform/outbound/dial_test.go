package outbound_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/platform/outbound"
)

// fakeDNS answers A/AAAA queries from a fixed table over an in-memory stream
// connection, so tests control name resolution without touching the network.
type fakeDNS struct {
	records map[string][]netip.Addr // fully qualified name ("x.test.") → addresses
	queries atomic.Int64
}

// resolver returns a pure-Go resolver whose every exchange goes to f.
func (f *fakeDNS) resolver() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(context.Context, string, string) (net.Conn, error) {
			client, server := net.Pipe()
			go f.serve(server)
			return client, nil
		},
	}
}

// serve answers length-prefixed (TCP framing) DNS queries on conn.
func (f *fakeDNS) serve(conn net.Conn) {
	defer conn.Close()
	for {
		var size [2]byte
		if _, err := io.ReadFull(conn, size[:]); err != nil {
			return
		}
		query := make([]byte, binary.BigEndian.Uint16(size[:]))
		if _, err := io.ReadFull(conn, query); err != nil {
			return
		}
		f.queries.Add(1)
		answer := f.answer(query)
		if answer == nil {
			return
		}
		if _, err := conn.Write(binary.BigEndian.AppendUint16(nil, uint16(len(answer)))); err != nil {
			return
		}
		if _, err := conn.Write(answer); err != nil {
			return
		}
	}
}

// answer builds the response to one query, or nil when it cannot be parsed.
func (f *fakeDNS) answer(query []byte) []byte {
	if len(query) < 12 {
		return nil
	}
	// Walk the question name.
	var labels []string
	i := 12
	for i < len(query) && query[i] != 0 {
		n := int(query[i])
		if i+1+n > len(query) {
			return nil
		}
		labels = append(labels, string(query[i+1:i+1+n]))
		i += 1 + n
	}
	end := i + 5 // zero byte + qtype + qclass
	if end > len(query) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(query[i+1 : i+3])
	name := strings.ToLower(strings.Join(labels, ".")) + "."

	var rdata [][]byte
	for _, ip := range f.records[name] {
		switch {
		case qtype == 1 && ip.Is4():
			b := ip.As4()
			rdata = append(rdata, b[:])
		case qtype == 28 && ip.Is6():
			b := ip.As16()
			rdata = append(rdata, b[:])
		}
	}
	rcode := uint16(0)
	if _, ok := f.records[name]; !ok {
		rcode = 3 // NXDOMAIN
	}

	out := append([]byte{}, query[0:2]...)                 // ID
	out = binary.BigEndian.AppendUint16(out, 0x8180|rcode) // QR RD RA
	out = binary.BigEndian.AppendUint16(out, 1)            // QDCOUNT
	out = binary.BigEndian.AppendUint16(out, uint16(len(rdata)))
	out = binary.BigEndian.AppendUint32(out, 0) // NSCOUNT, ARCOUNT
	out = append(out, query[12:end]...)
	for _, rd := range rdata {
		out = append(out, 0xc0, 0x0c) // pointer to the question name
		out = binary.BigEndian.AppendUint16(out, qtype)
		out = binary.BigEndian.AppendUint16(out, 1)  // class IN
		out = binary.BigEndian.AppendUint32(out, 60) // TTL
		out = binary.BigEndian.AppendUint16(out, uint16(len(rd)))
		out = append(out, rd...)
	}
	return out
}

// newFakeDNS returns a resolver with the given records and the fake behind it.
func newFakeDNS(records map[string][]string) (*net.Resolver, *fakeDNS) {
	f := &fakeDNS{records: map[string][]netip.Addr{}}
	for name, addrs := range records {
		for _, a := range addrs {
			f.records[name] = append(f.records[name], netip.MustParseAddr(a))
		}
	}
	return f.resolver(), f
}

// listenLoopback starts a TCP listener on 127.0.0.1 that accepts and closes
// connections, counting them.
func listenLoopback(t *testing.T) (port string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	accepted = &atomic.Int64{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			_ = c.Close()
		}
	}()
	_, port, err = net.SplitHostPort(ln.Addr().String())
	require.NoError(t, err)
	return port, accepted
}

func TestDialContext(t *testing.T) {
	t.Parallel()

	records := map[string][]string{
		"loop.test.":  {"127.0.0.1"},
		"mixed.test.": {"8.8.8.8", "127.0.0.1"},
		"meta.test.":  {"169.254.169.254"},
		"ula.test.":   {"fd00::1"},
	}

	t.Run("HostnameResolvingToLoopbackRefused", func(t *testing.T) {
		t.Parallel()
		port, accepted := listenLoopback(t)
		r, _ := newFakeDNS(records)
		dial := outbound.Policy{}.DialContext(&net.Dialer{Resolver: r})
		_, err := dial(t.Context(), "tcp", net.JoinHostPort("loop.test", port))
		require.ErrorIs(t, err, outbound.ErrForbiddenAddress)
		require.Zero(t, accepted.Load())
	})

	t.Run("AnyForbiddenRecordRefusesTheName", func(t *testing.T) {
		t.Parallel()
		// Refused before any connection is attempted, so 8.8.8.8 is never dialed.
		r, _ := newFakeDNS(records)
		dial := outbound.Policy{}.DialContext(&net.Dialer{Resolver: r})
		_, err := dial(t.Context(), "tcp", "mixed.test:443")
		require.ErrorIs(t, err, outbound.ErrForbiddenAddress)
		require.ErrorContains(t, err, "127.0.0.1")
	})

	t.Run("MetadataRefusedWithAllowPrivate", func(t *testing.T) {
		t.Parallel()
		r, _ := newFakeDNS(records)
		dial := outbound.Policy{AllowPrivate: true}.DialContext(&net.Dialer{Resolver: r})
		_, err := dial(t.Context(), "tcp", "meta.test:80")
		require.ErrorIs(t, err, outbound.ErrForbiddenAddress)
		_, err = dial(t.Context(), "tcp", "169.254.169.254:80")
		require.ErrorIs(t, err, outbound.ErrForbiddenAddress)
		_, err = dial(t.Context(), "tcp", "[::ffff:169.254.169.254]:80")
		require.ErrorIs(t, err, outbound.ErrForbiddenAddress)
	})

	t.Run("AAAARecordsChecked", func(t *testing.T) {
		t.Parallel()
		r, _ := newFakeDNS(records)
		dial := outbound.Policy{}.DialContext(&net.Dialer{Resolver: r})
		_, err := dial(t.Context(), "tcp6", "ula.test:443")
		require.ErrorIs(t, err, outbound.ErrForbiddenAddress)
	})

	t.Run("ResolvesOnceAndConnectsToCheckedIP", func(t *testing.T) {
		t.Parallel()
		port, accepted := listenLoopback(t)
		r, fake := newFakeDNS(records)
		dial := outbound.Policy{AllowPrivate: true}.DialContext(&net.Dialer{Resolver: r})
		conn, err := dial(t.Context(), "tcp4", net.JoinHostPort("loop.test", port))
		require.NoError(t, err)
		require.Equal(t, "127.0.0.1:"+port, conn.RemoteAddr().String())
		require.NoError(t, conn.Close())
		require.Equal(t, int64(1), fake.queries.Load(), "exactly one A query: the name is not resolved again")
		require.Eventually(t, func() bool { return accepted.Load() == 1 }, 2*time.Second, 10*time.Millisecond)
	})

	t.Run("UnknownHostFails", func(t *testing.T) {
		t.Parallel()
		r, _ := newFakeDNS(records)
		dial := outbound.Policy{AllowPrivate: true}.DialContext(&net.Dialer{Resolver: r})
		_, err := dial(t.Context(), "tcp", "nope.test:80")
		require.Error(t, err)
		require.NotErrorIs(t, err, outbound.ErrForbiddenAddress)
	})

	t.Run("LoopbackLiteral", func(t *testing.T) {
		t.Parallel()
		port, accepted := listenLoopback(t)
		addr := net.JoinHostPort("127.0.0.1", port)

		_, err := outbound.Policy{}.DialContext(nil)(t.Context(), "tcp", addr)
		require.ErrorIs(t, err, outbound.ErrForbiddenAddress)
		require.Zero(t, accepted.Load())

		conn, err := outbound.Policy{AllowPrivate: true}.DialContext(nil)(t.Context(), "tcp", addr)
		require.NoError(t, err)
		require.NoError(t, conn.Close())
	})

	t.Run("PortAllowlist", func(t *testing.T) {
		t.Parallel()
		port, _ := listenLoopback(t)
		addr := net.JoinHostPort("127.0.0.1", port)
		p, err := strconv.Atoi(port)
		require.NoError(t, err)

		_, err = outbound.Policy{AllowPrivate: true, AllowedPorts: []int{80, 443}}.DialContext(nil)(t.Context(), "tcp", addr)
		require.ErrorIs(t, err, outbound.ErrForbiddenAddress)

		conn, err := outbound.Policy{AllowPrivate: true, AllowedPorts: []int{443, p}}.DialContext(nil)(t.Context(), "tcp", addr)
		require.NoError(t, err)
		require.NoError(t, conn.Close())

		_, err = outbound.Policy{AllowPrivate: true}.DialContext(nil)(t.Context(), "tcp", "127.0.0.1:0")
		require.ErrorIs(t, err, outbound.ErrForbiddenAddress)
	})

	t.Run("BadInputsRefused", func(t *testing.T) {
		t.Parallel()
		dial := outbound.Policy{AllowPrivate: true}.DialContext(nil)
		for _, tc := range []struct{ network, addr string }{
			{"udp", "127.0.0.1:53"},
			{"unix", "/tmp/sock"},
			{"tcp", ":80"},
			{"tcp", "127.0.0.1:http"},
		} {
			_, err := dial(t.Context(), tc.network, tc.addr)
			require.ErrorIs(t, err, outbound.ErrForbiddenAddress, "%s %s", tc.network, tc.addr)
		}
	})
}
