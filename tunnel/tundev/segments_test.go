//go:build linux

package tundev_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/tundev"
)

// Item 15 of the security issue: a TCP peer with a tiny MSS (88 bytes)
// makes the kernel hand the device TSO super-packets of hundreds of
// segments, more than the BatchSize (128) buffers of a Read. wireguard-go
// then returns tun.ErrTooManySegments and drops the rest of the
// super-packet; the engine took that for a failing device, backed off and
// logged.

// TestGSOMaxSegs: Open sets the device's gso_max_segs to BatchSize, so
// that the kernel builds no super-packet that a Read cannot take whole.
func TestGSOMaxSegs(t *testing.T) {
	ns := newNetns(t)
	dev := open(t, ns, tundev.Config{Name: "tundev15", Addrs: []netip.Prefix{self4}})
	link, err := ns.NL.LinkByName("tundev15")
	require.NoError(t, err)
	assert.EqualValues(t, dev.BatchSize(), link.Attrs().GSOMaxSegs, "gso_max_segs")
}

// forwarder copies what the kernel routes into one device into the other,
// as a tunnel would, reading nbufs packets at a time; it records the
// largest batch a Read returned and counts the errors but the one of
// Close.
type forwarder struct {
	wg    sync.WaitGroup
	mu    sync.Mutex
	maxN  int
	nerr  int
	first error // the first error counted in nerr
}

func (f *forwarder) run(from, to *tundev.Device, nbufs int) {
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		off := tunnel.OverlayOffset // room for Write's virtio-net header
		bufs := make([][]byte, nbufs)
		for i := range bufs {
			bufs[i] = make([]byte, off+65536) // and for GRO in Write
		}
		sizes := make([]int, nbufs)
		out := make([][]byte, 0, nbufs)
		for {
			n, err := from.Read(bufs, sizes, off)
			out = out[:0]
			for i := range n {
				out = append(out, bufs[i][:off+sizes[i]])
			}
			var werr error
			if len(out) > 0 {
				_, werr = to.Write(out, off)
			}
			f.mu.Lock()
			f.maxN = max(f.maxN, n)
			for _, e := range []error{err, werr} {
				if e != nil && !errors.Is(e, net.ErrClosed) {
					if f.nerr++; f.first == nil {
						f.first = e
					}
				}
			}
			f.mu.Unlock()
			if errors.Is(err, net.ErrClosed) {
				return
			}
		}
	}()
}

// TestTinyMSS sends 2 MiB over TCP to a peer that announces an MSS of 88
// bytes, between two namespaces whose TUN devices a forwarder joins. The
// sender's kernel builds TSO super-packets of as many segments as
// gso_max_segs allows. Reading BatchSize packets at a time, no Read fails
// and none is cut short. Reading fewer (16), Reads are cut short, counted
// in Stats, but never fail, and TCP delivers everything all the same.
func TestTinyMSS(t *testing.T) {
	for _, tt := range []struct {
		name  string
		nbufs int // 0: BatchSize
	}{
		{"batch", 0},
		{"16 buffers", 16},
	} {
		t.Run(tt.name, func(t *testing.T) {
			nsA, nsB := newNetns(t), newNetns(t)
			a := open(t, nsA, tundev.Config{Name: "tundev15a", Addrs: []netip.Prefix{self4}})
			b := open(t, nsB, tundev.Config{Name: "tundev15b", Addrs: []netip.Prefix{netip.PrefixFrom(peer4, self4.Bits())}})
			if !a.Offloads().TSO {
				t.Skipf("no TSO on the TUN device (offloads: %v): the kernel builds no super-packet", a.Offloads())
			}
			nbufs := tt.nbufs
			if nbufs == 0 {
				nbufs = a.BatchSize()
			}
			var ab, ba forwarder
			ab.run(a, b, nbufs)
			ba.run(b, a, b.BatchSize())
			t.Cleanup(func() {
				a.Close()
				b.Close()
				ab.wg.Wait()
				ba.wg.Wait()
			})

			// The peer announces MSS 88: TCP_MAXSEG on the listener.
			var ln *net.TCPListener
			nsB.Do(t, func() {
				lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
					var err error
					if cerr := c.Control(func(fd uintptr) {
						err = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_MAXSEG, 88)
					}); cerr != nil {
						return cerr
					}
					return err
				}}
				l, err := lc.Listen(context.Background(), "tcp4", netip.AddrPortFrom(peer4, 7015).String())
				require.NoError(t, err)
				ln = l.(*net.TCPListener)
			})
			t.Cleanup(func() { ln.Close() })
			deadline := time.Now().Add(20 * time.Second)
			require.NoError(t, ln.SetDeadline(deadline))

			data := make([]byte, 2<<20)
			for i := range len(data) / 4 {
				binary.BigEndian.PutUint32(data[4*i:], uint32(i))
			}
			type result struct {
				b   []byte
				err error
			}
			got := make(chan result, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					got <- result{nil, err}
					return
				}
				defer c.Close()
				c.SetDeadline(deadline)
				b, err := io.ReadAll(c)
				got <- result{b, err}
			}()

			var c *net.TCPConn
			nsA.Do(t, func() {
				d := net.Dialer{Timeout: 5 * time.Second}
				conn, err := d.Dial("tcp4", netip.AddrPortFrom(peer4, 7015).String())
				require.NoError(t, err)
				c = conn.(*net.TCPConn)
			})
			t.Cleanup(func() { c.Close() })
			require.NoError(t, c.SetDeadline(deadline))
			start := time.Now()
			_, err := c.Write(data)
			require.NoError(t, err)
			info := tcpInfo(t, c)
			require.NoError(t, c.CloseWrite())
			r := <-got
			require.NoError(t, r.err)
			elapsed := time.Since(start)
			assert.LessOrEqual(t, info.Snd_mss, uint32(88), "the sender's MSS (less TCP options)")
			assert.True(t, bytes.Equal(data, r.b), "received %d of %d bytes, intact", len(r.b), len(data))

			ab.mu.Lock()
			defer ab.mu.Unlock()
			t.Logf("%v; largest Read %d packets; Stats %+v; retransmitted %d segments", elapsed.Round(time.Millisecond), ab.maxN, a.Stats(), info.Total_retrans)
			assert.Zero(t, ab.nerr, "Read and Write errors (the first: %v)", ab.first)
			assert.Greater(t, ab.maxN, 1, "TSO super-packets")
			assert.LessOrEqual(t, ab.maxN, nbufs)
			if tt.nbufs == 0 {
				assert.Zero(t, a.Stats().TooManySegments, "super-packets cut short")
			} else {
				assert.NotZero(t, a.Stats().TooManySegments, "super-packets cut short")
			}
		})
	}
}

func tcpInfo(t *testing.T, c *net.TCPConn) *unix.TCPInfo {
	t.Helper()
	raw, err := c.SyscallConn()
	require.NoError(t, err)
	var info *unix.TCPInfo
	var ierr error
	require.NoError(t, raw.Control(func(fd uintptr) { info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }))
	require.NoError(t, ierr)
	return info
}

// TestTooManySegmentsCounted: a UDP GSO send of three segments reaches
// the device as one super-packet (USO). A Read with two buffers returns
// the first segment(s) and no error, and counts the cut; a Read with one
// buffer, which can keep none, counts it and reads on to the next packet.
func TestTooManySegmentsCounted(t *testing.T) {
	ns := newNetns(t)
	dev := open(t, ns, tundev.Config{Name: "tundev15", Addrs: []netip.Prefix{self4}})
	if !dev.Offloads().USO {
		t.Skipf("no USO on the TUN device (offloads: %v; Linux 6.2 and later): no UDP super-packet", dev.Offloads())
	}
	c := listenUDP(t, ns, netip.AddrPortFrom(self4.Addr(), 4015))
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	// UDP_SEGMENT 500: a send of 1500 bytes leaves as three segments,
	// one of 5 bytes as a plain datagram.
	msg := segmented(t, c)
	gso := func(to netip.AddrPort) {
		t.Helper()
		_, err := c.WriteToUDPAddrPort(msg, to)
		require.NoError(t, err)
	}

	// read reads with nbufs buffers until a Read returns a datagram to
	// port, and returns that Read's payloads.
	read := func(nbufs int, port uint16) []string {
		t.Helper()
		bufs := make([][]byte, nbufs)
		for i := range bufs {
			bufs[i] = make([]byte, tunnel.Headroom+65536)
		}
		sizes := make([]int, nbufs)
		for range 100 {
			n, err := dev.Read(bufs, sizes, tunnel.Headroom)
			require.NoError(t, err)
			require.Positive(t, n)
			var got []string
			for i := range n {
				p := bufs[i][tunnel.Headroom : tunnel.Headroom+sizes[i]]
				if len(p) >= 28 && p[0]>>4 == 4 && p[9] == 17 && binary.BigEndian.Uint16(p[22:]) == port {
					got = append(got, string(p[28:]))
				}
			}
			if len(got) > 0 {
				return got
			}
		}
		t.Fatalf("no datagram to port %d in 100 reads", port)
		return nil
	}

	// Two buffers: wireguard-go fills both and keeps the first.
	gso(netip.AddrPortFrom(peer4, 10))
	got := read(2, 10)
	require.NotEmpty(t, got)
	assert.LessOrEqual(t, len(got), 2)
	assert.Equal(t, string(msg[:500]), got[0], "the first segment")
	assert.Equal(t, tundev.Stats{TooManySegments: 1}, dev.Stats())

	// One buffer: nothing is kept; Read goes on to the next datagram.
	gso(netip.AddrPortFrom(peer4, 11))
	_, err := c.WriteToUDPAddrPort([]byte("after"), netip.AddrPortFrom(peer4, 12))
	require.NoError(t, err)
	assert.Equal(t, []string{"after"}, read(1, 12))
	assert.Equal(t, tundev.Stats{TooManySegments: 2}, dev.Stats())
}
