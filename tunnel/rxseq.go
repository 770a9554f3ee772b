package tunnel

import (
	"sync"
	"time"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/iphdr"
)

// rxSeq is a tunnel's receive sequence state (iseq, RFC 2890): the
// window, or the reorder buffer with its timer, and the resync rule. The
// receive goroutines of several underlays and the reorder timer share it
// under mu.
type rxSeq struct {
	t       *Tunnel
	mu      sync.Mutex
	window  gre.SeqWindow
	reorder *gre.Reorder // nil: no reorder buffer
	resync  int          // Config.Seq.Resync
	drops   int          // out-of-sequence drops in a row
	removed bool
	ready   []gre.Ready // what the reorder buffer hands back, room for all of it
	timer   pending     // the reorder timer's batch
	kick    chan struct{}
}

// newRxSeq returns the sequence state of a tunnel with iseq.
func newRxSeq(t *Tunnel, c *Config) (*rxSeq, error) {
	s := &rxSeq{t: t, resync: c.Seq.Resync}
	if c.Seq.Reorder > 0 {
		wait := c.Seq.ReorderWait
		if wait == 0 {
			wait = gre.DefaultReorderWait
		}
		r, err := gre.NewReorder(c.Seq.Reorder, wait)
		if err != nil {
			return nil, err
		}
		s.reorder = r
		s.ready = make([]gre.Ready, 0, c.Seq.Reorder+1)
		s.kick = make(chan struct{}, 1)
		s.timer.over = t.over
	}
	return s, nil
}

// missed counts an out-of-sequence drop and reports whether it is the
// resync-th in a row, after which the window restarts. s.mu is held.
func (s *rxSeq) missed() bool {
	s.drops++
	if s.resync > 0 && s.drops >= s.resync {
		s.drops = 0
		return true
	}
	return false
}

// check runs the window on a packet numbered seq and reports whether it is
// delivered, and whether it was near the last delivered number (see
// roamSeqDistance); a drop is counted.
func (s *rxSeq) check(seq uint32) (ok, near bool) {
	s.mu.Lock()
	last, started := s.window.Last()
	near = !started || seq-last <= roamSeqDistance
	ok = s.window.Check(seq)
	if !ok && s.missed() {
		s.window.Reset()
		ok = s.window.Check(seq)
	}
	if ok {
		s.drops = 0
	}
	s.mu.Unlock()
	if !ok {
		s.t.stats.rxSeq.Add(1)
	}
	return ok, near
}

// push gives packet i of r's batch, numbered seq, to the reorder buffer;
// w is the packet as the overlay is given it (OverlayOffset bytes in front
// of the inner packet), a slice to the end of r.bufs[i]. What the buffer
// releases goes into the tunnel's batch of this round. If the buffer keeps
// the packet, the receiver gets a fresh buffer: the old one belongs to the
// reorder buffer until it is released. It reports whether the packet was
// taken (delivered or held), and whether its number was near the last
// delivered one (see roamSeqDistance); a drop is counted.
func (s *rxSeq) push(r *receiver, i int, seq uint32, w []byte) (kept, near bool) {
	now := r.clock()
	s.mu.Lock()
	if s.removed {
		s.mu.Unlock()
		s.t.stats.rxDropped.Add(1)
		return false, false
	}
	last, started := s.reorder.Last()
	near = !started || seq-last <= roamSeqDistance
	wasEmpty := s.reorder.Len() == 0
	out, kept := s.reorder.Push(s.ready[:0], seq, w, now)
	if !kept && s.missed() {
		out = s.reorder.Reset(out)
		out, kept = s.reorder.Push(out, seq, w, now)
	}
	if kept {
		s.drops = 0
	}
	held := s.reorder.Len() > 0
	taken := s.deliver(r.pendingFor(s.t), out, &w[0], r.clock())
	s.mu.Unlock()
	switch {
	case !kept:
		s.t.stats.rxSeq.Add(1)
	case !taken:
		r.bufs[i] = getBuf()[:] // the reorder buffer holds the old one
	}
	if held && wasEmpty {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	return kept, near
}

// deliver adds the packets the reorder buffer released to p, handing their
// buffers to p, except the one whose first byte is cur (the receiver's
// buffer of the packet just pushed, which stays the receiver's). It
// reports whether that packet was among them. A keepalive request that the
// tunnel reflects goes back to the underlay instead. s.mu is held.
func (s *rxSeq) deliver(p *pending, out []gre.Ready, cur *byte, now time.Time) (taken bool) {
	t := s.t
	for _, rd := range out {
		w := rd.Pkt
		mine := cur != nil && &w[0] == cur
		taken = taken || mine
		owned := bufferOf(w)
		if mine {
			owned = nil
		}
		if t.refl != nil && t.reflectHeld(w[OverlayOffset:], owned, now) {
			continue
		}
		if t.shared != nil && !t.shared.allows(t, w[OverlayOffset:]) {
			t.stats.rxSource.Add(1)
			if owned != nil {
				putBuf(owned)
			}
			continue
		}
		p.add(t, w, owned)
	}
	clear(out)
	return taken
}

// reflectHeld reflects the released inner packet p if it is a keepalive
// request, reading the outer addresses from its buffer: reflection runs
// over IPv4 and FramingIP only (ModeGRE), so the outer header still lies
// at rxOffset of the buffer. owned, when not nil, goes back to the pool if
// the packet was taken.
func (t *Tunnel) reflectHeld(p []byte, owned *buffer, now time.Time) bool {
	if !keepaliveShaped(p) {
		return false
	}
	b := bufferOf(p)
	h := iphdr.IPv4(b[rxOffset : rxOffset+iphdr.IPv4MinLen])
	if !t.tryReflect(p, h.Src(), h.Dst(), now) {
		return false
	}
	if owned != nil {
		putBuf(owned)
	}
	return true
}

// timerLoop delivers what waits in the reorder buffer when its
// OUTOFORDER_TIMER runs out while no packets arrive.
func (s *rxSeq) timerLoop(done <-chan struct{}) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-done:
			timer.Stop()
			return
		case <-s.kick:
		case <-timer.C:
		}
		now := s.t.e.now()
		s.mu.Lock()
		s.deliver(&s.timer, s.reorder.Flush(s.ready[:0], now), nil, now)
		d, waiting := s.reorder.Deadline()
		s.mu.Unlock()
		s.timer.flush()
		if waiting {
			timer.Reset(max(d.Sub(now), time.Millisecond))
		}
	}
}

// stop drops what the reorder buffer holds (counted as RxDropped) and
// refuses what comes after.
func (s *rxSeq) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removed = true
	if s.reorder == nil {
		return
	}
	out := s.reorder.Reset(s.ready[:0])
	for _, rd := range out {
		s.t.stats.rxDropped.Add(1)
		putBuf(bufferOf(rd.Pkt))
	}
	clear(out)
}
