// Command quickstart sends ICMP echo requests through a GRE tunnel with
// key, checksum and sequence numbers, built with the library's public API
// only: gre.NewEncapsulator writes the GRE and outer IPv4 headers in front
// of each inner packet, outer.Parse and gre.Decoder take them apart again,
// and every field is printed.
//
//	go run ./examples/quickstart
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/outer"
)

var (
	// Tunnel endpoints (outer addresses) and hosts behind them (inner), all
	// from the documentation ranges.
	localOuter  = netip.MustParseAddr("192.0.2.1")
	remoteOuter = netip.MustParseAddr("198.51.100.1")
	hostA       = net.IPv4(203, 0, 113, 1)
	hostB       = net.IPv4(203, 0, 113, 2)
)

const key gre.Key = 0x0a000001 // okey 10.0.0.1

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(w io.Writer) error {
	// ip tunnel add gre1 mode gre local 192.0.2.1 remote 198.51.100.1 ttl 64 okey 10.0.0.1 ocsum oseq
	enc, err := gre.NewEncapsulator(gre.Config{
		Outer:      &outer.Config{Local: localOuter, Remote: remoteOuter, TTL: 64},
		KeyPresent: true, Key: key, Checksum: true, Seq: true,
	})
	if err != nil {
		return err
	}
	buf := make([]byte, 2048)
	for seq := range 3 {
		// The inner packet, read behind Overhead() bytes of headroom: an
		// ICMP echo request from host A to host B.
		inner, err := echoRequest(seq)
		if err != nil {
			return err
		}
		off := enc.Overhead()
		n := copy(buf[off:], inner)
		start, err := enc.Encap(buf[:off+n], off)
		if err != nil {
			return err
		}
		pkt := buf[start : off+n]
		fmt.Fprintf(w, "packet %d: %d bytes on the wire\n", seq, len(pkt))

		// The receive side: the outer header once, then GRE with its
		// checksum verified (the default, as in Linux).
		o, payload, err := outer.Parse(pkt)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  outer IPv4  %v > %v proto %v ttl %d len %d\n", o.Src, o.Dst, o.Protocol, o.TTL, o.Len)
		h, err := gre.Parse(payload)
		if err != nil {
			return err
		}
		var rx gre.Fields
		h.Fields(&rx)
		sum, _ := h.Checksum()
		fmt.Fprintf(w, "  GRE         flags %#04x version %d protocol %v (%#04x) header %d bytes\n",
			h.FlagsVersion(), rx.Version, rx.Protocol, uint16(rx.Protocol), h.Len())
		fmt.Fprintf(w, "              checksum %#04x (valid %v) key %v (%d) seq %d\n",
			sum, h.ChecksumValid(), rx.Key, uint32(rx.Key), rx.Seq)
		ih, err := ipv4.ParseHeader(h.Payload())
		if err != nil {
			return err
		}
		m, err := icmp.ParseMessage(1, h.Payload()[ih.Len:])
		if err != nil {
			return err
		}
		echo := m.Body.(*icmp.Echo)
		fmt.Fprintf(w, "  inner IPv4  %v > %v proto %d ttl %d: ICMP %v id %#x seq %d\n",
			ih.Src, ih.Dst, ih.Protocol, ih.TTL, m.Type, echo.ID, echo.Seq)
	}

	// A corrupted packet is refused with a typed error.
	bad := []byte{0x80, 0x00, 0x08, 0x00, 0x12, 0x34, 0x00, 0x00, 0x45}
	_, err = gre.Parse(bad)
	fmt.Fprintln(w, "corrupted packet:", err, "- a checksum error:", errors.Is(err, gre.ErrChecksum))
	return nil
}

// echoRequest returns an IPv4 packet from host A to host B carrying an ICMP
// echo request with 32 bytes of data, built with golang.org/x/net.
func echoRequest(seq int) ([]byte, error) {
	data := make([]byte, 32)
	for i := range data {
		data[i] = byte(i)
	}
	body, err := (&icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: 0x1701, Seq: seq, Data: data}}).Marshal(nil)
	if err != nil {
		return nil, err
	}
	h := &ipv4.Header{Version: 4, Len: ipv4.HeaderLen, TotalLen: ipv4.HeaderLen + len(body), ID: seq + 1,
		TTL: 64, Protocol: 1, Src: hostA, Dst: hostB}
	hb, err := h.Marshal()
	if err != nil {
		return nil, err
	}
	binary.BigEndian.PutUint16(hb[10:], headerChecksum(hb))
	return append(hb, body...), nil
}

// headerChecksum is the IPv4 header checksum (RFC 1071), which x/net's
// Header.Marshal leaves to the kernel.
func headerChecksum(h []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(h); i += 2 {
		s += uint32(h[i])<<8 | uint32(h[i+1])
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
