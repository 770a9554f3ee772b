//go:build linux

package main

import (
	"bufio"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/tunneltest"
)

// parseMetrics reads the Prometheus text format: sample (name and labels,
// as written) to value. Comments are skipped.
func parseMetrics(t *testing.T, text string) map[string]float64 {
	t.Helper()
	m := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		require.Positive(t, i, "sample line %q", line)
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, "sample line %q", line)
		m[line[:i]] = v
	}
	return m
}

// scrapeHandler gets /metrics from h in memory and checks the status and
// the content type of the text format.
func scrapeHandler(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.True(t, strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain; version=0.0.4"), rec.Header().Get("Content-Type"))
	return rec.Body.String()
}

// tunnelMetric names a tunnel's sample: ipencap_tunnel_NAME{tunnel="TUN"}.
func tunnelMetric(name, tun string) string {
	return "ipencap_tunnel_" + name + `{tunnel="` + tun + `"}`
}

// TestCollector runs two engines joined by an in-memory wire, A with
// keepalives and B reflecting them, and reads A's collector: every counter
// and gauge for each tunnel, values from Stats, names that pass promlint;
// then B goes away and the line gauge drops to 0.
func TestCollector(t *testing.T) {
	la, lb := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")
	wa, wb := tunneltest.NewPipe(tunneltest.PipeConfig{Framing: tunnel.FramingIP,
		AddrA: netip.AddrPortFrom(la, 0), AddrB: netip.AddrPortFrom(lb, 0)})
	end := func(w *tunneltest.Pipe, local, remote netip.Addr, c tunnel.Config) (*tunnel.Engine, *tunnel.Tunnel, *tunneltest.ChannelOverlay) {
		e := tunnel.NewEngine(tunnel.EngineConfig{})
		require.NoError(t, e.AddUnderlay(w, tunnel.UnderlayConfig{Name: "wire", Framing: tunnel.FramingIP, Local: []netip.Addr{local}}))
		o := tunneltest.NewChannelOverlay(tunneltest.OverlayConfig{})
		c.Mode, c.Local, c.Remote = tunnel.ModeGRE, local, remote
		tn, err := e.Add(c, o)
		require.NoError(t, err)
		return e, tn, o
	}
	ea, ta, oa := end(wa, la, lb, tunnel.Config{Name: "gre1", Keepalive: tunnel.KeepaliveConfig{Period: 20 * time.Millisecond, Retries: 2}})
	defer ea.Close()
	eb, _, ob := end(wb, lb, la, tunnel.Config{Name: "gre1", Reflect: tunnel.ReflectConfig{Enable: true}})
	defer eb.Close()
	// A second tunnel in A: one series per tunnel.
	_, err := ea.Add(tunnel.Config{Name: "gre2", Mode: tunnel.ModeGRE, Local: la, Remote: netip.MustParseAddr("198.51.100.3")},
		tunneltest.NewChannelOverlay(tunneltest.OverlayConfig{}))
	require.NoError(t, err)

	ping := []byte{0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2, 0x30, 0x39, 0x1b, 0x58, 0, 8, 0, 0}
	for range 5 {
		require.NoError(t, oa.Inject(ping))
	}
	buf := make([]byte, 2048)
	for i := range 5 {
		_, ok := ob.Recv(buf, 5*time.Second)
		require.True(t, ok, "packet %d through the tunnel", i)
	}
	require.Eventually(t, func() bool { s := ta.Stats(); return s.TxPackets == 5 && s.KeepaliveReplies >= 2 },
		5*time.Second, 5*time.Millisecond)

	c := newCollector(ea)
	problems, err := testutil.CollectAndLint(c)
	require.NoError(t, err)
	assert.Empty(t, problems, "promlint")
	assert.Equal(t, 2*(len(tunnelCounters)+3)+len(engineCounters), testutil.CollectAndCount(c))

	out := scrapeHandler(t, metricsMux(ea, slog.New(slog.DiscardHandler)))
	m := parseMetrics(t, out)
	s := ta.Stats()
	for _, tc := range tunnelCounters {
		for _, tun := range []string{"gre1", "gre2"} {
			_, ok := m[tunnelMetric(tc.name, tun)]
			assert.True(t, ok, "%s for %s", tc.name, tun)
		}
	}
	assert.Equal(t, 5.0, m[tunnelMetric("tx_packets_total", "gre1")])
	assert.Equal(t, float64(s.TxBytes), m[tunnelMetric("tx_bytes_total", "gre1")])
	assert.GreaterOrEqual(t, m[tunnelMetric("keepalives_sent_total", "gre1")], 2.0)
	assert.GreaterOrEqual(t, m[tunnelMetric("keepalive_replies_total", "gre1")], 2.0)
	assert.Equal(t, 1.0, m[tunnelMetric("line_up", "gre1")])
	assert.Equal(t, 1.0, m[tunnelMetric("line_up", "gre2")], "no keepalives: always up")
	assert.Equal(t, 0.02, m[tunnelMetric("keepalive_period_seconds", "gre1")])
	assert.Equal(t, float64(ta.MTU()), m[tunnelMetric("mtu", "gre1")])
	assert.Zero(t, m[tunnelMetric("tx_packets_total", "gre2")])
	assert.GreaterOrEqual(t, m["ipencap_engine_rx_packets_total"], 2.0, "the replies")
	assert.Contains(t, out, "# TYPE ipencap_tunnel_rx_packets_total counter")
	assert.Contains(t, out, "# TYPE ipencap_tunnel_line_up gauge")
	assert.Contains(t, out, "# TYPE go_goroutines gauge", "the Go collector")

	// B goes: after 2 periods without a reply (and one more tick) A's line
	// is down, and the gauge says so at the next scrape.
	require.NoError(t, eb.Close())
	require.Eventually(t, func() bool {
		return strings.Contains(scrapeHandler(t, metricsMux(ea, slog.New(slog.DiscardHandler))), `ipencap_tunnel_line_up{tunnel="gre1"} 0`)
	}, 5*time.Second, 5*time.Millisecond)
	m = parseMetrics(t, scrapeHandler(t, metricsMux(ea, slog.New(slog.DiscardHandler))))
	assert.Equal(t, 1.0, m[tunnelMetric("line_changes_total", "gre1")])
}
