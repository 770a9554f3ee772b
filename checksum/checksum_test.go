package checksum

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// refSum is RFC 1071 §4.1 in its plainest form: 16-bit big-endian words
// added into a 32-bit accumulator, folded at the end.
func refSum(b []byte) uint16 {
	var s uint32
	for len(b) >= 2 {
		s += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

func TestSumMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 1071))
	buf := make([]byte, 9001+8)
	for n := 0; n <= 9001; n++ {
		for off := 0; off < 8; off++ {
			if n > 2000 && off > 0 && n%97 != 0 {
				continue // every length up to 2000 at every alignment; a sample above
			}
			b := buf[off : off+n]
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			want := refSum(b)
			if got := Sum(b, 0); got != want {
				t.Fatalf("Sum(len %d, off %d) = %#04x, want %#04x", n, off, got, want)
			}
		}
	}
}

func TestSumExtremes(t *testing.T) {
	// All-ones data stresses the carry chains: every word is 0xffff.
	for _, n := range []int{1, 2, 63, 64, 65, 4096, 65535} {
		b := bytes.Repeat([]byte{0xff}, n)
		require.Equal(t, refSum(b), Sum(b, 0), "len %d all ones", n)
		z := make([]byte, n)
		require.Equal(t, refSum(z), Sum(z, 0), "len %d zeros", n)
	}
}

func TestSumChaining(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	b := make([]byte, 1501)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	want := Sum(b, 0)
	for split := 0; split <= len(b); split += 2 {
		got := Sum(b[split:], Sum(b[:split], 0))
		require.Equal(t, want, got, "split at %d", split)
		got = Combine(Sum(b[:split], 0), Sum(b[split:], 0))
		require.Equal(t, want, got, "combine at %d", split)
	}
}

// TestRFC1071Example checks the worked example of RFC 1071 §3.
func TestRFC1071Example(t *testing.T) {
	b := []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}
	require.Equal(t, uint16(0xddf2), Sum(b, 0))
	require.Equal(t, uint16(^uint16(0xddf2)), Checksum(b))
}

func TestChecksumVerifies(t *testing.T) {
	// An IPv4 header (RFC 791 example-like) with its checksum filled in sums to 0xffff.
	h := []byte{
		0x45, 0x00, 0x00, 0x73,
		0x00, 0x00, 0x40, 0x00,
		0x40, 0x11, 0x00, 0x00,
		0xc0, 0xa8, 0x00, 0x01,
		0xc0, 0xa8, 0x00, 0xc7,
	}
	binary.BigEndian.PutUint16(h[10:], Checksum(h))
	require.Equal(t, uint16(0xb861), binary.BigEndian.Uint16(h[10:]))
	require.Equal(t, uint16(0xffff), Sum(h, 0))
	require.Zero(t, Checksum(h))
}

func TestUpdate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1624, 1))
	h := make([]byte, 20)
	for i := 0; i < 100000; i++ {
		for j := range h {
			h[j] = byte(rng.Uint32())
		}
		h[10], h[11] = 0, 0
		binary.BigEndian.PutUint16(h[10:], Checksum(h))
		cs := binary.BigEndian.Uint16(h[10:])

		// One 16-bit word (the TTL/protocol word, say).
		w := 2 * (rng.IntN(10))
		if w == 10 {
			w = 8
		}
		old := binary.BigEndian.Uint16(h[w:])
		nw := uint16(rng.Uint32())
		binary.BigEndian.PutUint16(h[w:], nw)
		cs = Update16(cs, old, nw)
		binary.BigEndian.PutUint16(h[10:], cs)
		require.Equal(t, uint16(0xffff), Sum(h, 0), "Update16 iteration %d", i)

		// One 32-bit word (an address).
		a := 12 + 4*rng.IntN(2)
		old32 := binary.BigEndian.Uint32(h[a:])
		n32 := rng.Uint32()
		binary.BigEndian.PutUint32(h[a:], n32)
		cs = Update32(cs, old32, n32)
		binary.BigEndian.PutUint16(h[10:], cs)
		require.Equal(t, uint16(0xffff), Sum(h, 0), "Update32 iteration %d", i)
	}
}

// TestUpdateNoNegativeZero is the case RFC 1624 §3 works through: eqn. 2 of
// RFC 1141 yields 0xffff where the right answer is 0x0000.
func TestUpdateNoNegativeZero(t *testing.T) {
	// RFC 1624 §3: HC = 0xdd2f, m = 0x5555 changing to m' = 0x3285 gives HC' = 0x0000.
	require.Equal(t, uint16(0x0000), Update16(0xdd2f, 0x5555, 0x3285))
}

func TestAllocs(t *testing.T) {
	b := make([]byte, 1500)
	var sink uint16
	n := testing.AllocsPerRun(1000, func() {
		sink += Sum(b, 0) + Checksum(b[:20]) + Update16(sink, 1, 2) + Update32(sink, 1, 2)
	})
	require.Zero(t, n)
}

var benchSink uint16

func BenchmarkChecksum(b *testing.B) {
	for _, size := range []int{20, 64, 1500, 9000} {
		src := make([]byte, size)
		dst := make([]byte, size)
		for i := range src {
			src[i] = byte(i * 7)
		}
		b.Run(strconv.Itoa(size)+"/ipencap", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				benchSink += Checksum(src)
			}
		})
		b.Run(strconv.Itoa(size)+"/copy", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				copy(dst, src)
			}
		})
	}
}

// TestUpdateMatchesStepwise: folding once at the end gives, bit for bit,
// what adding the terms one by one with Combine gives (RFC 1624 eqn. 3
// word by word), including for the extremes 0x0000 and 0xffff.
func TestUpdateMatchesStepwise(t *testing.T) {
	ref16 := func(ck, old, nw uint16) uint16 { return ^Combine(Combine(^ck, ^old), nw) }
	ref32 := func(ck uint16, old, nw uint32) uint16 {
		s := Combine(^ck, ^uint16(old>>16))
		s = Combine(s, ^uint16(old))
		s = Combine(s, uint16(nw>>16))
		return ^Combine(s, uint16(nw))
	}
	edges := []uint16{0, 1, 0x7fff, 0x8000, 0xfffe, 0xffff}
	for _, a := range edges {
		for _, b := range edges {
			for _, c := range edges {
				require.Equal(t, ref16(a, b, c), Update16(a, b, c), "Update16(%#x, %#x, %#x)", a, b, c)
				o, n := uint32(b)<<16|uint32(c), uint32(c)<<16|uint32(b)
				require.Equal(t, ref32(a, o, n), Update32(a, o, n), "Update32(%#x, %#x, %#x)", a, o, n)
			}
		}
	}
	rng := rand.New(rand.NewPCG(1624, 2))
	for range 1_000_000 {
		ck, old, nw := uint16(rng.Uint32()), uint16(rng.Uint32()), uint16(rng.Uint32())
		require.Equal(t, ref16(ck, old, nw), Update16(ck, old, nw))
		o32, n32 := rng.Uint32(), rng.Uint32()
		require.Equal(t, ref32(ck, o32, n32), Update32(ck, o32, n32))
	}
}
