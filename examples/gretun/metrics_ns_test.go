//go:build linux

package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/internal/testpkt"
)

// metricsAddr is where the daemons under test serve their metrics: the
// loopback of their own namespace, so a fixed port clashes with nothing.
const metricsAddr = "127.0.0.1:9108"

// nsHTTPClient returns an HTTP client whose connections are made inside
// ns (see [testpkt.NS.DialContext]), while each socket stays in ns for
// its life.
func nsHTTPClient(ns *testpkt.NS) *http.Client {
	return &http.Client{Timeout: 5 * time.Second,
		Transport: &http.Transport{DialContext: ns.DialContext, DisableKeepAlives: true}}
}

// scrape gets http://metricsAddr/metrics inside ns and parses it.
func scrape(t *testing.T, c *http.Client) map[string]float64 {
	t.Helper()
	resp, err := c.Get("http://" + metricsAddr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4"), resp.Header.Get("Content-Type"))
	return parseMetrics(t, string(body))
}

// TestDaemonMetrics runs two daemons, A with -metrics on the loopback of
// its namespace, sends datagrams both ways through the tunnel and scrapes
// A from inside its namespace: every counter is there, the packet and byte
// counters move with the traffic, the errors stay at zero and the line is
// up. The host's network never sees the endpoint.
func TestDaemonMetrics(t *testing.T) {
	a, b := newWire(t)
	pa := startDaemon(t, a, "gretun A", "-name", "gre1", "-mode", "gre", "-key", "5", "-local", "198.51.100.1",
		"-remote", "198.51.100.2", "-addr", innerA4.String(), "-metrics", metricsAddr)
	pb := startDaemon(t, b, "gretun B", "-name", "gre1", "-mode", "gre", "-key", "5", "-local", "198.51.100.2",
		"-remote", "198.51.100.1", "-addr", innerB4.String())
	c := nsHTTPClient(a)
	metric := func(name string) string { return tunnelMetric(name, "gre1") }

	m0 := scrape(t, c)
	for _, tc := range tunnelCounters {
		_, ok := m0[metric(tc.name)]
		assert.True(t, ok, "%s in the scrape", metric(tc.name))
	}
	assert.Equal(t, 1.0, m0[metric("line_up")])
	assert.Equal(t, 0.0, m0[metric("keepalive_period_seconds")])
	assert.Equal(t, 1472.0, m0[metric("mtu")], "1500 less IPv4, GRE and key")
	assert.Contains(t, pa.Stderr.String(), `msg="serving metrics" addr=`+metricsAddr)

	const n = 40
	udpThrough(t, a, b, netip.AddrPortFrom(innerB4.Addr(), 7000), n, 1000)
	udpThrough(t, b, a, netip.AddrPortFrom(innerA4.Addr(), 7000), n, 1000)
	var m map[string]float64
	require.Eventually(t, func() bool {
		m = scrape(t, c)
		return m[metric("tx_packets_total")] >= m0[metric("tx_packets_total")]+n &&
			m[metric("rx_packets_total")] >= m0[metric("rx_packets_total")]+n
	}, 5*time.Second, 20*time.Millisecond, "A's packet counters move with the traffic")
	t.Logf("A: tx %v packets %v bytes, rx %v packets %v bytes", m[metric("tx_packets_total")], m[metric("tx_bytes_total")],
		m[metric("rx_packets_total")], m[metric("rx_bytes_total")])
	// 40 datagrams of 1 to 976 bytes of payload, 28 bytes of headers each.
	assert.GreaterOrEqual(t, m[metric("tx_bytes_total")]-m0[metric("tx_bytes_total")], float64(n*28+975*n/2))
	assert.GreaterOrEqual(t, m[metric("rx_bytes_total")]-m0[metric("rx_bytes_total")], float64(n*28+975*n/2))
	for _, e := range []string{"rx_errors_total", "tx_errors_total", "rx_csum_errors_total", "rx_out_of_seq_total", "tx_no_bufs_total"} {
		assert.Zero(t, m[metric(e)], e)
	}
	assert.Equal(t, 1.0, m[metric("line_up")])
	assert.GreaterOrEqual(t, m["ipencap_engine_rx_packets_total"], m[metric("rx_packets_total")])
	assert.Contains(t, m, "go_goroutines")

	// The scrape and the SIGUSR1 counters agree (both read Stats; the
	// traffic is over).
	rx, tx := pa.stats(t)
	m = scrape(t, c)
	assert.Equal(t, float64(rx[0]), m[metric("rx_packets_total")])
	assert.Equal(t, float64(tx[0]), m[metric("tx_packets_total")])
	pa.stop(t, a, "gre1")
	pb.stop(t, b, "gre1")

	// The endpoint has gone with the daemon.
	_, err := c.Get("http://" + metricsAddr + "/metrics")
	assert.Error(t, err)
}

// logRecord is one JSON log line of a daemon.
type logRecord map[string]any

func (r logRecord) str(k string) string { s, _ := r[k].(string); return s }

func (r logRecord) time(t *testing.T) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, r.str("time"))
	require.NoError(t, err, "time of %v", r)
	return ts
}

// jsonLogs parses the daemon's stderr, -log json: one record a line.
func jsonLogs(t *testing.T, stderr string) []logRecord {
	t.Helper()
	var recs []logRecord
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if line == "" {
			continue
		}
		var r logRecord
		require.NoError(t, json.Unmarshal([]byte(line), &r), "log line %q", line)
		recs = append(recs, r)
	}
	return recs
}

// waitLog waits (at most 10 s) for the n-th record with message msg in
// p's JSON log and returns it.
func waitLog(t *testing.T, p *daemonProc, msg string, n int) logRecord {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		k := 0
		for _, r := range jsonLogs(t, p.Stderr.String()) {
			if r.str("msg") == msg {
				if k++; k == n {
					return r
				}
			}
		}
		require.True(t, time.Now().Before(deadline), "%s logged no %q (%d)", p.name, msg, n)
		time.Sleep(10 * time.Millisecond)
	}
}

func countLogs(t *testing.T, p *daemonProc, prefix string) int {
	t.Helper()
	k := 0
	for _, r := range jsonLogs(t, p.Stderr.String()) {
		if strings.HasPrefix(r.str("msg"), prefix) {
			k++
		}
	}
	return k
}

// TestDaemonKeepalive runs A with keepalives (every 200 ms, down after 3
// unanswered periods, JSON logs, metrics) and B answering them, two ways:
// B's engine reflects them (-reflect), or B's kernel does what a Cisco
// router does (the engine delivers the inner packet, a GRE packet from B
// to A, to B's TUN device, and B's kernel forwards it to A as a plain
// protocol 47 packet: no keepalive support at all at B). B stops: A logs
// "line protocol down" between 3 and 4 periods (+ slack) after B's
// SIGTERM; B starts again: A logs "line protocol up" within a period (+
// slack) of B's tunnel coming up. A's metrics and counters follow.
func TestDaemonKeepalive(t *testing.T) {
	needRoot(t)
	const (
		period  = 200 * time.Millisecond
		retries = 3
		slack   = 500 * time.Millisecond // process exit, scheduling, -race
	)
	for _, tt := range []struct {
		name    string
		reflect bool
	}{{"reflect", true}, {"kernel", false}} {
		t.Run(tt.name, func(t *testing.T) {
			a, b := newWire(t)
			for _, ns := range []*testpkt.NS{a, b} {
				// IPv4 only: keeps MLD and router solicitations off
				// the tunnel, so that only keepalives cross it.
				ns.Sysctl(t, "net.ipv6.conf.default.disable_ipv6", "1")
			}
			argsB := []string{"-name", "gre1", "-mode", "gre", "-key", "5", "-csum", "-local", "198.51.100.2",
				"-remote", "198.51.100.1", "-addr", innerB4.String()}
			if tt.reflect {
				argsB = append(argsB, "-reflect")
			} else {
				// B routes the inner packet back out: it must forward,
				// and accept a packet with its own address as source
				// on the TUN device.
				b.Sysctl(t, "net.ipv4.ip_forward", "1")
				b.Sysctl(t, "net.ipv4.conf.all.accept_local", "1")
				b.Sysctl(t, "net.ipv4.conf.all.rp_filter", "0")
				b.Sysctl(t, "net.ipv4.conf.default.rp_filter", "0")
			}
			pb := startDaemon(t, b, "gretun B", argsB...)
			pa := startDaemon(t, a, "gretun A", "-name", "gre1", "-mode", "gre", "-key", "5", "-csum",
				"-local", "198.51.100.1", "-remote", "198.51.100.2", "-addr", innerA4.String(),
				"-keepalive", period.String(), "-keepalive-retries", strconv.Itoa(retries), "-log", "json", "-metrics", metricsAddr)
			c := nsHTTPClient(a)
			metric := func(name string) string { return tunnelMetric(name, "gre1") }

			r := waitLog(t, pa, "keepalives", 1)
			assert.Equal(t, "INFO", r.str("level"))
			assert.Equal(t, period.String(), r.str("period"))
			var m map[string]float64
			require.Eventually(t, func() bool {
				m = scrape(t, c)
				return m[metric("keepalive_replies_total")] >= 3
			}, 5*time.Second, 20*time.Millisecond, "A gets replies")
			assert.Equal(t, 1.0, m[metric("line_up")])
			assert.Equal(t, 0.0, m[metric("line_changes_total")])
			assert.Equal(t, period.Seconds(), m[metric("keepalive_period_seconds")])
			assert.Zero(t, countLogs(t, pa, "line protocol"), "no line change yet")

			// B goes.
			t0 := time.Now()
			pb.stop(t, b, "gre1")
			down := waitLog(t, pa, "line protocol down", 1)
			d := down.time(t).Sub(t0)
			t.Logf("line protocol down %v after B's SIGTERM: %v", d, down)
			assert.GreaterOrEqual(t, d, retries*period-50*time.Millisecond, "not before %d periods without a reply", retries)
			assert.LessOrEqual(t, d, (retries+1)*period+slack, "within %d periods", retries+1)
			assert.Equal(t, "WARN", down.str("level"))
			assert.Equal(t, "gre1", down.str("tunnel"))
			assert.Equal(t, "198.51.100.2", down.str("remote"))
			assert.EqualValues(t, 1, down["line_changes"])
			m = scrape(t, c)
			assert.Equal(t, 0.0, m[metric("line_up")])
			assert.Equal(t, 1.0, m[metric("line_changes_total")])
			repliesDown := m[metric("keepalive_replies_total")]
			if tt.reflect {
				assert.Contains(t, pb.Stdout.String(), "    line_protocol up keepalives_sent 0 keepalive_replies 0 line_changes 0 keepalives_reflected ")
				assert.NotContains(t, pb.Stdout.String(), "keepalives_reflected 0 ", "B reflected A's requests")
			} else {
				rxB, _ := lastStats(t, pb.Stdout.String())
				assert.NotZero(t, rxB[0], "B's TUN got the requests' inner packets")
			}

			// B comes back.
			pb = startDaemon(t, b, "gretun B again", argsB...)
			t1 := time.Now()
			up := waitLog(t, pa, "line protocol up", 1)
			d = up.time(t).Sub(t1)
			t.Logf("line protocol up %v after B's restart: %v", d, up)
			assert.LessOrEqual(t, d, period+slack, "at the first keepalive after B is back")
			assert.Equal(t, "INFO", up.str("level"))
			assert.EqualValues(t, 2, up["line_changes"])
			m = scrape(t, c)
			assert.Equal(t, 1.0, m[metric("line_up")])
			assert.Equal(t, 2.0, m[metric("line_changes_total")])
			assert.Greater(t, m[metric("keepalive_replies_total")], repliesDown)
			assert.GreaterOrEqual(t, m[metric("keepalives_sent_total")], m[metric("keepalive_replies_total")])
			assert.Zero(t, m[metric("rx_errors_total")], "replies pass A's key and checksum checks")
			assert.Equal(t, 2, countLogs(t, pa, "line protocol"), "each change logged once")

			pa.stats(t)
			assert.Regexp(t, `(?m)^    line_protocol up keepalives_sent \d+ keepalive_replies \d+ line_changes 2 keepalives_reflected 0 reflect_refused 0$`,
				pa.Stdout.String())
			pa.stop(t, a, "gre1")
			pb.stop(t, b, "gre1")
			if tt.reflect {
				assert.Contains(t, pb.Stderr.String(), `level=INFO msg="tunnel added"`, "B logs text")
			}
		})
	}
}
