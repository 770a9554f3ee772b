//go:build linux

package main

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ipencap/ipencap/examples/internal/exampleutil"
	"github.com/ipencap/ipencap/tunnel"
)

// tunnelCounters are the Prometheus counters of every tunnel, named after
// the columns of `ip -s tunnel show` (RX: Packets Bytes Errors CsumErrs
// OutOfSeq Mcasts; TX: Packets Bytes Errors DeadLoop NoRoute NoBufs), then
// the split that iproute2 folds into Errors and the keepalive counters.
var tunnelCounters = []struct {
	name, help string
	get        func(*tunnel.Stats) uint64
}{
	{"rx_packets_total", "Inner packets delivered to the overlay (ip -s tunnel: RX Packets).", func(s *tunnel.Stats) uint64 { return s.RxPackets }},
	{"rx_bytes_total", "Bytes of the inner packets delivered (RX Bytes).", func(s *tunnel.Stats) uint64 { return s.RxBytes }},
	{"rx_errors_total", "Received packets dropped: checksum, sequence, frame errors and refused reflections (RX Errors).", func(s *tunnel.Stats) uint64 { return s.RxErrors }},
	{"rx_csum_errors_total", "Received packets with a wrong, missing or unexpected GRE checksum (RX CsumErrs).", func(s *tunnel.Stats) uint64 { return s.RxCsumErrors }},
	{"rx_out_of_seq_total", "Received packets out of sequence, duplicated or without a required sequence number (RX OutOfSeq).", func(s *tunnel.Stats) uint64 { return s.RxOutOfSeq }},
	{"rx_multicast_total", "Delivered packets sent to a multicast outer destination (RX Mcasts).", func(s *tunnel.Stats) uint64 { return s.RxMulticast }},
	{"rx_frame_errors_total", "Received packets with a malformed inner packet, or dropped for ECN.", func(s *tunnel.Stats) uint64 { return s.RxFrameErrors }},
	{"rx_dropped_total", "Received packets that passed every check but the overlay did not take.", func(s *tunnel.Stats) uint64 { return s.RxDropped }},
	{"rx_source_refused_total", "Received packets whose inner source the tunnel's routes do not hold (shared overlays).", func(s *tunnel.Stats) uint64 { return s.RxSourceRefused }},
	{"rx_ecn_alarms_total", "Delivered packets with an ECN combination RFC 6040 marks for logging.", func(s *tunnel.Stats) uint64 { return s.RxECNAlarms }},
	{"tx_packets_total", "Outer packets the underlay accepted (TX Packets).", func(s *tunnel.Stats) uint64 { return s.TxPackets }},
	{"tx_bytes_total", "Bytes of the inner packets sent, as ip -s tunnel counts them (TX Bytes).", func(s *tunnel.Stats) uint64 { return s.TxBytes }},
	{"tx_errors_total", "Packets not sent, all causes (TX Errors).", func(s *tunnel.Stats) uint64 { return s.TxErrors }},
	{"tx_dead_loop_total", "Packets that would loop through the tunnel or nest too deep (TX DeadLoop).", func(s *tunnel.Stats) uint64 { return s.TxDeadLoop }},
	{"tx_no_route_total", "Packets the tunnel had nowhere to send (TX NoRoute).", func(s *tunnel.Stats) uint64 { return s.TxNoRoute }},
	{"tx_no_bufs_total", "Packets the underlay did not accept (TX NoBufs).", func(s *tunnel.Stats) uint64 { return s.TxNoBufs }},
	{"tx_too_big_total", "Packets larger than the tunnel MTU that could not be fragmented.", func(s *tunnel.Stats) uint64 { return s.TxTooBig }},
	{"tx_invalid_total", "Inner packets malformed or not of the mode's protocol.", func(s *tunnel.Stats) uint64 { return s.TxInvalid }},
	{"tx_icmp_total", "ICMP errors written back to the overlay.", func(s *tunnel.Stats) uint64 { return s.TxICMP }},
	{"tx_fragmented_total", "IPv4 packets fragmented before encapsulation.", func(s *tunnel.Stats) uint64 { return s.TxFragmented }},
	{"tx_shaped_drops_total", "Outer packets the shaper dropped.", func(s *tunnel.Stats) uint64 { return s.TxShapedDrops }},
	{"keepalives_sent_total", "Keepalive requests sent.", func(s *tunnel.Stats) uint64 { return s.KeepalivesSent }},
	{"keepalive_replies_total", "Keepalive replies received from the remote.", func(s *tunnel.Stats) uint64 { return s.KeepaliveReplies }},
	{"line_changes_total", "Line protocol transitions, up to down and back.", func(s *tunnel.Stats) uint64 { return s.LineChanges }},
	{"keepalives_reflected_total", "Peers' keepalive requests reflected back to them.", func(s *tunnel.Stats) uint64 { return s.KeepalivesReflected }},
	{"reflect_refused_total", "Peers' keepalive requests not reflected (source, destination, rate).", func(s *tunnel.Stats) uint64 { return s.ReflectRefused }},
	{"remote_changes_total", "Times a roaming tunnel's remote moved.", func(s *tunnel.Stats) uint64 { return s.RemoteChanges }},
	{"roam_refused_total", "Packets from a new source that did not move a roaming tunnel.", func(s *tunnel.Stats) uint64 { return s.RoamRefused }},
	{"rx_looped_total", "A broadcast tunnel's own multicast packets that came back.", func(s *tunnel.Stats) uint64 { return s.RxLooped }},
	{"fdb_learned_total", "MAC addresses a broadcast gretap tunnel learnt.", func(s *tunnel.Stats) uint64 { return s.FDBLearned }},
	{"fdb_expired_total", "Learnt MAC addresses that aged out.", func(s *tunnel.Stats) uint64 { return s.FDBExpired }},
	{"fdb_moved_total", "Learnt MAC addresses seen behind another member.", func(s *tunnel.Stats) uint64 { return s.FDBMoved }},
	{"fdb_full_total", "Frames whose new source address did not fit the full table.", func(s *tunnel.Stats) uint64 { return s.FDBFull }},
	{"fdb_refused_total", "Frames whose source address was not learnt (source not allowed, over the learning rate).", func(s *tunnel.Stats) uint64 { return s.FDBRefused }},
}

// engineCounters are the engine's own counters: packets no tunnel took.
var engineCounters = []struct {
	name, help string
	get        func(*tunnel.EngineStats) uint64
}{
	{"rx_packets_total", "Packets read from the underlays.", func(s *tunnel.EngineStats) uint64 { return s.RxPackets }},
	{"rx_no_tunnel_total", "Received packets no tunnel took.", func(s *tunnel.EngineStats) uint64 { return s.RxNoTunnel }},
	{"rx_frame_errors_total", "Received packets with a malformed outer or GRE header.", func(s *tunnel.EngineStats) uint64 { return s.RxFrameErrors }},
	{"rx_csum_errors_total", "Received packets with a wrong outer IPv4 header checksum.", func(s *tunnel.EngineStats) uint64 { return s.RxCsumErrors }},
	{"rx_unknown_proto_total", "Received packets of an IP protocol no mode carries.", func(s *tunnel.EngineStats) uint64 { return s.RxUnknownProto }},
	{"tx_no_tunnel_total", "Packets from a shared overlay that no tunnel's routes hold.", func(s *tunnel.EngineStats) uint64 { return s.TxNoTunnel }},
	{"pathmtu_lowered_total", "Path-MTU reports (ICMP) that lowered a tunnel's MTU.", func(s *tunnel.EngineStats) uint64 { return s.PathMTULowered }},
	{"pathmtu_refused_total", "Path-MTU reports refused: no tunnel sent the quoted packet (forged or stale ICMP).", func(s *tunnel.EngineStats) uint64 { return s.PathMTURefused }},
}

// collector is a prometheus.Collector of an engine's tunnels: it reads
// their Stats when scraped, so the packet path does no work for it.
type collector struct {
	eng      *tunnel.Engine
	tunnels  []*prometheus.Desc // in the order of tunnelCounters
	engine   []*prometheus.Desc // in the order of engineCounters
	lineUp   *prometheus.Desc
	mtu      *prometheus.Desc
	kaPeriod *prometheus.Desc
}

func newCollector(eng *tunnel.Engine) *collector {
	c := &collector{eng: eng}
	label := []string{"tunnel"}
	for _, m := range tunnelCounters {
		c.tunnels = append(c.tunnels, prometheus.NewDesc("ipencap_tunnel_"+m.name, m.help, label, nil))
	}
	for _, m := range engineCounters {
		c.engine = append(c.engine, prometheus.NewDesc("ipencap_engine_"+m.name, m.help, nil, nil))
	}
	c.lineUp = prometheus.NewDesc("ipencap_tunnel_line_up",
		"Line protocol: 1 up, 0 down (keepalives unanswered); always 1 without keepalives.", label, nil)
	c.mtu = prometheus.NewDesc("ipencap_tunnel_mtu", "Tunnel MTU, path MTU discovery included.", label, nil)
	c.kaPeriod = prometheus.NewDesc("ipencap_tunnel_keepalive_period_seconds",
		"Keepalive period; 0 without keepalives.", label, nil)
	return c
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.tunnels {
		ch <- d
	}
	for _, d := range c.engine {
		ch <- d
	}
	ch <- c.lineUp
	ch <- c.mtu
	ch <- c.kaPeriod
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for _, t := range c.eng.List() {
		s, name := t.Stats(), t.Name()
		for i, m := range tunnelCounters {
			ch <- prometheus.MustNewConstMetric(c.tunnels[i], prometheus.CounterValue, float64(m.get(&s)), name)
		}
		up := 0.0
		if t.LineUp() {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(c.lineUp, prometheus.GaugeValue, up, name)
		ch <- prometheus.MustNewConstMetric(c.mtu, prometheus.GaugeValue, float64(t.MTU()), name)
		ch <- prometheus.MustNewConstMetric(c.kaPeriod, prometheus.GaugeValue, t.Config().Keepalive.Period.Seconds(), name)
	}
	es := c.eng.Stats()
	for i, m := range engineCounters {
		ch <- prometheus.MustNewConstMetric(c.engine[i], prometheus.CounterValue, float64(m.get(&es)))
	}
}

// serveMetrics serves /metrics for eng on addr (and the Go runtime's and
// the process's metrics beside the tunnels').
func serveMetrics(addr string, eng *tunnel.Engine, log *slog.Logger) (*exampleutil.MetricsServer, error) {
	return exampleutil.ServeMetrics(addr, metricsMux(eng, log), log)
}

// metricsMux serves /metrics for eng, with the Go runtime's and the
// process's metrics beside the tunnels'.
func metricsMux(eng *tunnel.Engine, log *slog.Logger) *http.ServeMux {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newCollector(eng),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("gretun: metrics at /metrics\n"))
	})
	return mux
}
