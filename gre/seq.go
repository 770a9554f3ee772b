package gre

import "sync/atomic"

// This file holds the sequence-number logic of RFC 2890 §2.2: the sender's
// counter and the receiver's window; reorder.go adds the optional per-flow
// reorder buffer. RFC 2890 makes the sequence number specific to the flow
// named by the key, so a receiver keeps one SeqWindow or one Reorder per key.

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
