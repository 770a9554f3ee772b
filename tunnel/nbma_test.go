package tunnel_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/tunneltest"
)

// The outer addresses of the hub and its two spokes, and their inner
// addresses.
var (
	hubOuter    = netip.MustParseAddr("192.0.2.1")
	spoke1Outer = netip.MustParseAddr("198.51.100.1")
	spoke2Outer = netip.MustParseAddr("203.0.113.2")

	hubInner    = netip.MustParseAddr("10.9.0.254")
	spoke1Inner = netip.MustParseAddr("10.9.0.1")
	spoke2Inner = netip.MustParseAddr("10.9.0.2")
)

func host(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }

func to4(dst netip.Addr) []byte {
	return testpkt.BuildIPv4(0, 60, testpkt.IPv4{Src: hubInner, Dst: dst, TTL: 64})
}

// hubRig is an NBMA hub (GRE, remote any) and two point-to-point spokes
// on one in-memory segment.
type hubRig struct {
	seg            *segment
	hub, s1, s2    *tunnel.Tunnel
	oHub, oS1, oS2 *tunneltest.ChannelOverlay
}

func newHubRig(tb testing.TB) *hubRig {
	tb.Helper()
	r := &hubRig{seg: newSegment(tb, false, hubOuter, spoke1Outer, spoke2Outer)}
	r.hub, r.oHub = r.seg.member(tb, 0, tunnel.Config{Name: "gre1", Mode: tunnel.ModeGRE, Local: hubOuter, TTL: 64}, nil)
	r.s1, r.oS1 = r.seg.member(tb, 1, tunnel.Config{Name: "gre1", Mode: tunnel.ModeGRE, Local: spoke1Outer, Remote: hubOuter, TTL: 64}, nil)
	r.s2, r.oS2 = r.seg.member(tb, 2, tunnel.Config{Name: "gre1", Mode: tunnel.ModeGRE, Local: spoke2Outer, Remote: hubOuter, TTL: 64}, nil)
	// ip neigh add 10.9.0.2 lladdr 203.0.113.2 dev gre1 nud permanent,
	// ip route add 10.9.0.0/16 via 198.51.100.1 dev gre1 onlink, and
	// ip route add 10.9.2.0/24 via 203.0.113.2 dev gre1 onlink.
	require.NoError(tb, r.hub.AddNeighbor(netip.MustParsePrefix("10.9.0.0/16"), netip.AddrPortFrom(spoke1Outer, 0)))
	require.NoError(tb, r.hub.AddNeighbor(host(spoke2Inner), netip.AddrPortFrom(spoke2Outer, 0)))
	require.NoError(tb, r.hub.AddNeighbor(netip.MustParsePrefix("10.9.2.0/24"), netip.AddrPortFrom(spoke2Outer, 0)))
	return r
}

// TestNBMA: a hub with remote any reaches two spokes through its
// neighbour table over a three-member in-memory segment. Each packet goes
// unicast to the spoke its longest matching entry names and to no other;
// a destination without an entry is TxNoRoute; a destination equal to the
// outer address of its own entry is TxDeadLoop; spokes reach the hub
// (which receives from any source at its local address, demux step 3).
func TestNBMA(t *testing.T) {
	r := newHubRig(t)
	seg := r.seg
	fd00 := netip.MustParseAddr("fd00::5")
	require.NoError(t, r.hub.AddNeighbor(netip.MustParsePrefix("fd00::/64"), netip.AddrPortFrom(spoke2Outer, 0)))

	require.Equal(t, []tunnel.Neighbor{
		{Inner: netip.MustParsePrefix("10.9.0.0/16"), Outer: netip.AddrPortFrom(spoke1Outer, 0)},
		{Inner: host(spoke2Inner), Outer: netip.AddrPortFrom(spoke2Outer, 0)},
		{Inner: netip.MustParsePrefix("10.9.2.0/24"), Outer: netip.AddrPortFrom(spoke2Outer, 0)},
		{Inner: netip.MustParsePrefix("fd00::/64"), Outer: netip.AddrPortFrom(spoke2Outer, 0)},
	}, r.hub.Neighbors())

	// hub -> spoke 1 (the /16) arrives at spoke 1 only, unicast.
	p1 := to4(spoke1Inner)
	require.NoError(t, r.oHub.Inject(p1))
	assert.Equal(t, p1, recv(t, r.oS1))
	quiet(t, r.oS2, "spoke 2 got spoke 1's packet")
	// hub -> spoke 2: the /32 wins over the /16; the /24 behind spoke 2;
	// IPv6 inner through the IPv6 entry.
	for _, p := range [][]byte{to4(spoke2Inner), to4(netip.MustParseAddr("10.9.2.7")),
		testpkt.BuildIPv6(0, 80, testpkt.IPv6{Dst: fd00, HopLimit: 64})} {
		require.NoError(t, r.oHub.Inject(p))
		assert.Equal(t, p, recv(t, r.oS2))
	}
	quiet(t, r.oS1, "spoke 1 got spoke 2's packets")
	u1, m1 := seg.counts(1)
	u2, m2 := seg.counts(2)
	assert.Equal(t, [4]uint64{1, 0, 3, 0}, [4]uint64{u1, m1, u2, m2}, "outer destinations: unicast to each spoke")

	// No entry: TxNoRoute. A dead loop: the inner destination is the
	// outer address its own entry sends it to.
	require.NoError(t, r.oHub.Inject(to4(netip.MustParseAddr("10.8.0.1"))))
	require.NoError(t, r.hub.AddNeighbor(host(spoke1Outer), netip.AddrPortFrom(spoke1Outer, 0)))
	require.NoError(t, r.oHub.Inject(to4(spoke1Outer)))
	eventually(t, func() bool { s := r.hub.Stats(); return s.TxNoRoute == 1 && s.TxDeadLoop == 1 }, "no route and dead loop counted")
	quiet(t, r.oS1, "spoke 1 got a dropped packet")

	// spoke -> hub, both spokes.
	back1 := testpkt.BuildIPv4(0, 60, testpkt.IPv4{Src: spoke1Inner, Dst: hubInner, TTL: 64})
	back2 := testpkt.BuildIPv4(0, 70, testpkt.IPv4{Src: spoke2Inner, Dst: hubInner, TTL: 64})
	require.NoError(t, r.oS1.Inject(back1))
	assert.Equal(t, back1, recv(t, r.oHub))
	require.NoError(t, r.oS2.Inject(back2))
	assert.Equal(t, back2, recv(t, r.oHub))

	// Removing the /32 sends spoke 2's address through the /16 to spoke 1.
	require.NoError(t, r.hub.RemoveNeighbor(host(spoke2Inner)))
	require.ErrorIs(t, r.hub.RemoveNeighbor(host(spoke2Inner)), tunnel.ErrNoNeighbor)
	p := to4(spoke2Inner)
	require.NoError(t, r.oHub.Inject(p))
	assert.Equal(t, p, recv(t, r.oS1))

	// The counters move when a batch write returns, a moment after the
	// packets may have arrived.
	eventually(t, func() bool {
		return r.hub.Stats().TxPackets == 5 && r.s1.Stats().RxPackets == 2 && r.s2.Stats().RxPackets == 3
	}, "every packet counted")
	s := r.hub.Stats()
	assert.Equal(t, uint64(5), s.TxPackets)
	assert.Equal(t, uint64(2), s.TxErrors)
	assert.Equal(t, uint64(2), s.RxPackets)
	assert.Zero(t, s.RxErrors+seg.unknown.Load())
	for _, sp := range []*tunnel.Tunnel{r.s1, r.s2} {
		ss := sp.Stats()
		assert.Equal(t, uint64(1), ss.TxPackets)
		assert.Zero(t, ss.RxErrors+ss.TxErrors+ss.RxDropped)
	}
	assert.Equal(t, uint64(2), r.s1.Stats().RxPackets)
	assert.Equal(t, uint64(3), r.s2.Stats().RxPackets)
}

// TestNBMAErrors: which tunnels and addresses take neighbour entries.
func TestNBMAErrors(t *testing.T) {
	r := newHubRig(t)
	out := netip.AddrPortFrom(spoke1Outer, 0)
	// A point-to-point spoke is not NBMA.
	require.ErrorIs(t, r.s1.AddNeighbor(host(hubInner), out), tunnel.ErrNotNBMA)
	for _, tt := range []struct {
		name  string
		inner netip.Prefix
		outer netip.AddrPort
	}{
		{"invalid prefix", netip.Prefix{}, out},
		{"ipv6 outer on gre", host(spoke1Inner), netip.AddrPortFrom(end1v6, 0)},
		{"unspecified outer", host(spoke1Inner), netip.AddrPortFrom(netip.IPv4Unspecified(), 0)},
		{"multicast outer", host(spoke1Inner), netip.AddrPortFrom(netip.MustParseAddr("233.252.0.1"), 0)},
		{"mapped outer", host(spoke1Inner), netip.AddrPortFrom(netip.MustParseAddr("::ffff:198.51.100.1"), 0)},
		{"port without gre-in-udp", host(spoke1Inner), netip.AddrPortFrom(spoke1Outer, 4754)},
	} {
		require.ErrorIs(t, r.hub.AddNeighbor(tt.inner, tt.outer), tunnel.ErrNeighborAddr, tt.name)
	}
	// An IPIP hub carries IPv4 only.
	seg := newSegment(t, false, hubOuter)
	ipip, _ := seg.member(t, 0, tunnel.Config{Name: "tunl1", Mode: tunnel.ModeIPIP, Local: hubOuter}, nil)
	require.ErrorIs(t, ipip.AddNeighbor(netip.MustParsePrefix("fd00::/64"), out), tunnel.ErrNeighborAddr)
	require.NoError(t, ipip.AddNeighbor(netip.MustParsePrefix("10.0.0.0/8"), out))
	// A host bit set in the prefix is masked away.
	require.NoError(t, ipip.AddNeighbor(netip.MustParsePrefix("10.1.2.3/16"), out))
	require.Equal(t, netip.MustParsePrefix("10.1.0.0/16"), ipip.Neighbors()[1].Inner)
}

// TestAllocsNBMA: a packet from the NBMA hub to a spoke (a longest-prefix
// lookup over entries of three lengths, the neighbour's Encapsulator) and
// back allocates nothing.
func TestAllocsNBMA(t *testing.T) {
	r := newHubRig(t)
	dst := make([]byte, 70000)
	out, back := to4(spoke2Inner), testpkt.BuildIPv4(0, 60, testpkt.IPv4{Src: spoke1Inner, Dst: hubInner, TTL: 64})
	run := func() {
		if err := r.oHub.Inject(out); err != nil {
			t.Fatal(err)
		}
		if _, ok := r.oS2.Recv(dst, 2*time.Second); !ok {
			t.Fatal("lost")
		}
		if err := r.oS1.Inject(back); err != nil {
			t.Fatal(err)
		}
		if _, ok := r.oHub.Recv(dst, 2*time.Second); !ok {
			t.Fatal("lost")
		}
	}
	for range 100 {
		run()
	}
	require.Zero(t, testing.AllocsPerRun(500, run))
}

// TestManyNeighbors: 8 000 host entries (adding them copied the whole
// table each time: seconds), all listed, each found by a packet's
// destination, and removed one by one.
func TestManyNeighbors(t *testing.T) {
	r := newHubRig(t)
	const n = 8000
	inner := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 20, byte(i >> 8), byte(i)}) }
	for i := range n {
		require.NoError(t, r.hub.AddNeighbor(host(inner(i)), netip.AddrPortFrom(spoke1Outer, 0)))
	}
	require.Len(t, r.hub.Neighbors(), n+3)
	for _, i := range []int{0, 4321, n - 1} {
		p := testpkt.BuildIPv4(0, 60, testpkt.IPv4{Src: hubInner, Dst: inner(i), TTL: 64})
		require.NoError(t, r.oHub.Inject(p))
		assert.Equal(t, p, recv(t, r.oS1), "entry %d", i)
	}
	for i := range n {
		require.NoError(t, r.hub.RemoveNeighbor(host(inner(i))))
	}
	require.Len(t, r.hub.Neighbors(), 3)
}

// BenchmarkAddNeighbor measures adding and removing a host entry in a
// table of 8 000.
func BenchmarkAddNeighbor(b *testing.B) {
	r := newHubRig(b)
	for i := range 8000 {
		if err := r.hub.AddNeighbor(host(netip.AddrFrom4([4]byte{10, 20, byte(i >> 8), byte(i)})), netip.AddrPortFrom(spoke1Outer, 0)); err != nil {
			b.Fatal(err)
		}
	}
	p := host(netip.MustParseAddr("10.30.0.1"))
	b.ReportAllocs()
	for b.Loop() {
		if err := r.hub.AddNeighbor(p, netip.AddrPortFrom(spoke2Outer, 0)); err != nil {
			b.Fatal(err)
		}
		if err := r.hub.RemoveNeighbor(p); err != nil {
			b.Fatal(err)
		}
	}
}
