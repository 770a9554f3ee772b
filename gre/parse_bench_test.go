package gre_test

import (
	"testing"

	"github.com/ipencap/ipencap/gre"
)

// BenchmarkParse times Decoder.Parse alone, so that a change in decoding
// speed can be told apart from one in iphdr (BenchmarkCompareGopacket
// times both): the GRE part of the BenchmarkCompareGopacket packet (C K S
// over 1400 bytes) without and with the checksum, a plain 4-byte header,
// and two headers that leave Parse's fast path (PPTP, RFC 1701 routing).
func BenchmarkParse(b *testing.B) {
	pkt := benchPacket(b)[benchOuterLen:]
	for _, bc := range []struct {
		name string
		d    gre.Decoder
		b    []byte
	}{
		{"cks", gre.Decoder{NoVerifyChecksum: true}, pkt},
		{"cks-verify", gre.Decoder{}, pkt},
		{"plain", gre.Decoder{}, []byte{0, 0, 0x08, 0, 0x45, 0, 0, 20, 0, 0, 0, 0}}, // 12 bytes, as gre_rcv wants over IPv4
		{"pptp", gre.Decoder{}, vectorPPTP},
		{"routing", gre.Decoder{Mode: gre.ModeRFC1701}, vectorRouting},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.d.Parse(bc.b); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
