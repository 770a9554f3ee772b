//go:build linux

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"unicode"

	"github.com/vishvananda/netlink"

	"github.com/ipencap/ipencap/examples/internal/exampleutil"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/rawsock"
	"github.com/ipencap/ipencap/tunnel/tundev"
)

// Exit statuses.
const (
	exitOK    = 0
	exitSetup = 1 // the hub could not be set up
	exitUsage = 2 // bad flags or a bad configuration file
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options is what the flags say.
type options struct {
	config    string         // -config
	name      string         // -name: the TUN device
	addrs     []netip.Prefix // -addr: its inner addresses
	metrics   string         // -metrics: listen address, "" none
	aggregate bool           // -aggregate: sums instead of per-tunnel series
	log       string         // -log: text or json
}

const usage = `usage: hub -config FILE [-name NAME] [-addr PREFIX]... [-metrics ADDR:PORT] [-aggregate] [-log text|json]
  -config FILE        the hub's YAML configuration: local address, mode, defaults, spokes (required)
  -name NAME          TUN device name (default hub0)
  -addr PREFIX        inner address with prefix length of the TUN device (repeatable)
  -metrics ADDR:PORT  serve Prometheus metrics at http://ADDR:PORT/metrics
  -aggregate          metrics and SIGUSR1 counters summed over all spokes, not per spoke
  -log text|json      log format on stderr (default text)
signals: SIGHUP reloads FILE (applies the difference), SIGUSR1 prints the counters,
         SIGINT and SIGTERM remove the device and exit
`

// parseFlags reads the command line; its errors are one line each.
func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("hub", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := &options{}
	fs.StringVar(&o.config, "config", "", "configuration `file` (YAML)")
	fs.StringVar(&o.name, "name", "hub0", "TUN device `name`")
	fs.Var(exampleutil.PrefixList{List: &o.addrs}, "addr", "inner address with prefix length of the TUN device (repeatable)")
	fs.StringVar(&o.metrics, "metrics", "", "serve Prometheus metrics on `addr:port`")
	fs.BoolVar(&o.aggregate, "aggregate", false, "sum the counters over all spokes")
	fs.StringVar(&o.log, "log", "text", "log `format`: text or json")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.config == "" {
		return nil, errors.New("config: required")
	}
	if err := checkDevName(o.name); err != nil {
		return nil, fmt.Errorf("name %q: %w", o.name, err)
	}
	if o.log != "text" && o.log != "json" {
		return nil, fmt.Errorf("log %s: want text or json", o.log)
	}
	if o.metrics != "" {
		if err := exampleutil.CheckListenAddr(o.metrics); err != nil {
			return nil, fmt.Errorf("metrics %s: %w", o.metrics, err)
		}
	}
	return o, nil
}

// run is the hub: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stderr, usage)
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "hub:", err)
		return exitUsage
	}
	hc, err := loadConfig(o.config)
	if err != nil {
		fmt.Fprintln(stderr, "hub:", err)
		return exitUsage
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(sigs)

	log := exampleutil.NewLogger(o.log, stderr, slog.LevelInfo)
	h, err := start(o, hc, log, exampleutil.NewLogger(o.log, stderr, slog.LevelWarn))
	if err != nil {
		log.Error("setup failed", "err", err)
		return exitSetup
	}
	if o.metrics != "" {
		m, err := serveMetrics(o.metrics, h, log)
		if err != nil {
			h.eng.Close()
			log.Error("setup failed", "metrics", o.metrics, "err", err)
			return exitSetup
		}
		defer m.Close()
	}
	fmt.Fprintf(stdout, "%s: %d spokes, %s local %s\n", h.dev.Name(), len(hc.Spokes), hc.Mode, hc.Local)

	for done := false; !done; {
		switch <-sigs {
		case syscall.SIGUSR1:
			h.printStats(stdout)
		case syscall.SIGHUP:
			h.reload(o.config)
		default:
			done = true
		}
	}
	err = h.eng.Close() // closes the socket and the TUN device: its routes go with it
	if err != nil {
		log.Warn("close", "err", err)
	}
	return exitOK
}

// hub is a running hub.
type hub struct {
	eng       *tunnel.Engine
	dev       *tundev.Device
	log       *slog.Logger
	aggregate bool
	cfg       *hubConfig // running; only the signal loop touches it
	gone      retired    // final counters of removed spokes
	reloads   atomic.Uint64
	failures  atomic.Uint64
}

// start opens the raw socket and the TUN device (with a route for every
// spoke's prefixes) and adds the spokes.
func start(o *options, hc *hubConfig, log, engLog *slog.Logger) (*hub, error) {
	// The engine logs every tunnel added and removed at level Info: with
	// thousands of spokes, the hub logs a summary instead.
	eng := tunnel.NewEngine(tunnel.EngineConfig{Logger: engLog})
	ok := false
	defer func() {
		if !ok {
			eng.Close()
		}
	}()
	u, err := rawsock.Open(rawsock.Config{Proto: hc.Mode.IPProto(), IPv6: hc.Local.Is6(), Local: hc.Local})
	if err != nil {
		return nil, err
	}
	if err := eng.AddUnderlay(u, tunnel.UnderlayConfig{Name: "wire", MTU: linkMTU(hc.Local), Local: []netip.Addr{hc.Local}}); err != nil {
		u.Close()
		return nil, err
	}
	var routes []netip.Prefix
	for _, c := range hc.Spokes {
		routes = append(routes, c.Routes...)
	}
	dev, err := tundev.Open(tundev.Config{Name: o.name, Addrs: o.addrs, Routes: routes})
	if err != nil {
		return nil, err
	}
	if err := eng.AddOverlay(dev, tunnel.OverlayConfig{Name: overlayName}); err != nil {
		return nil, err
	}
	for _, c := range hc.Spokes {
		if _, err := eng.Add(c, nil); err != nil {
			return nil, err
		}
	}
	h := &hub{eng: eng, dev: dev, log: log, aggregate: o.aggregate, cfg: hc}
	if err := h.setMTU(); err != nil {
		return nil, err
	}
	ok = true
	log.Info("hub up", "device", dev.Name(), "spokes", len(hc.Spokes), "routes", len(routes), "mode", hc.Mode.String(),
		"local", hc.Local.String(), "offloads", dev.Offloads().String())
	return h, nil
}

// setMTU gives the device the smallest MTU of the spokes, so that the
// host sends no packet some spoke would have to refuse.
func (h *hub) setMTU() error {
	mtu := 0
	for _, t := range h.eng.List() {
		if m := t.MTU(); mtu == 0 || m < mtu {
			mtu = m
		}
	}
	if cur, err := h.dev.MTU(); mtu == 0 || (err == nil && cur == mtu) {
		return nil
	}
	return h.dev.SetMTU(mtu)
}

// reload reads the file again and applies the difference; a file that
// does not validate, or that changes the hub's local address or mode
// (the socket's), is refused and the running configuration stays.
func (h *hub) reload(path string) {
	h.reloads.Add(1)
	hc, err := loadConfig(path)
	if err == nil && (hc.Local != h.cfg.Local || hc.Mode != h.cfg.Mode) {
		err = fmt.Errorf("%s: local and mode cannot change while the hub runs (%s %s, file %s %s): restart it",
			path, h.cfg.Mode, h.cfg.Local, hc.Mode, hc.Local)
	}
	if err != nil {
		h.failures.Add(1)
		h.log.Error("reload refused, running configuration kept", "err", err.Error())
		return
	}
	p := diff(h.cfg.Spokes, hc.Spokes)
	err = apply(h.eng, devRoutes{h.dev}, &p, &h.gone, h.log)
	h.cfg = hc
	if err != nil {
		h.failures.Add(1)
	}
	if err := h.setMTU(); err != nil {
		h.log.Warn("reload: device MTU", "err", err)
	}
	h.log.Info("reloaded", "added", len(p.Added), "removed", len(p.Removed), "changed", len(p.Changed),
		"unchanged", p.Unchanged, "routes_added", len(p.RouteAdd), "routes_deleted", len(p.RouteDel),
		"names", namesSummary(&p))
}

// namesSummary lists the spokes a reload touched, at most 10 of each kind.
func namesSummary(p *plan) string {
	var b strings.Builder
	for _, k := range []struct {
		sign  string
		names []string
	}{{"+", p.Added}, {"-", p.Removed}, {"~", p.Changed}} {
		for i, n := range k.names {
			if i == 10 {
				fmt.Fprintf(&b, "%s(%d more) ", k.sign, len(k.names)-10)
				break
			}
			b.WriteString(k.sign + n + " ")
		}
	}
	return strings.TrimSpace(b.String())
}

// devRoutes is the routing table of the hub's TUN device, in the hub's
// network namespace: `ip route add PREFIX dev NAME`.
type devRoutes struct{ dev *tundev.Device }

func (d devRoutes) route(p netip.Prefix) *netlink.Route {
	r := &netlink.Route{LinkIndex: d.dev.Index(), Dst: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if p.Addr().Is4() {
		r.Scope = netlink.SCOPE_LINK // as tundev installs them
	}
	return r
}

func (d devRoutes) AddRoute(p netip.Prefix) error { return netlink.RouteReplace(d.route(p)) }
func (d devRoutes) DelRoute(p netip.Prefix) error { return netlink.RouteDel(d.route(p)) }

// printStats prints the counters, in one write: a line per spoke (or,
// with -aggregate, their sums and the spoke count) and the engine's.
func (h *hub) printStats(w io.Writer) {
	var b strings.Builder
	line := func(label string, s *tunnel.Stats) {
		fmt.Fprintf(&b, "%s rx_packets %d rx_bytes %d rx_errors %d rx_source_refused %d rx_dropped %d tx_packets %d tx_bytes %d tx_errors %d tx_no_bufs %d\n",
			label, s.RxPackets, s.RxBytes, s.RxErrors, s.RxSourceRefused, s.RxDropped, s.TxPackets, s.TxBytes, s.TxErrors, s.TxNoBufs)
	}
	ts := h.eng.List()
	if h.aggregate {
		sum := h.gone.get()
		for _, t := range ts {
			s := t.Stats()
			addStats(&sum, &s)
		}
		line("spokes "+strconv.Itoa(len(ts)), &sum)
	} else {
		for _, t := range ts {
			s := t.Stats()
			line("spoke "+t.Name(), &s)
		}
	}
	e := h.eng.Stats()
	fmt.Fprintf(&b, "engine rx_packets %d rx_no_tunnel %d rx_frame_errors %d rx_csum_errors %d tx_no_tunnel %d pathmtu_lowered %d pathmtu_refused %d\n",
		e.RxPackets, e.RxNoTunnel, e.RxFrameErrors, e.RxCsumErrors, e.TxNoTunnel, e.PathMTULowered, e.PathMTURefused)
	io.WriteString(w, b.String())
}

// linkMTU is the MTU of the link that has addr, 1500 when none has.
func linkMTU(addr netip.Addr) int {
	list, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return 1500
	}
	for _, a := range list {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == addr {
			if l, err := netlink.LinkByIndex(a.LinkIndex); err == nil {
				return l.Attrs().MTU
			}
		}
	}
	return 1500
}

// checkDevName checks a device name as the kernel's dev_valid_name does,
// and refuses '%' (a pattern the kernel fills in) and control characters.
func checkDevName(name string) error {
	switch {
	case name == "":
		return errors.New("empty")
	case len(name) > 15:
		return errors.New("longer than 15 bytes (IFNAMSIZ-1)")
	case name == "." || name == "..":
		return errors.New(". and .. are not device names")
	}
	for _, r := range name {
		if r == '/' || r == ':' || r == '%' || unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("contains %q", r)
		}
	}
	return nil
}
