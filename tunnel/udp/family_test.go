//go:build linux

package udp_test

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/ipencap/ipencap/checksum"
	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/tunnel/udp"
)

// forgeUDP6 returns a native IPv6 packet carrying a UDP datagram from src
// to dst, with a correct UDP checksum whatever src is: what a raw socket
// (IPPROTO_RAW, so IPV6_HDRINCL) sends as it is.
func forgeUDP6(src, dst netip.AddrPort, payload []byte) []byte {
	n := 8 + len(payload)
	p := testpkt.BuildIPv6(0, 40+n, testpkt.IPv6{Src: src.Addr(), Dst: dst.Addr(), HopLimit: 64, NextHeader: unix.IPPROTO_UDP})
	u := p[40:]
	binary.BigEndian.PutUint16(u[0:], src.Port())
	binary.BigEndian.PutUint16(u[2:], dst.Port())
	binary.BigEndian.PutUint16(u[4:], uint16(n))
	binary.BigEndian.PutUint16(u[6:], 0)
	copy(u[8:], payload)
	// RFC 8200 §8.1: the pseudo-header is the addresses, the upper-layer
	// length (32 bits) and the next header (32 bits, zero-padded).
	var pseudo [40]byte
	copy(pseudo[:32], p[8:40])
	binary.BigEndian.PutUint32(pseudo[32:], uint32(n))
	pseudo[39] = unix.IPPROTO_UDP
	sum := ^checksum.Sum(u, checksum.Sum(pseudo[:], 0))
	if sum == 0 {
		sum = 0xffff // RFC 8200 §8.1: a zero result is sent as all ones
	}
	binary.BigEndian.PutUint16(u[6:], sum)
	return p
}

// rawSender is a raw IPv6 socket (IPPROTO_RAW: the caller writes the IPv6
// header) made in a namespace and closed by t.Cleanup.
func rawSender(tb testing.TB, n *testpkt.NS) int {
	tb.Helper()
	var fd int
	var err error
	n.Do(tb, func() { fd, err = unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW) })
	require.NoError(tb, err, "raw IPv6 socket")
	tb.Cleanup(func() { _ = unix.Close(fd) })
	return fd
}

func sendRaw(tb testing.TB, fd int, pkt []byte, dst netip.Addr) {
	tb.Helper()
	require.NoError(tb, unix.Sendto(fd, pkt, 0, &unix.SockaddrInet6{Addr: dst.As16()}), "sendto (raw)")
}

// reachable sends datagrams from namespace from to addr in namespace to
// every 50 ms until one arrives (at most 5 s), so that neighbour discovery
// is done and duplicate address detection over.
func reachable(tb testing.TB, from, to *testpkt.NS, addr netip.Addr) {
	tb.Helper()
	var pc net.PacketConn
	var uc net.Conn
	var err error
	to.Do(tb, func() { pc, err = net.ListenPacket("udp", net.JoinHostPort(addr.String(), "0")) })
	require.NoError(tb, err)
	defer pc.Close()
	from.Do(tb, func() { uc, err = net.Dial("udp", pc.LocalAddr().String()) })
	require.NoError(tb, err)
	defer uc.Close()
	buf := make([]byte, 10)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		_, err = uc.Write([]byte("ping"))
		require.NoError(tb, err)
		require.NoError(tb, pc.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
		if _, _, err := pc.ReadFrom(buf); err == nil {
			return
		}
	}
	tb.Fatalf("%s unreachable from %s for 5 s", addr, from.Name)
}

// The addresses of TestMappedSource: the Conn's namespace and the peer's,
// joined by a veth pair. The forged source claims to be the IPv4 peer.
var (
	connAddr4 = netip.MustParseAddr("198.51.100.1")
	connAddr6 = netip.MustParseAddr("2001:db8::1")
	peerAddr4 = netip.MustParseAddr("198.51.100.2")
	peerAddr6 = netip.MustParseAddr("2001:db8::2")
	forged    = netip.AddrFrom16(peerAddr4.As16()) // ::ffff:198.51.100.2
)

// TestMappedSource sends, over a veth pair, a native IPv6 datagram whose
// source is the IPv4-mapped address of an IPv4 peer (::ffff:198.51.100.2,
// forged with a raw socket) to a Conn bound to the wildcard and to one
// bound to an IPv6 address: the Conn drops it and counts it in RxMapped,
// instead of reporting it as a datagram from 198.51.100.2, past any
// IPv4 filter of the engine. Genuine datagrams of both families from the
// same peer still arrive, from their own addresses.
//
// Linux delivers such datagrams to UDP sockets: from 5.3 to 5.11 it
// dropped them in ip6_rcv_core (6af1799aaf3f, "ipv6: drop incoming
// packets having a v4mapped source address"); 5.12 took that back for all
// but TCP SYNs (dcc32f4f183a, "ipv6: weaken the v4mapped source check").
// The "kernel" subtest shows what this kernel does with a plain socket; on
// a kernel that drops them the Conn never sees one, and RxMapped is not
// checked.
func TestMappedSource(t *testing.T) {
	a, b := testpkt.NewPair(t, "u3-conn", []string{connAddr4.String() + "/24", connAddr6.String() + "/64"},
		"u3-peer", []string{peerAddr4.String() + "/24", peerAddr6.String() + "/64"})
	reachable(t, b, a, connAddr6)
	reachable(t, b, a, connAddr4)
	raw := rawSender(t, b)
	const peerPort = 4754

	// A plain socket shows what the kernel does: the forged datagram,
	// then a genuine one from the peer's IPv6 address as a marker (same
	// path, same queue: once the marker is in, the forged one is in or
	// dropped).
	delivered := false
	t.Run("kernel", func(t *testing.T) {
		var pc *net.UDPConn
		var err error
		a.Do(t, func() { pc, err = net.ListenUDP("udp6", &net.UDPAddr{Port: 4755}) })
		require.NoError(t, err)
		defer pc.Close()
		dst := netip.AddrPortFrom(connAddr6, 4755)
		sendRaw(t, raw, forgeUDP6(netip.AddrPortFrom(forged, peerPort), dst, []byte("forged")), connAddr6)
		sendRaw(t, raw, forgeUDP6(netip.AddrPortFrom(peerAddr6, peerPort), dst, []byte("marker")), connAddr6)
		require.NoError(t, pc.SetReadDeadline(time.Now().Add(5*time.Second)))
		buf := make([]byte, 100)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			require.NoError(t, err, "the marker did not come within 5 s")
			if string(buf[:n]) == "marker" {
				break
			}
			delivered = true
			t.Logf("the kernel delivers an IPv6 datagram from %v to a UDP socket, as Linux ≥ 5.12 does; "+
				"the socket reports the source as %v", forged, from)
		}
		if !delivered {
			t.Logf("the kernel dropped the IPv6 datagram from %v, as Linux 5.3–5.11 do", forged)
		}
	})

	for _, local := range []netip.Addr{netip.IPv6Unspecified(), connAddr6} {
		t.Run("local="+local.String(), func(t *testing.T) {
			var c *udp.Conn
			var err error
			a.Do(t, func() {
				c, err = udp.Open(udp.Config{Local: netip.AddrPortFrom(local, udp.Port), SourcePort: udp.Port})
			})
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })

			// Datagram 0 is forged; 1 comes from the peer's IPv6
			// address and, to the wildcard, 2 from its IPv4 address.
			dst6 := netip.AddrPortFrom(connAddr6, udp.Port)
			sendRaw(t, raw, forgeUDP6(netip.AddrPortFrom(forged, peerPort), dst6, greFlow(1, 0, 100)), connAddr6)
			want := map[uint32]netip.AddrPort{1: netip.AddrPortFrom(peerAddr6, peerPort)}
			send := func(network string, id uint32, from, to netip.AddrPort) {
				var uc *net.UDPConn
				var err error
				b.Do(t, func() { uc, err = net.DialUDP(network, net.UDPAddrFromAddrPort(from), net.UDPAddrFromAddrPort(to)) })
				require.NoError(t, err)
				defer uc.Close()
				_, err = uc.Write(greFlow(1, id, 100))
				require.NoError(t, err)
			}
			send("udp6", 1, want[1], dst6)
			if local.IsUnspecified() {
				want[2] = netip.AddrPortFrom(peerAddr4, peerPort)
				send("udp4", 2, want[2], netip.AddrPortFrom(connAddr4, udp.Port))
			}

			got := map[uint32]netip.AddrPort{}
			timer := time.AfterFunc(5*time.Second, func() { _ = c.Close() })
			defer timer.Stop()
			bufs, sizes, peers := newBufs(8)
			for len(got) < len(want) {
				k, err := c.ReadBatch(bufs, sizes, peers, rxOffset)
				require.NoError(t, err, "got %v, want %v (closed after 5 s)", got, want)
				for i := range k {
					id := idOf(bufs[i][rxOffset : rxOffset+sizes[i]])
					got[id] = peers[i]
					require.NotEqual(t, uint32(0), id, "the IPv6 datagram from %v came through as one from %v", forged, peers[i])
				}
			}
			assert.Equal(t, want, got)
			if delivered {
				assert.Equal(t, uint64(1), c.Stats().RxMapped, "RxMapped")
			}
		})
	}
}

// TestWildcard: a Conn bound to the wildcard of both families receives
// from an IPv4 and an IPv6 peer over loopback, each reported with its own
// address (the IPv4 one plain, not IPv4-mapped), and one WriteBatch
// answers both, each from its family's socket and from the Conn's port
// (or its per-flow ports).
func TestWildcard(t *testing.T) {
	for _, perFlow := range []bool{false, true} {
		t.Run(map[bool]string{false: "fixed", true: "per-flow"}[perFlow], func(t *testing.T) {
			var w *udp.Conn
			if perFlow {
				w = open(t, udp.Config{Local: netip.AddrPortFrom(netip.IPv6Unspecified(), 0)})
			} else {
				w = openFixed(t, netip.IPv6Unspecified(), 0)
			}
			assert.Equal(t, netip.IPv6Unspecified(), w.LocalAddr().Addr())
			assert.Empty(t, w.LocalAddrs())
			p4, p6 := openFixed(t, lo4, 0), openFixed(t, lo6, 0)
			port := w.LocalAddr().Port()
			const n = 40 // datagrams from each peer, in two batches each
			var pkts4, pkts6 [][]byte
			for i := range n {
				pkts4 = append(pkts4, greFlow(1, uint32(i), 1000))
				pkts6 = append(pkts6, greFlow(1, uint32(n+i), 1000))
			}
			for h := 0; h < n; h += n / 2 {
				k, err := p4.WriteBatch(pkts4[h:h+n/2], repeat(netip.AddrPortFrom(lo4, port), n/2), 0)
				require.NoError(t, err)
				require.Equal(t, n/2, k)
				k, err = p6.WriteBatch(pkts6[h:h+n/2], repeat(netip.AddrPortFrom(lo6, port), n/2), 0)
				require.NoError(t, err)
				require.Equal(t, n/2, k)
			}
			got, peers := readN(t, w, 2*n, w.BatchSize())
			var got4, got6 [][]byte
			for i, p := range got {
				if idOf(p) < n {
					got4 = append(got4, p)
					assert.Equal(t, p4.LocalAddr(), peers[i])
					assert.True(t, peers[i].Addr().Is4(), "an IPv4 peer as an IPv4 address")
				} else {
					got6 = append(got6, p)
					assert.Equal(t, p6.LocalAddr(), peers[i])
				}
			}
			assert.Equal(t, pkts4, got4, "in order from the IPv4 peer")
			assert.Equal(t, pkts6, got6, "in order from the IPv6 peer")

			// The answer: one batch, the peers interleaved.
			var out [][]byte
			var to []netip.AddrPort
			for i := range n {
				out = append(out, greFlow(2, uint32(i), 500))
				to = append(to, []netip.AddrPort{p4.LocalAddr(), p6.LocalAddr()}[i%2])
			}
			k, err := w.WriteBatch(out, to, 0)
			require.NoError(t, err)
			require.Equal(t, n, k)
			for _, p := range []*udp.Conn{p4, p6} {
				got, peers := readN(t, p, n/2, p.BatchSize())
				for i, q := range got {
					assert.Equal(t, p.LocalAddr().Addr(), peers[i].Addr())
					if perFlow {
						assert.Contains(t, w.SourcePorts(), peers[i].Port())
					} else {
						assert.Equal(t, port, peers[i].Port())
					}
					assert.Equal(t, out[idOf(q)], q)
				}
			}
			st := w.Stats()
			assert.Equal(t, uint64(2*n), st.RxPackets)
			assert.Equal(t, uint64(n), st.TxPackets)
			assert.Zero(t, st.TxErrors+st.RxMapped+st.RxTrunc+st.RxDropped)
		})
	}
}
