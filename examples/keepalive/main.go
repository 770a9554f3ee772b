//go:build linux

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/outer"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/rawsock"
)

// Exit statuses.
const (
	exitOK    = 0
	exitSetup = 1
	exitUsage = 2
)

// timeFormat is the time in front of each line: RFC 3339, milliseconds.
const timeFormat = "2006-01-02T15:04:05.000Z07:00"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the flags.
type options struct {
	local, remote netip.Addr
	key           tunnel.Key
	period        time.Duration // 0: no monitoring (-reflect without -period)
	retries       int
	reflect       bool
	dev           string
}

const usage = `usage: keepalive -local ADDR -remote ADDR [-key K] [-period 10s] [-retries 5] [-dev LINK]
       keepalive -reflect -local ADDR -remote ADDR [-key K] [-period D] [-dev LINK]
  -local ADDR     this end's IPv4 address
  -remote ADDR    the peer's IPv4 address
  -key K          GRE key of the tunnel (number or dotted quad)
  -period D       keepalive period (10s, or 10 for seconds); with -reflect, default off
  -retries N      periods without a reply before the line protocol goes down (5)
  -reflect        answer the peer's keepalives
  -dev LINK       send and receive through LINK only
`

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("keepalive", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	local := fs.String("local", "", "this end's IPv4 `address`")
	remote := fs.String("remote", "", "the peer's IPv4 `address`")
	key := fs.String("key", "", "GRE `key`")
	var period time.Duration
	fs.Var(seconds{&period}, "period", "keepalive `period`")
	retries := fs.Int("retries", tunnel.DefaultKeepaliveRetries, "periods without a reply before the line goes down")
	reflect := fs.Bool("reflect", false, "answer the peer's keepalives")
	dev := fs.String("dev", "", "underlay `link`")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	o := &options{retries: *retries, reflect: *reflect, dev: *dev}
	for _, a := range []struct {
		name, text string
		dst        *netip.Addr
	}{{"local", *local, &o.local}, {"remote", *remote, &o.remote}} {
		if a.text == "" {
			return nil, fmt.Errorf("-%s is required", a.name)
		}
		v, err := netip.ParseAddr(a.text)
		if err != nil {
			return nil, fmt.Errorf("-%s %s: %w", a.name, a.text, err)
		}
		if !v.Is4() || !gre.Reflectable(v) {
			return nil, fmt.Errorf("-%s %s: want a unicast IPv4 address", a.name, a.text)
		}
		*a.dst = v
	}
	if *key != "" {
		k, err := gre.ParseKey(*key)
		if err != nil {
			return nil, fmt.Errorf("-key %s: %w", *key, err)
		}
		o.key = tunnel.KeyOf(k)
	}
	switch {
	case set["period"]:
		if period < 10*time.Millisecond {
			return nil, fmt.Errorf("-period %v: at least 10ms", period)
		}
		o.period = period
	case !o.reflect:
		o.period = tunnel.DefaultKeepalive
	}
	if o.retries < 1 || o.retries > 255 {
		return nil, fmt.Errorf("-retries %d: want 1 to 255", o.retries)
	}
	return o, nil
}

// seconds is a duration flag that also takes a number of seconds, as
// `keepalive 10 5` on a Cisco tunnel interface.
type seconds struct{ d *time.Duration }

func (s seconds) String() string {
	if s.d == nil {
		return "0s"
	}
	return s.d.String()
}

func (s seconds) Set(v string) error {
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		*s.d = time.Duration(n) * time.Second
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return errors.New("not a duration (10s) or a number of seconds")
	}
	*s.d = d
	return nil
}

// printer writes the timestamped lines; the engine's goroutines and main
// share it.
type printer struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *printer) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, time.Now().Format(timeFormat)+" "+format+"\n", args...)
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stderr, usage)
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "keepalive:", err)
		return exitUsage
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	out := &printer{w: stdout}
	m := &monitor{out: out, remote: o.remote}
	eng, t, err := start(o, m)
	if err != nil {
		fmt.Fprintln(stderr, "keepalive:", err)
		return exitSetup
	}
	if o.reflect {
		out.printf("reflecting keepalives from %v to %v", o.remote, o.local)
	}
	var tick <-chan time.Time
	if o.period > 0 {
		out.printf("monitoring %v from %v: keepalive %v, down after %d periods without a reply", o.remote, o.local, o.period, o.retries)
		// The engine reports changes; the first reply, which finds the
		// line already up, is reported from here.
		tk := time.NewTicker(min(max(o.period/4, 5*time.Millisecond), time.Second))
		defer tk.Stop()
		tick = tk.C
	}
	for done := false; !done; {
		select {
		case <-tick:
			m.poll(t)
		case <-sigs:
			done = true
		}
	}
	err = eng.Close()
	s := t.Stats()
	switch {
	case o.period > 0 && o.reflect:
		out.printf("%v line protocol %s: sent %d, replies %d, line changes %d; reflected %d, refused %d",
			o.remote, lineState(t.LineUp()), s.KeepalivesSent, s.KeepaliveReplies, s.LineChanges, s.KeepalivesReflected, s.ReflectRefused)
	case o.period > 0:
		out.printf("%v line protocol %s: sent %d, replies %d, line changes %d",
			o.remote, lineState(t.LineUp()), s.KeepalivesSent, s.KeepaliveReplies, s.LineChanges)
	default:
		out.printf("reflected %d, refused %d", s.KeepalivesReflected, s.ReflectRefused)
	}
	if err != nil {
		fmt.Fprintln(stderr, "keepalive: close:", err)
	}
	return exitOK
}

// start opens the raw socket and adds the tunnel, with m as its
// OnLineChange.
func start(o *options, m *monitor) (*tunnel.Engine, *tunnel.Tunnel, error) {
	eng := tunnel.NewEngine(tunnel.EngineConfig{OnLineChange: m.change})
	u, err := rawsock.Open(rawsock.Config{Proto: outer.ProtoGRE, Local: o.local, Link: o.dev,
		RcvBuf: 1 << 20, SndBuf: 1 << 20})
	if err != nil {
		return nil, nil, err
	}
	if err := eng.AddUnderlay(u, tunnel.UnderlayConfig{Name: "wire", Local: []netip.Addr{o.local}}); err != nil {
		u.Close()
		return nil, nil, err
	}
	cfg := tunnel.Config{Name: "keepalive", Mode: tunnel.ModeGRE, Local: o.local, Remote: o.remote,
		IKey: o.key, OKey: o.key, Keepalive: tunnel.KeepaliveConfig{Period: o.period, Retries: o.retries},
		Reflect: tunnel.ReflectConfig{Enable: o.reflect}}
	t, err := eng.Add(cfg, newDiscard())
	if err != nil {
		eng.Close()
		return nil, nil, err
	}
	return eng, t, nil
}

func lineState(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

// monitor prints the line protocol: the first reply, then each change.
type monitor struct {
	out    *printer
	remote netip.Addr
	mu     sync.Mutex
	seen   bool // a reply or a change has been reported
}

// change is the tunnel's OnLineChange.
func (m *monitor) change(t *tunnel.Tunnel, up bool) {
	s := t.Stats()
	m.mu.Lock()
	m.seen = true
	m.mu.Unlock()
	m.out.printf("%v line protocol %s (sent %d, replies %d)", m.remote, lineState(up), s.KeepalivesSent, s.KeepaliveReplies)
}

// poll reports the first reply if the line has not changed yet.
func (m *monitor) poll(t *tunnel.Tunnel) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen || t.Stats().KeepaliveReplies == 0 || !t.LineUp() {
		return
	}
	m.seen = true
	m.out.printf("%v line protocol up (first reply)", m.remote)
}

// discard is the tunnel's overlay: it never has a packet to send and
// drops what it is given (the peer's own traffic, if any).
type discard struct {
	closed chan struct{}
	once   sync.Once
}

func newDiscard() *discard { return &discard{closed: make(chan struct{})} }

func (d *discard) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	<-d.closed
	return 0, net.ErrClosed
}

func (d *discard) Write(bufs [][]byte, offset int) (int, error) {
	select {
	case <-d.closed:
		return 0, net.ErrClosed
	default:
		return len(bufs), nil
	}
}

func (d *discard) BatchSize() int    { return 1 }
func (d *discard) MTU() (int, error) { return 1500, nil }

func (d *discard) Close() error {
	d.once.Do(func() { close(d.closed) })
	return nil
}
