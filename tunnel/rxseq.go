package tunnel

import (
	"sync"
	"time"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/iphdr"
)

// DefaultReorderBytes is Seq.ReorderBytes' default: 1 MiB, some 700
// packets of 1500 bytes, more than the default 32-packet buffer holds.
const DefaultReorderBytes = 1 << 20

// rxSeq is a tunnel's receive sequence state (iseq, RFC 2890): the
// window, or the reorder buffer with its timer, and the resync rule. The
// receive goroutines of several underlays and the reorder timer share it
// under mu.
type rxSeq struct {
	t        *Tunnel
	mu       sync.Mutex
	window   gre.SeqWindow
	reorder  *gre.Reorder // nil: no reorder buffer
	resync   int          // Config.Seq.Resync
	drops    int          // out-of-sequence drops in a row
	removed  bool
	held     int         // bytes held in the reorder buffer
	maxBytes int         // Seq.ReorderBytes
	ready    []gre.Ready // what the reorder buffer hands back, room for all of it
	timer    pending     // the reorder timer's batch
	kick     chan struct{}
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
		s.maxBytes = c.Seq.ReorderBytes
		if s.maxBytes == 0 {
			s.maxBytes = DefaultReorderBytes
		}
		// Drain before a push can hand back every held packet and the new
		// one: room for twice the buffer.
		s.ready = make([]gre.Ready, 0, 2*c.Seq.Reorder+2)
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
// delivered; a drop is counted.
func (s *rxSeq) check(seq uint32) (ok bool) {
	s.mu.Lock()
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
	return ok
}

// push gives packet i of r's batch, numbered seq, to the reorder buffer;
// w is the packet as the overlay is given it (OverlayOffset bytes in front
// of the inner packet), a slice to the end of r.bufs[i]. A packet ahead of
// a gap, which the buffer will hold, is copied first into a buffer of its
// size class (holdCopy), so that it does not pin the 64 KiB receive
// buffer; one in sequence goes on from where it lies. What the buffer
// releases goes into the tunnel's batch of this round. When the held
// packets would pass Seq.ReorderBytes, the buffer is drained first
// (delivered past its gaps), as when it is full. It reports whether the
// packet was taken (delivered or held); a drop is counted.
func (s *rxSeq) push(r *receiver, i int, seq uint32, w []byte) (kept bool) {
	now := r.clock()
	s.mu.Lock()
	if s.removed {
		s.mu.Unlock()
		s.t.stats.rxDropped.Add(1)
		return false
	}
	last, started := s.reorder.Last()
	pw, copied := w, false
	out := s.ready[:0]
	if started && gre.SeqAfter(seq, last) && seq-last > 1 {
		if s.held+len(w) > s.maxBytes {
			out = s.reorder.Drain(out)
		}
		b := r.bufs[i]
		lo := cap(b) - cap(w)
		pw, copied = holdCopy(b, lo, lo+len(w)), true
	}
	wasEmpty := s.reorder.Len() == 0
	out, kept = s.reorder.Push(out, seq, pw, now)
	if !kept && s.missed() {
		out = s.reorder.Reset(out)
		out, kept = s.reorder.Push(out, seq, pw, now)
	}
	if kept {
		s.drops = 0
	}
	held := s.reorder.Len() > 0
	delivered := s.deliver(r.pendingFor(s.t), out, &pw[0], copied, r.clock())
	if kept && !delivered {
		s.held += len(pw)
	}
	s.mu.Unlock()
	switch {
	case !kept:
		s.t.stats.rxSeq.Add(1)
		if copied {
			release(pw)
		}
	case !delivered && !copied:
		r.bufs[i] = getBuf()[:] // the reorder buffer holds the receive buffer
	}
	if held && wasEmpty {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	return kept
}

// deliver adds the packets the reorder buffer released to p. Held copies
// go to p to be released after the write; the packet just pushed (whose
// first byte is cur, nil for none) is released by the caller if it is a
// copy and stays in the receiver's buffer if it is not. It reports whether
// that packet was among them. A keepalive request that the tunnel reflects
// goes back to the underlay instead. s.mu is held.
func (s *rxSeq) deliver(p *pending, out []gre.Ready, cur *byte, curCopied bool, now time.Time) (delivered bool) {
	t := s.t
	for _, rd := range out {
		w := rd.Pkt
		mine := cur != nil && &w[0] == cur
		owned := !mine || curCopied
		if mine {
			delivered = true
		} else {
			s.held -= len(w)
		}
		if t.refl != nil && t.reflectHeld(w, owned, now) {
			continue
		}
		if t.shared != nil && !t.shared.allows(t, w[OverlayOffset:]) {
			t.stats.rxSource.Add(1)
			if owned {
				release(w)
			}
			continue
		}
		p.add(t, w, owned)
	}
	clear(out)
	return delivered
}

// reflectHeld reflects the released packet w (OverlayOffset bytes, then
// the inner packet) if it is a keepalive request, reading the outer
// addresses from its buffer: reflection runs over IPv4 and FramingIP only
// (ModeGRE), so the outer header lies at rxOffset of the buffer, the
// receive buffer or a held copy of its start. w's buffer goes back to its
// pool, when owned, if the packet was taken.
func (t *Tunnel) reflectHeld(w []byte, owned bool, now time.Time) bool {
	p := w[OverlayOffset:]
	if !keepaliveShaped(p) {
		return false
	}
	h := iphdr.IPv4(wholeOf(w)[rxOffset : rxOffset+iphdr.IPv4MinLen])
	if !t.tryReflect(p, h.Src(), h.Dst(), now) {
		return false
	}
	if owned {
		release(w)
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
		s.deliver(&s.timer, s.reorder.Flush(s.ready[:0], now), nil, false, now)
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
		release(rd.Pkt)
	}
	clear(out)
	s.held = 0
}
