package gre_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap"
	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/iphdr"
)

var (
	kaA = netip.MustParseAddr("192.0.2.1")
	kaB = netip.MustParseAddr("198.51.100.2")
)

// keepaliveRequest builds the whole request from A to B as it travels:
// outer IPv4 A→B, GRE (protocol IPv4, the tunnel's outer fields), and the
// inner packet AppendKeepalive makes.
func keepaliveRequest(t *testing.T, outer gre.Fields, inner *gre.Fields) []byte {
	t.Helper()
	in, err := gre.AppendKeepalive(nil, kaA, kaB, inner)
	require.NoError(t, err)
	outer.Protocol = gre.ProtoIPv4
	g, err := outer.Append(make([]byte, iphdr.IPv4MinLen, 128), in)
	require.NoError(t, err)
	iphdr.IPv4(g).Encode(&iphdr.IPv4Fields{TotalLen: uint16(len(g)), TTL: 255, Protocol: 47, Src: kaA, Dst: kaB})
	return g
}

func TestKeepaliveRoundTrip(t *testing.T) {
	pkt := keepaliveRequest(t, gre.Fields{}, nil)
	// The Cisco request: 20 + 4 + 24 bytes.
	require.Len(t, pkt, 48)

	// At B: decapsulate, match, reflect.
	outer, err := iphdr.CheckIPv4(pkt, true)
	require.NoError(t, err)
	h, err := gre.Parse(outer.Payload())
	require.NoError(t, err)
	require.Equal(t, gre.ProtoIPv4, h.Protocol())
	reply, to, err := gre.KeepaliveMatcher{}.Match(h.Payload(), outer.Src(), outer.Dst())
	require.NoError(t, err)
	assert.Equal(t, kaA, to)
	require.Len(t, reply, 24)

	// The reflected packet, as A receives it: IPv4 B→A, GRE protocol 0.
	back, err := iphdr.CheckIPv4(reply, true)
	require.NoError(t, err)
	assert.Equal(t, kaB, back.Src())
	assert.Equal(t, kaA, back.Dst())
	assert.Equal(t, uint8(47), back.Protocol())
	assert.Equal(t, uint8(gre.KeepaliveTTL), back.TTL())
	assert.Equal(t, uint16(24), back.TotalLen())
	rh, err := gre.Parse(back.Payload())
	require.NoError(t, err)
	assert.True(t, gre.IsKeepalive(rh))
	assert.False(t, gre.IsKeepalive(h), "the request's outer GRE carries IPv4")
}

func TestKeepaliveVariants(t *testing.T) {
	keyed := &gre.Fields{Protocol: gre.ProtoKeepalive, KeyPresent: true, Key: 42}
	csum := &gre.Fields{Protocol: gre.ProtoKeepalive, ChecksumPresent: true}
	seq := &gre.Fields{Protocol: gre.ProtoKeepalive, SeqPresent: true, Seq: 9}
	assert.Equal(t, 28, gre.KeepaliveLen(keyed))
	assert.Equal(t, 24, gre.KeepaliveLen(nil))

	inner := func(f *gre.Fields) []byte {
		b, err := gre.AppendKeepalive(nil, kaA, kaB, f)
		require.NoError(t, err)
		return b
	}
	tests := []struct {
		name string
		m    gre.KeepaliveMatcher
		in   []byte
		src  netip.Addr // outer source as B sees it
		want error
	}{
		{"plain", gre.KeepaliveMatcher{}, inner(nil), kaA, nil},
		{"key refused", gre.KeepaliveMatcher{}, inner(keyed), kaA, gre.ErrNotKeepalive},
		{"key allowed", gre.KeepaliveMatcher{AllowKey: true}, inner(keyed), kaA, nil},
		{"checksum refused", gre.KeepaliveMatcher{}, inner(csum), kaA, gre.ErrNotKeepalive},
		{"checksum allowed", gre.KeepaliveMatcher{AllowChecksum: true}, inner(csum), kaA, nil},
		{"seq allowed", gre.KeepaliveMatcher{AllowSeq: true}, inner(seq), kaA, nil},
		{"outer source differs (NAT)", gre.KeepaliveMatcher{}, inner(nil), netip.MustParseAddr("203.0.113.5"), gre.ErrNotKeepalive},
		{"any address", gre.KeepaliveMatcher{AnyAddress: true}, inner(nil), netip.MustParseAddr("203.0.113.5"), nil},
		{"truncated", gre.KeepaliveMatcher{}, inner(nil)[:10], kaA, gre.ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply, to, err := tt.m.Match(tt.in, tt.src, kaB)
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, kaA, to)
			assert.Equal(t, tt.in, reply)
		})
	}
}

func TestKeepaliveMatchRejects(t *testing.T) {
	good, err := gre.AppendKeepalive(nil, kaA, kaB, nil)
	require.NoError(t, err)
	mod := func(f func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		f(b)
		return b
	}
	fixIP := func(b []byte) { iphdr.IPv4(b).ComputeChecksum() }
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"bad IPv4 checksum", mod(func(b []byte) { b[8]-- }), gre.ErrNotKeepalive},
		{"protocol UDP", mod(func(b []byte) { b[9] = 17; fixIP(b) }), gre.ErrNotKeepalive},
		{"fragment", mod(func(b []byte) { b[6] = 0x20; fixIP(b) }), gre.ErrNotKeepalive},
		{"inner GRE protocol IPv4", mod(func(b []byte) { b[22] = 0x08 }), gre.ErrNotKeepalive},
		{"inner GRE version 1", mod(func(b []byte) { b[21] = 1 }), gre.ErrNotKeepalive},
		{"payload after GRE", append(mod(func(b []byte) { b[3] = 25; fixIP(b) }), 0), gre.ErrNotKeepalive},
		{"IPv6", make([]byte, 44), gre.ErrNotKeepalive},
		{"inner bad checksum", func() []byte {
			b, _ := gre.AppendKeepalive(nil, kaA, kaB, &gre.Fields{Protocol: gre.ProtoKeepalive, ChecksumPresent: true})
			b[len(b)-1] ^= 1
			return b
		}(), gre.ErrChecksum},
	}
	m := gre.KeepaliveMatcher{AllowChecksum: true}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := m.Match(tt.in, kaA, kaB)
			require.ErrorIs(t, err, tt.want)
		})
	}
	padded := append(mod(func(b []byte) { b[3] = 26; fixIP(b) }), 0, 0)
	_, _, err = gre.KeepaliveMatcher{AllowPadding: true}.Match(padded, kaA, kaB)
	require.NoError(t, err)
}

func TestAppendKeepaliveErrors(t *testing.T) {
	_, err := gre.AppendKeepalive(nil, netip.MustParseAddr("2001:db8::1"), kaB, nil)
	require.ErrorIs(t, err, gre.ErrNotKeepalive)
	_, err = gre.AppendKeepalive(nil, kaA, kaB, &gre.Fields{Protocol: gre.ProtoIPv4})
	require.ErrorIs(t, err, gre.ErrNotKeepalive)
	_, err = gre.AppendKeepalive(nil, kaA, kaB, &gre.Fields{Protocol: gre.ProtoKeepalive, AckPresent: true})
	require.ErrorIs(t, err, gre.ErrAck)
}

// keepaliveRouting returns an inner keepalive header whose routing field
// makes the inner packet (20 bytes of IPv4 and the GRE header) exactly
// total bytes long: SREs of up to 255 bytes of information.
func keepaliveRouting(t *testing.T, total int) *gre.Fields {
	t.Helper()
	f := &gre.Fields{Protocol: gre.ProtoKeepalive, RoutingPresent: true}
	rest := total - iphdr.IPv4MinLen - 8 - 4 // IPv4, word + checksum/offset, NULL SRE
	for rest > 0 {
		l := min(255, rest-4)
		require.Positive(t, l, "cannot make %d bytes", total)
		f.Routing = append(f.Routing, gre.SRE{AddressFamily: gre.SREFamilyIP, Info: make([]byte, l)})
		rest -= 4 + l
	}
	require.Equal(t, total, gre.KeepaliveLen(f))
	return f
}

func TestAppendKeepaliveTooLong(t *testing.T) {
	// 65535 bytes still fit the IPv4 total length.
	b, err := gre.AppendKeepalive(nil, kaA, kaB, keepaliveRouting(t, 65535))
	require.NoError(t, err)
	require.Len(t, b, 65535)
	assert.Equal(t, uint16(65535), iphdr.IPv4(b).TotalLen())

	// One byte more, or the 77,991 bytes whose length field would read
	// 77991-65536 = 12455, cannot be stated: refused, dst unchanged.
	for _, total := range []int{65536, 77991} {
		dst := []byte{1, 2, 3}
		out, err := gre.AppendKeepalive(dst, kaA, kaB, keepaliveRouting(t, total))
		require.ErrorIs(t, err, gre.ErrTooLong, "%d bytes", total)
		require.ErrorIs(t, err, ipencap.ErrFrame)
		assert.Equal(t, []byte{1, 2, 3}, out)
	}
}

// TestKeepaliveNeverReflectsToSpecialAddresses: whatever the matcher's
// switches, a keepalive is never reflected to broadcast, multicast,
// loopback, unspecified or link-local destinations.
func TestKeepaliveNeverReflectsToSpecialAddresses(t *testing.T) {
	refused := []string{
		"255.255.255.255", // limited broadcast
		"224.0.0.1",       // multicast: all hosts
		"239.1.2.3",       // multicast: administratively scoped
		"127.0.0.1",       // loopback
		"127.1.2.3",       // loopback, all of 127/8
		"0.0.0.0",         // unspecified
		"0.1.2.3",         // "this network", 0/8: a source only
		"169.254.1.1",     // link-local
	}
	everything := gre.KeepaliveMatcher{AnyAddress: true, AllowKey: true, AllowChecksum: true, AllowSeq: true, AllowPadding: true}
	for _, s := range refused {
		dst := netip.MustParseAddr(s)
		t.Run(s, func(t *testing.T) {
			assert.False(t, gre.Reflectable(dst))
			assert.False(t, gre.Reflectable(netip.AddrFrom16(dst.As16())), "IPv4-mapped")
			// A request whose inner packet goes from kaB back to dst.
			in, err := gre.AppendKeepalive(nil, dst, kaB, nil)
			require.NoError(t, err)
			for _, m := range []gre.KeepaliveMatcher{{}, {AnyAddress: true}, everything} {
				// Outer source equal to the inner destination, so that even
				// the strict matcher's address rule is met.
				_, _, err := m.Match(in, dst, kaB)
				require.ErrorIs(t, err, gre.ErrNotKeepalive, "%+v", m)
				_, _, err = m.Match(in, kaA, kaB)
				require.ErrorIs(t, err, gre.ErrNotKeepalive, "%+v", m)
			}
		})
	}
	for _, s := range []string{
		"ff02::1",      // multicast: all nodes
		"ff05::2",      // multicast: site-local
		"::1",          // loopback
		"::",           // unspecified
		"fe80::1",      // link-local
		"fe80::1%eth0", // link-local with a zone
	} {
		assert.False(t, gre.Reflectable(netip.MustParseAddr(s)), s)
	}
	assert.False(t, gre.Reflectable(netip.Addr{}), "the zero Addr")
	for _, s := range []string{"192.0.2.1", "198.51.100.255", "10.0.0.1", "2001:db8::1", "::ffff:192.0.2.1"} {
		assert.True(t, gre.Reflectable(netip.MustParseAddr(s)), s)
	}

	// An ordinary unicast destination is still reflected with any switches.
	in, err := gre.AppendKeepalive(nil, kaA, kaB, nil)
	require.NoError(t, err)
	_, to, err := everything.Match(in, netip.MustParseAddr("203.0.113.9"), kaB)
	require.NoError(t, err)
	assert.Equal(t, kaA, to)
}
