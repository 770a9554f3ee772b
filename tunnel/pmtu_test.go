package tunnel_test

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/ipencap/ipencap/checksum"
	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/iphdr"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/tunneltest"
)

// TestFragNeeded: an IPv4 packet with DF, larger than the tunnel MTU, is
// answered with ICMP "fragmentation needed" carrying the MTU, written back
// to the overlay towards the packet's source.
func TestFragNeeded(t *testing.T) {
	k := tunnelKey(7)
	p := newPair(t, tunnel.ModeGRE, func(c1, _ *tunnel.Config) { c1.OKey, c1.OCsum = tunnel.KeyOf(k), true }, tunneltest.Impairment{}, true)
	require.Equal(t, 1468, p.t1.MTU())
	big := inner4(1469, 64, 0, true)
	require.NoError(t, p.o1.Inject(big))
	r := recv(t, p.o1)
	h := iphdr.IPv4(r)
	require.True(t, h.ChecksumValid())
	assert.Equal(t, testpkt.Inner4Dst, h.Src())
	assert.Equal(t, testpkt.Inner4Src, h.Dst(), "back to the source")
	assert.Equal(t, uint8(1), h.Protocol())
	assert.Equal(t, 576, int(h.TotalLen()), "as much as fits in 576 bytes")
	m, err := icmp.ParseMessage(1, r[20:])
	require.NoError(t, err)
	assert.Equal(t, ipv4.ICMPTypeDestinationUnreachable, m.Type)
	assert.Equal(t, 4, m.Code)
	assert.Equal(t, uint16(1468), binary.BigEndian.Uint16(r[26:]), "next-hop MTU (RFC 1191)")
	assert.Equal(t, uint16(0xffff), checksum.Sum(r[20:], 0), "ICMP checksum")
	assert.Equal(t, big[:548], r[28:], "the quoted packet")
	eventually(t, func() bool { return p.t1.Stats().TxICMP == 1 }, "the ICMP error counted")
	s := p.t1.Stats()
	assert.Equal(t, uint64(1), s.TxTooBig)
	assert.Zero(t, s.TxPackets)

	// SetPathMTU lowers it (an ICMP error about an outer packet).
	p.t1.SetPathMTU(1400)
	assert.Equal(t, 1400-32, p.t1.MTU())
	require.NoError(t, p.o1.Inject(inner4(1400-31, 64, 0, true)))
	r = recv(t, p.o1)
	assert.Equal(t, uint16(1400-32), binary.BigEndian.Uint16(r[26:]))
	p.t1.SetPathMTU(0)
	assert.Equal(t, 1468, p.t1.MTU())
}

// TestPacketTooBig: every IPv6 packet larger than the MTU is answered with
// ICMPv6 "packet too big".
func TestPacketTooBig(t *testing.T) {
	p := newPair(t, tunnel.ModeIP6GRE, func(c1, _ *tunnel.Config) { c1.MTU = 1300 }, tunneltest.Impairment{}, true)
	big := inner6(1301, 64, 0)
	require.NoError(t, p.o1.Inject(big))
	r := recv(t, p.o1)
	h := iphdr.IPv6(r)
	assert.Equal(t, testpkt.Inner6Dst, h.Src())
	assert.Equal(t, testpkt.Inner6Src, h.Dst())
	assert.Equal(t, 1280, len(r), "as much as fits in 1280 bytes")
	m, err := icmp.ParseMessage(58, r[40:])
	require.NoError(t, err)
	require.Equal(t, ipv6.ICMPTypePacketTooBig, m.Type)
	assert.Equal(t, 1300, m.Body.(*icmp.PacketTooBig).MTU)
	// The checksum with the IPv6 pseudo-header, as x/net computes it.
	want, err := (&icmp.Message{Type: ipv6.ICMPTypePacketTooBig, Body: &icmp.PacketTooBig{MTU: 1300, Data: big[:1280-48]}}).
		Marshal(icmp.IPv6PseudoHeader(h.Src().AsSlice(), h.Dst().AsSlice()))
	require.NoError(t, err)
	assert.Equal(t, want, []byte(r[40:]))
	assert.Equal(t, uint64(1), p.t1.Stats().TxTooBig)
}

// TestFragmentDFClear: an IPv4 packet without DF, larger than the MTU, is
// fragmented before encapsulation; the fragments reassemble to it.
func TestFragmentDFClear(t *testing.T) {
	p := newPair(t, tunnel.ModeGRE, func(c1, c2 *tunnel.Config) { c1.MTU, c2.MTU = 1000, 1000 }, tunneltest.Impairment{}, false)
	big := inner4(2500, 64, 0, false)
	require.NoError(t, p.o1.Inject(big))
	var data []byte
	var offs []int
	for range 3 {
		f := recv(t, p.o2)
		h := iphdr.IPv4(f)
		require.True(t, h.ChecksumValid())
		require.LessOrEqual(t, len(f), 1000)
		offs = append(offs, int(h.FragOff())*8)
		data = append(data, f[20:]...)
		assert.Equal(t, len(offs) < 3, h.MF())
	}
	assert.Equal(t, []int{0, 976, 1952}, offs)
	assert.Equal(t, big[20:], data)
	// The counters move when the batch write returns, a moment after the
	// packets may have arrived.
	eventually(t, func() bool { return p.t1.Stats().TxPackets == 3 }, "three fragments counted")
	assert.Equal(t, uint64(1), p.t1.Stats().TxFragmented)
}

func TestNoRoute(t *testing.T) {
	p := newPair(t, tunnel.ModeGRE, func(c1, _ *tunnel.Config) { c1.Remote = netipAny4 }, tunneltest.Impairment{}, true)
	require.NoError(t, p.o1.Inject(inner4(60, 64, 0, false)))
	eventually(t, func() bool { return p.t1.Stats().TxNoRoute == 1 }, "no route counted")
}

func TestEnginePathMTU(t *testing.T) {
	p := newPair(t, tunnel.ModeIPIP, nil, tunneltest.Impairment{}, true)
	assert.Equal(t, 1480, p.t1.MTU())
	assert.Equal(t, 1, p.e1.PathMTU(end2v4, 1400))
	assert.Equal(t, 1380, p.t1.MTU())
	assert.Equal(t, 0, p.e1.PathMTU(end1v4, 1300), "no tunnel has that remote")
	assert.Equal(t, 1380, p.t1.MTU())
}
