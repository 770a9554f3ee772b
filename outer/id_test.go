package outer

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/iphdr"
)

// TestIDSkipsZero sets the counter just below the wrap and checks that the
// ID after 0xffff is 1.
func TestIDSkipsZero(t *testing.T) {
	e, err := NewEncapsulator(Config{Local: mustAddr("192.0.2.1"), Remote: mustAddr("192.0.2.2")})
	require.NoError(t, err)
	e.id.Store(0xfffe)
	var got []uint16
	b := make([]byte, 20+20)
	iphdr.IPv4(b[20:]).Encode(&iphdr.IPv4Fields{TotalLen: 20, TTL: 1, Src: mustAddr("192.0.2.3"), Dst: mustAddr("192.0.2.4")})
	for range 3 {
		_, err := e.Prepend(b, 20, ProtoIPIP, Inner{Version: 4, TTL: 1})
		require.NoError(t, err)
		got = append(got, iphdr.IPv4(b).ID())
	}
	assert.Equal(t, []uint16{0xffff, 1, 2}, got)
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
