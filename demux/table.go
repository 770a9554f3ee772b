package demux

import (
	"fmt"
	"iter"
	"sync"
	"sync/atomic"
)

// Layout constants. The table is split into numShards shards by the top
// bits of the index-key hash; each shard is an open-addressing hash table
// with linear probing over slots of one cache line each, starting at the
// slot the low bits of the hash name. A lookup that finds its entry at that
// home slot (most do: shards stay at most 5/8 full) reads one cache line
// of the table, and the next slots it may probe are the adjacent lines.
// Slots live in chunks of chunkSlots, the unit of copy-on-write.
const (
	shardBits  = 8
	numShards  = 1 << shardBits
	chunkSlots = 8
	minSlots   = 64
)

// Meta bits of a slot. A slot whose meta is 0 has never been used since its
// shard was built: probe sequences end there.
const (
	metaClass = 0xff    // the class
	fLive     = 1 << 8  // a live entry
	fTomb     = 1 << 13 // a removed entry: probe sequences go on past it
	fHasKey   = 1 << 9  // the entry has a key
	fUp       = 1 << 10 // the entry is UP
	fGroup    = 1 << 11 // Remote is a multicast group
	fMulti    = 1 << 12 // other entries share this index key
	fV6       = 1 << 14 // the entry is IPv6 (else IPv4)
	fpShift   = 16      // bits 16-31: 16 bits of the index-key hash
	fpMask    = 0xffff << fpShift
	idMask    = metaClass | fHasKey | fV6 // the identity bits, besides addresses, key and link
	matchMask = idMask | fLive | fUp
)

// MaxShared is the most entries that may share an index key: class,
// family, local, remote and key, so differing only in Link (or, for group
// entries, which are indexed by their group alone, in Local too). Add
// returns [ErrTooMany] for one more.
//
// Such entries share one probe sequence, which a lookup scans to its end to
// find the one bound to the packet's link or else the first added, and
// which Add scans to find a duplicate: without a bound, 16,000 entries
// differing only in Link cost 0.1 to 0.2 ms a lookup and 1.4 s to build,
// the build quadratic (measured here, BenchmarkLinks; with the cap, 150 ns
// and 25 ms, mostly the ErrTooMany messages of the 15,984 refused). A cap
// keeps both O(1) with no second index to probe on the hot path or keep
// consistent on writes, and loses nothing real: entries differing only in
// Link are one peer reached over several underlay links, a handful on any
// host (Linux, which scans such entries in one hash chain, degrades with
// their number too).
const MaxShared = 16

// slot is one entry as stored: 64 bytes when V is a pointer, one cache line
// (chunks are 4 KiB, so slots are line-aligned), so that a lookup that hits
// at its home position reads one line. Addresses are words of their 16-byte
// form (zero for the wildcard); the family is the fV6 bit of meta.
//
// meta is the gate between the writer and readers: it is loaded and stored
// atomically, and a slot's other fields are read only after its meta was
// seen live.
type slot[V any] struct {
	meta   uint32 // accessed with sync/atomic while the slot may be visible
	key    uint32 // 0 without fHasKey
	link   int32
	_      uint32
	l0, l1 uint64 // local
	r0, r1 uint64 // remote
	seq    uint64 // insertion order: the first match of a step wins
	val    V
}

// chunk is the unit of copy-on-write: a slot whose meta is not 0 is never
// written again; a change copies its chunk and publishes the copy. A slot
// whose meta is still 0 has never been live, so readers read nothing of it
// but its meta: it is written in place, meta last.
type chunk[V any] struct{ s [chunkSlots]slot[V] }

// shard is one open-addressing table. Its chunk pointers are atomics:
// readers load them without a lock, the one writer (holding Table.mu)
// stores them. A resize builds a new shard and publishes it.
type shard[V any] struct {
	mask   uint64 // number of slots - 1
	chunks []atomic.Pointer[chunk[V]]
	// Writer-only counters (read and written under Table.mu).
	live, used int // used = live + tombstones
}

// kindInfo tells a lookup whether a step can match in a class: n counts
// the UP entries of that step's kind, bound has bit link%64 set for each
// link an UP entry of that kind is bound to.
type kindInfo struct {
	n     atomic.Int64
	bound atomic.Uint64
}

// Table is the receive-side tunnel table. Lookups are lock-free and never
// allocate; writers serialize on a mutex and copy one chunk of 8 slots per
// change. The zero Table is not usable: call [New].
type Table[V any] struct {
	shards   [numShards]atomic.Pointer[shard[V]]
	fallback [256][2]atomic.Pointer[Entry[V]] // by class and family (famIndex)
	kinds    [256][4]kindInfo
	hs       hasher
	hl0, hr0 uint64 // hashes of the wildcard as local and as remote
	n        atomic.Int64

	mu     sync.Mutex
	seq    uint64
	nbound map[uint32]int32 // (class, kind, link%64) → UP bound entries

	_      [64]byte
	misses [256]atomic.Uint64
}

// New returns an empty table.
func New[V any]() *Table[V] {
	t := &Table[V]{hs: newHasher(), nbound: make(map[uint32]int32)}
	t.hl0, t.hr0 = t.hs.local(0, 0), t.hs.remote(0, 0)
	return t
}

// Len returns the number of entries, fallback entries included.
func (t *Table[V]) Len() int { return int(t.n.Load()) }

// Misses returns how many lookups of class c found no entry.
func (t *Table[V]) Misses(c Class) uint64 { return t.misses[c].Load() }

// newShard returns an empty shard of n slots (a power of two ≥ minSlots).
func newShard[V any](n int) *shard[V] {
	sh := &shard[V]{
		mask:   uint64(n - 1),
		chunks: make([]atomic.Pointer[chunk[V]], n/chunkSlots),
	}
	for i := range sh.chunks {
		sh.chunks[i].Store(new(chunk[V]))
	}
	return sh
}

func (sh *shard[V]) slots() int { return int(sh.mask + 1) }

// at returns the slot at position p of the current chunk.
func (sh *shard[V]) at(p uint64) *slot[V] { return &sh.chunks[p/chunkSlots].Load().s[p%chunkSlots] }

// loadMeta loads the meta word of s, the gate to its other fields.
func (s *slot[V]) loadMeta() uint32 { return atomic.LoadUint32(&s.meta) }

// write stores rec at position p: in place if the slot was never used (its
// meta is 0, so readers look at nothing but the meta, which is stored last),
// else into a copy of its chunk, which it then publishes.
func (sh *shard[V]) write(p uint64, rec *slot[V]) {
	cp := &sh.chunks[p/chunkSlots]
	c := cp.Load()
	if s := &c.s[p%chunkSlots]; s.loadMeta() == 0 {
		s.key, s.link, s.l0, s.l1, s.r0, s.r1, s.seq, s.val = rec.key, rec.link, rec.l0, rec.l1, rec.r0, rec.r1, rec.seq, rec.val
		atomic.StoreUint32(&s.meta, rec.meta)
		return
	}
	nc := new(chunk[V])
	*nc = *c
	nc.s[p%chunkSlots] = *rec
	cp.Store(nc)
}

// index returns the index-key addresses of s: (local, remote), or (group, 0)
// for a group entry.
func (s *slot[V]) index() (a0, a1, b0, b1 uint64) {
	if s.meta&fGroup != 0 {
		return s.r0, s.r1, 0, 0
	}
	return s.l0, s.l1, s.r0, s.r1
}

// kind returns the step (0..3 for StepExact..StepWildcardKey) at which s can
// match.
func (s *slot[V]) kind() int {
	switch {
	case s.meta&fGroup != 0:
		return 2
	case s.l0|s.l1 != 0 && s.r0|s.r1 != 0:
		return 0
	case s.r0|s.r1 != 0:
		return 1
	case s.l0|s.l1 != 0:
		return 2
	}
	return 3
}

// famBit returns the meta bit of family f: fV6 or 0.
func famBit(f Family) uint32 {
	if f == IPv6 {
		return fV6
	}
	return 0
}

// famIndex returns the index of family f in Table.fallback.
func famIndex(f Family) int {
	if f == IPv6 {
		return 1
	}
	return 0
}

func (t *Table[V]) hash(s *slot[V]) uint64 {
	a0, a1, b0, b1 := s.index()
	return t.hs.final(t.hs.local(a0, a1), t.hs.remote(b0, b1), keyWord(s.meta, s.key))
}

func (s *slot[V]) entry() Entry[V] {
	v6 := s.meta&fV6 != 0
	f := IPv4
	if v6 {
		f = IPv6
	}
	return Entry[V]{
		ID: ID{
			Class:  Class(s.meta & metaClass),
			Family: f,
			Local:  addrOf(s.l0, s.l1, v6),
			Remote: addrOf(s.r0, s.r1, v6),
			Key:    s.key,
			HasKey: s.meta&fHasKey != 0,
			Link:   int(s.link),
		},
		Up:    s.meta&fUp != 0,
		Value: s.val,
	}
}

// sameID reports whether a and b have the same identity.
func (a *slot[V]) sameID(b *slot[V]) bool {
	return a.meta&idMask == b.meta&idMask && a.key == b.key &&
		a.link == b.link && a.l0 == b.l0 && a.l1 == b.l1 && a.r0 == b.r0 && a.r1 == b.r1
}

// sameIndex reports whether a and b have the same index key.
func (a *slot[V]) sameIndex(b *slot[V]) bool {
	if a.meta&idMask != b.meta&idMask || a.key != b.key {
		return false
	}
	a0, a1, a2, a3 := a.index()
	b0, b1, b2, b3 := b.index()
	return a0 == b0 && a1 == b1 && a2 == b2 && a3 == b3
}

// fingerprint returns the bits of hash h that a slot keeps in its meta word,
// so that a lookup tells its entry from the others of a probe sequence by
// the meta word alone, before it reads (or waits for) anything else.
func fingerprint(h uint64) uint32 { return uint32(h>>40) << fpShift }

// record builds the stored form of a normalized ID.
func record[V any](id ID, up bool, v V) slot[V] {
	s := slot[V]{key: id.Key, link: int32(id.Link), meta: uint32(id.Class) | famBit(id.Family) | fLive, val: v}
	s.l0, s.l1 = words(id.Local)
	s.r0, s.r1 = words(id.Remote)
	if id.HasKey {
		s.meta |= fHasKey
	}
	if up {
		s.meta |= fUp
	}
	if id.Remote.IsMulticast() {
		s.meta |= fGroup
	}
	return s
}

// found is the result of scanning a probe sequence for an identity.
type found struct {
	pos   int64  // position of the entry with that identity, -1 if none
	same  int    // entries other than it with the same index key
	other uint64 // position of one of those
	free  uint64 // the never-used slot that ends the probe sequence
}

// find scans the probe sequence of rec (hash h) in sh. It only loads, so
// readers may call it too. New entries go to the never-used slot that ends
// the sequence, never to a tombstone: a never-used slot is written in
// place, where reusing a tombstone would copy its chunk. Tombstones go
// when the shard is rebuilt.
func (sh *shard[V]) find(h uint64, rec *slot[V]) found {
	f := found{pos: -1}
	for p := h & sh.mask; ; p = (p + 1) & sh.mask {
		s := sh.at(p)
		m := s.loadMeta()
		if m == 0 {
			f.free = p
			return f
		}
		if m&fLive == 0 {
			continue
		}
		if s.sameID(rec) {
			f.pos = int64(p)
		} else if s.sameIndex(rec) {
			f.same++
			f.other = p
		}
	}
}

// insertNew puts rec into a shard under construction (no tombstones, not yet
// published).
func (sh *shard[V]) insertNew(h uint64, rec *slot[V]) {
	for p := h & sh.mask; ; p = (p + 1) & sh.mask {
		if s := sh.at(p); s.meta == 0 {
			*s = *rec
			sh.live++
			sh.used++
			return
		}
	}
}

// capFor returns the number of slots for a shard holding n entries: at most
// 5/8 full, a power of two, at least minSlots.
func capFor(n int) int {
	c := minSlots
	for n*8 > c*5 {
		c *= 2
	}
	return c
}

// rebuild replaces shard i by a new one with room for n entries, holding the
// live entries of sh, and returns it.
func (t *Table[V]) rebuild(i uint64, sh *shard[V], n int) *shard[V] {
	ns := newShard[V](capFor(n))
	if sh != nil {
		for p := range uint64(sh.slots()) {
			if s := sh.at(p); s.loadMeta()&fLive != 0 {
				ns.insertNew(t.hash(s), s)
			}
		}
	}
	t.shards[i].Store(ns)
	return ns
}

// account adds d (±1) to the UP entries of s's kind, before an UP entry is
// published or after it stops being one, so a lookup that sees a count of
// zero may skip the step.
func (t *Table[V]) account(s *slot[V], d int) {
	c := s.meta & metaClass
	k := s.kind()
	ki := &t.kinds[c][k]
	if d > 0 {
		ki.n.Add(1)
	}
	if s.link != 0 {
		b := uint32(s.link) % 64
		id := c<<16 | uint32(k)<<8 | b
		n := t.nbound[id] + int32(d)
		if n == 0 {
			delete(t.nbound, id)
			ki.bound.Store(ki.bound.Load() &^ (1 << b))
		} else {
			t.nbound[id] = n
			ki.bound.Store(ki.bound.Load() | 1<<b)
		}
	}
	if d < 0 {
		ki.n.Add(-1)
	}
}

// setMulti rewrites the slot at p with the fMulti bit set or cleared.
func (sh *shard[V]) setMulti(p uint64, on bool) {
	s := *sh.at(p)
	if on == (s.meta&fMulti != 0) {
		return
	}
	s.meta ^= fMulti
	sh.write(p, &s)
}

// Add adds e. It returns an error matching ErrExists if an entry with the
// same identity (see [ID]) is present, ErrInvalid if e is not valid,
// ErrTooMany if [MaxShared] entries differing from e only in Link are. The
// new entry is the last of its step in the order of "first match wins".
func (t *Table[V]) Add(e Entry[V]) error {
	id, err := e.ID.normalize()
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seq++
	return t.add(id, e.Up, e.Value, t.seq, 0)
}

// add adds the entry of normalized identity id, the seq-th in insertion
// order. leaving is 1 when an entry of the same index key is about to be
// removed (Replace), so that it does not count towards MaxShared.
func (t *Table[V]) add(id ID, up bool, v V, seq uint64, leaving int) error {
	if id.Fallback {
		fp := &t.fallback[id.Class][famIndex(id.Family)]
		if fp.Load() != nil {
			return fmt.Errorf("%w: %v", ErrExists, id)
		}
		fp.Store(&Entry[V]{ID: id, Up: up, Value: v})
		t.n.Add(1)
		return nil
	}
	rec := record(id, up, v)
	rec.seq = seq
	h := t.hash(&rec)
	rec.meta |= fingerprint(h)
	si := h >> (64 - shardBits)
	sh := t.shards[si].Load()
	if sh == nil {
		sh = t.rebuild(si, nil, 1)
	}
	f := sh.find(h, &rec)
	if f.pos >= 0 {
		return fmt.Errorf("%w: %v", ErrExists, id)
	}
	if f.same-leaving >= MaxShared {
		return fmt.Errorf("%w: %v: %d entries share its addresses and key", ErrTooMany, id, f.same)
	}
	if (sh.used+1)*8 > sh.slots()*5 {
		sh = t.rebuild(si, sh, sh.live+1)
		f = sh.find(h, &rec)
	}
	if f.same > 0 {
		rec.meta |= fMulti
		if f.same == 1 {
			sh.setMulti(f.other, true)
		}
	}
	if up {
		t.account(&rec, +1)
	}
	sh.write(f.free, &rec)
	sh.live++
	sh.used++
	t.n.Add(1)
	return nil
}

// locate finds the entry with normalized identity id (not a fallback).
func (t *Table[V]) locate(id ID) (si uint64, sh *shard[V], f found) {
	var zero V
	rec := record(id, false, zero)
	h := t.hash(&rec)
	si = h >> (64 - shardBits)
	sh = t.shards[si].Load()
	if sh == nil {
		return si, nil, found{pos: -1}
	}
	return si, sh, sh.find(h, &rec)
}

// Remove removes the entry with identity id. It returns an error matching
// ErrNotFound if there is none. A lookup that begins after Remove returns
// never returns the entry.
func (t *Table[V]) Remove(id ID) error {
	id, err := id.normalize()
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.remove(id)
}

func (t *Table[V]) remove(id ID) error {
	if id.Fallback {
		if t.fallback[id.Class][famIndex(id.Family)].Swap(nil) == nil {
			return fmt.Errorf("%w: %v", ErrNotFound, id)
		}
		t.n.Add(-1)
		return nil
	}
	si, sh, f := t.locate(id)
	if f.pos < 0 {
		return fmt.Errorf("%w: %v", ErrNotFound, id)
	}
	p := uint64(f.pos)
	old := *sh.at(p)
	sh.write(p, &slot[V]{meta: fTomb}) // drop the value, so it can be collected
	if old.meta&fUp != 0 {
		t.account(&old, -1)
	}
	if f.same == 1 {
		sh.setMulti(f.other, false)
	}
	sh.live--
	t.n.Add(-1)
	if n := sh.slots(); n > minSlots && sh.live*16 < n {
		t.rebuild(si, sh, sh.live)
	}
	return nil
}

// SetUp sets the UP state of the entry with identity id (ip link set up /
// down). It returns an error matching ErrNotFound if there is none.
func (t *Table[V]) SetUp(id ID, up bool) error {
	id, err := id.normalize()
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if id.Fallback {
		fp := &t.fallback[id.Class][famIndex(id.Family)]
		e := fp.Load()
		if e == nil {
			return fmt.Errorf("%w: %v", ErrNotFound, id)
		}
		ne := *e
		ne.Up = up
		fp.Store(&ne)
		return nil
	}
	_, sh, f := t.locate(id)
	if f.pos < 0 {
		return fmt.Errorf("%w: %v", ErrNotFound, id)
	}
	p := uint64(f.pos)
	s := *sh.at(p)
	if up == (s.meta&fUp != 0) {
		return nil
	}
	s.meta ^= fUp
	if up {
		t.account(&s, +1)
	}
	sh.write(p, &s)
	if !up {
		t.account(&s, -1)
	}
	return nil
}

// Replace replaces the entry with identity old by e, which takes its place
// in the order of "first match wins" (ip tunnel change). It returns an error
// matching ErrNotFound if old is absent, ErrExists if e has another identity
// that is present, ErrInvalid if either is invalid. When e has the identity
// of old, lookups see the old entry or the new one, never neither; when the
// identity changes, a lookup running meanwhile may see both.
func (t *Table[V]) Replace(old ID, e Entry[V]) error {
	old, err := old.normalize()
	if err != nil {
		return err
	}
	id, err := e.ID.normalize()
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if old.Fallback {
		fp := &t.fallback[old.Class][famIndex(old.Family)]
		if fp.Load() == nil {
			return fmt.Errorf("%w: %v", ErrNotFound, old)
		}
		if id == old {
			fp.Store(&Entry[V]{ID: id, Up: e.Up, Value: e.Value})
			return nil
		}
		t.seq++
		if err := t.add(id, e.Up, e.Value, t.seq, 0); err != nil {
			return err
		}
		return t.remove(old)
	}
	_, sh, f := t.locate(old)
	if f.pos < 0 {
		return fmt.Errorf("%w: %v", ErrNotFound, old)
	}
	p := uint64(f.pos)
	prev := *sh.at(p)
	if id == old {
		s := record(id, e.Up, e.Value)
		s.meta |= prev.meta & fpMask
		s.seq, s.meta = prev.seq, s.meta|prev.meta&fMulti
		if s.meta&fUp != 0 {
			t.account(&s, +1)
		}
		sh.write(p, &s)
		if prev.meta&fUp != 0 {
			t.account(&prev, -1)
		}
		return nil
	}
	leaving := 0
	if rec := record(id, false, e.Value); !id.Fallback && rec.sameIndex(&prev) {
		leaving = 1
	}
	if err := t.add(id, e.Up, e.Value, prev.seq, leaving); err != nil {
		return err
	}
	return t.remove(old)
}

// Get returns the entry with identity id. Like Lookup it takes no lock.
func (t *Table[V]) Get(id ID) (Entry[V], bool) {
	id, err := id.normalize()
	if err != nil {
		return Entry[V]{}, false
	}
	if id.Fallback {
		if e := t.fallback[id.Class][famIndex(id.Family)].Load(); e != nil {
			return *e, true
		}
		return Entry[V]{}, false
	}
	_, sh, f := t.locate(id)
	if f.pos < 0 {
		return Entry[V]{}, false
	}
	return sh.at(uint64(f.pos)).entry(), true
}

// All yields every entry, fallback entries last, in no particular order.
// It takes no lock: entries added or removed meanwhile may be seen or not.
func (t *Table[V]) All() iter.Seq[Entry[V]] {
	return func(yield func(Entry[V]) bool) {
		for i := range t.shards {
			sh := t.shards[i].Load()
			if sh == nil {
				continue
			}
			for p := range uint64(sh.slots()) {
				if s := sh.at(p); s.loadMeta()&fLive != 0 && !yield(s.entry()) {
					return
				}
			}
		}
		for i := range t.fallback {
			for j := range t.fallback[i] {
				if e := t.fallback[i][j].Load(); e != nil && !yield(*e) {
					return
				}
			}
		}
	}
}
