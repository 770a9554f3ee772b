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

// tunnelCounters are the counters of a spoke, named as gretun names them
// after the columns of `ip -s tunnel show` (the subset a hub's GRE and
// IPIP spokes move: no keepalives, roaming or MAC learning), plus the
// packets refused for a source outside the spoke's routes.
var tunnelCounters = []struct {
	name, help string
	get        func(*tunnel.Stats) uint64
}{
	{"rx_packets_total", "Inner packets delivered to the overlay (ip -s tunnel: RX Packets).", func(s *tunnel.Stats) uint64 { return s.RxPackets }},
	{"rx_bytes_total", "Bytes of the inner packets delivered (RX Bytes).", func(s *tunnel.Stats) uint64 { return s.RxBytes }},
	{"rx_errors_total", "Received packets dropped: checksum, sequence, frame errors, refused sources (RX Errors).", func(s *tunnel.Stats) uint64 { return s.RxErrors }},
	{"rx_csum_errors_total", "Received packets with a wrong, missing or unexpected GRE checksum (RX CsumErrs).", func(s *tunnel.Stats) uint64 { return s.RxCsumErrors }},
	{"rx_out_of_seq_total", "Received packets out of sequence, duplicated or without a required sequence number (RX OutOfSeq).", func(s *tunnel.Stats) uint64 { return s.RxOutOfSeq }},
	{"rx_source_refused_total", "Received packets whose inner source the spoke's routes do not hold.", func(s *tunnel.Stats) uint64 { return s.RxSourceRefused }},
	{"rx_frame_errors_total", "Received packets with a malformed inner packet, or dropped for ECN.", func(s *tunnel.Stats) uint64 { return s.RxFrameErrors }},
	{"rx_dropped_total", "Received packets that passed every check but the overlay did not take.", func(s *tunnel.Stats) uint64 { return s.RxDropped }},
	{"rx_ecn_alarms_total", "Delivered packets with an ECN combination RFC 6040 marks for logging.", func(s *tunnel.Stats) uint64 { return s.RxECNAlarms }},
	{"tx_packets_total", "Outer packets the underlay accepted (TX Packets).", func(s *tunnel.Stats) uint64 { return s.TxPackets }},
	{"tx_bytes_total", "Bytes of the inner packets sent, as ip -s tunnel counts them (TX Bytes).", func(s *tunnel.Stats) uint64 { return s.TxBytes }},
	{"tx_errors_total", "Packets not sent, all causes (TX Errors).", func(s *tunnel.Stats) uint64 { return s.TxErrors }},
	{"tx_dead_loop_total", "Packets that would loop through the tunnel or nest too deep (TX DeadLoop).", func(s *tunnel.Stats) uint64 { return s.TxDeadLoop }},
	{"tx_no_bufs_total", "Packets the underlay did not accept (TX NoBufs).", func(s *tunnel.Stats) uint64 { return s.TxNoBufs }},
	{"tx_too_big_total", "Packets larger than the tunnel MTU that could not be fragmented.", func(s *tunnel.Stats) uint64 { return s.TxTooBig }},
	{"tx_invalid_total", "Inner packets malformed or not of the mode's protocol.", func(s *tunnel.Stats) uint64 { return s.TxInvalid }},
	{"tx_icmp_total", "ICMP errors written back to the overlay.", func(s *tunnel.Stats) uint64 { return s.TxICMP }},
	{"tx_fragmented_total", "IPv4 packets fragmented before encapsulation.", func(s *tunnel.Stats) uint64 { return s.TxFragmented }},
}

// engineCounters are the engine's own counters: packets no spoke took.
var engineCounters = []struct {
	name, help string
	get        func(*tunnel.EngineStats) uint64
}{
	{"rx_packets_total", "Packets read from the underlay.", func(s *tunnel.EngineStats) uint64 { return s.RxPackets }},
	{"rx_no_tunnel_total", "Received packets no spoke took (unknown remote or key).", func(s *tunnel.EngineStats) uint64 { return s.RxNoTunnel }},
	{"rx_frame_errors_total", "Received packets with a malformed outer or GRE header.", func(s *tunnel.EngineStats) uint64 { return s.RxFrameErrors }},
	{"rx_csum_errors_total", "Received packets with a wrong outer IPv4 header checksum.", func(s *tunnel.EngineStats) uint64 { return s.RxCsumErrors }},
	{"rx_unknown_proto_total", "Received packets of an IP protocol no mode carries.", func(s *tunnel.EngineStats) uint64 { return s.RxUnknownProto }},
	{"tx_no_tunnel_total", "Packets from the device whose destination no spoke's routes hold.", func(s *tunnel.EngineStats) uint64 { return s.TxNoTunnel }},
	{"pathmtu_lowered_total", "Path-MTU reports (ICMP) that lowered a spoke's MTU.", func(s *tunnel.EngineStats) uint64 { return s.PathMTULowered }},
	{"pathmtu_refused_total", "Path-MTU reports refused: no spoke sent the quoted packet (forged or stale ICMP).", func(s *tunnel.EngineStats) uint64 { return s.PathMTURefused }},
}

// collector is a prometheus.Collector of the hub: it reads the spokes'
// Stats when scraped, so the packet path does no work for it. Per spoke
// (ipencap_tunnel_rx_packets_total{tunnel="branch1"}), or with -aggregate
// summed over every spoke, the removed ones included, so that no sum goes
// down (ipencap_tunnels_rx_packets_total): one series per counter
// whatever the number of spokes.
type collector struct {
	h        *hub
	counters []*prometheus.Desc // in the order of tunnelCounters
	engine   []*prometheus.Desc // in the order of engineCounters
	mtu      *prometheus.Desc   // per spoke only
	spokes   *prometheus.Desc
	reloads  *prometheus.Desc
	failures *prometheus.Desc
}

func newCollector(h *hub) *collector {
	c := &collector{h: h}
	prefix, label := "ipencap_tunnel_", []string{"tunnel"}
	if h.aggregate {
		prefix, label = "ipencap_tunnels_", nil
	}
	for _, m := range tunnelCounters {
		help := m.help
		if h.aggregate {
			help = "Sum over all spokes, removed ones included: " + help
		}
		c.counters = append(c.counters, prometheus.NewDesc(prefix+m.name, help, label, nil))
	}
	for _, m := range engineCounters {
		c.engine = append(c.engine, prometheus.NewDesc("ipencap_engine_"+m.name, m.help, nil, nil))
	}
	if !h.aggregate {
		c.mtu = prometheus.NewDesc("ipencap_tunnel_mtu", "Tunnel MTU, path MTU discovery included.", label, nil)
	}
	c.spokes = prometheus.NewDesc("ipencap_hub_tunnels", "Spokes configured.", nil, nil)
	c.reloads = prometheus.NewDesc("ipencap_hub_reloads_total", "Reloads asked for (SIGHUP).", nil, nil)
	c.failures = prometheus.NewDesc("ipencap_hub_reload_failures_total", "Reloads refused or applied only in part.", nil, nil)
	return c
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.counters {
		ch <- d
	}
	for _, d := range c.engine {
		ch <- d
	}
	if c.mtu != nil {
		ch <- c.mtu
	}
	ch <- c.spokes
	ch <- c.reloads
	ch <- c.failures
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ts := c.h.eng.List()
	if c.h.aggregate {
		sum := c.h.gone.get()
		for _, t := range ts {
			s := t.Stats()
			addStats(&sum, &s)
		}
		for i, m := range tunnelCounters {
			ch <- prometheus.MustNewConstMetric(c.counters[i], prometheus.CounterValue, float64(m.get(&sum)))
		}
	} else {
		for _, t := range ts {
			s, name := t.Stats(), t.Name()
			for i, m := range tunnelCounters {
				ch <- prometheus.MustNewConstMetric(c.counters[i], prometheus.CounterValue, float64(m.get(&s)), name)
			}
			ch <- prometheus.MustNewConstMetric(c.mtu, prometheus.GaugeValue, float64(t.MTU()), name)
		}
	}
	es := c.h.eng.Stats()
	for i, m := range engineCounters {
		ch <- prometheus.MustNewConstMetric(c.engine[i], prometheus.CounterValue, float64(m.get(&es)))
	}
	ch <- prometheus.MustNewConstMetric(c.spokes, prometheus.GaugeValue, float64(len(ts)))
	ch <- prometheus.MustNewConstMetric(c.reloads, prometheus.CounterValue, float64(c.h.reloads.Load()))
	ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(c.h.failures.Load()))
}

// serveMetrics serves /metrics for the hub on addr, with the Go
// runtime's and the process's metrics beside the spokes'.
func serveMetrics(addr string, h *hub, log *slog.Logger) (*exampleutil.MetricsServer, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newCollector(h), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	return exampleutil.ServeMetrics(addr, mux, log)
}
