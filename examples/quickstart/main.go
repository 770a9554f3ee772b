// Command quickstart builds GRE packets with checksum, key and sequence
// numbers around ICMP echo requests, decodes them back with the gre
// package, verifies them and prints them field by field.
//
//	go run ./examples/quickstart
package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"os"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/internal/checksum"
	"github.com/ipencap/ipencap/internal/iphdr"
)

var (
	// Tunnel endpoints (outer addresses) and hosts behind them (inner), all
	// from the documentation ranges.
	localOuter  = netip.MustParseAddr("192.0.2.1")
	remoteOuter = netip.MustParseAddr("198.51.100.1")
	hostA       = netip.MustParseAddr("203.0.113.1")
	hostB       = netip.MustParseAddr("203.0.113.2")
)

const key gre.Key = 0x0a000001 // okey 10.0.0.1

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(w io.Writer) error {
	const headroom = iphdr.IPv4MinLen + gre.MaxLen
	buf := make([]byte, 2048)
	var rx gre.Fields
	for seq := uint32(0); seq < 3; seq++ {
		// The inner packet: an ICMP echo request from hostA to hostB.
		inner := echoRequest(buf[headroom:], uint16(seq))

		// GRE with checksum, key and sequence number, written in front of
		// the inner packet in the headroom, then the outer IPv4 header.
		f := gre.Fields{Protocol: gre.ProtoIPv4, ChecksumPresent: true, KeyPresent: true, Key: key,
			SeqPresent: true, Seq: seq}
		greStart := headroom - f.Len()
		if _, err := f.Encode(buf[greStart : headroom+len(inner)]); err != nil {
			return err
		}
		start := greStart - iphdr.IPv4MinLen
		pkt := buf[start : headroom+len(inner)]
		iphdr.IPv4(pkt).Encode(&iphdr.IPv4Fields{TotalLen: uint16(len(pkt)), TTL: 64, Protocol: 47,
			FlagsFragOff: iphdr.IPv4FlagDF, ID: uint16(seq + 1), Src: localOuter, Dst: remoteOuter})
		fmt.Fprintf(w, "packet %d: %d bytes on the wire\n", seq, len(pkt))

		// The receive side: outer IPv4, then GRE with the checksum verified.
		outer, err := iphdr.CheckIPv4(pkt, true)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  outer IPv4  %v > %v proto %d ttl %d len %d\n",
			outer.Src(), outer.Dst(), outer.Protocol(), outer.TTL(), outer.TotalLen())
		h, err := gre.Decoder{VerifyChecksum: true}.Parse(outer.Payload())
		if err != nil {
			return err
		}
		h.Fields(&rx)
		sum, _ := h.Checksum()
		fmt.Fprintf(w, "  GRE         flags %#04x version %d protocol %v (%#04x) header %d bytes\n",
			h.FlagsVersion(), rx.Version, rx.Protocol, uint16(rx.Protocol), h.Len())
		fmt.Fprintf(w, "              checksum %#04x (valid %v) key %v (%d) seq %d\n",
			sum, h.ChecksumValid(), rx.Key, uint32(rx.Key), rx.Seq)
		in, err := iphdr.CheckIPv4(h.Payload(), true)
		if err != nil {
			return err
		}
		icmp := in.Payload()
		fmt.Fprintf(w, "  inner IPv4  %v > %v proto %d ttl %d: ICMP echo request id %#x seq %d\n",
			in.Src(), in.Dst(), in.Protocol(), in.TTL(),
			binary.BigEndian.Uint16(icmp[4:]), binary.BigEndian.Uint16(icmp[6:]))
	}

	// A corrupted packet is refused with a typed error.
	bad := []byte{0x80, 0x00, 0x08, 0x00, 0x12, 0x34, 0x00, 0x00, 0x45}
	_, err := gre.Decoder{VerifyChecksum: true}.Parse(bad)
	fmt.Fprintln(w, "corrupted packet:", err)
	return nil
}

// echoRequest writes an IPv4 ICMP echo request with 32 bytes of data into
// b and returns it.
func echoRequest(b []byte, seq uint16) []byte {
	const n = iphdr.IPv4MinLen + 8 + 32
	p := b[:n]
	iphdr.IPv4(p).Encode(&iphdr.IPv4Fields{TotalLen: n, TTL: 64, Protocol: 1, ID: seq, Src: hostA, Dst: hostB})
	icmp := p[iphdr.IPv4MinLen:]
	icmp[0], icmp[1], icmp[2], icmp[3] = 8, 0, 0, 0 // echo request, code 0, checksum 0
	binary.BigEndian.PutUint16(icmp[4:], 0x1701)
	binary.BigEndian.PutUint16(icmp[6:], seq)
	for i := 8; i < len(icmp); i++ {
		icmp[i] = byte(i)
	}
	binary.BigEndian.PutUint16(icmp[2:], checksum.Checksum(icmp))
	return p
}
