package tunnel_test

import (
	"encoding/binary"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/ipencap/ipencap/checksum"
	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/iphdr"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/tunneltest"
)

// TestFragNeeded: an IPv4 packet with DF, larger than the tunnel MTU, is
// answered with ICMP "fragmentation needed" carrying the MTU, written back
// to the overlay towards the packet's source.
func TestFragNeeded(t *testing.T) {
	k := tunnelKey(7)
	p := newPair(t, tunnel.ModeGRE, func(c1, _ *tunnel.Config) { c1.OKey, c1.OCsum = tunnel.KeyOf(k), true }, tunneltest.Impairment{}, true)
	require.Equal(t, 1468, p.t1.MTU())
	big := inner4(1469, 64, 0, true)
	require.NoError(t, p.o1.Inject(big))
	r := recv(t, p.o1)
	h := iphdr.IPv4(r)
	require.True(t, h.ChecksumValid())
	assert.Equal(t, testpkt.Inner4Dst, h.Src())
	assert.Equal(t, testpkt.Inner4Src, h.Dst(), "back to the source")
	assert.Equal(t, uint8(1), h.Protocol())
	assert.Equal(t, 576, int(h.TotalLen()), "as much as fits in 576 bytes")
	m, err := icmp.ParseMessage(1, r[20:])
	require.NoError(t, err)
	assert.Equal(t, ipv4.ICMPTypeDestinationUnreachable, m.Type)
	assert.Equal(t, 4, m.Code)
	assert.Equal(t, uint16(1468), binary.BigEndian.Uint16(r[26:]), "next-hop MTU (RFC 1191)")
	assert.Equal(t, uint16(0xffff), checksum.Sum(r[20:], 0), "ICMP checksum")
	assert.Equal(t, big[:548], r[28:], "the quoted packet")
	eventually(t, func() bool { return p.t1.Stats().TxICMP == 1 }, "the ICMP error counted")
	s := p.t1.Stats()
	assert.Equal(t, uint64(1), s.TxTooBig)
	assert.Zero(t, s.TxPackets)

	// SetPathMTU lowers it (an ICMP error about an outer packet).
	p.t1.SetPathMTU(1400)
	assert.Equal(t, 1400-32, p.t1.MTU())
	require.NoError(t, p.o1.Inject(inner4(1400-31, 64, 0, true)))
	r = recv(t, p.o1)
	assert.Equal(t, uint16(1400-32), binary.BigEndian.Uint16(r[26:]))
	p.t1.SetPathMTU(0)
	assert.Equal(t, 1468, p.t1.MTU())
}

// TestPacketTooBig: every IPv6 packet larger than the MTU is answered with
// ICMPv6 "packet too big".
func TestPacketTooBig(t *testing.T) {
	p := newPair(t, tunnel.ModeIP6GRE, func(c1, _ *tunnel.Config) { c1.MTU = 1300 }, tunneltest.Impairment{}, true)
	big := inner6(1301, 64, 0)
	require.NoError(t, p.o1.Inject(big))
	r := recv(t, p.o1)
	h := iphdr.IPv6(r)
	assert.Equal(t, testpkt.Inner6Dst, h.Src())
	assert.Equal(t, testpkt.Inner6Src, h.Dst())
	assert.Equal(t, 1280, len(r), "as much as fits in 1280 bytes")
	m, err := icmp.ParseMessage(58, r[40:])
	require.NoError(t, err)
	require.Equal(t, ipv6.ICMPTypePacketTooBig, m.Type)
	assert.Equal(t, 1300, m.Body.(*icmp.PacketTooBig).MTU)
	// The checksum with the IPv6 pseudo-header, as x/net computes it.
	want, err := (&icmp.Message{Type: ipv6.ICMPTypePacketTooBig, Body: &icmp.PacketTooBig{MTU: 1300, Data: big[:1280-48]}}).
		Marshal(icmp.IPv6PseudoHeader(h.Src().AsSlice(), h.Dst().AsSlice()))
	require.NoError(t, err)
	assert.Equal(t, want, []byte(r[40:]))
	assert.Equal(t, uint64(1), p.t1.Stats().TxTooBig)
}

// TestFragmentDFClear: an IPv4 packet without DF, larger than the MTU, is
// fragmented before encapsulation; the fragments reassemble to it.
func TestFragmentDFClear(t *testing.T) {
	p := newPair(t, tunnel.ModeGRE, func(c1, c2 *tunnel.Config) { c1.MTU, c2.MTU = 1000, 1000 }, tunneltest.Impairment{}, false)
	big := inner4(2500, 64, 0, false)
	require.NoError(t, p.o1.Inject(big))
	var data []byte
	var offs []int
	for range 3 {
		f := recv(t, p.o2)
		h := iphdr.IPv4(f)
		require.True(t, h.ChecksumValid())
		require.LessOrEqual(t, len(f), 1000)
		offs = append(offs, int(h.FragOff())*8)
		data = append(data, f[20:]...)
		assert.Equal(t, len(offs) < 3, h.MF())
	}
	assert.Equal(t, []int{0, 976, 1952}, offs)
	assert.Equal(t, big[20:], data)
	// The counters move when the batch write returns, a moment after the
	// packets may have arrived.
	eventually(t, func() bool { return p.t1.Stats().TxPackets == 3 }, "three fragments counted")
	assert.Equal(t, uint64(1), p.t1.Stats().TxFragmented)
}

func TestNoRoute(t *testing.T) {
	p := newPair(t, tunnel.ModeGRE, func(c1, _ *tunnel.Config) { c1.Remote = netipAny4 }, tunneltest.Impairment{}, true)
	require.NoError(t, p.o1.Inject(inner4(60, 64, 0, false)))
	eventually(t, func() bool { return p.t1.Stats().TxNoRoute == 1 }, "no route counted")
}

func TestEnginePathMTU(t *testing.T) {
	p := newPair(t, tunnel.ModeIPIP, nil, tunneltest.Impairment{}, true)
	assert.Equal(t, 1480, p.t1.MTU())
	// A local report (no quote: the kernel's own EMSGSIZE) is taken as it is.
	assert.Equal(t, 1, p.e1.PathMTU(tunnel.PathMTUReport{Remote: end2v4, MTU: 1400}))
	assert.Equal(t, 1380, p.t1.MTU())
	assert.Equal(t, 0, p.e1.PathMTU(tunnel.PathMTUReport{Remote: end1v4, MTU: 1300}), "no tunnel has that remote")
	assert.Equal(t, 1380, p.t1.MTU())
}

// TestPathMTUReports: an ICMP error's quote must be one of the tunnel's
// packets before the engine believes it (a forged "fragmentation needed"
// with a key the tunnel never sent took a tunnel to MTU 68); a report
// never raises the estimate (RFC 1191 §3); an IPv4 report is floored at
// 552 (Linux's min_pmtu); an IPv6 one below 1280 is discarded (RFC 8201 §4).
func TestPathMTUReports(t *testing.T) {
	k := tunnelKey(7)
	p := newPair(t, tunnel.ModeGRE, func(c1, _ *tunnel.Config) {
		c1.OKey, c1.OSeq = tunnel.KeyOf(k), true
	}, tunneltest.Impairment{}, true)
	const base = 1500 - 20 - 12
	require.Equal(t, base, p.t1.MTU())
	// What the tunnel sent: GRE with key 7 and sequence number 0.
	require.NoError(t, p.o1.Inject(inner4(100, 64, 0, false)))
	sent := readWire(t, p.p2)
	quote := func(edit func(q []byte)) []byte {
		q := append([]byte{}, sent[:20+12+20]...) // IP, GRE with key and sequence, the inner header
		if edit != nil {
			edit(q)
		}
		return q
	}
	report := func(q []byte, mtu int) int {
		return p.e1.PathMTU(tunnel.PathMTUReport{Remote: end2v4, MTU: mtu, Quoted: q})
	}
	for _, tt := range []struct {
		name string
		q    []byte
	}{
		{"a key never sent", quote(func(q []byte) { binary.BigEndian.PutUint32(q[24:], 8) })},
		{"no key", quote(func(q []byte) { binary.BigEndian.PutUint16(q[20:], gre.FlagSeq) })},
		{"another source", quote(func(q []byte) { copy(q[12:16], stranger4.AsSlice()) })},
		{"another protocol", quote(func(q []byte) { q[9] = 4 })},
		{"a sequence number not sent yet", quote(func(q []byte) { binary.BigEndian.PutUint32(q[28:], 5) })},
		{"a sequence number long gone", quote(func(q []byte) { binary.BigEndian.PutUint32(q[28:], 1<<31) })},
		{"cut before the key", quote(nil)[:20+4]},
		{"cut before the sequence number", quote(nil)[:20+8]},
		{"empty", []byte{}},
	} {
		assert.Zero(t, report(tt.q, 68), tt.name)
		assert.Equal(t, base, p.t1.MTU(), tt.name)
	}
	assert.Equal(t, uint64(9), p.e1.Stats().PathMTURefused)

	// The genuine quote lowers, floored at 552 for IPv4.
	assert.Equal(t, 1, report(quote(nil), 68))
	assert.Equal(t, tunnel.DefaultMinPathMTU-32, p.t1.MTU())
	// A larger report does not raise it.
	assert.Zero(t, report(quote(nil), 1400))
	assert.Equal(t, tunnel.DefaultMinPathMTU-32, p.t1.MTU())
	s := p.e1.Stats()
	assert.Equal(t, uint64(1), s.PathMTULowered)
	assert.Equal(t, uint64(9), s.PathMTURefused, "a report that lowers nothing is not refused")

	// IPv6: below 1280 is discarded, not floored.
	p6 := newPair(t, tunnel.ModeIP6GRE, nil, tunneltest.Impairment{}, true)
	assert.Zero(t, p6.e1.PathMTU(tunnel.PathMTUReport{Remote: end2v6, MTU: 1000}))
	assert.Equal(t, 1500-40-4, p6.t1.MTU())
	assert.Equal(t, uint64(1), p6.e1.Stats().PathMTURefused)
	assert.Equal(t, 1, p6.e1.PathMTU(tunnel.PathMTUReport{Remote: end2v6, MTU: 1280}))
	assert.Equal(t, 1280-44, p6.t1.MTU())
}

// TestPathMTUExpiry: a learnt path MTU expires after PathMTUExpiry (ten
// minutes by default, RFC 1191 §6.3) and the tunnel MTU comes back; in a
// synctest bubble, so the ten minutes take no time.
func TestPathMTUExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, tunnel.ModeIPIP, nil, tunneltest.Impairment{}, true)
		require.Equal(t, 1, p.e1.PathMTU(tunnel.PathMTUReport{Remote: end2v4, MTU: 1400}))
		require.Equal(t, 1380, p.t1.MTU())
		time.Sleep(tunnel.DefaultPathMTUExpiry - time.Second)
		synctest.Wait()
		assert.Equal(t, 1380, p.t1.MTU(), "still learnt")
		// A new report restarts the clock.
		require.Equal(t, 1, p.e1.PathMTU(tunnel.PathMTUReport{Remote: end2v4, MTU: 1300}))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		assert.Equal(t, 1280, p.t1.MTU())
		time.Sleep(tunnel.DefaultPathMTUExpiry)
		synctest.Wait()
		assert.Equal(t, 1480, p.t1.MTU(), "expired: the configured MTU again")
	})
}

// TestSetPathMTUNoExpiry: SetPathMTU's value has no expiry, even over a
// learnt one whose timer was running: the application's value stays.
func TestSetPathMTUNoExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPair(t, tunnel.ModeIPIP, nil, tunneltest.Impairment{}, true)
		require.Equal(t, 1, p.e1.PathMTU(tunnel.PathMTUReport{Remote: end2v4, MTU: 1400}))
		require.Equal(t, 1380, p.t1.MTU())
		p.t1.SetPathMTU(1200)
		require.Equal(t, 1180, p.t1.MTU())
		time.Sleep(2 * tunnel.DefaultPathMTUExpiry)
		synctest.Wait()
		assert.Equal(t, 1180, p.t1.MTU(), "the caller's path MTU does not expire")
		// A later report still lowers it, and that one expires.
		require.Equal(t, 1, p.e1.PathMTU(tunnel.PathMTUReport{Remote: end2v4, MTU: 1100}))
		require.Equal(t, 1080, p.t1.MTU())
		time.Sleep(tunnel.DefaultPathMTUExpiry + time.Second)
		synctest.Wait()
		assert.Equal(t, 1480, p.t1.MTU(), "expired: the configured MTU again")
	})
}

// TestPathMTUIndex: a report applies to the tunnel whose okey the quote
// carries, found through the index (remote, okey), not to the others to
// the same remote; a local report (no quote) to every tunnel to it.
func TestPathMTUIndex(t *testing.T) {
	r := newSharedHub(t, 50)
	sent := func(k int) []byte { // what spoke k's tunnel sends, as an ICMP error quotes it
		q := testpkt.BuildIPv4(0, 20+8+20, testpkt.IPv4{TTL: 64, Protocol: 47, Src: end1v4, Dst: end2v4})
		binary.BigEndian.PutUint16(q[20:], gre.FlagKey)
		binary.BigEndian.PutUint16(q[22:], uint16(gre.ProtoIPv4))
		binary.BigEndian.PutUint32(q[24:], uint32(k))
		return q
	}
	const base = 1500 - 28
	require.Equal(t, 1, r.e.PathMTU(tunnel.PathMTUReport{Remote: end2v4, MTU: 1400, Quoted: sent(17)}))
	for i, tun := range r.t {
		want := base
		if i+1 == 17 {
			want = 1400 - 28
		}
		require.Equal(t, want, tun.MTU(), "spoke %d", i+1)
	}
	assert.Zero(t, r.e.PathMTU(tunnel.PathMTUReport{Remote: end2v4, MTU: 1300, Quoted: sent(99)}), "no tunnel sends key 99")
	assert.Equal(t, 50, r.e.PathMTU(tunnel.PathMTUReport{Remote: end2v4, MTU: 1300}), "a local report: every tunnel to the remote")
	require.NoError(t, r.e.Remove("spoke17"))
	assert.Zero(t, r.e.PathMTU(tunnel.PathMTUReport{Remote: end2v4, MTU: 1200, Quoted: sent(17)}), "removed from the index")
}
