package tunnel_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/tunneltest"
)

// Outer (underlay) addresses of the two ends, from the documentation
// ranges.
var (
	end1v4 = netip.MustParseAddr("192.0.2.1")
	end2v4 = netip.MustParseAddr("198.51.100.2")
	end1v6 = netip.MustParseAddr("2001:db8::1")
	end2v6 = netip.MustParseAddr("2001:db8::2")
)

// pair is two engines joined by an in-memory pipe, one tunnel on each,
// each tunnel with its own in-memory overlay.
type pair struct {
	e1, e2 *tunnel.Engine
	t1, t2 *tunnel.Tunnel
	o1, o2 *tunneltest.ChannelOverlay
	p1, p2 *tunneltest.Pipe
}

// outer6 reports whether mode m runs over IPv6 in the tests.
func outer6(m tunnel.Mode) bool {
	return m == tunnel.ModeIP6IP6 || m == tunnel.ModeIPIP6 || m == tunnel.ModeIP6GRE
}

// newPair builds a pair for mode m; edit changes the two configurations
// (c1 is end 1's) before they are added. With raw, end 2 has no engine: the
// test reads and writes p2 itself.
func newPair(tb testing.TB, m tunnel.Mode, edit func(c1, c2 *tunnel.Config), impair tunneltest.Impairment, raw bool) *pair {
	tb.Helper()
	a1, a2 := end1v4, end2v4
	if outer6(m) {
		a1, a2 = end1v6, end2v6
	}
	framing := tunnel.FramingIP
	var port uint16
	if m == tunnel.ModeGREInUDP {
		framing, port = tunnel.FramingUDP, tunnel.DefaultGREInUDPPort
	}
	p := &pair{}
	p.p1, p.p2 = tunneltest.NewPipe(tunneltest.PipeConfig{Framing: framing,
		AddrA: netip.AddrPortFrom(a1, port), AddrB: netip.AddrPortFrom(a2, port), Impair: impair})
	c1 := tunnel.Config{Name: "t1", Mode: m, Local: a1, Remote: a2, TTL: 64}
	c2 := tunnel.Config{Name: "t2", Mode: m, Local: a2, Remote: a1, TTL: 64}
	if edit != nil {
		edit(&c1, &c2)
	}
	p.e1 = tunnel.NewEngine(tunnel.EngineConfig{})
	require.NoError(tb, p.e1.AddUnderlay(p.p1, tunnel.UnderlayConfig{Name: "wire", Framing: framing, Local: []netip.Addr{a1}}))
	p.o1 = tunneltest.NewChannelOverlay(tunneltest.OverlayConfig{})
	var err error
	p.t1, err = p.e1.Add(c1, p.o1)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = p.e1.Close() })
	if raw {
		return p
	}
	p.e2 = tunnel.NewEngine(tunnel.EngineConfig{})
	require.NoError(tb, p.e2.AddUnderlay(p.p2, tunnel.UnderlayConfig{Name: "wire", Framing: framing, Local: []netip.Addr{a2}}))
	p.o2 = tunneltest.NewChannelOverlay(tunneltest.OverlayConfig{})
	p.t2, err = p.e2.Add(c2, p.o2)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = p.e2.Close() })
	return p
}

// inner4 and inner6 build inner packets of n bytes between the overlay
// addresses of the two ends.
func inner4(n int, ttl, tos uint8, df bool) []byte {
	return testpkt.BuildIPv4(0, n, testpkt.IPv4{TTL: ttl, TOS: tos, DF: df})
}

func inner6(n int, hlim, tc uint8) []byte {
	return testpkt.BuildIPv6(0, n, testpkt.IPv6{HopLimit: hlim, TrafficClass: tc})
}

// recv waits (boundedly) for the next packet o was given.
func recv(tb testing.TB, o *tunneltest.ChannelOverlay) []byte {
	tb.Helper()
	buf := make([]byte, 70000)
	n, ok := o.Recv(buf, 2*time.Second)
	require.True(tb, ok, "no packet within 2 s")
	return buf[:n]
}

// readWire waits (boundedly) for the next packet on the raw end p.
func readWire(tb testing.TB, p *tunneltest.Pipe) []byte {
	tb.Helper()
	type res struct {
		b   []byte
		err error
	}
	ch := make(chan res, 1)
	go func() {
		bufs := [][]byte{make([]byte, 70000)}
		sizes := []int{0}
		peers := []netip.AddrPort{{}}
		n, err := p.ReadBatch(bufs, sizes, peers, 0)
		if n == 1 {
			ch <- res{bufs[0][:sizes[0]], err}
			return
		}
		ch <- res{nil, err}
	}()
	select {
	case r := <-ch:
		require.NoError(tb, r.err)
		return r.b
	case <-time.After(2 * time.Second):
		tb.Fatal("nothing on the wire within 2 s")
		return nil
	}
}

// eventually polls cond every millisecond for at most 2 s.
func eventually(tb testing.TB, cond func() bool, msg string) {
	tb.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatal("timed out: " + msg)
		}
		time.Sleep(time.Millisecond)
	}
}

var netipAny4 = netip.IPv4Unspecified()

func tunnelKey(k uint32) gre.Key { return gre.Key(k) }
