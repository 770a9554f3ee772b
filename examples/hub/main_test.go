//go:build linux

package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/tunneltest"
)

// TestRunUsage: bad flags and bad files exit with status 2 and one line
// on stderr, before the hub touches the system (no root needed); -h
// prints the usage.
func TestRunUsage(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.yaml"), filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(good, []byte(goodConfig), 0o644))
	require.NoError(t, os.WriteFile(bad, []byte(strings.Replace(goodConfig, "10.2.0.0/24", "10.1.0.0/16", 1)), 0o644))
	for _, tt := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"help", []string{"-h"}, exitOK, "usage: hub -config FILE"},
		{"no config", nil, exitUsage, "hub: config: required\n"},
		{"unknown flag", []string{"-config", good, "-colour"}, exitUsage, "hub: flag provided but not defined: -colour\n"},
		{"bad name", []string{"-config", good, "-name", "a/b"}, exitUsage, `hub: name "a/b": contains '/'` + "\n"},
		{"long name", []string{"-config", good, "-name", "hub-with-a-long-name"}, exitUsage, ""},
		{"bad addr", []string{"-config", good, "-addr", "10.0.0.1"}, exitUsage, ""},
		{"bad log", []string{"-config", good, "-log", "xml"}, exitUsage, "hub: log xml: want text or json\n"},
		{"bad metrics", []string{"-config", good, "-metrics", "localhost"}, exitUsage, "hub: metrics localhost: want host:port\n"},
		{"missing file", []string{"-config", filepath.Join(dir, "nope.yaml")}, exitUsage, ""},
		{"bad file", []string{"-config", bad}, exitUsage,
			"hub: " + bad + `:17: spoke "branch2": routes 10.1.0.0/16: overlaps 10.1.0.0/24 of spoke "branch1" (line 10)` + "\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr testpkt.SyncBuffer
			assert.Equal(t, tt.code, run(tt.args, &stdout, &stderr))
			assert.Empty(t, stdout.String())
			switch {
			case tt.code == exitOK:
				assert.Contains(t, stderr.String(), tt.msg)
			case tt.msg != "":
				assert.Equal(t, tt.msg, stderr.String())
			default:
				assert.Equal(t, 1, strings.Count(stderr.String(), "\n"), "one line: %q", stderr.String())
			}
		})
	}
}

// gather reads the collector of h: every sample, by name and tunnel label.
func gather(t *testing.T, h *hub) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(newCollector(h)))
	fams, err := reg.Gather()
	require.NoError(t, err)
	m := map[string]float64{}
	for _, f := range fams {
		for _, s := range f.GetMetric() {
			key := f.GetName()
			for _, l := range s.GetLabel() {
				key += `{` + l.GetName() + `="` + l.GetValue() + `"}`
			}
			m[key] = s.GetCounter().GetValue() + s.GetGauge().GetValue() // one is nil: 0
		}
	}
	return m
}

// TestCollector: per spoke, a series per counter and spoke; with
// -aggregate, one per counter whatever the number of spokes, the sums
// keeping what removed spokes counted, so that none goes down, and
// SIGUSR1 prints the same sums.
func TestCollector(t *testing.T) {
	hubA := netip.MustParseAddr("198.51.100.1")
	a, w := tunneltest.NewPipe(tunneltest.PipeConfig{AddrA: netip.AddrPortFrom(hubA, 0), AddrB: netip.AddrPortFrom(netip.MustParseAddr("198.51.100.2"), 0)})
	eng := tunnel.NewEngine(tunnel.EngineConfig{})
	t.Cleanup(func() { _ = eng.Close(); _ = w.Close() })
	require.NoError(t, eng.AddUnderlay(a, tunnel.UnderlayConfig{Name: "wire", Local: []netip.Addr{hubA}}))
	o := tunneltest.NewChannelOverlay(tunneltest.OverlayConfig{})
	require.NoError(t, eng.AddOverlay(o, tunnel.OverlayConfig{Name: overlayName}))
	cfg := mustParse(t, hubYAML([]int{1, 2, 3}))
	p := diff(nil, cfg.Spokes)
	require.NoError(t, apply(eng, fakeRoutes{}, &p, nil, nil))
	for _, i := range []int{1, 2, 2} {
		require.NoError(t, o.Inject(testpkt.BuildIPv4(0, 60, testpkt.IPv4{TTL: 64, Src: netip.MustParseAddr("192.0.2.1"), Dst: spokeAddr(i)})))
	}
	require.Eventually(t, func() bool {
		t2, _ := eng.Get("spoke2")
		return t2.Stats().TxPackets == 2
	}, 5*time.Second, time.Millisecond)

	h := &hub{eng: eng, cfg: cfg}
	m := gather(t, h)
	assert.Equal(t, 1.0, m[`ipencap_tunnel_tx_packets_total{tunnel="spoke1"}`])
	assert.Equal(t, 2.0, m[`ipencap_tunnel_tx_packets_total{tunnel="spoke2"}`])
	assert.Equal(t, 0.0, m[`ipencap_tunnel_tx_packets_total{tunnel="spoke3"}`])
	assert.Equal(t, 3.0, m["ipencap_hub_tunnels"])
	assert.Contains(t, m, "ipencap_engine_tx_no_tunnel_total")
	assert.Len(t, m, 3*(len(tunnelCounters)+1)+len(engineCounters)+3)

	h.aggregate = true
	m = gather(t, h)
	assert.Equal(t, 3.0, m["ipencap_tunnels_tx_packets_total"])
	assert.Equal(t, 3.0*60, m["ipencap_tunnels_tx_bytes_total"])
	assert.Len(t, m, len(tunnelCounters)+len(engineCounters)+3, "no per-spoke series")

	// Spoke 2 goes: the sums keep its packets.
	next := mustParse(t, hubYAML([]int{1, 3}))
	p = diff(cfg.Spokes, next.Spokes)
	require.NoError(t, apply(eng, fakeRoutes{spokeNet(1): true, spokeNet(2): true, spokeNet(3): true}, &p, &h.gone, nil))
	m = gather(t, h)
	assert.Equal(t, 3.0, m["ipencap_tunnels_tx_packets_total"], "the removed spoke's packets stay in the sum")
	assert.Equal(t, 2.0, m["ipencap_hub_tunnels"])

	// SIGUSR1's summary says the same.
	var b strings.Builder
	h.printStats(&b)
	assert.True(t, strings.HasPrefix(b.String(), "spokes 2 rx_packets 0 rx_bytes 0 rx_errors 0 rx_source_refused 0 rx_dropped 0 tx_packets 3 tx_bytes 180 tx_errors 0 tx_no_bufs 0\nengine rx_packets 0 "), b.String())
}
