package tunnel

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"time"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/iphdr"
	"github.com/ipencap/ipencap/outer"
)

// Path-MTU defaults.
const (
	// DefaultMinPathMTU is the smallest IPv4 path MTU a report can set,
	// Linux's min_pmtu (512 + 20 + 20): a report of less is taken as this.
	// IPv6 reports below 1280 are discarded instead (RFC 8201 §4).
	DefaultMinPathMTU = 552
	// DefaultPathMTUExpiry is how long a learnt path MTU holds before the
	// tunnel goes back to its configured MTU and so finds out whether the
	// path has grown (RFC 1191 §6.3 suggests 10 minutes; Linux's
	// ip_rt_mtu_expires is 10 minutes).
	DefaultPathMTUExpiry = 10 * time.Minute
	// pmtuSeqWindow is how far behind the next sequence number a quoted
	// one may be: a packet sent within the last 2^16 (RFC 1191 has the
	// report arrive within a round trip, and no tunnel sends 2^16 packets
	// in one).
	pmtuSeqWindow = 1 << 16
)

// PathMTUReport is a path MTU an underlay learnt about one of its outer
// packets, for [Engine.PathMTU].
type PathMTUReport struct {
	// Remote is the outer destination of the packet the report is about.
	Remote netip.Addr
	// MTU is the path MTU the report gives.
	MTU int
	// Quoted is the start of that outer packet, IP header first, as an
	// ICMP "fragmentation needed" or ICMPv6 "packet too big" quotes it
	// (RFC 792: the header and 8 bytes at least; RFC 1812 and RFC 4443: as
	// much as fits). Anyone can send such an error, so the engine checks
	// that the quote is one of the tunnel's packets. Quoted is nil for a
	// report that cannot come from outside (the kernel's own EMSGSIZE),
	// which is taken as it is. The engine does not keep it.
	Quoted []byte
}

// PathMTU applies a path-MTU report to every tunnel whose remote is
// r.Remote and that sent the quoted packet, and returns how many it
// lowered. It follows RFC 1191 and RFC 8201, as Linux does:
//   - the quote must be one of the tunnel's packets: from its local
//     address, of its IP protocol, and for GRE with its flags, its okey
//     and, with oseq, a sequence number it sent lately (one forged ICMP
//     error from any host must not shrink a tunnel);
//   - an IPv4 report below EngineConfig.MinPathMTU is raised to it
//     (Linux's min_pmtu); an IPv6 report below 1280 is discarded;
//   - a report never raises the estimate (RFC 1191 §3);
//   - a learnt value expires after EngineConfig.PathMTUExpiry, when the
//     tunnel goes back to its configured MTU (RFC 1191 §6.3).
//
// Reports that lower a tunnel are counted in EngineStats.PathMTULowered,
// those refused (no tunnel sent the quoted packet, an IPv6 MTU below 1280)
// in PathMTURefused; a report that would not lower anything is neither.
func (e *Engine) PathMTU(r PathMTUReport) int {
	if r.Remote.Is6() && r.MTU < minIPv6MTU {
		e.stats.pmtuRefused.Add(1)
		return 0
	}
	mtu := r.MTU
	if !r.Remote.Is6() {
		mtu = max(mtu, e.minPMTU)
	}
	k, kok := quotedKey(r.Quoted)
	if r.Quoted != nil && !kok {
		// Too short to show what the tunnel's packets show (Tunnel.sent
		// would refuse it for every tunnel): refused without the walk.
		e.stats.pmtuRefused.Add(1)
		return 0
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	n, matched := 0, false
	try := func(t *Tunnel) {
		if t.remote().Addr() != r.Remote || t.enc == nil || (r.Quoted != nil && !t.sent(r.Quoted)) {
			return
		}
		matched = true
		if t.lowerPathMTU(mtu) {
			n++
		}
	}
	// The index finds the tunnels to the remote, and for a quote with a
	// GRE key those with that okey, without walking every tunnel (6.6 ms
	// per ICMP error at 100 000 tunnels); roaming tunnels, whose remote
	// moves, are looked at one by one.
	if rt := e.byRemote[r.Remote]; rt != nil {
		if kok {
			for _, t := range rt[k] {
				try(t)
			}
		} else {
			for _, ts := range rt {
				for _, t := range ts {
					try(t)
				}
			}
		}
	}
	for t := range e.roaming {
		try(t)
	}
	switch {
	case n > 0:
		e.stats.pmtuLowered.Add(1)
	case !matched:
		e.stats.pmtuRefused.Add(1)
	}
	return n
}

// quotedKey returns the okey a tunnel must have sent the quoted packet q
// with, for the index: the GRE key (the zero Key for GRE without one, and
// for IPIP and minimal encapsulation), and false when q is nil (a local
// report, for every tunnel to the remote) or too short to say.
func quotedKey(q []byte) (Key, bool) {
	if len(q) == 0 {
		return Key{}, false
	}
	var proto outer.IPProto
	var p []byte
	switch q[0] >> 4 {
	case 4:
		if len(q) < iphdr.IPv4MinLen {
			return Key{}, false
		}
		hl := iphdr.IPv4(q).HeaderLen()
		if hl < iphdr.IPv4MinLen || len(q) < hl {
			return Key{}, false
		}
		proto, p = outer.IPProto(q[9]), q[hl:]
	case 6:
		if len(q) < iphdr.IPv6Len {
			return Key{}, false
		}
		proto, p = outer.IPProto(q[6]), q[iphdr.IPv6Len:]
	default:
		return Key{}, false
	}
	if proto == outer.ProtoUDP {
		if len(p) < udpHeaderLen {
			return Key{}, false
		}
		proto, p = outer.ProtoGRE, p[udpHeaderLen:]
	}
	if proto != outer.ProtoGRE {
		return Key{}, true
	}
	if len(p) < gre.MinLen {
		return Key{}, false
	}
	w := binary.BigEndian.Uint16(p)
	if w&gre.FlagKey == 0 {
		return Key{}, true
	}
	off := gre.MinLen
	if w&(gre.FlagChecksum|gre.FlagRouting) != 0 {
		off += 4
	}
	if len(p) < off+4 {
		return Key{}, false
	}
	return KeyOf(gre.Key(binary.BigEndian.Uint32(p[off:]))), true
}

// index enters t in the path-MTU index; e.mu is held.
func (e *Engine) index(t *Tunnel) {
	if t.cfg.Roam {
		e.roaming[t] = struct{}{}
		return
	}
	if t.enc == nil {
		return
	}
	rt := e.byRemote[t.cfg.Remote]
	if rt == nil {
		rt = map[Key][]*Tunnel{}
		e.byRemote[t.cfg.Remote] = rt
	}
	rt[t.cfg.OKey] = append(rt[t.cfg.OKey], t)
}

// unindex takes t out of the path-MTU index; e.mu is held.
func (e *Engine) unindex(t *Tunnel) {
	delete(e.roaming, t)
	rt := e.byRemote[t.cfg.Remote]
	if rt == nil {
		return
	}
	ts := slices.DeleteFunc(rt[t.cfg.OKey], func(x *Tunnel) bool { return x == t })
	switch {
	case len(ts) > 0:
		rt[t.cfg.OKey] = ts
	default:
		delete(rt, t.cfg.OKey)
		if len(rt) == 0 {
			delete(e.byRemote, t.cfg.Remote)
		}
	}
}

// pmtuJob is a path-MTU report queued for the engine's path-MTU
// goroutine, by value (a report costs no allocation, even one dropped):
// the report without its quote, and the quote copied (qlen bytes, -1 for
// none).
type pmtuJob struct {
	r     PathMTUReport
	qlen  int
	quote [pmtuQuoteLen]byte
}

// pmtuQuoteLen is as much of a quote as the checks read: an IPv6 header
// with options, UDP and a full GRE header.
const pmtuQuoteLen = 128

// queuePathMTU hands an underlay's report to the engine's path-MTU
// goroutine, so that the underlay's receive goroutine, which reads the
// error, does not take the engine's lock and walk its tunnels. A full
// queue drops the report (counted as refused): the router reports again.
func (e *Engine) queuePathMTU(r PathMTUReport) {
	j := pmtuJob{r: r, qlen: -1}
	j.r.Quoted = nil
	if r.Quoted != nil {
		j.qlen = copy(j.quote[:], r.Quoted)
	}
	select {
	case e.pmtuQ <- j:
	default:
		e.stats.pmtuRefused.Add(1)
	}
}

// pmtuLoop applies queued path-MTU reports until the engine closes.
func (e *Engine) pmtuLoop() {
	for {
		select {
		case j := <-e.pmtuQ:
			if j.qlen >= 0 {
				j.r.Quoted = j.quote[:j.qlen]
			}
			e.PathMTU(j.r)
		case <-e.done:
			return
		}
	}
}

// minIPv6MTU is the IPv6 minimum link MTU (RFC 8200 §5).
const minIPv6MTU = 1280

// sent reports whether q, the start of an outer packet quoted by an ICMP
// error, is one the tunnel sent: our local address to its remote, its IP
// protocol (for GRE-in-UDP, UDP to its port), and its GRE header: the flags
// it sends, a protocol type it carries, its okey, and with oseq a sequence
// number behind the next one by less than pmtuSeqWindow. A quote too short
// to show the key or sequence number is not ours to trust (Linux's gre_err
// too drops an error whose GRE header it cannot parse).
func (t *Tunnel) sent(q []byte) bool {
	if len(q) == 0 {
		return false
	}
	var src, dst netip.Addr
	var proto outer.IPProto
	var p []byte
	switch q[0] >> 4 {
	case 4:
		if len(q) < iphdr.IPv4MinLen {
			return false
		}
		h := iphdr.IPv4(q)
		hl := h.HeaderLen()
		if hl < iphdr.IPv4MinLen || len(q) < hl {
			return false
		}
		src, dst, proto, p = h.Src(), h.Dst(), outer.IPProto(h.Protocol()), q[hl:]
	case 6:
		if len(q) < iphdr.IPv6Len {
			return false
		}
		h := iphdr.IPv6(q)
		src, dst, proto, p = h.Src(), h.Dst(), outer.IPProto(h.NextHeader()), q[iphdr.IPv6Len:]
	default:
		return false
	}
	if src != t.local || dst != t.remote().Addr() {
		return false
	}
	if t.row.framing == FramingUDP {
		// The socket's UDP header, to the tunnel's port.
		if proto != outer.ProtoUDP || len(p) < udpHeaderLen || binary.BigEndian.Uint16(p[2:]) != t.remote().Port() {
			return false
		}
		p = p[udpHeaderLen:]
	} else if proto != t.row.proto {
		return false
	}
	if !t.row.gre {
		return true
	}
	return t.sentGRE(p)
}

// sentGRE checks the quoted GRE header p against what the tunnel sends.
func (t *Tunnel) sentGRE(p []byte) bool {
	c := &t.cfg
	n := greLen(c)
	if len(p) < n {
		return false
	}
	var want uint16
	if c.OCsum {
		want |= gre.FlagChecksum
	}
	if c.OKey.Set {
		want |= gre.FlagKey
	}
	if c.OSeq {
		want |= gre.FlagSeq
	}
	if binary.BigEndian.Uint16(p) != want || carriesOf(gre.Protocol(binary.BigEndian.Uint16(p[2:])))&t.row.carries == 0 {
		return false
	}
	off := 4
	if c.OCsum {
		off += 4
	}
	if c.OKey.Set {
		if gre.Key(binary.BigEndian.Uint32(p[off:])) != c.OKey.Value {
			return false
		}
		off += 4
	}
	if c.OSeq {
		g, ok := t.enc.(*gre.Encapsulator)
		if !ok {
			return false
		}
		behind := g.NextSeq() - binary.BigEndian.Uint32(p[off:]) // mod 2^32
		if behind == 0 || behind > pmtuSeqWindow {
			return false
		}
	}
	return true
}

// lowerPathMTU lowers the tunnel MTU to pathMTU less the overhead (never
// below the mode's minimum, never above the configured MTU) and reports
// whether it did: a report never raises the estimate. A lowered MTU
// expires after EngineConfig.PathMTUExpiry; e.mu is held.
func (t *Tunnel) lowerPathMTU(pathMTU int) bool {
	m := int32(max(min(pathMTU-t.ovh, t.base), t.row.minMTU()))
	if m >= t.mtu.Load() {
		return false
	}
	t.mtu.Store(m)
	if t.pmtuExpiry == nil {
		t.pmtuExpiry = &pmtuTimer{timer: time.AfterFunc(t.e.pmtuExpiry, t.expirePathMTU)}
	} else {
		t.pmtuExpiry.timer.Reset(t.e.pmtuExpiry)
	}
	t.pmtuExpiry.until = time.Now().Add(t.e.pmtuExpiry)
	return true
}

// pmtuTimer is when a learnt path MTU expires (the zero time: none is
// learnt), and the timer that checks it then.
type pmtuTimer struct {
	timer *time.Timer
	until time.Time
}

// expirePathMTU gives the tunnel its configured MTU back when a learnt
// path MTU has expired. It decides under e.mu: a report that lowered the
// MTU again, or a SetPathMTU, while the timer fired, wins.
func (t *Tunnel) expirePathMTU() {
	t.e.mu.Lock()
	x := t.pmtuExpiry
	if x == nil || x.until.IsZero() || time.Now().Before(x.until) {
		t.e.mu.Unlock()
		return
	}
	x.until = time.Time{}
	t.mtu.Store(int32(t.base))
	t.e.mu.Unlock()
	if t.log != nil {
		t.log.Info("path MTU expired", "mtu", t.base)
	}
}

// SetPathMTU sets the path MTU towards the tunnel's remote as the caller
// knows it (no check, no expiry: for an application with its own path-MTU
// discovery): the tunnel MTU becomes pathMTU less the overhead, never more
// than the configured MTU and never below 68 (1280 for a tunnel that
// carries only IPv6). A pathMTU of 0 restores the configured MTU. Reports
// from the network go through [Engine.PathMTU].
func (t *Tunnel) SetPathMTU(pathMTU int) {
	t.e.mu.Lock()
	defer t.e.mu.Unlock()
	if x := t.pmtuExpiry; x != nil { // no expiry: the caller's value stays
		x.timer.Stop()
		x.until = time.Time{}
	}
	m := t.base
	if pathMTU > 0 {
		m = min(pathMTU-t.ovh, t.base)
	}
	t.mtu.Store(int32(max(m, t.row.minMTU())))
}
