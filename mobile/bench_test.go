package mobile_test

import (
	"fmt"
	"testing"

	"github.com/ipencap/ipencap/mobile"
)

var benchCases = []struct {
	name string
	e    *mobile.Encapsulator
}{{"S0", encS0}, {"S1", encS1}}

// Both benchmarks work in place, so each iteration first puts back the
// bytes the previous one rewrote: the IPv4 header (and, for Decap, the
// minimal header), a 20–32-byte copy included in the figures. BenchmarkDecap
// measures the receive path, outer.Parse and Decap.

func BenchmarkEncap(b *testing.B) {
	for _, c := range benchCases {
		for _, n := range []int{64, 1400} {
			b.Run(fmt.Sprintf("%s/%dB", c.name, n), func(b *testing.B) {
				buf := datagram(12, n, nil)
				hdr := append([]byte(nil), buf[12:32]...)
				b.ReportAllocs()
				b.SetBytes(int64(n))
				for b.Loop() {
					copy(buf[12:32], hdr)
					if _, err := c.e.Encap(buf, 12); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkDecap(b *testing.B) {
	for _, c := range benchCases {
		for _, n := range []int{64, 1400} {
			b.Run(fmt.Sprintf("%s/%dB", c.name, n), func(b *testing.B) {
				pkt := encapsulated(b, c.e, n, nil)
				hdr := append([]byte(nil), pkt[:32]...)
				b.ReportAllocs()
				b.SetBytes(int64(n))
				for b.Loop() {
					copy(pkt, hdr)
					if _, _, err := decap(pkt); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
