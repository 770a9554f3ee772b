//go:build linux

package main

import (
	"encoding/binary"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"github.com/ipencap/ipencap/checksum"
	"github.com/ipencap/ipencap/internal/testpkt"
)

// routed returns three namespaces, A and B joined by the router R, whose
// link to B has MTU mtuB:
//
//	A va 198.51.100.1/24 — 198.51.100.254/24 R 203.0.113.254/24 — 203.0.113.2/24 B
//	  MTU 1500                                MTU mtuB
func routed(t *testing.T, mtuB int) (a, r, b *testpkt.NS) {
	t.Helper()
	a, r, b = testpkt.NewNS(t), testpkt.NewNS(t), testpkt.NewNS(t)
	testpkt.Veth(t, a, "va", r, "ra", 1500)
	testpkt.Veth(t, r, "rb", b, "vb", mtuB)
	a.Up(t, "va", "198.51.100.1/24")
	r.Up(t, "ra", "198.51.100.254/24")
	r.Up(t, "rb", "203.0.113.254/24")
	b.Up(t, "vb", "203.0.113.2/24")
	a.WaitUp(t, "va")
	r.WaitUp(t, "ra")
	r.WaitUp(t, "rb")
	b.WaitUp(t, "vb")
	a.Route(t, "203.0.113.0/24", "198.51.100.254")
	b.Route(t, "198.51.100.0/24", "203.0.113.254")
	r.Sysctl(t, "net.ipv4.ip_forward", "1")
	return a, r, b
}

// TestPathMTU runs a GRE tunnel across a router whose link to B is
// smaller than A's:
//
//	A va 198.51.100.1/24 — 198.51.100.254/24 R 203.0.113.254/24 — 203.0.113.2/24 B
//	  MTU 1500                                MTU 1400
//
// A's tunnel starts with MTU 1476 (its link, 1500, less 24). B's gretun
// gets -mtu 1476 too, so that B's TCP announces an MSS for 1476-byte
// packets and A's TCP sends them (with its own 1376 B would clamp the MSS
// and no packet would ever be too big). A TCP stream from A to B (DF set,
// as Linux TCP does) must complete intact through path-MTU discovery
// across two layers: R answers the 1500-byte outer packets with ICMP
// fragmentation needed (MTU 1400); A's raw socket reports it
// (rawsock OnPathMTU → Engine.PathMTU), the tunnel MTU becomes 1400 − 24 =
// 1376; the engine answers the inner packets that are now too big with
// ICMP fragmentation needed (MTU 1376) into A's TUN device, A's kernel
// caches the path MTU 1376 towards 192.0.2.2 and TCP sends smaller
// segments. Checked: the bytes (SHA-256), the route cache in A (mtu
// 1376), and A's counters tx_toobig and tx_icmp.
func TestPathMTU(t *testing.T) {
	needRoot(t)
	ipTool := testpkt.NetTool(t, "ip")
	a, _, b := routed(t, 1400)
	for _, n := range []*testpkt.NS{a, b} {
		// IPv4 only: keeps the kernel's IPv6 chatter off the tunnel.
		n.Sysctl(t, "net.ipv6.conf.default.disable_ipv6", "1")
	}

	pa := startDaemon(t, a, "gretun A", "-name", "gre1", "-mode", "gre",
		"-local", "198.51.100.1", "-remote", "203.0.113.2", "-addr", "192.0.2.1/30")
	pb := startDaemon(t, b, "gretun B", "-name", "gre1", "-mode", "gre",
		"-local", "203.0.113.2", "-remote", "198.51.100.1", "-addr", "192.0.2.2/30", "-mtu", "1476")
	for _, n := range []*testpkt.NS{a, b} {
		l, err := n.NL.LinkByName("gre1")
		require.NoError(t, err)
		require.Equal(t, 1476, l.Attrs().MTU, "TUN MTU in %s", n.Name)
	}

	t0 := time.Now()
	tcpStream(t, a, b, netip.MustParseAddrPort("192.0.2.2:7003"), 4<<20)
	t.Logf("4 MB over TCP with path-MTU discovery in %v", time.Since(t0))

	// The cached path MTU towards B's inner address in A.
	cached := 0
	if routes, err := a.NL.RouteGet(netip.MustParseAddr("192.0.2.2").AsSlice()); err == nil && len(routes) > 0 {
		cached = routes[0].MTU
		t.Logf("netlink RouteGet 192.0.2.2 in A: %v (MTU %d)", routes[0], routes[0].MTU)
	}
	out, err := a.Run(t, 5*time.Second, ipTool, "route", "get", "192.0.2.2")
	require.NoError(t, err, "ip route get:\n%s", out)
	t.Logf("ip route get 192.0.2.2 in A: %s", out)
	if m := regexp.MustCompile(`\bmtu (\d+)`).FindStringSubmatch(out); m != nil {
		v, _ := strconv.Atoi(m[1])
		if cached == 0 {
			cached = v
		}
		assert.Equal(t, cached, v, "netlink and ip agree")
	}
	assert.Equal(t, 1376, cached, "A's kernel learned the tunnel's path MTU (1400 - 24)")

	// And the route towards B's outer address: R's report, cached in A too.
	out, err = a.Run(t, 5*time.Second, ipTool, "route", "get", "203.0.113.2")
	require.NoError(t, err, "ip route get:\n%s", out)
	assert.Contains(t, out, "mtu 1400", "A's kernel cached R's report")

	pa.statsAtLeast(t, 1, 1)
	x := lastExtStats(t, pa.Stdout.String())
	t.Logf("A: %v", x)
	assert.NotZero(t, x["tx_toobig"], "A's engine refused inner packets larger than 1376")
	assert.NotZero(t, x["tx_icmp"], "and answered them with ICMP fragmentation needed")
	assert.Zero(t, x["tx_invalid"]+x["rx_frame"]+x["rx_dropped"]+x["no_tunnel"], "A: %v", x)
	rxB, _ := pb.statsAtLeast(t, 1, 1)
	assert.Zero(t, rxB[2], "B RX errors")
	assert.GreaterOrEqual(t, rxB[1], uint64(4<<20), "B received the stream")
	pa.stop(t, a, "gre1")
	pb.stop(t, b, "gre1")
}

// TestPathMTUForgedICMP runs two gretun daemons (GRE, key 5) across a
// router and sends ICMP "fragmentation needed" to A from the router's
// namespace, quoting an outer packet from A to B:
//   - forged: quoting a GRE header with key 6, which A never sent, and MTU
//     68: A's tunnel MTU does not move (one such packet took a tunnel to
//     68 for good), the report is counted as refused;
//   - genuine (key 5), MTU 1000: the MTU becomes 1000 less 28;
//   - genuine, MTU 68: floored at 552 (Linux's min_pmtu) less 28;
//   - and with -pmtu-expires 2s the tunnel MTU comes back to 1472.
func TestPathMTUForgedICMP(t *testing.T) {
	needRoot(t)
	a, r, b := routed(t, 1500)

	startDaemon(t, a, "gretun A", "-name", "gre1", "-mode", "gre", "-key", "5", "-pmtu-expires", "2s",
		"-local", "198.51.100.1", "-remote", "203.0.113.2", "-addr", "192.0.2.1/30", "-metrics", metricsAddr)
	startDaemon(t, b, "gretun B", "-name", "gre1", "-mode", "gre", "-key", "5",
		"-local", "203.0.113.2", "-remote", "198.51.100.1", "-addr", "192.0.2.2/30")
	c := nsHTTPClient(a)
	mtu := func() float64 { return scrape(t, c)[tunnelMetric("mtu", "gre1")] }
	waitMTU := func(want float64, msg string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for mtu() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: tunnel MTU %v, want %v", msg, mtu(), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitMTU(1472, "at start (1500 less IPv4, GRE and key)")

	// The quoted start of an outer packet from A to B: IPv4, GRE with a
	// key, an inner IPv4 header.
	quote := func(key uint32) []byte {
		q := testpkt.BuildIPv4(0, 20+8+20, testpkt.IPv4{TTL: 63, Protocol: 47,
			Src: netip.MustParseAddr("198.51.100.1"), Dst: netip.MustParseAddr("203.0.113.2")})
		binary.BigEndian.PutUint16(q[20:], 0x2000) // K
		binary.BigEndian.PutUint16(q[22:], 0x0800) // IPv4
		binary.BigEndian.PutUint32(q[24:], key)
		copy(q[28:], testpkt.BuildIPv4(0, 20, testpkt.IPv4{TTL: 64}))
		return q
	}
	// fragNeeded sends ICMP fragmentation needed (RFC 1191) from the
	// router's address towards A.
	fragNeeded := func(nextHop int, q []byte) {
		t.Helper()
		m, err := (&icmp.Message{Type: ipv4.ICMPTypeDestinationUnreachable, Code: 4, Body: &icmp.DstUnreach{Data: q}}).Marshal(nil)
		require.NoError(t, err)
		binary.BigEndian.PutUint16(m[6:], uint16(nextHop))
		m[2], m[3] = 0, 0
		binary.BigEndian.PutUint16(m[2:], checksum.Checksum(m))
		r.Do(t, func() {
			pc, err := net.ListenPacket("ip4:icmp", "198.51.100.254")
			require.NoError(t, err)
			defer pc.Close()
			_, err = pc.WriteTo(m, &net.IPAddr{IP: net.ParseIP("198.51.100.1")})
			require.NoError(t, err)
		})
	}
	refused := func() float64 { return scrape(t, c)["ipencap_engine_pathmtu_refused_total"] }

	fragNeeded(68, quote(6))
	deadline := time.Now().Add(5 * time.Second)
	for refused() < 1 {
		require.False(t, time.Now().After(deadline), "the forged report was never seen")
		time.Sleep(20 * time.Millisecond)
	}
	assert.Equal(t, 1472.0, mtu(), "a forged report (key 6) changes nothing")

	fragNeeded(1000, quote(5))
	waitMTU(1000-28, "a genuine report lowers it")
	fragNeeded(68, quote(5))
	waitMTU(552-28, "floored at 552 (min_pmtu)")
	waitMTU(1472, "expired after -pmtu-expires")
	assert.Equal(t, 1.0, refused())
}
