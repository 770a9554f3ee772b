package ipip_test

import (
	"fmt"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/ipencap/ipencap/ipip"
)

var benchSizes = []int{64, 1400}

func BenchmarkEncapsulate(b *testing.B) {
	for _, kind := range tunnelKinds {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%s/%dB", kind.name, n), func(b *testing.B) {
				e, err := ipip.NewEncapsulator(ipip.Config{Local: kind.local, Remote: kind.remote, TTL: 64, InheritTOS: true})
				if err != nil {
					b.Fatal(err)
				}
				buf := kind.inner(e.Overhead(), n, 64, 0x02)
				b.ReportAllocs()
				b.SetBytes(int64(n))
				for b.Loop() {
					if _, err := e.Encap(buf, e.Overhead()); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkDecapsulate(b *testing.B) {
	for _, kind := range tunnelKinds {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%s/%dB", kind.name, n), func(b *testing.B) {
				pkt := tunnelPacket(b, kind, n)
				b.ReportAllocs()
				b.SetBytes(int64(n))
				for b.Loop() {
					if _, _, err := decap(pkt); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
	// Baseline: gopacket decoding the same 4in4 packets, outer and inner
	// IPv4 headers (layers.IPv4 does not verify the header checksum).
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("gopacket-4in4/%dB", n), func(b *testing.B) {
			pkt := tunnelPacket(b, tunnelKinds[0], n)
			var outer, inner layers.IPv4
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				if err := outer.DecodeFromBytes(pkt, gopacket.NilDecodeFeedback); err != nil {
					b.Fatal(err)
				}
				if err := inner.DecodeFromBytes(outer.Payload, gopacket.NilDecodeFeedback); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
