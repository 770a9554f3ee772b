package ipip_test

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/iphdr"
	"github.com/ipencap/ipencap/ipip"
	"github.com/ipencap/ipencap/outer"
)

// tunnelPacket returns a freshly encapsulated packet of the given kind
// (inner n bytes, TTL 64, TOS 0).
func tunnelPacket(t testing.TB, kind tunnelKind, n int) []byte {
	e, err := ipip.NewEncapsulator(ipip.Config{Local: kind.local, Remote: kind.remote, TTL: 64})
	require.NoError(t, err)
	b := kind.inner(e.Overhead(), n, 64, 0)
	start, err := e.Encap(b, e.Overhead())
	require.NoError(t, err)
	return b[start:]
}

func TestDecapErrors(t *testing.T) {
	v4 := func(f func(b []byte)) []byte { // 4in4, outer fields edited, checksum fixed
		b := tunnelPacket(t, tunnelKinds[0], 60)
		f(b)
		iphdr.IPv4(b).ComputeChecksum()
		return b
	}
	v6 := func(kind int, f func(b []byte)) []byte {
		b := tunnelPacket(t, tunnelKinds[kind], 60)
		f(b)
		return b
	}
	tests := []struct {
		name      string
		b         []byte
		err       error
		outerSeen bool // Decap returns the outer fields with the error
	}{
		{"empty", nil, outer.ErrTruncated, false},
		{"ipv4 header cut", v4(func([]byte) {})[:19], outer.ErrTruncated, false},
		{"version 5", v4(func(b []byte) { b[0] = 0x55 }), outer.ErrVersion, false},
		{"version 0", make([]byte, 40), outer.ErrVersion, false},
		{"IHL 4", v4(func(b []byte) { b[0] = 0x44 }), outer.ErrHeaderLen, false},
		{"IHL beyond the buffer", v4(func(b []byte) { b[0] = 0x4f })[:59], outer.ErrTruncated, false},
		{"total length below IHL", v4(func(b []byte) { iphdr.IPv4(b).SetTotalLen(19) }), outer.ErrHeaderLen, false},
		{"total length beyond the buffer", v4(func(b []byte) {})[:79], outer.ErrTruncated, false},
		{"bad checksum", func() []byte { b := v4(func([]byte) {}); b[8]--; return b }(), outer.ErrChecksum, false},
		{"MF set", v4(func(b []byte) { iphdr.IPv4(b).SetFlagsFragOff(iphdr.IPv4FlagMF) }), outer.ErrFragment, false},
		{"fragment offset", v4(func(b []byte) { iphdr.IPv4(b).SetFlagsFragOff(185) }), outer.ErrFragment, false},
		{"protocol 47", v4(func(b []byte) { iphdr.IPv4(b).SetProtocol(47) }), ipip.ErrProtocol, true},
		{"protocol 4 over IPv6 inner", v6(1, func(b []byte) { b[9] = 4; iphdr.IPv4(b).ComputeChecksum() }), ipip.ErrVersionMismatch, true},
		{"protocol 41 over IPv4 inner", v4(func(b []byte) { iphdr.IPv4(b).SetProtocol(41) }), ipip.ErrVersionMismatch, true},
		{"inner version 5", v4(func(b []byte) { b[20] = 0x55 }), ipip.ErrVersionMismatch, true},
		{"inner IHL 3", v4(func(b []byte) { b[20] = 0x43 }), outer.ErrInnerHeaderLen, true},
		{"inner shorter than 20 bytes", v4(func(b []byte) { iphdr.IPv4(b).SetTotalLen(39) })[:39], outer.ErrInnerTruncated, true},
		{"inner total length beyond the outer payload", v4(func(b []byte) {
			binary.BigEndian.PutUint16(b[22:], 61)
		}), outer.ErrInnerTruncated, true},
		{"inner TTL 0", v4(func(b []byte) { b[28] = 0 }), outer.ErrInnerTTL, true},
		{"inner hop limit 0", v6(3, func(b []byte) { b[47] = 0 }), outer.ErrInnerTTL, true},
		{"ipv6 header cut", v6(3, func([]byte) {})[:39], outer.ErrTruncated, false},
		{"ipv6 payload length beyond the buffer", v6(3, func([]byte) {})[:99], outer.ErrTruncated, false},
		{"ipv6 inner payload length beyond the outer payload", v6(3, func(b []byte) {
			binary.BigEndian.PutUint16(b[44:], 21)
		}), outer.ErrInnerTruncated, true},
		{"ipv6 next header 47", v6(3, func(b []byte) { b[6] = 47 }), ipip.ErrProtocol, true},
		{"ipv6 inner version 4 under next header 41", v6(3, func(b []byte) { b[40] = 0x45 }), ipip.ErrVersionMismatch, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inner, o, err := decap(tt.b)
			require.ErrorIs(t, err, tt.err)
			assert.Nil(t, inner)
			assert.Equal(t, tt.outerSeen, o.Dst.IsValid(), "outer fields returned: %+v", o)
		})
	}
}

// withExt returns a 6in6 packet whose outer header is followed by the
// given extension headers (each a whole header; their next-header bytes
// are chained here, the last pointing to 41).
func withExt(t testing.TB, exts ...[]byte) []byte {
	b := tunnelPacket(t, tunnelKinds[3], 60)
	var ext []byte
	nh := []byte{}
	for _, x := range exts {
		nh = append(nh, x[0])
		ext = append(ext, x...)
	}
	out := append(append(append([]byte(nil), b[:40]...), ext...), b[40:]...)
	h := iphdr.IPv6(out)
	h.SetPayloadLen(uint16(len(out) - 40))
	// Chain: the fixed header points to the first ext header's type,
	// each ext header to the next, the last to 41.
	off := 40
	for i, x := range exts {
		if i == 0 {
			h.SetNextHeader(nh[0])
		}
		next := uint8(outer.ProtoIPv6)
		if i+1 < len(exts) {
			next = nh[i+1]
		}
		out[off] = next
		off += len(x)
	}
	return out
}

// Extension headers, with their own type in byte 0 (replaced by the next
// header when chained) and the header extension length in byte 1.
var (
	// Destination options with the RFC 2473 tunnel encapsulation limit 4
	// and a PadN, as Linux ip6tnl sends by default.
	extEncapLimit = []byte{60, 0, 4, 1, 4, 1, 1, 0}
	// Hop-by-hop options: Pad1 ×6.
	extHopByHop = []byte{0, 0, 0, 0, 0, 0, 0, 0}
	// Destination options, 16 bytes: an unknown option type 0x1e (action
	// 00, skip) with 10 bytes of data, then PadN of 2.
	extSkippable = []byte{60, 1, 0x1e, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 0}
	// Destination options: unknown option type 0x5e (action 01, discard).
	extDiscard = []byte{60, 0, 0x5e, 4, 0, 0, 0, 0}
	// Destination options: an option running past the header's end.
	extBadTLV = []byte{60, 0, 0x1e, 5, 0, 0, 0, 0}
	// Fragment header.
	extFragment = []byte{44, 0, 0, 0, 0, 0, 0, 1}
)

func TestParseIPv6ExtensionHeaders(t *testing.T) {
	plain := tunnelPacket(t, tunnelKinds[3], 60)
	for _, tt := range []struct {
		name  string
		exts  [][]byte
		err   error
		proto outer.IPProto
	}{
		{"encapsulation limit", [][]byte{extEncapLimit}, nil, 41},
		{"hop-by-hop then destination options", [][]byte{extHopByHop, extEncapLimit}, nil, 41},
		{"two destination options", [][]byte{extSkippable, extEncapLimit}, nil, 41},
		{"hop-by-hop, two destination options", [][]byte{extHopByHop, extSkippable, extEncapLimit}, nil, 41},
		{"fourth header not walked", [][]byte{extHopByHop, extSkippable, extEncapLimit, extEncapLimit}, ipip.ErrProtocol, 60},
		{"hop-by-hop not first", [][]byte{extEncapLimit, extHopByHop}, ipip.ErrProtocol, 0},
		{"option that must not be skipped", [][]byte{extDiscard}, outer.ErrOption, 0},
		{"option past the header end", [][]byte{extBadTLV}, outer.ErrOption, 0},
		{"fragment header", [][]byte{extFragment}, outer.ErrFragment, 0},
		{"fragment header after destination options", [][]byte{extEncapLimit, extFragment}, outer.ErrFragment, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := withExt(t, tt.exts...)
			inner, o, err := decap(b)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				if tt.err == ipip.ErrProtocol {
					assert.Equal(t, tt.proto, o.Protocol)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, plain[40:], inner)
			assert.Equal(t, len(b)-len(inner), o.HeaderLen)
			assert.Equal(t, tt.proto, o.Protocol)
		})
	}

	// Truncated extension headers.
	b := withExt(t, extSkippable)
	for _, plen := range []int{0, 7, 15} {
		c := append([]byte(nil), b[:40+plen]...)
		iphdr.IPv6(c).SetPayloadLen(uint16(plen))
		_, _, err := outer.Parse(c)
		require.ErrorIs(t, err, outer.ErrTruncated, "payload length %d", plen)
	}
	// A Pad1-only header is fine; a lone option type byte is not.
	_, _, err := outer.Parse(withExt(t, []byte{60, 0, 0, 0, 0, 0, 0, 0x1e}))
	require.ErrorIs(t, err, outer.ErrOption)
}

func TestParseIPv4Options(t *testing.T) {
	b := tunnelPacket(t, tunnelKinds[0], 60)
	// Insert a 4-byte option (NOP NOP NOP EOL) after the outer header.
	out := append(append(append([]byte(nil), b[:20]...), 1, 1, 1, 0), b[20:]...)
	h := iphdr.IPv4(out)
	h.SetVersionIHL(24)
	h.SetTotalLen(uint16(len(out)))
	h.ComputeChecksum()
	inner, o, err := decap(out)
	require.NoError(t, err)
	assert.Equal(t, 24, o.HeaderLen)
	assert.Equal(t, b[20:], inner)
}

// TestDecapTrim: outer payload longer than the inner packet (Linux trims
// it), and link padding after the outer packet.
func TestDecapTrim(t *testing.T) {
	for _, kind := range tunnelKinds {
		t.Run(kind.name, func(t *testing.T) {
			b := tunnelPacket(t, kind, 60)
			hl := len(b) - 60
			padded := append(append([]byte(nil), b...), 0xee, 0xee, 0xee, 0xee)
			if hl == 20 {
				iphdr.IPv4(padded).SetTotalLen(uint16(len(padded)))
				iphdr.IPv4(padded).ComputeChecksum()
			} else {
				iphdr.IPv6(padded).SetPayloadLen(uint16(len(padded) - 40))
			}
			inner, _, err := decap(padded)
			require.NoError(t, err)
			assert.Equal(t, b[hl:], inner)

			// Link padding beyond the outer length is ignored.
			inner, _, err = decap(append(append([]byte(nil), b...), 0, 0))
			require.NoError(t, err)
			assert.Equal(t, b[hl:], inner)
		})
	}
}

// TestParseKeepsBuffer: Parse never writes, Decap only writes the inner ECN.
func TestParseKeepsBuffer(t *testing.T) {
	b := tunnelPacket(t, tunnelKinds[0], 60)
	setOuterECN(b, outer.CE)
	b[21] |= byte(outer.ECT0)
	iphdr.IPv4(b[20:]).ComputeChecksum()
	orig := append([]byte(nil), b...)
	o, payload, err := outer.Parse(b)
	require.NoError(t, err)
	assert.Equal(t, orig, b)
	assert.Equal(t, b[20:], payload)
	assert.Equal(t, outer.CE, o.ECN())
	assert.False(t, o.ECNAlarm)

	inner, o, err := decap(b)
	require.NoError(t, err)
	assert.False(t, o.ECNAlarm)
	assert.Equal(t, outer.CE, outer.ECNOf(inner[1]))
	assert.Equal(t, orig[:20], b[:20], "outer header untouched")
}
