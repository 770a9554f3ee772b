package tunneltest

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/ipencap/ipencap/tunnel"
)

var _ tunnel.Overlay = (*ChannelOverlay)(nil)

// ErrTooLarge is returned by [ChannelOverlay.Inject] for a packet larger
// than OverlayConfig.MaxPacket.
var ErrTooLarge = errors.New("tunneltest: packet larger than MaxPacket")

// OverlayConfig configures [NewChannelOverlay]. The zero value is usable.
type OverlayConfig struct {
	// Batch is the BatchSize; 0 means 64.
	Batch int
	// Queue is how many packets are buffered in each direction (injected
	// for the engine, and written by it); 0 means 1024.
	Queue int
	// MTU is what MTU reports; 0 means 1500. It is not enforced: packets
	// up to MaxPacket pass either way, so that tests can inject oversized
	// packets.
	MTU int
	// MaxPacket is the largest packet carried; 0 means
	// [DefaultMaxPacket].
	MaxPacket int
}

// ChannelOverlay is an in-memory [tunnel.Overlay], the inner side of a
// tunnel as a TUN device would present it. A test feeds the engine with
// [ChannelOverlay.Inject] and takes what the engine writes with
// [ChannelOverlay.Recv]. Moving a packet allocates nothing in steady
// state. A ChannelOverlay is safe for concurrent use.
type ChannelOverlay struct {
	batch, mtu int
	in, out    *queue
	recvMu     sync.Mutex  // serializes Recv, which owns timer
	timer      *time.Timer // reused by every Recv
}

// NewChannelOverlay returns an empty ChannelOverlay.
func NewChannelOverlay(cfg OverlayConfig) *ChannelOverlay {
	batch, size, mtu := orDefault(cfg.Batch, defaultBatch), orDefault(cfg.Queue, defaultQueue), orDefault(cfg.MTU, defaultMTU)
	maxPacket := orDefault(cfg.MaxPacket, DefaultMaxPacket)
	o := &ChannelOverlay{
		batch: batch,
		mtu:   mtu,
		in:    newQueue(size, maxPacket),
		out:   newQueue(size, maxPacket),
		timer: time.NewTimer(time.Hour),
	}
	o.timer.Stop()
	o.out.notify = make(chan struct{}, 1)
	return o
}

// Read blocks until at least one packet has been injected, then copies up
// to len(bufs) of them, packet i to bufs[i][offset:] and its length to
// sizes[i]. A packet longer than bufs[i][offset:] is truncated. Read
// returns [net.ErrClosed] once the overlay is closed. It never allocates.
func (o *ChannelOverlay) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	return o.in.readBatch(bufs, sizes, nil, offset)
}

// Write copies each bufs[i][offset:] to the queue that [ChannelOverlay.Recv]
// reads. It never blocks: a packet that finds the queue full (or is larger
// than MaxPacket) is dropped and counted in [ChannelOverlay.Dropped]. It
// returns len(bufs), nil, or 0, [net.ErrClosed] once the overlay is
// closed. It never allocates in steady state.
func (o *ChannelOverlay) Write(bufs [][]byte, offset int) (int, error) {
	return o.out.writeBatch(bufs, nil, offset)
}

// BatchSize returns OverlayConfig.Batch (64 by default).
func (o *ChannelOverlay) BatchSize() int { return o.batch }

// MTU returns OverlayConfig.MTU (1500 by default) and a nil error.
func (o *ChannelOverlay) MTU() (int, error) { return o.mtu, nil }

// Close closes the overlay: Read, Write and Inject return
// [net.ErrClosed], and blocked calls of Read and Inject wake up. Packets
// injected but not read are discarded; packets written but not received
// can still be taken with Recv. Close always returns nil.
func (o *ChannelOverlay) Close() error {
	o.in.closeReader()
	o.out.closeWriter()
	return nil
}

// Inject copies pkt into the queue that Read takes packets from, blocking
// while the queue is full. It returns [net.ErrClosed] once the overlay is
// closed and [ErrTooLarge] for a packet larger than MaxPacket. It never
// allocates in steady state.
func (o *ChannelOverlay) Inject(pkt []byte) error {
	pkts := [1][]byte{pkt}
	_, err := o.InjectBatch(pkts[:])
	return err
}

// Recv copies the oldest packet the engine wrote into dst, waiting at most
// timeout for one (a timeout ≤ 0 does not wait). It returns the bytes
// copied, fewer than the packet's length if dst is shorter, and whether a
// packet was there. After Close it still returns the packets written
// before, then false at once. Concurrent calls are served one at a time.
// It never allocates.
func (o *ChannelOverlay) Recv(dst []byte, timeout time.Duration) (n int, ok bool) {
	dsts, sizes := [1][]byte{dst}, [1]int{}
	if o.RecvBatch(dsts[:], sizes[:], timeout) == 0 {
		return 0, false
	}
	return sizes[0], true
}

// Received returns how many packets the engine has written, including
// those dropped (see [ChannelOverlay.Dropped]).
func (o *ChannelOverlay) Received() uint64 { return o.out.sent.Load() }

// Dropped returns how many packets the engine wrote that were dropped
// because the queue was full or they were larger than MaxPacket.
func (o *ChannelOverlay) Dropped() uint64 { return o.out.dropped.Load() }

// InjectBatch is Inject for several packets under one lock, as a TUN
// device hands the engine a batch: it copies pkts in order, blocking while
// the queue is full, and returns how many it queued.
func (o *ChannelOverlay) InjectBatch(pkts [][]byte) (int, error) {
	q := o.in
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, pkt := range pkts {
		if len(pkt) > q.max {
			q.signalLocked()
			return i, ErrTooLarge
		}
		for q.n == len(q.ring) && !q.rclosed {
			q.signalLocked()
			q.writable.Wait()
		}
		if q.rclosed {
			return i, net.ErrClosed
		}
		q.sent.Add(1)
		q.enqueueLocked(pkt)
	}
	q.signalLocked()
	return len(pkts), nil
}

// RecvBatch is Recv for several packets: it waits at most timeout for one,
// then copies up to len(dsts) of those waiting into dsts[i], setting
// sizes[i], and returns how many. It never allocates.
func (o *ChannelOverlay) RecvBatch(dsts [][]byte, sizes []int, timeout time.Duration) int {
	o.recvMu.Lock()
	defer o.recvMu.Unlock()
	q := o.out
	armed := false
	defer func() {
		if armed {
			o.timer.Stop()
		}
	}()
	for {
		q.mu.Lock()
		if q.n > 0 {
			k := min(len(dsts), len(sizes), q.n)
			for i := range k {
				sizes[i], _ = q.dequeueLocked(dsts[i])
			}
			q.received.Add(uint64(k))
			q.mu.Unlock()
			return k
		}
		closed := q.wclosed || q.rclosed
		q.mu.Unlock()
		if closed || timeout <= 0 {
			return 0
		}
		if !armed {
			o.timer.Reset(timeout)
			armed = true
		}
		select {
		case <-q.notify:
		case <-o.timer.C:
			return 0
		}
	}
}
