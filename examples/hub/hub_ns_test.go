//go:build linux

package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/outer"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/rawsock"
	"github.com/ipencap/ipencap/tunnel/tundev"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testpkt.RemoveBinaries()
	os.Exit(code)
}

// The outer addresses of the namespace test (documentation ones).
var hubOuter, farOuter = netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")

// hubMetrics is where the hub under test serves its metrics: the loopback
// of its own namespace.
const hubMetrics = "127.0.0.1:9108"

// hubAddr is the hub's k-th inner address, 10.255.0.k (in the namespaces
// only). The far ends of all the spokes share one namespace, where the
// replies of every spoke would go to the one hub address through one
// tunnel: so each spoke the test speaks through has its own hub address,
// and the far end's tunnel of that spoke routes it.
func hubAddr(k int) netip.Addr { return netip.AddrFrom4([4]byte{10, 255, 0, byte(k)}) }

// spokeAddr is the far end's address in spoke i's prefix.
func spokeAddr(i int) netip.Addr { return spokeNet(i).Addr().Next() }

// nsHTTPClient returns an HTTP client whose connections are dialled
// inside ns (see [testpkt.NS.DialContext]).
func nsHTTPClient(ns *testpkt.NS) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: ns.DialContext, DisableKeepAlives: true}}
}

// scrapeHub gets the hub's metrics and parses the samples.
func scrapeHub(t *testing.T, c *http.Client) map[string]float64 {
	t.Helper()
	resp, err := c.Get("http://" + hubMetrics + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		require.Positive(t, i, "sample %q", line)
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, "sample %q", line)
		m[line[:i]] = v
	}
	require.NoError(t, sc.Err())
	return m
}

func spokeMetric(name string, i int) string {
	return "ipencap_tunnel_" + name + `{tunnel="spoke` + strconv.Itoa(i) + `"}`
}

// farEnd is the other end of every spoke, in namespace b: one engine, one
// raw GRE socket, one TUN device as a shared overlay, and a tunnel per
// spoke (keys 1..n); the tunnels of the spokes in talk route a hub
// address each, the others nothing: they are there, and idle.
type farEnd struct {
	eng *tunnel.Engine
	t   map[int]*tunnel.Tunnel
}

func newFarEnd(t *testing.T, b *testpkt.NS, n int, talk map[int]int) *farEnd {
	t.Helper()
	f := &farEnd{eng: tunnel.NewEngine(tunnel.EngineConfig{}), t: map[int]*tunnel.Tunnel{}}
	t.Cleanup(func() { _ = f.eng.Close() })
	var u *rawsock.Conn
	var dev *tundev.Device
	var err error
	var addrs []netip.Prefix
	for i := range talk {
		addrs = append(addrs, netip.PrefixFrom(spokeAddr(i), 32))
	}
	b.Do(t, func() {
		u, err = rawsock.Open(rawsock.Config{Proto: outer.ProtoGRE, Local: farOuter})
		require.NoError(t, err)
		dev, err = tundev.Open(tundev.Config{Name: "far0", Addrs: addrs, Routes: []netip.Prefix{netip.MustParsePrefix("10.255.0.0/24")}})
		if err != nil {
			u.Close()
		}
		require.NoError(t, err)
	})
	require.NoError(t, f.eng.AddUnderlay(u, tunnel.UnderlayConfig{Name: "wire", Local: []netip.Addr{farOuter}}))
	require.NoError(t, f.eng.AddOverlay(dev, tunnel.OverlayConfig{Name: "far"}))
	for i := 1; i <= n; i++ {
		c := tunnel.Config{Name: "far" + strconv.Itoa(i), Mode: tunnel.ModeGRE, Local: farOuter, Remote: hubOuter, TTL: 64,
			IKey: tunnel.KeyOf(gre.Key(i)), OKey: tunnel.KeyOf(gre.Key(i)), Overlay: "far"}
		if k, ok := talk[i]; ok {
			c.Routes = []netip.Prefix{netip.PrefixFrom(hubAddr(k), 32)}
		}
		tn, err := f.eng.Add(c, nil)
		require.NoError(t, err)
		f.t[i] = tn
	}
	return f
}

// hubProc is the hub under test.
type hubProc struct {
	*testpkt.Proc
}

// signal sends sig and waits until the hub's stderr (or, for SIGUSR1,
// stdout) has grown by a line containing want.
func (p *hubProc) signal(t *testing.T, sig syscall.Signal, want string) string {
	t.Helper()
	out := &p.Stderr
	if sig == syscall.SIGUSR1 {
		out = &p.Stdout
	}
	before := strings.Count(out.String(), want)
	require.NoError(t, p.Cmd.Process.Signal(sig))
	require.Eventually(t, func() bool { return strings.Count(out.String(), want) > before }, 20*time.Second, 10*time.Millisecond,
		"no %q after %v", want, sig)
	return out.String()
}

// ping runs ping in a from hub address k to spoke i's address and returns
// how many replies came back.
func ping(t *testing.T, a *testpkt.NS, k, i, count int, interval string) int {
	t.Helper()
	out, err := a.Run(t, 30*time.Second, testpkt.NetTool(t, "ping"), "-n", "-q", "-c", strconv.Itoa(count), "-i", interval, "-W", "2",
		"-I", hubAddr(k).String(), spokeAddr(i).String())
	t.Logf("ping spoke %d: %s", i, lastLines(out, 2))
	_, rest, ok := strings.Cut(out, " packets transmitted, ")
	if !ok {
		t.Fatalf("ping: %v\n%s", err, out)
	}
	n, _ := strconv.Atoi(strings.Fields(rest)[0])
	return n
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(l[max(0, len(l)-n):], " | ")
}

// tcpThrough sends size random bytes over TCP from hub address k (in a) to
// spoke i's address (in b), whose server answers with the SHA-256 of what
// it read; it returns whether the sums agree.
func tcpThrough(t *testing.T, a, b *testpkt.NS, k, i, size int) {
	t.Helper()
	var ln net.Listener
	var err error
	b.Do(t, func() { ln, err = net.Listen("tcp", netip.AddrPortFrom(spokeAddr(i), 5001).String()) })
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		h := sha256.New()
		if _, err := io.Copy(h, c); err == nil {
			c.Write(h.Sum(nil))
		}
	}()
	data := make([]byte, size)
	rand.Read(data)
	var c net.Conn
	a.Do(t, func() {
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: hubAddr(k).AsSlice()}}
		c, err = d.Dial("tcp", netip.AddrPortFrom(spokeAddr(i), 5001).String())
	})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
	start := time.Now()
	_, err = c.Write(data)
	require.NoError(t, err)
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	got, err := io.ReadAll(c)
	require.NoError(t, err)
	want := sha256.Sum256(data)
	require.True(t, bytes.Equal(want[:], got), "the server's SHA-256 of %d bytes differs", size)
	t.Logf("TCP through spoke %d: %d bytes in %v, SHA-256 agrees", i, size, time.Since(start).Round(time.Millisecond))
}

// TestHub10000Spokes runs the hub binary in namespace a with 10 000
// spokes (all to one far address, keys 1..10000, a /24 each) and their
// far ends in namespace b (one engine, one TUN device, 10 000 tunnels):
// ping and a checksummed TCP transfer go through three of them, the hub's
// counters (scraped) are exact for those and zero for the 9 997 others; a
// SIGHUP removes one spoke and adds one while a ping runs through an
// unchanged spoke, which loses nothing and whose counters go on from
// where they were; a bad file is refused and changes nothing; SIGUSR1
// agrees with the scrape; SIGTERM removes the device and exits 0.
func TestHub10000Spokes(t *testing.T) {
	testpkt.NeedRoot(t, "TUN devices, raw sockets and network namespaces")
	testpkt.NeedTUN(t)
	testpkt.NetTool(t, "ping")
	const n = 10000
	// The spokes the test talks through, each with its hub address (k).
	const pingA, tcpS, pingB, added, removed = 1, 5000, n, n + 1, 2
	talk := map[int]int{pingA: 1, tcpS: 2, pingB: 3, added: 4}
	bin := testpkt.Binary(t, "hub")

	a, b := testpkt.NewPair(t, "va", []string{hubOuter.String() + "/24"}, "vb", []string{farOuter.String() + "/24"})
	ids := make([]int, 0, n)
	for i := 1; i <= n; i++ {
		ids = append(ids, i)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "hub.yaml")
	require.NoError(t, os.WriteFile(path, []byte(hubYAML(ids)), 0o644))

	start := time.Now()
	far := newFarEnd(t, b, n+1, talk)
	t.Logf("far end: %d tunnels in %v", n+1, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	args := []string{"-config", path, "-name", "hub0", "-metrics", hubMetrics}
	for k := 1; k <= 4; k++ {
		args = append(args, "-addr", hubAddr(k).String()+"/32")
	}
	p := &hubProc{testpkt.StartProc(t, a, "hub", bin, args...)}
	require.Eventually(t, func() bool {
		select {
		case <-p.Done:
			t.Fatalf("hub exited: %v\n%s", p.WaitErr, p.Stderr.String())
		default:
		}
		return strings.Contains(p.Stdout.String(), "\n")
	}, 30*time.Second, 10*time.Millisecond, "hub did not start: %s", p.Stderr.String())
	assert.Equal(t, "hub0: 10000 spokes, gre local 198.51.100.1\n", p.Stdout.String())
	t.Logf("hub up with %d spokes in %v (build excluded)", n, time.Since(start).Round(time.Millisecond))

	c := nsHTTPClient(a)
	// Ping through spokes 1 and 10000, TCP through 5000.
	assert.Equal(t, 5, ping(t, a, talk[pingA], pingA, 5, "0.1"))
	assert.Equal(t, 5, ping(t, a, talk[pingB], pingB, 5, "0.1"))
	tcpThrough(t, a, b, talk[tcpS], tcpS, 300<<10)

	// The counters: exact for the spokes in talk (ping: 5 echo requests
	// and 5 replies of 84 bytes; TCP: what the far end counted the other
	// way), zero for every other.
	start = time.Now()
	var m map[string]float64
	ts := far.t[tcpS]
	require.Eventually(t, func() bool {
		m = scrapeHub(t, c)
		s := ts.Stats()
		return m[spokeMetric("tx_packets_total", tcpS)] == float64(s.RxPackets) && m[spokeMetric("rx_packets_total", tcpS)] == float64(s.TxPackets) &&
			m[spokeMetric("rx_packets_total", pingA)] == 5 && m[spokeMetric("rx_packets_total", pingB)] == 5
	}, 20*time.Second, 100*time.Millisecond, "hub and far end agree")
	t.Logf("scrape of %d samples in %v", len(m), time.Since(start).Round(time.Millisecond))
	for _, i := range []int{pingA, pingB} {
		for name, want := range map[string]float64{"tx_packets_total": 5, "rx_packets_total": 5, "tx_bytes_total": 5 * 84, "rx_bytes_total": 5 * 84} {
			assert.Equal(t, want, m[spokeMetric(name, i)], "spoke %d %s", i, name)
		}
	}
	s := ts.Stats()
	assert.Equal(t, float64(s.RxBytes), m[spokeMetric("tx_bytes_total", tcpS)])
	assert.Equal(t, float64(s.TxBytes), m[spokeMetric("rx_bytes_total", tcpS)])
	assert.GreaterOrEqual(t, m[spokeMetric("tx_bytes_total", tcpS)], float64(300<<10))
	t.Logf("spoke %d: tx %v packets %v bytes, rx %v packets %v bytes", tcpS, m[spokeMetric("tx_packets_total", tcpS)],
		m[spokeMetric("tx_bytes_total", tcpS)], m[spokeMetric("rx_packets_total", tcpS)], m[spokeMetric("rx_bytes_total", tcpS)])
	idle := 0
	for i := 1; i <= n; i++ {
		for _, tc := range tunnelCounters {
			v, ok := m[spokeMetric(tc.name, i)]
			require.True(t, ok, "%s in the scrape", spokeMetric(tc.name, i))
			if _, busy := talk[i]; !busy || strings.Contains(tc.name, "error") || strings.Contains(tc.name, "refused") || strings.Contains(tc.name, "dropped") {
				require.Zero(t, v, "%s", spokeMetric(tc.name, i))
			}
		}
		if _, busy := talk[i]; !busy {
			idle++
		}
	}
	assert.Equal(t, n-3, idle)
	assert.Equal(t, float64(n), m["ipencap_hub_tunnels"])
	assert.Zero(t, m["ipencap_engine_rx_no_tunnel_total"])

	// A bad file is refused and changes nothing.
	require.NoError(t, os.WriteFile(path, []byte(hubYAML(ids)+spokeYAML(n+1, spokeNet(1).String())), 0o644))
	errs := p.signal(t, syscall.SIGHUP, "reload refused")
	assert.Contains(t, lastLines(errs, 1), `err="`+path+`:40008: spoke \"spoke10001\": routes 10.0.1.0/24: overlaps 10.0.1.0/24 of spoke \"spoke1\" (line 8)"`)

	// Reload: spoke 2 removed, 10001 added, while ping runs through
	// spoke 1: 40 echo requests, 50 ms apart.
	t1 := m[spokeMetric("tx_packets_total", pingA)]
	next := append(ids[:removed-1:removed-1], ids[removed:]...)
	next = append(next, added)
	tmp := path + ".new"
	require.NoError(t, os.WriteFile(tmp, []byte(hubYAML(next)), 0o644))
	require.NoError(t, os.Rename(tmp, path))
	got := make(chan int, 1)
	go func() { got <- ping(t, a, talk[pingA], pingA, 40, "0.05") }()
	time.Sleep(500 * time.Millisecond)
	start = time.Now()
	out := p.signal(t, syscall.SIGHUP, "msg=reloaded")
	t.Logf("reload in %v: %s", time.Since(start).Round(time.Millisecond), lastLines(out, 1))
	assert.Contains(t, lastLines(out, 1), `added=1 removed=1 changed=0 unchanged=9999 routes_added=1 routes_deleted=1 names="+spoke10001 -spoke2"`)
	assert.Equal(t, 40, <-got, "no echo lost through the unchanged spoke during the reload")
	assert.Equal(t, 3, ping(t, a, talk[added], added, 3, "0.1"), "through the added spoke")
	require.Eventually(t, func() bool {
		m = scrapeHub(t, c)
		return m[spokeMetric("rx_packets_total", added)] == 3 && m[spokeMetric("rx_packets_total", pingA)] == t1+40
	}, 20*time.Second, 100*time.Millisecond)
	assert.Equal(t, t1+40, m[spokeMetric("tx_packets_total", pingA)], "spoke 1's counters went on from %v", t1)
	assert.Equal(t, (t1+40)*84, m[spokeMetric("tx_bytes_total", pingA)])
	assert.Equal(t, 3.0, m[spokeMetric("tx_packets_total", added)])
	assert.NotContains(t, m, spokeMetric("tx_packets_total", removed), "the removed spoke's series are gone")
	assert.Equal(t, float64(n), m["ipencap_hub_tunnels"])
	assert.Equal(t, 2.0, m["ipencap_hub_reloads_total"])
	assert.Equal(t, 1.0, m["ipencap_hub_reload_failures_total"])
	// The device routes followed: none to spoke 2 any more, one to 10001.
	_, err := a.NL.RouteGet(spokeAddr(removed).AsSlice())
	assert.Error(t, err, "no route to the removed spoke")
	r, err := a.NL.RouteGet(spokeAddr(added).AsSlice())
	require.NoError(t, err)
	l, err := a.NL.LinkByName("hub0")
	require.NoError(t, err)
	assert.Equal(t, l.Attrs().Index, r[0].LinkIndex, "the added spoke routed into hub0")

	// SIGUSR1 agrees with the scrape.
	stats := p.signal(t, syscall.SIGUSR1, "\nengine ")
	line := "spoke spoke1 rx_packets 45 rx_bytes 3780 rx_errors 0 rx_source_refused 0 rx_dropped 0 tx_packets 45 tx_bytes 3780 tx_errors 0 tx_no_bufs 0\n"
	assert.Contains(t, stats, line)
	assert.Equal(t, n, strings.Count(stats, "\nspoke "), "a line per spoke")

	// SIGTERM: exit 0, the device gone.
	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.Done:
	case <-time.After(20 * time.Second):
		t.Fatal("hub did not exit on SIGTERM")
	}
	require.NoError(t, p.WaitErr, "exit status 0")
	_, err = a.NL.LinkByName("hub0")
	assert.Error(t, err, "the device is gone")
}
