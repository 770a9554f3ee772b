package outer_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap"
	"github.com/ipencap/ipencap/iphdr"
	"github.com/ipencap/ipencap/outer"
)

// TestParseMappedAddr is the regression test for an IPv6 packet passing
// for one from an IPv4 peer: an IPv6 outer header whose source (or
// destination) is IPv4-mapped is refused, so it can never reach the lookup
// of an IPv4 tunnel.
func TestParseMappedAddr(t *testing.T) {
	mapped := netip.AddrFrom16(netip.MustParseAddr("198.51.100.2").As16())
	require.True(t, mapped.Is4In6())
	for _, tt := range []struct {
		name     string
		src, dst netip.Addr
	}{
		{"mapped source", mapped, outer6Dst},
		{"mapped destination", outer6Src, mapped},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := packet6(0, 40+24, 64, 0)
			iphdr.IPv6(b).SetNextHeader(uint8(outer.ProtoGRE))
			copy(b[8:24], tt.src.AsSlice())
			copy(b[24:40], tt.dst.AsSlice())
			o, payload, err := outer.Parse(b)
			require.ErrorIs(t, err, outer.ErrMappedAddr)
			require.ErrorIs(t, err, ipencap.ErrFrame)
			assert.Nil(t, payload)
			assert.Equal(t, outer.Outer{}, o)
		})
	}
	// The same packet with ordinary addresses parses.
	b := packet6(0, 40+24, 64, 0)
	iphdr.IPv6(b).SetNextHeader(uint8(outer.ProtoGRE))
	o, payload, err := outer.Parse(b)
	require.NoError(t, err)
	assert.Len(t, payload, 24)
	assert.Equal(t, outer.ProtoGRE, o.Protocol)
	assert.Equal(t, 40, o.HeaderLen)
	assert.Equal(t, 64, o.Len)
	assert.True(t, o.Src.Is6() && !o.Src.Is4In6())
}

// TestParseLen: Len is the declared length; link padding after it is not
// part of the payload.
func TestParseLen(t *testing.T) {
	b := append(packet4(0, 60, 64, 0, false), 0, 0, 0, 0)
	o, payload, err := outer.Parse(b)
	require.NoError(t, err)
	assert.Equal(t, 60, o.Len)
	assert.Equal(t, 20, o.HeaderLen)
	assert.Equal(t, b[20:60], payload)
	assert.Equal(t, outer.IPProto(17), o.Protocol)
}

// TestErrorKinds: every per-packet sentinel of the package matches exactly
// one kind of package ipencap.
func TestErrorKinds(t *testing.T) {
	kinds := []error{ipencap.ErrFrame, ipencap.ErrChecksum, ipencap.ErrProtocol, ipencap.ErrSequence}
	for _, err := range []error{outer.ErrTruncated, outer.ErrVersion, outer.ErrHeaderLen, outer.ErrChecksum,
		outer.ErrFragment, outer.ErrOption, outer.ErrMappedAddr, outer.ErrInnerTruncated, outer.ErrInnerVersion,
		outer.ErrInnerHeaderLen, outer.ErrInnerLength, outer.ErrInnerTTL, outer.ErrECNDrop, outer.ErrShortBuffer,
		outer.ErrTooLong} {
		n := 0
		for _, k := range kinds {
			if errorsIs(err, k) {
				n++
			}
		}
		assert.Equal(t, 1, n, "%v matches %d kinds", err, n)
	}
	assert.ErrorIs(t, outer.ErrChecksum, ipencap.ErrChecksum)
}

// TestAllocs: Prepend, InnerOf, Parse and ApplyECN allocate nothing, on
// success and on error.
func TestAllocs(t *testing.T) {
	e, err := outer.NewEncapsulator(outer.Config{Local: outer6Src, Remote: outer6Dst, TTL: 64})
	require.NoError(t, err)
	in4 := packet4(40, 1400, 64, 0x02, true)
	p := packet4(0, 100, 64, 0, false)
	bad := append([]byte(nil), p...)
	bad[10]++
	cases := map[string]func(){
		"prepend":        func() { _, _ = e.Prepend(in4, 40, outer.ProtoGRE, outer.Inner{}) },
		"prepend short":  func() { _, _ = e.Prepend(in4, 39, outer.ProtoGRE, outer.Inner{}) },
		"inner of":       func() { _, _ = outer.InnerOf(in4[40:]) },
		"inner of error": func() { _, _ = outer.InnerOf(in4[40:100]) },
		"parse":          func() { _, _, _ = outer.Parse(p) },
		"parse checksum": func() { _, _, _ = outer.Parse(bad) },
		"apply ecn":      func() { _, _ = outer.ApplyECN(in4[40:], outer.CE) },
	}
	for name, fn := range cases {
		t.Run(name, func(t *testing.T) {
			require.Zero(t, testing.AllocsPerRun(1000, fn))
		})
	}
}
