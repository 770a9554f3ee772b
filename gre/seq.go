package gre

import (
	"sync/atomic"
	"time"
)

// This file holds the sequence-number logic of RFC 2890 §2.2: the sender's
// counter, the receiver's window and the optional per-flow reorder buffer.
// RFC 2890 makes the sequence number specific to the flow named by the key,
// so a receiver keeps one SeqWindow or one Reorder per key.

// Serial arithmetic on 32-bit sequence numbers.
//
// RFC 1982 compares serial numbers within half the number space. It leaves
// a distance of exactly 2^31 undefined; RFC 2890 does not, because it
// defines the packets to drop explicitly:
//
//	A packet is considered an out-of-sequence packet if the sequence number
//	of the received packet is less than or equal to the sequence number of
//	last successfully decapsulated packet. [...] if its value lies in the
//	range of the last received sequence number and the preceding 2**31-1
//	values, inclusive.
//
// So with last delivered L, the numbers L-(2^31-1) … L are dropped and the
// other 2^31 numbers, L+1 … L+2^31, are ahead. The Linux receiver draws the
// line at the same place. [SeqAfter] implements that receive rule and is what
// SeqWindow and Reorder use; [SeqLess] is the plain RFC 1982 order.

// SeqLess reports whether a comes before b in RFC 1982 serial number
// arithmetic with SERIAL_BITS = 32: b-a (mod 2^32) lies in 1 … 2^31-1.
// At a distance of exactly 2^31, where RFC 1982 leaves the order
// undefined, SeqLess(a, b) and SeqLess(b, a) are both false.
func SeqLess(a, b uint32) bool {
	d := b - a
	return d != 0 && d < 1<<31
}

// SeqAfter reports whether a packet numbered seq is ahead of the last
// delivered number last under the RFC 2890 receive rule, that is whether
// seq-last (mod 2^32) lies in 1 … 2^31. A false result means the packet is
// out of sequence (at or behind last) and is to be dropped.
//
// SeqAfter(seq, last) equals SeqLess(last, seq) except at a distance of
// exactly 2^31: RFC 1982 leaves that case undefined, while RFC 2890 (and
// Linux) count the packet as ahead, so SeqAfter returns true.
func SeqAfter(seq, last uint32) bool {
	return seq-last-1 < 1<<31
}

// SeqCounter numbers outgoing packets of one flow. RFC 2890: "The first
// datagram is sent with a sequence number of 0. The sequence number is thus
// a free running counter represented modulo 2**32."
//
// The zero value is ready and starts at 0. A SeqCounter is safe for
// concurrent use; it must not be copied after first use.
type SeqCounter struct {
	next atomic.Uint32
}

// Next returns the number for the next packet: 0, 1, 2, …, 2^32-1, 0, …
// Concurrent callers get distinct numbers. Next never allocates.
func (c *SeqCounter) Next() uint32 {
	return c.next.Add(1) - 1
}

// SeqWindow is the RFC 2890 receive window without reordering: it accepts a
// packet whose number is ahead of the last accepted one (see [SeqAfter]) and
// drops, and counts, the rest. A gap (a number ahead by more than one) is
// accepted at once and the skipped numbers are counted as lost.
//
// The zero value is ready: the first packet is accepted whatever its number,
// as Linux does, so a receiver that starts after its peer does not drop the
// peer's packets. RFC 2890 instead sets the last number to 2^32-1 "upon
// establishment of the GRE tunnel"; call SetLast(math.MaxUint32) for that.
//
// A SeqWindow is not safe for concurrent use: the tunnel engine handles each
// flow on one goroutine; other callers need a mutex.
type SeqWindow struct {
	last    uint32
	started bool
	dropped uint64
	skipped uint64
}

// Check reports whether a packet numbered seq is to be delivered. When it
// is, seq becomes the last delivered number; when not (seq at or behind the
// last delivered number), the drop is counted. Check never allocates.
func (w *SeqWindow) Check(seq uint32) bool {
	if !w.started {
		w.started = true
		w.last = seq
		return true
	}
	if !SeqAfter(seq, w.last) {
		w.dropped++
		return false
	}
	w.skipped += uint64(seq - w.last - 1)
	w.last = seq
	return true
}

// Last returns the last delivered number, and false if no packet has been
// accepted since the zero value or the last Reset.
func (w *SeqWindow) Last() (seq uint32, ok bool) {
	return w.last, w.started
}

// SetLast sets the last delivered number, as if a packet numbered seq had
// just been accepted. SetLast(math.MaxUint32) gives the RFC 2890 initial
// state, in which the next expected number is 0.
func (w *SeqWindow) SetLast(seq uint32) {
	w.last = seq
	w.started = true
}

// Dropped returns how many packets Check has rejected as out of sequence
// (at or behind the last delivered number; RFC 2890 "SHOULD be silently
// discarded").
func (w *SeqWindow) Dropped() uint64 {
	return w.dropped
}

// Skipped returns how many sequence numbers the window has jumped over when
// it accepted a packet past a gap. Those packets were lost or are still in
// flight; if one arrives later it is dropped and counted by Dropped too.
func (w *SeqWindow) Skipped() uint64 {
	return w.skipped
}

// Reset forgets the last delivered number, so that the next packet is
// accepted whatever its number (for example after the peer restarted).
// The counters are cumulative and are kept.
func (w *SeqWindow) Reset() {
	w.last = 0
	w.started = false
}

// Defaults for [NewReorder]. RFC 2890 names the two limits, MAX_PERFLOW_BUFFER
// and OUTOFORDER_TIMER, but gives no values.
const (
	// DefaultReorderPackets is a MAX_PERFLOW_BUFFER of 32 packets: about 48 KB
	// of 1500-byte packets held per flow, more than the reordering depth of
	// parallel links or ECMP paths usually is. On a fast flow the buffer fills
	// (and releases past a loss) within a fraction of a millisecond, long
	// before the timer fires.
	DefaultReorderPackets = 32
	// DefaultReorderWait is an OUTOFORDER_TIMER of 50 ms: it covers the delay
	// difference of parallel paths on slow flows, and it is well below TCP's
	// 200 ms minimum retransmission timeout (Linux), so a lost packet costs
	// a slow flow at most 50 ms of added latency instead of a TCP timeout.
	DefaultReorderWait = 50 * time.Millisecond
)

// reorderEntry is one packet waiting in a Reorder.
type reorderEntry struct {
	seq uint32
	pkt []byte
	due time.Time // arrival + maxWait
}

// ReorderStats counts what a [Reorder] did. Every packet given to Push is
// counted once in Delivered, Late or Duplicate, or is still buffered (see
// [Reorder.Len]). Timeout, Overflow and Drained break down the deliveries
// that went past a gap; they are subsets of Delivered.
type ReorderStats struct {
	// Delivered counts packets passed to deliver.
	Delivered uint64
	// Late counts packets dropped because their number was at or behind the
	// last delivered one (RFC 2890 out-of-sequence packets).
	Late uint64
	// Duplicate counts packets dropped because a packet with the same number
	// was already waiting in the buffer.
	Duplicate uint64
	// Timeout counts packets delivered by the OUTOFORDER_TIMER rule: a
	// packet had waited maxWait, so it and every packet before it in
	// sequence order were delivered, ignoring gaps.
	Timeout uint64
	// Overflow counts packets delivered by the MAX_PERFLOW_BUFFER rule: the
	// buffer was full, so the lowest-numbered packet was delivered at once,
	// ignoring the gap before it.
	Overflow uint64
	// Drained counts packets delivered by Drain or Reset.
	Drained uint64
	// Skipped counts the sequence numbers jumped over when a packet was
	// delivered past a gap (packets presumed lost; one that arrives later is
	// counted in Late too).
	Skipped uint64
}

// Reorder is the RFC 2890 receive logic with a bounded reorder buffer for
// one flow: the sequence window of [SeqWindow] plus a small buffer sorted by
// sequence number that holds packets arriving ahead of a gap, so that the
// missing ones may still arrive and everything is delivered in order.
//
// Push delivers a packet at once when it is the next expected one (the last
// delivered number plus one, or the first packet ever), followed by any
// buffered packets that now follow in sequence. A packet further ahead
// waits in the buffer. A packet at or behind the last delivered number, or
// one whose number is already buffered, is dropped and counted. The buffer
// is bounded in two ways, as RFC 2890 describes:
//   - Size (MAX_PERFLOW_BUFFER): when a packet arrives ahead of a gap and the
//     buffer already holds maxPackets packets, the lowest-numbered of the
//     buffered packets and the new one is delivered at once, ignoring the
//     gap before it, followed by the packets that follow it in sequence.
//     RFC 2890 delivers the head of the buffer; taking the new packet
//     instead when it is lower keeps it from being dropped as late.
//   - Time (OUTOFORDER_TIMER): no packet waits more than maxWait. When one
//     has waited that long, it and everything before it are delivered in
//     order, ignoring gaps, followed by the packets that follow in sequence.
//     Push checks this at every packet; call Flush when Deadline passes to
//     check it while no packets arrive.
//
// Time is whatever the caller passes as now (normally time.Now()), so tests
// can use a fake clock. Delivered numbers always increase by [SeqAfter]:
// after a gap has been skipped, a packet from the gap that arrives later is
// late.
//
// The buffer keeps the caller's slices, not copies: a packet passed to Push
// belongs to the Reorder until it is passed to deliver, or, if Push returns
// false, stays with the caller. Each deliver callback must not call methods
// of the same Reorder; it owns the packet once called.
//
// The per-packet methods (Push, Flush, Drain) never allocate. Buffered
// packets are kept in a sorted array, so Push costs O(1) for packets in
// order or appended at the end and O(maxPackets) at worst; the buffer is
// meant to be small (tens of packets).
//
// The zero value is a Reorder with no buffer (maxPackets 0): it delivers
// every packet that is ahead at once, like SeqWindow. A Reorder is not safe
// for concurrent use.
type Reorder struct {
	buf     []reorderEntry // sorted by distance from last; len = packets held
	max     int
	wait    time.Duration
	minDue  time.Time // earliest due in buf, valid when len(buf) > 0
	last    uint32
	started bool
	stats   ReorderStats
}

// NewReorder returns a Reorder that holds at most maxPackets packets
// (MAX_PERFLOW_BUFFER) for at most maxWait each (OUTOFORDER_TIMER); see
// [DefaultReorderPackets] and [DefaultReorderWait]. It allocates the buffer
// once. maxPackets 0 disables buffering; maxWait 0 delivers every buffered
// packet at the next Push or Flush. NewReorder panics if either is negative.
func NewReorder(maxPackets int, maxWait time.Duration) *Reorder {
	if maxPackets < 0 {
		panic("gre: NewReorder: negative maxPackets")
	}
	if maxWait < 0 {
		panic("gre: NewReorder: negative maxWait")
	}
	return &Reorder{
		buf:  make([]reorderEntry, 0, maxPackets),
		max:  maxPackets,
		wait: maxWait,
	}
}

// Push handles a packet numbered seq that arrived at now, calling deliver for
// every packet that is delivered, in sequence order: possibly this one,
// possibly buffered ones. It reports whether r took the packet (delivered or
// buffered it); false means the packet was dropped as late or duplicate (see
// [ReorderStats]) and pkt still belongs to the caller. Push also delivers the
// packets whose wait reached maxWait at now, as Flush does. Push never
// allocates.
func (r *Reorder) Push(seq uint32, pkt []byte, now time.Time, deliver func(seq uint32, pkt []byte)) bool {
	kept := r.push(seq, pkt, now, deliver)
	r.Flush(now, deliver)
	return kept
}

func (r *Reorder) push(seq uint32, pkt []byte, now time.Time, deliver func(seq uint32, pkt []byte)) bool {
	if !r.started {
		r.started = true
		r.last = seq
		r.stats.Delivered++
		deliver(seq, pkt)
		return true
	}
	if !SeqAfter(seq, r.last) {
		r.stats.Late++
		return false
	}
	d := seq - r.last
	if d > 1 {
		i, dup := r.search(d)
		if dup {
			r.stats.Duplicate++
			return false
		}
		switch {
		case len(r.buf) < r.max:
			r.insert(i, seq, pkt, now)
			return true
		case i > 0:
			// Full, and the head of the buffer is lower than seq: deliver
			// the head past its gap to make room.
			r.stats.Overflow++
			r.release(1, deliver)
			if d = seq - r.last; d > 1 {
				i, _ = r.search(d)
				r.insert(i, seq, pkt, now)
				return true
			}
			// The release reached seq-1: seq is in sequence now.
		default:
			// Full (or no buffer), and seq is lower than everything
			// buffered: deliver it past its gap.
			r.stats.Overflow++
		}
	}
	r.stats.Skipped += uint64(d - 1)
	r.last = seq
	r.stats.Delivered++
	deliver(seq, pkt)
	r.release(0, deliver)
	return true
}

// search returns the index of the first buffered packet whose distance from
// r.last is at least d, and whether that distance is exactly d.
func (r *Reorder) search(d uint32) (int, bool) {
	n := len(r.buf)
	if n == 0 || r.buf[n-1].seq-r.last < d {
		return n, false // the common case: beyond everything buffered
	}
	lo, hi := 0, n-1
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if r.buf[m].seq-r.last < d {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, r.buf[lo].seq-r.last == d
}

// insert places a packet at index i of the buffer, which has room.
func (r *Reorder) insert(i int, seq uint32, pkt []byte, now time.Time) {
	due := now.Add(r.wait)
	n := len(r.buf)
	r.buf = r.buf[:n+1]
	copy(r.buf[i+1:], r.buf[i:n])
	r.buf[i] = reorderEntry{seq: seq, pkt: pkt, due: due}
	if n == 0 || due.Before(r.minDue) {
		r.minDue = due
	}
}

// release delivers the first k buffered packets, ignoring gaps, then the
// buffered packets that follow in sequence, and removes them all from the
// buffer.
func (r *Reorder) release(k int, deliver func(seq uint32, pkt []byte)) {
	n := len(r.buf)
	i := 0
	for ; i < n; i++ {
		e := &r.buf[i]
		d := e.seq - r.last
		if i >= k && d != 1 {
			break
		}
		r.stats.Skipped += uint64(d - 1)
		r.last = e.seq
		r.stats.Delivered++
		deliver(e.seq, e.pkt)
	}
	if i == 0 {
		return
	}
	m := copy(r.buf, r.buf[i:])
	clear(r.buf[m:n]) // drop the references to delivered packets
	r.buf = r.buf[:m]
	if m > 0 {
		r.minDue = r.buf[0].due
		for _, e := range r.buf[1:] {
			if e.due.Before(r.minDue) {
				r.minDue = e.due
			}
		}
	}
}

// Flush delivers, in sequence order and ignoring gaps, every buffered packet
// that has waited maxWait at now and every packet before it, then the
// packets that follow in sequence. Afterwards no buffered packet is due at
// now. Call it when [Reorder.Deadline] has passed. Flush never allocates.
func (r *Reorder) Flush(now time.Time, deliver func(seq uint32, pkt []byte)) {
	if len(r.buf) == 0 || now.Before(r.minDue) {
		return
	}
	k := 0
	for i := range r.buf {
		if !now.Before(r.buf[i].due) {
			k = i + 1
		}
	}
	r.stats.Timeout += uint64(k)
	r.release(k, deliver)
}

// Deadline returns the time at which the next buffered packet will have
// waited maxWait, when Flush is due; false if the buffer is empty.
func (r *Reorder) Deadline() (time.Time, bool) {
	if len(r.buf) == 0 {
		return time.Time{}, false
	}
	return r.minDue, true
}

// Drain delivers every buffered packet in sequence order, ignoring gaps, and
// empties the buffer (for shutdown). The window keeps the last delivered
// number. Drain never allocates.
func (r *Reorder) Drain(deliver func(seq uint32, pkt []byte)) {
	r.stats.Drained += uint64(len(r.buf))
	r.release(len(r.buf), deliver)
}

// Reset drains the buffer as Drain does, then forgets the last delivered
// number, so that the next packet is accepted whatever its number (for
// example after the peer restarted). The counters are cumulative and are
// kept.
func (r *Reorder) Reset(deliver func(seq uint32, pkt []byte)) {
	r.Drain(deliver)
	r.last = 0
	r.started = false
}

// Len returns the number of packets waiting in the buffer.
func (r *Reorder) Len() int {
	return len(r.buf)
}

// Last returns the last delivered number, and false if no packet has been
// delivered since the zero value or the last Reset.
func (r *Reorder) Last() (seq uint32, ok bool) {
	return r.last, r.started
}

// Stats returns the counters.
func (r *Reorder) Stats() ReorderStats {
	return r.stats
}
