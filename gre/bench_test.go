package gre_test

import (
	"bytes"
	"net"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/iphdr"
)

// Sinks for the fields the decode benchmarks read, so that the compiler
// cannot drop the reads.
var (
	benchSrc, benchDst, benchInSrc, benchInDst         [4]byte
	benchSrcIP, benchDstIP, benchInSrcIP, benchInDstIP net.IP
	benchProto                                         uint8
	benchKey, benchSeq                                 uint32
	benchCsum                                          uint16
)

// Sizes of the benchmark packet: outer IPv4 (20) + GRE with checksum, key
// and sequence (16) + an inner IPv4/UDP packet of 1400 bytes.
const (
	benchOuterLen = iphdr.IPv4MinLen
	benchGRELen   = 16
	benchInnerLen = 1400
)

// benchFields are the GRE fields of the benchmark packet.
func benchFields() gre.Fields {
	return gre.Fields{Protocol: gre.ProtoIPv4, ChecksumPresent: true,
		KeyPresent: true, Key: 0x0a0b0c0d, SeqPresent: true, Seq: 0x01020304}
}

// benchOuterFields are the outer IPv4 fields of the benchmark packet.
func benchOuterFields() iphdr.IPv4Fields {
	return iphdr.IPv4Fields{TotalLen: benchOuterLen + benchGRELen + benchInnerLen, TTL: 64,
		Protocol: 47, Src: xcOuterSrc, Dst: xcOuterDst}
}

// benchPacket builds the benchmark packet with our encoder.
func benchPacket(tb testing.TB) []byte {
	buf := make([]byte, benchOuterLen+benchGRELen+benchInnerLen)
	copy(buf[benchOuterLen+benchGRELen:], xcInnerIPv4(benchInnerLen))
	f := benchFields()
	if n, err := f.Encode(buf[benchOuterLen:]); err != nil || n != benchGRELen {
		tb.Fatalf("encode: %d, %v", n, err)
	}
	of := benchOuterFields()
	iphdr.IPv4(buf).Encode(&of)
	return buf
}

// benchGopacketLayers are the gopacket layers that serialize to the same
// outer IPv4 + GRE header as benchFields and benchOuterFields.
func benchGopacketLayers() (*layers.IPv4, *layers.GRE) {
	f := benchFields()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolGRE,
		SrcIP: xcOuterSrc.AsSlice(), DstIP: xcOuterDst.AsSlice()}
	g := &layers.GRE{ChecksumPresent: true, KeyPresent: true, Key: uint32(f.Key),
		SeqPresent: true, Seq: f.Seq, Protocol: layers.EthernetTypeIPv4}
	return ip, g
}

// BenchmarkCompareGopacket compares our codec with gopacket v1.1.19 on the
// same packet: outer IPv4 + GRE with checksum, key and sequence + a
// 1400-byte inner IPv4 packet.
//
// decode: the outer IPv4 header, the GRE header and the inner IPv4 header
// are parsed and the same fields read (outer source, destination and
// protocol, key, sequence number, checksum field, inner source and
// destination); no checksum is verified, since gopacket verifies neither
// the GRE checksum nor the IPv4 header checksum when decoding.
//
// encode: the outer IPv4 and GRE headers are written in front of the inner
// packet, the IPv4 header checksum and the GRE checksum (over the GRE
// header and the 1400-byte payload) computed.
//
// decode-verify: our decode plus verification of the GRE checksum.
func BenchmarkCompareGopacket(b *testing.B) {
	pkt := benchPacket(b)
	inner := pkt[benchOuterLen+benchGRELen:]

	// Both encoders must produce the very bytes the decoders read.
	{
		ip, g := benchGopacketLayers()
		sb := gopacket.NewSerializeBuffer()
		err := gopacket.SerializeLayers(sb, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			ip, g, gopacket.Payload(inner))
		if err != nil || !bytes.Equal(sb.Bytes(), pkt) {
			b.Fatalf("gopacket serializes a different packet (%v):\n%x\n%x", err, sb.Bytes()[:40], pkt[:40])
		}
	}

	b.Run("decode/ipencap", func(b *testing.B) {
		// The GRE checksum is not verified, as gopacket does not verify it.
		benchDecode(b, gre.Decoder{NoVerifyChecksum: true}, pkt)
	})

	b.Run("decode/gopacket-dlp", func(b *testing.B) {
		// DecodingLayerParser with the layers allocated once. A parser
		// holds one decoder per layer type, so the outer and the inner
		// IPv4 header need two parsers: the first stops at GRE, the second
		// decodes GRE and the inner IPv4 header and stops at UDP
		// (IgnoreUnsupported turns "no decoder" into a clean stop).
		var outer, in layers.IPv4
		var g layers.GRE
		p1 := gopacket.NewDecodingLayerParser(layers.LayerTypeIPv4, &outer)
		p1.IgnoreUnsupported = true
		p2 := gopacket.NewDecodingLayerParser(layers.LayerTypeGRE, &g, &in)
		p2.IgnoreUnsupported = true
		d1 := make([]gopacket.LayerType, 0, 4)
		d2 := make([]gopacket.LayerType, 0, 4)
		b.ReportAllocs()
		b.SetBytes(int64(len(pkt)))
		for b.Loop() {
			if err := p1.DecodeLayers(pkt, &d1); err != nil || len(d1) != 1 || outer.Protocol != layers.IPProtocolGRE {
				b.Fatal("outer IPv4", err, d1)
			}
			if err := p2.DecodeLayers(outer.Payload, &d2); err != nil || len(d2) != 2 {
				b.Fatal("GRE + inner IPv4", err, d2)
			}
			benchSrcIP, benchDstIP, benchProto = outer.SrcIP, outer.DstIP, uint8(outer.Protocol)
			benchKey, benchSeq, benchCsum = g.Key, g.Seq, g.Checksum
			benchInSrcIP, benchInDstIP = in.SrcIP, in.DstIP
		}
	})

	b.Run("decode/gopacket-packet", func(b *testing.B) {
		// gopacket.NewPacket, the general API: NoCopy, since our decode
		// does not copy the packet either. NewPacket decodes every layer
		// it knows, so it also decodes the inner UDP header and payload.
		b.ReportAllocs()
		b.SetBytes(int64(len(pkt)))
		for b.Loop() {
			p := gopacket.NewPacket(pkt, layers.LayerTypeIPv4, gopacket.NoCopy)
			ls := p.Layers()
			if len(ls) < 3 {
				b.Fatal("layers", ls)
			}
			outer, ok1 := ls[0].(*layers.IPv4)
			g, ok2 := ls[1].(*layers.GRE)
			in, ok3 := ls[2].(*layers.IPv4)
			if !ok1 || !ok2 || !ok3 {
				b.Fatal("layer types", ls)
			}
			benchSrcIP, benchDstIP, benchProto = outer.SrcIP, outer.DstIP, uint8(outer.Protocol)
			benchKey, benchSeq, benchCsum = g.Key, g.Seq, g.Checksum
			benchInSrcIP, benchInDstIP = in.SrcIP, in.DstIP
		}
	})

	b.Run("encode/ipencap", func(b *testing.B) {
		// Headroom: the inner packet sits at offset 20+16 of the buffer;
		// Encode writes the GRE header over buf[20:36] with its checksum
		// over buf[20:] (header + inner packet), then the outer IPv4 header
		// goes into buf[:20] with its header checksum. The inner packet is
		// never copied.
		buf := make([]byte, len(pkt))
		copy(buf[benchOuterLen+benchGRELen:], inner)
		f := benchFields()
		of := benchOuterFields()
		b.ReportAllocs()
		b.SetBytes(int64(len(pkt)))
		for b.Loop() {
			if _, err := f.Encode(buf[benchOuterLen:]); err != nil {
				b.Fatal(err)
			}
			iphdr.IPv4(buf).Encode(&of)
		}
		if !bytes.Equal(buf, pkt) {
			b.Fatal("encoded a different packet")
		}
	})

	b.Run("encode/gopacket", func(b *testing.B) {
		// SerializeLayers into a reused buffer, FixLengths (outer IHL and
		// total length) and ComputeChecksums (IPv4 header, GRE). gopacket
		// builds a packet from the inside out, so each iteration also
		// copies the 1400-byte inner packet into the buffer (the
		// gopacket.Payload layer); it has no headroom mode.
		ip, g := benchGopacketLayers()
		payload := gopacket.Payload(inner)
		sb := gopacket.NewSerializeBuffer()
		opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
		b.ReportAllocs()
		b.SetBytes(int64(len(pkt)))
		for b.Loop() {
			if err := gopacket.SerializeLayers(sb, opts, ip, g, payload); err != nil {
				b.Fatal(err)
			}
		}
		if !bytes.Equal(sb.Bytes(), pkt) {
			b.Fatal("serialized a different packet")
		}
	})

	b.Run("decode-verify/ipencap", func(b *testing.B) {
		// decode/ipencap plus the GRE checksum over header and payload.
		benchDecode(b, gre.Decoder{}, pkt)
	})
}

// benchDecode parses pkt (outer IPv4, GRE, inner IPv4) with d and reads the
// fields that decode/gopacket-* read.
func benchDecode(b *testing.B, d gre.Decoder, pkt []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		// CheckIPv4 validates versions and lengths; false: the header
		// checksum is not verified, as gopacket's IPv4.DecodeFromBytes
		// does not verify it either.
		outer, err := iphdr.CheckIPv4(pkt, false)
		if err != nil || outer.Protocol() != 47 {
			b.Fatal("outer IPv4", err)
		}
		h, err := d.Parse(outer.Payload())
		if err != nil {
			b.Fatal(err)
		}
		in, err := iphdr.CheckIPv4(h.Payload(), false)
		if err != nil {
			b.Fatal("inner IPv4", err)
		}
		benchSrc, benchDst, benchProto = outer.Src4(), outer.Dst4(), outer.Protocol()
		key, _ := h.Key()
		benchKey = uint32(key)
		benchSeq, _ = h.Seq()
		benchCsum, _ = h.Checksum()
		benchInSrc, benchInDst = in.Src4(), in.Dst4()
	}
}
