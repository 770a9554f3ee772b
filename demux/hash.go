package demux

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"unsafe"
)

// words returns the 16-byte form of a (IPv4 as IPv4-mapped IPv6, the zone
// dropped, the zero Addr as all zeros) as two big-endian words. An IPv4
// address and its IPv4-mapped IPv6 form have the same words: the family is
// kept apart, in the meta word of a slot and the want of a probe.
//
// netip.Addr holds exactly these two words, so words reads them directly
// where a check at start-up (layoutOK) has shown that the layout is the one
// expected. Going through As16 instead costs more than the arithmetic: the
// compiler copies the array through the stack with a 16-byte load from two
// 8-byte stores, which the CPU cannot forward, so the load waits until the
// stores retire, that is until the cache misses of earlier lookups are
// served, and back-to-back lookups lose all their overlap (measured here:
// 460 ns against about 200 ns per lookup at 1M entries).
func words(a netip.Addr) (hi, lo uint64) {
	if layoutOK {
		w := (*[2]uint64)(unsafe.Pointer(&a))
		return w[0], w[1]
	}
	return words16(a)
}

// words16 is words through the public API.
func words16(a netip.Addr) (hi, lo uint64) {
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

// layoutOK reports whether netip.Addr starts with its address as two
// uint64 words, high first, with IPv4 stored mapped, the zero Addr as zeros
// and the zone elsewhere: the layout of every Go release so far. If a
// release changes it, words falls back to words16.
var layoutOK = func() bool {
	if unsafe.Sizeof(netip.Addr{}) < 16 || unsafe.Alignof(netip.Addr{}) < 8 {
		return false
	}
	for _, s := range []string{"192.0.2.1", "0.0.0.0", "255.255.255.255", "::", "::1",
		"2001:db8:1:2:3:4:5:6", "fe80::1%eth0", "::ffff:198.51.100.7", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"} {
		a := netip.MustParseAddr(s)
		w := (*[2]uint64)(unsafe.Pointer(&a))
		if h, l := words16(a); w[0] != h || w[1] != l {
			return false
		}
	}
	var z netip.Addr
	w := (*[2]uint64)(unsafe.Pointer(&z))
	return w[0] == 0 && w[1] == 0
}()

// addrOf is the inverse of words for normalized addresses of an IPv6 entry
// (v6) or an IPv4 one: all zeros is the zero Addr (wildcard).
func addrOf(hi, lo uint64, v6 bool) netip.Addr {
	switch {
	case hi|lo == 0:
		return netip.Addr{}
	case !v6:
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(lo))
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	return netip.AddrFrom16(b)
}

// hasher hashes index keys (class, key, local words, remote words; the
// family is left out, see keyWord) with a per-table random seed, so that the layout of one table tells
// nothing about another and chosen addresses cannot flood one probe
// sequence. The local and remote halves are hashed apart so that a lookup
// hashes the packet's two addresses once and combines them with the
// wildcard's hash for each step.
type hasher struct{ seed [6]uint64 }

func newHasher() hasher {
	var h hasher
	for i := range h.seed {
		h.seed[i] = rand.Uint64() | 1
	}
	return h
}

// mix is the 64×64→128-bit multiply folded to 64 bits (as in wyhash).
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

func (h *hasher) local(hi, lo uint64) uint64  { return mix(hi^h.seed[0], lo^h.seed[1]) }
func (h *hasher) remote(hi, lo uint64) uint64 { return mix(hi^h.seed[2], lo^h.seed[3]) }

// final combines the address halves with kw, the class, key presence and key
// (see keyWord).
func (h *hasher) final(l, r, kw uint64) uint64 {
	return mix(l^kw^h.seed[4], r^h.seed[5])
}

// keyWord packs what the index-key hash covers besides addresses: the key,
// and the meta bits of class and key presence. It leaves the family out, so
// that a lookup computes its slot's address without waiting for the
// query's family (see Table.lookup). Entries of both families meet in a
// probe sequence only when their addresses have equal words, that is when
// both are wildcards (IPv4-mapped addresses are not stored); the family bit
// of the meta word, which probes compare, tells them apart.
func keyWord(meta, key uint32) uint64 {
	return uint64(key) | uint64(meta&(metaClass|fHasKey))<<32
}
