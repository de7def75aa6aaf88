package outbound_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/platform/outbound"
)

// newCountingServer starts a loopback HTTP server that answers "ok" at / and
// redirects /redirect to /, counting requests per path.
func newCountingServer(t *testing.T) (*httptest.Server, *atomic.Int64, *atomic.Int64) {
	t.Helper()
	var root, redirect atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		root.Add(1)
		_, _ = w.Write([]byte("ok"))
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		redirect.Add(1)
		http.Redirect(w, r, "/", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &root, &redirect
}

func TestHTTPClient(t *testing.T) {
	t.Parallel()

	t.Run("RefusesLoopbackByDefault", func(t *testing.T) {
		t.Parallel()
		srv, root, _ := newCountingServer(t)
		resp, err := outbound.NewHTTPClient(outbound.Policy{}, time.Second).Get(srv.URL)
		if resp != nil {
			_ = resp.Body.Close()
		}
		require.ErrorIs(t, err, outbound.ErrForbiddenAddress)
		require.Zero(t, root.Load())
	})

	t.Run("RefusesLocalhostName", func(t *testing.T) {
		t.Parallel()
		srv, root, _ := newCountingServer(t)
		url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
		resp, err := outbound.NewHTTPClient(outbound.Policy{}, time.Second).Get(url)
		if resp != nil {
			_ = resp.Body.Close()
		}
		require.ErrorIs(t, err, outbound.ErrForbiddenAddress)
		require.Zero(t, root.Load())
	})

	t.Run("ReachesLoopbackWithAllowPrivate", func(t *testing.T) {
		t.Parallel()
		srv, root, _ := newCountingServer(t)
		client := outbound.NewHTTPClient(outbound.Policy{AllowPrivate: true}, time.Second)
		for _, url := range []string{srv.URL, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)} {
			resp, err := client.Get(url)
			require.NoError(t, err)
			body, err := outbound.ReadLimited(resp.Body, 1024)
			require.NoError(t, resp.Body.Close())
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, "ok", string(body))
		}
		require.Equal(t, int64(2), root.Load())
	})

	t.Run("DoesNotFollowRedirects", func(t *testing.T) {
		t.Parallel()
		srv, root, redirect := newCountingServer(t)
		client := outbound.NewHTTPClient(outbound.Policy{AllowPrivate: true}, time.Second)
		resp, err := client.Get(srv.URL + "/redirect")
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusFound, resp.StatusCode)
		require.Equal(t, "/", resp.Header.Get("Location"))
		require.Equal(t, int64(1), redirect.Load())
		require.Zero(t, root.Load())
	})

	t.Run("PortAllowlist", func(t *testing.T) {
		t.Parallel()
		srv, root, _ := newCountingServer(t)
		policy := outbound.Policy{AllowPrivate: true, AllowedPorts: []int{80, 443}}
		resp, err := outbound.NewHTTPClient(policy, time.Second).Get(srv.URL)
		if resp != nil {
			_ = resp.Body.Close()
		}
		require.ErrorIs(t, err, outbound.ErrForbiddenAddress)
		require.Zero(t, root.Load())
	})

	t.Run("IgnoresProxyEnvironment", func(t *testing.T) {
		t.Parallel()
		transport, ok := outbound.NewHTTPClient(outbound.Policy{}, 0).Transport.(*http.Transport)
		require.True(t, ok)
		require.Nil(t, transport.Proxy)
		require.Positive(t, transport.TLSHandshakeTimeout)
		require.Positive(t, transport.ResponseHeaderTimeout)
	})

	t.Run("DefaultTimeout", func(t *testing.T) {
		t.Parallel()
		require.Equal(t, outbound.DefaultTimeout, outbound.NewHTTPClient(outbound.Policy{}, 0).Timeout)
		require.Equal(t, 3*time.Second, outbound.NewHTTPClient(outbound.Policy{}, 3*time.Second).Timeout)
	})
}

func TestReadLimited(t *testing.T) {
	t.Parallel()

	t.Run("UnderLimit", func(t *testing.T) {
		t.Parallel()
		got, err := outbound.ReadLimited(strings.NewReader("hello"), 10)
		require.NoError(t, err)
		require.Equal(t, "hello", string(got))
	})

	t.Run("ExactlyLimit", func(t *testing.T) {
		t.Parallel()
		got, err := outbound.ReadLimited(strings.NewReader("hello"), 5)
		require.NoError(t, err)
		require.Equal(t, "hello", string(got))
	})

	t.Run("OverLimit", func(t *testing.T) {
		t.Parallel()
		got, err := outbound.ReadLimited(bytes.NewReader(make([]byte, 1<<20)), 100)
		require.ErrorIs(t, err, outbound.ErrBodyTooLarge)
		require.Len(t, got, 100)
	})

	t.Run("ZeroLimit", func(t *testing.T) {
		t.Parallel()
		got, err := outbound.ReadLimited(strings.NewReader(""), 0)
		require.NoError(t, err)
		require.Empty(t, got)
		_, err = outbound.ReadLimited(strings.NewReader("x"), 0)
		require.ErrorIs(t, err, outbound.ErrBodyTooLarge)
	})

	t.Run("NegativeLimit", func(t *testing.T) {
		t.Parallel()
		_, err := outbound.ReadLimited(strings.NewReader("x"), -1)
		require.Error(t, err)
	})
}
