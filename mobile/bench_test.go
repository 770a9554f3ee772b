package mobile_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/ipencap/ipencap/mobile"
)

var benchCases = []struct {
	name string
	enc  netip.Addr
}{{"S0", netip.Addr{}}, {"S1", homeAg}}

// Both benchmarks work in place, so each iteration first puts back the
// bytes the previous one rewrote: the IPv4 header (and, for Decapsulate,
// the minimal header), a 28–32-byte copy included in the figures.

func BenchmarkEncapsulate(b *testing.B) {
	for _, c := range benchCases {
		for _, n := range []int{64, 1400} {
			b.Run(fmt.Sprintf("%s/%dB", c.name, n), func(b *testing.B) {
				buf := datagram(12, n, nil)
				hdr := append([]byte(nil), buf[12:32]...)
				b.ReportAllocs()
				b.SetBytes(int64(n))
				for b.Loop() {
					copy(buf[12:32], hdr)
					if _, err := mobile.Encapsulate(buf, 12, careOf, c.enc); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkDecapsulate(b *testing.B) {
	for _, c := range benchCases {
		for _, n := range []int{64, 1400} {
			b.Run(fmt.Sprintf("%s/%dB", c.name, n), func(b *testing.B) {
				buf := datagram(12, n, nil)
				start, err := mobile.Encapsulate(buf, 12, careOf, c.enc)
				if err != nil {
					b.Fatal(err)
				}
				pkt := buf[start:]
				hdr := append([]byte(nil), pkt[:32]...)
				b.ReportAllocs()
				b.SetBytes(int64(n))
				for b.Loop() {
					copy(pkt, hdr)
					if _, err := mobile.Decapsulate(pkt); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
