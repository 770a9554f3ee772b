package tunnel_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/iphdr"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/tunneltest"
)

// TestAccounting sends a random mix of good packets and every bad kind
// through a pipe that loses, duplicates and reorders, into an engine with a
// GRE tunnel (ikey, icsum, iseq) and an IPIP tunnel, and checks that every
// packet that reached the engine was delivered or counted in exactly one
// drop counter.
func TestAccounting(t *testing.T) {
	k := gre.Key(5)
	p := newPair(t, tunnel.ModeGRE, func(c1, _ *tunnel.Config) {
		c1.IKey, c1.ICsum, c1.ISeq = tunnel.KeyOf(k), true, true
	}, tunneltest.Impairment{Loss: 0.05, Duplicate: 0.05, Reorder: 0.05, Seed: 1}, true)
	oIPIP := tunneltest.NewChannelOverlay(tunneltest.OverlayConfig{Queue: 4096})
	tIPIP, err := p.e1.Add(tunnel.Config{Name: "ipip", Mode: tunnel.ModeIPIP, Local: end1v4, Remote: end2v4}, oIPIP)
	require.NoError(t, err)

	// Drain what is delivered, so the overlays never refuse a packet.
	go drain(p.o1)
	go drain(oIPIP)
	rng := rand.New(rand.NewPCG(1, 2))
	var seq uint32
	good := func() []byte {
		seq++
		return craftFields(t, gre.Fields{Protocol: gre.ProtoIPv4, KeyPresent: true, Key: k, ChecksumPresent: true,
			SeqPresent: true, Seq: seq}, seqInner(seq))
	}
	kinds := []func() []byte{
		good, good, good, good,
		func() []byte { return craftIPIP(t, inner4(80, 64, 0, false)) },
		func() []byte { // replay of an old number
			return craftFields(t, gre.Fields{Protocol: gre.ProtoIPv4, KeyPresent: true, Key: k, ChecksumPresent: true, SeqPresent: true, Seq: seq / 2}, inner4(60, 64, 0, false))
		},
		func() []byte {
			return craftGRE(t, gre.Config{KeyPresent: true, Key: 6, Checksum: true}, inner4(60, 64, 0, false))
		}, // no tunnel
		func() []byte { // bad checksum
			b := good()
			b[len(b)-1] ^= 1
			return b
		},
		func() []byte { return craftGRE(t, gre.Config{KeyPresent: true, Key: k}, inner4(60, 64, 0, false)) }, // no checksum
		func() []byte { return good()[:10] }, // truncated outer
		func() []byte { // bad outer checksum
			b := good()
			b[10] ^= 1
			return b
		},
		func() []byte { // not a tunnel protocol
			b := inner4(60, 64, 0, false)
			return b
		},
		func() []byte { // ECN drop
			b := good()
			iphdr.IPv4(b).SetTOS(3)
			iphdr.IPv4(b).ComputeChecksum()
			return b
		},
	}
	const n = 3000
	pkts := make([][]byte, 0, 64)
	for i := 0; i < n; i++ {
		pkts = append(pkts, kinds[rng.IntN(len(kinds))]())
		if len(pkts) == cap(pkts) || i == n-1 {
			inject(t, p, pkts...)
			pkts = pkts[:0]
			// Let the engine catch up, so that the pipe's queue never
			// overflows: every drop here is the engine's.
			ps := p.p2.Stats()
			eventually(t, func() bool { return p.e1.Stats().RxPackets == ps.Sent-ps.Lost+ps.Duplicated-ps.Dropped }, "engine caught up")
		}
	}

	ps := p.p2.Stats()
	arrived := uint64(n) - ps.Lost + ps.Duplicated - ps.Dropped
	var s, si tunnel.Stats
	var es tunnel.EngineStats
	eventually(t, func() bool {
		s, si, es = p.t1.Stats(), tIPIP.Stats(), p.e1.Stats()
		return es.RxPackets == arrived &&
			s.RxPackets+s.RxErrors+s.RxDropped+s.KeepaliveReplies+s.KeepalivesReflected+
				si.RxPackets+si.RxErrors+si.RxDropped+si.KeepaliveReplies+si.KeepalivesReflected+
				es.RxNoTunnel+es.RxFrameErrors+es.RxCsumErrors+es.RxUnknownProto == arrived
	}, fmt.Sprintf("accounting: pipe %+v", ps))
	t.Logf("pipe %+v\ngre %+v\nipip %+v\nengine %+v", ps, s, si, es)
	assert.Zero(t, ps.Dropped)
	for name, v := range map[string]uint64{"delivered": s.RxPackets, "csum": s.RxCsumErrors, "seq": s.RxOutOfSeq,
		"frame": s.RxFrameErrors, "no tunnel": es.RxNoTunnel, "outer frame": es.RxFrameErrors,
		"outer csum": es.RxCsumErrors, "proto": es.RxUnknownProto, "ipip": si.RxPackets, "lost": ps.Lost,
		"duplicated": ps.Duplicated, "reordered": ps.Reordered} {
		assert.NotZero(t, v, name)
	}
}

func drain(o *tunneltest.ChannelOverlay) {
	buf := make([]byte, 70000)
	for {
		if _, ok := o.Recv(buf, 500*time.Millisecond); !ok {
			return
		}
	}
}

// seqInner is an inner packet marked with seq.
func seqInner(seq uint32) []byte {
	b := inner4(60, 64, 0, false)
	b[56], b[57], b[58], b[59] = byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq)
	return b
}

// craftIPIP builds end 2's IPIP packet around inner.
func craftIPIP(tb testing.TB, inner []byte) []byte { return seedIPIP(tb, end2v4, end1v4, inner) }

// TestAddRemoveUnderTraffic adds and removes tunnels while packets flow
// through another tunnel of the same engines (run with -race).
func TestAddRemoveUnderTraffic(t *testing.T) {
	k := gre.Key(1)
	p := newPair(t, tunnel.ModeGRE, func(c1, c2 *tunnel.Config) { c1.OKey, c2.IKey = tunnel.KeyOf(k), tunnel.KeyOf(k) }, tunneltest.Impairment{}, false)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if p.o1.Inject(inner4(100, 64, 0, false)) != nil {
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		drain(p.o2)
	}()
	for i := range 50 {
		key := gre.Key(1000 + i)
		name := fmt.Sprintf("x%d", i)
		o := tunneltest.NewChannelOverlay(tunneltest.OverlayConfig{})
		_, err := p.e2.Add(tunnel.Config{Name: name, Mode: tunnel.ModeGRE, Local: end2v4, Remote: end1v4, IKey: tunnel.KeyOf(key)}, o)
		require.NoError(t, err)
		if i%2 == 0 {
			require.NoError(t, p.e2.Remove(name))
		}
	}
	for i := 1; i < 50; i += 2 {
		require.NoError(t, p.e2.Remove(fmt.Sprintf("x%d", i)))
	}
	close(stop)
	wg.Wait()
	assert.Len(t, p.e2.List(), 1)
	assert.NotZero(t, p.t2.Stats().RxPackets)
	assert.Zero(t, p.e2.Stats().RxNoTunnel)
}

var _ = netip.Addr{}
