//go:build linux

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/vishvananda/netlink"

	"github.com/ipencap/ipencap/examples/internal/exampleutil"
	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/outer"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/rawsock"
	"github.com/ipencap/ipencap/tunnel/tundev"
	"github.com/ipencap/ipencap/tunnel/udp"
)

// Exit statuses.
const (
	exitOK    = 0
	exitSetup = 1 // the tunnel could not be set up
	exitUsage = 2 // bad flags
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options is what the flags say: the tunnel, and the daemon around it.
type options struct {
	cfg     tunnel.Config
	addrs   []netip.Prefix // -addr: inner addresses of the TUN device
	routes  []netip.Prefix // -route
	lport   uint16         // -lport: local UDP port of gre-in-udp
	stats   time.Duration  // -stats: 0 never
	pmtuExp time.Duration  // -pmtu-expires: 0 the engine's default
	log     string         // -log: text or json
	metrics string         // -metrics: listen address, "" none
}

// errUDPOnly refuses -port and -lport on modes other than gre-in-udp.
var errUDPOnly = errors.New("only mode gre-in-udp has UDP ports")

// Errors of -remote and -allow-any-remote: remote any must be asked for
// twice, so that nobody runs a tunnel that takes every host's packets by
// leaving -remote out.
var (
	errRemoteRequired = errors.New("required: the peer's address, or any with -allow-any-remote")
	errRemoteAny      = errors.New("takes packets from every host: add -allow-any-remote to mean it")
	errAllowAnyRemote = errors.New("only with -remote any")
)

// parseFlags reads the command line. Its errors are one line each: those
// of package flag (an unknown flag, a value that is not a number), and
// *tunnel.ConfigError values for the tunnel's options, with the messages
// of [tunnel.Config.Validate]. -h gives flag.ErrHelp.
func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("gretun", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := &options{}
	str, bln := fs.String, fs.Bool
	name := str("name", "tun0", "tunnel and TUN device `name` (at most 15 bytes; no '/', ':', '%' or space)")
	mode := str("mode", "gre", "gre, gretap, ipip, sit, mobile, ip6gre, ip6ip6, ipip6 or gre-in-udp")
	local := str("local", "any", "outer source `address`")
	remote := str("remote", "", "outer destination `address`: the peer (required; any needs -allow-any-remote)")
	allowAny := bln("allow-any-remote", false, "with -remote any: take packets from every host")
	ikey := str("ikey", "", "key received packets must carry (number or dotted quad)")
	okey := str("okey", "", "key to send")
	key := str("key", "", "ikey and okey")
	icsum, ocsum, csum := bln("icsum", false, "require GRE checksums"), bln("ocsum", false, "send GRE checksums"), bln("csum", false, "icsum and ocsum")
	iseq, oseq, seq := bln("iseq", false, "require sequence numbers"), bln("oseq", false, "send sequence numbers"), bln("seq", false, "iseq and oseq")
	reorder := fs.Int("reorder", 0, "with iseq: hold up to `N` packets that arrive ahead of a gap")
	ttl := str("ttl", "inherit", "outer TTL 1–255, or inherit")
	tos := str("tos", "", "outer TOS in hex (0xNN or NN, as iproute2), or inherit")
	nopmtudisc := bln("nopmtudisc", false, "clear DF on outer packets (needs ttl inherit)")
	dev := str("dev", "", "underlay `link` to bind to")
	mtu := fs.Int("mtu", 0, "tunnel MTU, 68–65535 (1280–65535 for sit and ip6ip6); 0: the underlay MTU less the overhead")
	port := fs.Uint("port", tunnel.DefaultGREInUDPPort, "gre-in-udp: UDP destination `port`")
	lport := fs.Uint("lport", tunnel.DefaultGREInUDPPort, "gre-in-udp: local UDP `port`")
	statsEvery := fs.Duration("stats", 0, "print the counters every `interval` (0: only on SIGUSR1 and at exit)")
	pmtuExp := fs.Duration("pmtu-expires", tunnel.DefaultPathMTUExpiry, "how long a path MTU learnt from ICMP holds (Linux's mtu_expires)")
	var keepalive time.Duration
	fs.Var(secondsOrDuration{&keepalive}, "keepalive", "keepalive `period` (10s, or seconds); 0: no keepalives")
	retries := fs.Int("keepalive-retries", tunnel.DefaultKeepaliveRetries, "periods without a reply before the line protocol goes down")
	reflect := bln("reflect", false, "answer the peer's keepalives")
	logFormat := str("log", "text", "log `format`: text or json")
	metrics := str("metrics", "", "serve Prometheus metrics on `addr:port`")
	addrFlag, routeFlag := exampleutil.PrefixList{List: &o.addrs}, exampleutil.PrefixList{List: &o.routes}
	fs.Var(addrFlag, "addr", "inner address with prefix length of the TUN device (repeatable)")
	fs.Var(routeFlag, "route", "prefix routed through the TUN device (repeatable)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	c := &o.cfg
	c.Name = *name
	configErr := func(field, value string, err error) error {
		return &tunnel.ConfigError{Tunnel: c.Name, Field: field, Value: value, Err: err}
	}
	if err := checkDevName(*name); err != nil {
		return nil, configErr("name", strconv.Quote(*name), err)
	}
	if *dev != "" {
		if err := checkDevName(*dev); err != nil {
			return nil, configErr("dev", strconv.Quote(*dev), err)
		}
	}

	m, err := tunnel.ParseMode(*mode)
	if err != nil {
		return nil, configErr("mode", *mode, tunnel.ErrConfigMode)
	}
	c.Mode = m
	for _, a := range []struct {
		field string
		text  string
		dst   *netip.Addr
	}{{"local", *local, &c.Local}, {"remote", *remote, &c.Remote}} {
		if a.text == "any" || a.text == "" {
			continue
		}
		addr, err := netip.ParseAddr(a.text)
		if err != nil {
			return nil, configErr(a.field, a.text, err)
		}
		*a.dst = addr
	}
	// A tunnel with remote any takes packets from every host: a receive
	// sink nobody should get by leaving out a flag.
	switch remoteAny := !c.Remote.IsValid() || c.Remote.IsUnspecified(); {
	case *remote == "":
		return nil, configErr("remote", "", errRemoteRequired)
	case remoteAny && !*allowAny:
		return nil, configErr("remote", *remote, errRemoteAny)
	case !remoteAny && *allowAny:
		return nil, configErr("allow-any-remote", "", errAllowAnyRemote)
	}
	for _, k := range []struct {
		field string
		text  string
		dst   []*tunnel.Key
	}{{"key", *key, []*tunnel.Key{&c.IKey, &c.OKey}}, {"ikey", *ikey, []*tunnel.Key{&c.IKey}}, {"okey", *okey, []*tunnel.Key{&c.OKey}}} {
		if k.text == "" {
			continue
		}
		v, err := gre.ParseKey(k.text)
		if err != nil {
			return nil, configErr(k.field, k.text, err)
		}
		for _, d := range k.dst {
			*d = tunnel.KeyOf(v)
		}
	}
	c.ICsum, c.OCsum = *icsum || *csum, *ocsum || *csum
	c.ISeq, c.OSeq = *iseq || *seq, *oseq || *seq
	c.Seq.Reorder = *reorder
	if *ttl != "inherit" {
		v, err := strconv.ParseUint(*ttl, 0, 8)
		if err != nil {
			return nil, configErr("ttl", *ttl, tunnel.ErrConfigRange)
		}
		c.TTL = uint8(v) // 0 is inherit too, as in iproute2
	}
	switch *tos {
	case "", "0":
	case "inherit":
		c.InheritTOS = true
	default:
		v, err := strconv.ParseUint(strings.TrimPrefix(*tos, "0x"), 16, 8)
		if err != nil {
			return nil, configErr("tos", *tos, tunnel.ErrConfigRange)
		}
		c.TOS = uint8(v)
	}
	c.NoPMTUDisc = *nopmtudisc
	c.Link = *dev
	if lo := m.MinMTU(); *mtu != 0 && (*mtu < lo || *mtu > tunnel.MaxPacket) {
		return nil, configErr("mtu", strconv.Itoa(*mtu),
			fmt.Errorf("%w: 0 (automatic) or %d to %d for mode %s", tunnel.ErrConfigRange, lo, tunnel.MaxPacket, m))
	}
	c.MTU = *mtu
	for _, p := range []struct {
		field string
		v     uint
	}{{"port", *port}, {"lport", *lport}} {
		if p.v == 0 || p.v > 65535 {
			return nil, configErr(p.field, strconv.FormatUint(uint64(p.v), 10), tunnel.ErrConfigRange)
		}
		if set[p.field] && m != tunnel.ModeGREInUDP {
			return nil, configErr(p.field, strconv.FormatUint(uint64(p.v), 10), errUDPOnly)
		}
	}
	if m == tunnel.ModeGREInUDP {
		c.Port = uint16(*port)
		o.lport = uint16(*lport)
	}
	if *statsEvery < 0 {
		return nil, configErr("stats", statsEvery.String(), tunnel.ErrConfigRange)
	}
	o.stats = *statsEvery
	if *pmtuExp < time.Second {
		return nil, configErr("pmtu-expires", pmtuExp.String(), tunnel.ErrConfigRange)
	}
	o.pmtuExp = *pmtuExp
	if keepalive > 0 && keepalive < minKeepalive {
		return nil, configErr("keepalive", keepalive.String(), tunnel.ErrConfigRange)
	}
	if *retries < 1 || *retries > maxKeepaliveRetries {
		return nil, configErr("keepalive-retries", strconv.Itoa(*retries), tunnel.ErrConfigRange)
	}
	if keepalive > 0 {
		c.Keepalive = tunnel.KeepaliveConfig{Period: keepalive, Retries: *retries}
	}
	// With remote any a reflector answers whoever asks (to the request's
	// own source only, as always).
	c.Reflect = tunnel.ReflectConfig{Enable: *reflect, AnySource: *reflect && (!c.Remote.IsValid() || c.Remote.IsUnspecified())}
	switch *logFormat {
	case "text", "json":
		o.log = *logFormat
	default:
		return nil, fmt.Errorf("log %s: want text or json", *logFormat)
	}
	if *metrics != "" {
		if err := exampleutil.CheckListenAddr(*metrics); err != nil {
			return nil, fmt.Errorf("metrics %s: %w", *metrics, err)
		}
		o.metrics = *metrics
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return o, nil
}

// maxDevName is the longest device name the kernel takes: IFNAMSIZ-1
// bytes.
const maxDevName = 15

// errDevName refuses a -name or -dev the kernel would refuse as a device
// name.
var errDevName = errors.New("not a device name")

// checkDevName checks a device name as the kernel's dev_valid_name does
// (net/core/dev.c): 1 to 15 bytes, not "." or "..", no '/', ':' or
// whitespace. It also refuses control characters (a NUL would cut the
// name short) and '%', which makes the name a pattern ("gre%d") the
// kernel fills in, so that the device would not have the tunnel's name.
func checkDevName(name string) error {
	switch {
	case name == "":
		return tunnel.ErrConfigName
	case len(name) > maxDevName:
		return fmt.Errorf("%w: longer than %d bytes (IFNAMSIZ-1)", errDevName, maxDevName)
	case name == "." || name == "..":
		return fmt.Errorf("%w: . and .. are not allowed", errDevName)
	}
	for _, r := range name {
		if r == '/' || r == ':' || r == '%' || unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("%w: contains %q", errDevName, r)
		}
	}
	return nil
}

// Keepalive bounds: periods shorter than minKeepalive would flood the
// peer; Cisco allows 1–255 retries.
const (
	minKeepalive        = 10 * time.Millisecond
	maxKeepaliveRetries = 255
)

// secondsOrDuration is a duration flag that also takes a number of
// seconds, as `keepalive 10 5` on a Cisco tunnel interface does.
type secondsOrDuration struct{ d *time.Duration }

func (s secondsOrDuration) String() string {
	if s.d == nil {
		return "0s"
	}
	return s.d.String()
}

func (s secondsOrDuration) Set(v string) error {
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		*s.d = time.Duration(n) * time.Second
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return errors.New("not a duration (10s) or a number of seconds")
	}
	if d < 0 {
		return errors.New("negative")
	}
	*s.d = d
	return nil
}

const usage = `usage: gretun -name NAME -mode MODE -local ADDR -remote ADDR [options]
  modes: gre ipip sit mobile (IPv4), ip6gre ip6ip6 ipip6 (IPv6), gre-in-udp
  -remote ADDR             the peer, the one host the tunnel takes packets from (required)
  -remote any -allow-any-remote
                           no peer to send to: take packets from every host
  -ikey K -okey K -key K   GRE keys (number or dotted quad)
  -icsum -ocsum -csum      GRE checksums
  -iseq -oseq -seq         GRE sequence numbers; -reorder N holds N packets ahead of a gap
  -ttl N|inherit           outer TTL (default inherit)
  -tos 0xNN|inherit        outer TOS, hex as in iproute2 ("10" is 0x10)
  -nopmtudisc              clear DF on outer packets (needs ttl inherit)
  -dev LINK                underlay link
  -mtu N                   tunnel MTU, 68–65535, at least 1280 for sit and ip6ip6
                           (default: underlay MTU less the overhead)
  -addr PREFIX             inner address of the TUN device (repeatable)
  -route PREFIX            route through the TUN device (repeatable)
  -port N -lport N         gre-in-udp destination and local UDP ports (4754)
  -keepalive PERIOD        send GRE keepalives every PERIOD (10s, or 10), 0: off (default)
  -keepalive-retries N     line protocol down after N periods without a reply (5)
  -reflect                 answer the peer's keepalives (mode gre)
  -stats INTERVAL          print the counters every INTERVAL (and on SIGUSR1)
  -metrics ADDR:PORT       serve Prometheus metrics at http://ADDR:PORT/metrics
  -log text|json           log format on stderr (default text)
`

// run is the daemon: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stderr, usage)
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "gretun:", err)
		return exitUsage
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1)
	defer signal.Stop(sigs)

	log := exampleutil.NewLogger(o.log, stderr, slog.LevelInfo)
	d, err := start(o, log)
	if err != nil {
		log.Error("setup failed", "err", err)
		return exitSetup
	}
	if o.metrics != "" {
		m, err := serveMetrics(o.metrics, d.eng, log)
		if err != nil {
			d.eng.Close()
			log.Error("setup failed", "metrics", o.metrics, "err", err)
			return exitSetup
		}
		defer m.Close()
	}
	fmt.Fprintln(stdout, d.t)
	if c := d.t.Config(); c.Keepalive.Period > 0 {
		log.Info("keepalives", "tunnel", c.Name, "period", c.Keepalive.Period.String(), "retries", c.Keepalive.Retries)
	}

	var tick <-chan time.Time
	if o.stats > 0 {
		tk := time.NewTicker(o.stats)
		defer tk.Stop()
		tick = tk.C
	}
	for done := false; !done; {
		select {
		case <-tick:
			d.printStats(stdout)
		case s := <-sigs:
			if s == syscall.SIGUSR1 {
				d.printStats(stdout)
				continue
			}
			done = true
		}
	}
	err = d.eng.Close() // closes the sockets and the TUN device
	d.printStats(stdout)
	if err != nil {
		log.Warn("close", "err", err)
	}
	return exitOK
}

// daemon is a running tunnel.
type daemon struct {
	eng *tunnel.Engine
	t   *tunnel.Tunnel
	dev device
}

// device is the overlay gretun opens: a TUN device, or for gretap a TAP
// device (Ethernet frames).
type device interface {
	tunnel.Overlay
	SetMTU(mtu int) error
}

// start opens the underlay socket and the TUN device and adds the tunnel.
func start(o *options, log *slog.Logger) (*daemon, error) {
	c := o.cfg
	v6 := c.Mode.OuterFamily() == 6 || c.Local.Is6() || c.Remote.Is6()

	// The underlay's MTU and, for local any, the source address come from
	// the link (-dev) or the route to the remote.
	ulMTU, src, err := underlayInfo(c.Link, c.Remote)
	if err != nil {
		return nil, err
	}
	// With local any the socket is bound to no address: it takes packets
	// sent to every address of the host.
	local, recv := c.Local, []netip.Addr{c.Local}
	if !local.IsValid() || local.IsUnspecified() {
		local, recv = src, hostAddrs(c.Mode, v6)
	}
	warnKeyless(log, &c, recv)

	eng := tunnel.NewEngine(tunnel.EngineConfig{Logger: log, PathMTUExpiry: o.pmtuExp})
	ok := false
	defer func() {
		if !ok {
			eng.Close()
		}
	}()
	ul := tunnel.UnderlayConfig{Name: c.Link, MTU: ulMTU}
	if ul.Name == "" {
		ul.Name = "wire"
	}
	if local.IsValid() {
		ul.Local = []netip.Addr{local}
	}
	var u tunnel.Underlay
	if c.Mode.Framing() == tunnel.FramingUDP {
		bind := netip.AddrPortFrom(c.Local, o.lport)
		if !c.Local.IsValid() {
			bind = netip.AddrPortFrom(netip.IPv4Unspecified(), o.lport)
			if v6 {
				bind = netip.AddrPortFrom(netip.IPv6Unspecified(), o.lport)
			}
		}
		u, err = udp.Open(udp.Config{Local: bind, Link: c.Link})
	} else {
		bind := c.Local
		if bind.IsValid() && bind.IsUnspecified() {
			bind = netip.Addr{}
		}
		u, err = rawsock.Open(rawsock.Config{Proto: c.Mode.IPProto(), IPv6: v6, Local: bind, Link: c.Link})
	}
	if err != nil {
		return nil, err
	}
	if err := eng.AddUnderlay(u, ul); err != nil {
		u.Close()
		return nil, err
	}
	var dev device
	dc := tundev.Config{Name: c.Name, MTU: c.MTU, Addrs: o.addrs, Routes: o.routes}
	if c.Mode == tunnel.ModeGRETap {
		dev, err = tundev.OpenTAP(dc) // Ethernet frames: a TAP device
	} else {
		dev, err = tundev.Open(dc)
	}
	if err != nil {
		return nil, err
	}
	t, err := eng.Add(c, dev) // a failed Add closes dev
	if err != nil {
		return nil, err
	}
	log.Info("tunnel added", "tunnel", t.Name(), "config", t.String())
	if err := dev.SetMTU(t.MTU()); err != nil {
		return nil, err
	}
	ok = true
	return &daemon{eng: eng, t: t, dev: dev}, nil
}

// keylessWarning is what gretun logs at start, at level Warn, for a GRE
// tunnel without an input key that takes packets on an address other
// networks may reach: only the outer source address (and, with remote
// any, not even that) tells its packets from anyone else's.
const keylessWarning = "keyless GRE tunnel on a public address: any host can inject packets; set -key"

// warnKeyless logs keylessWarning once when c is a GRE mode without an
// input key (-key or -ikey) and one of addrs, the addresses the tunnel
// takes packets on, is public (see publicAddr).
func warnKeyless(log *slog.Logger, c *tunnel.Config, addrs []netip.Addr) {
	if c.Mode.IPProto() != outer.ProtoGRE || c.IKey.Set {
		return
	}
	if a, ok := publicAddr(addrs); ok {
		log.Warn(keylessWarning, "tunnel", c.Name, "local", addrOrAny(a))
	}
}

// publicAddr returns the first of addrs that is neither private (RFC 1918,
// RFC 4193), loopback nor link-local: an address other networks may reach.
// An invalid or unspecified address stands for every address of the host
// and counts as public. Documentation addresses (192.0.2.0/24,
// 2001:db8::/32) count as public too: they stand for public ones.
func publicAddr(addrs []netip.Addr) (netip.Addr, bool) {
	for _, a := range addrs {
		a = a.Unmap()
		if !a.IsValid() || !(a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast()) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// hostAddrs returns the host's addresses of the outer family of a tunnel
// with local any, whose socket is bound to no address and takes packets
// sent to any of them (both families for an IPv6 GRE-in-UDP socket, which
// takes IPv4 too). When they cannot be listed it returns the invalid
// address, which stands for all of them.
func hostAddrs(m tunnel.Mode, v6 bool) []netip.Addr {
	fam := netlink.FAMILY_V4
	switch {
	case v6 && m.Framing() == tunnel.FramingUDP:
		fam = netlink.FAMILY_ALL
	case v6:
		fam = netlink.FAMILY_V6
	}
	list, err := netlink.AddrList(nil, fam)
	if err != nil {
		return []netip.Addr{{}}
	}
	addrs := make([]netip.Addr, 0, len(list))
	for _, a := range list {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			addrs = append(addrs, ip.Unmap())
		}
	}
	return addrs
}

// addrOrAny formats a, "any" for the invalid or unspecified address.
func addrOrAny(a netip.Addr) string {
	if !a.IsValid() || a.IsUnspecified() {
		return "any"
	}
	return a.String()
}

// underlayInfo returns the MTU of link, or of the route to remote (the
// route's own MTU, else its device's), and the route's preferred source
// address; 1500 and no address when there is neither.
func underlayInfo(link string, remote netip.Addr) (mtu int, src netip.Addr, err error) {
	mtu = 1500
	if link != "" {
		l, err := netlink.LinkByName(link)
		if err != nil {
			return 0, netip.Addr{}, fmt.Errorf("dev %s: %w", link, err)
		}
		mtu = l.Attrs().MTU
	}
	if !remote.IsValid() || remote.IsUnspecified() || remote.IsMulticast() {
		return mtu, netip.Addr{}, nil
	}
	routes, err := netlink.RouteGet(remote.AsSlice())
	if err != nil || len(routes) == 0 {
		return mtu, netip.Addr{}, nil // no route yet: the defaults
	}
	r := routes[0]
	if src, _ = netip.AddrFromSlice(r.Src); remote.Is4() {
		src = src.Unmap() // net.IP keeps IPv4 in 16 bytes
	}
	if link == "" {
		switch l, err := netlink.LinkByIndex(r.LinkIndex); {
		case r.MTU > 0:
			mtu = r.MTU
		case err == nil:
			mtu = l.Attrs().MTU
		}
	}
	return mtu, src, nil
}

// printStats prints the counters as `ip -s tunnel show` does, with a third
// line for the drop counters iproute2 folds into Errors and the engine's
// packets that no tunnel took, and with keepalives or -reflect a fourth
// for the line protocol and the keepalive counters; in one write.
func (d *daemon) printStats(w io.Writer) {
	s, e := d.t.Stats(), d.eng.Stats()
	var b strings.Builder
	fmt.Fprintf(&b, "%v\n"+
		"    RX: %-10s %-10s %-8s %-8s %-8s %s\n"+
		"        %-10d %-10d %-8d %-8d %-8d %d\n"+
		"    TX: %-10s %-10s %-8s %-8s %-8s %s\n"+
		"        %-10d %-10d %-8d %-8d %-8d %d\n"+
		"    rx_frame %d rx_dropped %d rx_ecn_alarms %d tx_toobig %d tx_invalid %d tx_icmp %d tx_fragmented %d no_tunnel %d\n",
		d.t,
		"Packets", "Bytes", "Errors", "CsumErrs", "OutOfSeq", "Mcasts",
		s.RxPackets, s.RxBytes, s.RxErrors, s.RxCsumErrors, s.RxOutOfSeq, s.RxMulticast,
		"Packets", "Bytes", "Errors", "DeadLoop", "NoRoute", "NoBufs",
		s.TxPackets, s.TxBytes, s.TxErrors, s.TxDeadLoop, s.TxNoRoute, s.TxNoBufs,
		s.RxFrameErrors, s.RxDropped, s.RxECNAlarms, s.TxTooBig, s.TxInvalid, s.TxICMP, s.TxFragmented, e.RxNoTunnel)
	if c := d.t.Config(); c.Keepalive.Period > 0 || c.Reflect.Enable {
		fmt.Fprintf(&b, "    line_protocol %s keepalives_sent %d keepalive_replies %d line_changes %d keepalives_reflected %d reflect_refused %d\n",
			lineState(d.t.LineUp()), s.KeepalivesSent, s.KeepaliveReplies, s.LineChanges, s.KeepalivesReflected, s.ReflectRefused)
	}
	io.WriteString(w, b.String())
}
