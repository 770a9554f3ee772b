//go:build linux

package udp

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestWildcardSockets: the wildcard is an IPv4 and an IPv6-only socket on
// one port, and so is each per-flow source port; a Conn bound to an IPv6
// address is IPv6-only too. Without IPV6_V6ONLY, an IPv4 peer and a forged
// IPv4-mapped IPv6 source would look the same.
func TestWildcardSockets(t *testing.T) {
	family := func(s *socket) (int, bool) {
		var fam, only int
		require.NoError(t, s.rc.Control(func(fd uintptr) {
			fam, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN)
			if fam == unix.AF_INET6 {
				only, _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY)
			}
		}))
		return fam, only == 1
	}
	for _, tc := range []struct {
		name  string
		local netip.Addr
		fams  []int
	}{
		{"wildcard", netip.IPv6Unspecified(), []int{unix.AF_INET, unix.AF_INET6}},
		{"invalid", netip.Addr{}, []int{unix.AF_INET, unix.AF_INET6}},
		{"ipv4-wildcard", netip.IPv4Unspecified(), []int{unix.AF_INET}},
		{"ipv6", netip.MustParseAddr("::1"), []int{unix.AF_INET6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c *Conn
			for try := 0; ; try++ {
				var err error
				c, err = Open(Config{Local: netip.AddrPortFrom(tc.local, uint16(20000+rand.IntN(20000)))})
				if errors.Is(err, syscall.EADDRINUSE) && try < 100 {
					continue
				}
				require.NoError(t, err)
				break
			}
			defer c.Close()
			require.Len(t, c.rx, len(tc.fams))
			for i, s := range c.rx {
				fam, only := family(s)
				assert.Equal(t, tc.fams[i], fam, "receiving socket %d", i)
				assert.Equal(t, fam == unix.AF_INET6, only, "receiving socket %d: IPV6_V6ONLY", i)
				assert.Equal(t, fam == unix.AF_INET6, s.v6)
			}
			require.Len(t, c.tx, len(tc.fams)*FlowSockets)
			assert.Equal(t, FlowSockets, c.nflow)
			assert.Equal(t, len(tc.fams) == 2, c.split)
			for i, s := range c.tx {
				fam, only := family(s)
				assert.Equal(t, tc.fams[i/FlowSockets], fam, "send socket %d", i)
				assert.Equal(t, fam == unix.AF_INET6, only, "send socket %d: IPV6_V6ONLY", i)
				assert.Equal(t, c.tx[i%FlowSockets].port, s.port, "one port for both families")
			}
			assert.Equal(t, len(tc.fams) == 2, c.poll != nil, "an epoll instance for two sockets")
		})
	}
}
