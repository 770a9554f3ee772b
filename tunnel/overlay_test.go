package tunnel_test

import (
	"net/netip"
	"runtime"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/outer"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/tunneltest"
)

// sharedHub is a hub: one engine, one underlay (whose far end, wire, the test
// reads and writes) and one shared overlay, with spokes GRE tunnels to
// end2v4, told apart by their keys 1..n, spoke i routing 10.i.0.0/16.
type sharedHub struct {
	e    *tunnel.Engine
	wire *tunneltest.Pipe
	o    *tunneltest.ChannelOverlay
	t    []*tunnel.Tunnel
}

func spokeNet(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 16)
}

func spokeAddr(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i), 0, 1}) }

func newSharedHub(tb testing.TB, spokes int) *sharedHub {
	tb.Helper()
	a, b := tunneltest.NewPipe(tunneltest.PipeConfig{AddrA: netip.AddrPortFrom(end1v4, 0), AddrB: netip.AddrPortFrom(end2v4, 0)})
	r := &sharedHub{e: tunnel.NewEngine(tunnel.EngineConfig{}), wire: b, o: tunneltest.NewChannelOverlay(tunneltest.OverlayConfig{})}
	tb.Cleanup(func() { _ = r.e.Close(); _ = b.Close() })
	require.NoError(tb, r.e.AddUnderlay(a, tunnel.UnderlayConfig{Name: "wire", Local: []netip.Addr{end1v4}}))
	require.NoError(tb, r.e.AddOverlay(r.o, tunnel.OverlayConfig{Name: "hub0"}))
	for i := 1; i <= spokes; i++ {
		t, err := r.e.Add(tunnel.Config{Name: "spoke" + strconv.Itoa(i), Mode: tunnel.ModeGRE, Local: end1v4, Remote: end2v4, TTL: 64,
			IKey: tunnel.KeyOf(gre.Key(i)), OKey: tunnel.KeyOf(gre.Key(i)), Overlay: "hub0", Routes: []netip.Prefix{spokeNet(i)}}, nil)
		require.NoError(tb, err)
		r.t = append(r.t, t)
	}
	return r
}

// fromSpoke is spoke i's GRE packet to the hub carrying an IPv4 packet
// from src.
func fromSpoke(tb testing.TB, i int, src netip.Addr) []byte {
	return seedGRE(tb, end2v4, end1v4, gre.Config{KeyPresent: true, Key: gre.Key(i)},
		testpkt.BuildIPv4(0, 60, testpkt.IPv4{TTL: 64, Src: src, Dst: testpkt.Inner4Dst}))
}

// TestSharedOverlay: many tunnels behind one overlay. What the overlay
// gives goes to the tunnel whose Routes hold the destination (longest
// prefix); what a tunnel receives goes into the overlay if its Routes hold
// the source (a spoke cannot speak for another); one goroutine reads the
// overlay, whatever the number of tunnels.
func TestSharedOverlay(t *testing.T) {
	r := newSharedHub(t, 3)
	// Overlay -> spoke 2, by destination.
	require.NoError(t, r.o.Inject(testpkt.BuildIPv4(0, 60, testpkt.IPv4{TTL: 64, Dst: spokeAddr(2)})))
	_, payload, err := outer.Parse(readWire(t, r.wire))
	require.NoError(t, err)
	h, err := gre.Parse(payload)
	require.NoError(t, err)
	k, _ := h.Key()
	assert.Equal(t, gre.Key(2), k, "spoke 2's key")
	// No route: counted by the engine.
	require.NoError(t, r.o.Inject(testpkt.BuildIPv4(0, 60, testpkt.IPv4{TTL: 64, Dst: netip.MustParseAddr("192.0.2.99")})))
	eventually(t, func() bool { return r.e.Stats().TxNoTunnel == 1 }, "no tunnel for it")

	// Spoke 3 -> overlay, from its own prefix; from spoke 1's: refused.
	inject(t, &pair{p2: r.wire}, fromSpoke(t, 3, spokeAddr(3)), fromSpoke(t, 3, spokeAddr(1)))
	got := recv(t, r.o)
	assert.Equal(t, spokeAddr(3).AsSlice(), []byte(got[12:16]))
	eventually(t, func() bool { return r.t[2].Stats().RxSourceRefused == 1 }, "spoofed source refused")
	quiet(t, r.o, "the spoofed packet must not reach the overlay")
	s := r.t[2].Stats()
	assert.Equal(t, uint64(1), s.RxPackets)
	assert.Equal(t, uint64(1), s.RxErrors)
	assert.Equal(t, uint64(1), r.t[1].Stats().TxPackets)

	// Overlapping routes are refused; a removed tunnel's routes go.
	_, err = r.e.Add(tunnel.Config{Name: "dup", Mode: tunnel.ModeGRE, Local: end1v4, Remote: end2v4, IKey: tunnel.KeyOf(9), OKey: tunnel.KeyOf(9),
		Overlay: "hub0", Routes: []netip.Prefix{spokeNet(1)}}, nil)
	require.ErrorIs(t, err, tunnel.ErrConfigDuplicate)
	require.NoError(t, r.e.Remove("spoke2"))
	require.NoError(t, r.o.Inject(testpkt.BuildIPv4(0, 60, testpkt.IPv4{TTL: 64, Dst: spokeAddr(2)})))
	eventually(t, func() bool { return r.e.Stats().TxNoTunnel == 2 }, "spoke 2's route gone")
	// The shared overlay stays open for the others.
	require.NoError(t, r.o.Inject(testpkt.BuildIPv4(0, 60, testpkt.IPv4{TTL: 64, Dst: spokeAddr(1)})))
	readWire(t, r.wire)
}

// TestSharedOverlayGoroutines: tunnels on a shared overlay hold no
// goroutine of their own.
func TestSharedOverlayGoroutines(t *testing.T) {
	r := newSharedHub(t, 1)
	before := runtime.NumGoroutine()
	for i := 2; i <= 201; i++ {
		_, err := r.e.Add(tunnel.Config{Name: "s" + strconv.Itoa(i), Mode: tunnel.ModeGRE, Local: end1v4, Remote: end2v4,
			IKey: tunnel.KeyOf(gre.Key(i)), OKey: tunnel.KeyOf(gre.Key(i)), Overlay: "hub0", Routes: []netip.Prefix{spokeNet(i)}}, nil)
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), before+2, "200 tunnels, no goroutines of their own")
}

// TestOverlayErrors: who owns an overlay when Add fails (the engine: it is
// closed), a shared overlay and an own one together, none, an unknown
// one, routes without a shared overlay, a nil underlay.
func TestOverlayErrors(t *testing.T) {
	r := newSharedHub(t, 0)
	base := tunnel.Config{Name: "x", Mode: tunnel.ModeGRE, Local: end1v4, Remote: end2v4}
	for name, tc := range map[string]struct {
		edit func(c *tunnel.Config)
		own  bool
	}{
		"shared and own":       {func(c *tunnel.Config) { c.Overlay = "hub0" }, true},
		"none":                 {func(c *tunnel.Config) {}, false},
		"unknown":              {func(c *tunnel.Config) { c.Overlay = "nope" }, false},
		"routes without":       {func(c *tunnel.Config) { c.Routes = []netip.Prefix{spokeNet(1)} }, true},
		"gretap on a shared":   {func(c *tunnel.Config) { c.Mode, c.Overlay = tunnel.ModeGRETap, "hub0" }, false},
		"a failed own overlay": {func(c *tunnel.Config) { c.TTL, c.NoPMTUDisc = 64, true }, true},
	} {
		c := base
		tc.edit(&c)
		var o *tunneltest.ChannelOverlay
		var over tunnel.Overlay
		if tc.own {
			o = tunneltest.NewChannelOverlay(tunneltest.OverlayConfig{})
			over = o
		}
		_, err := r.e.Add(c, over)
		require.Error(t, err, name)
		if tc.own {
			require.Error(t, o.Inject([]byte{0x45}), "%s: the engine closed the overlay it was given", name)
		}
	}
	require.ErrorIs(t, r.e.AddUnderlay(nil, tunnel.UnderlayConfig{Name: "nil"}), tunnel.ErrUnderlay)
	require.ErrorIs(t, r.e.AddOverlay(tunneltest.NewChannelOverlay(tunneltest.OverlayConfig{}), tunnel.OverlayConfig{Name: "hub0"}), tunnel.ErrOverlayExists)
}

// TestAllocsSharedOverlay: routing by destination, the source check and
// the shared batch allocate nothing.
func TestAllocsSharedOverlay(t *testing.T) {
	r := newSharedHub(t, 3)
	out := testpkt.BuildIPv4(0, 60, testpkt.IPv4{TTL: 64, Dst: spokeAddr(2)})
	in := fromSpoke(t, 3, spokeAddr(3))
	peers := []netip.AddrPort{r.wire.Addr()}
	bufs, sizes := [][]byte{make([]byte, 2048)}, []int{0}
	dst := make([]byte, 2048)
	run := func() {
		if err := r.o.Inject(out); err != nil {
			t.Fatal(err)
		}
		if _, err := r.wire.ReadBatch(bufs, sizes, peers, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := r.wire.WriteBatch([][]byte{in}, peers, 0); err != nil {
			t.Fatal(err)
		}
		if _, ok := r.o.Recv(dst, 2*time.Second); !ok {
			t.Fatal("lost")
		}
	}
	for range 100 {
		run()
	}
	require.Zero(t, testing.AllocsPerRun(500, run))
}

// TestNoTunnelSamples: packets that reach no tunnel are counted, and a
// sample of them (at most 10 a second, the last 16) says where they came
// from and with which key, for diagnosis; a flood of them allocates
// nothing.
func TestNoTunnelSamples(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newSharedHub(t, 1)
		var flood [][]byte
		for i := range 40 {
			flood = append(flood, fromSpoke(t, 100+i, spokeAddr(1))) // keys no tunnel has
		}
		inject(t, &pair{p2: r.wire}, flood...)
		synctest.Wait()
		assert.Equal(t, uint64(40), r.e.Stats().RxNoTunnel)
		s := r.e.NoTunnelSamples()
		require.Len(t, s, 10, "ten a second")
		assert.Equal(t, end2v4, s[0].Src)
		assert.Equal(t, end1v4, s[0].Dst)
		assert.Equal(t, outer.ProtoGRE, s[0].Protocol)
		assert.True(t, s[0].HasKey)
		assert.Equal(t, gre.Key(100), s[0].Key)
		assert.Equal(t, "wire", s[0].Underlay)
		time.Sleep(10 * time.Second)
		inject(t, &pair{p2: r.wire}, flood...)
		synctest.Wait()
		s = r.e.NoTunnelSamples()
		require.Len(t, s, 16, "the last sixteen")
		assert.Equal(t, gre.Key(109), s[15].Key)
	})
	r := newSharedHub(t, 1)
	pkt := fromSpoke(t, 100, spokeAddr(1))
	peers := []netip.AddrPort{r.wire.Addr()}
	n := uint64(0)
	run := func() {
		if _, err := r.wire.WriteBatch([][]byte{pkt}, peers, 0); err != nil {
			t.Fatal(err)
		}
		n++
		for r.e.Stats().RxNoTunnel < n {
			runtime.Gosched()
		}
	}
	run()
	require.Zero(t, testing.AllocsPerRun(200, run))
}

// TestAllAndFind: every tunnel through All, a spoke by remote and key.
func TestAllAndFind(t *testing.T) {
	r := newSharedHub(t, 20)
	n := 0
	for tun := range r.e.All() {
		n++
		if tun.Name() == "spoke7" {
			require.NoError(t, r.e.Remove(tun.Name())) // allowed during the loop
		}
	}
	assert.Equal(t, 20, n)
	f := r.e.Find(end2v4, tunnel.KeyOf(8))
	require.Len(t, f, 1)
	assert.Equal(t, "spoke8", f[0].Name())
	assert.Empty(t, r.e.Find(end2v4, tunnel.KeyOf(7)), "removed")
	assert.Empty(t, r.e.Find(end1v4, tunnel.KeyOf(8)))
}
