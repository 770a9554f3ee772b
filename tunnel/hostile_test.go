package tunnel_test

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/iphdr"
	"github.com/ipencap/ipencap/outer"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/tunneltest"
)

// TestNoICMPAboutMulticast: no ICMP "fragmentation needed" about an IPv4
// packet to a multicast or broadcast destination, whose address would be
// the error's source (RFC 1122 §3.2.2, RFC 1812 §4.3.2.7); ICMPv6 "packet
// too big" about multicast is allowed (RFC 4443 §2.4 (e.2)) but from a
// unicast address of the node: the tunnel's own IPv6 local address.
func TestNoICMPAboutMulticast(t *testing.T) {
	p := newPair(t, tunnel.ModeGRE, func(c1, _ *tunnel.Config) { c1.MTU = 1000 }, tunneltest.Impairment{}, true)
	for _, dst := range []string{"224.0.0.5", "239.1.2.3", "255.255.255.255"} {
		big := testpkt.BuildIPv4(0, 1200, testpkt.IPv4{TTL: 64, DF: true, Dst: netip.MustParseAddr(dst)})
		require.NoError(t, p.o1.Inject(big))
	}
	eventually(t, func() bool { return p.t1.Stats().TxTooBig == 3 }, "three too big")
	quiet(t, p.o1, "no ICMP error about a multicast or broadcast destination")
	assert.Zero(t, p.t1.Stats().TxICMP)

	// IPv6 over IPv6: from the tunnel's own address.
	p6 := newPair(t, tunnel.ModeIP6GRE, func(c1, _ *tunnel.Config) { c1.MTU = 1300 }, tunneltest.Impairment{}, true)
	mc := netip.MustParseAddr("ff0e::1:3")
	require.NoError(t, p6.o1.Inject(testpkt.BuildIPv6(0, 1400, testpkt.IPv6{HopLimit: 64, Dst: mc})))
	r := recv(t, p6.o1)
	h := iphdr.IPv6(r)
	assert.Equal(t, end1v6, h.Src(), "a unicast source: the tunnel's local address")
	assert.Equal(t, testpkt.Inner6Src, h.Dst())

	// IPv6 over IPv4 (sit): no unicast IPv6 address of its own, no error.
	ps := newPair(t, tunnel.ModeSIT, func(c1, _ *tunnel.Config) { c1.MTU = 1300 }, tunneltest.Impairment{}, true)
	require.NoError(t, ps.o1.Inject(testpkt.BuildIPv6(0, 1400, testpkt.IPv6{HopLimit: 64, Dst: mc})))
	eventually(t, func() bool { return ps.t1.Stats().TxTooBig == 1 }, "too big")
	quiet(t, ps.o1, "no PTB from a multicast source")
}

// TestFragmentCopiedOptions: inner fragmentation puts every option into
// the first fragment and only the options whose copied flag is set into
// the others (RFC 791 §3.1; Linux ip_options_fragment): here a router
// alert (type 0x94, copied) and a record route (type 7, not copied).
func TestFragmentCopiedOptions(t *testing.T) {
	p := newPair(t, tunnel.ModeGRE, func(c1, c2 *tunnel.Config) { c1.MTU, c2.MTU = 1000, 1000 }, tunneltest.Impairment{}, false)
	opts := []byte{
		0x07, 7, 4, 0, 0, 0, 0, // record route, room for one address: not copied
		0x94, 4, 0, 0, // router alert: copied
		0, // end of list
	}
	big := testpkt.BuildIPv4(0, 2500, testpkt.IPv4{TTL: 64, Options: opts})
	require.NoError(t, p.o1.Inject(big))
	var data []byte
	for i := range 3 {
		f := recv(t, p.o2)
		h := iphdr.IPv4(f)
		require.True(t, h.ChecksumValid(), "fragment %d", i)
		require.LessOrEqual(t, len(f), 1000)
		if i == 0 {
			require.Equal(t, 32, h.HeaderLen(), "the first fragment keeps every option")
			assert.Equal(t, opts, []byte(f[20:32]))
		} else {
			require.Equal(t, 24, h.HeaderLen(), "later fragments: the copied option only")
			assert.Equal(t, []byte{0x94, 4, 0, 0}, []byte(f[20:24]))
		}
		data = append(data, f[h.HeaderLen():]...)
	}
	assert.Equal(t, big[32:], data, "the data reassembles")
}

// TestKeepaliveMinimum: a keepalive period below MinKeepalive is refused
// (1 ns sent 600 000 keepalives in 200 ms).
func TestKeepaliveMinimum(t *testing.T) {
	c := tunnel.Config{Name: "k", Mode: tunnel.ModeGRE, Local: end1v4, Remote: end2v4}
	for _, d := range []time.Duration{time.Nanosecond, time.Millisecond, tunnel.MinKeepalive - 1} {
		c.Keepalive.Period = d
		require.ErrorIs(t, c.Validate(), tunnel.ErrConfigRange, d.String())
	}
	c.Keepalive.Period = tunnel.MinKeepalive
	require.NoError(t, c.Validate())
}

// wrap4 puts payload behind an IPv4 header of protocol proto.
func wrap4(proto uint8, payload []byte) []byte {
	p := testpkt.BuildIPv4(0, iphdr.IPv4MinLen+len(payload), testpkt.IPv4{TTL: 64, Protocol: proto})
	copy(p[iphdr.IPv4MinLen:], payload)
	return p
}

// greOver is a GRE header of protocol type pt in front of payload, behind
// a UDP header to port 4754 when udp.
func greOver(udp bool, pt gre.Protocol, payload []byte) []byte {
	g := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, 0), uint16(pt))
	g = append(g, payload...)
	if !udp {
		return wrap4(uint8(outer.ProtoGRE), g)
	}
	u := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, 50000), tunnel.DefaultGREInUDPPort)
	u = binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(u, uint16(8+len(g))), 0)
	return wrap4(uint8(outer.ProtoUDP), append(u, g...))
}

// ether is an Ethernet frame of EtherType et around payload.
func ether(et gre.Protocol, payload []byte) []byte {
	f := append(append([]byte(nil), bcast[:]...), bcMAC[0][:]...)
	return append(binary.BigEndian.AppendUint16(f, uint16(et)), payload...)
}

// TestLoopGuardUDPAndTap: the loop guard counts GRE-in-UDP layers (six
// nested IPv4/UDP 4754/GRE layers were sent) and looks through the
// Ethernet frame behind a GRE header of protocol 0x6558 (it parsed the
// Ethernet header as IP), for GRE tunnels and for gretap frames alike.
func TestLoopGuardUDPAndTap(t *testing.T) {
	in := inner4(60, 64, 0, false)
	nest := func(layers int, layer func(p []byte, i int) []byte) []byte {
		p := in
		for i := range layers {
			p = layer(p, i)
		}
		return p
	}
	udp := func(p []byte, _ int) []byte { return greOver(true, gre.ProtoIPv4, p) }
	tap := func(p []byte, i int) []byte { // GRE carrying Ethernet every other layer
		if i%2 == 0 {
			return greOver(false, gre.ProtoTEB, ether(gre.ProtoIPv4, p))
		}
		return greOver(false, gre.ProtoIPv4, p)
	}
	p := newPair(t, tunnel.ModeGRE, nil, tunneltest.Impairment{}, true)
	require.NoError(t, p.o1.Inject(nest(6, udp)))
	require.NoError(t, p.o1.Inject(nest(6, tap)))
	eventually(t, func() bool { return p.t1.Stats().TxDeadLoop == 2 }, "two dead loops")
	require.NoError(t, p.o1.Inject(nest(3, udp)))
	require.NoError(t, p.o1.Inject(nest(3, tap)))
	readWire(t, p.p2)
	readWire(t, p.p2)
	assert.Equal(t, uint64(2), p.t1.Stats().TxDeadLoop, "three layers are not a loop")

	// A gretap tunnel looks into the frames it is given.
	pt := newPair(t, tunnel.ModeGRETap, nil, tunneltest.Impairment{}, true)
	require.NoError(t, pt.o1.Inject(ether(gre.ProtoIPv4, nest(6, tap))))
	eventually(t, func() bool { return pt.t1.Stats().TxDeadLoop == 1 }, "a dead loop in a frame")
	require.NoError(t, pt.o1.Inject(ether(gre.ProtoIPv4, nest(2, udp))))
	readWire(t, pt.p2)
	assert.Equal(t, uint64(1), pt.t1.Stats().TxDeadLoop)
}

// TestGRETapECN: a gretap tunnel applies RFC 6040 to the IP packet inside
// the Ethernet frame (as Linux's ip_tunnel_rcv does after eth_type_trans):
// outer CE marks an ECT inner packet CE, outer CE over a Not-ECT inner
// packet drops it; a frame that is not IP (ARP) passes unchanged.
func TestGRETapECN(t *testing.T) {
	p := newPair(t, tunnel.ModeGRETap, nil, tunneltest.Impairment{}, true)
	withCE := func(frame []byte) []byte {
		pkt := seedGRE(t, end2v4, end1v4, gre.Config{Protocol: gre.ProtoTEB}, frame)
		h := iphdr.IPv4(pkt)
		h.SetTOS(h.TOS() | uint8(outer.CE))
		h.ComputeChecksum()
		return pkt
	}
	ect := ether(gre.ProtoIPv4, inner4(60, 64, uint8(outer.ECT0), false))
	notECT := ether(gre.ProtoIPv4, inner4(60, 64, 0, false))
	arp := ether(gre.ProtoARP, make([]byte, 28))
	inject(t, p, withCE(ect), withCE(notECT), withCE(arp))
	got := recv(t, p.o1)
	in := iphdr.IPv4(got[gre.EthernetMinLen:])
	assert.Equal(t, outer.CE, outer.ECNOf(in.TOS()), "ECT(0) under outer CE becomes CE")
	assert.True(t, in.ChecksumValid())
	assert.Equal(t, arp, recv(t, p.o1), "not IP: unchanged")
	s, _ := settled(t, p, 3)
	assert.Equal(t, uint64(1), s.RxFrameErrors, "CE over Not-ECT: dropped")
	assert.Equal(t, uint64(2), s.RxPackets)
}
