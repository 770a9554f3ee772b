package tunnel_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/iphdr"
	"github.com/ipencap/ipencap/outer"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/tunneltest"
)

var allModes = []tunnel.Mode{tunnel.ModeGRE, tunnel.ModeGRETap, tunnel.ModeIPIP, tunnel.ModeSIT,
	tunnel.ModeIP6IP6, tunnel.ModeIPIP6, tunnel.ModeIP6GRE, tunnel.ModeMobile, tunnel.ModeGREInUDP}

// innersFor returns inner packets the mode carries.
func innersFor(m tunnel.Mode) [][]byte {
	switch m {
	case tunnel.ModeGRETap:
		frame := append([]byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00}, inner4(60, 64, 0, false)...)
		return [][]byte{frame}
	case tunnel.ModeIPIP, tunnel.ModeIPIP6, tunnel.ModeMobile:
		return [][]byte{inner4(60, 64, 0, true), inner4(1400, 3, 0xb8, false)}
	case tunnel.ModeSIT, tunnel.ModeIP6IP6:
		return [][]byte{inner6(60, 64, 0), inner6(1280, 9, 0x20)}
	}
	return [][]byte{inner4(60, 64, 0, true), inner6(100, 64, 0), inner4(1400, 7, 0, false)}
}

// TestModes carries packets both ways through a pair of tunnels of every
// mode, with the default options and with key, checksum and sequence
// numbers where the mode has them.
func TestModes(t *testing.T) {
	for _, m := range allModes {
		variants := map[string]func(c1, c2 *tunnel.Config){"plain": nil}
		if m == tunnel.ModeGRE || m == tunnel.ModeIP6GRE || m == tunnel.ModeGRETap || m == tunnel.ModeGREInUDP {
			variants["key-csum-seq"] = func(c1, c2 *tunnel.Config) {
				k := gre.Key(0x0a000001)
				for _, c := range []*tunnel.Config{c1, c2} {
					c.IKey, c.OKey, c.ICsum, c.OCsum, c.ISeq, c.OSeq = tunnel.KeyOf(k), tunnel.KeyOf(k), true, true, true, true
				}
			}
		}
		for name, edit := range variants {
			t.Run(m.String()+"/"+name, func(t *testing.T) {
				p := newPair(t, m, edit, tunneltest.Impairment{}, false)
				ins := innersFor(m)
				for _, in := range ins {
					require.NoError(t, p.o1.Inject(in))
					assert.Equal(t, in, recv(t, p.o2), "1 -> 2")
					require.NoError(t, p.o2.Inject(in))
					assert.Equal(t, in, recv(t, p.o1), "2 -> 1")
				}
				n := uint64(len(ins))
				var s1, s2 tunnel.Stats
				eventually(t, func() bool { // counters move when a batch write returns
					s1, s2 = p.t1.Stats(), p.t2.Stats()
					return s1.RxPackets == n && s1.TxPackets == n && s2.RxPackets == n && s2.TxPackets == n
				}, "counters")
				assert.Equal(t, n, s1.TxPackets)
				assert.Equal(t, n, s1.RxPackets)
				assert.Equal(t, n, s2.TxPackets)
				assert.Equal(t, n, s2.RxPackets)
				assert.Zero(t, s1.RxErrors+s1.TxErrors+s2.RxErrors+s2.TxErrors)
			})
		}
	}
}

// TestDefaultMTU: the underlay MTU less the exact overhead (SPEC §4).
func TestDefaultMTU(t *testing.T) {
	k := gre.Key(1)
	tests := []struct {
		mode tunnel.Mode
		edit func(c1, c2 *tunnel.Config)
		mtu  int
	}{
		{tunnel.ModeGRE, nil, 1476},
		{tunnel.ModeGRE, func(c1, _ *tunnel.Config) { c1.OKey = tunnel.KeyOf(k) }, 1472},
		{tunnel.ModeGRE, func(c1, _ *tunnel.Config) { c1.OKey, c1.OCsum, c1.OSeq = tunnel.KeyOf(k), true, true }, 1464},
		{tunnel.ModeIPIP, nil, 1480},
		{tunnel.ModeSIT, nil, 1480},
		{tunnel.ModeIP6IP6, nil, 1460},
		{tunnel.ModeIP6GRE, nil, 1456},
		{tunnel.ModeGRETap, nil, 1462}, // as Linux: 1500 less IPv4, GRE and the inner Ethernet header
		{tunnel.ModeMobile, nil, 1488},
		{tunnel.ModeGREInUDP, nil, 1468},
		{tunnel.ModeGRE, func(c1, _ *tunnel.Config) { c1.MTU = 1400 }, 1400},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v/%d", tt.mode, tt.mtu), func(t *testing.T) {
			p := newPair(t, tt.mode, tt.edit, tunneltest.Impairment{}, true)
			assert.Equal(t, tt.mtu, p.t1.MTU())
		})
	}
}

// craftGRE builds the outer packet end 2 would send to end 1: an IPv4
// header, the GRE header of cfg and inner.
func craftGRE(tb testing.TB, cfg gre.Config, inner []byte) []byte {
	return seedGRE(tb, end2v4, end1v4, cfg, inner)
}

// craftFields builds end 2's outer packet with an arbitrary GRE header.
func craftFields(tb testing.TB, f gre.Fields, payload []byte) []byte {
	return seedFields(tb, f, payload)
}

// inject writes outer packets into end 1's engine through the raw end 2.
func inject(tb testing.TB, p *pair, pkts ...[]byte) {
	tb.Helper()
	peers := make([]netip.AddrPort, len(pkts))
	for i := range peers {
		peers[i] = p.p2.Addr()
	}
	n, err := p.p2.WriteBatch(pkts, peers, 0)
	require.NoError(tb, err)
	require.Equal(tb, len(pkts), n)
}

// settled waits until end 1 has accounted for n received packets.
func settled(tb testing.TB, p *pair, n uint64) (tunnel.Stats, tunnel.EngineStats) {
	tb.Helper()
	var s tunnel.Stats
	var es tunnel.EngineStats
	eventually(tb, func() bool {
		s, es = p.t1.Stats(), p.e1.Stats()
		return es.RxPackets >= n && s.RxPackets+s.RxErrors+s.RxDropped+s.KeepaliveReplies+s.KeepalivesReflected+es.RxNoTunnel+es.RxFrameErrors+es.RxCsumErrors+es.RxUnknownProto >= n
	}, "packets accounted for")
	return s, es
}

func TestKeys(t *testing.T) {
	k5, k6 := gre.Key(5), gre.Key(6)
	p := newPair(t, tunnel.ModeGRE, func(c1, _ *tunnel.Config) { c1.IKey = tunnel.KeyOf(k5) }, tunneltest.Impairment{}, true)
	in := inner4(60, 64, 0, false)
	inject(t, p, craftGRE(t, gre.Config{KeyPresent: true, Key: k5}, in),
		craftGRE(t, gre.Config{KeyPresent: true, Key: k6}, in),
		craftGRE(t, gre.Config{}, in))
	s, es := settled(t, p, 3)
	assert.Equal(t, uint64(1), s.RxPackets)
	assert.Equal(t, uint64(2), es.RxNoTunnel, "wrong key and no key find no tunnel")
	assert.Equal(t, in, recv(t, p.o1))
}

func TestICsum(t *testing.T) {
	p := newPair(t, tunnel.ModeGRE, func(c1, _ *tunnel.Config) { c1.ICsum = true }, tunneltest.Impairment{}, true)
	in := inner4(60, 64, 0, false)
	good := craftGRE(t, gre.Config{Checksum: true}, in)
	bad := craftGRE(t, gre.Config{Checksum: true}, in)
	bad[len(bad)-1] ^= 0xff
	inject(t, p, good, bad, craftGRE(t, gre.Config{}, in))
	s, _ := settled(t, p, 3)
	assert.Equal(t, uint64(1), s.RxPackets)
	assert.Equal(t, uint64(2), s.RxCsumErrors, "a wrong checksum and a missing one")
	assert.Equal(t, uint64(2), s.RxErrors)

	// Without icsum, as in Linux, a packet with a checksum is refused too.
	p = newPair(t, tunnel.ModeGRE, nil, tunneltest.Impairment{}, true)
	inject(t, p, good)
	s, _ = settled(t, p, 1)
	assert.Equal(t, uint64(1), s.RxCsumErrors)
}

func seqPkt(tb testing.TB, seq uint32, mark byte) []byte {
	in := inner4(60, 64, 0, false)
	in[59] = mark
	return craftFields(tb, gre.Fields{Protocol: gre.ProtoIPv4, SeqPresent: true, Seq: seq}, in)
}

func TestISeq(t *testing.T) {
	t.Run("window", func(t *testing.T) {
		p := newPair(t, tunnel.ModeGRE, func(c1, _ *tunnel.Config) { c1.ISeq = true }, tunneltest.Impairment{}, true)
		inject(t, p, seqPkt(t, 5, 1), seqPkt(t, 6, 2), seqPkt(t, 3, 3), seqPkt(t, 6, 4), seqPkt(t, 9, 5),
			craftGRE(t, gre.Config{}, inner4(60, 64, 0, false)))
		s, _ := settled(t, p, 6)
		assert.Equal(t, uint64(3), s.RxPackets)
		assert.Equal(t, uint64(3), s.RxOutOfSeq, "an old packet, a replay and one without a number")
		for _, mark := range []byte{1, 2, 5} {
			assert.Equal(t, mark, recv(t, p.o1)[59])
		}
	})
	t.Run("reorder", func(t *testing.T) {
		p := newPair(t, tunnel.ModeGRE, func(c1, _ *tunnel.Config) { c1.ISeq, c1.Seq.Reorder = true, 8 }, tunneltest.Impairment{}, true)
		inject(t, p, seqPkt(t, 1, 1), seqPkt(t, 3, 3), seqPkt(t, 4, 4), seqPkt(t, 2, 2), seqPkt(t, 2, 9))
		s, _ := settled(t, p, 5)
		assert.Equal(t, uint64(4), s.RxPackets)
		assert.Equal(t, uint64(1), s.RxOutOfSeq)
		for _, mark := range []byte{1, 2, 3, 4} {
			assert.Equal(t, mark, recv(t, p.o1)[59], "in order")
		}
	})
	t.Run("reorder timeout", func(t *testing.T) {
		p := newPair(t, tunnel.ModeGRE, func(c1, _ *tunnel.Config) {
			c1.ISeq, c1.Seq.Reorder, c1.Seq.ReorderWait = true, 8, 20_000_000
		}, tunneltest.Impairment{}, true)
		inject(t, p, seqPkt(t, 1, 1), seqPkt(t, 3, 3))
		assert.Equal(t, byte(1), recv(t, p.o1)[59])
		assert.Equal(t, byte(3), recv(t, p.o1)[59], "delivered past the gap by the timer")
		s, _ := settled(t, p, 2)
		assert.Equal(t, uint64(2), s.RxPackets)
	})
	t.Run("resync", func(t *testing.T) {
		p := newPair(t, tunnel.ModeGRE, func(c1, _ *tunnel.Config) { c1.ISeq, c1.Seq.Resync = true, 3 }, tunneltest.Impairment{}, true)
		// The peer restarts: 1000, then 0, 1, 2 — the third drop in a row
		// resyncs to it.
		inject(t, p, seqPkt(t, 1000, 1), seqPkt(t, 0, 2), seqPkt(t, 1, 3), seqPkt(t, 2, 4), seqPkt(t, 3, 5))
		s, _ := settled(t, p, 5)
		assert.Equal(t, uint64(3), s.RxPackets)
		assert.Equal(t, uint64(2), s.RxOutOfSeq)
		for _, mark := range []byte{1, 4, 5} {
			assert.Equal(t, mark, recv(t, p.o1)[59])
		}
	})
}

// TestTTLTOSOnTheWire reads end 1's outer packets off the wire.
func TestTTLTOSOnTheWire(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(c1, c2 *tunnel.Config)
		ttl, tos uint8
	}{
		{"fixed", func(c1, _ *tunnel.Config) { c1.TTL, c1.TOS = 255, 0x28 }, 255, 0x28 | 0x02},
		{"inherit", func(c1, _ *tunnel.Config) { c1.TTL, c1.InheritTOS = 0, true }, 17, 0xb8 | 0x02},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPair(t, tunnel.ModeGRE, tt.edit, tunneltest.Impairment{}, true)
			require.NoError(t, p.o1.Inject(inner4(100, 17, 0xb8|0x02, false)))
			w := readWire(t, p.p2)
			o, _, err := outer.Parse(w)
			require.NoError(t, err)
			assert.Equal(t, tt.ttl, o.TTL)
			assert.Equal(t, tt.tos, o.TOS, "DSCP as configured, ECN copied (RFC 6040)")
			assert.True(t, iphdr.IPv4(w).DF(), "DF under path MTU discovery")
		})
	}
}

func TestWrongProtocol(t *testing.T) {
	p := newPair(t, tunnel.ModeGRE, nil, tunneltest.Impairment{}, true)
	v6 := inner6(60, 64, 0)
	inject(t, p,
		craftFields(t, gre.Fields{Protocol: gre.ProtoIPv4}, v6), // 0x0800 carrying IPv6
		craftFields(t, gre.Fields{Protocol: gre.ProtoIPv6}, v6), // right
		craftFields(t, gre.Fields{Protocol: gre.ProtoMPLS}, v6), // not carried
		// truncated inner: 8 bytes of IPv4 header, in a GRE packet of the
		// 12 bytes Linux's gre_rcv wants over IPv4
		craftFields(t, gre.Fields{Protocol: gre.ProtoIPv4}, []byte{0x45, 0, 0, 0x3c, 0, 0, 0, 0}),
		// a GRE packet of 5 bytes: gre_rcv drops it before any tunnel is
		// looked up, and so does the engine
		craftFields(t, gre.Fields{Protocol: gre.ProtoIPv4}, []byte{0x45}),
	)
	s, es := settled(t, p, 5)
	assert.Equal(t, uint64(1), s.RxPackets)
	assert.Equal(t, uint64(3), s.RxFrameErrors)
	assert.Equal(t, uint64(1), es.RxFrameErrors, "short GRE packet")
}

func TestECNDrop(t *testing.T) {
	p := newPair(t, tunnel.ModeGRE, nil, tunneltest.Impairment{}, true)
	pkt := craftGRE(t, gre.Config{}, inner4(60, 64, 0, false)) // Not-ECT inner
	h := iphdr.IPv4(pkt)
	h.SetTOS(3) // CE on the outer header
	h.ComputeChecksum()
	inject(t, p, pkt)
	s, _ := settled(t, p, 1)
	assert.Equal(t, uint64(1), s.RxFrameErrors)
	assert.Zero(t, s.RxPackets)
}

func TestDeadLoop(t *testing.T) {
	p := newPair(t, tunnel.ModeIPIP, nil, tunneltest.Impairment{}, true)
	loop := inner4(60, 64, 0, false)
	iphdr.IPv4(loop).SetDst(end2v4) // the tunnel's own remote
	iphdr.IPv4(loop).ComputeChecksum()
	require.NoError(t, p.o1.Inject(loop))
	// Nested: IPIP in IPIP in IPIP ... deeper than MaxNesting.
	nested := inner4(40, 64, 0, false)
	for range tunnel.DefaultMaxNesting + 1 {
		o := inner4(20+len(nested), 64, 0, false)
		copy(o[20:], nested)
		iphdr.IPv4(o).SetProtocol(4)
		iphdr.IPv4(o).ComputeChecksum()
		nested = o
	}
	require.NoError(t, p.o1.Inject(nested))
	eventually(t, func() bool { return p.t1.Stats().TxDeadLoop == 2 }, "two dead loops")
	assert.Zero(t, p.t1.Stats().TxPackets)
}

// TestReorderHeld: packets held in the reorder buffer are copies of their
// size (they pinned a 64 KiB receive buffer each: 303 MB for one full
// buffer of 84-byte packets), counted against Seq.ReorderBytes; a packet
// that would pass it releases what waits, past its gap, as a full buffer
// does.
func TestReorderHeld(t *testing.T) {
	p := newPair(t, tunnel.ModeGRE, func(c1, _ *tunnel.Config) {
		c1.ISeq, c1.Seq.Reorder, c1.Seq.ReorderWait, c1.Seq.ReorderBytes = true, 8, time.Second, 200
	}, tunneltest.Impairment{}, true)
	inject(t, p, seqPkt(t, 1, 1), seqPkt(t, 3, 3), seqPkt(t, 4, 4))
	assert.Equal(t, byte(1), recv(t, p.o1)[59])
	eventually(t, func() bool { return tunnel.HeldBytes(p.t1) == 2*(tunnel.OverlayOffset+60) }, "two 60-byte packets held, their size")
	// A third would hold 228 bytes, more than 200: 3 and 4 go first, past
	// the gap before 3; 6 then waits behind the gap before 5.
	inject(t, p, seqPkt(t, 6, 6))
	assert.Equal(t, byte(3), recv(t, p.o1)[59])
	assert.Equal(t, byte(4), recv(t, p.o1)[59])
	eventually(t, func() bool { return tunnel.HeldBytes(p.t1) == tunnel.OverlayOffset+60 }, "6 held")
	inject(t, p, seqPkt(t, 2, 2)) // too late: 3 and 4 went past it
	inject(t, p, seqPkt(t, 5, 5)) // fills the gap: 5, then 6
	assert.Equal(t, byte(5), recv(t, p.o1)[59])
	assert.Equal(t, byte(6), recv(t, p.o1)[59])
	s, _ := settled(t, p, 6)
	assert.Equal(t, uint64(1), s.RxOutOfSeq, "2 came after the drain")
	assert.Equal(t, uint64(5), s.RxPackets)
	eventually(t, func() bool { return tunnel.HeldBytes(p.t1) == 0 }, "nothing held")
}
