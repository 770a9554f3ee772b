package demux_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/demux"
)

// Address pools for random tables and packets: few enough that entries and
// packets meet often, with both families, unspecified spellings, zones and
// multicast groups. IPv4-mapped addresses are made from poolV4 (mapped).
var (
	poolV4 = []netip.Addr{
		netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"),
		netip.MustParseAddr("198.51.100.7"),
	}
	poolV6 = []netip.Addr{
		netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"),
		netip.MustParseAddr("fe80::1%eth0"),
	}
	poolGroup = []netip.Addr{netip.MustParseAddr("224.66.66.66"), netip.MustParseAddr("ff0e::1")}
	poolWild  = [][]netip.Addr{{{}, netip.IPv4Unspecified()}, {{}, netip.IPv6Unspecified()}} // by b2i(v6)
	classes   = []demux.Class{demux.ClassGRE, demux.ClassIPIP}
	links     = []int{0, 0, 1, 2, 65} // 65 shares link 1's bit in the lookup's filter
)

// mapped returns a as an IPv4-mapped IPv6 address if it is IPv4, else a.
func mapped(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.AddrFrom16(a.As16())
	}
	return a
}

// family returns IPv6 if v6, else IPv4.
func family(v6 bool) demux.Family {
	if v6 {
		return demux.IPv6
	}
	return demux.IPv4
}

// diffSeed is the seed of the random tests: DEMUX_SEED=n reproduces a run.
func diffSeed(t *testing.T) uint64 {
	seed := uint64(1)
	if s := os.Getenv("DEMUX_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
		seed = v
	}
	t.Logf("seed %d (set DEMUX_SEED to change)", seed)
	return seed
}

type gen struct{ r *rand.Rand }

func (g gen) pick(pool []netip.Addr) netip.Addr { return pool[g.r.IntN(len(pool))] }

// addr draws an address of family v6 (or either, for a wildcard).
func (g gen) addr(v6 bool, wild, group int) netip.Addr {
	switch n := g.r.IntN(100); {
	case n < wild:
		return g.pick(poolWild[b2i(v6)])
	case n < wild+group:
		return poolGroup[b2i(v6)]
	case v6:
		return g.pick(poolV6)
	default:
		return g.pick(poolV4)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (g gen) entry(v int) demux.Entry[int] {
	v6 := g.r.IntN(3) == 0
	e := demux.Entry[int]{
		ID: demux.ID{
			Class:  classes[g.r.IntN(len(classes))],
			Local:  g.addr(v6, 35, 5),
			Remote: g.addr(v6, 35, 10),
			Link:   links[g.r.IntN(len(links))],
		},
		Up:    g.r.IntN(5) != 0,
		Value: v,
	}
	if g.r.IntN(2) == 0 {
		e.Family = family(v6) // else the addresses tell it, if they can
	}
	if g.r.IntN(2) == 0 {
		e.HasKey, e.Key = true, uint32(g.r.IntN(3))
	}
	switch g.r.IntN(70) {
	case 0:
		e.Local = netip.MustParseAddr("2001:db8::9") // mixed families: invalid unless IPv6
	case 1:
		e.Key, e.HasKey = 7, false // invalid
	case 2:
		e.Link = -1 // invalid
	case 3, 4, 5:
		e.ID = demux.FallbackID(e.Class, family(v6))
	case 6:
		e.ID = demux.ID{Class: e.Class, Local: g.pick(poolWild[b2i(v6)]), Fallback: true} // family spelled, or none
	case 7:
		e.Remote = mapped(g.pick(poolV4)) // IPv4-mapped: invalid
	case 8:
		e.Remote = g.pick(poolWild[b2i(!v6)]) // wildcard of the other family: invalid unless Local is a wildcard too
	case 9:
		e.Family = family(!v6) // invalid unless both addresses are zero
	}
	return e
}

// query draws a packet: most often one aimed at an entry of ref (with its
// addresses, key and link, each perturbed now and then, or its IPv4
// addresses IPv4-mapped), else a random one.
func (g gen) query(ref *refTable) demux.Query {
	if n := len(ref.entries); n > 0 && g.r.IntN(3) != 0 {
		e := ref.entries[g.r.IntN(n)]
		q := g.randomQuery(e.Family == demux.IPv6)
		if g.r.IntN(8) != 0 {
			q.Class = e.Class
		}
		if e.Remote.IsValid() && !e.Remote.IsMulticast() && g.r.IntN(6) != 0 {
			q.Src = e.Remote
		}
		switch {
		case e.Remote.IsMulticast() && g.r.IntN(6) != 0:
			q.Dst = e.Remote
		case e.Local.IsValid() && g.r.IntN(6) != 0:
			q.Dst = e.Local
		}
		if g.r.IntN(6) != 0 {
			q.HasKey, q.Key = e.HasKey, e.Key
		}
		if g.r.IntN(2) == 0 {
			q.Link = e.Link
		}
		switch g.r.IntN(12) {
		case 0, 1: // the same packet over IPv6
			q.Src, q.Dst = mapped(q.Src), mapped(q.Dst)
		case 2: // a packet of no family
			q.Src = mapped(q.Src)
		}
		return q
	}
	return g.randomQuery(g.r.IntN(3) == 0)
}

// randomQuery draws a packet of family v6 (or, now and then, of no family).
func (g gen) randomQuery(v6 bool) demux.Query {
	q := demux.Query{
		Class: classes[g.r.IntN(len(classes))],
		Src:   g.addr(v6, 8, 2),
		Dst:   g.addr(v6, 5, 25),
		Link:  []int{0, 1, 2, 3, 65}[g.r.IntN(5)],
	}
	if g.r.IntN(2) == 0 {
		q.HasKey, q.Key = true, uint32(g.r.IntN(3))
	}
	return q
}

// TestDifferential checks the table against the linear reference on random
// tables, changed by random writes, and random packets: at least 100,000
// (table state, packet) pairs, and every step, key case, link case, down
// case, multicast case and family case (IPv4-mapped packets, packets that
// an entry of the other family would have matched) reached.
func TestDifferential(t *testing.T) {
	seed := diffSeed(t)
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	g := gen{r}
	tables, pairs := 0, 0
	steps := map[demux.Step]int{}
	cases := map[string]int{}
	errs := map[error]int{} // Add errors, by kind
	for pairs < 100_000 {
		tables++
		tab, ref := demux.New[int](), newRef()
		var ids []demux.ID // identities tried, to remove or change
		v := 0
		for range 1 + r.IntN(12) {
			// A few writes.
			for range 1 + r.IntN(4) {
				v++
				var got, want error
				op := r.IntN(10)
				if len(ids) == 0 {
					op = 0
				}
				switch {
				case op < 6:
					e := g.entry(v)
					got, want = tab.Add(e), ref.Add(e)
					ids = append(ids, e.ID)
					errs[errKind(want)]++
				case op < 7:
					id := ids[r.IntN(len(ids))]
					got, want = tab.Remove(id), ref.Remove(id)
				case op < 9:
					id, up := ids[r.IntN(len(ids))], r.IntN(2) == 0
					got, want = tab.SetUp(id, up), ref.SetUp(id, up)
				default:
					id := ids[r.IntN(len(ids))]
					e := g.entry(v)
					if r.IntN(2) == 0 { // same identity, new value and state
						e.ID = id
					}
					got, want = tab.Replace(id, e), ref.Replace(id, e)
					ids = append(ids, e.ID)
				}
				require.Equal(t, errKind(want), errKind(got), "table %d write %d", tables, v)
			}
			require.Equal(t, ref.Len(), tab.Len(), "table %d", tables)
			// Packets, then the same packets as one LookupBatch.
			var batch []demux.Query
			var single []demux.Result[int]
			for range 5 + r.IntN(20) {
				q := g.query(ref)
				we, ws, wok, why := ref.Lookup(q)
				ge, gs, gok := tab.LookupEntry(q)
				gv, gs2, gok2 := tab.Lookup(q)
				require.Equal(t, []any{ge.Value, gs, gok}, []any{gv, gs2, gok2}, "Lookup and LookupEntry differ")
				batch = append(batch, q)
				single = append(single, demux.Result[int]{Value: gv, Step: gs2, OK: gok2})
				pairs++
				if !assert.Equal(t, wok, gok, "table %d query %+v", tables, q) ||
					!assert.Equal(t, ws, gs, "table %d query %+v", tables, q) ||
					!assert.Equal(t, we, ge, "table %d query %+v", tables, q) {
					t.Logf("entries:\n%s\nfallback:\n%s", dump(ref.entries), dump(fallbacks(ref)))
					t.FailNow()
				}
				steps[ws]++
				for name, hit := range map[string]bool{
					"down-skipped":     why.downSkipped,
					"bound-won":        why.boundWon,
					"bound-later-step": why.boundLater,
					"bound-elsewhere":  why.boundElsewhere,
					"tie":              why.tie,
					"key0-vs-keyless":  why.key0Keyless,
					"group":            why.group,
					"v6":               gok && ge.Family == demux.IPv6,
					"keyed":            gok && ge.HasKey,
					"key0":             gok && ge.HasKey && ge.Key == 0,
					"other-family":     why.otherFamily,
					"mapped-query":     q.Src.Is4In6() || q.Dst.Is4In6(),
					"no-family-query":  refQueryFamily(q) == 0,
					"v6-fallback":      gs == demux.StepFallback && ge.Family == demux.IPv6,
					"v6-wildcard":      gs == demux.StepWildcardKey && ge.Family == demux.IPv6,
				} {
					if hit {
						cases[name]++
					}
				}
			}
			out := make([]demux.Result[int], len(batch)+1)
			require.Equal(t, len(batch), tab.LookupBatch(batch, out))
			require.Equal(t, single, out[:len(batch)], "table %d: LookupBatch differs from Lookup", tables)
		}
		for _, c := range classes {
			require.Equal(t, 3*ref.misses[c], tab.Misses(c), "table %d misses of %v (three lookups per packet)", tables, c)
		}
		// Get and All agree too.
		for _, e := range ref.entries {
			got, ok := tab.Get(e.ID)
			require.True(t, ok)
			require.Equal(t, e, got)
		}
		all := slices.Collect(tab.All())
		require.ElementsMatch(t, append(slices.Clone(ref.entries), fallbacks(ref)...), all)
	}
	t.Logf("%d tables, %d pairs, steps %v, cases %v", tables, pairs, steps, cases)
	for s := demux.StepNone; s <= demux.StepFallback; s++ {
		assert.Greater(t, steps[s], 100, "step %v", s)
	}
	for _, name := range []string{"down-skipped", "bound-won", "bound-later-step", "bound-elsewhere",
		"tie", "key0-vs-keyless", "group", "v6", "keyed", "key0", "other-family", "mapped-query",
		"no-family-query", "v6-fallback", "v6-wildcard"} {
		assert.Greater(t, cases[name], 100, "case %s", name)
	}
	t.Logf("Add errors %v", errs)
	assert.Greater(t, errs[demux.ErrInvalid], 100)
	assert.Greater(t, errs[demux.ErrExists], 20)
}

func fallbacks(r *refTable) []demux.Entry[int] {
	var out []demux.Entry[int]
	for _, e := range r.fallback {
		out = append(out, e)
	}
	return out
}

// dump formats entries one a line with their state and value (an Entry's
// String method shows its identity alone).
func dump(es []demux.Entry[int]) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "\t%v up=%v value=%d\n", e.ID, e.Up, e.Value)
	}
	return b.String()
}

// TestDifferentialOneShard runs the comparison on entries that all fall into
// one shard, so that the shard grows, fills with tombstones, is rebuilt and
// shrinks, and probe sequences are long, while the linear reference stays
// fast.
func TestDifferentialOneShard(t *testing.T) {
	seed := diffSeed(t)
	r := rand.New(rand.NewPCG(seed, 0x1))
	tab, ref := demux.New[int](), newRef()
	// Random entries (many addresses, a few keys and links) that land in the
	// shard of the first one.
	var pool []demux.Entry[int]
	seen := map[demux.ID]bool{}
	shared := map[demux.ID]int{} // by share key, kept under MaxShared so that every entry can be added
	shard := -1
	for v := 0; len(pool) < 3000; v++ {
		e := randomEntry(r, v)
		s := demux.ShardOf(tab, e.ID)
		if shard < 0 {
			shard = s
		}
		if s == shard && !seen[e.ID] && shared[refShareKey(e.ID)] < demux.MaxShared {
			pool = append(pool, e)
			seen[e.ID] = true
			shared[refShareKey(e.ID)]++
		}
	}
	present := map[int]bool{} // pool index → added
	maxSlots := 0
	check := func(n int) {
		for range n {
			var q demux.Query
			if len(ref.entries) > 0 && r.IntN(4) != 0 {
				e := ref.entries[r.IntN(len(ref.entries))]
				q = demux.Query{Class: e.Class, Src: e.Remote, Dst: e.Local, Key: e.Key, HasKey: e.HasKey, Link: r.IntN(3)}
				if !q.Dst.IsValid() || r.IntN(4) == 0 {
					q.Dst = randomEntry(r, 0).Local
				}
				if !q.Src.IsValid() || q.Src.IsMulticast() {
					q.Dst, q.Src = q.Src, randomEntry(r, 0).Remote
				}
			} else {
				e := randomEntry(r, 0)
				q = demux.Query{Class: e.Class, Src: e.Remote, Dst: e.Local, Key: e.Key, HasKey: e.HasKey, Link: r.IntN(3)}
			}
			we, ws, wok, _ := ref.Lookup(q)
			ge, gs, gok := tab.LookupEntry(q)
			require.Equal(t, wok, gok, "query %+v", q)
			require.Equal(t, ws, gs, "query %+v", q)
			require.Equal(t, we, ge, "query %+v", q)
		}
	}
	// Grow to the whole pool, churn, then shrink to a few entries and none.
	for round, target := range []int{3000, 1500, 2500, 40, 0} {
		for ops := 0; ops < 2000 || len(ref.entries) != target; ops++ {
			i := r.IntN(len(pool))
			if len(ref.entries) > target || (len(ref.entries) == target && target > 0 && r.IntN(2) == 0) {
				// Remove one: pick among the present ones.
				for !present[i] {
					i = r.IntN(len(pool))
				}
			} else if len(ref.entries) < target {
				for present[i] {
					i = r.IntN(len(pool))
				}
			}
			e := pool[i]
			switch {
			case !present[i] && len(ref.entries) <= target:
				require.Equal(t, errKind(ref.Add(e)), errKind(tab.Add(e)))
				present[i] = true
			case present[i] && len(ref.entries) >= target && r.IntN(4) != 0:
				require.Equal(t, errKind(ref.Remove(e.ID)), errKind(tab.Remove(e.ID)))
				present[i] = false
			case present[i]:
				up := r.IntN(3) != 0
				require.Equal(t, errKind(ref.SetUp(e.ID, up)), errKind(tab.SetUp(e.ID, up)))
			}
			if r.IntN(20) == 0 {
				check(5)
			}
			maxSlots = max(maxSlots, demux.ShardSlots(tab, shard))
		}
		check(500)
		require.Equal(t, ref.Len(), tab.Len(), "round %d", round)
	}
	assert.GreaterOrEqual(t, maxSlots, 2048, "the shard grew")
	assert.Equal(t, 64, demux.ShardSlots(tab, shard), "the shard shrank")
}

// randomEntry draws an entry from a large address space (unlike gen, whose
// pools are tiny), with few keys and links so that index keys repeat.
func randomEntry(r *rand.Rand, v int) demux.Entry[int] {
	a := func() netip.Addr {
		switch n := r.IntN(20); {
		case n < 5:
			return netip.Addr{}
		case n < 6:
			return netip.AddrFrom4([4]byte{239, 1, 0, byte(r.IntN(4))})
		default:
			return netip.AddrFrom4([4]byte{10, 0, byte(r.IntN(32)), byte(r.IntN(32))})
		}
	}
	e := demux.Entry[int]{ID: demux.ID{Class: demux.ClassGRE, Family: demux.IPv4, Local: a(), Remote: a(), Link: r.IntN(3)},
		Up: true, Value: v}
	if e.Local.IsMulticast() {
		e.Local = netip.Addr{}
	}
	if r.IntN(2) == 0 {
		e.HasKey, e.Key = true, uint32(r.IntN(3))
	}
	return e
}
