package tunnel_test

import (
	"net/netip"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/iphdr"
	"github.com/ipencap/ipencap/outer"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/tunneltest"
)

var natted = netip.AddrPortFrom(netip.MustParseAddr("198.51.100.77"), 40000)

// TestRoamGREInUDP: a GRE-in-UDP peer whose source address and port change
// (a NAT rebinding, seen here as a second underlay whose far end has
// another address) keeps its tunnel with Roam: the next packet sent goes
// to the new address and port. Without Roam, its packets find no tunnel.
func TestRoamGREInUDP(t *testing.T) {
	for _, roam := range []bool{true, false} {
		t.Run(map[bool]string{true: "roam", false: "fixed"}[roam], func(t *testing.T) {
			p := newManualPair(t, tunnel.ModeGREInUDP, func(c1, _ *tunnel.Config) { c1.Roam = roam }, true)
			q1, q2 := tunneltest.NewPipe(tunneltest.PipeConfig{Framing: tunnel.FramingUDP,
				AddrA: netip.AddrPortFrom(end1v4, tunnel.DefaultGREInUDPPort), AddrB: natted})
			require.NoError(t, p.e1.AddUnderlay(q1, tunnel.UnderlayConfig{Name: "nat", Framing: tunnel.FramingUDP, Local: []netip.Addr{end1v4}}))
			in := inner4(60, 64, 0, false)
			// From the configured peer first: nothing moves.
			inject(t, p, seedGRE(t, netip.Addr{}, netip.Addr{}, gre.Config{}, in))
			recv(t, p.o1)
			assert.Equal(t, netip.AddrPortFrom(end2v4, tunnel.DefaultGREInUDPPort), p.t1.Remote())
			// Three packets in a row from the new source (roamConfirm:
			// without iseq one packet is not enough to move).
			pkt := seedGRE(t, netip.Addr{}, netip.Addr{}, gre.Config{}, in)
			_, err := q2.WriteBatch([][]byte{pkt, pkt, pkt}, []netip.AddrPort{{}, {}, {}}, 0)
			require.NoError(t, err)
			if !roam {
				eventually(t, func() bool { return p.e1.Stats().RxNoTunnel == 3 }, "no tunnel")
				assert.Equal(t, uint64(1), p.t1.Stats().RxPackets)
				return
			}
			for range 3 {
				recv(t, p.o1)
			}
			assert.Equal(t, natted, p.t1.Remote())
			require.NoError(t, p.o1.Inject(in))
			readWire(t, p.p2)
			assert.Equal(t, natted, p.p1.LastDest(), "sent to the new address and port")
			eventually(t, func() bool { return p.t1.Stats().RxPackets == 4 }, "four delivered and counted")
			s := p.t1.Stats()
			assert.Equal(t, uint64(1), s.RemoteChanges)
			assert.Equal(t, uint64(4), s.RxPackets)
			assert.Zero(t, p.e1.Stats().RxNoTunnel)
		})
	}
}

// TestRoamGRE: over IP, the outer destination of what the tunnel sends
// follows the source of packets that pass every check; packets with a
// wrong key or out of the sequence window do not move it.
func TestRoamGRE(t *testing.T) {
	k := gre.Key(5)
	moved := netip.MustParseAddr("198.51.100.77")
	other := netip.MustParseAddr("198.51.100.78")
	p := newManualPair(t, tunnel.ModeGRE, func(c1, _ *tunnel.Config) {
		c1.Roam, c1.IKey, c1.OKey, c1.ISeq = true, tunnel.KeyOf(k), tunnel.KeyOf(k), true
	}, true)
	in := inner4(60, 64, 0, false)
	mk := func(src netip.Addr, key gre.Key, seq uint32) []byte { return roamPkt(t, src, key, &seq) }
	inject(t, p, mk(end2v4, k, 10), mk(moved, k, 11), mk(other, 6, 12), mk(other, k, 5))
	s, es := settled(t, p, 4)
	assert.Equal(t, uint64(2), s.RxPackets)
	assert.Equal(t, uint64(1), es.RxNoTunnel, "wrong key")
	assert.Equal(t, uint64(1), s.RxOutOfSeq, "behind the window")
	assert.Equal(t, netip.AddrPortFrom(moved, 0), p.t1.Remote())
	assert.Equal(t, uint64(1), s.RemoteChanges)

	require.NoError(t, p.o1.Inject(in))
	o, _, err := outer.Parse(readWire(t, p.p2)) // the header checksum is checked too
	require.NoError(t, err)
	assert.Equal(t, moved, o.Dst)
	assert.Equal(t, end1v4, o.Src)
	assert.Equal(t, netip.AddrPortFrom(moved, 0), p.p1.LastDest())

	// Dead-loop guard follows the remote too.
	loop := inner4(60, 64, 0, false)
	iphdr.IPv4(loop).SetDst(moved)
	iphdr.IPv4(loop).ComputeChecksum()
	require.NoError(t, p.o1.Inject(loop))
	eventually(t, func() bool { return p.t1.Stats().TxDeadLoop == 1 }, "dead loop")
}

// TestRoamConfig: Roam needs a remote, and not mode mobile.
func TestRoamConfig(t *testing.T) {
	for _, c := range []tunnel.Config{
		{Name: "a", Mode: tunnel.ModeGRE, Roam: true},
		{Name: "b", Mode: tunnel.ModeMobile, Remote: end2v4, Roam: true},
	} {
		require.ErrorIs(t, c.Validate(), tunnel.ErrConfigRoam, c.Name)
	}
}

// roamPkt builds a GRE packet from src to end 1 with key and, when seq is
// not nil, a sequence number.
func roamPkt(t *testing.T, src netip.Addr, key gre.Key, seq *uint32) []byte {
	f := gre.Fields{Protocol: gre.ProtoIPv4, KeyPresent: true, Key: key}
	if seq != nil {
		f.SeqPresent, f.Seq = true, *seq
	}
	g, err := f.Append(nil, inner4(60, 64, 0, false))
	require.NoError(t, err)
	o, err := outer.NewEncapsulator(outer.Config{Local: src, Remote: end1v4, TTL: 64})
	require.NoError(t, err)
	b := append(make([]byte, o.Overhead()), g...)
	start, err := o.Prepend(b, o.Overhead(), outer.ProtoGRE, outer.Inner{})
	require.NoError(t, err)
	return b[start:]
}

// TestRoamRefused: a roaming tunnel never moves to a loopback, broadcast
// or its own address (a spoofed packet from the host's own address made it
// send to itself); the packets are delivered, the refusals counted.
func TestRoamRefused(t *testing.T) {
	p := newManualPair(t, tunnel.ModeGRE, func(c1, _ *tunnel.Config) {
		c1.Roam, c1.IKey, c1.OKey = true, tunnel.KeyOf(5), tunnel.KeyOf(5)
	}, true)
	var pkts [][]byte
	for _, src := range []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("255.255.255.255"), end1v4} {
		for range 3 {
			pkts = append(pkts, roamPkt(t, src, 5, nil))
		}
	}
	inject(t, p, pkts...)
	s, _ := settled(t, p, uint64(len(pkts)))
	assert.Equal(t, uint64(len(pkts)), s.RxPackets)
	assert.Equal(t, uint64(len(pkts)), s.RoamRefused)
	assert.Zero(t, s.RemoteChanges)
	assert.Equal(t, netip.AddrPortFrom(end2v4, 0), p.t1.Remote())
}

// TestRoamConfirm: without iseq, a roaming tunnel moves after three
// packets in a row from the new source, not after one; a packet from the
// current peer in between starts the count again.
func TestRoamConfirm(t *testing.T) {
	p := newManualPair(t, tunnel.ModeGRE, func(c1, _ *tunnel.Config) {
		c1.Roam, c1.IKey, c1.OKey = true, tunnel.KeyOf(5), tunnel.KeyOf(5)
	}, true)
	moved := netip.MustParseAddr("198.51.100.77")
	inject(t, p, roamPkt(t, moved, 5, nil), roamPkt(t, moved, 5, nil), roamPkt(t, end2v4, 5, nil), roamPkt(t, moved, 5, nil), roamPkt(t, moved, 5, nil))
	settled(t, p, 5)
	assert.Equal(t, netip.AddrPortFrom(end2v4, 0), p.t1.Remote(), "two in a row are not enough")
	inject(t, p, roamPkt(t, moved, 5, nil))
	settled(t, p, 6)
	assert.Equal(t, netip.AddrPortFrom(moved, 0), p.t1.Remote(), "the third in a row moves it")
	assert.Equal(t, uint64(1), p.t1.Stats().RemoteChanges)
}

// TestRoamSeqDistance: with iseq, a packet from a new source moves the
// tunnel only if its sequence number is near the last one delivered from
// the current peer: the window alone accepts half of all numbers, so a
// blind attacker with the key would move it with probability 1/2 per
// packet, and a stranger's delivered packet must not become the mark its
// next packet is measured against.
func TestRoamSeqDistance(t *testing.T) {
	p := newManualPair(t, tunnel.ModeGRE, func(c1, _ *tunnel.Config) {
		c1.Roam, c1.IKey, c1.OKey, c1.ISeq = true, tunnel.KeyOf(5), tunnel.KeyOf(5), true
	}, true)
	moved := netip.MustParseAddr("198.51.100.77")
	seq := func(n uint32) *uint32 { return &n }
	inject(t, p, roamPkt(t, end2v4, 5, seq(100)), roamPkt(t, moved, 5, seq(100+1<<20)))
	s, _ := settled(t, p, 2)
	assert.Equal(t, uint64(2), s.RxPackets, "in the window: delivered")
	assert.Equal(t, uint64(1), s.RoamRefused)
	assert.Equal(t, netip.AddrPortFrom(end2v4, 0), p.t1.Remote(), "too far ahead to move it")
	inject(t, p, roamPkt(t, moved, 5, seq(100+1<<20+3)))
	s, _ = settled(t, p, 3)
	assert.Equal(t, uint64(2), s.RoamRefused)
	assert.Equal(t, netip.AddrPortFrom(end2v4, 0), p.t1.Remote(), "near the stranger's own last number, not the peer's: not moved")
	inject(t, p, roamPkt(t, end2v4, 5, seq(1<<31)), roamPkt(t, moved, 5, seq(1<<31+3)))
	settled(t, p, 5)
	assert.Equal(t, netip.AddrPortFrom(moved, 0), p.t1.Remote(), "near the peer's last one: moved")
}

// TestRoamNotByReflected: keepalive requests that a tunnel with
// Reflect.AnySource answers for strangers do not move a roaming tunnel to
// them, however many come in a row: only packets the tunnel delivers
// teach it a new remote.
func TestRoamNotByReflected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newReflectRig(t, func(c1 *tunnel.Config) { c1.Roam, c1.Reflect.AnySource = true, true })
		s := netip.MustParseAddr("203.0.113.50")
		req, _ := request(t, s, end1v4, s)
		inject(t, p, req, req, req, req)
		synctest.Wait()
		assert.Equal(t, uint64(4), p.t1.Stats().KeepalivesReflected)
		assert.Equal(t, netip.AddrPortFrom(end2v4, 0), p.t1.Remote(), "not moved by reflected requests")
		assert.Zero(t, p.t1.Stats().RemoteChanges)
	})
}
