package httpapi

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNewServer(t *testing.T) {
	t.Parallel()

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		srv := NewServer(http.NotFoundHandler(), ":8080", ServerOptions{})
		require.Equal(t, ":8080", srv.Addr)
		require.Equal(t, 10*time.Second, srv.ReadHeaderTimeout)
		require.Equal(t, 120*time.Second, srv.IdleTimeout)
		require.Equal(t, DefaultRequestTimeout, srv.ReadTimeout)
		require.Greater(t, srv.WriteTimeout, DefaultRequestTimeout)
		require.NotNil(t, srv.ErrorLog)
		require.Positive(t, srv.MaxHeaderBytes)
	})

	t.Run("WriteTimeoutFollowsRequestTimeout", func(t *testing.T) {
		t.Parallel()
		srv := NewServer(http.NotFoundHandler(), ":8080", ServerOptions{RequestTimeout: time.Minute})
		require.Greater(t, srv.WriteTimeout, time.Minute)
		srv = NewServer(http.NotFoundHandler(), ":8080", ServerOptions{WriteTimeout: 5 * time.Minute})
		require.Equal(t, 5*time.Minute, srv.WriteTimeout)
	})
}
