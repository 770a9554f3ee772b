package tunnel

import (
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ipencap/ipencap/demux"
)

// DefaultMaxNesting bounds how many tunnel headers an inner packet may
// already carry before the engine refuses to add another (a packet looping
// through nested tunnels grows by one header per turn).
const DefaultMaxNesting = 4

// EngineConfig configures an [Engine]. The zero value is ready to use.
type EngineConfig struct {
	// Logger receives the engine's rare events (underlay errors, tunnels
	// added and removed, line protocol changes, roaming), never one per
	// packet, and failures of an underlay or overlay at most once a
	// second; nil is silent. Each tunnel logs through it with a "tunnel"
	// attribute.
	Logger *slog.Logger
	// OnLineChange, when not nil, is called when a tunnel's line protocol
	// goes down or comes back up (see [KeepaliveConfig]). Calls for one
	// tunnel are serialised and made from its keepalive timer or a
	// receive goroutine, so it must return quickly; it may call LineUp
	// and Stats.
	OnLineChange func(t *Tunnel, up bool)
	// MaxNesting bounds the tunnel headers an inner packet may already
	// carry (see [Stats.TxDeadLoop]); 0 means [DefaultMaxNesting].
	MaxNesting int
	// MinPathMTU is the smallest IPv4 path MTU a report can set
	// ([Engine.PathMTU]); 0 means [DefaultMinPathMTU] (552, Linux's
	// min_pmtu). At least 68.
	MinPathMTU int
	// PathMTUExpiry is how long a learnt path MTU holds; 0 means
	// [DefaultPathMTUExpiry] (10 minutes).
	PathMTUExpiry time.Duration
}

// UnderlayConfig describes an Underlay to [Engine.AddUnderlay]. What an
// Underlay tells itself through the optional interfaces ([UnderlayFraming],
// [UnderlayAddrs]) need not be given here.
type UnderlayConfig struct {
	// Name is the underlay's link name; a tunnel binds to it with
	// Config.Link (`dev LINK`). Names are unique in an engine.
	Name string
	// Framing says what the underlay's packets hold, for an Underlay that
	// does not implement [UnderlayFraming] (an in-memory pipe); one that
	// does decides it, and a different value here is refused.
	Framing Framing
	// MTU is the largest outer packet the underlay carries (for FramingUDP:
	// the largest IP packet, UDP and IP headers included); 0 means 1500.
	// A tunnel's default MTU is this less the tunnel's overhead.
	MTU int
	// Local are the underlay's own addresses: a tunnel with local any
	// sends from the first of the family, and with FramingUDP the first of
	// a packet's family is its outer destination for the tunnel lookup.
	// Empty: the Underlay's own, if it implements [UnderlayAddrs].
	Local []netip.Addr
}

// underlay is an Underlay the engine reads from, with what it is known
// to be.
type underlay struct {
	u       Underlay
	cfg     UnderlayConfig
	framing Framing
	mtu     int
	hdr     UnderlayHeaders // nil: the framing's default header lengths
	log     *slog.Logger    // the engine's, with the underlay's name; nil: silent
	link    int             // demux link index: position + 1
}

// headerLen is what the underlay adds in front of what it is given, as a
// tunnel's MTU counts it: for FramingUDP the IP and UDP headers (unless the
// Underlay says otherwise), nothing for FramingIP.
func (ul *underlay) headerLen(v6 bool) int {
	switch {
	case ul.hdr != nil:
		return ul.hdr.HeaderLen(v6)
	case ul.framing == FramingUDP:
		return ipHeaderLen(v6) + udpHeaderLen
	}
	return 0
}

// udpHeaderLen is the length of a UDP header (RFC 768).
const udpHeaderLen = 8

// localFor returns the underlay's first address of the family of a, or the
// zero Addr.
func (ul *underlay) localFor(v6 bool) netip.Addr {
	for _, l := range ul.cfg.Local {
		if l.Is6() == v6 {
			return l
		}
	}
	return netip.Addr{}
}

// Engine runs tunnels: it owns underlays, tunnels with their overlays, and
// the demux table that maps received packets to tunnels, as the Linux
// tunnel drivers do. Each underlay has one receive goroutine (batch read,
// outer.Parse, demux lookup, the tunnel's checks, batch write to the
// tunnel's overlay); each tunnel has one send goroutine (batch read from
// its overlay, checks, Encap in place, batch write to its underlay).
// Several tunnels share an underlay, as kernel tunnels share one protocol
// handler.
//
// Buffers come from a pool and nothing on the per-packet paths allocates.
// Tunnels can be added and removed while traffic flows. All methods are
// safe for concurrent use.
type Engine struct {
	cfg   EngineConfig
	table *demux.Table[*Tunnel]
	stats engineCounters
	log   *slog.Logger
	// now is the clock of the reorder buffers, the FDB's ageing and the
	// reflector's rate limit: time.Now (the package's tests set another,
	// export_test.go). manualTicks starts no keepalive timers (those tests
	// tick by hand).
	now         func() time.Time
	manualTicks bool
	minPMTU     int
	pmtuExpiry  time.Duration

	mu        sync.Mutex
	tunnels   map[string]*Tunnel
	underlays []*underlay
	overlays  map[string]*sharedOverlay
	byRemote  map[netip.Addr]map[Key][]*Tunnel // the path-MTU index: tunnels by remote and okey
	roaming   map[*Tunnel]struct{}             // roaming tunnels, whose remote moves
	pmtuQ     chan pmtuJob
	noTunnel  *noTunnelLog
	closed    bool
	done      chan struct{} // closed by Close
	wg        sync.WaitGroup
}

// Errors of the Engine's methods, matchable with [errors.Is].
var (
	// ErrClosed is returned by the methods of a closed Engine; it matches
	// [net.ErrClosed].
	ErrClosed = fmt.Errorf("tunnel: engine closed: %w", net.ErrClosed)
	// ErrNotFound means no tunnel of that name ([Engine.Remove]).
	ErrNotFound = errors.New("tunnel: no such tunnel")
	// ErrUnderlayExists means an underlay of that name was added already
	// ([Engine.AddUnderlay]).
	ErrUnderlayExists = errors.New("tunnel: underlay exists")
	// ErrUnderlay means an underlay that [Engine.AddUnderlay] refuses: an
	// MTU out of range, or a Framing that contradicts what the Underlay
	// says of itself.
	ErrUnderlay = errors.New("tunnel: bad underlay")
	// ErrOverlayExists means a shared overlay of that name was added
	// already, or an empty name ([Engine.AddOverlay]).
	ErrOverlayExists = errors.New("tunnel: overlay exists or has no name")
)

// NewEngine returns an Engine with no underlay and no tunnel.
func NewEngine(cfg EngineConfig) *Engine {
	if cfg.MaxNesting == 0 {
		cfg.MaxNesting = DefaultMaxNesting
	}
	e := &Engine{cfg: cfg, log: cfg.Logger, now: time.Now, table: demux.New[*Tunnel](), tunnels: map[string]*Tunnel{}, overlays: map[string]*sharedOverlay{}, done: make(chan struct{}),
		byRemote: map[netip.Addr]map[Key][]*Tunnel{}, roaming: map[*Tunnel]struct{}{}, pmtuQ: make(chan pmtuJob, 64), noTunnel: newNoTunnelLog(),
		minPMTU: max(cfg.MinPathMTU, 68), pmtuExpiry: cfg.PathMTUExpiry}
	if cfg.MinPathMTU == 0 {
		e.minPMTU = DefaultMinPathMTU
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.pmtuLoop()
	}()
	if e.pmtuExpiry <= 0 {
		e.pmtuExpiry = DefaultPathMTUExpiry
	}
	return e
}

// AddUnderlay adds u and starts reading from it. The engine owns u from
// then on: [Engine.Close] closes it. u's WriteBatch must be safe for
// concurrent use (every tunnel on it sends from its own goroutine). What
// u says of itself through the optional interfaces is used: its framing
// ([UnderlayFraming]), the headers it adds ([UnderlayHeaders]), its
// addresses ([UnderlayAddrs], when cfg.Local is empty), and the engine
// registers [Engine.PathMTU] for the path MTUs it learns
// ([UnderlayPathMTU]). Errors: [ErrClosed], [ErrUnderlayExists] and
// [ErrUnderlay], wrapped with the underlay's name.
func (e *Engine) AddUnderlay(u Underlay, cfg UnderlayConfig) error {
	if u == nil {
		return fmt.Errorf("underlay %q: nil: %w", cfg.Name, ErrUnderlay)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	if cfg.Name == "" {
		cfg.Name = "underlay" + strconv.Itoa(len(e.underlays))
	}
	fail := func(what string, err error) error {
		return fmt.Errorf("underlay %q: %s%w", cfg.Name, what, err)
	}
	for _, ul := range e.underlays {
		if ul.cfg.Name == cfg.Name {
			return fail("", ErrUnderlayExists)
		}
	}
	if cfg.MTU < 0 || cfg.MTU > MaxPacket {
		return fail("mtu "+strconv.Itoa(cfg.MTU)+": ", ErrUnderlay)
	}
	ul := &underlay{u: u, cfg: cfg, framing: cfg.Framing, mtu: cfg.MTU, link: len(e.underlays) + 1}
	if f, ok := u.(UnderlayFraming); ok {
		if cfg.Framing != FramingIP && cfg.Framing != f.Framing() {
			return fail("framing "+cfg.Framing.String()+" (the underlay says "+f.Framing().String()+"): ", ErrUnderlay)
		}
		ul.framing = f.Framing()
	}
	if ul.mtu == 0 {
		ul.mtu = 1500
	}
	ul.hdr, _ = u.(UnderlayHeaders)
	if e.log != nil {
		ul.log = e.log.With("underlay", cfg.Name)
	}
	if a, ok := u.(UnderlayAddrs); ok && len(cfg.Local) == 0 {
		cfg.Local = a.LocalAddrs()
	}
	ul.cfg.Local = slices.Clone(cfg.Local)
	if p, ok := u.(UnderlayPathMTU); ok {
		p.SetPathMTUHandler(e.queuePathMTU)
	}
	e.underlays = append(e.underlays, ul)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.receiveLoop(ul)
	}()
	return nil
}

// underlayFor picks the underlay of a tunnel: the one named Link, or the
// first of the framing its mode needs. e.mu is held.
func (e *Engine) underlayFor(c *Config) (*underlay, error) {
	want := c.Mode.Framing()
	for _, ul := range e.underlays {
		if (c.Link == "" || ul.cfg.Name == c.Link) && ul.framing == want {
			return ul, nil
		}
	}
	v := c.Link
	if v == "" {
		v = "(" + want.String() + ")"
	}
	return nil, &ConfigError{Tunnel: c.Name, Field: "dev", Value: v, Err: ErrConfigLink}
}

// Add validates cfg, creates the tunnel, and starts sending what over
// gives it. The engine owns over from then on: Remove and Close close it.
// Errors are [*ConfigError] values: those of [Config.Validate], a name in
// use, a Link naming no underlay, a duplicate of another tunnel's mode,
// local, remote and ikey ([ErrConfigDuplicate]).
func (e *Engine) Add(cfg Config, over Overlay) (*Tunnel, error) {
	t, err := e.add(cfg, over)
	if err != nil && over != nil {
		_ = over.Close() // the engine owns over from the call on, whatever it returns
	}
	return t, err
}

func (e *Engine) add(cfg Config, over Overlay) (*Tunnel, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	if _, ok := e.tunnels[cfg.Name]; ok {
		return nil, &ConfigError{Tunnel: cfg.Name, Field: "name", Value: cfg.Name, Err: ErrConfigName}
	}
	var so *sharedOverlay
	switch {
	case cfg.Overlay != "" && over != nil:
		return nil, &ConfigError{Tunnel: cfg.Name, Field: "overlay", Value: cfg.Overlay, Err: ErrConfigOverlay}
	case cfg.Overlay != "":
		if so = e.overlays[cfg.Overlay]; so == nil {
			return nil, &ConfigError{Tunnel: cfg.Name, Field: "overlay", Value: cfg.Overlay, Err: ErrConfigOverlay}
		}
		over = so.over
	case over == nil:
		return nil, &ConfigError{Tunnel: cfg.Name, Field: "overlay", Value: "nil", Err: ErrConfigOverlay}
	}
	ul, err := e.underlayFor(&cfg)
	if err != nil {
		return nil, err
	}
	t, err := newTunnel(e, cfg.clone(), ul, over)
	if err != nil {
		return nil, err
	}
	t.shared = so
	if so != nil {
		if err := so.addRoutes(t); err != nil {
			return nil, err
		}
	}
	ok := false
	defer func() {
		if !ok && so != nil {
			so.removeRoutes(t)
		}
	}()
	if err := e.table.Add(demux.Entry[*Tunnel]{ID: t.id, Up: true, Value: t}); err != nil {
		if errors.Is(err, demux.ErrExists) && cfg.Fallback {
			return nil, &ConfigError{Tunnel: cfg.Name, Field: "fallback", Err: ErrConfigFallback}
		}
		if errors.Is(err, demux.ErrExists) {
			other := "?"
			if old, ok := e.table.Get(t.id); ok {
				other = old.Value.cfg.Name
			}
			return nil, &ConfigError{Tunnel: cfg.Name, Field: "remote", Value: addrText(cfg.Remote) + " (tunnel " + strconv.Quote(other) + ")", Err: ErrConfigDuplicate}
		}
		return nil, &ConfigError{Tunnel: cfg.Name, Field: "remote", Value: addrText(cfg.Remote), Err: err}
	}
	if t.hasID2 {
		if err := e.table.Add(demux.Entry[*Tunnel]{ID: t.id2, Up: true, Value: t}); err != nil {
			_ = e.table.Remove(t.id)
			other := "?"
			if old, ok := e.table.Get(t.id2); ok {
				other = old.Value.cfg.Name
			}
			return nil, &ConfigError{Tunnel: cfg.Name, Field: "local", Value: addrText(cfg.Local) + " (tunnel " + strconv.Quote(other) + ")", Err: ErrConfigDuplicate}
		}
	}
	e.tunnels[cfg.Name] = t
	e.index(t)
	if so != nil {
		so.n++
	}
	ok = true
	t.start()
	if e.log != nil {
		e.log.Debug("tunnel added", "tunnel", t.cfg.Name, "config", t.String())
	}
	return t, nil
}

// AddOverlay adds over as a shared overlay named cfg.Name and starts
// reading from it: tunnels added with Config.Overlay = cfg.Name send what
// it gives them, each packet to the tunnel whose Config.Routes hold its
// destination (longest prefix), and deliver into it what they receive,
// from sources their Routes hold. One goroutine reads the overlay,
// whatever the number of tunnels: a hub terminates many spokes behind one
// TUN device. The engine owns over from the call on (Close closes it,
// and AddOverlay closes it when it fails). Errors: [ErrClosed],
// [ErrOverlayExists].
func (e *Engine) AddOverlay(over Overlay, cfg OverlayConfig) error {
	if over == nil {
		return fmt.Errorf("overlay %q: nil: %w", cfg.Name, ErrConfigOverlay)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	fail := func(err error) error {
		_ = over.Close()
		return err
	}
	if e.closed {
		return fail(ErrClosed)
	}
	if cfg.Name == "" || e.overlays[cfg.Name] != nil {
		return fail(fmt.Errorf("overlay %q: %w", cfg.Name, ErrOverlayExists))
	}
	so := &sharedOverlay{name: cfg.Name, over: over}
	if e.log != nil {
		so.log = e.log.With("overlay", cfg.Name)
	}
	e.overlays[cfg.Name] = so
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		(&sender{e: e, over: over, route: so.route, log: so.log, done: e.done}).run()
	}()
	return nil
}

// Remove stops the tunnel named name, closes its overlay and waits for its
// goroutines to return. Packets it still held (in the reorder buffer) are
// counted as RxDropped. It returns [ErrNotFound] when there is no such
// tunnel.
func (e *Engine) Remove(name string) error {
	e.mu.Lock()
	t, ok := e.tunnels[name]
	if ok {
		delete(e.tunnels, name)
		e.unindex(t)
		_ = e.table.Remove(t.id)
		if t.hasID2 {
			_ = e.table.Remove(t.id2)
		}
		if t.shared != nil {
			t.shared.removeRoutes(t)
			t.shared.n--
		}
	}
	e.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	t.stop()
	if e.log != nil {
		e.log.Debug("tunnel removed", "tunnel", name)
	}
	return nil
}

// Get returns the tunnel named name.
func (e *Engine) Get(name string) (*Tunnel, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.tunnels[name]
	return t, ok
}

// List returns the tunnels, sorted by name.
func (e *Engine) List() []*Tunnel {
	e.mu.Lock()
	ts := make([]*Tunnel, 0, len(e.tunnels))
	for _, t := range e.tunnels {
		ts = append(ts, t)
	}
	e.mu.Unlock()
	slices.SortFunc(ts, func(a, b *Tunnel) int {
		switch {
		case a.cfg.Name < b.cfg.Name:
			return -1
		case a.cfg.Name > b.cfg.Name:
			return 1
		}
		return 0
	})
	return ts
}

// All yields the engine's tunnels, in no particular order: for reading
// every tunnel's counters at a million tunnels, without List's sort. It
// takes a snapshot of the tunnels first (one slice of pointers), so the
// loop may call the engine's methods, Remove included.
func (e *Engine) All() iter.Seq[*Tunnel] {
	e.mu.Lock()
	ts := make([]*Tunnel, 0, len(e.tunnels))
	for _, t := range e.tunnels {
		ts = append(ts, t)
	}
	e.mu.Unlock()
	return slices.Values(ts)
}

// Find returns the tunnels that send to remote with okey (the zero Key:
// no key), as a hub looks a spoke up; roaming tunnels are not among them.
func (e *Engine) Find(remote netip.Addr, okey Key) []*Tunnel {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.byRemote[remote][okey])
}

// Stats returns the engine's own counters.
func (e *Engine) Stats() EngineStats { return e.stats.snapshot() }

// Close removes every tunnel (closing their overlays), closes the
// underlays, and returns when every goroutine of the engine has returned.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.done)
	names := make([]string, 0, len(e.tunnels))
	for n := range e.tunnels {
		names = append(names, n)
	}
	e.mu.Unlock()
	for _, n := range names {
		_ = e.Remove(n)
	}
	var first error
	for _, ul := range e.underlays {
		if err := ul.u.Close(); err != nil && first == nil && !errors.Is(err, net.ErrClosed) {
			first = err
		}
	}
	for _, so := range e.overlays {
		if err := so.over.Close(); err != nil && first == nil && !errors.Is(err, net.ErrClosed) {
			first = err
		}
	}
	e.wg.Wait()
	return first
}

func (e *Engine) isClosed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}
