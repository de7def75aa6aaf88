package outbound_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"

	"github.com/authos/authos/platform/outbound"
)

// startDNS serves A records for names (lowercase, with the trailing dot)
// over UDP on loopback and returns its address. Other names get NXDOMAIN.
func startDNS(t *testing.T, names map[string][4]byte) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			ip, known := names[strings.ToLower(q.Name.String())]
			rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
			if !known {
				rh.RCode = dnsmessage.RCodeNameError
			}
			b := dnsmessage.NewBuilder(nil, rh)
			_ = b.StartQuestions()
			_ = b.Question(q)
			_ = b.StartAnswers()
			if known && q.Type == dnsmessage.TypeA {
				_ = b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: ip})
			}
			out, err := b.Finish()
			if err == nil {
				_, _ = pc.WriteTo(out, from)
			}
		}
	}()
	return pc.LocalAddr().String()
}

// resolverFor returns a resolver that sends every query to server and
// counts the connections it opens.
func resolverFor(server string, dials *atomic.Int64) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, server)
	}}
}

func TestHTTPClientWithResolver(t *testing.T) {
	t.Parallel()
	srv, root, _ := newCountingServer(t)
	_, port, err := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	require.NoError(t, err)
	dns := startDNS(t, map[string][4]byte{"svc.resolver.test.": {127, 0, 0, 1}})
	url := "http://svc.resolver.test:" + port + "/"

	get := func(t *testing.T, c *http.Client) error {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
		require.NoError(t, err)
		resp, err := c.Do(req)
		if resp != nil {
			_ = resp.Body.Close()
		}
		return err
	}

	t.Run("ResolvesWithTheGivenResolver", func(t *testing.T) {
		t.Parallel()
		var dials atomic.Int64
		c := outbound.NewHTTPClientWithResolver(outbound.Policy{AllowPrivate: true}, 2*time.Second, resolverFor(dns, &dials))
		require.NoError(t, get(t, c))
		require.Positive(t, dials.Load())
		require.Positive(t, root.Load())
	})

	t.Run("ChecksTheResolvedAddresses", func(t *testing.T) {
		t.Parallel()
		var dials atomic.Int64
		c := outbound.NewHTTPClientWithResolver(outbound.Policy{}, 2*time.Second, resolverFor(dns, &dials))
		err := get(t, c)
		require.ErrorIs(t, err, outbound.ErrForbiddenAddress)
		require.Contains(t, err.Error(), "127.0.0.1 is loopback")
		require.Positive(t, dials.Load())
	})

	t.Run("ResolverFailureIsNotARefusal", func(t *testing.T) {
		t.Parallel()
		broken := errors.New("test resolver is down")
		r := &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) { return nil, broken }}
		err := get(t, outbound.NewHTTPClientWithResolver(outbound.Policy{AllowPrivate: true}, 2*time.Second, r))
		require.Error(t, err)
		require.NotErrorIs(t, err, outbound.ErrForbiddenAddress)
	})
}
