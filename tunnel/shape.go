package tunnel

import (
	"net/netip"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// shaper is the token bucket of a tunnel with Config.Shape: tokens are
// bytes, refilled at Shape.Rate/8 per second up to Shape.Burst. Packets that
// must wait for tokens are copied into pooled buffers and queued for the
// tunnel's shaper goroutine, which writes each when its reservation is due.
type shaper struct {
	lim     *rate.Limiter
	maxWait time.Duration // how long a packet may wait: Limit at Rate
	q       chan shaped
	queued  atomic.Int64 // packets in q or being written by the shaper goroutine
}

// shaped is one delayed outer packet p, a copy in a buffer of its size
// class (holdBytes), carrying inner bytes, for peer, due at due.
type shaped struct {
	p     []byte
	inner int
	peer  netip.AddrPort
	due   time.Time
}

func newShaper(c *Config, mtu int) *shaper {
	sc := c.Shape
	burst := sc.Burst
	if burst == 0 {
		burst = mtu
	}
	sh := &shaper{lim: rate.NewLimiter(rate.Limit(float64(sc.Rate)/8), burst)}
	if sc.Limit > 0 {
		sh.maxWait = time.Duration(float64(sc.Limit) * 8 / float64(sc.Rate) * float64(time.Second))
		// The queue holds at most Shape.Limit bytes (plus one packet); a
		// slot per 64 bytes covers small packets, within bounds.
		sh.q = make(chan shaped, min(max(sc.Limit/64, 16), 4096))
	}
	return sh
}

// shape passes the outer packet p (for s.peer) through the tunnel's bucket:
// it reports true when p may go at once (the caller queues it in the
// batch); otherwise p was either queued for the shaper goroutine (a copy,
// written when its tokens are due) or dropped and counted.
func (s *sender) shape(p []byte, inner int) bool {
	t := s.t
	sh := t.shape
	now := time.Now()
	if sh.queued.Load() == 0 && sh.lim.AllowN(now, len(p)) {
		return true
	}
	if sh.maxWait == 0 {
		t.stats.txShaped.Add(1)
		return false
	}
	r := sh.lim.ReserveN(now, len(p))
	if !r.OK() {
		t.stats.txShaped.Add(1)
		return false
	}
	d := r.DelayFrom(now)
	if d > sh.maxWait {
		r.CancelAt(now)
		t.stats.txShaped.Add(1)
		return false
	}
	s.flushOut() // what is ahead of p goes first
	c := holdBytes(p)
	sh.queued.Add(1)
	select {
	case sh.q <- shaped{p: c, inner: inner, peer: s.peer, due: now.Add(d)}:
	default:
		sh.queued.Add(-1)
		r.CancelAt(now)
		release(c)
		t.stats.txShaped.Add(1)
	}
	return false
}

// shapeLoop writes the delayed packets when they are due.
func (t *Tunnel) shapeLoop() {
	sh := t.shape
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var bufs [1][]byte
	var peers [1]netip.AddrPort
	for {
		var it shaped
		select {
		case <-t.done:
			return
		case it = <-sh.q:
		}
		if d := time.Until(it.due); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-t.done:
				timer.Stop()
				t.dropShaped(it)
				return
			}
		}
		bufs[0], peers[0] = it.p, it.peer
		n, _ := t.ul.u.WriteBatch(bufs[:], peers[:], 0)
		bufs[0] = nil
		if n == 1 {
			t.stats.txBytes.Add(uint64(it.inner))
			t.stats.txPackets.Add(1)
		} else {
			t.stats.txNoBufs.Add(1)
		}
		release(it.p)
		sh.queued.Add(-1)
	}
}

// dropShaped drops a delayed packet when the tunnel stops.
func (t *Tunnel) dropShaped(it shaped) {
	release(it.p)
	t.shape.queued.Add(-1)
	t.stats.txShaped.Add(1)
}

// drainShaped drops what is still queued; the tunnel's goroutines have
// returned.
func (t *Tunnel) drainShaped() {
	if t.shape == nil || t.shape.q == nil {
		return
	}
	for {
		select {
		case it := <-t.shape.q:
			t.dropShaped(it)
		default:
			return
		}
	}
}
