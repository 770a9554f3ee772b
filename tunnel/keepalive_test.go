package tunnel_test

import (
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/iphdr"
	"github.com/ipencap/ipencap/outer"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/tunneltest"
)

var stranger4 = netip.MustParseAddr("203.0.113.9")

// newManualPair is newPair with no keepalive timers: the test ticks by
// hand (tunnel.Tick, a seam of export_test.go), so that no test sleeps for
// a period.
func newManualPair(tb testing.TB, m tunnel.Mode, edit func(c1, c2 *tunnel.Config), raw bool) *pair {
	tb.Helper()
	return newKeepalivePair(tb, tunnel.EngineConfig{}, true, m, edit, raw)
}

// newKeepalivePair is newManualPair with engines of configuration ec,
// whose keepalive timers run unless manual.
func newKeepalivePair(tb testing.TB, ec tunnel.EngineConfig, manual bool, m tunnel.Mode, edit func(c1, c2 *tunnel.Config), raw bool) *pair {
	tb.Helper()
	a1, a2 := end1v4, end2v4
	framing := tunnel.FramingIP
	var port uint16
	if m == tunnel.ModeGREInUDP {
		framing, port = tunnel.FramingUDP, tunnel.DefaultGREInUDPPort
	}
	p := &pair{}
	p.p1, p.p2 = tunneltest.NewPipe(tunneltest.PipeConfig{Framing: framing,
		AddrA: netip.AddrPortFrom(a1, port), AddrB: netip.AddrPortFrom(a2, port)})
	c1 := tunnel.Config{Name: "t1", Mode: m, Local: a1, Remote: a2, TTL: 64}
	c2 := tunnel.Config{Name: "t2", Mode: m, Local: a2, Remote: a1, TTL: 64}
	if edit != nil {
		edit(&c1, &c2)
	}
	add := func(pp *tunneltest.Pipe, local netip.Addr, c tunnel.Config) (*tunnel.Engine, *tunnel.Tunnel, *tunneltest.ChannelOverlay) {
		e := tunnel.NewEngineForTest(ec, nil, manual)
		tb.Cleanup(func() { _ = e.Close() })
		require.NoError(tb, e.AddUnderlay(pp, tunnel.UnderlayConfig{Name: "wire", Framing: framing, Local: []netip.Addr{local}}))
		o := tunneltest.NewChannelOverlay(tunneltest.OverlayConfig{})
		t, err := e.Add(c, o)
		require.NoError(tb, err)
		return e, t, o
	}
	p.e1, p.t1, p.o1 = add(p.p1, a1, c1)
	if !raw {
		p.e2, p.t2, p.o2 = add(p.p2, a2, c2)
	}
	return p
}

// decap returns the inner packet of the outer IPv4 GRE packet pkt.
func decap(tb testing.TB, pkt []byte) []byte {
	tb.Helper()
	_, payload, err := outer.Parse(pkt)
	require.NoError(tb, err)
	h, err := gre.Decoder{}.Parse(payload)
	require.NoError(tb, err)
	return h.Payload()
}

// lineLog records OnLineChange calls.
type lineLog struct {
	mu  sync.Mutex
	ups []bool
}

func (l *lineLog) on(_ *tunnel.Tunnel, up bool) {
	l.mu.Lock()
	l.ups = append(l.ups, up)
	l.mu.Unlock()
}

func (l *lineLog) get() []bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]bool(nil), l.ups...)
}

// TestKeepaliveRequestShape: the request on the wire is the Cisco one —
// outer IPv4 A→B proto 47, GRE 0x0800 with the tunnel's okey, checksum and
// sequence number, carrying IPv4 B→A proto 47 with a GRE header of
// protocol 0 that holds the ikey and a checksum (icsum) but no sequence
// number — and is sent straight to the underlay.
func TestKeepaliveRequestShape(t *testing.T) {
	ik, ok := gre.Key(7), gre.Key(8)
	p := newManualPair(t, tunnel.ModeGRE, func(c1, _ *tunnel.Config) {
		c1.Keepalive.Period, c1.IKey, c1.OKey, c1.ICsum, c1.OCsum, c1.ISeq, c1.OSeq = tunnel.DefaultKeepalive, tunnel.KeyOf(ik), tunnel.KeyOf(ok), true, true, true, true
	}, true)
	tunnel.Tick(p.t1)
	w := readWire(t, p.p2)
	o, payload, err := outer.Parse(w)
	require.NoError(t, err)
	assert.Equal(t, end1v4, o.Src)
	assert.Equal(t, end2v4, o.Dst)
	assert.Equal(t, outer.ProtoGRE, o.Protocol)
	h, err := gre.Decoder{}.Parse(payload)
	require.NoError(t, err)
	assert.Equal(t, gre.ProtoIPv4, h.Protocol())
	k, _ := h.Key()
	assert.Equal(t, ok, k)
	assert.True(t, h.ChecksumPresent() && h.ChecksumValid())
	_, hasSeq := h.Seq()
	assert.True(t, hasSeq)
	in := iphdr.IPv4(h.Payload())
	assert.Equal(t, end2v4, in.Src())
	assert.Equal(t, end1v4, in.Dst())
	assert.Equal(t, uint8(47), in.Protocol())
	rh, err := gre.Decoder{}.Parse(h.Payload()[20:])
	require.NoError(t, err)
	assert.True(t, gre.IsKeepalive(rh))
	rk, _ := rh.Key()
	assert.Equal(t, ik, rk, "the reply carries our ikey")
	assert.True(t, rh.ChecksumPresent() && rh.ChecksumValid())
	_, hasSeq = rh.Seq()
	assert.False(t, hasSeq)
	s := p.t1.Stats()
	assert.Equal(t, uint64(1), s.KeepalivesSent)
	assert.Zero(t, s.TxPackets, "keepalives are not overlay packets")
	assert.Equal(t, end2v4, p.p1.LastDest().Addr())
}

// TestKeepaliveLine: on the engine's own keepalive timer, in a synctest
// bubble (fake time, so the 16 periods take no time), the line stays up
// while replies come, goes down after Keepalive.Retries periods without
// one, comes back with the next reply, and keepalives flow while down. A
// tunnel with iseq keeps its line up: replies bypass the sequence check.
func TestKeepaliveLine(t *testing.T) {
	for _, iseq := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "iseq"}[iseq], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { keepaliveLine(t, iseq) })
		})
	}
}

func keepaliveLine(t *testing.T, iseq bool) {
	var log lineLog
	k := gre.Key(5)
	const period = time.Second
	p := newKeepalivePair(t, tunnel.EngineConfig{OnLineChange: log.on}, false, tunnel.ModeGRE, func(c1, _ *tunnel.Config) {
		c1.Keepalive.Period, c1.Keepalive.Retries, c1.IKey, c1.OKey = period, 3, tunnel.KeyOf(k), tunnel.KeyOf(k)
		c1.ISeq, c1.OSeq, c1.ICsum = iseq, iseq, iseq
	}, true)
	// period lets one period pass: the timer fires, the tunnel sends its
	// request, and every goroutine of the bubble settles.
	tick := func() {
		time.Sleep(period)
		synctest.Wait()
	}
	replies := uint64(0)
	answer := func() { // the peer decapsulates and routes the inner packet back
		inject(t, p, decap(t, readWire(t, p.p2)))
		replies++
		synctest.Wait()
		require.Equal(t, replies, p.t1.Stats().KeepaliveReplies, "reply taken")
	}
	require.True(t, p.t1.LineUp())
	for range 10 {
		tick()
		answer()
		require.True(t, p.t1.LineUp())
	}
	for i := range 3 { // three periods unanswered: still up
		tick()
		readWire(t, p.p2)
		require.True(t, p.t1.LineUp(), "period %d", i)
	}
	tick() // the fourth: down
	assert.False(t, p.t1.LineUp())
	assert.Equal(t, []bool{false}, log.get())
	tick() // keepalives keep flowing while down
	answer()
	readWire(t, p.p2) // the request of the tick before
	assert.True(t, p.t1.LineUp())
	assert.Equal(t, []bool{false, true}, log.get())
	s := p.t1.Stats()
	assert.Equal(t, uint64(15), s.KeepalivesSent)
	assert.Equal(t, replies, s.KeepaliveReplies)
	assert.Equal(t, uint64(2), s.LineChanges)
	assert.Zero(t, s.RxErrors+s.RxPackets, "replies are taken, not delivered")
}

// TestKeepaliveBadReplies: replies with a wrong key or from a wrong source
// find no tunnel and leave the line down; a protocol 0 packet on a tunnel
// without keepalives is a frame error.
func TestKeepaliveBadReplies(t *testing.T) {
	k := gre.Key(5)
	p := newManualPair(t, tunnel.ModeGRE, func(c1, _ *tunnel.Config) {
		c1.Keepalive.Period, c1.Keepalive.Retries, c1.IKey, c1.OKey = time.Second, 1, tunnel.KeyOf(k), tunnel.KeyOf(k)
	}, true)
	tunnel.Tick(p.t1)
	tunnel.Tick(p.t1)
	require.False(t, p.t1.LineUp())
	wrongKey, err := gre.AppendKeepalive(nil, end1v4, end2v4, &gre.Fields{Protocol: gre.ProtoKeepalive, KeyPresent: true, Key: 6})
	require.NoError(t, err)
	wrongSrc, err := gre.AppendKeepalive(nil, end1v4, stranger4, &gre.Fields{Protocol: gre.ProtoKeepalive, KeyPresent: true, Key: k})
	require.NoError(t, err)
	noKey, err := gre.AppendKeepalive(nil, end1v4, end2v4, nil)
	require.NoError(t, err)
	inject(t, p, wrongKey, wrongSrc, noKey)
	s, es := settled(t, p, 3)
	assert.Equal(t, uint64(3), es.RxNoTunnel)
	assert.Zero(t, s.KeepaliveReplies)
	assert.False(t, p.t1.LineUp())

	// Without keepalives, protocol 0 is not a protocol the tunnel carries.
	q := newManualPair(t, tunnel.ModeGRE, nil, true)
	good, err := gre.AppendKeepalive(nil, end1v4, end2v4, nil)
	require.NoError(t, err)
	inject(t, q, good)
	s, _ = settled(t, q, 1)
	assert.Equal(t, uint64(1), s.RxFrameErrors)
}

// TestKeepaliveEndToEnd: two engines over tunneltest, keepalives on one
// side only. With Reflect, the far side routes the reply back out of the
// underlay itself; without it, it delivers the request's inner packet to
// its overlay (for the host to route), and the line goes down.
func TestKeepaliveEndToEnd(t *testing.T) {
	k := gre.Key(0x0a000001)
	both := func(reflect bool) func(c1, c2 *tunnel.Config) {
		return func(c1, c2 *tunnel.Config) {
			for _, c := range []*tunnel.Config{c1, c2} {
				c.IKey, c.OKey, c.ICsum, c.OCsum, c.ISeq, c.OSeq = tunnel.KeyOf(k), tunnel.KeyOf(k), true, true, true, true
			}
			c1.Keepalive.Period, c1.Keepalive.Retries = tunnel.DefaultKeepalive, 2
			c2.Reflect.Enable = reflect
		}
	}
	for _, reorder := range []int{0, 8} {
		t.Run("reflect/reorder="+strconv.Itoa(reorder), func(t *testing.T) {
			p := newManualPair(t, tunnel.ModeGRE, func(c1, c2 *tunnel.Config) {
				both(true)(c1, c2)
				c2.Seq.Reorder = reorder
			}, false)
			for i := range tunnel.ReflectBurst { // within the reflector's rate limit
				tunnel.Tick(p.t1)
				eventually(t, func() bool { return p.t1.Stats().KeepaliveReplies == uint64(i+1) }, "reply")
				require.True(t, p.t1.LineUp())
			}
			// Data still flows both ways, and the sequence numbers the
			// keepalives used up do not disturb t2's window.
			require.NoError(t, p.o1.Inject(inner4(60, 64, 0, false)))
			recv(t, p.o2)
			eventually(t, func() bool { return p.t2.Stats().RxPackets == 1 }, "the data packet counted")
			s2 := p.t2.Stats()
			assert.Equal(t, uint64(tunnel.ReflectBurst), s2.KeepalivesReflected)
			assert.Zero(t, s2.RxErrors)
			assert.Equal(t, uint64(1), s2.RxPackets)
			assert.Equal(t, uint64(1), p.o2.Received(), "no request reached the overlay")
		})
	}
	t.Run("no reflect", func(t *testing.T) {
		p := newManualPair(t, tunnel.ModeGRE, both(false), false)
		for range 3 {
			tunnel.Tick(p.t1)
			in := recv(t, p.o2) // the reply, delivered to the host
			assert.Equal(t, end1v4, iphdr.IPv4(in).Dst())
		}
		assert.False(t, p.t1.LineUp())
		assert.Zero(t, p.t1.Stats().KeepaliveReplies)
	})
}

// TestKeepaliveConfig: keepalives and reflection are for mode gre.
func TestKeepaliveConfig(t *testing.T) {
	for _, c := range []tunnel.Config{
		{Name: "a", Mode: tunnel.ModeIPIP, Remote: end2v4, Keepalive: tunnel.KeepaliveConfig{Period: time.Second}},
		{Name: "b", Mode: tunnel.ModeGRE, Keepalive: tunnel.KeepaliveConfig{Period: time.Second}},
		{Name: "c", Mode: tunnel.ModeGRE, Remote: end2v4, Keepalive: tunnel.KeepaliveConfig{Period: -1}},
		{Name: "d", Mode: tunnel.ModeIP6GRE, Reflect: tunnel.ReflectConfig{Enable: true}},
		{Name: "e", Mode: tunnel.ModeGRE, Remote: end2v4, Keepalive: tunnel.KeepaliveConfig{Retries: -1}},
	} {
		require.ErrorIs(t, c.Validate(), tunnel.ErrConfigKeepalive, c.Name)
	}
}

// reflectRig is an engine whose gre tunnel t1 reflects, with the raw end 2
// writing requests and reading what comes back.
func newReflectRig(t *testing.T, edit func(c1 *tunnel.Config)) *pair {
	return newManualPair(t, tunnel.ModeGRE, func(c1, _ *tunnel.Config) {
		c1.Reflect.Enable = true
		if edit != nil {
			edit(c1)
		}
	}, true)
}

// request builds end 2's keepalive request to end 1 whose inner packet goes
// from innerSrc to innerDst, sent from outerSrc.
func request(t *testing.T, outerSrc, innerSrc, innerDst netip.Addr) (req, reply []byte) {
	reply, err := gre.AppendKeepalive(nil, innerDst, innerSrc, nil)
	require.NoError(t, err)
	return seedGRE(t, outerSrc, end1v4, gre.Config{}, reply), reply
}

// TestReflect: a request from the tunnel's remote is written back to the
// underlay towards the inner destination, unchanged.
func TestReflect(t *testing.T) {
	p := newReflectRig(t, nil)
	req, reply := request(t, end2v4, end1v4, end2v4)
	inject(t, p, req)
	assert.Equal(t, reply, readWire(t, p.p2))
	assert.Equal(t, netip.AddrPortFrom(end2v4, 0), p.p1.LastDest())
	s, _ := settled(t, p, 1)
	assert.Equal(t, uint64(1), s.KeepalivesReflected)
	assert.Zero(t, s.RxPackets+s.RxErrors)
	assert.Zero(t, p.o1.Received())
}

// TestReflectRefused: requests whose inner addresses are not the tunnel's
// (an unknown source), and requests to each forbidden destination class,
// are dropped and counted; nothing goes out.
func TestReflectRefused(t *testing.T) {
	p := newReflectRig(t, nil)
	var pkts [][]byte
	for _, dst := range []string{"255.255.255.255", "224.0.0.5", "239.1.2.3", "127.0.0.1", "0.0.0.0", "0.1.2.3", "169.254.1.1", "203.0.113.9"} {
		req, _ := request(t, end2v4, end1v4, netip.MustParseAddr(dst))
		pkts = append(pkts, req)
	}
	req, _ := request(t, end2v4, stranger4, end2v4) // not from our address
	pkts = append(pkts, req)
	inject(t, p, pkts...)
	s, _ := settled(t, p, uint64(len(pkts)))
	assert.Equal(t, uint64(len(pkts)), s.ReflectRefused)
	assert.Equal(t, s.ReflectRefused, s.RxErrors)
	assert.Zero(t, s.KeepalivesReflected+p.p1.Stats().Sent)

	// A tunnel with remote any refuses requests from strangers unless
	// ReflectAny; with it, the reply goes back to the stranger only.
	for _, anySrc := range []bool{false, true} {
		q := newManualPair(t, tunnel.ModeGRE, func(c1, _ *tunnel.Config) {
			c1.Remote, c1.Reflect.Enable, c1.Reflect.AnySource = netip.Addr{}, true, anySrc
		}, true)
		req, reply := request(t, stranger4, end1v4, stranger4)
		inject(t, q, req)
		s, _ := settled(t, q, 1)
		if anySrc {
			assert.Equal(t, uint64(1), s.KeepalivesReflected)
			assert.Equal(t, reply, readWire(t, q.p2))
			assert.Equal(t, netip.AddrPortFrom(stranger4, 0), q.p1.LastDest())
		} else {
			assert.Equal(t, uint64(1), s.ReflectRefused)
		}
	}
}

// TestReflectRateLimit: under a flood, reflected ≤ burst + rate × elapsed;
// the rest is refused and counted.
func TestReflectRateLimit(t *testing.T) {
	p := newReflectRig(t, nil)
	req, _ := request(t, end2v4, end1v4, end2v4)
	go func() { // drain what is reflected
		bufs, sizes, peers := [][]byte{make([]byte, 2000)}, []int{0}, []netip.AddrPort{{}}
		for {
			if _, err := p.p2.ReadBatch(bufs, sizes, peers, 0); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	const n = 3000
	batch := make([][]byte, 30)
	for i := range batch {
		batch[i] = req
	}
	for i := 0; i < n; i += len(batch) {
		inject(t, p, batch...)
		time.Sleep(3 * time.Millisecond)
	}
	s, _ := settled(t, p, n)
	elapsed := time.Since(start)
	limit := uint64(tunnel.ReflectBurst + tunnel.ReflectRate*elapsed.Seconds() + 1)
	t.Logf("%v: reflected %d, refused %d (limit %d)", elapsed, s.KeepalivesReflected, s.ReflectRefused, limit)
	assert.LessOrEqual(t, s.KeepalivesReflected, limit)
	assert.GreaterOrEqual(t, s.KeepalivesReflected, uint64(tunnel.ReflectBurst))
	assert.Equal(t, uint64(n), s.KeepalivesReflected+s.ReflectRefused)
}

// TestReflectPerSource: each source has its own rate limit, so strangers
// cannot spend the peer's share: 50 of them flooding requests at a tunnel
// with remote any and Reflect.AnySource left the real peer's keepalives
// unanswered and took its line down. In a synctest bubble, so no token
// comes back while the test runs.
func TestReflectPerSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newReflectRig(t, func(c1 *tunnel.Config) { c1.Remote, c1.Reflect.AnySource = netip.Addr{}, true })
		var flood [][]byte
		for i := range 50 {
			s := netip.AddrFrom4([4]byte{203, 0, 113, byte(100 + i)})
			req, _ := request(t, s, end1v4, s)
			for range 2 * tunnel.ReflectBurst {
				flood = append(flood, req)
			}
		}
		inject(t, p, flood...)
		synctest.Wait()
		s := p.t1.Stats()
		assert.Equal(t, uint64(50*tunnel.ReflectBurst), s.KeepalivesReflected, "a burst each")
		assert.Equal(t, uint64(50*tunnel.ReflectBurst), s.ReflectRefused, "the rest refused")
		// The peer's requests are all answered all the same.
		req, _ := request(t, end2v4, end1v4, end2v4)
		for range tunnel.ReflectBurst {
			inject(t, p, req)
		}
		synctest.Wait()
		assert.Equal(t, uint64(51*tunnel.ReflectBurst), p.t1.Stats().KeepalivesReflected, "every request of the peer")
		assert.Equal(t, uint64(50*tunnel.ReflectBurst), p.t1.Stats().ReflectRefused)
	})
}

// TestReflectRefusesOptions: a request whose inner IPv4 header carries
// options is refused: reflected as it is, a source or record route in it
// would act on our behalf.
func TestReflectRefusesOptions(t *testing.T) {
	p := newReflectRig(t, nil)
	_, reply := request(t, end2v4, end1v4, end2v4)
	// The same request with a 4-byte option (NOP ×3, end) in its header.
	withOpt := make([]byte, 0, len(reply)+4)
	withOpt = append(withOpt, reply[:20]...)
	withOpt = append(withOpt, 1, 1, 1, 0)
	withOpt = append(withOpt, reply[20:]...)
	h := iphdr.IPv4(withOpt)
	h.SetVersionIHL(24)
	h.SetTotalLen(uint16(len(withOpt)))
	h.ComputeChecksum()
	inject(t, p, seedGRE(t, end2v4, end1v4, gre.Config{}, withOpt))
	s, _ := settled(t, p, 1)
	assert.Equal(t, uint64(1), s.ReflectRefused)
	assert.Zero(t, s.KeepalivesReflected)
}
