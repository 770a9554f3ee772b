//go:build linux

package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/internal/testpkt"
)

// e2eBytes is what TestEndToEnd sends over TCP through each tunnel.
const e2eBytes = 10 << 20

// TestEndToEnd runs gretun in two namespaces for every mode (gretap over
// TAP devices, the others over TUN devices) and proves,
// with the kernel's own tools and sockets on both ends, that the tunnel
// carries traffic: iputils ping crosses it (ICMP echo and reply, IPv6 for
// sit and ip6ip6), 10 MB of TCP from A to B arrive intact (SHA-256 of a
// deterministic stream), and the daemons' counters (SIGUSR1) agree: A sent
// and B received at least as many packets as the TCP stream needs
// segments (10 MB / tunnel MTU), B received at least the 10 MB, and no
// side counted an error.
func TestEndToEnd(t *testing.T) {
	needRoot(t)
	ping := testpkt.NetTool(t, "ping")
	for _, tt := range []struct {
		name   string
		mode   string
		outer6 bool // underlay: IPv6 (wireA6/wireB6), else IPv4
		inner6 bool // overlay: IPv6 (innerA6/innerB6), else IPv4
		extra  []string
		v4only bool // the mode carries IPv4 only
	}{
		{name: "gre/key-csum-seq", mode: "gre", extra: []string{"-key", "5", "-csum", "-seq"}},
		{name: "ipip", mode: "ipip", v4only: true},
		{name: "sit", mode: "sit", inner6: true},
		{name: "ip6ip6", mode: "ip6ip6", outer6: true, inner6: true},
		{name: "ipip6", mode: "ipip6", outer6: true, v4only: true},
		{name: "ip6gre", mode: "ip6gre", outer6: true},
		{name: "mobile", mode: "mobile", v4only: true},
		{name: "gre-in-udp", mode: "gre-in-udp"},
		// Ethernet over GRE: TAP devices, ARP through the tunnel.
		{name: "gretap", mode: "gretap", extra: []string{"-key", "6"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t0 := time.Now()
			a, b := newWire(t)
			wa, wb, ia, ib := wireA4, wireB4, innerA4, innerB4
			if tt.outer6 {
				wa, wb = wireA6, wireB6
			}
			if tt.inner6 {
				ia, ib = innerA6, innerB6
			}
			args := func(local, remote, inner netip.Prefix) []string {
				return append([]string{"-name", "tnl", "-mode", tt.mode, "-local", local.Addr().String(),
					"-remote", remote.Addr().String(), "-addr", inner.String()}, tt.extra...)
			}
			if tt.v4only {
				// The TUN device would get an IPv6 link-local address,
				// and the kernel would send MLD reports and router
				// solicitations that an IPv4-only mode refuses (counted
				// in tx_invalid, as Linux's ipip device has no IPv6 at
				// all): no IPv6 on the devices made from now on (not the
				// veth), so that every error counter must stay zero.
				a.Sysctl(t, "net.ipv6.conf.default.disable_ipv6", "1")
				b.Sysctl(t, "net.ipv6.conf.default.disable_ipv6", "1")
			}
			pa := startDaemon(t, a, "gretun A", args(wa, wb, ia)...)
			pb := startDaemon(t, b, "gretun B", args(wb, wa, ib)...)
			t.Log(pa.start)
			l, err := a.NL.LinkByName("tnl")
			require.NoError(t, err)
			mtu := l.Attrs().MTU

			pingThrough(t, a, ping, ib.Addr(), 3)
			rxA0, txA0 := pa.statsAtLeast(t, 3, 3) // counters move when a batch write returns
			rxB0, _ := pb.statsAtLeast(t, 3, 3)
			assert.GreaterOrEqual(t, txA0[0], uint64(3), "A sent the echo requests")
			assert.GreaterOrEqual(t, rxA0[0], uint64(3), "A received the echo replies")
			// A packet that reaches a daemon between its socket opening and
			// its tunnel being added (the other side's kernel talks first)
			// counts as no_tunnel: what matters is that none come later.
			noTunnel0 := map[*daemonProc]uint64{pa: lastExtStats(t, pa.Stdout.String())["no_tunnel"],
				pb: lastExtStats(t, pb.Stdout.String())["no_tunnel"]}

			t1 := time.Now()
			tcpStream(t, a, b, netip.AddrPortFrom(ib.Addr(), 7002), e2eBytes)
			elapsed := time.Since(t1)

			minSegs := uint64(e2eBytes / mtu)
			rxB, txB := pb.statsAtLeast(t, rxB0[0]+minSegs, 0)
			rxA, txA := pa.statsAtLeast(t, 0, txA0[0]+minSegs)
			t.Logf("MTU %d, 10 MB over TCP in %v; A: RX %v TX %v; B: RX %v TX %v", mtu, elapsed, rxA, txA, rxB, txB)
			assert.GreaterOrEqual(t, txA[0]-txA0[0], minSegs, "A's TX packets for the TCP stream (10 MB / MTU %d)", mtu)
			assert.GreaterOrEqual(t, rxB[0]-rxB0[0], minSegs, "B's RX packets for the TCP stream")
			assert.GreaterOrEqual(t, rxB[1]-rxB0[1], uint64(e2eBytes), "B's RX bytes for the TCP stream")
			assert.NotZero(t, rxA[0]-rxA0[0], "A received the ACKs")
			for _, s := range []struct {
				name   string
				rx, tx []uint64
			}{{"A", rxA, txA}, {"B", rxB, txB}} {
				assert.Zero(t, s.rx[2], "%s RX errors", s.name)
				assert.Zero(t, s.tx[2], "%s TX errors", s.name)
			}
			for _, p := range []*daemonProc{pa, pb} {
				x := lastExtStats(t, p.Stdout.String())
				assert.Zero(t, x["rx_frame"]+x["rx_dropped"]+x["tx_invalid"]+x["tx_toobig"]+x["no_tunnel"]-noTunnel0[p],
					"%s: %v (no_tunnel before the TCP stream: %d)", p.name, x, noTunnel0[p])
			}
			if lost := int64(txA[0]) - int64(rxB[0]); lost > 10 {
				// TCP repaired the loss; worth a line all the same.
				// gre-in-udp loses about one packet in seven here: the
				// UDP underlay keeps the default SO_RCVBUF (the raw
				// socket sets 4 MiB) and B's socket overflows (Udp
				// RcvbufErrors in B's /proc/net/snmp).
				t.Logf("A sent %d packets more than B received", lost)
			}
			pa.stop(t, a, "tnl")
			pb.stop(t, b, "tnl")
			t.Logf("%s in %v", tt.name, time.Since(t0))
		})
	}
}

// pingThrough runs iputils ping in ns: count echo requests to dst, each
// answered.
func pingThrough(t *testing.T, ns *testpkt.NS, ping string, dst netip.Addr, count int) {
	t.Helper()
	args := []string{"-c", strconv.Itoa(count), "-i", "0.05", "-W", "1", "-n", "-q"}
	if dst.Is6() {
		args = append(args, "-6")
	}
	out, err := ns.Run(t, 10*time.Second, ping, append(args, dst.String())...)
	require.NoError(t, err, "ping %v in %s:\n%s", dst, ns.Name, out)
	want := fmt.Sprintf("%d packets transmitted, %d received", count, count)
	require.Contains(t, out, want, "ping %v", dst)
}

// stream returns size bytes of a deterministic pseudo-random stream.
func stream(size int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte([]byte("ipencap gretun end-to-end stream"))), size)
}

// tcpStream sends size bytes of stream from a to dst in b over TCP (both
// sockets made inside their namespaces) and checks that B receives exactly
// them: the count and the SHA-256. It gives the transfer 20 s.
func tcpStream(t *testing.T, a, b *testpkt.NS, dst netip.AddrPort, size int64) {
	t.Helper()
	want := sha256.New()
	_, err := io.Copy(want, stream(size))
	require.NoError(t, err)

	var ln *net.TCPListener
	b.Do(t, func() { ln, err = net.ListenTCP("tcp", net.TCPAddrFromAddrPort(dst)) })
	require.NoError(t, err)
	defer ln.Close()
	type result struct {
		n   int64
		sum []byte
		err error
	}
	got := make(chan result, 1)
	deadline := time.Now().Add(20 * time.Second)
	ln.SetDeadline(deadline)
	go func() {
		c, err := ln.AcceptTCP()
		if err != nil {
			got <- result{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(deadline)
		h := sha256.New()
		n, err := io.Copy(h, c)
		got <- result{n, h.Sum(nil), err}
	}()
	var c *net.TCPConn
	a.Do(t, func() {
		d := net.Dialer{Deadline: deadline}
		var nc net.Conn
		if nc, err = d.Dial("tcp", dst.String()); err == nil {
			c = nc.(*net.TCPConn)
		}
	})
	require.NoError(t, err)
	defer c.Close()
	c.SetDeadline(deadline)
	n, err := io.Copy(c, stream(size))
	require.NoError(t, err, "sending, after %d bytes", n)
	require.NoError(t, c.CloseWrite())
	r := <-got
	require.NoError(t, r.err, "receiving, after %d bytes", r.n)
	require.Equal(t, size, r.n, "bytes received")
	require.Equal(t, want.Sum(nil), r.sum, "SHA-256 of the bytes received")
}

var extStatsRE = regexp.MustCompile(`(?m)^    (rx_frame .*)$`)

// lastExtStats returns the third line of the last counters the daemon
// printed, name to value: rx_frame rx_dropped rx_ecn_alarms tx_toobig
// tx_invalid tx_icmp tx_fragmented no_tunnel.
func lastExtStats(t *testing.T, out string) map[string]uint64 {
	t.Helper()
	m := extStatsRE.FindAllStringSubmatch(out, -1)
	require.NotEmpty(t, m, "no statistics in %q", out)
	f := strings.Fields(m[len(m)-1][1])
	require.Len(t, f, 16, "third statistics line %q", m[len(m)-1][1])
	x := map[string]uint64{}
	for i := 0; i < len(f); i += 2 {
		v, err := strconv.ParseUint(f[i+1], 10, 64)
		require.NoError(t, err, "%s in %q", f[i], m[len(m)-1][1])
		x[f[i]] = v
	}
	return x
}
