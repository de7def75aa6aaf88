package outbound_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/authos/authos/platform/outbound"
)

func TestCheckAddr(t *testing.T) {
	t.Parallel()

	tests := []struct {
		addr        string
		allowed     bool // with the zero Policy
		allowedPriv bool // with AllowPrivate
	}{
		{"8.8.8.8", true, true},
		{"1.1.1.1", true, true},
		{"172.32.0.1", true, true},
		{"100.128.0.1", true, true},
		{"2001:4860:4860::8888", true, true},
		{"2606:4700:4700::1111", true, true},
		{"::ffff:8.8.8.8", true, true},
		{"64:ff9b::808:808", true, true},
		{"2002:808:808::1", true, true},

		{"127.0.0.1", false, true},
		{"127.255.255.254", false, true},
		{"::1", false, true},
		{"10.1.2.3", false, true},
		{"172.16.0.1", false, true},
		{"172.31.255.255", false, true},
		{"192.168.1.1", false, true},
		{"100.64.0.1", false, true},
		{"100.127.255.255", false, true},
		{"169.254.1.1", false, true},
		{"fe80::1", false, true},
		{"fe80::1%eth0", false, true},
		{"fc00::1", false, true},
		{"fd12:3456::1", false, true},
		{"::ffff:127.0.0.1", false, true},
		{"::ffff:10.0.0.1", false, true},
		{"::127.0.0.1", false, true},
		{"64:ff9b::a00:1", false, true},
		{"64:ff9b::7f00:1", false, true},
		{"2002:c0a8:101::1", false, true},

		{"169.254.169.254", false, false},
		{"169.254.170.2", false, false},
		{"100.100.100.200", false, false},
		{"fd00:ec2::254", false, false},
		{"::ffff:169.254.169.254", false, false},
		{"64:ff9b::a9fe:a9fe", false, false},
		{"2002:a9fe:a9fe::", false, false},
		{"0.0.0.0", false, false},
		{"0.1.2.3", false, false},
		{"::", false, false},
		{"224.0.0.1", false, false},
		{"239.255.255.250", false, false},
		{"ff02::1", false, false},
		{"255.255.255.255", false, false},
		{"240.0.0.1", false, false},
		{"198.18.0.1", false, false},
		{"198.19.255.255", false, false},
		{"192.0.2.1", false, false},
		{"198.51.100.1", false, false},
		{"203.0.113.1", false, false},
		{"2001:db8::1", false, false},
		{"2001::1", false, false},
		{"100::1", false, false},
		{"::ffff:0.0.0.0", false, false},
		{"64:ff9b::ffff:ffff", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			t.Parallel()
			ip := netip.MustParseAddr(tt.addr)

			err := outbound.Policy{}.CheckAddr(ip)
			if tt.allowed {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, outbound.ErrForbiddenAddress)
			}

			err = outbound.Policy{AllowPrivate: true}.CheckAddr(ip)
			if tt.allowedPriv {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, outbound.ErrForbiddenAddress)
			}
		})
	}
}

func TestCheckAddrInvalid(t *testing.T) {
	t.Parallel()
	require.ErrorIs(t, outbound.Policy{AllowPrivate: true}.CheckAddr(netip.Addr{}), outbound.ErrForbiddenAddress)
}

func TestCheckAddrErrorNamesReason(t *testing.T) {
	t.Parallel()
	err := outbound.Policy{}.CheckAddr(netip.MustParseAddr("::ffff:10.0.0.1"))
	require.ErrorContains(t, err, "private")
	err = outbound.Policy{AllowPrivate: true}.CheckAddr(netip.MustParseAddr("169.254.169.254"))
	require.ErrorContains(t, err, "metadata")
}
