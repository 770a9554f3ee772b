package tunnel

import (
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipencap/ipencap/demux"
	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/ipip"
	"github.com/ipencap/ipencap/mobile"
	"github.com/ipencap/ipencap/outer"
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

// Demux classes of the modes; GRE-in-UDP gets a class of its own, so that
// it never meets GRE over IP.
const classGREInUDP demux.Class = 16

func (m Mode) class() demux.Class {
	switch m {
	case ModeGRE, ModeIP6GRE:
		return demux.ClassGRE
	case ModeGRETap:
		return demux.ClassGRETap
	case ModeIPIP:
		return demux.ClassIPIP
	case ModeSIT:
		return demux.ClassSIT
	case ModeIP6IP6, ModeIPIP6:
		return demux.ClassIP6
	case ModeMobile:
		return demux.ClassMobile
	}
	return classGREInUDP
}

// Tunnel is one tunnel of an [Engine], made by [Engine.Add].
type Tunnel struct {
	cfg    Config
	e      *Engine
	ul     *underlay
	over   Overlay
	enc    encapsulator // nil: the tunnel does not send (remote any, fallback)
	id     demux.ID
	id2    demux.ID // hasID2: a broadcast tunnel's entry for unicast from its members
	hasID2 bool
	group  bool           // the remote is a multicast group (broadcast tunnel)
	peer   netip.AddrPort // where packets go
	local  netip.Addr     // the resolved local address (zero: any, with FramingUDP)
	mtu    atomic.Int32   // the tunnel MTU, lowered by SetPathMTU
	base   int            // the MTU from the configuration
	ovh    int            // the encapsulation overhead
	stats  counters

	// Receive state, guarded by rxMu: the sequence window or reorder
	// buffer, and where the reorder buffer's deliveries go.
	rxMu      sync.Mutex
	window    gre.SeqWindow
	reorder   *gre.Reorder
	seqDrops  int
	sink      *pending
	cur       *byte // first byte of the buffer of the packet being pushed
	curTaken  bool  // the packet being pushed was delivered at once
	removed   bool
	deliverFn func(seq uint32, pkt []byte)
	timerPend pending
	kick      chan struct{}

	ka       *keepalive // nil: no keepalives
	lineDown atomic.Bool
	refl     *reflector // nil: no reflection
	shape    *shaper    // nil: not shaped
	roamPeer peerCell   // the current peer of a roaming tunnel
	neigh    neighbors  // the neighbour table of an NBMA tunnel
	fdb      *fdb       // nil: no MAC learning (only broadcast gretap learns)

	done chan struct{}
	wg   sync.WaitGroup
}

func newTunnel(e *Engine, cfg Config, ul *underlay, over Overlay) (*Tunnel, error) {
	t := &Tunnel{cfg: cfg, e: e, ul: ul, over: over, done: make(chan struct{})}
	v6 := cfg.Mode.outerFamily() == 6 || cfg.Local.Is6() || cfg.Remote.Is6()
	fam := demux.IPv4
	if v6 {
		fam = demux.IPv6
	}
	t.id = demux.ID{Class: cfg.Mode.class(), Family: fam, Fallback: cfg.Fallback}
	if !cfg.Fallback {
		t.id.Local, t.id.Remote = cfg.Local, cfg.Remote
		if cfg.Roam {
			t.id.Remote = netip.Addr{} // packets from a new source must still find the tunnel
		}
		if cfg.IKey != nil {
			t.id.Key, t.id.HasKey = uint32(*cfg.IKey), true
		}
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
	if t.group && cfg.Mode == ModeGRETap {
		t.fdb = newFDB(&cfg)
	}
	t.local = cfg.Local
	if isAny(t.local) {
		t.local = ul.localFor(v6)
	}
	sends := !cfg.Fallback && !isAny(cfg.Remote)
	if sends {
		if ul.cfg.Framing == FramingIP && !t.local.IsValid() {
			return nil, &ConfigError{Tunnel: cfg.Name, Field: "local", Value: "any", Err: ErrConfigLocal}
		}
		enc, err := t.newEncapsulator(cfg.Remote)
		if err != nil {
			return nil, &ConfigError{Tunnel: cfg.Name, Field: "encap", Err: err}
		}
		t.enc = enc
		t.ovh = enc.Overhead()
		if u, ok := enc.(udpOverhead); ok {
			t.ovh = u.mtuOverhead(v6)
		}
		port := uint16(0)
		if cfg.Mode == ModeGREInUDP {
			port = cfg.port()
		}
		t.peer = netip.AddrPortFrom(cfg.Remote, port)
		t.roamPeer.store(t.peer)
	} else {
		t.ovh = t.overheadOf(v6)
	}
	t.base = cfg.MTU
	if t.base == 0 {
		t.base = ul.mtu() - t.ovh
	}
	minMTU := 68
	if cfg.Mode.innerVersion() == 6 {
		minMTU = 1280
	}
	if t.base < minMTU || t.base+t.ovh > MaxPacket {
		return nil, &ConfigError{Tunnel: cfg.Name, Field: "mtu", Value: strconv.Itoa(t.base), Err: ErrConfigMTU}
	}
	t.mtu.Store(int32(t.base))
	if cfg.Keepalive > 0 {
		if !t.local.Is4() || t.enc == nil {
			return nil, &ConfigError{Tunnel: cfg.Name, Field: "keepalive", Value: "local " + addrText(t.local), Err: ErrConfigKeepalive}
		}
		t.ka = newKeepalive(&cfg)
	}
	if cfg.Reflect {
		t.refl = newReflector()
	}
	if cfg.ShapeRate > 0 {
		t.shape = newShaper(&cfg, ul.mtu())
	}
	if cfg.ISeq && cfg.Reorder > 0 {
		wait := cfg.ReorderWait
		if wait == 0 {
			wait = gre.DefaultReorderWait
		}
		r, err := gre.NewReorder(cfg.Reorder, wait)
		if err != nil {
			return nil, &ConfigError{Tunnel: cfg.Name, Field: "reorder", Value: strconv.Itoa(cfg.Reorder), Err: err}
		}
		t.reorder = r
		t.deliverFn = t.deliverReordered
		t.kick = make(chan struct{}, 1)
	}
	return t, nil
}

// outer6 reports whether the tunnel's outer packets are IPv6.
func (t *Tunnel) outer6() bool { return t.id.Family == demux.IPv6 }

// overheadOf is the overhead of a tunnel that does not send, for its
// default MTU.
func (t *Tunnel) overheadOf(v6 bool) int {
	ip := outer.IPv4HeaderLen
	if v6 {
		ip = outer.IPv6HeaderLen
	}
	g := 4
	if t.cfg.OKey != nil {
		g += 4
	}
	if t.cfg.OCsum {
		g += 4
	}
	if t.cfg.OSeq {
		g += 4
	}
	switch {
	case t.cfg.Mode == ModeGREInUDP:
		return ip + 8 + g
	case t.cfg.Mode.isGRE():
		return ip + g
	case t.cfg.Mode == ModeMobile:
		return mobile.MaxLen
	}
	return ip
}

// newEncapsulator returns an Encapsulator of the tunnel's mode and options
// addressed to remote: Config.Remote, or a neighbour's outer address.
func (t *Tunnel) newEncapsulator(remote netip.Addr) (encapsulator, error) {
	c := &t.cfg
	oc := outer.Config{Local: t.local, Remote: remote, TTL: c.TTL, TOS: c.TOS, InheritTOS: c.InheritTOS, NoPMTUDisc: c.NoPMTUDisc}
	switch c.Mode {
	case ModeIPIP, ModeSIT, ModeIP6IP6, ModeIPIP6:
		return ipip.NewEncapsulator(oc)
	case ModeMobile:
		return mobile.NewEncapsulator(mobile.Config{Local: t.local, Remote: remote})
	}
	gc := gre.Config{Checksum: c.OCsum, Seq: c.OSeq}
	if c.OKey != nil {
		gc.KeyPresent, gc.Key = true, *c.OKey
	}
	if c.Mode == ModeGRETap {
		gc.Protocol = gre.ProtoTEB
	}
	if c.Mode != ModeGREInUDP {
		gc.Outer = &oc
	}
	e, err := gre.NewEncapsulator(gc)
	if err != nil {
		return nil, err
	}
	if c.Mode == ModeGREInUDP {
		return udpOverhead{e}, nil
	}
	return e, nil
}

// udpOverhead counts the IP and UDP headers the socket adds to GRE-in-UDP
// in the overhead that the MTU is derived from; Encap writes only GRE.
type udpOverhead struct{ *gre.Encapsulator }

func (u udpOverhead) mtuOverhead(v6 bool) int {
	if v6 {
		return u.Overhead() + outer.IPv6HeaderLen + 8
	}
	return u.Overhead() + outer.IPv4HeaderLen + 8
}

// Name returns the tunnel's name.
func (t *Tunnel) Name() string { return t.cfg.Name }

// Config returns the tunnel's configuration.
func (t *Tunnel) Config() Config { return t.cfg }

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

// SetPathMTU tells the tunnel the path MTU towards its remote, learnt from
// an ICMP "fragmentation needed" or "packet too big" about one of its
// outer packets (as Linux's ip_tunnel does): the tunnel MTU becomes that
// less the overhead, never more than the configured MTU and never below
// 68 (1280 for a tunnel that carries IPv6). A pathMTU of 0 restores the
// configured MTU.
func (t *Tunnel) SetPathMTU(pathMTU int) {
	m := t.base
	if pathMTU > 0 {
		m = min(pathMTU-t.ovh, t.base)
	}
	minMTU := 68
	if t.cfg.Mode.innerVersion() == 6 {
		minMTU = 1280
	}
	t.mtu.Store(int32(max(m, minMTU)))
}

// start starts the tunnel's goroutines.
func (t *Tunnel) start() {
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.sendLoop()
	}()
	if t.reorder != nil {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.reorderTimer()
		}()
	}
	if t.shape != nil && t.shape.q != nil {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.shapeLoop()
		}()
	}
	if t.ka != nil && !t.e.cfg.ManualTicks {
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
	_ = t.over.Close()
	t.wg.Wait()
	t.drainShaped()
	t.rxMu.Lock()
	t.removed = true
	if t.reorder != nil {
		t.reorder.Reset(func(_ uint32, p []byte) {
			t.stats.rxDropped.Add(1)
			putBuf(bufferOf(p))
		})
	}
	t.rxMu.Unlock()
}

// reorderTimer delivers what waits in the reorder buffer when its
// OUTOFORDER_TIMER runs out while no packets arrive.
func (t *Tunnel) reorderTimer() {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-t.done:
			timer.Stop()
			return
		case <-t.kick:
		case <-timer.C:
		}
		now := t.e.cfg.Now()
		t.rxMu.Lock()
		t.sink, t.cur = &t.timerPend, nil
		t.timerPend.t = t
		t.reorder.Flush(now, t.deliverFn)
		d, waiting := t.reorder.Deadline()
		t.sink = nil
		t.rxMu.Unlock()
		t.timerPend.flush()
		if waiting {
			timer.Reset(max(d.Sub(now), time.Millisecond))
		}
	}
}
