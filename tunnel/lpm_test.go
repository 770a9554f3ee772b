package tunnel

import (
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
)

// TestLPMTable checks the longest-prefix rule across the host map and the
// trie, per family, after changes, and that a lookup allocates nothing.
func TestLPMTable(t *testing.T) {
	var l lpmTable[int]
	pfx := netip.MustParsePrefix
	addr := netip.MustParseAddr
	l.set(pfx("203.0.113.0/24"), 1)
	l.set(pfx("203.0.113.128/25"), 2)
	l.set(pfx("203.0.113.200/32"), 3)
	l.set(pfx("2001:db8::/32"), 4)
	l.set(pfx("2001:db8::1/128"), 5)
	for _, tt := range []struct {
		a    string
		want int
		ok   bool
	}{
		{"203.0.113.1", 1, true}, {"203.0.113.129", 2, true}, {"203.0.113.200", 3, true},
		{"2001:db8::2", 4, true}, {"2001:db8::1", 5, true},
		{"198.51.100.1", 0, false}, {"::ffff:203.0.113.200", 0, false}, // a mapped address is not IPv4
	} {
		v, ok := l.lookup(addr(tt.a))
		if v != tt.want || ok != tt.ok {
			t.Errorf("lookup(%s) = %d, %v; want %d, %v", tt.a, v, ok, tt.want, tt.ok)
		}
	}
	if l.len() != 5 {
		t.Errorf("len = %d, want 5", l.len())
	}
	if l.remove(pfx("203.0.113.200/32"), 9, true) {
		t.Error("remove with another value removed the route")
	}
	if !l.remove(pfx("203.0.113.200/32"), 3, true) || !l.remove(pfx("203.0.113.128/25"), 0, false) {
		t.Fatal("remove failed")
	}
	if v, _ := l.lookup(addr("203.0.113.200")); v != 1 {
		t.Errorf("after remove: lookup = %d, want 1 (the /24)", v)
	}
	n := 0
	for range l.all() {
		n++
	}
	if n != 3 || l.len() != 3 {
		t.Errorf("all yields %d, len %d; want 3", n, l.len())
	}
	a := addr("2001:db8::1")
	if allocs := testing.AllocsPerRun(1000, func() { _, _ = l.lookup(a) }); allocs != 0 {
		t.Errorf("lookup allocates %v times", allocs)
	}
}

// BenchmarkHostMap compares a random lookup in the host map with a
// sync.Map of the same addresses (the alternative hostMap's doc weighs).
func BenchmarkHostMap(b *testing.B) {
	const n = 100_000
	rng := rand.New(rand.NewPCG(1, 2))
	addrs := make([]netip.Addr, n)
	var h hostMap[int]
	var sm sync.Map
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		h.store(addrs[i], i, false)
		sm.Store(addrs[i], i)
	}
	order := make([]int, 1<<16)
	for i := range order {
		order[i] = rng.IntN(n)
	}
	b.Run("hostMap/100k", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, ok := h.load(addrs[order[i&(len(order)-1)]]); !ok {
				b.Fatal("missing")
			}
		}
	})
	b.Run("sync.Map/100k", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, ok := sm.Load(addrs[order[i&(len(order)-1)]]); !ok {
				b.Fatal("missing")
			}
		}
	})
}
