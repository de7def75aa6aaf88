package outbound

import (
	"context"
	"net"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestControlFunc checks the socket-level second line of defence directly:
// it must refuse a forbidden socket address even if resolution were bypassed,
// and run the dialer's own hook only for allowed addresses.
func TestControlFunc(t *testing.T) {
	t.Parallel()

	var called []string
	inner := func(_ context.Context, _, address string, _ syscall.RawConn) error {
		called = append(called, address)
		return nil
	}

	control := Policy{}.controlFunc(nil, inner)
	require.ErrorIs(t, control(t.Context(), "tcp4", "127.0.0.1:80", nil), ErrForbiddenAddress)
	require.ErrorIs(t, control(t.Context(), "tcp6", "[::ffff:10.0.0.1]:80", nil), ErrForbiddenAddress)
	require.ErrorIs(t, control(t.Context(), "tcp4", "not-an-address", nil), ErrForbiddenAddress)
	require.NoError(t, control(t.Context(), "tcp4", "8.8.8.8:443", nil))

	private := Policy{AllowPrivate: true, AllowedPorts: []int{443}}.controlFunc(nil, inner)
	require.ErrorIs(t, private(t.Context(), "tcp4", "169.254.169.254:443", nil), ErrForbiddenAddress)
	require.ErrorIs(t, private(t.Context(), "tcp4", "127.0.0.1:80", nil), ErrForbiddenAddress)
	require.NoError(t, private(t.Context(), "tcp4", "127.0.0.1:443", nil))

	require.Equal(t, []string{"8.8.8.8:443", "127.0.0.1:443"}, called)
}

// TestControlFuncLegacyHook checks that a dialer's plain Control hook still runs.
func TestControlFuncLegacyHook(t *testing.T) {
	t.Parallel()

	ran := false
	d := &net.Dialer{Control: func(string, string, syscall.RawConn) error {
		ran = true
		return nil
	}}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()

	conn, err := Policy{AllowPrivate: true}.DialContext(d)(t.Context(), "tcp", ln.Addr().String())
	require.NoError(t, err)
	require.NoError(t, conn.Close())
	require.True(t, ran)
}
