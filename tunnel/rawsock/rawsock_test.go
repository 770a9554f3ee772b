//go:build linux

package rawsock_test

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/outer"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/rawsock"
	"github.com/ipencap/ipencap/tunnel/tunneltest"
)

// txOffset is the offset the tests write at: bytes in front of it must be
// ignored.
const txOffset = 16

// build returns count outer packets from src to dst with protocol proto,
// each at offset txOffset of its buffer, of assorted payload lengths.
func build(tb testing.TB, src, dst netip.Addr, proto outer.IPProto, count int) [][]byte {
	tb.Helper()
	cfg := outer.Config{Local: src, Remote: dst, TTL: 64, TOS: 0x20}
	if src.Is6() {
		cfg.FlowLabel = 0x12345
	}
	e, err := outer.NewEncapsulator(cfg)
	require.NoError(tb, err)
	lens := []int{1, 8, 60, 512, 1000, 1400}
	pkts := make([][]byte, count)
	for i := range pkts {
		n := lens[i%len(lens)]
		b := make([]byte, txOffset+e.Overhead()+n)
		for j := range n {
			b[txOffset+e.Overhead()+j] = byte(i*7 + j)
		}
		start, err := e.Prepend(b, txOffset+e.Overhead(), proto, outer.Inner{})
		require.NoError(tb, err)
		require.Equal(tb, txOffset, start)
		pkts[i] = b
	}
	return pkts
}

// send writes pkts (at txOffset) to dst in one WriteBatch.
func send(tb testing.TB, c *rawsock.Conn, dst netip.Addr, pkts [][]byte) {
	tb.Helper()
	peers := make([]netip.AddrPort, len(pkts))
	for i := range peers {
		peers[i] = netip.AddrPortFrom(dst, 0)
	}
	n, err := c.WriteBatch(pkts, peers, txOffset)
	require.NoError(tb, err)
	require.Equal(tb, len(pkts), n)
}

type family struct {
	name string
	v6   bool
	a, b netip.Addr
}

var (
	fam4 = family{"ipv4", false, addrA4, addrB4}
	fam6 = family{"ipv6", true, addrA6, addrB6}
)

// TestRoundTrip sends a batch of packets of each protocol from a to b and
// checks what arrives. IPv4: the packet as sent (the kernel rewrites only
// fields the headers already carry correctly: total length, checksum).
// IPv6: the payload as sent behind a rebuilt header with the sent
// addresses, next header, hop limit, payload length, traffic class and
// flow label.
func TestRoundTrip(t *testing.T) {
	a, b := newPair(t)
	tests := []struct {
		fam   family
		proto outer.IPProto
	}{
		{fam4, outer.ProtoGRE}, {fam4, outer.ProtoIPIP}, {fam4, outer.ProtoIPv6}, {fam4, outer.ProtoMinimal},
		{fam6, outer.ProtoGRE}, {fam6, outer.ProtoIPv6}, {fam6, outer.ProtoIPIP},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.fam.name, tt.proto), func(t *testing.T) {
			ca := a.open(t, rawsock.Config{Proto: tt.proto, IPv6: tt.fam.v6, Local: tt.fam.a, Link: "rs-a"})
			cb := b.open(t, rawsock.Config{Proto: tt.proto, IPv6: tt.fam.v6, Local: tt.fam.b})
			pkts := build(t, tt.fam.a, tt.fam.b, tt.proto, 12)
			send(t, ca, tt.fam.b, pkts)
			r := readN(t, cb, len(pkts), 64, 2*time.Second)
			for i, got := range r.pkts {
				want := pkts[i][txOffset:]
				assert.Equal(t, netip.AddrPortFrom(tt.fam.a, 0), r.peers[i], "peer %d", i)
				o, payload, err := outer.Parse(got)
				require.NoError(t, err, "packet %d", i)
				assert.Equal(t, tt.fam.a, o.Src)
				assert.Equal(t, tt.fam.b, o.Dst)
				assert.Equal(t, tt.proto, o.Protocol)
				assert.Equal(t, uint8(64), o.TTL)
				assert.Equal(t, uint8(0x20), o.TOS)
				assert.Equal(t, len(want), o.Len)
				if !tt.fam.v6 {
					assert.Equal(t, want, got, "packet %d", i)
					continue
				}
				assert.Equal(t, want[40:], payload, "payload %d", i)
				assert.Equal(t, want[:40], got[:40], "rebuilt header %d", i) // flow label too
			}
		})
	}
}

// TestBatch writes 32 packets in one call; the reader takes them 8 at a
// time. A sender with Batch 16 splits 100 packets into system calls.
func TestBatch(t *testing.T) {
	a, b := newPair(t)
	for _, fam := range []family{fam4, fam6} {
		t.Run(fam.name, func(t *testing.T) {
			ca := a.open(t, rawsock.Config{Proto: outer.ProtoGRE, IPv6: fam.v6})
			cb := b.open(t, rawsock.Config{Proto: outer.ProtoGRE, IPv6: fam.v6})
			assert.Equal(t, rawsock.DefaultBatch, ca.BatchSize())
			pkts := build(t, fam.a, fam.b, outer.ProtoGRE, 32)
			send(t, ca, fam.b, pkts)
			r := readN(t, cb, 32, 8, 2*time.Second)
			assert.GreaterOrEqual(t, r.calls, 4)
			hdr := 20
			if fam.v6 {
				hdr = 40
			}
			for i, got := range r.pkts {
				want := pkts[i][txOffset+hdr:]
				require.GreaterOrEqual(t, len(got), len(want), "packet %d", i)
				assert.Equal(t, want, got[len(got)-len(want):], "packet %d", i)
			}

			small := a.open(t, rawsock.Config{Proto: outer.ProtoGRE, IPv6: fam.v6, Batch: 16})
			assert.Equal(t, 16, small.BatchSize())
			pkts = build(t, fam.a, fam.b, outer.ProtoGRE, 100)
			send(t, small, fam.b, pkts)
			r = readN(t, cb, 100, 64, 2*time.Second)
			assert.Len(t, r.pkts, 100)
		})
	}
}

// TestConcurrentWrite: WriteBatch from several goroutines at once (as the
// engine's tunnels call it); every packet arrives.
func TestConcurrentWrite(t *testing.T) {
	a, b := newPair(t)
	for _, fam := range []family{fam4, fam6} {
		t.Run(fam.name, func(t *testing.T) {
			ca := a.open(t, rawsock.Config{Proto: outer.ProtoGRE, IPv6: fam.v6, Batch: 8})
			cb := b.open(t, rawsock.Config{Proto: outer.ProtoGRE, IPv6: fam.v6})
			const writers, each = 4, 30
			errs := make(chan error, writers)
			for range writers {
				pkts := build(t, fam.a, fam.b, outer.ProtoGRE, each)
				go func() {
					peers := make([]netip.AddrPort, 5)
					for i := range peers {
						peers[i] = netip.AddrPortFrom(fam.b, 0)
					}
					for i := 0; i < each; i += 5 {
						if _, err := ca.WriteBatch(pkts[i:i+5], peers, txOffset); err != nil {
							errs <- err
							return
						}
					}
					errs <- nil
				}()
			}
			r := readN(t, cb, writers*each, 64, 2*time.Second)
			for range writers {
				require.NoError(t, <-errs)
			}
			assert.Len(t, r.pkts, writers*each)
		})
	}
}

// TestPeerFromHeader: a peer that is not an address of the family sends
// the packet to its header's destination.
func TestPeerFromHeader(t *testing.T) {
	a, b := newPair(t)
	for _, fam := range []family{fam4, fam6} {
		t.Run(fam.name, func(t *testing.T) {
			ca := a.open(t, rawsock.Config{Proto: outer.ProtoGRE, IPv6: fam.v6})
			cb := b.open(t, rawsock.Config{Proto: outer.ProtoGRE, IPv6: fam.v6})
			pkts := build(t, fam.a, fam.b, outer.ProtoGRE, 2)
			n, err := ca.WriteBatch(pkts, make([]netip.AddrPort, 2), txOffset)
			require.NoError(t, err)
			require.Equal(t, 2, n)
			readN(t, cb, 2, 64, 2*time.Second)
		})
	}
}

// TestClose: Close wakes a blocked ReadBatch, which returns net.ErrClosed,
// as every later call does.
func TestClose(t *testing.T) {
	a, _ := newPair(t)
	for _, fam := range []family{fam4, fam6} {
		t.Run(fam.name, func(t *testing.T) {
			c := a.open(t, rawsock.Config{Proto: outer.ProtoMinimal, IPv6: fam.v6})
			done := make(chan error, 1)
			go func() {
				bufs := [][]byte{make([]byte, 2048)}
				_, err := c.ReadBatch(bufs, []int{0}, []netip.AddrPort{{}}, rxOffset)
				done <- err
			}()
			select {
			case err := <-done:
				t.Fatalf("ReadBatch returned before Close: %v", err)
			case <-time.After(50 * time.Millisecond):
			}
			require.NoError(t, c.Close())
			select {
			case err := <-done:
				assert.ErrorIs(t, err, net.ErrClosed)
			case <-time.After(2 * time.Second):
				t.Fatal("ReadBatch still blocked 2 s after Close")
			}
			_, err := c.ReadBatch([][]byte{make([]byte, 100)}, []int{0}, []netip.AddrPort{{}}, 0)
			assert.ErrorIs(t, err, net.ErrClosed)
			pkts := build(t, fam.a, fam.b, outer.ProtoMinimal, 1)
			_, err = c.WriteBatch(pkts, []netip.AddrPort{netip.AddrPortFrom(fam.b, 0)}, txOffset)
			assert.ErrorIs(t, err, net.ErrClosed)
			assert.NoError(t, c.Close(), "a second Close does nothing")
		})
	}
}

// TestOpenErrors: configurations Open refuses before making a socket.
func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  rawsock.Config
	}{
		{"udp", rawsock.Config{Proto: outer.ProtoUDP}},
		{"zero", rawsock.Config{}},
		{"local v6 on v4", rawsock.Config{Proto: outer.ProtoGRE, Local: addrA6}},
		{"local v4 on v6", rawsock.Config{Proto: outer.ProtoGRE, IPv6: true, Local: addrA4}},
		{"negative batch", rawsock.Config{Proto: outer.ProtoGRE, Batch: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rawsock.Open(tt.cfg)
			require.ErrorIs(t, err, rawsock.ErrConfig)
		})
	}
}

// TestAllocs: a steady-state WriteBatch + ReadBatch round trip allocates
// nothing, in either family.
func TestAllocs(t *testing.T) {
	a, b := newPair(t)
	for _, fam := range []family{fam4, fam6} {
		t.Run(fam.name, func(t *testing.T) {
			ca := a.open(t, rawsock.Config{Proto: outer.ProtoGRE, IPv6: fam.v6})
			cb := b.open(t, rawsock.Config{Proto: outer.ProtoGRE, IPv6: fam.v6})
			const k = 4
			pkts := build(t, fam.a, fam.b, outer.ProtoGRE, k)
			peers := make([]netip.AddrPort, k)
			for i := range peers {
				peers[i] = netip.AddrPortFrom(fam.b, 0)
			}
			bufs := make([][]byte, 8)
			for i := range bufs {
				bufs[i] = make([]byte, 65600)
			}
			sizes := make([]int, 8)
			from := make([]netip.AddrPort, 8)
			var failed error
			roundTrip := func() {
				if n, err := ca.WriteBatch(pkts, peers, txOffset); err != nil || n != k {
					failed = fmt.Errorf("WriteBatch: %d, %v", n, err)
					return
				}
				for got := 0; got < k; {
					n, err := cb.ReadBatch(bufs, sizes, from, rxOffset)
					if err != nil {
						failed = err
						return
					}
					got += n
				}
			}
			// A reader stuck for good (lost packets) would hang the test:
			// close cb after a deadline.
			stop := time.AfterFunc(20*time.Second, func() { _ = cb.Close() })
			defer stop.Stop()
			roundTrip()
			require.NoError(t, failed)
			allocs := testing.AllocsPerRun(500, roundTrip)
			require.NoError(t, failed)
			assert.Zero(t, allocs, "allocations per round trip of %d packets", k)
		})
	}
}

// TestPathMTU: a sends a 1400-byte DF packet towards c through b, whose
// link to c has MTU 1280; b answers with ICMP fragmentation needed (ICMPv6
// packet too big), and OnPathMTU(c, 1280) is called. A packet larger than
// a's own link fails with EMSGSIZE and reports the device MTU.
func TestPathMTU(t *testing.T) {
	a, b, c := newNS(t), newNS(t), newNS(t)
	testpkt.Veth(t, a.NS, "rs-ab", b.NS, "rs-ba", 0)
	testpkt.Veth(t, b.NS, "rs-bc", c.NS, "rs-cb", 1280)
	a.Up(t, "rs-ab", "198.51.100.1/24", "2001:db8:1::1/64")
	b.Up(t, "rs-ba", "198.51.100.2/24", "2001:db8:1::2/64")
	b.Up(t, "rs-bc", "203.0.113.1/24", "2001:db8:2::1/64")
	c.Up(t, "rs-cb", "203.0.113.2/24", "2001:db8:2::2/64")
	a.WaitUp(t, "rs-ab")
	b.WaitUp(t, "rs-ba")
	b.WaitUp(t, "rs-bc")
	c.WaitUp(t, "rs-cb")
	a.Route(t, "203.0.113.0/24", "198.51.100.2")
	a.Route(t, "2001:db8:2::/64", "2001:db8:1::2")
	c.Route(t, "198.51.100.0/24", "203.0.113.1")
	c.Route(t, "2001:db8:1::/64", "2001:db8:2::1")
	b.Sysctl(t, "net/ipv4/ip_forward", "1")
	b.Sysctl(t, "net/ipv6/conf/all/forwarding", "1")

	tests := []struct {
		name   string
		v6     bool
		src    netip.Addr
		remote netip.Addr
	}{
		{"ipv4", false, netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("203.0.113.2")},
		{"ipv6", true, netip.MustParseAddr("2001:db8:1::1"), netip.MustParseAddr("2001:db8:2::2")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			type report struct {
				remote netip.Addr
				mtu    int
				quoted []byte // a copy: the handler does not keep the Conn's
			}
			reports := make(chan report, 64)
			conn := a.open(t, rawsock.Config{Proto: outer.ProtoGRE, IPv6: tt.v6, OnPathMTU: func(r tunnel.PathMTUReport) {
				var q []byte
				if r.Quoted != nil {
					q = append([]byte{}, r.Quoted...)
				}
				select {
				case reports <- report{r.Remote, r.MTU, q}:
				default:
				}
			}})
			// The engine always reads its underlay; so does this test, to
			// let the Conn see the ICMP errors.
			readerDone := make(chan struct{})
			go func() {
				defer close(readerDone)
				bufs := [][]byte{make([]byte, 2048)}
				for {
					if _, err := conn.ReadBatch(bufs, []int{0}, []netip.AddrPort{{}}, rxOffset); errClosed(err) {
						return
					}
				}
			}()
			t.Cleanup(func() { _ = conn.Close(); <-readerDone })

			e, err := outer.NewEncapsulator(outer.Config{Local: tt.src, Remote: tt.remote, TTL: 64})
			require.NoError(t, err)
			pkt := func(size int) [][]byte {
				b := make([]byte, size)
				_, err := e.Prepend(b, e.Overhead(), outer.ProtoGRE, outer.Inner{})
				require.NoError(t, err)
				return [][]byte{b}
			}
			peer := []netip.AddrPort{netip.AddrPortFrom(tt.remote, 0)}

			// Too big for b's link to c: b reports 1280, quoting the
			// start of our packet (from its IP header: the engine checks
			// it against what the tunnel sent).
			deadline := time.After(2 * time.Second)
			tick := time.NewTicker(250 * time.Millisecond)
			defer tick.Stop()
		wait:
			for {
				sent := pkt(1400)
				n, err := conn.WriteBatch(sent, peer, 0)
				require.NoError(t, err)
				require.Equal(t, 1, n)
				for {
					select {
					case r := <-reports:
						if r.remote == tt.remote && r.mtu == 1280 {
							require.GreaterOrEqual(t, len(r.quoted), 48, "the quote: IP header and more")
							hl := 20
							if tt.v6 {
								hl = 40
							}
							// The router may rewrite TTL/hop limit and the
							// checksum on the way: compare addresses and
							// what follows the header.
							assert.Equal(t, sent[0][hl:len(r.quoted)], r.quoted[hl:], "the quoted payload")
							assert.Equal(t, sent[0][hl-8:hl], r.quoted[hl-8:hl], "the quoted addresses' end")
							break wait
						}
						t.Logf("other report: %v %d", r.remote, r.mtu)
						continue
					case <-tick.C:
						continue wait
					case <-deadline:
						t.Fatal("no OnPathMTU(remote, 1280) within 2 s")
					}
				}
			}

			// Too big for a's own link (1500): EMSGSIZE, and the device
			// MTU is reported before WriteBatch returns.
			n, err := conn.WriteBatch(pkt(1600), peer, 0)
			assert.Equal(t, 0, n)
			require.ErrorIs(t, err, unix.EMSGSIZE)
			for {
				select {
				case r := <-reports:
					if r.mtu == 1280 {
						continue // a late one from above
					}
					assert.Equal(t, report{tt.remote, 1500, nil}, r, "a local error: no quote")
				default:
					t.Fatal("no OnPathMTU for the local EMSGSIZE")
				}
				break
			}
		})
	}
}

// TestEngine runs the tunnel engine on each side of the veth pair with a
// Conn as underlay: gre with key, checksum and sequence numbers over IPv4,
// ip6gre over IPv6.
func TestEngine(t *testing.T) {
	a, b := newPair(t)
	key := gre.Key(0x0a000001)
	tests := []struct {
		name string
		mode tunnel.Mode
		fam  family
		edit func(*tunnel.Config)
	}{
		{"gre/key-csum-seq", tunnel.ModeGRE, fam4, func(c *tunnel.Config) {
			c.IKey, c.OKey, c.ICsum, c.OCsum, c.ISeq, c.OSeq = tunnel.KeyOf(key), tunnel.KeyOf(key), true, true, true, true
		}},
		{"ip6gre", tunnel.ModeIP6GRE, fam6, nil},
		{"ip6gre/key-csum-seq", tunnel.ModeIP6GRE, fam6, func(c *tunnel.Config) {
			c.IKey, c.OKey, c.ICsum, c.OCsum, c.ISeq, c.OSeq = tunnel.KeyOf(key), tunnel.KeyOf(key), true, true, true, true
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			side := func(n *ns, local, remote netip.Addr) (*tunnel.Tunnel, *tunneltest.ChannelOverlay) {
				e := tunnel.NewEngine(tunnel.EngineConfig{})
				conn := n.open(t, rawsock.Config{Proto: outer.ProtoGRE, IPv6: tt.fam.v6, Local: local})
				require.NoError(t, e.AddUnderlay(conn, tunnel.UnderlayConfig{Name: "raw"}))
				t.Cleanup(func() { _ = e.Close() })
				cfg := tunnel.Config{Name: "t", Mode: tt.mode, Local: local, Remote: remote, TTL: 64}
				if tt.edit != nil {
					tt.edit(&cfg)
				}
				o := tunneltest.NewChannelOverlay(tunneltest.OverlayConfig{})
				tun, err := e.Add(cfg, o)
				require.NoError(t, err)
				return tun, o
			}
			t1, o1 := side(a, tt.fam.a, tt.fam.b)
			t2, o2 := side(b, tt.fam.b, tt.fam.a)
			inners := [][]byte{
				testpkt.BuildIPv4(0, 60, testpkt.IPv4{TTL: 64, DF: true}),
				testpkt.BuildIPv6(0, 100, testpkt.IPv6{HopLimit: 64}),
				testpkt.BuildIPv4(0, 1400, testpkt.IPv4{TTL: 7}),
			}
			buf := make([]byte, 70000)
			for _, in := range inners {
				require.NoError(t, o1.Inject(in))
				n, ok := o2.Recv(buf, 2*time.Second)
				require.True(t, ok, "1 -> 2: nothing within 2 s")
				assert.Equal(t, in, buf[:n], "1 -> 2")
				require.NoError(t, o2.Inject(in))
				n, ok = o1.Recv(buf, 2*time.Second)
				require.True(t, ok, "2 -> 1: nothing within 2 s")
				assert.Equal(t, in, buf[:n], "2 -> 1")
			}
			// Counters move after the write that delivers or sends a packet,
			// which may be after the peer has it: wait for them.
			k := uint64(len(inners))
			var s1, s2 tunnel.Stats
			for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				s1, s2 = t1.Stats(), t2.Stats()
				if s1.TxPackets >= k && s2.TxPackets >= k && s1.RxPackets >= k && s2.RxPackets >= k {
					break
				}
			}
			assert.Equal(t, k, s1.TxPackets)
			assert.Equal(t, k, s1.RxPackets)
			assert.Equal(t, k, s2.TxPackets)
			assert.Equal(t, k, s2.RxPackets)
			assert.Zero(t, s1.RxErrors+s1.TxErrors+s2.RxErrors+s2.TxErrors)
		})
	}
}

// TestIPv6HeaderFields checks the rebuilt header word by word on one
// packet with a traffic class and flow label.
func TestIPv6HeaderFields(t *testing.T) {
	a, b := newPair(t)
	ca := a.open(t, rawsock.Config{Proto: outer.ProtoIPIP, IPv6: true})
	cb := b.open(t, rawsock.Config{Proto: outer.ProtoIPIP, IPv6: true})
	pkts := build(t, addrA6, addrB6, outer.ProtoIPIP, 1) // 1-byte payload
	send(t, ca, addrB6, pkts)
	got := readN(t, cb, 1, 1, 2*time.Second).pkts[0]
	require.Len(t, got, 41)
	assert.Equal(t, uint32(6<<28|0x20<<20|0x12345), binary.BigEndian.Uint32(got[0:4]), "version, traffic class, flow label")
	assert.Equal(t, uint16(1), binary.BigEndian.Uint16(got[4:6]), "payload length")
	assert.Equal(t, byte(outer.ProtoIPIP), got[6], "next header")
	assert.Equal(t, byte(64), got[7], "hop limit")
	assert.Equal(t, addrA6.AsSlice(), got[8:24], "source")
	assert.Equal(t, addrB6.AsSlice(), got[24:40], "destination")
}

// BenchmarkRoundTrip moves batches of 32 GRE packets of 1000 bytes from a
// to b over the veth pair.
func BenchmarkRoundTrip(b *testing.B) {
	for _, fam := range []family{fam4, fam6} {
		b.Run(fam.name, func(b *testing.B) {
			na, nb := newPair(b)
			ca := na.open(b, rawsock.Config{Proto: outer.ProtoGRE, IPv6: fam.v6})
			cb := nb.open(b, rawsock.Config{Proto: outer.ProtoGRE, IPv6: fam.v6})
			const k = 32
			all := build(b, fam.a, fam.b, outer.ProtoGRE, 6*k)
			var pkts [][]byte
			for _, p := range all {
				if len(p) == len(all[4]) { // the 1000-byte payloads
					pkts = append(pkts, p)
				}
			}
			pkts = pkts[:k]
			peers := make([]netip.AddrPort, k)
			for i := range peers {
				peers[i] = netip.AddrPortFrom(fam.b, 0)
			}
			bufs := make([][]byte, k)
			for i := range bufs {
				bufs[i] = make([]byte, 65600)
			}
			sizes := make([]int, k)
			from := make([]netip.AddrPort, k)
			stop := time.AfterFunc(time.Minute, func() { _ = cb.Close() })
			defer stop.Stop()
			b.SetBytes(int64(k * len(pkts[0][txOffset:])))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ca.WriteBatch(pkts, peers, txOffset); err != nil {
					b.Fatal(err)
				}
				for got := 0; got < k; {
					n, err := cb.ReadBatch(bufs, sizes, from, rxOffset)
					if err != nil {
						b.Fatal(err)
					}
					got += n
				}
			}
			b.ReportMetric(float64(b.N*k)/b.Elapsed().Seconds(), "pkt/s")
		})
	}
}
