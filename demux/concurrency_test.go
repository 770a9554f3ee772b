package demux_test

import (
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/demux"
)

// history records, per entry, when its last add and UP began and when its
// last removal and down completed, on one clock shared with the readers.
// Each entry is written by one writer goroutine only.
type history struct {
	addStart, rmDone, upStart, downDone atomic.Uint64
}

// check reports whether a lookup that began at t0 may return entry i: not
// if the entry was removed, or set down, before t0 and not added back (set
// UP) since.
func (h *history) check(t *testing.T, i int, t0 uint64) bool {
	a1, rm, a2 := h.addStart.Load(), h.rmDone.Load(), h.addStart.Load()
	if a1 == a2 && rm > a2 && rm < t0 {
		return assert.Fail(t, "lookup returned an entry removed before it began", "entry %d removed at %d, lookup began at %d", i, rm, t0)
	}
	u1, dn, u2 := h.upStart.Load(), h.downDone.Load(), h.upStart.Load()
	if u1 == u2 && dn > u2 && dn < t0 {
		return assert.Fail(t, "lookup returned an entry set down before it began", "entry %d down at %d, lookup began at %d", i, dn, t0)
	}
	return true
}

// packetFor returns a packet that e matches, on a random link: from its
// remote to its local, with a made-up address for a wildcard.
func packetFor(r *rand.Rand, e demux.Entry[int]) demux.Query {
	q := demux.Query{Class: e.Class, Src: e.Remote, Dst: e.Local, Key: e.Key, HasKey: e.HasKey, Link: r.IntN(3)}
	if !q.Dst.IsValid() {
		q.Dst = netip.AddrFrom4([4]byte{10, 0, 0, byte(r.IntN(32))})
	}
	if !q.Src.IsValid() || q.Src.IsMulticast() {
		q.Dst, q.Src = q.Src, netip.AddrFrom4([4]byte{10, 0, 1, byte(r.IntN(32))})
	}
	return q
}

// TestConcurrentLookups runs readers that look up continuously while writers
// add, remove, toggle and replace entries (many of them in one shard, so that
// it grows, is rebuilt and shrinks meanwhile). Every lookup must return an
// entry consistent with its identity and the packet, and never one that was
// removed (or set down) before the lookup began and not added back (set UP)
// before it ended. Run it with -race.
func TestConcurrentLookups(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	tab := demux.New[int]()
	// A universe of entries: half in one shard, half anywhere.
	var universe []demux.Entry[int]
	seen := map[demux.ID]bool{}
	shared := map[demux.ID]int{} // by share key, kept under MaxShared so that every Add succeeds
	shard := -1
	for v := 0; len(universe) < 600; v++ {
		e := randomEntry(r, 0)
		s := demux.ShardOf(tab, e.ID)
		if shard < 0 {
			shard = s
		}
		if seen[e.ID] || (len(universe)%2 == 0 && s != shard) || shared[refShareKey(e.ID)] >= demux.MaxShared {
			continue
		}
		seen[e.ID] = true
		shared[refShareKey(e.ID)]++
		e.Value = len(universe) * 1000
		universe = append(universe, e)
	}
	hist := make([]history, len(universe))
	var clock atomic.Uint64
	clock.Store(1)

	const writers, readers = 2, 2
	dur := 300 * time.Millisecond
	if raceEnabled {
		dur = time.Second
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var lookups, hits, writes atomic.Int64
	for w := range writers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			present := make([]bool, len(universe))
			up := make([]bool, len(universe))
			gen := 0
			for !stop.Load() {
				i := w + writers*r.IntN(len(universe)/writers) // this writer's entries
				e, h := universe[i], &hist[i]
				switch op := r.IntN(10); {
				case !present[i] && op < 6:
					e.Up = r.IntN(4) != 0
					if e.Up {
						h.upStart.Store(clock.Add(1))
					}
					h.addStart.Store(clock.Add(1))
					assert.NoError(t, tab.Add(e))
					present[i], up[i] = true, e.Up
				case present[i] && op < 4:
					assert.NoError(t, tab.Remove(e.ID))
					h.rmDone.Store(clock.Add(1))
					present[i] = false
				case present[i] && op < 8:
					if !up[i] {
						h.upStart.Store(clock.Add(1))
					}
					assert.NoError(t, tab.SetUp(e.ID, !up[i]))
					if up[i] {
						h.downDone.Store(clock.Add(1))
					}
					up[i] = !up[i]
				case present[i]:
					gen++
					e.Value += gen % 1000
					e.Up = up[i]
					assert.NoError(t, tab.Replace(e.ID, e))
				}
				writes.Add(1)
			}
		})
	}
	for rd := range readers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(rd), 2))
			for !stop.Load() {
				q := packetFor(r, universe[r.IntN(len(universe))])
				t0 := clock.Load()
				got, step, ok := tab.LookupEntry(q)
				lookups.Add(1)
				if !ok {
					continue
				}
				hits.Add(1)
				i := got.Value / 1000
				want := universe[i]
				want.Value, want.Up = got.Value, true
				if !assert.Equal(t, want, got, "entry inconsistent with its identity") ||
					!assert.True(t, refAt(got, q, step), "entry %+v does not match %+v at step %v", got, q, step) {
					stop.Store(true)
					return
				}
				if !hist[i].check(t, i, t0) {
					stop.Store(true)
				}
			}
		})
	}
	// A reader through LookupBatch: every result must come from an entry
	// that matches its packet and was not removed before the batch began.
	wg.Go(func() {
		r := rand.New(rand.NewPCG(9, 2))
		qs := make([]demux.Query, 8)
		out := make([]demux.Result[int], len(qs))
		for !stop.Load() {
			for j := range qs {
				qs[j] = packetFor(r, universe[r.IntN(len(universe))])
			}
			t0 := clock.Load()
			tab.LookupBatch(qs, out)
			lookups.Add(int64(len(qs)))
			for j, res := range out {
				if !res.OK {
					continue
				}
				hits.Add(1)
				i := res.Value / 1000
				want := universe[i]
				if !assert.True(t, refAt(want, qs[j], res.Step), "batch: entry %+v does not match %+v at step %v", want, qs[j], res.Step) {
					stop.Store(true)
					return
				}
				if !hist[i].check(t, i, t0) {
					stop.Store(true)
				}
			}
		}
	})
	time.Sleep(dur)
	stop.Store(true)
	wg.Wait()
	t.Logf("%d lookups (%d hits), %d writes", lookups.Load(), hits.Load(), writes.Load())
	require.Positive(t, hits.Load())
	require.Positive(t, writes.Load())
}

// TestScale builds a table of a million entries (100,000 under -race or
// -short), looks every one up, and removes them all.
func TestScale(t *testing.T) {
	n := 1 << 20
	if raceEnabled || testing.Short() {
		n = 100_000
	}
	entries := scaleEntries(n, 1)
	tab := demux.New[int]()
	start := time.Now()
	for _, e := range entries {
		require.NoError(t, tab.Add(e))
	}
	build := time.Since(start)
	t.Logf("built %d entries in %v (%v per add)", n, build, build/time.Duration(n))
	require.Equal(t, n, tab.Len())
	for i, e := range entries {
		got, step, ok := tab.LookupEntry(demux.Query{Class: e.Class, Src: e.Remote, Dst: e.Local, Key: e.Key, HasKey: e.HasKey})
		if !ok || got.Value != i || step != demux.StepExact {
			require.Failf(t, "lookup", "entry %d: got %+v %v %v", i, got, step, ok)
		}
	}
	start = time.Now()
	for _, e := range entries {
		require.NoError(t, tab.Remove(e.ID))
	}
	t.Logf("removed them in %v", time.Since(start))
	require.Zero(t, tab.Len())
	_, _, ok := tab.LookupEntry(demux.Query{Class: gre, Src: entries[0].Remote, Dst: entries[0].Local})
	require.False(t, ok)
}

// scaleEntries returns n distinct UP exact GRE entries with keys, value i
// for the i-th, from a generator seeded with seed: local from 16 addresses,
// remote unique (10.x.y.z or, one in four, IPv6).
func scaleEntries(n int, seed uint64) []demux.Entry[int] {
	r := rand.New(rand.NewPCG(seed, 3))
	out := make([]demux.Entry[int], n)
	for i := range out {
		var remote netip.Addr
		if i%4 == 3 {
			remote = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i), 14: byte(i >> 8), 13: byte(i >> 16), 12: byte(i >> 24)})
		} else {
			remote = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		}
		local := netip.AddrFrom4([4]byte{192, 0, 2, byte(r.IntN(16))})
		if remote.Is6() {
			local = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(r.IntN(16))})
		}
		out[i] = demux.Entry[int]{ID: demux.ID{Class: gre, Local: local, Remote: remote, HasKey: true, Key: r.Uint32()},
			Up: true, Value: i}
	}
	return out
}
