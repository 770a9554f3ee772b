package gre

import (
	"fmt"
	"time"
)

// This file holds the optional per-flow reorder buffer of RFC 2890 §2.2,
// on top of the receive rule of seq.go.

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
	// Delivered counts packets handed back as [Ready].
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
// belongs to the Reorder until it is handed back, or, if Push returns
// false, stays with the caller. Delivered packets are handed back by
// appending them, as [Ready] values in sequence order, to the slice the
// caller passes (the append idiom of [encoding/binary.AppendUvarint]):
// there is no callback, so the caller decides what happens to them after
// the call returns, outside any lock of its own. Pass dst[:0] of a slice
// with room for maxPackets+1 entries and nothing allocates.
//
// The per-packet methods (Push, Flush, Drain) never allocate. Buffered
// packets are kept in a sorted array, so Push costs O(1) for packets in
// order or appended at the end and O(maxPackets) at worst; the buffer is
// meant to be small (tens of packets).
//
// The zero value is a Reorder with no buffer: it delivers every packet that
// is ahead at once, like SeqWindow (NewReorder makes only Reorders with a
// buffer). A Reorder is not safe for concurrent use.
type Reorder struct {
	buf     []reorderEntry // sorted by distance from last; len = packets held
	max     int
	wait    time.Duration
	minDue  time.Time // earliest due in buf, valid when len(buf) > 0
	last    uint32
	started bool
	stats   ReorderStats
}

// Limits of [NewReorder].
const (
	// MaxReorderPackets is the largest maxPackets (MAX_PERFLOW_BUFFER) that
	// NewReorder accepts: 4096 packets. A receiver keeps one Reorder per
	// key, each buffered packet pins the caller's buffer (about 6 MB of
	// 1500-byte packets per flow at this bound), and inserting into the
	// sorted buffer moves up to maxPackets entries (about 230 KB here), so
	// the bound keeps both memory and the worst-case Push cost in check.
	// It is far beyond any useful depth: 4096 packets are some 5 ms of a
	// 10 Gbit/s flow of 1500-byte packets, more reordering than parallel
	// links or ECMP paths show; a gap that deep is a loss, and holding
	// more only adds latency.
	MaxReorderPackets = 4096
	// MaxReorderWait is the longest maxWait (OUTOFORDER_TIMER) that
	// NewReorder accepts: one second, the initial TCP retransmission
	// timeout of RFC 6298 (Linux's minimum is 200 ms). A packet held longer
	// has been retransmitted by the time it is delivered, so a longer timer
	// only adds latency and keeps buffers pinned.
	MaxReorderWait = time.Second
)

// NewReorder returns a Reorder that holds at most maxPackets packets
// (MAX_PERFLOW_BUFFER) for at most maxWait each (OUTOFORDER_TIMER); see
// [DefaultReorderPackets] and [DefaultReorderWait]. It allocates the buffer
// once. maxPackets must be 1 to [MaxReorderPackets] (for no buffer at all
// use the zero Reorder), and maxWait 0 to [MaxReorderWait]; maxWait 0
// delivers every buffered packet at the next Push or Flush. Out of range,
// NewReorder returns a nil Reorder and an error that names the value and
// the range.
func NewReorder(maxPackets int, maxWait time.Duration) (*Reorder, error) {
	if maxPackets < 1 || maxPackets > MaxReorderPackets {
		return nil, fmt.Errorf("gre: NewReorder: maxPackets %d out of range 1–%d (the zero Reorder buffers nothing)",
			maxPackets, MaxReorderPackets)
	}
	if maxWait < 0 || maxWait > MaxReorderWait {
		return nil, fmt.Errorf("gre: NewReorder: maxWait %v out of range 0–%v", maxWait, MaxReorderWait)
	}
	return &Reorder{
		buf:  make([]reorderEntry, 0, maxPackets),
		max:  maxPackets,
		wait: maxWait,
	}, nil
}

// Ready is a packet a [Reorder] delivers: its sequence number and the
// slice that was pushed with it.
type Ready struct {
	Seq uint32
	Pkt []byte
}

// Push handles a packet numbered seq that arrived at now and appends to dst
// every packet that is delivered, in sequence order: possibly this one,
// possibly buffered ones. It returns the extended slice and whether r took
// the packet (delivered or buffered it); false means the packet was
// dropped as late or duplicate (see [ReorderStats]) and pkt still belongs
// to the caller. Push also delivers the packets whose wait reached maxWait
// at now, as Flush does. Push never allocates when dst has room for
// maxPackets+1 more entries.
func (r *Reorder) Push(dst []Ready, seq uint32, pkt []byte, now time.Time) ([]Ready, bool) {
	dst, kept := r.push(dst, seq, pkt, now)
	return r.Flush(dst, now), kept
}

func (r *Reorder) push(dst []Ready, seq uint32, pkt []byte, now time.Time) ([]Ready, bool) {
	if !r.started {
		r.started = true
		r.last = seq
		r.stats.Delivered++
		return append(dst, Ready{seq, pkt}), true
	}
	if !SeqAfter(seq, r.last) {
		r.stats.Late++
		return dst, false
	}
	d := seq - r.last
	if d > 1 {
		i, dup := r.search(d)
		if dup {
			r.stats.Duplicate++
			return dst, false
		}
		switch {
		case len(r.buf) < r.max:
			r.insert(i, seq, pkt, now)
			return dst, true
		case i > 0:
			// Full, and the head of the buffer is lower than seq: deliver
			// the head past its gap to make room.
			r.stats.Overflow++
			dst = r.release(dst, 1)
			if d = seq - r.last; d > 1 {
				i, _ = r.search(d)
				r.insert(i, seq, pkt, now)
				return dst, true
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
	dst = append(dst, Ready{seq, pkt})
	return r.release(dst, 0), true
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

// release appends to dst the first k buffered packets, ignoring gaps, then
// the buffered packets that follow in sequence, and removes them all from
// the buffer.
func (r *Reorder) release(dst []Ready, k int) []Ready {
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
		dst = append(dst, Ready{e.seq, e.pkt})
	}
	if i == 0 {
		return dst
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
	return dst
}

// Flush appends to dst, in sequence order and ignoring gaps, every buffered
// packet that has waited maxWait at now and every packet before it, then
// the packets that follow in sequence, and returns the extended slice.
// Afterwards no buffered packet is due at now. Call it when
// [Reorder.Deadline] has passed. Flush never allocates when dst has room
// for [Reorder.Len] more entries.
func (r *Reorder) Flush(dst []Ready, now time.Time) []Ready {
	if len(r.buf) == 0 || now.Before(r.minDue) {
		return dst
	}
	k := 0
	for i := range r.buf {
		if !now.Before(r.buf[i].due) {
			k = i + 1
		}
	}
	r.stats.Timeout += uint64(k)
	return r.release(dst, k)
}

// Deadline returns the time at which the next buffered packet will have
// waited maxWait, when Flush is due; false if the buffer is empty.
func (r *Reorder) Deadline() (time.Time, bool) {
	if len(r.buf) == 0 {
		return time.Time{}, false
	}
	return r.minDue, true
}

// Drain appends every buffered packet to dst in sequence order, ignoring
// gaps, empties the buffer (for shutdown) and returns the extended slice.
// The window keeps the last delivered number. Drain never allocates when
// dst has room for [Reorder.Len] more entries.
func (r *Reorder) Drain(dst []Ready) []Ready {
	r.stats.Drained += uint64(len(r.buf))
	return r.release(dst, len(r.buf))
}

// Reset drains the buffer into dst as Drain does, then forgets the last delivered
// number, so that the next packet is accepted whatever its number (for
// example after the peer restarted). The counters are cumulative and are
// kept.
func (r *Reorder) Reset(dst []Ready) []Ready {
	dst = r.Drain(dst)
	r.last = 0
	r.started = false
	return dst
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
