//go:build linux

package main

import (
	"net/netip"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/internal/testpkt"
)

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
	a, r, b := testpkt.NewNS(t), testpkt.NewNS(t), testpkt.NewNS(t)
	testpkt.Veth(t, a, "va", r, "ra", 1500)
	testpkt.Veth(t, r, "rb", b, "vb", 1400)
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
