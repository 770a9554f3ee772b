package tunnel

import (
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/ipencap/ipencap"
	"github.com/ipencap/ipencap/demux"
	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/iphdr"
	"github.com/ipencap/ipencap/ipip"
	"github.com/ipencap/ipencap/mobile"
	"github.com/ipencap/ipencap/outer"
)

// pending is what one tunnel is to be given in one batch: the packets to
// write to its overlay (each with OverlayOffset bytes in front) and the
// pooled buffers to return after the write.
type pending struct {
	t     *Tunnel
	bufs  [][]byte
	owned []*buffer
}

func (p *pending) add(w []byte, owned *buffer) {
	p.bufs = append(p.bufs, w)
	if owned != nil {
		p.owned = append(p.owned, owned)
	}
}

// flush writes the pending packets to the tunnel's overlay and counts them.
func (p *pending) flush() {
	if len(p.bufs) > 0 {
		// Count before writing, so that whoever sees a packet come out of
		// the overlay finds it counted; take back what was not written.
		st := &p.t.stats
		var bytes uint64
		for _, w := range p.bufs {
			bytes += uint64(len(w) - OverlayOffset)
		}
		st.rxPackets.Add(uint64(len(p.bufs)))
		st.rxBytes.Add(bytes)
		n, _ := p.t.over.Write(p.bufs, OverlayOffset)
		n = min(max(n, 0), len(p.bufs))
		if d := len(p.bufs) - n; d > 0 {
			var lost uint64
			for _, w := range p.bufs[n:] {
				lost += uint64(len(w) - OverlayOffset)
			}
			st.rxPackets.Add(^uint64(d - 1))
			st.rxBytes.Add(^(lost - 1))
			st.rxDropped.Add(uint64(d))
		}
		clear(p.bufs)
		p.bufs = p.bufs[:0]
	}
	for i, b := range p.owned {
		putBuf(b)
		p.owned[i] = nil
	}
	p.owned = p.owned[:0]
}

// receiver is the state of one underlay's receive goroutine.
type receiver struct {
	e     *Engine
	ul    *underlay
	bufs  [][]byte
	sizes []int
	peers []netip.AddrPort
	pend  []pending
	npend int
	now   time.Time
}

func (e *Engine) receiveLoop(ul *underlay) {
	n := max(ul.u.BatchSize(), 1)
	r := &receiver{e: e, ul: ul, bufs: make([][]byte, n), sizes: make([]int, n), peers: make([]netip.AddrPort, n)}
	for i := range r.bufs {
		r.bufs[i] = getBuf()[:]
	}
	defer func() {
		for _, b := range r.bufs {
			putBuf(bufferOf(b))
		}
	}()
	for {
		k, err := ul.u.ReadBatch(r.bufs, r.sizes, r.peers, rxOffset)
		if k > 0 {
			e.stats.rxPackets.Add(uint64(k))
			r.now = time.Time{}
			for i := range k {
				r.handle(i)
			}
			for i := range r.npend {
				r.pend[i].flush()
				r.pend[i].t = nil
			}
			r.npend = 0
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) || e.isClosed() {
				return
			}
			if e.cfg.Logger != nil {
				e.cfg.Logger.Warn("underlay read", "underlay", ul.cfg.Name, "err", err)
			}
			if k == 0 {
				time.Sleep(time.Millisecond) // a failing underlay must not spin
			}
		}
	}
}

// pendingFor returns the batch of tunnel t in this round.
func (r *receiver) pendingFor(t *Tunnel) *pending {
	for i := range r.npend {
		if r.pend[i].t == t {
			return &r.pend[i]
		}
	}
	if r.npend == len(r.pend) {
		r.pend = append(r.pend, pending{})
	}
	p := &r.pend[r.npend]
	r.npend++
	p.t = t
	return p
}

func (r *receiver) clock() time.Time {
	if r.now.IsZero() {
		r.now = r.e.cfg.Now()
	}
	return r.now
}

// handle takes packet i of the batch through parse, lookup and the
// tunnel's checks.
func (r *receiver) handle(i int) {
	e := r.e
	b := r.bufs[i]
	size := min(r.sizes[i], len(b)-rxOffset)
	pkt := b[rxOffset : rxOffset+size]
	var o outer.Outer
	var payload []byte
	if r.ul.cfg.Framing == FramingIP {
		var err error
		o, payload, err = outer.Parse(pkt)
		if err != nil {
			if errors.Is(err, ipencap.ErrChecksum) {
				e.stats.rxCsum.Add(1)
			} else {
				e.stats.rxFrame.Add(1)
			}
			return
		}
	} else {
		peer := r.peers[i].Addr().Unmap()
		o.Src, o.Dst = peer, r.ul.localFor(peer.Is6())
		o.Protocol, o.HeaderLen, o.Len = outer.ProtoGRE, 0, size
		payload = pkt
	}
	q := demux.Query{Src: o.Src, Dst: o.Dst, Link: r.ul.link}
	var h gre.Header
	switch o.Protocol {
	case outer.ProtoGRE:
		var err error
		h, err = gre.Decoder{OverIPv6: o.Src.Is6(), NoVerifyChecksum: true}.Parse(payload)
		if err != nil {
			e.stats.rxFrame.Add(1)
			return
		}
		switch {
		case r.ul.cfg.Framing == FramingUDP:
			q.Class = classGREInUDP
		case h.Protocol() == gre.ProtoTEB:
			q.Class = demux.ClassGRETap
		default:
			q.Class = demux.ClassGRE
		}
		if k, ok := h.Key(); ok {
			q.Key, q.HasKey = uint32(k), true
		}
	case outer.ProtoIPIP:
		q.Class = demux.ClassIPIP
		if o.Src.Is6() {
			q.Class = demux.ClassIP6
		}
	case outer.ProtoIPv6:
		q.Class = demux.ClassSIT
		if o.Src.Is6() {
			q.Class = demux.ClassIP6
		}
	case outer.ProtoMinimal:
		if !o.Src.Is4() {
			e.stats.rxProto.Add(1)
			return
		}
		q.Class = demux.ClassMobile
	default:
		e.stats.rxProto.Add(1)
		return
	}
	t, _, ok := e.table.Lookup(q)
	if !ok {
		e.stats.rxNoTunnel.Add(1)
		return
	}
	t.receive(r, i, pkt, &o, h)
}

// receive runs the tunnel's checks on packet i of r's batch (pkt, parsed
// into o and, for GRE, h) and queues it for the overlay.
func (t *Tunnel) receive(r *receiver, i int, pkt []byte, o *outer.Outer, h gre.Header) {
	st := &t.stats
	if t.group && o.Src == t.local {
		st.rxLooped.Add(1) // our own multicast, looped back
		return
	}
	var inner []byte
	var err error
	ecn := r.ul.cfg.Framing == FramingIP
	switch {
	case t.cfg.Mode.isGRE():
		if h.ChecksumPresent() != t.cfg.ICsum || (h.ChecksumPresent() && !h.ChecksumValid()) {
			st.rxCsum.Add(1)
			return
		}
		if t.ka != nil && h.Protocol() == gre.ProtoKeepalive && o.Src == t.remote().Addr() {
			// A reply to our keepalive: the peer reflected what we built,
			// so it is recognised before the sequence check. The key was
			// checked by the lookup, the checksum above.
			t.keepaliveReply()
			return
		}
		inner = h.Payload()
		switch h.Protocol() {
		case gre.ProtoIPv4:
			inner, err = checkInner(inner, 4, t.cfg.Mode)
		case gre.ProtoIPv6:
			inner, err = checkInner(inner, 6, t.cfg.Mode)
		case gre.ProtoTEB:
			if t.cfg.Mode != ModeGRETap || len(inner) < 14 { // an Ethernet header at least, as Linux
				err = errMode
			}
			ecn = false
		default:
			err = errMode
		}
	case t.cfg.Mode == ModeMobile:
		inner, err = mobile.Decap(pkt, o)
		ecn = false // the outer header is the inner one
	default:
		inner, err = ipip.Check(pkt, o)
		if err == nil && t.cfg.Mode.innerVersion() != 0 && inner[0]>>4 != t.cfg.Mode.innerVersion() {
			err = errMode // ipip6 carries IPv4 only, ip6ip6 IPv6 only
		}
	}
	if err != nil {
		st.rxFrame.Add(1)
		return
	}
	if ecn {
		alarm, err := outer.ApplyECN(inner, o.ECN())
		if err != nil {
			st.rxFrame.Add(1)
			return
		}
		if alarm {
			st.rxECN.Add(1)
		}
	}
	if o.Dst.IsMulticast() {
		st.rxMcast.Add(1)
	}
	b := r.bufs[i]
	start := cap(b) - cap(inner) // inner is a sub-slice of b
	var from netip.AddrPort
	if t.cfg.Roam {
		from = netip.AddrPortFrom(o.Src, 0)
		if r.ul.cfg.Framing == FramingUDP {
			from = netip.AddrPortFrom(o.Src, r.peers[i].Port())
		}
	}
	var mac [6]byte // the source MAC address a broadcast gretap tunnel learns
	if t.fdb != nil {
		mac = [6]byte(inner[6:12])
	}
	if t.cfg.ISeq {
		seq, ok := h.Seq()
		if !ok {
			st.rxSeq.Add(1)
			return
		}
		if t.reorder != nil {
			t.pushReordered(r, i, seq, start, len(inner), from, mac, o.Src)
			return
		}
		t.rxMu.Lock()
		ok = t.window.Check(seq)
		if !ok && t.resync() {
			t.window.Reset()
			ok = t.window.Check(seq)
		}
		if ok {
			t.seqDrops = 0
		}
		t.rxMu.Unlock()
		if !ok {
			st.rxSeq.Add(1)
			return
		}
	}
	t.roamTo(from)
	if t.fdb != nil {
		t.learn(mac, o.Src, r.clock().UnixNano())
	}
	if t.refl != nil && keepaliveShaped(inner) && t.tryReflect(inner, o.Src, o.Dst, r.clock()) {
		return
	}
	r.pendingFor(t).add(b[start-OverlayOffset:start+len(inner)], nil)
}

// resync counts an out-of-sequence drop and reports whether it is the
// SeqResync-th in a row, after which the window restarts. t.rxMu is held.
func (t *Tunnel) resync() bool {
	t.seqDrops++
	if t.cfg.SeqResync > 0 && t.seqDrops >= t.cfg.SeqResync {
		t.seqDrops = 0
		return true
	}
	return false
}

// pushReordered gives packet i (the inner packet at b[start:start+n]) to
// the reorder buffer. If the buffer keeps it, the receiver's buffer is
// replaced by a fresh one: the packet's buffer now belongs to the reorder
// buffer until it is delivered. A broadcast gretap tunnel learns that mac
// is behind src when the packet is kept.
func (t *Tunnel) pushReordered(r *receiver, i int, seq uint32, start, n int, from netip.AddrPort, mac [6]byte, src netip.Addr) {
	b := r.bufs[i]
	buf := bufferOf(b)
	setPacketStart(buf, start)
	full := b[:start+n]
	t.rxMu.Lock()
	if t.removed {
		t.rxMu.Unlock()
		t.stats.rxDropped.Add(1)
		return
	}
	t.sink, t.cur, t.curTaken = r.pendingFor(t), &b[0], false
	wasEmpty := t.reorder.Len() == 0
	kept := t.reorder.Push(seq, full, r.clock(), t.deliverFn)
	if !kept && t.resync() {
		t.reorder.Reset(t.deliverFn)
		kept = t.reorder.Push(seq, full, r.clock(), t.deliverFn)
	}
	if kept {
		t.seqDrops = 0
		t.roamTo(from)
		if t.fdb != nil {
			t.learn(mac, src, r.clock().UnixNano())
		}
	}
	taken := t.curTaken
	held := t.reorder.Len() > 0
	t.sink, t.cur = nil, nil
	t.rxMu.Unlock()
	switch {
	case !kept:
		t.stats.rxSeq.Add(1)
	case !taken:
		r.bufs[i] = getBuf()[:] // the reorder buffer holds the old one
	}
	if held && wasEmpty {
		select {
		case t.kick <- struct{}{}:
		default:
		}
	}
}

// deliverReordered is the reorder buffer's deliver callback; t.rxMu is
// held and t.sink is the batch to add to.
func (t *Tunnel) deliverReordered(_ uint32, p []byte) {
	start := packetStart(p)
	if t.refl != nil && keepaliveShaped(p[start:]) && len(p) >= rxOffset+iphdr.IPv4MinLen {
		// Reflect (ModeGRE only) runs over IPv4 and FramingIP: the outer
		// header is still in the buffer, at rxOffset.
		osrc := netip.AddrFrom4([4]byte(p[rxOffset+12 : rxOffset+16]))
		odst := netip.AddrFrom4([4]byte(p[rxOffset+16 : rxOffset+20]))
		if t.tryReflect(p[start:], osrc, odst, t.e.cfg.Now()) {
			if &p[0] == t.cur {
				t.curTaken = true
			} else {
				putBuf(bufferOf(p))
			}
			return
		}
	}
	w := p[start-OverlayOffset:]
	if &p[0] == t.cur {
		t.curTaken = true
		t.sink.add(w, nil)
		return
	}
	t.sink.add(w, bufferOf(p))
}

// errMode is an inner packet that does not fit the mode or the GRE
// protocol type; it is counted as a frame error.
var errMode = errors.New("tunnel: inner packet does not fit the mode")

// checkInner checks the inner IP packet p of a GRE packet whose protocol
// type says version v, and returns it trimmed to the length its header
// declares: the version must be v, the header whole, the TTL not 0.
func checkInner(p []byte, v uint8, m Mode) ([]byte, error) {
	if m == ModeGRETap || len(p) == 0 || p[0]>>4 != v {
		return nil, errMode
	}
	if v == 4 {
		h, err := iphdr.CheckIPv4(p, false)
		if err != nil || h.TTL() == 0 {
			return nil, errMode
		}
		return p[:h.TotalLen()], nil
	}
	h, err := iphdr.CheckIPv6(p)
	if err != nil || h.HopLimit() == 0 {
		return nil, errMode
	}
	return p[:iphdr.IPv6Len+int(h.PayloadLen())], nil
}
