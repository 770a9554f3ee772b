package demux_test

import (
	"math/rand/v2"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ipencap/ipencap/demux"
)

// benchTunnel stands for the engine's *Tunnel.
type benchTunnel struct{ id int }

const probeCount = 1 << 20 // probes per sequence; indexed with i&(probeCount-1)

// fixture is a table with its probe sequences, built once per size.
type fixture struct {
	tab      *demux.Table[*benchTunnel]
	entries  []demux.Entry[int]
	exact    []demux.Query // hit at StepExact, shuffled
	wildcard []demux.Query // hit at StepWildcardKey
	unknown  []demux.Query // match nothing: miss, or the fallback when there is one
	extra    []demux.Entry[*benchTunnel]
	mapTab   map[mapKey]*benchTunnel // the baseline, holding the same exact entries
	mapKeys  []mapKey                // the exact probes as map keys, same order
}

// mapKey is the baseline's key: a plain Go map keyed by class, addresses and
// key.
type mapKey struct {
	class         demux.Class
	local, remote netip.Addr
	key           uint32
}

// wildcardKeys is the number of wildcard entries of each family (keys
// k<<8 for k below it).
const wildcardKeys = 1 << 15

var fixtures sync.Map // size → func() *fixture

func getFixture(b *testing.B, n int) *fixture {
	f, _ := fixtures.LoadOrStore(n, sync.OnceValue(func() *fixture { return newFixture(n) }))
	return f.(func() *fixture)()
}

// newFixture builds a GRE table of n exact keyed entries (local one of 16
// addresses, remote unique, a quarter IPv6) and, for n ≥ 1M, also 65,536
// entries with wildcard local and remote and a key each, half of them IPv4
// and half IPv6.
func newFixture(n int) *fixture {
	r := rand.New(rand.NewPCG(uint64(n), 9))
	f := &fixture{tab: demux.New[*benchTunnel](), entries: scaleEntries(n, uint64(n))}
	for i, e := range f.entries {
		if err := f.tab.Add(demux.Entry[*benchTunnel]{ID: e.ID, Up: true, Value: &benchTunnel{i}}); err != nil {
			panic(err)
		}
	}
	if n >= 1<<20 {
		for k := range uint32(wildcardKeys) {
			for _, fam := range []demux.Family{demux.IPv4, demux.IPv6} {
				if err := f.tab.Add(demux.Entry[*benchTunnel]{ID: demux.ID{Class: gre, Family: fam, Key: k << 8, HasKey: true},
					Up: true, Value: &benchTunnel{-1}}); err != nil {
					panic(err)
				}
			}
		}
	}
	probes := min(probeCount, 1<<16)
	if n >= 1<<20 {
		probes = probeCount
	}
	f.exact = make([]demux.Query, probes)
	f.wildcard = make([]demux.Query, probes)
	f.unknown = make([]demux.Query, probes)
	for i := range f.exact {
		e := f.entries[r.IntN(n)]
		f.exact[i] = demux.Query{Class: gre, Src: e.Remote, Dst: e.Local, Key: e.Key, HasKey: true}
		// From an unknown source to one of our addresses.
		src := netip.AddrFrom4([4]byte{172, 16 + byte(r.IntN(16)), byte(r.IntN(256)), byte(r.IntN(256))})
		if e.Local.Is6() {
			src = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 14: byte(r.IntN(256)), 15: byte(r.IntN(256))})
		}
		f.wildcard[i] = demux.Query{Class: gre, Src: src, Dst: e.Local, Key: uint32(r.IntN(wildcardKeys)) << 8, HasKey: true}
		f.unknown[i] = demux.Query{Class: gre, Src: src, Dst: e.Local, Key: uint32(r.IntN(wildcardKeys))<<8 | 1, HasKey: true}
	}
	return f
}

// baseline builds the map on first use.
func (f *fixture) baseline() {
	if f.mapTab != nil {
		return
	}
	f.mapTab = make(map[mapKey]*benchTunnel, len(f.entries))
	for i, e := range f.entries {
		f.mapTab[mapKey{e.Class, e.Local, e.Remote, e.Key}] = &benchTunnel{i}
	}
	f.mapKeys = make([]mapKey, len(f.exact))
	for i, q := range f.exact {
		f.mapKeys[i] = mapKey{q.Class, q.Dst, q.Src, q.Key}
	}
}

var (
	sinkStep demux.Step
	sinkTun  *benchTunnel
)

// benchLookup looks up probes in order, checking the step on the way.
func benchLookup(b *testing.B, tab *demux.Table[*benchTunnel], probes []demux.Query, want demux.Step) {
	b.ReportAllocs()
	mask := len(probes) - 1
	i := 0
	for b.Loop() {
		sinkTun, sinkStep, _ = tab.Lookup(probes[i&mask])
		i++
	}
	if sinkStep != want {
		b.Fatalf("step %v, want %v", sinkStep, want)
	}
}

// benchBatch looks up probes 64 at a time with LookupBatch and reports the
// time per lookup.
func benchBatch(b *testing.B, tab *demux.Table[*benchTunnel], probes []demux.Query, want demux.Step) {
	b.ReportAllocs()
	const batch = 64
	out := make([]demux.Result[*benchTunnel], batch)
	i := 0
	for b.Loop() {
		tab.LookupBatch(probes[i:i+batch], out)
		i = (i + batch) & (len(probes) - 1)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/lookup")
	if out[0].Step != want {
		b.Fatalf("step %v, want %v", out[0].Step, want)
	}
}

// BenchmarkLookup measures Lookup with probes in a random order, so that a
// large table costs its cache misses. baseline-map/1M looks up the same
// exact entries, in the same order, in a Go map.
func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{10, 10_000, 1 << 20} {
		b.Run("exact/"+sizeName(n), func(b *testing.B) {
			f := getFixture(b, n)
			benchLookup(b, f.tab, f.exact, demux.StepExact)
		})
	}
	// The same probes as exact/1M, 64 at a time through LookupBatch, as a
	// receiver that reads batches of packets (recvmmsg) would do.
	b.Run("exact-batch64/1M", func(b *testing.B) {
		f := getFixture(b, 1<<20)
		benchBatch(b, f.tab, f.exact, demux.StepExact)
	})
	b.Run("wildcard-key/1M", func(b *testing.B) {
		f := getFixture(b, 1<<20)
		benchLookup(b, f.tab, f.wildcard, demux.StepWildcardKey)
	})
	b.Run("fallback/1M", func(b *testing.B) {
		f := getFixture(b, 1<<20)
		for _, fam := range []demux.Family{demux.IPv4, demux.IPv6} {
			if err := f.tab.Add(demux.Entry[*benchTunnel]{ID: demux.FallbackID(gre, fam), Up: true}); err != nil {
				b.Fatal(err)
			}
			defer f.tab.Remove(demux.FallbackID(gre, fam))
		}
		benchLookup(b, f.tab, f.unknown, demux.StepFallback)
	})
	b.Run("miss/1M", func(b *testing.B) {
		f := getFixture(b, 1<<20)
		benchLookup(b, f.tab, f.unknown, demux.StepNone)
	})
	b.Run("baseline-map/1M", func(b *testing.B) {
		f := getFixture(b, 1<<20)
		f.baseline()
		b.ReportAllocs()
		mask := len(f.mapKeys) - 1
		i := 0
		for b.Loop() {
			sinkTun = f.mapTab[f.mapKeys[i&mask]]
			i++
		}
		if sinkTun == nil {
			b.Fatal("baseline missed")
		}
	})
}

// BenchmarkLookupParallel runs exact lookups on all CPUs.
func BenchmarkLookupParallel(b *testing.B) {
	b.Run("1M", func(b *testing.B) {
		f := getFixture(b, 1<<20)
		b.ReportAllocs()
		var seed atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			mask := len(f.exact) - 1
			i := int(seed.Add(1)) * 7919 * 64
			var miss int
			for pb.Next() {
				if _, _, ok := f.tab.Lookup(f.exact[i&mask]); !ok {
					miss++
				}
				i++
			}
			if miss != 0 {
				b.Errorf("%d misses", miss)
			}
		})
	})
}

// BenchmarkAdd measures one Add and one Remove on a table of a million
// entries.
func BenchmarkAdd(b *testing.B) {
	b.Run("1M", func(b *testing.B) {
		f := getFixture(b, 1<<20)
		extra := make([]demux.Entry[*benchTunnel], 1<<16)
		for i := range extra {
			e := f.entries[i]
			id := e.ID
			id.Key++
			extra[i] = demux.Entry[*benchTunnel]{ID: id, Up: true, Value: &benchTunnel{i}}
		}
		b.ReportAllocs()
		mask := len(extra) - 1
		i := 0
		for b.Loop() {
			e := &extra[i&mask]
			if err := f.tab.Add(*e); err != nil {
				b.Fatal(err)
			}
			if err := f.tab.Remove(e.ID); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

func sizeName(n int) string {
	switch {
	case n >= 1<<20:
		return strconv.Itoa(n>>20) + "M"
	case n >= 1000:
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}

// BenchmarkLinks measures the case MaxShared bounds: linkTries entries that
// differ only in Link, of which MaxShared are taken. bound looks up a packet
// on the link of the last one taken, other-link one on a link no entry is
// bound to (the first added answers); build adds all linkTries to an empty
// table (the rest fail with ErrTooMany).
func BenchmarkLinks(b *testing.B) {
	base := demux.ID{Class: gre, Local: me, Remote: peer, HasKey: true, Key: 7}
	build := func(tab *demux.Table[*benchTunnel]) {
		for i := range linkTries {
			id := base
			id.Link = i + 1
			_ = tab.Add(demux.Entry[*benchTunnel]{ID: id, Up: true, Value: &benchTunnel{i}})
		}
	}
	tab := demux.New[*benchTunnel]()
	build(tab)
	q := demux.Query{Class: gre, Src: peer, Dst: me, HasKey: true, Key: 7}
	b.Run("bound", func(b *testing.B) {
		q := q
		q.Link = min(tab.Len(), linkTries)
		benchLookup(b, tab, []demux.Query{q}, demux.StepExact)
	})
	b.Run("other-link", func(b *testing.B) {
		q := q
		q.Link = linkTries + 1
		benchLookup(b, tab, []demux.Query{q}, demux.StepExact)
	})
	b.Run("build", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			build(demux.New[*benchTunnel]())
		}
	})
}
