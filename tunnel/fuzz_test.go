package tunnel_test

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/iphdr"
	"github.com/ipencap/ipencap/ipip"
	"github.com/ipencap/ipencap/mobile"
	"github.com/ipencap/ipencap/outer"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/tunneltest"
)

// fuzzIPIP6Remote is the remote of the fuzz engine's ipip6 tunnel: ip6ip6
// and ipip6 share a demux class, so they need different endpoints.
var fuzzIPIP6Remote = netip.MustParseAddr("2001:db8::3")

// fuzzGroup is the multicast remote of the fuzz engine's broadcast gretap
// tunnel.
var fuzzGroup = netip.MustParseAddr("233.252.0.1")

// fuzzRig is the engine FuzzReceive feeds: one FramingIP underlay with a
// tunnel of every IP-framed mode plus a GRE fallback, and one FramingUDP
// underlay with a GRE-in-UDP tunnel. gre1 has keepalives (ticked by hand:
// never here) and reflects requests; gu1 roams; tapm is broadcast gretap
// (remote a multicast group: it learns MAC addresses, drops its own
// multicast looped back, and takes unicast gretap to end 1 from any source
// but end 2, which is tap1's). The test writes into the far ends of
// the two pipes.
type fuzzRig struct {
	e        *tunnel.Engine
	ip, udp  *tunneltest.Pipe // the test's ends
	tunnels  []*tunnel.Tunnel
	overlays []*tunneltest.ChannelOverlay
	written  uint64 // packets written into the pipes so far
	buf      []byte
}

func newFuzzRig(tb testing.TB) *fuzzRig {
	tb.Helper()
	r := &fuzzRig{e: tunnel.NewEngineForTest(tunnel.EngineConfig{}, nil, true), buf: make([]byte, tunneltest.DefaultMaxPacket)}
	ipA, ipB := tunneltest.NewPipe(tunneltest.PipeConfig{Framing: tunnel.FramingIP,
		AddrA: netip.AddrPortFrom(end1v4, 0), AddrB: netip.AddrPortFrom(end2v4, 0)})
	udpA, udpB := tunneltest.NewPipe(tunneltest.PipeConfig{Framing: tunnel.FramingUDP,
		AddrA: netip.AddrPortFrom(end1v4, tunnel.DefaultGREInUDPPort), AddrB: netip.AddrPortFrom(end2v4, tunnel.DefaultGREInUDPPort)})
	r.ip, r.udp = ipB, udpB
	local := []netip.Addr{end1v4, end1v6}
	require.NoError(tb, r.e.AddUnderlay(ipA, tunnel.UnderlayConfig{Name: "wire", Framing: tunnel.FramingIP, Local: local}))
	require.NoError(tb, r.e.AddUnderlay(udpA, tunnel.UnderlayConfig{Name: "udp0", Framing: tunnel.FramingUDP, Local: local}))
	k5 := gre.Key(5)
	for _, c := range []tunnel.Config{
		{Name: "gre1", Mode: tunnel.ModeGRE, Local: end1v4, Remote: end2v4, IKey: tunnel.KeyOf(k5), OKey: tunnel.KeyOf(k5), ICsum: true, OCsum: true, ISeq: true, OSeq: true,
			Keepalive: tunnel.KeepaliveConfig{Period: tunnel.DefaultKeepalive}, Reflect: tunnel.ReflectConfig{Enable: true}},
		{Name: "gre0", Mode: tunnel.ModeGRE, Fallback: true},
		{Name: "tap1", Mode: tunnel.ModeGRETap, Local: end1v4, Remote: end2v4},
		{Name: "ipip1", Mode: tunnel.ModeIPIP, Local: end1v4, Remote: end2v4},
		{Name: "sit1", Mode: tunnel.ModeSIT, Local: end1v4, Remote: end2v4},
		{Name: "ip6ip6", Mode: tunnel.ModeIP6IP6, Local: end1v6, Remote: end2v6},
		{Name: "ipip6", Mode: tunnel.ModeIPIP6, Local: end1v6, Remote: fuzzIPIP6Remote},
		{Name: "ip6gre1", Mode: tunnel.ModeIP6GRE, Local: end1v6, Remote: end2v6},
		{Name: "mob1", Mode: tunnel.ModeMobile, Local: end1v4, Remote: end2v4},
		{Name: "gu1", Mode: tunnel.ModeGREInUDP, Local: end1v4, Remote: end2v4, Roam: true},
		{Name: "tapm", Mode: tunnel.ModeGRETap, Local: end1v4, Remote: fuzzGroup, FDB: tunnel.FDBConfig{Max: 4}},
	} {
		o := tunneltest.NewChannelOverlay(tunneltest.OverlayConfig{})
		tun, err := r.e.Add(c, o)
		require.NoError(tb, err, c.Name)
		r.tunnels = append(r.tunnels, tun)
		r.overlays = append(r.overlays, o)
	}
	return r
}

// accounted returns the engine's received packets and the sum of every
// counter that accounts for one.
func (r *fuzzRig) accounted() (rx, sum uint64) {
	for _, t := range r.tunnels {
		s := t.Stats()
		sum += s.RxPackets + s.RxErrors + s.RxDropped + s.RxLooped + s.KeepaliveReplies + s.KeepalivesReflected
	}
	es := r.e.Stats()
	return es.RxPackets, sum + es.RxNoTunnel + es.RxFrameErrors + es.RxCsumErrors + es.RxUnknownProto
}

func (r *fuzzRig) dump() string {
	s := fmt.Sprintf("written %d, engine %+v", r.written, r.e.Stats())
	for _, t := range r.tunnels {
		s += fmt.Sprintf("\n%s: %+v", t.Name(), t.Stats())
	}
	return s
}

// write writes pkt as one packet into p and counts it.
func (r *fuzzRig) write(t *testing.T, p *tunneltest.Pipe, pkt []byte) {
	before := p.Stats().Dropped
	n, err := p.WriteBatch([][]byte{pkt}, []netip.AddrPort{p.Addr()}, 0)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, before, p.Stats().Dropped, "the pipe dropped the packet")
	r.written++
}

// settle waits (2 s at most) until the engine has read every packet
// written and every one is accounted for exactly once.
func (r *fuzzRig) settle(t *testing.T) {
	deadline := time.Now().Add(2 * time.Second)
	for {
		rx, sum := r.accounted()
		if rx > r.written {
			t.Fatalf("engine read %d packets, %d written\n%s", rx, r.written, r.dump())
		}
		if rx == r.written && sum == rx {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("accounting: engine RxPackets %d, accounted for %d, written %d\n%s", rx, sum, r.written, r.dump())
		}
		runtime.Gosched()
	}
}

// drain empties the overlays, checking that every packet delivered to an
// IP mode's overlay is an IP packet of the mode's version whose header
// declares its length. Frames delivered by gretap are not checked: the
// engine lets runts through (TestGRETapRunt).
func (r *fuzzRig) drain(t *testing.T) {
	for i, o := range r.overlays {
		mode := r.tunnels[i].Config().Mode
		for {
			n, ok := o.Recv(r.buf, 0)
			if !ok {
				break
			}
			if mode == tunnel.ModeGRETap {
				continue
			}
			p := r.buf[:n]
			if err := checkDelivered(mode, p); err != nil {
				t.Fatalf("%s delivered % x: %v", r.tunnels[i].Name(), p, err)
			}
		}
	}
}

func checkDelivered(m tunnel.Mode, p []byte) error {
	if len(p) == 0 {
		return fmt.Errorf("empty packet")
	}
	v := p[0] >> 4
	switch {
	case v == 4 && (m == tunnel.ModeSIT || m == tunnel.ModeIP6IP6):
		return fmt.Errorf("IPv4 in an IPv6-only mode")
	case v == 6 && (m == tunnel.ModeIPIP || m == tunnel.ModeIPIP6 || m == tunnel.ModeMobile):
		return fmt.Errorf("IPv6 in an IPv4-only mode")
	case v == 4:
		if len(p) < iphdr.IPv4MinLen || int(iphdr.IPv4(p).TotalLen()) != len(p) || iphdr.IPv4(p).HeaderLen() > len(p) {
			return fmt.Errorf("IPv4 length does not match")
		}
	case v == 6:
		if len(p) < iphdr.IPv6Len || iphdr.IPv6Len+int(binary.BigEndian.Uint16(p[4:])) != len(p) {
			return fmt.Errorf("IPv6 length does not match")
		}
	default:
		return fmt.Errorf("IP version %d", v)
	}
	return nil
}

// FuzzReceive writes each input as one outer packet into an IP underlay
// and, the same bytes, into a UDP underlay of an engine with a tunnel of
// every mode, and checks that nothing panics, that every packet is counted
// exactly once (engine RxPackets == the engine's drop counters + every
// tunnel's RxPackets, RxErrors, RxDropped, RxLooped, KeepaliveReplies and
// KeepalivesReflected) and that what reaches an
// overlay is a whole IP packet of the mode's version.
//
// One engine serves every input of a fuzz worker: it is built on the first
// input and closed when the fuzz target ends.
func FuzzReceive(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	var rig *fuzzRig
	f.Cleanup(func() {
		if rig != nil {
			_ = rig.e.Close()
		}
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		if rig == nil {
			rig = newFuzzRig(t)
		}
		if len(data) > tunneltest.DefaultMaxPacket {
			data = data[:tunneltest.DefaultMaxPacket]
		}
		rig.write(t, rig.ip, data)
		rig.write(t, rig.udp, data)
		rig.settle(t)
		rig.drain(t)
	})
}

// The seed builders: outer packets as end 2 (or, for ipip6, ::3) sends
// them to end 1, made with the public Encapsulators.

func seedGRE(tb testing.TB, src, dst netip.Addr, cfg gre.Config, inner []byte) []byte {
	tb.Helper()
	if src.IsValid() {
		cfg.Outer = &outer.Config{Local: src, Remote: dst, TTL: 64}
	}
	e, err := gre.NewEncapsulator(cfg)
	return encapWith(tb, e, err, inner)
}

func seedIPIP(tb testing.TB, src, dst netip.Addr, inner []byte) []byte {
	tb.Helper()
	e, err := ipip.NewEncapsulator(ipip.Config{Local: src, Remote: dst, TTL: 64})
	return encapWith(tb, e, err, inner)
}

func seedMobile(tb testing.TB, inner []byte) []byte {
	tb.Helper()
	e, err := mobile.NewEncapsulator(mobile.Config{Local: end2v4, Remote: end1v4})
	return encapWith(tb, e, err, inner)
}

// encapWith returns inner encapsulated by e (made with error err).
func encapWith(tb testing.TB, e interface {
	Overhead() int
	Encap(b []byte, off int) (int, error)
}, err error, inner []byte) []byte {
	tb.Helper()
	require.NoError(tb, err)
	b := append(make([]byte, e.Overhead()), inner...)
	start, err := e.Encap(b, e.Overhead())
	require.NoError(tb, err)
	return b[start:]
}

// seedFields builds an IPv4 GRE packet with an arbitrary GRE header.
func seedFields(tb testing.TB, f gre.Fields, payload []byte) []byte {
	tb.Helper()
	g, err := f.Append(nil, payload)
	require.NoError(tb, err)
	o, err := outer.NewEncapsulator(outer.Config{Local: end2v4, Remote: end1v4, TTL: 64})
	require.NoError(tb, err)
	b := append(make([]byte, o.Overhead()), g...)
	start, err := o.Prepend(b, o.Overhead(), outer.ProtoGRE, outer.Inner{})
	require.NoError(tb, err)
	return b[start:]
}

// seedEdit4 changes the outer IPv4 header of a copy of p and fixes its
// checksum.
func seedEdit4(p []byte, fn func(h iphdr.IPv4)) []byte {
	p = append([]byte(nil), p...)
	fn(iphdr.IPv4(p))
	iphdr.IPv4(p).ComputeChecksum()
	return p
}

// seedEdit copies p and changes the copy.
func seedEdit(p []byte, fn func(p []byte)) []byte {
	p = append([]byte(nil), p...)
	fn(p)
	return p
}

// fuzzSeeds returns the seed corpus of FuzzReceive, each seed with what
// the engine does with it on the IP underlay (on the UDP one every seed but
// the bare GRE packets at the end is a frame error).
func fuzzSeeds(tb testing.TB) [][]byte {
	k5, k6 := gre.Key(5), gre.Key(6)
	in4 := inner4(60, 64, 0, false)
	in6 := inner6(80, 64, 0)
	ether := append([]byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00}, in4...)
	noAddr := netip.Addr{}

	greGood := seedGRE(tb, end2v4, end1v4, gre.Config{KeyPresent: true, Key: k5, Checksum: true, Seq: true}, in4)
	greFallback := seedGRE(tb, end2v4, end1v4, gre.Config{}, in4)
	ipipGood := seedIPIP(tb, end2v4, end1v4, in4)
	ip6ip6Good := seedIPIP(tb, end2v6, end1v6, in6)
	mobileGood := seedMobile(tb, in4)
	bareGRE := seedGRE(tb, noAddr, noAddr, gre.Config{}, in4)

	// A keepalive request from end 2 (its reply inside), and that reply.
	kaFields := gre.Fields{Protocol: gre.ProtoKeepalive, KeyPresent: true, Key: k5, ChecksumPresent: true}
	kaReq, err := gre.AppendKeepalive(nil, end2v4, end1v4, &kaFields)
	require.NoError(tb, err)
	kaReply, err := gre.AppendKeepalive(nil, end1v4, end2v4, &kaFields)
	require.NoError(tb, err)

	return [][]byte{
		// gre1: key 5, checksum, sequence 0, IPv4 inner: delivered.
		greGood,
		// gre1, sequence 1, IPv6 inner: delivered.
		seedFields(tb, gre.Fields{Protocol: gre.ProtoIPv6, ChecksumPresent: true, KeyPresent: true, Key: k5, SeqPresent: true, Seq: 1}, in6),
		// gre1, sequence 1 again: out of sequence.
		seedFields(tb, gre.Fields{Protocol: gre.ProtoIPv4, ChecksumPresent: true, KeyPresent: true, Key: k5, SeqPresent: true, Seq: 1}, in4),
		// gre1: a keepalive request at sequence 7: reflected.
		seedFields(tb, gre.Fields{Protocol: gre.ProtoIPv4, ChecksumPresent: true, KeyPresent: true, Key: k5, SeqPresent: true, Seq: 7}, kaReq),
		// gre1: a keepalive reply (key 5, checksum, no sequence): taken.
		kaReply,
		// Key 6: no keyed tunnel, so the fallback gre0 takes it.
		seedGRE(tb, end2v4, end1v4, gre.Config{KeyPresent: true, Key: k6}, in4),
		// Keyless plain GRE: the fallback gre0 delivers it.
		greFallback,
		// Key 5 without the checksum icsum asks for: gre1's checksum error.
		seedGRE(tb, end2v4, end1v4, gre.Config{KeyPresent: true, Key: k5, Seq: true}, in4),
		// Key 5 without the sequence number iseq asks for: gre1's out of sequence.
		seedGRE(tb, end2v4, end1v4, gre.Config{KeyPresent: true, Key: k5, Checksum: true}, in4),
		// gre1 with a wrong GRE checksum (last payload byte flipped).
		seedEdit(greGood, func(p []byte) { p[len(p)-1] ^= 0xff }),
		// Cut inside the GRE header.
		greGood[:20+2],
		// Cut inside the inner IPv4 header, the outer total length left wrong.
		greGood[:20+16+10],
		// Inner header cut, outer length fixed: the GRE checksum no longer matches.
		seedEdit4(greGood[:20+16+10], func(h iphdr.IPv4) { h.SetTotalLen(20 + 16 + 10) }),
		// Keyless, inner header cut, outer length fixed: gre0's frame error.
		seedEdit4(greFallback[:20+4+10], func(h iphdr.IPv4) { h.SetTotalLen(20 + 4 + 10) }),
		// A GRE header with a routing field (R bit, one IP SRE): refused as Linux does.
		seedFields(tb, gre.Fields{Protocol: gre.ProtoIPv4, RoutingPresent: true,
			Routing: []gre.SRE{{AddressFamily: gre.SREFamilyIP, Info: []byte{192, 0, 2, 9}}}}, in4),
		// PPTP's version 1 GRE.
		seedFields(tb, gre.Fields{Version: 1, Protocol: gre.ProtoPPP, KeyPresent: true}, in4),
		// Reserved flag bits over IPv4.
		seedFields(tb, gre.Fields{Protocol: gre.ProtoIPv4, Reserved: 1}, in4),
		// MPLS, a protocol type no mode carries: gre0's frame error.
		seedFields(tb, gre.Fields{Protocol: gre.ProtoMPLS}, in4),
		// Protocol type 0x86dd carrying IPv4: gre0's frame error.
		seedFields(tb, gre.Fields{Protocol: gre.ProtoIPv6}, in4),
		// Keyless Ethernet over GRE: tap1 delivers it.
		seedFields(tb, gre.Fields{Protocol: gre.ProtoTEB}, ether),
		// Ethernet over GRE to the group: tapm delivers it and learns
		// 02:00:00:00:00:01 behind end 2.
		seedGRE(tb, end2v4, fuzzGroup, gre.Config{Protocol: gre.ProtoTEB}, ether),
		// The same from end 1 itself: tapm's own multicast, looped back.
		seedGRE(tb, end1v4, fuzzGroup, gre.Config{Protocol: gre.ProtoTEB}, ether),
		// Unicast Ethernet over GRE to end 1 from a third member: tapm.
		seedGRE(tb, netip.MustParseAddr("203.0.113.3"), end1v4, gre.Config{Protocol: gre.ProtoTEB}, ether),
		// A 10-byte gretap runt frame (see TestGRETapRunt).
		seedGRE(tb, end2v4, end1v4, gre.Config{Protocol: gre.ProtoTEB}, ether[:10]),
		// ip6gre: delivered.
		seedGRE(tb, end2v6, end1v6, gre.Config{}, in6),
		// gretap over IPv6: no tunnel.
		seedGRE(tb, end2v6, end1v6, gre.Config{Protocol: gre.ProtoTEB}, ether),
		// ipip: delivered.
		ipipGood,
		// ipip with a wrong outer header checksum.
		seedEdit(ipipGood, func(p []byte) { p[10] ^= 0xff }),
		// Outer CE over a Not-ECT inner packet: RFC 6040 drop.
		seedEdit4(ipipGood, func(h iphdr.IPv4) { h.SetTOS(3) }),
		// An outer fragment (MF set).
		seedEdit4(ipipGood, func(h iphdr.IPv4) { h.SetFlagsFragOff(iphdr.IPv4FlagMF) }),
		// Protocol 17 (UDP): no mode.
		seedEdit4(ipipGood, func(h iphdr.IPv4) { h.SetProtocol(17) }),
		// ipip from a stranger: no tunnel.
		seedEdit4(ipipGood, func(h iphdr.IPv4) { h.SetSrc(netip.MustParseAddr("203.0.113.9")) }),
		// ipip with 6 bytes of link padding: delivered, trimmed.
		append(append([]byte(nil), ipipGood...), 0, 0, 0, 0, 0, 0),
		// ipip with inner TTL 0.
		seedEdit(ipipGood, func(p []byte) { p[20+8] = 0 }),
		// ipip whose inner total length runs past the packet.
		seedEdit(ipipGood, func(p []byte) { binary.BigEndian.PutUint16(p[20+2:], 2000) }),
		// sit: delivered.
		seedIPIP(tb, end2v4, end1v4, in6),
		// Protocol 41 with an IPv4 inner packet: sit1's frame error.
		seedEdit4(ipipGood, func(h iphdr.IPv4) { h.SetProtocol(41) }),
		// ip6ip6: delivered.
		ip6ip6Good,
		// ipip6 (from its own remote, ::3): delivered.
		seedIPIP(tb, fuzzIPIP6Remote, end1v6, in4),
		// IPv6 in IPv6 from ipip6's remote: wrong inner version.
		seedIPIP(tb, fuzzIPIP6Remote, end1v6, in6),
		// IPv4 in IPv6 from ip6ip6's remote: wrong inner version.
		seedIPIP(tb, end2v6, end1v6, in4),
		// IPv6 with an IPv4-mapped source (::ffff:198.51.100.2).
		seedEdit(ip6ip6Good, func(p []byte) { copy(p[8:24], netip.MustParseAddr("::ffff:198.51.100.2").AsSlice()) }),
		// Minimal encapsulation (55) in IPv6: no mode.
		seedEdit(ip6ip6Good, func(p []byte) { p[6] = 55 }),
		// An IPv6 fragment header (44).
		seedEdit(ip6ip6Good, func(p []byte) { p[6] = 44 }),
		// IPv6 outer CE over a Not-ECT inner packet: RFC 6040 drop.
		seedEdit(ip6ip6Good, func(p []byte) { p[1] |= 0x30 }),
		// Cut inside the IPv6 header.
		ip6ip6Good[:39],
		// mobile with the 12-byte minimal header (S set): delivered.
		mobileGood,
		// mobile with the 8-byte header (the encapsulator is the source): delivered.
		seedMobile(tb, seedEdit4(in4, func(h iphdr.IPv4) { h.SetSrc(end2v4) })),
		// mobile with a wrong minimal-header checksum.
		seedEdit(mobileGood, func(p []byte) { p[20+2] ^= 0xff }),
		// mobile with the minimal header cut at 4 bytes.
		seedEdit4(mobileGood[:24], func(h iphdr.IPv4) { h.SetTotalLen(24) }),
		// A bare GRE header and IPv4 inner: gu1 delivers it on the UDP underlay.
		bareGRE,
		// Bare GRE with key 5, checksum and sequence: no GRE-in-UDP tunnel has the key.
		seedGRE(tb, noAddr, noAddr, gre.Config{KeyPresent: true, Key: k5, Checksum: true, Seq: true}, in6),
		// Bare GRE carrying Ethernet: gu1's frame error.
		seedGRE(tb, noAddr, noAddr, gre.Config{Protocol: gre.ProtoTEB}, ether),
		// A bare GRE header cut at 3 bytes.
		bareGRE[:3],
		// Empty.
		{},
		// One byte.
		{0x45},
		// An IPv6 header cut at 8 bytes.
		{0x60, 0, 0, 0, 0, 0, 4, 64},
		// A bare IPv4 header (protocol UDP, nothing behind).
		inner4(20, 64, 0, false),
		// IHL 15 over a 20-byte packet.
		seedEdit(inner4(20, 64, 0, false), func(p []byte) { p[0] = 0x4f }),
		// IP version 7.
		{0x70, 0, 0, 20},
	}
}

// TestGRETapRunt: a gretap packet whose payload is shorter than an
// Ethernet header is malformed; Linux drops it (iptunnel_pull_header:
// pskb_may_pull(skb, ETH_HLEN)), and the engine's own send side refuses
// such frames (TxInvalid).
func TestGRETapRunt(t *testing.T) {
	p := newPair(t, tunnel.ModeGRETap, nil, tunneltest.Impairment{}, true)
	frame := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0} // 10 bytes: cut inside the MAC addresses
	inject(t, p, seedGRE(t, end2v4, end1v4, gre.Config{Protocol: gre.ProtoTEB}, frame))
	s, _ := settled(t, p, 1)
	require.Zero(t, s.RxPackets)
	require.Equal(t, uint64(1), s.RxFrameErrors)
}
