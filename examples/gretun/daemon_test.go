//go:build linux

package main

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"github.com/ipencap/ipencap/internal/testpkt"
)

// The underlay between the two namespaces, and the inner addresses.
var (
	wireA4, wireB4   = netip.MustParsePrefix("198.51.100.1/24"), netip.MustParsePrefix("198.51.100.2/24")
	wireA6, wireB6   = netip.MustParsePrefix("2001:db8:100::1/64"), netip.MustParsePrefix("2001:db8:100::2/64")
	innerA4, innerB4 = netip.MustParsePrefix("192.0.2.1/30"), netip.MustParsePrefix("192.0.2.2/30")
	innerA6, innerB6 = netip.MustParsePrefix("2001:db8:2::1/64"), netip.MustParsePrefix("2001:db8:2::2/64")
)

func TestMain(m *testing.M) {
	code := m.Run()
	testpkt.RemoveBinaries()
	os.Exit(code)
}

// gretunBinary builds the program once per test run.
func gretunBinary(t *testing.T) string { return testpkt.Binary(t, "gretun") }

func needRoot(t *testing.T) {
	t.Helper()
	testpkt.NeedRoot(t, "TUN devices, raw sockets and network namespaces")
	testpkt.NeedTUN(t)
}

// newWire creates two network namespaces joined by a veth pair, va in a
// with wireA4 and wireA6, vb in b with wireB4 and wireB6, deleted when the
// test ends.
func newWire(t *testing.T) (a, b *testpkt.NS) {
	t.Helper()
	needRoot(t)
	return testpkt.NewPair(t, "va", []string{wireA4.String(), wireA6.String()},
		"vb", []string{wireB4.String(), wireB6.String()})
}

// daemonProc is a gretun process.
type daemonProc struct {
	*testpkt.Proc
	name, start string // its name in messages, its first line
}

// startDaemon runs gretun in ns with args, waits for its first line and
// kills it (by PID) when the test ends if it is still running.
func startDaemon(t *testing.T, ns *testpkt.NS, name string, args ...string) *daemonProc {
	t.Helper()
	p := &daemonProc{Proc: testpkt.StartProc(t, ns, name, gretunBinary(t), args...), name: name}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if out := p.Stdout.String(); strings.Contains(out, "\n") {
			p.start = out[:strings.IndexByte(out, '\n')]
			return p
		}
		select {
		case <-p.Done:
			t.Fatalf("%s exited at start: %v\n%s", name, p.WaitErr, p.Stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		require.True(t, time.Now().Before(deadline), "%s did not start: %s", name, p.Stderr.String())
	}
}

// stats sends SIGUSR1 and returns the counters the daemon prints: the RX
// and TX lines of `ip -s tunnel show`.
func (p *daemonProc) stats(t *testing.T) (rx, tx []uint64) {
	t.Helper()
	before := strings.Count(p.Stdout.String(), "    RX: ")
	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGUSR1))
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(p.Stdout.String(), "\n    rx_frame ") <= before {
		require.True(t, time.Now().Before(deadline), "%s printed no statistics", p.name)
		time.Sleep(10 * time.Millisecond)
	}
	return lastStats(t, p.Stdout.String())
}

// statsAtLeast asks for the counters (SIGUSR1) until RX and TX packets
// reach rx and tx: the engine counts a batch after the write to the TUN
// device returns, a moment after the kernel has delivered its packets.
func (p *daemonProc) statsAtLeast(t *testing.T, rx, tx uint64) (rxs, txs []uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		rxs, txs = p.stats(t)
		if (rxs[0] >= rx && txs[0] >= tx) || time.Now().After(deadline) {
			return rxs, txs
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var statsRE = regexp.MustCompile(`(?m)^    RX: Packets +Bytes +Errors +CsumErrs +OutOfSeq +Mcasts\n +([0-9 ]+)\n    TX: Packets +Bytes +Errors +DeadLoop +NoRoute +NoBufs\n +([0-9 ]+)\n    rx_frame `)

func lastStats(t *testing.T, out string) (rx, tx []uint64) {
	t.Helper()
	m := statsRE.FindAllStringSubmatch(out, -1)
	require.NotEmpty(t, m, "no statistics in %q", out)
	nums := func(s string) []uint64 {
		var v []uint64
		for _, f := range strings.Fields(s) {
			n, err := strconv.ParseUint(f, 10, 64)
			require.NoError(t, err)
			v = append(v, n)
		}
		require.Len(t, v, 6)
		return v
	}
	last := m[len(m)-1]
	return nums(last[1]), nums(last[2])
}

// stop sends SIGTERM and checks that the daemon exits with status 0,
// printing its counters, and that its device is gone.
func (p *daemonProc) stop(t *testing.T, ns *testpkt.NS, dev string) {
	t.Helper()
	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.Done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not exit on SIGTERM", p.name)
	}
	require.NoError(t, p.WaitErr, "%s: %s", p.name, p.Stderr.String())
	assert.Equal(t, 0, p.Cmd.ProcessState.ExitCode())
	lastStats(t, p.Stdout.String())
	_, err := ns.NL.LinkByName(dev)
	var nf netlink.LinkNotFoundError
	assert.ErrorAs(t, err, &nf, "%s removed its device", p.name)
}

// udpThrough sends n datagrams from a to dst in b and checks they all
// arrive, intact.
func udpThrough(t *testing.T, a, b *testpkt.NS, dst netip.AddrPort, n, maxSize int) {
	t.Helper()
	var rc, sc *net.UDPConn
	var err error
	b.Do(t, func() { rc, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(dst)) })
	require.NoError(t, err)
	defer rc.Close()
	a.Do(t, func() { sc, err = net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst)) })
	require.NoError(t, err)
	defer sc.Close()
	var want [][]byte
	for i := range n {
		m := make([]byte, 1+i*maxSize/n)
		rand.Read(m)
		want = append(want, m)
		_, err := sc.Write(m)
		require.NoError(t, err)
	}
	require.NoError(t, rc.SetReadDeadline(time.Now().Add(5*time.Second)))
	buf := make([]byte, 65536)
	for i := range n {
		k, err := rc.Read(buf)
		require.NoError(t, err, "datagram %d of %d", i, n)
		assert.Equal(t, want[i], buf[:k], "datagram %d", i)
	}
}

// tcpThrough sends size bytes over TCP from a to dst in b.
func tcpThrough(t *testing.T, a, b *testpkt.NS, dst netip.AddrPort, size int) {
	t.Helper()
	var ln *net.TCPListener
	var err error
	b.Do(t, func() { ln, err = net.ListenTCP("tcp", net.TCPAddrFromAddrPort(dst)) })
	require.NoError(t, err)
	defer ln.Close()
	want := make([]byte, size)
	rand.Read(want)
	got := make(chan []byte, 1)
	go func() {
		defer close(got)
		c, err := ln.AcceptTCP()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		b, _ := io.ReadAll(c)
		got <- b
	}()
	var c net.Conn
	a.Do(t, func() { c, err = net.DialTimeout("tcp", dst.String(), 5*time.Second) })
	require.NoError(t, err)
	c.SetDeadline(time.Now().Add(20 * time.Second))
	_, err = c.Write(want)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	b2 := <-got
	require.Equal(t, len(want), len(b2), "bytes received")
	require.True(t, bytes.Equal(want, b2), "bytes differ")
}

// TestDaemonGRE runs two daemons in two namespaces, GRE with key, checksum
// and sequence numbers, and sends UDP datagrams and 1 MB over TCP through
// them.
func TestDaemonGRE(t *testing.T) {
	a, b := newWire(t)
	opts := []string{"-mode", "gre", "-key", "5", "-csum", "-seq", "-ttl", "64"}
	pa := startDaemon(t, a, "gretun A", append([]string{"-name", "gre1", "-local", "198.51.100.1", "-remote", "198.51.100.2",
		"-addr", innerA4.String(), "-addr", innerA6.String()}, opts...)...)
	pb := startDaemon(t, b, "gretun B", append([]string{"-name", "gre1", "-local", "198.51.100.2", "-remote", "198.51.100.1",
		"-addr", innerB4.String(), "-addr", innerB6.String(), "-stats", "100ms"}, opts...)...)
	assert.Equal(t, "gre1: gre/ip remote 198.51.100.2 local 198.51.100.1 ttl 64 key 5 icsum ocsum iseq oseq", pa.start)

	// The TUN device has the tunnel MTU: 1500 less 20 (IPv4), 4 (GRE)
	// and 4 each for checksum, key and sequence number.
	l, err := a.NL.LinkByName("gre1")
	require.NoError(t, err)
	assert.Equal(t, 1464, l.Attrs().MTU)

	udpThrough(t, a, b, netip.AddrPortFrom(innerB4.Addr(), 7000), 50, 1400)
	udpThrough(t, a, b, netip.AddrPortFrom(innerB6.Addr(), 7000), 20, 1400)
	t0 := time.Now()
	tcpThrough(t, a, b, netip.AddrPortFrom(innerB4.Addr(), 7001), 1<<20)
	t.Logf("1 MB over TCP in %v", time.Since(t0))

	// B prints its counters every 100 ms on its own; A only on SIGUSR1.
	require.Eventually(t, func() bool { return strings.Count(pb.Stdout.String(), "    RX: ") >= 2 },
		5*time.Second, 20*time.Millisecond, "B prints its counters every -stats interval")
	assert.NotContains(t, pa.Stdout.String(), "    RX: ")

	for _, p := range []*daemonProc{pa, pb} {
		rx, tx := p.statsAtLeast(t, 1, 1)
		t.Logf("%s: RX %v TX %v", p.name, rx, tx)
		assert.NotZero(t, rx[0], "%s RX packets", p.name)
		assert.NotZero(t, tx[0], "%s TX packets", p.name)
		assert.Zero(t, rx[2], "%s RX errors", p.name)
		assert.Zero(t, tx[2], "%s TX errors", p.name)
	}
	rxB, _ := lastStats(t, pb.Stdout.String())
	assert.Greater(t, rxB[1], uint64(1<<20), "B received the megabyte")
	pa.stop(t, a, "gre1")
	pb.stop(t, b, "gre1")
}

// TestDaemonModes sends datagrams through a tunnel of each other mode.
func TestDaemonModes(t *testing.T) {
	needRoot(t)
	for _, tt := range []struct {
		mode    string
		outer6  bool
		inner6  bool
		extra   []string
		noLocal bool // local any: the source comes from the route to the remote
		dev     bool // -dev va / -dev vb
		wantMTU int
	}{
		{mode: "ipip", wantMTU: 1480},
		{mode: "ipip", noLocal: true, wantMTU: 1480},
		{mode: "gre", dev: true, extra: []string{"-mtu", "1400"}, wantMTU: 1400},
		{mode: "sit", inner6: true, wantMTU: 1480},
		{mode: "mobile", wantMTU: 1488},
		{mode: "gre", inner6: true, extra: []string{"-ikey", "1.2.3.4", "-okey", "1.2.3.5"}, wantMTU: 1472},
		{mode: "ip6gre", outer6: true, extra: []string{"-key", "7"}, wantMTU: 1452},
		{mode: "ip6ip6", outer6: true, inner6: true, wantMTU: 1460},
		{mode: "ipip6", outer6: true, wantMTU: 1460},
		{mode: "gre-in-udp", extra: []string{"-csum"}, wantMTU: 1464},
		{mode: "gre-in-udp", outer6: true, extra: []string{"-port", "4800", "-lport", "4800"}, wantMTU: 1448},
	} {
		name := tt.mode
		if tt.outer6 {
			name += "/outer6"
		}
		if tt.inner6 {
			name += "/inner6"
		}
		if tt.noLocal {
			name += "/local_any"
		}
		if tt.dev {
			name += "/dev"
		}
		t.Run(name, func(t *testing.T) {
			a, b := newWire(t)
			wa, wb, ia, ib := wireA4, wireB4, innerA4, innerB4
			if tt.outer6 {
				wa, wb = wireA6, wireB6
			}
			if tt.inner6 {
				ia, ib = innerA6, innerB6
			}
			ikey, okey := "", ""
			for i, e := range tt.extra { // a's ikey is b's okey
				switch e {
				case "-ikey":
					ikey = tt.extra[i+1]
				case "-okey":
					okey = tt.extra[i+1]
				}
			}
			extraB := make([]string, len(tt.extra))
			for i, e := range tt.extra {
				switch {
				case i > 0 && tt.extra[i-1] == "-ikey":
					e = okey
				case i > 0 && tt.extra[i-1] == "-okey":
					e = ikey
				}
				extraB[i] = e
			}
			argsA := []string{"-name", "tnl", "-mode", tt.mode, "-remote", wb.Addr().String(), "-addr", ia.String()}
			argsB := []string{"-name", "tnl", "-mode", tt.mode, "-remote", wa.Addr().String(), "-addr", ib.String()}
			if !tt.noLocal {
				argsA = append(argsA, "-local", wa.Addr().String())
				argsB = append(argsB, "-local", wb.Addr().String())
			}
			if tt.dev {
				argsA = append(argsA, "-dev", "va")
				argsB = append(argsB, "-dev", "vb")
			}
			pa := startDaemon(t, a, "gretun A", append(argsA, tt.extra...)...)
			pb := startDaemon(t, b, "gretun B", append(argsB, extraB...)...)
			t.Log(pa.start)
			l, err := a.NL.LinkByName("tnl")
			require.NoError(t, err)
			assert.Equal(t, tt.wantMTU, l.Attrs().MTU, "TUN MTU = tunnel MTU")

			udpThrough(t, a, b, netip.AddrPortFrom(ib.Addr(), 7000), 10, 1200)
			udpThrough(t, b, a, netip.AddrPortFrom(ia.Addr(), 7000), 10, 1200)
			rx, tx := pa.statsAtLeast(t, 10, 10)
			assert.GreaterOrEqual(t, rx[0], uint64(10), "A RX packets (and what the kernel sends on its own, MLD say)")
			assert.GreaterOrEqual(t, tx[0], uint64(10), "A TX packets")
			pa.stop(t, a, "tnl")
			pb.stop(t, b, "tnl")
		})
	}
}

// TestDaemonKeylessWarning starts gretun in a namespace whose only
// address is a documentation (public) one, and checks the warning a
// keyless GRE tunnel logs at start: one line at level Warn, before the
// tunnel is added; none for a keyed tunnel or a mode without GRE.
func TestDaemonKeylessWarning(t *testing.T) {
	const warning = "keyless GRE tunnel on a public address: any host can inject packets; set -key"
	for _, tt := range []struct {
		name  string
		args  []string
		local string // the address in the warning, "" for no warning
	}{
		{"gre", []string{"-mode", "gre", "-local", "198.51.100.1"}, "198.51.100.1"},
		{"gre local any", []string{"-mode", "gre"}, "198.51.100.1"}, // the namespace's addresses: lo and va's
		{"gre okey", []string{"-mode", "gre", "-local", "198.51.100.1", "-okey", "5"}, "198.51.100.1"},
		{"gre-in-udp", []string{"-mode", "gre-in-udp", "-local", "198.51.100.1"}, "198.51.100.1"},
		{"gre key", []string{"-mode", "gre", "-local", "198.51.100.1", "-key", "5"}, ""},
		{"gre ikey", []string{"-mode", "gre", "-ikey", "5"}, ""},
		{"ipip", []string{"-mode", "ipip", "-local", "198.51.100.1"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := newWire(t)
			p := startDaemon(t, a, "gretun", append([]string{"-name", "gre1", "-remote", "198.51.100.2",
				"-addr", innerA4.String(), "-log", "json"}, tt.args...)...)
			added := waitLog(t, p, "tunnel added", 1) // logged after the warning
			if tt.local == "" {
				assert.Zero(t, countLogs(t, p, "keyless"), "%s", p.Stderr.String())
			} else {
				w := waitLog(t, p, warning, 1)
				assert.Equal(t, 1, countLogs(t, p, "keyless"), "%s", p.Stderr.String())
				assert.Equal(t, "WARN", w.str("level"))
				assert.Equal(t, "gre1", w.str("tunnel"))
				assert.Equal(t, tt.local, w.str("local"))
				assert.False(t, added.time(t).Before(w.time(t)), "the warning comes at start")
			}
			p.stop(t, a, "gre1")
		})
	}
}
