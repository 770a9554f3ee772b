package demux

import (
	"math"
	"net/netip"
)

// Lookup finds the entry that receives packet q, following the steps in the
// package documentation, and returns its value with the step that matched.
// Only entries of q's family match (see [Query]). A miss returns the zero
// V, StepNone and false, and counts one miss of q.Class.
//
// Lookup takes no lock and never allocates. It returns no entry that was
// removed (or set down) before it began; entries added or changed while it
// runs may or may not be seen.
func (t *Table[V]) Lookup(q Query) (v V, step Step, ok bool) {
	return value(t.lookup(&q))
}

// value turns what lookup found into Lookup's results.
func value[V any](s *slot[V], fe *Entry[V], step Step) (v V, _ Step, ok bool) {
	switch {
	case s != nil:
		return s.val, step, true
	case fe != nil:
		return fe.Value, step, true
	}
	return v, StepNone, false
}

// LookupEntry is Lookup returning the whole entry, in its normalized form
// (see [Entry]). It counts misses and never allocates either.
func (t *Table[V]) LookupEntry(q Query) (e Entry[V], step Step, ok bool) {
	s, fe, step := t.lookup(&q)
	switch {
	case s != nil:
		return s.entry(), step, true
	case fe != nil:
		return *fe, step, true
	}
	return e, StepNone, false
}

// Result is the outcome of one lookup of [Table.LookupBatch]: what
// [Table.Lookup] returns.
type Result[V any] struct {
	// Value is the value of the entry found, the zero V on a miss.
	Value V
	// Step is the step that matched, StepNone on a miss.
	Step Step
	// OK reports whether an entry was found.
	OK bool
}

// LookupBatch looks up qs[i] for every i < min(len(qs), len(out)) and stores
// the results in out[i], exactly as that many calls of Lookup would (misses
// are counted the same way), and returns how many it did.
//
// It is faster than Lookup in a loop on a large table, where a lookup waits
// mostly for the cache miss on its entry: it first touches the home slot of
// every query's first step, letting the CPU wait for all those misses at
// once, then does the lookups. A receiver that reads packets in batches
// (recvmmsg) hands it the batch. It takes no lock and never allocates.
func (t *Table[V]) LookupBatch(qs []Query, out []Result[V]) int {
	n := min(len(qs), len(out))
	var hs [batchTouch]uint64
	for base := 0; base < n; base += batchTouch {
		m := min(n-base, batchTouch)
		// Hash every query first, then touch every home slot in a tight
		// loop: the CPU overlaps those cache misses best when nothing else
		// sits between the loads.
		for i := range m {
			hs[i] = t.touchHash(&qs[base+i])
		}
		for _, h := range hs[:m] {
			if sh := t.shards[h>>(64-shardBits)].Load(); sh != nil {
				// The load is atomic, which the compiler never removes
				// although its result is not used.
				sh.at(h & sh.mask).loadMeta()
			}
		}
		for i := range m {
			r := &out[base+i]
			r.Value, r.Step, r.OK = value(t.lookup(&qs[base+i]))
		}
	}
	return n
}

// batchTouch is how many home slots LookupBatch touches before it looks up.
const batchTouch = 64

// touchHash returns the hash of the home slot of q's step 1 or, when q has
// no source or the class has no exact entries, of its step 4.
func (t *Table[V]) touchHash(q *Query) uint64 {
	s0, s1 := words(q.Src)
	d0, d1 := words(q.Dst)
	key, want := probeKey(q)
	if s0|s1 != 0 && d0|d1 != 0 && t.kinds[q.Class][0].n.Load() != 0 {
		return t.hs.final(t.hs.local(d0, d1), t.hs.remote(s0, s1), keyWord(want, key))
	}
	return t.hs.final(t.hl0, t.hr0, keyWord(want, key))
}

// probeKey returns what the probes of q compare besides addresses and the
// family: its key (0 without one) and the meta bits an entry must have (q's
// class, live, UP, and key presence).
func probeKey(q *Query) (key, want uint32) {
	want = uint32(q.Class) | fLive | fUp
	if q.HasKey {
		want |= fHasKey
		key = q.Key
	}
	return
}

// famCode returns 1 for an IPv4 address, 2 for an IPv6 one (IPv4-mapped
// included), 0 for the zero Addr: or-ing the codes of a query's addresses
// gives 1 or 2 when they agree on a family, 0 or 3 when the query has none.
func famCode(a netip.Addr) uint32 {
	switch {
	case a.Is4():
		return 1
	case a.IsValid():
		return 2
	}
	return 0
}

// boundLater reports whether an UP entry of steps 2 to 4 may be bound to
// link lk (nonzero), so that it would win over an unbound step-1 match.
func boundLater(ks *[4]kindInfo, lk int32) bool {
	return (ks[1].bound.Load()|ks[2].bound.Load()|ks[3].bound.Load())&(1<<(uint32(lk)%64)) != 0
}

// lookup returns the matching slot, or the UP fallback entry, or neither.
// It does step 1 itself, kept short because it is the hot path of a busy
// receiver, and hands the other steps to lookupRest.
func (t *Table[V]) lookup(q *Query) (*slot[V], *Entry[V], Step) {
	s0, s1 := words(q.Src)
	d0, d1 := words(q.Dst)
	key, want := probeKey(q)
	kw := keyWord(want, key)
	// The family takes part in every comparison but in no hash (see
	// keyWord), and the fast path below compares it last, apart from the
	// rest of the meta word. Measured at 1M entries with a random mix of
	// families, against the lookup before families: no difference this
	// way; 15% more with the family in the hash, 10% more with it in the
	// first comparison, and 15% to 150% more with famCode as conditional
	// moves instead of branches, as if the family word of a netip.Addr,
	// which nothing else reads, arrived late.
	f := famCode(q.Src) | famCode(q.Dst)
	if f-1 >= 2 { // not 1 or 2: no family
		t.misses[q.Class].Add(1)
		return nil, nil, StepNone
	}
	fam := (f >> 1) * fV6
	var lk int32
	if q.Link > 0 && q.Link <= math.MaxInt32 {
		lk = int32(q.Link)
	}
	ks := &t.kinds[q.Class]
	// 1. local == D, remote == S.
	if s0|s1 != 0 && d0|d1 != 0 && ks[0].n.Load() != 0 {
		h := t.hs.final(t.hs.local(d0, d1), t.hs.remote(s0, s1), kw)
		// The common case first, without a call: the entry sits at its
		// home slot, alone with its index key, and no later step has an
		// entry bound to the packet's link.
		if sh := t.shards[h>>(64-shardBits)].Load(); sh != nil {
			s := sh.at(h & sh.mask)
			if m := s.loadMeta(); m&(matchMask|fpMask|fGroup|fMulti)&^fV6 == want|fingerprint(h) &&
				s.key == key && s.l0 == d0 && s.l1 == d1 && s.r0 == s0 && s.r1 == s1 &&
				(lk == 0 || s.link == lk || !boundLater(ks, lk)) && m&fV6 == fam {
				return s, nil, StepExact
			}
		}
		want |= fam
		if s, b := t.probe(h, d0, d1, s0, s1, key, want, false, lk); s != nil {
			// A later step can only win with an entry bound to q.Link.
			if b || lk == 0 || !boundLater(ks, lk) {
				return s, nil, StepExact
			}
			return t.lookupRest(q, s0, s1, d0, d1, key, kw, want, lk, s, StepExact)
		}
		return t.lookupRest(q, s0, s1, d0, d1, key, kw, want, lk, nil, StepNone)
	}
	return t.lookupRest(q, s0, s1, d0, d1, key, kw, want|fam, lk, nil, StepNone)
}

// lookupRest does steps 2 to 5 after step 1 found best (unbound) or nothing.
// kw is the key word of the index-key hash, want what probes compare.
func (t *Table[V]) lookupRest(q *Query, s0, s1, d0, d1 uint64, key uint32, kw uint64, want uint32, lk int32,
	best *slot[V], step Step) (*slot[V], *Entry[V], Step) {
	c := q.Class
	ks := &t.kinds[c]
	hasS, hasD := s0|s1 != 0, d0|d1 != 0
	lbit := uint64(1) << (uint32(lk) % 64)
	var hS, hD uint64
	if hasS {
		hS = t.hs.remote(s0, s1)
	}
	if hasD {
		hD = t.hs.local(d0, d1)
	}

	// worth tells whether step k can change the answer: it has UP entries,
	// and either nothing matched yet or it has an entry bound to q.Link.
	worth := func(k int) bool {
		return ks[k].n.Load() != 0 && (best == nil || lk != 0 && ks[k].bound.Load()&lbit != 0)
	}
	// 2. remote == S, local wildcard.
	if hasS && worth(1) {
		if s, b := t.probe(t.hs.final(t.hl0, hS, kw), 0, 0, s0, s1, key, want, false, lk); s != nil {
			if b {
				return s, nil, StepRemote
			}
			if best == nil {
				best, step = s, StepRemote
			}
		}
	}
	// 3. local == D, remote wildcard; or remote is the group D.
	if hasD && worth(2) {
		if s, b := t.probe(t.hs.final(hD, t.hr0, kw), d0, d1, 0, 0, key, want, true, lk); s != nil {
			if b {
				return s, nil, StepLocal
			}
			if best == nil {
				best, step = s, StepLocal
			}
		}
	}
	// 4. local and remote wildcard, same key.
	if worth(3) {
		if s, b := t.probe(t.hs.final(t.hl0, t.hr0, kw), 0, 0, 0, 0, key, want, false, lk); s != nil {
			if b {
				return s, nil, StepWildcardKey
			}
			if best == nil {
				best, step = s, StepWildcardKey
			}
		}
	}
	if best != nil {
		return best, nil, step
	}
	// 5. the fallback entry of the class and family, if UP.
	if fe := t.fallback[c][(want&fV6)/fV6].Load(); fe != nil && fe.Up {
		return nil, fe, StepFallback
	}
	t.misses[c].Add(1)
	return nil, nil, StepNone
}

// probe scans the probe sequence of hash h for UP entries of index key
// (a, b) matching key and want (class, family, key presence), and with group for
// group entries whose remote is a. It returns the entry bound to link lk
// (bound true), or else the first matching entry, or nil. Entries are
// compared in full, so colliding hashes only cost time; the fingerprint in
// the meta word skips most other entries of the sequence without reading
// them further.
func (t *Table[V]) probe(h, a0, a1, b0, b1 uint64, key, want uint32, group bool, lk int32) (best *slot[V], bound bool) {
	sh := t.shards[h>>(64-shardBits)].Load()
	if sh == nil {
		return nil, false
	}
	want |= fingerprint(h)
	for p := h & sh.mask; ; p = (p + 1) & sh.mask {
		s := sh.at(p)
		m := s.loadMeta()
		if m == 0 {
			return best, bound
		}
		if m&(matchMask|fpMask) != want || s.key != key {
			continue
		}
		if m&fGroup == 0 {
			if s.l0 != a0 || s.l1 != a1 || s.r0 != b0 || s.r1 != b1 {
				continue
			}
		} else if !group || s.r0 != a0 || s.r1 != a1 {
			continue
		}
		b := lk != 0 && s.link == lk
		if m&fMulti == 0 && best == nil {
			// The only entry with this index key.
			return s, b
		}
		switch {
		case b && (!bound || s.seq < best.seq):
			best, bound = s, true
		case !b && !bound && (best == nil || s.seq < best.seq):
			best = s
		}
	}
}
