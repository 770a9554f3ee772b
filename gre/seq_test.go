package gre

import (
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seqT0 is the fake clock's origin; tests pass seqT0.Add(offset) as now.
var seqT0 = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func TestSeqLessAfter(t *testing.T) {
	tests := []struct {
		name      string
		a, b      uint32
		less      bool // SeqLess(a, b)
		greater   bool // SeqLess(b, a)
		afterAB   bool // SeqAfter(a, b): a ahead of last b
		afterBA   bool // SeqAfter(b, a)
		wantEqual bool
	}{
		{name: "equal", a: 5, b: 5, wantEqual: true},
		{name: "equal at max", a: math.MaxUint32, b: math.MaxUint32, wantEqual: true},
		{name: "plain less", a: 1, b: 2, less: true, afterBA: true},
		{name: "plain greater", a: 9, b: 2, greater: true, afterAB: true},
		{name: "wrap: max before 0", a: math.MaxUint32, b: 0, less: true, afterBA: true},
		{name: "wrap: 0xfffffffe before 1", a: 0xfffffffe, b: 1, less: true, afterBA: true},
		{name: "distance 2^31-1 from 0", a: 0, b: 1<<31 - 1, less: true, afterBA: true},
		{name: "distance 2^31+1 from 0 wraps the other way", a: 0, b: 1<<31 + 1, greater: true, afterAB: true},
		// RFC 1982 leaves 2^31 undefined: neither is less. RFC 2890 drops only
		// the 2^31 numbers at or behind last, so the other one is ahead both
		// ways round.
		{name: "distance 2^31 from 0", a: 0, b: 1 << 31, afterAB: true, afterBA: true},
		{name: "distance 2^31 across wrap", a: 0xc0000000, b: 0x40000000, afterAB: true, afterBA: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.less, SeqLess(tt.a, tt.b), "SeqLess(a, b)")
			assert.Equal(t, tt.greater, SeqLess(tt.b, tt.a), "SeqLess(b, a)")
			assert.Equal(t, tt.afterAB, SeqAfter(tt.a, tt.b), "SeqAfter(a, b)")
			assert.Equal(t, tt.afterBA, SeqAfter(tt.b, tt.a), "SeqAfter(b, a)")
			if tt.wantEqual {
				assert.Equal(t, tt.a, tt.b)
			}
		})
	}
}

// TestSeqAfterMatchesRFC2890 checks SeqAfter against the RFC's wording,
// "dropped if in the range of the last received sequence number and the
// preceding 2**31-1 values, inclusive", written out as a loop, and SeqLess
// against RFC 1982 §3.2 written with explicit comparisons.
func TestSeqAfterMatchesRFC2890(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	outOfSeq := func(seq, last uint32) bool {
		// Walk back from last; 2^31 values is too many to walk, so compare
		// the walk length instead: seq is reached after last-seq steps.
		steps := uint64(last - seq) // steps back from last to reach seq
		return steps <= 1<<31-1
	}
	rfc1982Less := func(i1, i2 uint32) bool {
		return (i1 < i2 && uint64(i2)-uint64(i1) < 1<<31) ||
			(i1 > i2 && uint64(i1)-uint64(i2) > 1<<31)
	}
	edges := []uint32{0, 1, 2, 1<<31 - 2, 1<<31 - 1, 1 << 31, 1<<31 + 1, 1<<31 + 2, math.MaxUint32 - 1, math.MaxUint32}
	check := func(a, b uint32) {
		require.Equal(t, !outOfSeq(a, b), SeqAfter(a, b), "SeqAfter(%#x, %#x)", a, b)
		require.Equal(t, rfc1982Less(a, b), SeqLess(a, b), "SeqLess(%#x, %#x)", a, b)
	}
	for _, a := range edges {
		for _, b := range edges {
			check(a, b)
			check(a+0x12345, b+0x12345)
		}
	}
	for range 100000 {
		a := rng.Uint32()
		check(a, rng.Uint32())
		check(a, a+1<<31+uint32(rng.IntN(5))-2)
	}
}

func TestSeqCounter(t *testing.T) {
	t.Run("counts from zero", func(t *testing.T) {
		var c SeqCounter
		for want := range uint32(5) {
			assert.Equal(t, want, c.Next())
		}
	})
	t.Run("wraps at 2^32", func(t *testing.T) {
		var c SeqCounter
		c.next.Store(0xfffffffe)
		var got []uint32
		for range 4 {
			got = append(got, c.Next())
		}
		assert.Equal(t, []uint32{0xfffffffe, 0xffffffff, 0, 1}, got)
	})
	t.Run("concurrent senders get distinct numbers", func(t *testing.T) {
		const goroutines, each = 8, 5000
		var c SeqCounter
		got := make([][]uint32, goroutines)
		var wg sync.WaitGroup
		for g := range got {
			wg.Go(func() {
				for range each {
					got[g] = append(got[g], c.Next())
				}
			})
		}
		wg.Wait()
		var all []uint32
		for _, s := range got {
			all = append(all, s...)
		}
		sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
		for i, v := range all {
			require.Equal(t, uint32(i), v)
		}
		assert.Equal(t, uint32(goroutines*each), c.Next())
	})
}

func TestSeqWindow(t *testing.T) {
	tests := []struct {
		name        string
		setLast     *uint32 // SetLast before the packets
		in          []uint32
		want        []bool // Check results
		wantDropped uint64
		wantSkipped uint64
		wantLast    uint32
	}{
		{
			name: "first packet accepted whatever its number",
			in:   []uint32{0x9abcdef0, 0x9abcdef1},
			want: []bool{true, true}, wantLast: 0x9abcdef1,
		},
		{
			name: "in order across the wrap",
			in:   []uint32{0xfffffffe, 0xffffffff, 0, 1},
			want: []bool{true, true, true, true}, wantLast: 1,
		},
		{
			name: "out of order across the wrap: behind ones dropped",
			in:   []uint32{0xfffffffe, 0, 0xffffffff, 1, 0},
			want: []bool{true, true, false, true, false}, wantDropped: 2, wantSkipped: 1, wantLast: 1,
		},
		{
			name: "duplicate of the last delivered is dropped",
			in:   []uint32{7, 7, 8, 8},
			want: []bool{true, false, true, false}, wantDropped: 2, wantLast: 8,
		},
		{
			name: "gap is accepted and counted as skipped",
			in:   []uint32{10, 15, 11, 16},
			want: []bool{true, true, false, true}, wantDropped: 1, wantSkipped: 4, wantLast: 16,
		},
		{
			name: "window edge: last+2^31 is ahead, last-(2^31-1) is behind",
			in:   []uint32{100, 1<<31 + 101 /* 100-(2^31-1) */, 100 + 1<<31},
			want: []bool{true, false, true}, wantDropped: 1, wantSkipped: 1<<31 - 1, wantLast: 100 + 1<<31,
		},
		{
			name:    "RFC initial state: SetLast(2^32-1) expects 0",
			setLast: new(uint32(math.MaxUint32)),
			in:      []uint32{0x80000000, 0xffffffff, 0, 1},
			want:    []bool{false, false, true, true}, wantDropped: 2, wantLast: 1,
		},
		{
			name:    "RFC initial state: 2^31-1 is the farthest ahead",
			setLast: new(uint32(math.MaxUint32)),
			in:      []uint32{0x7fffffff},
			want:    []bool{true}, wantSkipped: 0x7fffffff, wantLast: 0x7fffffff,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w SeqWindow
			if tt.setLast != nil {
				w.SetLast(*tt.setLast)
			}
			var got []bool
			for _, s := range tt.in {
				got = append(got, w.Check(s))
			}
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.wantDropped, w.Dropped(), "Dropped")
			assert.Equal(t, tt.wantSkipped, w.Skipped(), "Skipped")
			last, ok := w.Last()
			assert.True(t, ok)
			assert.Equal(t, tt.wantLast, last, "Last")
		})
	}
}

func TestSeqWindowReset(t *testing.T) {
	var w SeqWindow
	_, ok := w.Last()
	require.False(t, ok, "zero value has no last")
	require.True(t, w.Check(5000))
	require.False(t, w.Check(3), "peer restarted: behind")
	w.Reset()
	_, ok = w.Last()
	require.False(t, ok)
	require.True(t, w.Check(3), "first packet after Reset")
	require.True(t, w.Check(4))
	assert.Equal(t, uint64(1), w.Dropped(), "counters survive Reset")
	last, _ := w.Last()
	assert.Equal(t, uint32(4), last)
}

func TestSeqAllocs(t *testing.T) {
	pkt := make([]byte, 64)
	now := seqT0
	var n int
	deliver := func(uint32, []byte) { n++ }
	tests := []struct {
		name string
		fn   func() func() // returns the function to measure, after setup
	}{
		{name: "SeqCounter.Next", fn: func() func() {
			var c SeqCounter
			return func() { c.Next() }
		}},
		{name: "SeqWindow.Check in order", fn: func() func() {
			var w SeqWindow
			var s uint32
			return func() { w.Check(s); s++ }
		}},
		{name: "SeqWindow.Check drop", fn: func() func() {
			var w SeqWindow
			w.Check(100)
			return func() { w.Check(99) }
		}},
		{name: "Reorder.Push in order", fn: func() func() {
			r := mustReorder(t, DefaultReorderPackets, DefaultReorderWait)
			var s uint32 = 0xffffff00
			return func() { pushTo(r, s, pkt, now, deliver); s++ }
		}},
		{name: "Reorder.Push out of order", fn: func() func() {
			r := mustReorder(t, DefaultReorderPackets, DefaultReorderWait)
			var s uint32 = 0xffffff00
			pushTo(r, s, pkt, now, deliver)
			return func() {
				pushTo(r, s+2, pkt, now, deliver)
				pushTo(r, s+3, pkt, now, deliver)
				pushTo(r, s+1, pkt, now, deliver)
				s += 3
			}
		}},
		{name: "Reorder.Push late and duplicate", fn: func() func() {
			r := mustReorder(t, DefaultReorderPackets, DefaultReorderWait)
			pushTo(r, 10, pkt, now, deliver)
			pushTo(r, 12, pkt, now, deliver)
			return func() {
				pushTo(r, 9, pkt, now, deliver)
				pushTo(r, 12, pkt, now, deliver)
			}
		}},
		{name: "Reorder.Push overflow", fn: func() func() {
			r := mustReorder(t, 4, DefaultReorderWait)
			var s uint32
			pushTo(r, s, pkt, now, deliver)
			return func() { s += 2; pushTo(r, s, pkt, now, deliver) }
		}},
		{name: "Reorder.Flush timeout", fn: func() func() {
			r := mustReorder(t, DefaultReorderPackets, DefaultReorderWait)
			var s uint32
			clock := now
			pushTo(r, s, pkt, clock, deliver)
			return func() {
				s += 2
				pushTo(r, s, pkt, clock, deliver)
				clock = clock.Add(DefaultReorderWait)
				flushTo(r, clock, deliver)
			}
		}},
		{name: "Reorder.Drain", fn: func() func() {
			r := mustReorder(t, DefaultReorderPackets, DefaultReorderWait)
			var s uint32
			pushTo(r, s, pkt, now, deliver)
			return func() {
				pushTo(r, s+2, pkt, now, deliver)
				pushTo(r, s+4, pkt, now, deliver)
				s += 4
				drainTo(r, deliver)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := tt.fn()
			require.Zero(t, testing.AllocsPerRun(1000, fn))
		})
	}
	require.NotZero(t, n, "deliver was never called")
}

func BenchmarkSeqWindow(b *testing.B) {
	b.Run("in-order", func(b *testing.B) {
		b.ReportAllocs()
		var w SeqWindow
		var s uint32
		for b.Loop() {
			w.Check(s)
			s++
		}
	})
	b.Run("drop", func(b *testing.B) {
		b.ReportAllocs()
		var w SeqWindow
		w.Check(1000)
		for b.Loop() {
			w.Check(999)
		}
	})
}

func BenchmarkSeqCounter(b *testing.B) {
	b.ReportAllocs()
	var c SeqCounter
	for b.Loop() {
		c.Next()
	}
}
