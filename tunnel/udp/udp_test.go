//go:build linux

package udp_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/tunnel/udp"
)

const (
	rxOffset = 24      // the engine's read offset
	bufLen   = 1 << 16 // about the engine's buffers
)

var (
	lo4 = netip.MustParseAddr("127.0.0.1")
	lo6 = netip.MustParseAddr("::1")
)

// open opens a Conn and closes it when the test ends. A zero port in
// cfg.Local is replaced by a free one in 20000–39999 (port 0 would mean
// 4754, which parallel test binaries would share).
func open(tb testing.TB, cfg udp.Config) *udp.Conn {
	tb.Helper()
	if cfg.Local.Addr() == lo6 {
		if pc, err := net.ListenPacket("udp6", "[::1]:0"); err != nil {
			testpkt.Missing(tb, "IPv6 loopback ::1: "+err.Error())
		} else {
			pc.Close()
		}
	}
	fixed := cfg.Local.Port() != 0
	for try := 0; ; try++ {
		if !fixed {
			cfg.Local = netip.AddrPortFrom(cfg.Local.Addr(), uint16(20000+rand.IntN(20000)))
		}
		c, err := udp.Open(cfg)
		if !fixed && errors.Is(err, syscall.EADDRINUSE) && try < 100 {
			continue
		}
		require.NoError(tb, err)
		tb.Cleanup(func() { _ = c.Close() })
		return c
	}
}

// openFixed opens a Conn that sends from its bound port.
func openFixed(tb testing.TB, addr netip.Addr, batch int) *udp.Conn {
	tb.Helper()
	for try := 0; ; try++ {
		port := uint16(20000 + rand.IntN(20000))
		c, err := udp.Open(udp.Config{Local: netip.AddrPortFrom(addr, port), SourcePort: port, Batch: batch})
		if errors.Is(err, syscall.EADDRINUSE) && try < 100 {
			continue
		}
		if err != nil && addr.Is6() {
			testpkt.Missing(tb, "IPv6 loopback ::1: "+err.Error())
		}
		require.NoError(tb, err)
		tb.Cleanup(func() { _ = c.Close() })
		return c
	}
}

// greFlow returns a GRE packet (with checksum, key and sequence fields)
// of n bytes in all carrying an IPv4/UDP packet of flow flow; byte 40 on
// holds id and a pattern.
func greFlow(flow uint16, id uint32, n int) []byte {
	const hl = 16
	p := make([]byte, n)
	binary.BigEndian.PutUint16(p[0:], 0xb000) // C, K, S
	binary.BigEndian.PutUint16(p[2:], 0x0800)
	binary.BigEndian.PutUint32(p[8:], 42)  // key
	binary.BigEndian.PutUint32(p[12:], id) // sequence number
	ip := testpkt.BuildIPv4(0, n-hl, testpkt.IPv4{})
	copy(p[hl:], ip)
	binary.BigEndian.PutUint16(p[hl+20:], 1000+flow) // UDP source port
	binary.BigEndian.PutUint16(p[hl+22:], 53)
	if n >= hl+32 {
		binary.BigEndian.PutUint32(p[hl+28:], id)
	}
	return p
}

func idOf(p []byte) uint32 { return binary.BigEndian.Uint32(p[12:]) }

func newBufs(n int) ([][]byte, []int, []netip.AddrPort) {
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, rxOffset+bufLen)
	}
	return bufs, make([]int, n), make([]netip.AddrPort, n)
}

// roundTripAllocs returns the allocations of one round of a.WriteBatch(out)
// to b and b.ReadBatch into bufs until all of out has arrived, averaged over
// 200 rounds; it fails t on an error, and closes b after 20 s so that a lost
// datagram cannot hang the test.
func roundTripAllocs(t *testing.T, a, b *udp.Conn, out, bufs [][]byte) float64 {
	t.Helper()
	peers := repeat(b.LocalAddr(), len(out))
	sizes, ps := make([]int, len(bufs)), make([]netip.AddrPort, len(bufs))
	timer := time.AfterFunc(20*time.Second, func() { _ = b.Close() })
	defer timer.Stop()
	var failed error
	allocs := testing.AllocsPerRun(200, func() {
		if n, err := a.WriteBatch(out, peers, 0); n != len(out) || err != nil {
			failed = fmt.Errorf("WriteBatch wrote %d of %d: %v", n, len(out), err)
			return
		}
		for got := 0; got < len(out); {
			k, err := b.ReadBatch(bufs, sizes, ps, rxOffset)
			if err != nil {
				failed = err
				return
			}
			got += k
		}
	})
	require.NoError(t, failed)
	return allocs
}

// readN reads n datagrams from c (with bufs of batch), failing after 5 s.
func readN(tb testing.TB, c *udp.Conn, n, batch int) (pkts [][]byte, peers []netip.AddrPort) {
	tb.Helper()
	timer := time.AfterFunc(5*time.Second, func() { _ = c.Close() })
	defer timer.Stop()
	bufs, sizes, ps := newBufs(batch)
	for len(pkts) < n {
		k, err := c.ReadBatch(bufs, sizes, ps, rxOffset)
		require.NoError(tb, err, "read %d of %d datagrams (closed after 5 s)", len(pkts), n)
		require.LessOrEqual(tb, k, batch)
		for i := range k {
			pkts = append(pkts, append([]byte(nil), bufs[i][rxOffset:rxOffset+sizes[i]]...))
			peers = append(peers, ps[i])
		}
	}
	return pkts, peers
}

func repeat(ap netip.AddrPort, n int) []netip.AddrPort {
	ps := make([]netip.AddrPort, n)
	for i := range ps {
		ps[i] = ap
	}
	return ps
}

// withOffset returns the packets behind off bytes of headroom.
func withOffset(pkts [][]byte, off int) [][]byte {
	out := make([][]byte, len(pkts))
	for i, p := range pkts {
		out[i] = append(make([]byte, off, off+len(p)), p...)
	}
	return out
}

// TestLoopback sends batches of datagrams of mixed sizes over IPv4 and
// IPv6 loopback, from a fixed and from a per-flow source port, and checks
// that they arrive whole, in order, with the right peer.
func TestLoopback(t *testing.T) {
	for _, addr := range []netip.Addr{lo4, lo6} {
		for _, perFlow := range []bool{false, true} {
			name := addr.String()
			if perFlow {
				name += "/per-flow"
			}
			t.Run(name, func(t *testing.T) {
				var a *udp.Conn
				if perFlow {
					a = open(t, udp.Config{Local: netip.AddrPortFrom(addr, 0)})
				} else {
					a = openFixed(t, addr, 0)
				}
				b := openFixed(t, addr, 0)
				sizes := []int{40, 1400, 1400, 1400, 64, 9000, 9000, 300, 60000, 40, 1500, 1500}
				var pkts [][]byte
				for i, n := range sizes {
					pkts = append(pkts, greFlow(7, uint32(i), n))
				}
				n, err := a.WriteBatch(withOffset(pkts, 16), repeat(b.LocalAddr(), len(pkts)), 16)
				require.NoError(t, err)
				require.Equal(t, len(pkts), n)
				got, peers := readN(t, b, len(pkts), b.BatchSize())
				require.Equal(t, pkts, got)
				for _, p := range peers {
					if perFlow {
						assert.Equal(t, addr, p.Addr())
						assert.Contains(t, a.SourcePorts(), p.Port())
						assert.Equal(t, peers[0], p, "one flow, one source port")
					} else {
						assert.Equal(t, a.LocalAddr(), p)
					}
				}
				st := a.Stats()
				assert.Equal(t, uint64(len(pkts)), st.TxPackets)
				assert.Zero(t, st.TxErrors)
				assert.Equal(t, uint64(len(pkts)), b.Stats().RxPackets)
			})
		}
	}
}

// TestGSO checks how a batch is coalesced into UDP GSO messages, and that
// the receiving side splits what GRO coalesced.
func TestGSO(t *testing.T) {
	tests := []struct {
		name  string
		sizes []int
		msgs  uint64 // messages with GSO
	}{
		{"32 equal", fill(32, 1200), 1},
		{"shorter last ends a message", append(append(fill(3, 1000), 500), fill(2, 1000)...), 2},
		{"longer one starts a message", append(fill(3, 500), fill(3, 1000)...), 2},
		{"64 datagrams at most", fill(70, 100), 2},
		{"64 KiB at most", fill(60, 1400), 2},
		{"alone", []int{1400}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := openFixed(t, lo4, 0), openFixed(t, lo4, 0)
			if tx, _ := a.Offload(); !tx {
				testpkt.Missing(t, "UDP GSO (UDP_SEGMENT) in the kernel")
			}
			var pkts [][]byte
			for i, n := range tt.sizes {
				pkts = append(pkts, greFlow(1, uint32(i), n))
			}
			n, err := a.WriteBatch(pkts, repeat(b.LocalAddr(), len(pkts)), 0)
			require.NoError(t, err)
			require.Equal(t, len(pkts), n)
			st := a.Stats()
			assert.Equal(t, tt.msgs, st.TxMessages)
			assert.Equal(t, uint64(1), st.TxCalls)
			assert.Equal(t, uint64(len(pkts)), st.TxPackets)
			got, _ := readN(t, b, len(pkts), b.BatchSize())
			require.Equal(t, pkts, got)
			if _, rx := b.Offload(); rx && tt.msgs < uint64(len(pkts)) {
				rs := b.Stats()
				assert.NotZero(t, rs.RxGRO, "a GSO message arrives coalesced")
				assert.Less(t, rs.RxMessages, uint64(len(pkts)))
			}
		})
	}
}

func fill(n, size int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = size
	}
	return s
}

// TestGROSplit receives coalesced messages with batches smaller than a
// message: the datagrams that do not fit come with the next ReadBatch, in
// order.
func TestGROSplit(t *testing.T) {
	for _, batch := range []int{1, 8, 63, 64, 130} {
		t.Run("batch"+strconv.Itoa(batch), func(t *testing.T) {
			a, b := openFixed(t, lo4, 0), openFixed(t, lo4, batch)
			if _, rx := b.Offload(); !rx {
				testpkt.Missing(t, "UDP GRO in the kernel")
			}
			var pkts [][]byte
			for i := range 200 {
				pkts = append(pkts, greFlow(1, uint32(i), 700))
			}
			pkts = append(pkts, greFlow(1, 200, 99))
			n, err := a.WriteBatch(pkts, repeat(b.LocalAddr(), len(pkts)), 0)
			require.NoError(t, err)
			require.Equal(t, len(pkts), n)
			got, peers := readN(t, b, len(pkts), batch)
			require.Equal(t, pkts, got)
			assert.Equal(t, repeat(a.LocalAddr(), len(pkts)), peers)
			st := b.Stats()
			assert.NotZero(t, st.RxGRO)
			assert.Zero(t, st.RxDropped)
			assert.Equal(t, uint64(200*700+99), st.RxBytes, "RxBytes: stashed datagrams count once")
		})
	}
}

// TestClose: Close wakes a blocked ReadBatch, one socket's and the
// wildcard's (which waits on both of its sockets), and later calls return
// net.ErrClosed.
func TestClose(t *testing.T) {
	for _, addr := range []netip.Addr{lo4, netip.IPv6Unspecified()} {
		t.Run(addr.String(), func(t *testing.T) {
			c := openFixed(t, addr, 0)
			done := make(chan error, 1)
			go func() {
				bufs, sizes, peers := newBufs(4)
				_, err := c.ReadBatch(bufs, sizes, peers, rxOffset)
				done <- err
			}()
			time.Sleep(50 * time.Millisecond)
			require.NoError(t, c.Close())
			select {
			case err := <-done:
				assert.ErrorIs(t, err, net.ErrClosed)
			case <-time.After(2 * time.Second):
				t.Fatal("ReadBatch still blocked 2 s after Close")
			}
			bufs, sizes, peers := newBufs(1)
			_, err := c.ReadBatch(bufs, sizes, peers, rxOffset)
			assert.ErrorIs(t, err, net.ErrClosed)
			_, err = c.WriteBatch(bufs, []netip.AddrPort{netip.AddrPortFrom(lo4, 9)}, 0)
			assert.ErrorIs(t, err, net.ErrClosed)
			assert.NoError(t, c.Close())
		})
	}
}

// TestOpenErrors covers the configuration errors.
func TestOpenErrors(t *testing.T) {
	_, err := udp.Open(udp.Config{Local: netip.AddrPortFrom(lo4, 1), Batch: -1})
	assert.Error(t, err)
	_, err = udp.Open(udp.Config{Local: netip.AddrPortFrom(lo4, 1), Batch: udp.MaxBatch + 1})
	assert.Error(t, err)
	c := openFixed(t, lo4, 0)
	_, err = udp.Open(udp.Config{Local: c.LocalAddr(), SourcePort: c.LocalAddr().Port()})
	assert.ErrorIs(t, err, syscall.EADDRINUSE)
}

// TestWrongFamily: a packet to an IPv6 peer from an IPv4 socket fails
// alone; the others of the batch are sent.
func TestWrongFamily(t *testing.T) {
	a, b := openFixed(t, lo4, 0), openFixed(t, lo4, 0)
	pkts := [][]byte{greFlow(1, 0, 100), greFlow(1, 1, 100), greFlow(1, 2, 100)}
	peers := []netip.AddrPort{b.LocalAddr(), netip.AddrPortFrom(lo6, 9), b.LocalAddr()}
	n, err := a.WriteBatch(pkts, peers, 0)
	assert.Error(t, err)
	assert.Equal(t, 2, n)
	got, _ := readN(t, b, 2, 8)
	assert.Equal(t, [][]byte{pkts[0], pkts[2]}, got)
	assert.Equal(t, uint64(1), a.Stats().TxErrors)
}

// TestAllocs: WriteBatch and ReadBatch allocate nothing in steady state.
func TestAllocs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		addr    netip.Addr
		perFlow bool
	}{{"ipv4", lo4, false}, {"ipv6", lo6, false}, {"ipv4/per-flow", lo4, true}} {
		t.Run(tc.name, func(t *testing.T) {
			var a *udp.Conn
			if tc.perFlow {
				a = open(t, udp.Config{Local: netip.AddrPortFrom(tc.addr, 0)})
			} else {
				a = openFixed(t, tc.addr, 0)
			}
			b := openFixed(t, tc.addr, 0)
			var out [][]byte
			for i := range 16 {
				out = append(out, greFlow(uint16(i%4), uint32(i), 200+i/8*100))
			}
			bufs, _, _ := newBufs(b.BatchSize())
			assert.Zero(t, roundTripAllocs(t, a, b, out, bufs))
		})
	}
}

// TestAllocsWildcard: a Conn bound to the wildcard of both families, with
// per-flow source ports, sends one batch to an IPv4 and an IPv6 peer and
// reads their answers from its two sockets, allocating nothing.
func TestAllocsWildcard(t *testing.T) {
	w := open(t, udp.Config{Local: netip.AddrPortFrom(netip.IPv6Unspecified(), 0)})
	b4, b6 := openFixed(t, lo4, 0), openFixed(t, lo6, 0)
	var out, back [][]byte
	var peers []netip.AddrPort
	for i := range 16 {
		out = append(out, greFlow(uint16(i%4), uint32(i), 200+i/8*100))
		peers = append(peers, []netip.AddrPort{b4.LocalAddr(), b6.LocalAddr()}[i%2])
		back = append(back, greFlow(uint16(i%4), uint32(i), 300))
	}
	to4 := repeat(netip.AddrPortFrom(lo4, w.LocalAddr().Port()), 8)
	to6 := repeat(netip.AddrPortFrom(lo6, w.LocalAddr().Port()), 8)
	bufs, sizes, ps := newBufs(w.BatchSize())
	timer := time.AfterFunc(20*time.Second, func() { _ = w.Close(); _ = b4.Close(); _ = b6.Close() })
	defer timer.Stop()
	var failed error
	read := func(c *udp.Conn, n int) bool {
		for got := 0; got < n; {
			k, err := c.ReadBatch(bufs, sizes, ps, rxOffset)
			if err != nil {
				failed = err
				return false
			}
			got += k
		}
		return true
	}
	allocs := testing.AllocsPerRun(200, func() {
		if n, err := w.WriteBatch(out, peers, 0); n != len(out) || err != nil {
			failed = errors.Join(err, errors.New("short write"))
			return
		}
		if !read(b4, 8) || !read(b6, 8) {
			return
		}
		if n, err := b4.WriteBatch(back[:8], to4, 0); n != 8 || err != nil {
			failed = errors.Join(err, errors.New("short write"))
			return
		}
		if n, err := b6.WriteBatch(back[8:], to6, 0); n != 8 || err != nil {
			failed = errors.Join(err, errors.New("short write"))
			return
		}
		read(w, 16)
	})
	require.NoError(t, failed)
	assert.Zero(t, allocs)
}

// TestConcurrentWrite writes from several goroutines at once (run it with
// -race); every datagram arrives intact.
func TestConcurrentWrite(t *testing.T) {
	const writers, rounds, batch, size = 4, 50, 16, 300
	for _, perFlow := range []bool{false, true} {
		t.Run(map[bool]string{false: "fixed", true: "per-flow"}[perFlow], func(t *testing.T) {
			var a *udp.Conn
			if perFlow {
				a = open(t, udp.Config{Local: netip.AddrPortFrom(lo4, 0)})
			} else {
				a = openFixed(t, lo4, 0)
			}
			b := openFixed(t, lo4, 0)
			// At most window datagrams in flight, so that the socket
			// buffer never overflows.
			const window = 256
			tokens := make(chan struct{}, window)
			for range window {
				tokens <- struct{}{}
			}
			var wg sync.WaitGroup
			errs := make(chan error, writers)
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					peers := repeat(b.LocalAddr(), batch)
					for r := range rounds {
						pkts := make([][]byte, batch)
						for i := range pkts {
							<-tokens
							id := uint32(w*rounds*batch + r*batch + i)
							pkts[i] = greFlow(uint16(i%5), id, size)
						}
						if n, err := a.WriteBatch(pkts, peers, 0); err != nil || n != batch {
							errs <- err
							return
						}
					}
				}()
			}
			total := writers * rounds * batch
			seen := make([]bool, total)
			timer := time.AfterFunc(10*time.Second, func() { _ = b.Close() })
			defer timer.Stop()
			bufs, sizes, ps := newBufs(b.BatchSize())
			for got := 0; got < total; {
				k, err := b.ReadBatch(bufs, sizes, ps, rxOffset)
				require.NoError(t, err, "got %d of %d", got, total)
				for i := range k {
					p := bufs[i][rxOffset : rxOffset+sizes[i]]
					id := idOf(p)
					require.Less(t, int(id), total)
					require.False(t, seen[id], "datagram %d twice", id)
					seen[id] = true
					require.Equal(t, greFlow(uint16(id%batch%5), id, size), p)
					tokens <- struct{}{}
				}
				got += k
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			assert.Equal(t, uint64(total), a.Stats().TxPackets)
		})
	}
}

// TestFlowSourcePort: with SourcePort 0 each inner flow keeps one source
// port in 49152–65535, and flows spread over several ports.
func TestFlowSourcePort(t *testing.T) {
	a := open(t, udp.Config{Local: netip.AddrPortFrom(lo4, 0)})
	b := openFixed(t, lo4, 0)
	ports := a.SourcePorts()
	require.Len(t, ports, udp.FlowSockets)
	for _, p := range ports {
		require.GreaterOrEqual(t, p, uint16(udp.MinFlowPort))
	}
	const flows, rounds = 64, 3
	for r := range rounds {
		var pkts [][]byte
		for f := range flows {
			pkts = append(pkts, greFlow(uint16(f), uint32(r*flows+f), 100+r))
		}
		n, err := a.WriteBatch(pkts, repeat(b.LocalAddr(), len(pkts)), 0)
		require.NoError(t, err)
		require.Equal(t, len(pkts), n)
	}
	got, peers := readN(t, b, flows*rounds, b.BatchSize())
	portOf := map[int]uint16{}
	used := map[uint16]bool{}
	for i, p := range got {
		flow := int(idOf(p)) % flows
		port := peers[i].Port()
		assert.GreaterOrEqual(t, port, uint16(udp.MinFlowPort))
		assert.Contains(t, ports, port)
		if q, ok := portOf[flow]; ok {
			assert.Equal(t, q, port, "flow %d changed source port", flow)
		}
		portOf[flow] = port
		used[port] = true
	}
	assert.Greater(t, len(used), udp.FlowSockets/2, "64 flows spread over the ports")
}

// TestZeroChecksum4 sends IPv4 datagrams without a UDP checksum: GSO is
// off for them, and they arrive.
func TestZeroChecksum4(t *testing.T) {
	var a *udp.Conn
	for try := 0; ; try++ {
		port := uint16(20000 + rand.IntN(20000))
		var err error
		a, err = udp.Open(udp.Config{Local: netip.AddrPortFrom(lo4, port), SourcePort: port, ZeroChecksum4: true})
		if errors.Is(err, syscall.EADDRINUSE) && try < 100 {
			continue
		}
		require.NoError(t, err)
		t.Cleanup(func() { _ = a.Close() })
		break
	}
	b := openFixed(t, lo4, 0)
	var pkts [][]byte
	for i := range 8 {
		pkts = append(pkts, greFlow(1, uint32(i), 1000))
	}
	n, err := a.WriteBatch(pkts, repeat(b.LocalAddr(), len(pkts)), 0)
	require.NoError(t, err)
	require.Equal(t, len(pkts), n)
	got, _ := readN(t, b, len(pkts), 8)
	assert.Equal(t, pkts, got)
	assert.Equal(t, uint64(len(pkts)), a.Stats().TxMessages, "no GSO without checksum")
}
