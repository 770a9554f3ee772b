package gre

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seqPkt returns a packet whose bytes name its sequence number, so that
// tests can check that deliver gets the slice pushed with that number.
func seqPkt(seq uint32) []byte {
	return binary.BigEndian.AppendUint32(nil, seq)
}

// reorderStep is one call in a Reorder table test.
type reorderStep struct {
	op   string        // "push", "flush", "drain", "reset" or "deadline"
	at   time.Duration // now = seqT0+at; for "deadline", the wanted deadline
	seq  uint32        // push
	kept bool          // push: wanted result; deadline: wanted ok
	want []uint32      // delivered during the call, in order
}

func push(at time.Duration, seq uint32, kept bool, want ...uint32) reorderStep {
	return reorderStep{op: "push", at: at, seq: seq, kept: kept, want: want}
}

func flush(at time.Duration, want ...uint32) reorderStep {
	return reorderStep{op: "flush", at: at, want: want}
}

func drain(want ...uint32) reorderStep { return reorderStep{op: "drain", want: want} }

func reset(want ...uint32) reorderStep { return reorderStep{op: "reset", want: want} }

func deadline(at time.Duration, ok bool) reorderStep {
	return reorderStep{op: "deadline", at: at, kept: ok}
}

const ms = time.Millisecond

func TestReorder(t *testing.T) {
	tests := []struct {
		name      string
		zero      bool // use the zero value instead of NewReorder
		max       int
		wait      time.Duration
		steps     []reorderStep
		wantStats ReorderStats
		wantLen   int
		wantLast  uint32
	}{
		{
			name: "in order across the wrap",
			max:  4, wait: 10 * ms,
			steps: []reorderStep{
				push(0, 0xfffffffe, true, 0xfffffffe),
				push(0, 0xffffffff, true, 0xffffffff),
				push(0, 0, true, 0),
				push(0, 1, true, 1),
				deadline(0, false),
			},
			wantStats: ReorderStats{Delivered: 4}, wantLast: 1,
		},
		{
			name: "reordered across the wrap",
			max:  4, wait: 10 * ms,
			steps: []reorderStep{
				push(0, 0xfffffffe, true, 0xfffffffe),
				push(1*ms, 1, true),
				push(2*ms, 0, true),
				deadline(11*ms, true),
				push(3*ms, 0xffffffff, true, 0xffffffff, 0, 1),
				deadline(0, false),
			},
			wantStats: ReorderStats{Delivered: 4}, wantLast: 1,
		},
		{
			name: "duplicates and late packets",
			max:  4, wait: 10 * ms,
			steps: []reorderStep{
				push(0, 10, true, 10),
				push(0, 10, false),
				push(0, 12, true),
				push(0, 12, false),
				push(0, 11, true, 11, 12),
				push(0, 11, false),
				push(0, 12, false),
				push(0, 9, false),
			},
			wantStats: ReorderStats{Delivered: 3, Late: 4, Duplicate: 1}, wantLast: 12,
		},
		{
			name: "window edge at 2^31",
			max:  4, wait: 10 * ms,
			steps: []reorderStep{
				push(0, 100, true, 100),
				push(0, 1<<31+101, false), // 100-(2^31-1) mod 2^32
				push(0, 100+1<<31, true),
				drain(100 + 1<<31),
				push(0, 100, true), // 2^31 ahead of the last again: waits
				drain(100),
			},
			wantStats: ReorderStats{Delivered: 3, Late: 1, Drained: 2, Skipped: 2*(1<<31) - 2},
			wantLast:  100,
		},
		{
			name: "overflow delivers the head past its gap",
			max:  3, wait: 10 * ms,
			steps: []reorderStep{
				push(0, 1, true, 1),
				push(0, 3, true),
				push(0, 4, true),
				push(0, 6, true),
				push(0, 7, true, 3, 4), // full: 3 goes (2 skipped), then 4 in sequence
				push(0, 5, true, 5, 6, 7),
				push(0, 2, false),
			},
			wantStats: ReorderStats{Delivered: 6, Late: 1, Overflow: 1, Skipped: 1}, wantLast: 7,
		},
		{
			name: "overflow delivers the new packet when it is the lowest",
			max:  2, wait: 10 * ms,
			steps: []reorderStep{
				push(0, 1, true, 1),
				push(0, 5, true),
				push(0, 6, true),
				push(0, 3, true, 3), // full, 3 < 5: 3 goes past the gap (2)
				push(0, 4, true, 4, 5, 6),
			},
			wantStats: ReorderStats{Delivered: 5, Overflow: 1, Skipped: 1}, wantLast: 6,
		},
		{
			name: "overflow release reaches the new packet",
			max:  2, wait: 10 * ms,
			steps: []reorderStep{
				push(0, 1, true, 1),
				push(0, 3, true),
				push(0, 4, true),
				push(0, 5, true, 3, 4, 5),
				deadline(0, false),
			},
			wantStats: ReorderStats{Delivered: 4, Overflow: 1, Skipped: 1}, wantLast: 5,
		},
		{
			name: "overflow then the new packet is buffered",
			max:  2, wait: 10 * ms,
			steps: []reorderStep{
				push(0, 1, true, 1),
				push(0, 3, true),
				push(0, 5, true),
				push(0, 8, true, 3),
				push(0, 7, true, 5), // full again: 5 goes, 7 and 8 wait
				push(0, 6, true, 6, 7, 8),
			},
			wantStats: ReorderStats{Delivered: 6, Overflow: 2, Skipped: 2}, wantLast: 8,
		},
		{
			name: "maxPackets 1 holds one packet",
			max:  1, wait: 10 * ms,
			steps: []reorderStep{
				push(0, 1, true, 1),
				push(0, 3, true),
				push(0, 5, true, 3), // full: 3 goes past its gap, 5 waits
				push(0, 4, true, 4, 5),
				push(0, 2, false),
			},
			wantStats: ReorderStats{Delivered: 4, Late: 1, Overflow: 1, Skipped: 1}, wantLast: 5,
		},
		{
			name: "zero value buffers nothing",
			zero: true,
			steps: []reorderStep{
				push(0, 7, true, 7),
				push(0, 9, true, 9),
				push(0, 8, false),
				deadline(0, false),
			},
			wantStats: ReorderStats{Delivered: 2, Late: 1, Overflow: 1, Skipped: 1}, wantLast: 9,
		},
		{
			name: "timeout releases past gaps, in two rounds",
			max:  8, wait: 10 * ms,
			steps: []reorderStep{
				push(0, 1, true, 1),
				push(1*ms, 3, true),
				push(2*ms, 6, true),
				push(5*ms, 5, true),
				deadline(11*ms, true),
				flush(10 * ms), // nothing has waited 10 ms yet
				flush(11*ms, 3),
				deadline(12*ms, true),
				flush(12*ms, 5, 6), // 6 expired; 5 is before it, 4 skipped
				deadline(0, false),
				flush(time.Hour),
			},
			wantStats: ReorderStats{Delivered: 4, Timeout: 3, Skipped: 2}, wantLast: 6,
		},
		{
			name: "an expired later packet releases the lower ones before it",
			max:  8, wait: 10 * ms,
			steps: []reorderStep{
				push(0, 1, true, 1),
				push(0, 10, true),
				push(8*ms, 4, true),
				flush(10*ms, 4, 10),
				push(10*ms, 5, false),
			},
			wantStats: ReorderStats{Delivered: 3, Late: 1, Timeout: 2, Skipped: 7}, wantLast: 10,
		},
		{
			name: "timeout then the in-sequence run",
			max:  8, wait: 10 * ms,
			steps: []reorderStep{
				push(0, 1, true, 1),
				push(0, 3, true),
				push(5*ms, 4, true),
				push(5*ms, 6, true),
				flush(10*ms, 3, 4), // 3 expired, 4 follows in sequence
				deadline(15*ms, true),
			},
			wantStats: ReorderStats{Delivered: 3, Timeout: 1, Skipped: 1}, wantLen: 1, wantLast: 4,
		},
		{
			name: "a clock that steps back still gets the earliest deadline",
			max:  8, wait: 10 * ms,
			steps: []reorderStep{
				push(5*ms, 1, true, 1),
				push(5*ms, 3, true),
				push(0, 5, true),
				deadline(10*ms, true),
				flush(10*ms, 3, 5), // 5 is due first, 3 is before it
			},
			wantStats: ReorderStats{Delivered: 3, Timeout: 2, Skipped: 2}, wantLast: 5,
		},
		{
			name: "push delivers what has expired",
			max:  8, wait: 10 * ms,
			steps: []reorderStep{
				push(0, 1, true, 1),
				push(0, 3, true),
				push(20*ms, 5, true, 3), // 5 waits; 3 is overdue
				deadline(30*ms, true),
			},
			wantStats: ReorderStats{Delivered: 2, Timeout: 1, Skipped: 1}, wantLen: 1, wantLast: 3,
		},
		{
			name: "a late push still delivers what has expired",
			max:  8, wait: 10 * ms,
			steps: []reorderStep{
				push(0, 5, true, 5),
				push(0, 7, true),
				push(10*ms, 4, false, 7),
			},
			wantStats: ReorderStats{Delivered: 2, Late: 1, Timeout: 1, Skipped: 1}, wantLast: 7,
		},
		{
			name: "the missing packet beats the timer at the same instant",
			max:  8, wait: 10 * ms,
			steps: []reorderStep{
				push(0, 1, true, 1),
				push(0, 3, true),
				push(10*ms, 2, true, 2, 3),
			},
			wantStats: ReorderStats{Delivered: 3}, wantLast: 3,
		},
		{
			name: "maxWait 0 holds nothing",
			max:  8, wait: 0,
			steps: []reorderStep{
				push(0, 1, true, 1),
				push(0, 3, true, 3),
				push(0, 2, false),
			},
			wantStats: ReorderStats{Delivered: 2, Late: 1, Timeout: 1, Skipped: 1}, wantLast: 3,
		},
		{
			name: "timeout across the wrap",
			max:  8, wait: 10 * ms,
			steps: []reorderStep{
				push(0, 0xfffffffd, true, 0xfffffffd),
				push(1*ms, 1, true),
				push(2*ms, 0xffffffff, true),
				push(3*ms, 0, true),
				flush(11*ms, 0xffffffff, 0, 1), // 1 expired
			},
			wantStats: ReorderStats{Delivered: 4, Timeout: 3, Skipped: 1}, wantLast: 1,
		},
		{
			name: "drain delivers everything in order and keeps the window",
			max:  8, wait: 10 * ms,
			steps: []reorderStep{
				push(0, 1, true, 1),
				push(0, 9, true),
				push(0, 5, true),
				push(0, 3, true),
				drain(3, 5, 9),
				deadline(0, false),
				push(0, 4, false),
				push(0, 10, true, 10),
				drain(),
			},
			wantStats: ReorderStats{Delivered: 5, Late: 1, Drained: 3, Skipped: 5}, wantLast: 10,
		},
		{
			name: "reset drains, then accepts any number",
			max:  8, wait: 10 * ms,
			steps: []reorderStep{
				push(0, 100, true, 100),
				push(0, 102, true),
				reset(102),
				push(0, 5, true, 5),
				push(0, 4, false),
			},
			wantStats: ReorderStats{Delivered: 3, Late: 1, Drained: 1, Skipped: 1}, wantLast: 5,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := new(Reorder)
			if !tt.zero {
				r = mustReorder(t, tt.max, tt.wait)
			}
			var got []uint32
			deliver := func(seq uint32, pkt []byte) {
				require.Equal(t, seq, binary.BigEndian.Uint32(pkt), "packet handed over with the wrong number")
				got = append(got, seq)
			}
			for i, s := range tt.steps {
				got = got[:0]
				now := seqT0.Add(s.at)
				switch s.op {
				case "push":
					kept := pushTo(r, s.seq, seqPkt(s.seq), now, deliver)
					assert.Equal(t, s.kept, kept, "step %d: Push(%#x) result", i, s.seq)
				case "flush":
					flushTo(r, now, deliver)
				case "drain":
					drainTo(r, deliver)
				case "reset":
					resetTo(r, deliver)
				case "deadline":
					d, ok := r.Deadline()
					require.Equal(t, s.kept, ok, "step %d: Deadline ok", i)
					if ok {
						assert.True(t, now.Equal(d), "step %d: Deadline %v, want %v", i, d.Sub(seqT0), s.at)
					}
					continue
				default:
					t.Fatalf("step %d: bad op %q", i, s.op)
				}
				if len(s.want) == 0 {
					assert.Empty(t, got, "step %d: %s %#x delivered", i, s.op, s.seq)
				} else {
					assert.Equal(t, s.want, got, "step %d: %s %#x delivered", i, s.op, s.seq)
				}
			}
			assert.Equal(t, tt.wantStats, r.Stats())
			assert.Equal(t, tt.wantLen, r.Len(), "Len")
			last, ok := r.Last()
			assert.True(t, ok)
			assert.Equal(t, tt.wantLast, last, "Last")
		})
	}
}

func TestReorderLastBeforeFirst(t *testing.T) {
	r := mustReorder(t, 4, time.Second)
	_, ok := r.Last()
	assert.False(t, ok)
	_, ok = r.Deadline()
	assert.False(t, ok)
	assert.Zero(t, r.Len())
	assert.Equal(t, ReorderStats{}, r.Stats())
}

func TestReorderReleasesReferences(t *testing.T) {
	r := mustReorder(t, 4, time.Second)
	nop := func(uint32, []byte) {}
	pushTo(r, 1, seqPkt(1), seqT0, nop)
	pushTo(r, 3, seqPkt(3), seqT0, nop)
	pushTo(r, 4, seqPkt(4), seqT0, nop)
	pushTo(r, 2, seqPkt(2), seqT0, nop)
	for _, e := range r.buf[:cap(r.buf)] {
		require.Nil(t, e.pkt, "a delivered packet is still referenced")
	}
}

func TestNewReorderLimits(t *testing.T) {
	tests := []struct {
		name    string
		max     int
		wait    time.Duration
		wantErr string // "" for success
	}{
		{name: "negative maxPackets", max: -1, wait: time.Second, wantErr: "maxPackets -1 out of range 1–4096"},
		{name: "maxPackets 0", max: 0, wait: time.Second, wantErr: "maxPackets 0 out of range 1–4096 (the zero Reorder buffers nothing)"},
		{name: "maxPackets over the bound", max: MaxReorderPackets + 1, wait: time.Second, wantErr: "maxPackets 4097 out of range 1–4096"},
		{name: "huge maxPackets", max: math.MaxInt, wait: time.Second, wantErr: "out of range 1–4096"},
		{name: "negative maxWait", max: 4, wait: -time.Nanosecond, wantErr: "maxWait -1ns out of range 0–1s"},
		{name: "maxWait over the bound", max: 4, wait: MaxReorderWait + time.Nanosecond, wantErr: "maxWait 1.000000001s out of range 0–1s"},
		{name: "huge maxWait", max: 4, wait: time.Duration(1<<63 - 1), wantErr: "out of range 0–1s"},
		{name: "smallest", max: 1, wait: 0},
		{name: "largest", max: MaxReorderPackets, wait: MaxReorderWait},
		{name: "defaults", max: DefaultReorderPackets, wait: DefaultReorderWait},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewReorder(tt.max, tt.wait)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.True(t, strings.HasPrefix(err.Error(), "gre: NewReorder: "), err.Error())
				assert.Nil(t, r)
				return
			}
			require.NoError(t, err)
			require.NotNil(t, r)
			assert.Equal(t, tt.max, cap(r.buf), "buffer allocated once, at its bound")
		})
	}
	assert.LessOrEqual(t, DefaultReorderPackets, MaxReorderPackets)
	assert.LessOrEqual(t, DefaultReorderWait, MaxReorderWait)
}

// mustReorder returns NewReorder(max, wait), failing tb on an error.
func mustReorder(tb testing.TB, max int, wait time.Duration) *Reorder {
	tb.Helper()
	r, err := NewReorder(max, wait)
	require.NoError(tb, err)
	return r
}

// refReorder is a deliberately naive model of Reorder, written from the RFC
// 2890 text: the buffer is a map, each rule is a loop that takes the lowest
// packet again and again. The differential tests compare Reorder with it.
type refReorder struct {
	max     int
	wait    time.Duration
	started bool
	last    uint32
	held    map[uint32]refHeld
	stats   ReorderStats
	out     []refOut
}

type refHeld struct {
	id      uint32
	arrived time.Time
}

type refOut struct {
	seq, id uint32
}

func newRefReorder(max int, wait time.Duration) *refReorder {
	return &refReorder{max: max, wait: wait, held: map[uint32]refHeld{}}
}

// lowest returns the buffered number closest ahead of last.
func (m *refReorder) lowest() uint32 {
	first := true
	var low uint32
	for s := range m.held {
		if first || s-m.last < low-m.last {
			low, first = s, false
		}
	}
	return low
}

func (m *refReorder) emit(seq, id uint32) {
	if m.started {
		m.stats.Skipped += uint64(seq - m.last - 1)
	}
	m.started = true
	m.last = seq
	m.stats.Delivered++
	m.out = append(m.out, refOut{seq, id})
}

func (m *refReorder) takeLowest() uint32 {
	low := m.lowest()
	h := m.held[low]
	delete(m.held, low)
	m.emit(low, h.id)
	return low
}

func (m *refReorder) inSequence() {
	for {
		h, ok := m.held[m.last+1]
		if !ok {
			return
		}
		delete(m.held, m.last+1)
		m.emit(m.last+1, h.id)
	}
}

func (m *refReorder) anyExpired(now time.Time) bool {
	for _, h := range m.held {
		if now.Sub(h.arrived) >= m.wait {
			return true
		}
	}
	return false
}

func (m *refReorder) flush(now time.Time) {
	for m.anyExpired(now) {
		m.takeLowest()
		m.stats.Timeout++
	}
	m.inSequence()
}

func (m *refReorder) push(seq, id uint32, now time.Time) bool {
	kept := m.pushOnly(seq, id, now)
	m.flush(now)
	return kept
}

func (m *refReorder) pushOnly(seq, id uint32, now time.Time) bool {
	if !m.started {
		m.emit(seq, id)
		return true
	}
	// RFC 2890: out of sequence if seq is last or one of the 2^31-1 before.
	if back := m.last - seq; back <= 1<<31-1 {
		m.stats.Late++
		return false
	}
	if seq == m.last+1 {
		m.emit(seq, id)
		m.inSequence()
		return true
	}
	if _, dup := m.held[seq]; dup {
		m.stats.Duplicate++
		return false
	}
	if len(m.held) < m.max {
		m.held[seq] = refHeld{id, now}
		return true
	}
	m.stats.Overflow++
	if len(m.held) == 0 || seq-m.last < m.lowest()-m.last {
		m.emit(seq, id)
		m.inSequence()
		return true
	}
	m.takeLowest()
	m.inSequence()
	if seq == m.last+1 {
		m.emit(seq, id)
		m.inSequence()
		return true
	}
	m.held[seq] = refHeld{id, now}
	return true
}

func (m *refReorder) drain() {
	for len(m.held) > 0 {
		m.takeLowest()
		m.stats.Drained++
	}
}

func (m *refReorder) deadline() (time.Time, bool) {
	var d time.Time
	for _, h := range m.held {
		if due := h.arrived.Add(m.wait); d.IsZero() || due.Before(d) {
			d = due
		}
	}
	return d, len(m.held) > 0
}

// reorderHarness drives a Reorder and the reference model side by side and
// checks the invariants after every call.
type reorderHarness struct {
	tb        testing.TB
	r         *Reorder
	m         *refReorder
	now       time.Time
	wait      time.Duration
	nextID    uint32
	out       []refOut
	delivered map[uint32]bool // by packet id
	dropped   map[uint32]bool
	prev      uint32 // last delivered number since the start or Reset
	hasPrev   bool
	deliver   func(seq uint32, pkt []byte)
}

func newReorderHarness(tb testing.TB, max int, wait time.Duration) *reorderHarness {
	h := &reorderHarness{
		tb:        tb,
		r:         new(Reorder), // maxPackets 0: no buffer, the zero value
		m:         newRefReorder(max, wait),
		now:       seqT0,
		wait:      wait,
		delivered: map[uint32]bool{},
		dropped:   map[uint32]bool{},
	}
	if max > 0 {
		h.r = mustReorder(tb, max, wait)
	}
	h.deliver = func(seq uint32, pkt []byte) {
		id := binary.BigEndian.Uint32(pkt[4:])
		require.Equal(tb, seq, binary.BigEndian.Uint32(pkt), "packet handed over with the wrong number")
		require.False(tb, h.delivered[id], "packet %d (seq %#x) delivered twice", id, seq)
		require.False(tb, h.dropped[id], "packet %d (seq %#x) delivered after being dropped", id, seq)
		if h.hasPrev {
			require.True(tb, SeqAfter(seq, h.prev), "delivered %#x after %#x", seq, h.prev)
		}
		h.prev, h.hasPrev = seq, true
		h.delivered[id] = true
		h.out = append(h.out, refOut{seq, id})
	}
	return h
}

func (h *reorderHarness) push(seq uint32) {
	id := h.nextID
	h.nextID++
	pkt := binary.BigEndian.AppendUint32(seqPkt(seq), id)
	before := h.r.Stats()
	kept := pushTo(h.r, seq, pkt, h.now, h.deliver)
	after := h.r.Stats()
	drops := (after.Late - before.Late) + (after.Duplicate - before.Duplicate)
	if kept {
		require.Zero(h.tb, drops, "Push(%#x) kept the packet but counted a drop", seq)
	} else {
		require.Equal(h.tb, uint64(1), drops, "Push(%#x) dropped the packet: want exactly one drop counted", seq)
		require.False(h.tb, h.delivered[id], "Push(%#x) dropped a packet it delivered", seq)
		h.dropped[id] = true
	}
	require.Equal(h.tb, h.m.push(seq, id, h.now), kept, "Push(%#x) result differs from the model", seq)
	h.check("push", seq)
	h.checkNothingOverdue()
}

func (h *reorderHarness) flush() {
	flushTo(h.r, h.now, h.deliver)
	h.m.flush(h.now)
	h.check("flush", 0)
	h.checkNothingOverdue()
}

func (h *reorderHarness) drain() {
	drainTo(h.r, h.deliver)
	h.m.drain()
	require.Zero(h.tb, h.r.Len())
	h.check("drain", 0)
}

func (h *reorderHarness) reset() {
	resetTo(h.r, h.deliver)
	h.m.drain()
	h.m.started = false
	h.hasPrev = false
	h.check("reset", 0)
}

// checkNothingOverdue checks that after a Push or Flush at now nothing in the
// buffer has waited maxWait.
func (h *reorderHarness) checkNothingOverdue() {
	if d, ok := h.r.Deadline(); ok {
		require.True(h.tb, d.After(h.now), "a packet due at %v is still held at %v", d.Sub(seqT0), h.now.Sub(seqT0))
		require.False(h.tb, d.After(h.now.Add(h.wait)), "deadline %v beyond now+maxWait", d.Sub(seqT0))
	}
}

func (h *reorderHarness) check(op string, seq uint32) {
	tb := h.tb
	require.Equal(tb, h.m.out, h.out, "%s %#x: deliveries differ from the model", op, seq)
	st := h.r.Stats()
	require.Equal(tb, h.m.stats, st, "%s %#x: stats differ from the model", op, seq)
	require.Equal(tb, len(h.m.held), h.r.Len(), "%s %#x: Len differs from the model", op, seq)
	md, mok := h.m.deadline()
	d, ok := h.r.Deadline()
	require.Equal(tb, mok, ok, "%s: Deadline ok", op)
	require.True(tb, md.Equal(d), "%s: Deadline %v, model %v", op, d.Sub(seqT0), md.Sub(seqT0))
	last, ok := h.r.Last()
	require.Equal(tb, h.m.started, ok, "%s: Last ok", op)
	if ok {
		require.Equal(tb, h.m.last, last, "%s: Last", op)
	}
	// Every pushed packet is delivered, dropped (late or duplicate) or held.
	require.Equal(tb, uint64(h.nextID), st.Delivered+st.Late+st.Duplicate+uint64(h.r.Len()), "%s: packets unaccounted for", op)
	require.Equal(tb, uint64(len(h.delivered)), st.Delivered)
	require.Equal(tb, uint64(len(h.dropped)), st.Late+st.Duplicate)
	require.LessOrEqual(tb, st.Timeout+st.Overflow+st.Drained, st.Delivered)
	require.LessOrEqual(tb, h.r.Len(), h.r.max)
	for i := 1; i < h.r.Len(); i++ {
		require.True(tb, SeqLess(h.r.buf[i-1].seq, h.r.buf[i].seq), "buffer out of order")
	}
	if h.r.Len() > 0 {
		require.True(tb, SeqAfter(h.r.buf[0].seq, last+1), "buffer head %#x not ahead of a gap after %#x", h.r.buf[0].seq, last)
	}
	h.out = h.out[:0]
	h.m.out = h.m.out[:0]
}

func (h *reorderHarness) finish() {
	h.drain()
	for id := range h.nextID {
		require.True(h.tb, h.delivered[id] != h.dropped[id], "packet %d is neither delivered nor dropped, or both", id)
	}
}

// TestReorderRandomStreams sends seeded random streams (local permutations,
// losses, duplicates, stragglers, jumps, starts near the 2^32 wrap) through
// Reorder and the reference model, checking the invariants at every step.
func TestReorderRandomStreams(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 0x5e9))
		max := rng.IntN(10)
		wait := time.Duration(rng.IntN(20)) * ms
		h := newReorderHarness(t, max, wait)
		// Start near the wrap for most streams.
		next := uint32(0) - uint32(rng.IntN(300))
		if seed%4 == 0 {
			next = rng.Uint32()
		}
		var window []uint32 // numbers sent but not yet pushed
		for step := 0; step < 400; step++ {
			h.now = h.now.Add(time.Duration(rng.IntN(3000)) * time.Microsecond)
			for len(window) < 1+rng.IntN(6) {
				if rng.IntN(10) == 0 { // lost in the network
					next++
					continue
				}
				window = append(window, next)
				next++
			}
			switch p := rng.IntN(100); {
			case p < 80: // deliver one from the window, usually the oldest
				i := 0
				if rng.IntN(3) == 0 {
					i = rng.IntN(len(window))
				}
				seq := window[i]
				window = append(window[:i], window[i+1:]...)
				h.push(seq)
				if rng.IntN(15) == 0 { // the network duplicated it
					h.push(seq)
				}
			case p < 85: // a straggler from long ago
				h.push(next - 20 - uint32(rng.IntN(1000)))
			case p < 87: // a jump far ahead (sender restart, corruption)
				h.push(next + uint32(rng.IntN(1<<31)))
			case p < 97: // the timer fired
				h.flush()
			case p < 99:
				h.drain()
			default:
				h.reset()
			}
		}
		h.finish()
	}
}

// FuzzReorder drives a Reorder with operations decoded from the input and
// checks the same invariants, and agreement with the reference model.
//
// Input: byte 0 sets maxPackets (mod 9), byte 1 maxWait (mod 16, in ms),
// byte 2 the first sequence number (2^32-32+b/8 for b < 0x80, else b<<24).
// Each further byte is an operation, by its low 2 bits:
//
//	0: push next-8+(b>>2 & 0x1f), b>>7 ms later; next advances
//	1: push next in order, (b>>2)&3 ms later; next advances
//	2: b>>2 ms later, Flush
//	3: by b>>2 mod 8: 0 Drain, 1 Reset, 2 push next+2^31, 3 push next+2^31+1,
//	   4 push the last pushed number again, 5 push next-2^31,
//	   6 push the 32-bit number in the next 4 bytes, 7 skip 40 ms
func FuzzReorder(f *testing.F) {
	// In order across the wrap.
	f.Add([]byte{4, 10, 0x70, 1, 1, 1, 1, 1, 1, 1, 1})
	// Pairs swapped: n+1 then n (op 9<<2 pushes next+1, then op 7<<2
	// pushes the old next, since next has advanced).
	f.Add([]byte{4, 10, 0x00, 1, 9 << 2, 7 << 2, 9 << 2, 7 << 2, 9 << 2, 7 << 2})
	// A gap held until the timer fires, then a late packet.
	f.Add([]byte{8, 5, 0x10, 1, 10 << 2, 12 << 2, 20<<2 | 2, 8 << 2})
	// Overflow of a 2-packet buffer with gaps.
	f.Add([]byte{2, 15, 0xf8, 1, 10 << 2, 12 << 2, 14 << 2, 16 << 2, 1, 1})
	// Duplicates, a jump of exactly 2^31 and one of 2^31+1.
	f.Add([]byte{3, 3, 0x80, 1, 4<<2 | 3, 10 << 2, 4<<2 | 3, 2<<2 | 3, 3<<2 | 3, 1})
	// Drain and Reset in the middle of reordering.
	f.Add([]byte{5, 9, 0x40, 1, 11 << 2, 0<<2 | 3, 1, 12 << 2, 1<<2 | 3, 9 << 2, 1})
	// A raw number, then time passing.
	f.Add([]byte{6, 1, 0xff, 1, 6<<2 | 3, 0x12, 0x34, 0x56, 0x78, 7<<2 | 3, 2})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 3 {
			return
		}
		// A few hundred operations reach every state of a buffer of at
		// most 8 packets; longer inputs only make each run, and the
		// minimization of each new input, slow (it stalled the fuzzer).
		in = in[:min(len(in), 512)]
		max := int(in[0] % 9)
		wait := time.Duration(in[1]%16) * ms
		next := uint32(in[2]) << 24
		if in[2] < 0x80 {
			next = math.MaxUint32 - 31 + uint32(in[2]/8)
		}
		h := newReorderHarness(t, max, wait)
		var lastPushed uint32
		pushSeq := func(s uint32) {
			lastPushed = s
			h.push(s)
		}
		ops := in[3:]
		for i := 0; i < len(ops); i++ {
			b := ops[i]
			switch b & 3 {
			case 0:
				h.now = h.now.Add(time.Duration(b>>7) * ms)
				pushSeq(next - 8 + uint32(b>>2&0x1f))
				next++
			case 1:
				h.now = h.now.Add(time.Duration(b>>2&3) * ms)
				pushSeq(next)
				next++
			case 2:
				h.now = h.now.Add(time.Duration(b>>2) * ms)
				h.flush()
			case 3:
				switch b >> 2 % 8 {
				case 0:
					h.drain()
				case 1:
					h.reset()
				case 2:
					pushSeq(next + 1<<31)
				case 3:
					pushSeq(next + 1<<31 + 1)
				case 4:
					pushSeq(lastPushed)
				case 5:
					pushSeq(next - 1<<31)
				case 6:
					if i+4 < len(ops) {
						pushSeq(binary.BigEndian.Uint32(ops[i+1:]))
						i += 4
					}
				case 7:
					h.now = h.now.Add(40 * ms)
				}
			}
		}
		h.finish()
	})
}

// BenchmarkReorder reports the cost per packet pushed.
func BenchmarkReorder(b *testing.B) {
	pkt := make([]byte, 1500)
	var n int
	deliver := func(uint32, []byte) { n++ }
	b.Run("in-order", func(b *testing.B) {
		b.ReportAllocs()
		r := mustReorder(b, DefaultReorderPackets, DefaultReorderWait)
		now := seqT0
		var s uint32
		for b.Loop() {
			pushTo(r, s, pkt, now, deliver)
			s++
		}
	})
	b.Run("out-of-order", func(b *testing.B) {
		// Blocks of 8 arrive as 1 2 3 4 5 6 7 then 0: seven packets wait
		// for the eighth, which releases them all.
		b.ReportAllocs()
		r := mustReorder(b, DefaultReorderPackets, DefaultReorderWait)
		now := seqT0
		var s uint32
		pushTo(r, s, pkt, now, deliver)
		s++
		var i uint32
		for b.Loop() {
			k := i % 8
			off := k + 1
			if k == 7 {
				off = 0
			}
			pushTo(r, s+off, pkt, now, deliver)
			i++
			if k == 7 {
				s += 8
			}
		}
	})
	b.Run("loss", func(b *testing.B) {
		// One packet in 16 is lost; with a full 32-packet buffer the
		// overflow rule releases past each gap.
		b.ReportAllocs()
		r := mustReorder(b, DefaultReorderPackets, DefaultReorderWait)
		now := seqT0
		var s uint32
		for b.Loop() {
			if s%16 == 15 {
				s++
			}
			pushTo(r, s, pkt, now, deliver)
			s++
		}
	})
	if n == 0 && b.N > 0 {
		b.Fatal("deliver was never called")
	}
}

// reorderScratch receives what the Reorder hands back in the tests: room
// for the most one call can deliver, so that nothing allocates.
var reorderScratch = make([]Ready, 0, MaxReorderPackets+1)

// pushTo, flushTo, drainTo and resetTo call the Reorder's methods and hand
// each delivered packet to deliver, in order.
func pushTo(r *Reorder, seq uint32, pkt []byte, now time.Time, deliver func(uint32, []byte)) bool {
	out, kept := r.Push(reorderScratch[:0], seq, pkt, now)
	handTo(out, deliver)
	return kept
}

func flushTo(r *Reorder, now time.Time, deliver func(uint32, []byte)) {
	handTo(r.Flush(reorderScratch[:0], now), deliver)
}

func drainTo(r *Reorder, deliver func(uint32, []byte)) { handTo(r.Drain(reorderScratch[:0]), deliver) }

func resetTo(r *Reorder, deliver func(uint32, []byte)) { handTo(r.Reset(reorderScratch[:0]), deliver) }

func handTo(out []Ready, deliver func(uint32, []byte)) {
	for _, p := range out {
		deliver(p.Seq, p.Pkt)
	}
	clear(out)
}
