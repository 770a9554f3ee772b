package tunnel

import (
	"encoding/binary"
	"iter"
	"maps"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/gaissmai/bart"
)

// lpmTable maps inner prefixes to values with longest-prefix lookups,
// read without a lock or an allocation, written in O(1) or O(depth): the
// routes of a shared overlay, the neighbour table of an NBMA tunnel.
//
// Host prefixes (a /32 or /128) are in a hostMap keyed by address: O(1) to
// add and remove at any size, and an address found there needs no further
// lookup, since no prefix is longer. Other prefixes are in
// github.com/gaissmai/bart's table, a compressed multibit trie that looks
// an address up in a few cache lines at any size: writers make a new
// version with its persistent (path-copying) insert and publish it
// through an atomic pointer, O(depth) node copies per change (tens of
// microseconds in a table of 100 000 prefixes, which is why host prefixes
// go in the map). Writers are serialised by mu.
type lpmTable[V comparable] struct {
	mu    sync.Mutex
	hosts hostMap[V]
	trie  atomic.Pointer[bart.Table[V]]
	n     atomic.Int64
}

// lookup returns the value of the longest prefix holding a.
func (l *lpmTable[V]) lookup(a netip.Addr) (V, bool) {
	if v, ok := l.hosts.load(a); ok {
		return v, true
	}
	if t := l.trie.Load(); t != nil {
		return t.Lookup(a)
	}
	var zero V
	return zero, false
}

// get returns the value of prefix p itself.
func (l *lpmTable[V]) get(p netip.Prefix) (V, bool) {
	var zero V
	if p.IsSingleIP() {
		return l.hosts.load(p.Addr())
	}
	if t := l.trie.Load(); t != nil {
		return t.Get(p)
	}
	return zero, false
}

// len returns the number of prefixes.
func (l *lpmTable[V]) len() int { return int(l.n.Load()) }

// set makes v the value of p (masked); l.mu is held.
func (l *lpmTable[V]) set(p netip.Prefix, v V) {
	if _, ok := l.get(p); !ok {
		l.n.Add(1)
	}
	if p.IsSingleIP() {
		l.hosts.store(p.Addr(), v, false)
		return
	}
	t := l.trie.Load()
	if t == nil {
		t = new(bart.Table[V])
	}
	l.trie.Store(t.InsertPersist(p, v))
}

// remove takes p out if its value is v (any value when only is false) and
// reports whether it did; l.mu is held.
func (l *lpmTable[V]) remove(p netip.Prefix, v V, only bool) bool {
	old, ok := l.get(p)
	if !ok || (only && old != v) {
		return false
	}
	l.n.Add(-1)
	if p.IsSingleIP() {
		l.hosts.store(p.Addr(), zeroOf[V](), true)
		return true
	}
	l.trie.Store(l.trie.Load().DeletePersist(p))
	return true
}

// all yields every prefix and its value, hosts first.
func (l *lpmTable[V]) all() iter.Seq2[netip.Prefix, V] {
	return func(yield func(netip.Prefix, V) bool) {
		for a, v := range l.hosts.all() {
			if !yield(netip.PrefixFrom(a, a.BitLen()), v) {
				return
			}
		}
		if t := l.trie.Load(); t != nil {
			for p, v := range t.All() {
				if !yield(p, v) {
					return
				}
			}
		}
	}
}

func zeroOf[V any]() (v V) { return v }

// hostShards is the number of shards of a hostMap: at a million host
// routes, about 60 a shard, so that a change copies little.
const (
	hostShardBits = 14
	hostShards    = 1 << hostShardBits
)

// hostMap maps addresses to values, read without a lock or an allocation:
// the address picks one of hostShards shards, each an immutable Go map
// keyed by the address's 16 bytes behind an atomic pointer, which a
// writer copies and replaces (writers are serialised by their caller). At
// 100 000 random addresses a lookup takes about 0.6 of a sync.Map's
// (BenchmarkHostMap; sync.Map's hash trie walks a pointer per level and
// compares netip.Addr keys through an interface): our own, for that on
// the send path of a hub. It takes 128 KiB per table and family, made on
// the family's first host route.
type hostMap[V any] struct {
	// shards, per family (IPv4, IPv6), so that an IPv4-mapped IPv6
	// address is not taken for the IPv4 address whose 16 bytes it shares.
	shards [2]atomic.Pointer[[hostShards]atomic.Pointer[map[[16]byte]V]]
}

// shardOf returns the shard of key k.
func shardOf(k [16]byte) int {
	x := binary.LittleEndian.Uint64(k[8:])*0x9e3779b97f4a7c15 ^ binary.LittleEndian.Uint64(k[:8])
	return int((x * 0xbf58476d1ce4e5b9) >> (64 - hostShardBits))
}

// load returns the value of a.
func (h *hostMap[V]) load(a netip.Addr) (V, bool) {
	var zero V
	sh := h.shards[family(a)].Load()
	if sh == nil {
		return zero, false
	}
	k := a.As16()
	m := sh[shardOf(k)].Load()
	if m == nil {
		return zero, false
	}
	v, ok := (*m)[k]
	return v, ok
}

// store sets the value of a, or deletes it; writers are serialised.
func (h *hostMap[V]) store(a netip.Addr, v V, del bool) {
	sh := h.shards[family(a)].Load()
	if sh == nil {
		sh = new([hostShards]atomic.Pointer[map[[16]byte]V])
		h.shards[family(a)].Store(sh)
	}
	k := a.As16()
	p := &sh[shardOf(k)]
	old := p.Load()
	m := make(map[[16]byte]V, 1)
	if old != nil {
		m = maps.Clone(*old)
	}
	if del {
		delete(m, k)
	} else {
		m[k] = v
	}
	p.Store(&m)
}

// all yields every address and its value.
func (h *hostMap[V]) all() iter.Seq2[netip.Addr, V] {
	return func(yield func(netip.Addr, V) bool) {
		for fam := range h.shards {
			sh := h.shards[fam].Load()
			if sh == nil {
				continue
			}
			for i := range sh {
				m := sh[i].Load()
				if m == nil {
					continue
				}
				for k, v := range *m {
					a := netip.AddrFrom16(k)
					if fam == 0 {
						a = a.Unmap()
					}
					if !yield(a, v) {
						return
					}
				}
			}
		}
	}
}
