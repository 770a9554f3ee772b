package tunnel

import (
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/ipencap/ipencap/demux"
	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/ipip"
	"github.com/ipencap/ipencap/mobile"
)

// encapsulator is what every mode's Encapsulator offers: gre, ipip and
// mobile alike.
type encapsulator interface {
	Overhead() int
	Encap(b []byte, off int) (start int, err error)
}

var (
	_ encapsulator = (*gre.Encapsulator)(nil)
	_ encapsulator = (*ipip.Encapsulator)(nil)
	_ encapsulator = (*mobile.Encapsulator)(nil)
)

// Tunnel is one tunnel of an [Engine], made by [Engine.Add].
type Tunnel struct {
	// What the receive and send paths read for every packet comes first,
	// with the rx counters behind it, so that a packet for a tunnel out of
	// the cache (a hub's random spoke) costs as few cache lines as can be.
	row    *modeInfo // the mode's facts
	over   Overlay   // its own, or the shared overlay's
	shared *sharedOverlay
	seq    *rxSeq     // nil: no iseq
	ka     *keepalive // nil: no keepalives
	refl   *reflector // nil: no reflection
	fdb    *fdb       // nil: no MAC learning (only broadcast gretap learns)
	ul     *underlay
	enc    encapsulator // nil: the tunnel does not send (remote any, fallback)
	shape  *shaper      // nil: not shaped
	group  bool         // the remote is a multicast group (broadcast tunnel)
	icsum  bool         // Config.ICsum
	roams  bool         // Config.Roam
	route0 netip.Prefix // Config.Routes[0], for the source check of a shared overlay
	mtu    atomic.Int32 // the tunnel MTU, lowered by path-MTU reports
	port   uint16       // the GRE-in-UDP port (Config.port), for the loop guard
	peer   netip.AddrPort
	neigh  neighbors // the neighbour table of an NBMA tunnel
	stats  counters

	cfg      Config
	e        *Engine
	log      *slog.Logger // the engine's, with the tunnel's name; nil: silent
	id       demux.ID
	id2      demux.ID // hasID2: a broadcast tunnel's entry for unicast from its members
	hasID2   bool
	local    netip.Addr // the resolved local address (zero: any, with FramingUDP)
	base     int        // the MTU from the configuration
	ovh      int        // the encapsulation overhead
	lineDown atomic.Bool
	roamPeer peerCell  // the current peer of a roaming tunnel
	roam     roamState // a roaming tunnel's candidate peer

	pmtuExpiry *pmtuTimer // restores the configured MTU; nil until a report lowered it (guarded by e.mu)

	done chan struct{}
	wg   sync.WaitGroup
}

func newTunnel(e *Engine, cfg Config, ul *underlay, over Overlay) (*Tunnel, error) {
	row := cfg.Mode.info()
	t := &Tunnel{cfg: cfg, row: row, e: e, ul: ul, over: over, done: make(chan struct{}), icsum: cfg.ICsum, roams: cfg.Roam,
		port: cfg.port()}
	if len(cfg.Routes) > 0 {
		t.route0 = cfg.Routes[0]
	}
	if e.log != nil {
		t.log = e.log.With("tunnel", cfg.Name)
	}
	v6 := row.family == 6 || cfg.Local.Is6() || cfg.Remote.Is6()
	fam := demux.IPv4
	if v6 {
		fam = demux.IPv6
	}
	t.id = demux.ID{Class: row.class, Family: fam, Fallback: cfg.Fallback}
	if !cfg.Fallback {
		t.id.Local, t.id.Remote = cfg.Local, cfg.Remote
		if cfg.Roam {
			t.id.Remote = netip.Addr{} // packets from a new source must still find the tunnel
		}
		t.id.Key, t.id.HasKey = uint32(cfg.IKey.Value), cfg.IKey.Set
		if cfg.Link != "" {
			t.id.Link = ul.link
		}
		if cfg.Remote.IsMulticast() {
			// A broadcast tunnel receives what is sent to the group (the
			// demux's group entry) and what its members send to its own
			// address once they know it (unicast to a learnt MAC address,
			// or through a neighbour entry).
			t.group = true
			t.id2, t.hasID2 = t.id, true
			t.id2.Remote = netip.Addr{}
		}
	}
	if t.group && row.carries == carriesEthernet {
		t.fdb = newFDB(&cfg)
	}
	t.local = cfg.Local
	if isAny(t.local) {
		t.local = ul.localFor(v6)
	}
	t.ovh = row.overhead(&cfg, v6, ul.headerLen(v6))
	if !cfg.Fallback && !isAny(cfg.Remote) {
		if ul.framing == FramingIP && !t.local.IsValid() {
			return nil, &ConfigError{Tunnel: cfg.Name, Field: "local", Value: "any", Err: ErrConfigLocal}
		}
		enc, err := t.newEncapsulator(cfg.Remote)
		if err != nil {
			return nil, &ConfigError{Tunnel: cfg.Name, Field: "encap", Err: err}
		}
		t.enc = enc
		port := uint16(0)
		if row.framing == FramingUDP {
			port = cfg.port()
		}
		t.peer = netip.AddrPortFrom(cfg.Remote, port)
		t.roamPeer.store(t.peer)
	}
	t.base = cfg.MTU
	if t.base == 0 {
		t.base = ul.mtu - t.ovh
	}
	if t.base < row.minMTU() || t.base+t.ovh > MaxPacket {
		return nil, &ConfigError{Tunnel: cfg.Name, Field: "mtu", Value: strconv.Itoa(t.base), Err: ErrConfigMTU}
	}
	t.mtu.Store(int32(t.base))
	if cfg.Keepalive.Period > 0 {
		if !t.local.Is4() || t.enc == nil {
			return nil, &ConfigError{Tunnel: cfg.Name, Field: "keepalive", Value: "local " + addrText(t.local), Err: ErrConfigKeepalive}
		}
		t.ka = newKeepalive(&cfg)
	}
	if cfg.Reflect.Enable {
		t.refl = newReflector(cfg.Reflect.AnySource)
	}
	if cfg.Shape.Rate > 0 {
		t.shape = newShaper(&cfg, ul.mtu)
	}
	if cfg.ISeq {
		s, err := newRxSeq(t, &cfg)
		if err != nil {
			return nil, &ConfigError{Tunnel: cfg.Name, Field: "reorder", Value: strconv.Itoa(cfg.Seq.Reorder), Err: err}
		}
		t.seq = s
	}
	return t, nil
}

// outer6 reports whether the tunnel's outer packets are IPv6.
func (t *Tunnel) outer6() bool { return t.id.Family == demux.IPv6 }

// newEncapsulator returns an Encapsulator of the tunnel's mode and options
// addressed to remote: Config.Remote, or a neighbour's outer address.
func (t *Tunnel) newEncapsulator(remote netip.Addr) (encapsulator, error) {
	return t.row.newEnc(t.cfg.outerConfig(t.local, remote), &t.cfg, t.row)
}

// Name returns the tunnel's name.
func (t *Tunnel) Name() string { return t.cfg.Name }

// Config returns the tunnel's configuration.
func (t *Tunnel) Config() Config { return t.cfg.clone() }

// String formats the tunnel as `ip tunnel show` does (see [Config.String]).
func (t *Tunnel) String() string { return t.cfg.String() }

// Stats returns the tunnel's counters.
func (t *Tunnel) Stats() Stats { return t.stats.snapshot() }

// MTU returns the tunnel MTU: the largest inner packet it sends without
// fragmenting or refusing it.
func (t *Tunnel) MTU() int { return int(t.mtu.Load()) }

// Overhead returns the bytes the tunnel adds in front of each inner packet
// (the UDP and IP headers of GRE-in-UDP included).
func (t *Tunnel) Overhead() int { return t.ovh }

// start starts the tunnel's goroutines.
func (t *Tunnel) start() {
	if t.shared == nil { // a shared overlay has its own reader
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.sendLoop()
		}()
	}
	if t.seq != nil && t.seq.reorder != nil {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.seq.timerLoop(t.done)
		}()
	}
	if t.shape != nil && t.shape.q != nil {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.shapeLoop()
		}()
	}
	if t.ka != nil && !t.e.manualTicks {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.keepaliveLoop()
		}()
	}
}

// stop stops the goroutines, closes the overlay and drops what the reorder
// buffer holds.
func (t *Tunnel) stop() {
	close(t.done)
	if t.shared == nil {
		_ = t.over.Close()
	}
	t.wg.Wait()
	t.drainShaped()
	if t.seq != nil {
		t.seq.stop()
	}
	t.e.mu.Lock()
	if t.pmtuExpiry != nil {
		t.pmtuExpiry.timer.Stop()
	}
	t.e.mu.Unlock()
}
