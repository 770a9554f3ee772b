package tunneltest

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// DefaultMaxPacket is the default largest packet a [Pipe] or a
// [ChannelOverlay] carries: the largest IPv6 packet without a jumbo payload
// (65535 bytes of payload plus the 40-byte header). It also covers the
// largest IPv4 packet and the largest UDP payload.
const DefaultMaxPacket = 65535 + 40

const (
	defaultBatch = 64
	defaultQueue = 1024
	defaultMTU   = 1500
	// minSlot is the capacity a slot's buffer gets on first use, so that
	// packets up to a 1500-byte MTU plus tunnel headers never regrow it.
	minSlot = 2048
)

// slot holds one queued packet. Its buffer is reused for the queue's life.
type slot struct {
	buf []byte
}

// queue is a bounded FIFO of packets in one direction. Packets are copied
// into slots taken from a LIFO free list, so that the same few slots (and
// their already grown buffers) serve a steady stream.
type queue struct {
	mu       sync.Mutex
	readable sync.Cond // a packet was queued, or the queue closed
	writable sync.Cond // a slot was freed, or the queue closed
	free     []*slot   // LIFO of unused slots
	ring     []*slot   // queued slots, FIFO; len(ring) is the capacity
	head, n  int
	max      int
	// wclosed: the writing side closed; readers drain, then get
	// net.ErrClosed. rclosed: the reading side closed; queued packets are
	// discarded and later writes dropped.
	wclosed, rclosed bool

	// notify, if not nil, gets a token (without blocking) whenever a
	// packet is queued or the queue closes; a timed reader waits on it.
	notify chan struct{}

	from     netip.AddrPort // reported as the peer of every packet read
	lastDst  netip.AddrPort
	impair   Impairment
	rng      *rand.Rand // nil without impairment
	sent     atomic.Uint64
	received atomic.Uint64
	dropped  atomic.Uint64
	lost     atomic.Uint64
	dup      atomic.Uint64
	reorder  atomic.Uint64
	trunc    atomic.Uint64
}

func newQueue(size, maxPacket int) *queue {
	q := &queue{
		free: make([]*slot, size),
		ring: make([]*slot, size),
		max:  maxPacket,
	}
	slots := make([]slot, size)
	for i := range slots {
		q.free[i] = &slots[i]
	}
	q.readable.L = &q.mu
	q.writable.L = &q.mu
	return q
}

// setImpairment installs im, with a generator seeded by seed and stream.
func (q *queue) setImpairment(im Impairment, stream uint64) {
	q.impair = im
	if im.Loss > 0 || im.Duplicate > 0 || im.Reorder > 0 {
		q.rng = rand.New(rand.NewPCG(im.Seed, stream))
	}
}

// enqueueLocked copies pkt into a free slot and queues it, or drops and
// counts it when the reader is gone or the queue is full. It reports
// whether pkt was queued. q.mu must be held.
func (q *queue) enqueueLocked(pkt []byte) bool {
	if q.rclosed || q.n == len(q.ring) {
		q.dropped.Add(1)
		return false
	}
	s := q.free[len(q.free)-1]
	q.free = q.free[:len(q.free)-1]
	if cap(s.buf) < len(pkt) {
		s.buf = make([]byte, 0, min(max(len(pkt), minSlot), max(q.max, len(pkt))))
	}
	s.buf = append(s.buf[:0], pkt...)
	q.ring[(q.head+q.n)%len(q.ring)] = s
	q.n++
	return true
}

// dequeueLocked copies the oldest packet into dst and frees its slot. It
// returns the bytes copied and whether the packet was longer than dst.
// q.mu must be held and q.n > 0.
func (q *queue) dequeueLocked(dst []byte) (n int, truncated bool) {
	s := q.ring[q.head]
	q.ring[q.head] = nil
	q.head = (q.head + 1) % len(q.ring)
	q.n--
	n = copy(dst, s.buf)
	truncated = n < len(s.buf)
	q.free = append(q.free, s)
	return n, truncated
}

// discardLocked drops every queued packet and counts them as dropped.
func (q *queue) discardLocked() {
	for q.n > 0 {
		q.dequeueLocked(nil)
		q.dropped.Add(1)
	}
}

// signal wakes readers after packets were queued. q.mu must be held.
func (q *queue) signalLocked() {
	q.readable.Broadcast()
	if q.notify != nil {
		select {
		case q.notify <- struct{}{}:
		default:
		}
	}
}

// writeBatch queues copies of bufs[i][offset:] with impairment applied. It
// returns net.ErrClosed if the writing side is closed, and otherwise
// len(bufs): drops are counted, not reported.
func (q *queue) writeBatch(bufs [][]byte, peers []netip.AddrPort, offset int) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.wclosed {
		return 0, net.ErrClosed
	}
	queued := false
	held, heldDup := -1, false // a packet held back to follow the next one
	for i, b := range bufs {
		pkt := b[offset:]
		if i < len(peers) {
			q.lastDst = peers[i]
		}
		q.sent.Add(1)
		if len(pkt) > q.max {
			q.dropped.Add(1)
			continue
		}
		dup := false
		if q.rng != nil {
			if q.impair.Loss > 0 && q.rng.Float64() < q.impair.Loss {
				q.lost.Add(1)
				continue
			}
			if q.impair.Duplicate > 0 && q.rng.Float64() < q.impair.Duplicate {
				dup = true
				q.dup.Add(1)
			}
			if held < 0 && q.impair.Reorder > 0 && q.rng.Float64() < q.impair.Reorder {
				held, heldDup = i, dup
				continue
			}
		}
		queued = q.enqueueLocked(pkt) || queued
		if dup {
			queued = q.enqueueLocked(pkt) || queued
		}
		if held >= 0 {
			q.reorder.Add(1)
			queued = q.releaseLocked(bufs[held][offset:], heldDup) || queued
			held = -1
		}
	}
	if held >= 0 { // nothing followed it: it goes last, in order
		queued = q.releaseLocked(bufs[held][offset:], heldDup) || queued
	}
	if queued {
		q.signalLocked()
	}
	return len(bufs), nil
}

// releaseLocked queues a packet that was held back, twice if dup.
func (q *queue) releaseLocked(pkt []byte, dup bool) bool {
	ok := q.enqueueLocked(pkt)
	if dup {
		ok = q.enqueueLocked(pkt) || ok
	}
	return ok
}

// readBatch blocks until a packet is queued, then copies up to len(bufs)
// of them to bufs[i][offset:]. It returns net.ErrClosed at once if the
// reading side is closed, and once drained if the writing side is.
func (q *queue) readBatch(bufs [][]byte, sizes []int, peers []netip.AddrPort, offset int) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.n == 0 && !q.rclosed && !q.wclosed {
		q.readable.Wait()
	}
	if q.rclosed || q.n == 0 {
		return 0, net.ErrClosed
	}
	k := min(len(bufs), len(sizes), q.n)
	for i := range k {
		n, truncated := q.dequeueLocked(bufs[i][offset:])
		if truncated {
			q.trunc.Add(1)
		}
		sizes[i] = n
		if i < len(peers) {
			peers[i] = q.from
		}
	}
	q.received.Add(uint64(k))
	if k > 0 {
		q.writable.Broadcast()
	}
	return k, nil
}

// closeReader closes the reading side: readers wake with net.ErrClosed,
// queued packets are discarded and counted as dropped, blocked writers
// wake.
func (q *queue) closeReader() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.rclosed = true
	q.discardLocked()
	q.wakeAllLocked()
}

// closeWriter closes the writing side: later writes fail with
// net.ErrClosed and readers get net.ErrClosed once they have drained the
// queue.
func (q *queue) closeWriter() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.wclosed = true
	q.wakeAllLocked()
}

func (q *queue) wakeAllLocked() {
	q.signalLocked()
	q.writable.Broadcast()
}
