// Package checksum implements the Internet checksum of RFC 1071 and its
// incremental update of RFC 1624.
//
// Sum adds bytes into a 16-bit one's complement sum; Checksum is the
// complement of that sum, the value a header's checksum field holds. A
// buffer whose checksum field is correct sums to 0xffff, so a receiver
// verifies with Sum(b, 0) == 0xffff (or Checksum(b) == 0).
//
// Nothing here allocates. The summing loop reads 64-bit little-endian words
// and adds them with carries (RFC 1071 §2(B): byte order independence lets
// the sum run in the machine's order and be swapped once at the end, and
// §2(C): wide accumulators defer the end-around carry).
package checksum

import (
	"encoding/binary"
	"math/bits"
)

// Sum returns the 16-bit one's complement sum of b, added to initial.
// Byte 0 of b is the high-order byte of the first 16-bit word (network
// order). An odd trailing byte is padded with a zero byte, so chunks other
// than the last must have even length to be chained through initial.
func Sum(b []byte, initial uint16) uint16 {
	s := sumLE(b)
	// s holds the sum of little-endian 16-bit words folded to 16 bits; swap
	// it to network order and fold in the initial value.
	v := uint32(bits.ReverseBytes16(s)) + uint32(initial)
	v = (v & 0xffff) + (v >> 16)
	return uint16(v)
}

// Checksum returns the Internet checksum of b: the complement of Sum(b, 0).
// Write it into a checksum field that was zero while summing.
func Checksum(b []byte) uint16 {
	return ^Sum(b, 0)
}

// Combine adds two one's complement sums.
func Combine(a, b uint16) uint16 {
	v := uint32(a) + uint32(b)
	return uint16((v & 0xffff) + (v >> 16))
}

// Update16 returns a checksum field updated for one 16-bit word of the
// covered data changing from old to new, by RFC 1624 eqn. 3:
// HC' = ~(~HC + ~m + m'). It never yields 0xffff (-0) for a nonzero sum,
// the pitfall RFC 1624 §3 corrects in RFC 1141's eqn. 2.
func Update16(cksum, old, new uint16) uint16 {
	return ^fold(uint32(^cksum) + uint32(^old) + uint32(new))
}

// Update32 is Update16 for an aligned 32-bit word (an IPv4 address, say).
func Update32(cksum uint16, old, new uint32) uint16 {
	return ^fold(uint32(^cksum) + uint32(^uint16(old>>16)) + uint32(^uint16(old)) + new>>16 + new&0xffff)
}

// fold reduces a sum of at most 65537 16-bit terms to a one's complement
// sum of 16 bits. It yields 0 only for a sum of 0, as adding the terms one
// by one with Combine would.
func fold(s uint32) uint16 {
	s = s&0xffff + s>>16
	s = s&0xffff + s>>16
	return uint16(s)
}

// sumLE returns the one's complement sum of b read as little-endian 16-bit
// words (an odd last byte taken as the low byte of a word), folded to 16 bits.
func sumLE(b []byte) uint16 {
	var s0, s1, c uint64
	// 64 bytes a round, two carry chains to keep both adders busy.
	for len(b) >= 64 {
		var c0, c1 uint64
		s0, c0 = bits.Add64(s0, binary.LittleEndian.Uint64(b[0:8]), 0)
		s1, c1 = bits.Add64(s1, binary.LittleEndian.Uint64(b[8:16]), 0)
		s0, c0 = bits.Add64(s0, binary.LittleEndian.Uint64(b[16:24]), c0)
		s1, c1 = bits.Add64(s1, binary.LittleEndian.Uint64(b[24:32]), c1)
		s0, c0 = bits.Add64(s0, binary.LittleEndian.Uint64(b[32:40]), c0)
		s1, c1 = bits.Add64(s1, binary.LittleEndian.Uint64(b[40:48]), c1)
		s0, c0 = bits.Add64(s0, binary.LittleEndian.Uint64(b[48:56]), c0)
		s1, c1 = bits.Add64(s1, binary.LittleEndian.Uint64(b[56:64]), c1)
		c += c0 + c1
		b = b[64:]
	}
	var c0 uint64
	for len(b) >= 8 {
		s0, c0 = bits.Add64(s0, binary.LittleEndian.Uint64(b), 0)
		c += c0
		b = b[8:]
	}
	if len(b) >= 4 {
		s1, c0 = bits.Add64(s1, uint64(binary.LittleEndian.Uint32(b)), 0)
		c += c0
		b = b[4:]
	}
	if len(b) >= 2 {
		s1, c0 = bits.Add64(s1, uint64(binary.LittleEndian.Uint16(b)), 0)
		c += c0
		b = b[2:]
	}
	if len(b) == 1 {
		s1, c0 = bits.Add64(s1, uint64(b[0]), 0)
		c += c0
	}
	// Fold: two 64-bit sums plus the carries (each carry is worth 2^64,
	// which is 1 modulo 2^16-1).
	s0, c0 = bits.Add64(s0, s1, 0)
	s0, c1 := bits.Add64(s0, c+c0, 0)
	s0 += c1
	x := (s0 >> 32) + (s0 & 0xffffffff)
	x = (x >> 16) + (x & 0xffff)
	x = (x >> 16) + (x & 0xffff)
	x = (x >> 16) + (x & 0xffff)
	return uint16(x)
}
