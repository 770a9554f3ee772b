package tunnel_test

import (
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/tunneltest"
)

// group is the multicast group of the broadcast tests (MCAST-TEST-NET,
// RFC 5771).
var group = netip.MustParseAddr("233.252.0.1")

// Members of the broadcast segment: outer addresses and the MAC address
// of the host behind each.
var (
	bcOuter = []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("203.0.113.3")}
	bcMAC   = [][6]byte{{2, 0, 0, 0, 0, 0xa}, {2, 0, 0, 0, 0, 0xb}, {2, 0, 0, 0, 0, 0xc}}
	bcast   = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
)

// frame returns an Ethernet frame from src to dst carrying an IPv4 packet
// of n bytes.
func frame(dst, src [6]byte, n int) []byte {
	f := append(append(append([]byte{}, dst[:]...), src[:]...), 0x08, 0x00)
	return append(f, inner4(n, 64, 0, false)...)
}

// fakeClock is an engine clock the test moves by hand.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// bcRig is three engines with a broadcast gretap tunnel each (remote the
// group) on an in-memory multicast segment that loops multicast back to
// its sender.
type bcRig struct {
	seg *segment
	t   []*tunnel.Tunnel
	o   []*tunneltest.ChannelOverlay
	clk *fakeClock
}

func newBCRig(tb testing.TB, mode tunnel.Mode, clk *fakeClock) *bcRig {
	tb.Helper()
	r := &bcRig{seg: newSegment(tb, true, bcOuter...), clk: clk}
	var now func() time.Time
	if clk != nil {
		now = clk.now
	}
	for i, a := range bcOuter {
		tun, o := r.seg.member(tb, i, tunnel.Config{Name: "Universe", Mode: mode, Local: a, Remote: group, TTL: 16}, now)
		r.t, r.o = append(r.t, tun), append(r.o, o)
	}
	return r
}

func (r *bcRig) counts() (u, m [3]uint64) {
	for i := range 3 {
		u[i], m[i] = r.seg.counts(i)
	}
	return u, m
}

func fdbOf(entries ...any) []tunnel.FDBEntry {
	var out []tunnel.FDBEntry
	for i := 0; i < len(entries); i += 2 {
		mac := entries[i].([6]byte)
		out = append(out, tunnel.FDBEntry{MAC: net.HardwareAddr(mac[:]), Remote: entries[i+1].(netip.Addr)})
	}
	return out
}

// withoutAge drops the ages, which the fake clock makes exact but which
// the comparisons do not need.
func withoutAge(es []tunnel.FDBEntry) []tunnel.FDBEntry {
	for i := range es {
		es[i].Age = 0
	}
	return es
}

// TestBroadcastGRETap: three gretap tunnels whose remote is the group
// 233.252.0.1 form one Ethernet segment over an in-memory multicast
// segment (see [segment]: real multicast routing between namespaces is not
// used, since the in-memory segment shows the same behaviour
// deterministically). A broadcast frame goes to the group (the outer
// destination on the wire is the group) and reaches both other members;
// the sender's own copy, looped back, is dropped (RxLooped). Members learn
// the inner source MAC address of each frame with its outer source
// (Tunnel.FDB); a frame to a learnt MAC address then goes unicast to that
// member only, which receives it at its own address; a frame to an unknown
// MAC address is flooded to the group; an entry not refreshed for
// FDBAgeing expires (the engine's fake clock) and frames to it are flooded
// again.
func TestBroadcastGRETap(t *testing.T) {
	clk := &fakeClock{}
	clk.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	r := newBCRig(t, tunnel.ModeGRETap, clk)
	a, b, c := 0, 1, 2

	// A broadcasts: B and C get it, through the group.
	f := frame(bcast, bcMAC[a], 60)
	require.NoError(t, r.o[a].Inject(f))
	assert.Equal(t, f, recv(t, r.o[b]))
	assert.Equal(t, f, recv(t, r.o[c]))
	eventually(t, func() bool { return r.t[a].Stats().RxLooped == 1 }, "A drops its own multicast")
	quiet(t, r.o[a], "A delivered its own frame")
	u, m := r.counts()
	assert.Equal(t, [3]uint64{}, u)
	assert.Equal(t, [3]uint64{1, 1, 1}, m, "one packet to the group, looped back to A too")
	for _, i := range []int{b, c} {
		assert.Equal(t, fdbOf(bcMAC[a], bcOuter[a]), withoutAge(r.t[i].FDB()), "member %d learnt A", i)
		s := r.t[i].Stats()
		assert.Equal(t, uint64(1), s.RxMulticast)
		assert.Equal(t, uint64(1), s.FDBLearned)
	}
	assert.Empty(t, r.t[a].FDB(), "A learns nothing from its own frame")

	// B answers A: unicast to A only; A learns B.
	clk.advance(10 * time.Second)
	f = frame(bcMAC[a], bcMAC[b], 70)
	require.NoError(t, r.o[b].Inject(f))
	assert.Equal(t, f, recv(t, r.o[a]))
	quiet(t, r.o[c], "C got B's unicast to A")
	u, m = r.counts()
	assert.Equal(t, [3]uint64{1, 0, 0}, u, "B -> A went unicast to A")
	assert.Equal(t, [3]uint64{1, 1, 1}, m)
	assert.Equal(t, fdbOf(bcMAC[b], bcOuter[b]), withoutAge(r.t[a].FDB()))
	assert.Equal(t, []tunnel.FDBEntry{{MAC: net.HardwareAddr(bcMAC[a][:]), Remote: bcOuter[a], Age: 10 * time.Second}}, r.t[b].FDB())

	// C sends to B, whom it has not heard from: flooded to the group.
	f = frame(bcMAC[b], bcMAC[c], 80)
	require.NoError(t, r.o[c].Inject(f))
	assert.Equal(t, f, recv(t, r.o[a]))
	assert.Equal(t, f, recv(t, r.o[b]))
	u, m = r.counts()
	assert.Equal(t, [3]uint64{1, 0, 0}, u)
	assert.Equal(t, [3]uint64{2, 2, 2}, m)
	assert.Equal(t, fdbOf(bcMAC[a], bcOuter[a], bcMAC[c], bcOuter[c]), withoutAge(r.t[b].FDB()))

	// A to C, now known: unicast to C only.
	f = frame(bcMAC[c], bcMAC[a], 90)
	require.NoError(t, r.o[a].Inject(f))
	assert.Equal(t, f, recv(t, r.o[c]))
	quiet(t, r.o[b], "B got A's unicast to C")
	u, _ = r.counts()
	assert.Equal(t, [3]uint64{1, 0, 1}, u)

	// 300 s later B has heard from neither A nor C since: its entries
	// expire, and its frame to A is flooded.
	clk.advance(tunnel.DefaultFDBAgeing)
	f = frame(bcMAC[a], bcMAC[b], 60)
	require.NoError(t, r.o[b].Inject(f))
	assert.Equal(t, f, recv(t, r.o[a]))
	assert.Equal(t, f, recv(t, r.o[c]))
	u, m = r.counts()
	assert.Equal(t, [3]uint64{1, 0, 1}, u)
	assert.Equal(t, [3]uint64{3, 3, 3}, m, "the frame to an expired address went to the group")
	assert.Empty(t, r.t[b].FDB())
	assert.Equal(t, uint64(2), r.t[b].Stats().FDBExpired)
	// C refreshed its entry for B with that frame; its entry for A,
	// last refreshed 300 s ago, expired.
	eventually(t, func() bool {
		es := r.t[c].FDB()
		return len(es) == 1 && es[0].Remote == bcOuter[b] && es[0].Age == 0
	}, "C refreshed B")
	assert.Equal(t, uint64(1), r.t[c].Stats().FDBExpired)

	// Accounting: A and B sent 2 outer packets each, C 1; every packet
	// the segment delivered was delivered to an overlay or dropped as
	// looped.
	eventually(t, func() bool { return r.t[b].Stats().RxLooped == 1 }, "B's looped copy dropped")
	// The counters move when a batch write returns, a moment after the
	// packets may have arrived: wait until they account for the segment's.
	eventually(t, func() bool {
		var tx, rx, done uint64
		u, m := r.counts()
		for i := range 3 {
			s := r.t[i].Stats()
			tx += s.TxPackets
			done += s.RxPackets + s.RxLooped
			rx += u[i] + m[i]
		}
		return tx == 5 && done == rx
	}, "every packet counted")
	var tx, rx, looped, delivered uint64
	for i := range 3 {
		s := r.t[i].Stats()
		assert.Zero(t, s.RxErrors+s.TxErrors+s.RxDropped, "member %d", i)
		tx += s.TxPackets
		looped += s.RxLooped
		delivered += s.RxPackets
	}
	u, m = r.counts()
	for i := range 3 {
		rx += u[i] + m[i]
	}
	assert.Equal(t, uint64(5), tx)
	assert.Equal(t, rx, looped+delivered)
	assert.Equal(t, uint64(3), looped)
	assert.Zero(t, r.seg.unknown.Load())
}

// TestBroadcastGRENeighbors: a broadcast GRE tunnel carrying IP (seed
// 004's "Universe") sends to the group what has no neighbour entry, and
// unicast what has one (`ip neigh add 10.0.0.2 lladdr 198.51.100.2 dev
// Universe nud permanent`).
func TestBroadcastGRENeighbors(t *testing.T) {
	r := newBCRig(t, tunnel.ModeGRE, nil)
	in2 := netip.MustParseAddr("10.0.0.2")
	require.NoError(t, r.t[0].AddNeighbor(host(in2), netip.AddrPortFrom(bcOuter[1], 0)))
	p := inner4(60, 64, 0, false) // to testpkt.Inner4Dst: no entry
	require.NoError(t, r.o[0].Inject(p))
	assert.Equal(t, p, recv(t, r.o[1]))
	assert.Equal(t, p, recv(t, r.o[2]))
	p = to4(in2)
	require.NoError(t, r.o[0].Inject(p))
	assert.Equal(t, p, recv(t, r.o[1]))
	quiet(t, r.o[2], "C got the unicast to B")
	u, m := r.counts()
	assert.Equal(t, [3]uint64{0, 1, 0}, u)
	assert.Equal(t, [3]uint64{1, 1, 1}, m)
	eventually(t, func() bool { return r.t[0].Stats().RxLooped == 1 }, "looped copy dropped")
	assert.Nil(t, r.t[0].FDB(), "only gretap learns")
}

// TestBroadcastConfig: what a broadcast tunnel may and may not be.
func TestBroadcastConfig(t *testing.T) {
	ok := tunnel.Config{Name: "Universe", Mode: tunnel.ModeGRETap, Local: end1v4, Remote: group, TTL: 16, FDB: tunnel.FDBConfig{Ageing: time.Minute, Max: 10}}
	require.NoError(t, ok.Validate())
	for _, tt := range []struct {
		name string
		edit func(c *tunnel.Config)
		want error
	}{
		{"keepalive to a group", func(c *tunnel.Config) {
			c.Mode, c.FDB.Ageing, c.FDB.Max, c.Keepalive.Period = tunnel.ModeGRE, 0, 0, time.Second
		}, tunnel.ErrConfigKeepalive},
		{"roam from a group", func(c *tunnel.Config) { c.Roam = true }, tunnel.ErrConfigRoam},
		{"fdb on unicast", func(c *tunnel.Config) { c.Remote = end2v4 }, tunnel.ErrConfigFDB},
		{"fdb on gre", func(c *tunnel.Config) { c.Mode = tunnel.ModeGRE }, tunnel.ErrConfigFDB},
		{"negative ageing", func(c *tunnel.Config) { c.FDB.Ageing = -1 }, tunnel.ErrConfigFDB},
		{"multicast local", func(c *tunnel.Config) { c.Local = netip.MustParseAddr("233.252.0.2") }, tunnel.ErrConfigAddr},
	} {
		c := ok
		tt.edit(&c)
		require.ErrorIs(t, c.Validate(), tt.want, tt.name)
	}
	// A broadcast tunnel also takes unicast to its local: an NBMA tunnel
	// of the same local and key cannot sit beside it.
	e := tunnel.NewEngine(tunnel.EngineConfig{})
	t.Cleanup(func() { _ = e.Close() })
	p1, _ := tunneltest.NewPipe(tunneltest.PipeConfig{})
	require.NoError(t, e.AddUnderlay(p1, tunnel.UnderlayConfig{Local: []netip.Addr{end1v4}}))
	_, err := e.Add(tunnel.Config{Name: "nbma", Mode: tunnel.ModeGRETap, Local: end1v4}, tunneltest.NewChannelOverlay(tunneltest.OverlayConfig{}))
	require.NoError(t, err)
	_, err = e.Add(ok, tunneltest.NewChannelOverlay(tunneltest.OverlayConfig{}))
	require.ErrorIs(t, err, tunnel.ErrConfigDuplicate)
	require.Len(t, e.List(), 1)
	// ... and once removed, the broadcast tunnel can be added.
	require.NoError(t, e.Remove("nbma"))
	_, err = e.Add(ok, tunneltest.NewChannelOverlay(tunneltest.OverlayConfig{}))
	require.NoError(t, err)
}

// TestAllocsBroadcastTap: a frame flooded to the group (delivered to two
// members, the looped copy dropped) and a unicast frame to a learnt MAC
// address (the FDB lookup, the outer destination rewritten, learning
// refreshed on receipt) allocate nothing.
func TestAllocsBroadcastTap(t *testing.T) {
	r := newBCRig(t, tunnel.ModeGRETap, nil)
	dst := make([]byte, 70000)
	fromB := frame(bcast, bcMAC[1], 60)
	require.NoError(t, r.o[1].Inject(fromB)) // A and C learn B
	recv(t, r.o[0])
	recv(t, r.o[2])
	for name, tc := range map[string]struct {
		f    []byte
		from int
		to   []int
	}{
		"flood":   {frame(bcast, bcMAC[0], 60), 0, []int{1, 2}},
		"unicast": {frame(bcMAC[1], bcMAC[0], 60), 0, []int{1}},
	} {
		t.Run(name, func(t *testing.T) {
			run := func() {
				if err := r.o[tc.from].Inject(tc.f); err != nil {
					t.Fatal(err)
				}
				for _, i := range tc.to {
					if _, ok := r.o[i].Recv(dst, 2*time.Second); !ok {
						t.Fatal("lost")
					}
				}
			}
			for range 100 {
				run()
			}
			require.Zero(t, testing.AllocsPerRun(500, run))
		})
	}
	u, _ := r.counts()
	assert.Equal(t, uint64(100+1+500), u[1], "the unicast frames went unicast to B")
	assert.Zero(t, u[0]+u[2])
}
