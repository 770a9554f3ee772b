package outer_test

import (
	"fmt"
	"testing"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/ipip"
	"github.com/ipencap/ipencap/mobile"
	"github.com/ipencap/ipencap/outer"
)

// encapsulator is the one send shape of every mode.
type encapsulator interface {
	Overhead() int
	Encap(b []byte, off int) (start int, err error)
}

var (
	_ encapsulator = (*gre.Encapsulator)(nil)
	_ encapsulator = (*ipip.Encapsulator)(nil)
	_ encapsulator = (*mobile.Encapsulator)(nil)
)

// BenchmarkEncap: an inner IPv4 packet in a buffer with headroom becomes
// the full outer packet through each mode's Encapsulator, in place.
// mobile's Encap moves the inner IPv4 header into the headroom, so its
// input is restored from a copy of the header each round (a 20-byte copy,
// included in the figure).
func BenchmarkEncap(b *testing.B) {
	o4 := &outer.Config{Local: testpkt.Outer4Src, Remote: testpkt.Outer4Dst, TTL: 64}
	mk := func(e encapsulator, err error) encapsulator {
		if err != nil {
			b.Fatal(err)
		}
		return e
	}
	modes := []struct {
		name string
		e    encapsulator
	}{
		{"gre", mk(gre.NewEncapsulator(gre.Config{Outer: o4}))},
		{"gre-key-csum-seq", mk(gre.NewEncapsulator(gre.Config{Outer: o4, KeyPresent: true, Key: 5, Checksum: true, Seq: true}))},
		{"ipip", mk(ipip.NewEncapsulator(*o4))},
		{"mobile", mk(mobile.NewEncapsulator(mobile.Config{Local: testpkt.Outer4Src, Remote: testpkt.Outer4Dst}))},
	}
	for _, size := range []int{64, 1400} {
		for _, m := range modes {
			b.Run(fmt.Sprintf("%s/%d", m.name, size), func(b *testing.B) {
				off := m.e.Overhead()
				buf := testpkt.BuildIPv4(off, size, testpkt.IPv4{TTL: 64})
				var hdr [20]byte
				copy(hdr[:], buf[off:])
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					copy(buf[off:], hdr[:])
					if _, err := m.e.Encap(buf, off); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestEncapAllocs: every mode's Encap allocates nothing.
func TestEncapAllocs(t *testing.T) {
	o4 := &outer.Config{Local: testpkt.Outer4Src, Remote: testpkt.Outer4Dst, TTL: 64}
	g, _ := gre.NewEncapsulator(gre.Config{Outer: o4, KeyPresent: true, Key: 5, Checksum: true, Seq: true})
	i, _ := ipip.NewEncapsulator(*o4)
	m, _ := mobile.NewEncapsulator(mobile.Config{Local: testpkt.Outer4Src, Remote: testpkt.Outer4Dst})
	for _, e := range []encapsulator{g, i, m} {
		off := e.Overhead()
		buf := testpkt.BuildIPv4(off, 1400, testpkt.IPv4{TTL: 64})
		var hdr [20]byte
		copy(hdr[:], buf[off:])
		if n := testing.AllocsPerRun(1000, func() {
			copy(buf[off:], hdr[:])
			if _, err := e.Encap(buf, off); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Fatalf("%T: %v allocs", e, n)
		}
	}
}
