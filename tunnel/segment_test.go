package tunnel_test

import (
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/tunneltest"
)

// segment is an in-memory IP network of several members, for tests with
// more than two endpoints (a tunneltest.Pipe joins two). Each member's
// engine gets one end of a pipe of its own; a forwarder goroutine per
// member reads what the engine writes and delivers it by the outer
// destination address in its header: to the member with that address, or,
// for a multicast group, to every other member (and, with loop, back to the
// sender too, as IP_MULTICAST_LOOP does). Real multicast routing between
// network namespaces is not used: the segment behaves the same, a write to
// the group reaching every member, and does so deterministically. It
// counts, per receiving member, the unicast and multicast packets delivered
// to it, so tests see the outer destination of each. Nothing allocates in
// steady state.
type segment struct {
	addrs   []netip.Addr
	ends    []*tunneltest.Pipe // the engines' ends
	far     []*tunneltest.Pipe // the forwarders' ends
	ucast   []atomic.Uint64    // unicast packets delivered to member i
	mcast   []atomic.Uint64    // multicast packets delivered to member i
	unknown atomic.Uint64      // unicast to no member
	loop    bool
}

func newSegment(tb testing.TB, loop bool, addrs ...netip.Addr) *segment {
	tb.Helper()
	s := &segment{addrs: addrs, loop: loop, ucast: make([]atomic.Uint64, len(addrs)), mcast: make([]atomic.Uint64, len(addrs))}
	for _, a := range addrs {
		end, far := tunneltest.NewPipe(tunneltest.PipeConfig{AddrA: netip.AddrPortFrom(a, 0), AddrB: netip.AddrPortFrom(a, 0)})
		s.ends, s.far = append(s.ends, end), append(s.far, far)
	}
	done := make(chan struct{}, len(addrs))
	for i := range addrs {
		go func() {
			defer func() { done <- struct{}{} }()
			s.forward(i)
		}()
	}
	tb.Cleanup(func() { // after the engines' Close, which closes s.ends
		for _, p := range s.ends {
			_ = p.Close()
		}
		for range addrs {
			<-done
		}
		for _, p := range s.far {
			_ = p.Close()
		}
	})
	return s
}

func (s *segment) index(a netip.Addr) int {
	for i, m := range s.addrs {
		if m == a {
			return i
		}
	}
	return -1
}

// forward delivers what member i's engine writes until its pipe closes.
func (s *segment) forward(i int) {
	const batch = 64
	bufs, sizes, peers := make([][]byte, batch), make([]int, batch), make([]netip.AddrPort, batch)
	for k := range bufs {
		bufs[k] = make([]byte, tunneltest.DefaultMaxPacket)
	}
	one, onePeer := make([][]byte, 1), make([]netip.AddrPort, 1)
	send := func(j int, p []byte) {
		one[0], onePeer[0] = p, netip.AddrPortFrom(s.addrs[j], 0)
		_, _ = s.far[j].WriteBatch(one, onePeer, 0)
		one[0] = nil
	}
	for {
		n, err := s.far[i].ReadBatch(bufs, sizes, peers, 0)
		for k := range n {
			p := bufs[k][:sizes[k]]
			var dst netip.Addr
			switch {
			case len(p) >= 20 && p[0]>>4 == 4:
				dst = netip.AddrFrom4([4]byte(p[16:20]))
			case len(p) >= 40 && p[0]>>4 == 6:
				dst = netip.AddrFrom16([16]byte(p[24:40]))
			}
			if dst.IsMulticast() {
				for j := range s.addrs {
					if j != i || s.loop {
						s.mcast[j].Add(1)
						send(j, p)
					}
				}
				continue
			}
			if j := s.index(dst); j >= 0 {
				s.ucast[j].Add(1)
				send(j, p)
				continue
			}
			s.unknown.Add(1)
		}
		if err != nil {
			return
		}
	}
}

// member adds an engine on member i of s with one tunnel of cfg; now, when
// not nil, is the engine's clock.
func (s *segment) member(tb testing.TB, i int, cfg tunnel.Config, now func() time.Time) (*tunnel.Tunnel, *tunneltest.ChannelOverlay) {
	tb.Helper()
	e := tunnel.NewEngineForTest(tunnel.EngineConfig{}, now, true)
	tb.Cleanup(func() { _ = e.Close() })
	require.NoError(tb, e.AddUnderlay(s.ends[i], tunnel.UnderlayConfig{Name: "seg", Framing: tunnel.FramingIP, Local: []netip.Addr{s.addrs[i]}}))
	o := tunneltest.NewChannelOverlay(tunneltest.OverlayConfig{})
	t, err := e.Add(cfg, o)
	require.NoError(tb, err)
	return t, o
}

// counts returns the unicast and multicast packets delivered to member i.
func (s *segment) counts(i int) (ucast, mcast uint64) { return s.ucast[i].Load(), s.mcast[i].Load() }

// quiet asserts that o receives nothing within a short while.
func quiet(tb testing.TB, o *tunneltest.ChannelOverlay, msg string) {
	tb.Helper()
	buf := make([]byte, 70000)
	_, ok := o.Recv(buf, 50*time.Millisecond)
	require.False(tb, ok, msg)
}
