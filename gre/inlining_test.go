package gre_test

import (
	"testing"
	"unsafe"

	"github.com/ipencap/ipencap/gre"
)

// TestHeaderSize keeps Header within four machine words. The compiler keeps
// a struct of at most four fields and 4×8 bytes in registers (SSA) and
// returns it in registers; a bigger one is built on Parse's stack and copied
// out through memory, with loads that cannot be forwarded from the stores
// just made. An 8-byte header length (40 bytes in all) made decoding 2.5×
// slower (BenchmarkCompareGopacket/decode/ipencap, 18 → 50 ns/op).
func TestHeaderSize(t *testing.T) {
	const word = unsafe.Sizeof(uintptr(0))
	if word != 8 {
		t.Skipf("the limit is checked on 64-bit platforms; this one has %d-byte words", word)
	}
	if got := unsafe.Sizeof(gre.Header{}); got > 4*word {
		t.Errorf("unsafe.Sizeof(gre.Header{}) = %d, want at most %d: Parse no longer returns it in registers", got, 4*word)
	}
}
