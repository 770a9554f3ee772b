package tunneltest

import (
	"net/netip"

	"github.com/ipencap/ipencap/tunnel"
)

var _ tunnel.Underlay = (*Pipe)(nil)

// PipeConfig configures [NewPipe]. The zero value is usable.
type PipeConfig struct {
	// Framing is what the packets hold; the pipe does not look inside
	// them and carries the bytes unchanged either way. It is reported by
	// [Pipe.Framing] for the test to hand to the engine.
	Framing tunnel.Framing
	// AddrA and AddrB are the ends' own addresses: what the other end's
	// ReadBatch reports as the peer of each packet. With
	// [tunnel.FramingUDP] they carry the UDP port; otherwise the port is
	// normally 0.
	AddrA, AddrB netip.AddrPort
	// Batch is each end's BatchSize; 0 means 64.
	Batch int
	// Queue is how many packets are buffered in each direction; 0 means
	// 1024. A packet written to a full queue is dropped and counted.
	Queue int
	// MaxPacket is the largest packet carried; larger ones are dropped and
	// counted. 0 means [DefaultMaxPacket].
	MaxPacket int
	// Impair is applied to packets written by either end, each direction
	// with its own generator seeded from Impair.Seed.
	Impair Impairment
}

// Impairment makes a [Pipe] lose, duplicate and reorder packets, with
// probabilities drawn from a PCG generator seeded with Seed, so that a run
// is reproducible for a given sequence of writes. The zero value impairs
// nothing and draws no random numbers.
//
// Each written packet is first lost with probability Loss; a packet not lost
// is duplicated (queued twice in a row) with probability Duplicate, and then
// held back with probability Reorder. A held-back packet is queued right
// after the next packet of the same WriteBatch call that is not lost (so the
// two are swapped), or at the end of the call if no such packet follows,
// in which case it is not reordered; packets are never held across calls,
// so a pipe written one packet per call is never reordered. At most one
// packet is held at a time.
type Impairment struct {
	Loss, Duplicate, Reorder float64 // probabilities, 0 to 1
	Seed                     uint64
}

// PipeStats counts packets at one end of a [Pipe]. Sent, Dropped, Lost,
// Duplicated and Reordered concern the packets this end wrote; Received and
// Truncated the packets it read. Once the other end has read everything
// queued for it,
//
//	a.Sent + a.Duplicated == b.Received + a.Lost + a.Dropped
//
// holds exactly.
type PipeStats struct {
	// Sent counts the packets given to WriteBatch while the end was open.
	Sent uint64
	// Received counts the packets ReadBatch returned.
	Received uint64
	// Dropped counts the copies not queued because they were larger than
	// MaxPacket, found the queue full or the other end closed, or were
	// still queued when the other end closed.
	Dropped uint64
	// Lost counts the packets the impairment lost.
	Lost uint64
	// Duplicated counts the packets the impairment queued twice.
	Duplicated uint64
	// Reordered counts the packets the impairment swapped with the next.
	Reordered uint64
	// Truncated counts the packets ReadBatch cut short because the
	// buffer past the offset was smaller than the packet.
	Truncated uint64
}

// Pipe is one end of an in-memory wire made by [NewPipe]; it implements
// [tunnel.Underlay]. Moving a packet allocates nothing in steady state. A
// Pipe is safe for concurrent use.
type Pipe struct {
	addr    netip.AddrPort
	framing tunnel.Framing
	batch   int
	in, out *queue
}

// NewPipe returns the two connected ends of an in-memory wire: what a
// writes, b reads, and the other way round.
//
// WriteBatch never blocks: a packet that finds the other end's queue full
// (or larger than MaxPacket, or the other end closed) is dropped and
// counted in [PipeStats.Dropped], like a NIC queue drops it, and still
// counts as written in WriteBatch's result.
//
// Close closes one end: its ReadBatch and WriteBatch return
// [net.ErrClosed], a blocked ReadBatch wakes up, and what was queued for it
// is discarded (counted as dropped by the writer). The other end can still
// read what was queued for it, then gets net.ErrClosed too; its writes are
// dropped and counted.
func NewPipe(cfg PipeConfig) (a, b *Pipe) {
	batch, size, maxPacket := orDefault(cfg.Batch, defaultBatch), orDefault(cfg.Queue, defaultQueue), orDefault(cfg.MaxPacket, DefaultMaxPacket)
	ab := newQueue(size, maxPacket)
	ab.from = cfg.AddrA
	ab.setImpairment(cfg.Impair, 1)
	ba := newQueue(size, maxPacket)
	ba.from = cfg.AddrB
	ba.setImpairment(cfg.Impair, 2)
	a = &Pipe{addr: cfg.AddrA, framing: cfg.Framing, batch: batch, in: ba, out: ab}
	b = &Pipe{addr: cfg.AddrB, framing: cfg.Framing, batch: batch, in: ab, out: ba}
	return a, b
}

// ReadBatch blocks until at least one packet is queued for this end, then
// copies up to len(bufs) of them: packet i to bufs[i][offset:], its length
// to sizes[i] and the sending end's address to peers[i]. A packet longer
// than bufs[i][offset:] is truncated (and counted). ReadBatch returns
// [net.ErrClosed] once this end is closed, or once the other end is closed
// and everything it sent has been read. It never allocates.
func (p *Pipe) ReadBatch(bufs [][]byte, sizes []int, peers []netip.AddrPort, offset int) (int, error) {
	return p.in.readBatch(bufs, sizes, peers, offset)
}

// WriteBatch copies each bufs[i][offset:] into a queue slot for the other
// end, applying the impairment; peers[i] is recorded (see [Pipe.LastDest])
// but not used for delivery. It never blocks: packets that do not fit are
// dropped and counted, and it returns len(bufs), nil unless this end is
// closed, when it returns 0, [net.ErrClosed]. It never allocates in steady
// state (a slot's buffer grows when a larger packet than it held comes).
func (p *Pipe) WriteBatch(bufs [][]byte, peers []netip.AddrPort, offset int) (int, error) {
	return p.out.writeBatch(bufs, peers, offset)
}

// BatchSize returns PipeConfig.Batch (64 by default).
func (p *Pipe) BatchSize() int { return p.batch }

// Close closes this end; see [NewPipe]. It wakes blocked readers and
// always returns nil.
func (p *Pipe) Close() error {
	p.out.closeWriter()
	p.in.closeReader()
	return nil
}

// Addr returns this end's own address (PipeConfig.AddrA or AddrB).
func (p *Pipe) Addr() netip.AddrPort { return p.addr }

// Framing returns PipeConfig.Framing.
func (p *Pipe) Framing() tunnel.Framing { return p.framing }

// LastDest returns the peer given with the last packet this end wrote, or
// the zero AddrPort if it wrote none.
func (p *Pipe) LastDest() netip.AddrPort {
	p.out.mu.Lock()
	defer p.out.mu.Unlock()
	return p.out.lastDst
}

// Stats returns this end's counters; see [PipeStats]. It may be called at
// any time.
func (p *Pipe) Stats() PipeStats {
	return PipeStats{
		Sent:       p.out.sent.Load(),
		Received:   p.in.received.Load(),
		Dropped:    p.out.dropped.Load(),
		Lost:       p.out.lost.Load(),
		Duplicated: p.out.dup.Load(),
		Reordered:  p.out.reorder.Load(),
		Truncated:  p.in.trunc.Load(),
	}
}

// orDefault returns v, or d when v is not positive (a zero config field).
func orDefault(v, d int) int {
	if v <= 0 {
		return d
	}
	return v
}
