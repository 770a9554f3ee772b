package gre_test

import (
	"fmt"
	"net/netip"

	"github.com/ipencap/ipencap/gre"
)

// Parse a GRE header with key and sequence number and read its fields.
func ExampleParse() {
	pkt := []byte{
		0x30, 0x00, 0x08, 0x00, // K S, version 0, protocol IPv4
		0x00, 0x00, 0x00, 0x2a, // key 42
		0x00, 0x00, 0x00, 0x07, // sequence 7
		0x45, 0x00, // payload (an IPv4 packet, cut short here)
	}
	h, err := gre.Parse(pkt)
	if err != nil {
		fmt.Println(err)
		return
	}
	key, _ := h.Key()
	seq, _ := h.Seq()
	fmt.Println(h.Protocol(), "key", key, "seq", seq, "header", h.Len(), "payload", len(h.Payload()))
	// Output: IPv4 key 0.0.0.42 seq 7 header 12 payload 2
}

// Pick the strictness while parsing; the checksum is verified by default.
func ExampleDecoder_Parse() {
	f := gre.Fields{Protocol: gre.ProtoIPv6, ChecksumPresent: true}
	pkt, _ := f.Append(nil, []byte{0x60, 0, 0, 0})
	d := gre.Decoder{Mode: gre.ModeRFC2784}
	_, err := d.Parse(pkt)
	fmt.Println("intact:", err)
	pkt[len(pkt)-1] ^= 0xff
	_, err = d.Parse(pkt)
	fmt.Println("corrupted:", err)
	// Output:
	// intact: <nil>
	// corrupted: gre: bad checksum
}

// Encode a header in front of a payload that already sits in the buffer,
// leaving room for it (headroom), as a tunnel's send path does.
func ExampleFields_Encode() {
	f := gre.Fields{Protocol: gre.ProtoIPv4, KeyPresent: true, Key: 1, SeqPresent: true, Seq: 0}
	payload := []byte{0x45, 0x00, 0x00, 0x14}
	buf := make([]byte, 64)
	start := 32 - f.Len()
	copy(buf[32:], payload)
	n, err := f.Encode(buf[start : 32+len(payload)])
	fmt.Printf("% x %v\n", buf[start:start+n], err)
	// Output: 30 00 08 00 00 00 00 01 00 00 00 00 <nil>
}

// Append a PPTP (version 1) header with sequence and acknowledgment.
func ExampleFields_Append() {
	ppp := []byte{0xff, 0x03, 0x00, 0x21}
	var f gre.Fields
	f.SetPPTP(uint16(len(ppp)), 0x1234)
	f.SeqPresent, f.Seq = true, 34
	f.AckPresent, f.Ack = true, 17
	pkt, _ := f.Append(nil, ppp)
	h, _ := gre.Parse(pkt)
	ack, _ := h.Ack()
	fmt.Printf("v%d call %#x len %d ack %d\n", h.Version(), h.CallID(), h.PayloadLength(), ack)
	// Output: v1 call 0x1234 len 4 ack 17
}

// Keys parse and print the way `ip tunnel` shows them.
func ExampleParseKey() {
	for _, s := range []string{"42", "0x2a", "10.0.0.1"} {
		k, err := gre.ParseKey(s)
		fmt.Println(s, "=", uint32(k), k, err)
	}
	// Output:
	// 42 = 42 0.0.0.42 <nil>
	// 0x2a = 42 0.0.0.42 <nil>
	// 10.0.0.1 = 167772161 10.0.0.1 <nil>
}

// Build a keepalive request and play the peer that reflects it.
func ExampleKeepaliveMatcher_Match() {
	local := netip.MustParseAddr("192.0.2.1")
	remote := netip.MustParseAddr("198.51.100.2")
	// A builds the inner packet and would send it through the tunnel with
	// GRE protocol IPv4, outer IPv4 local→remote.
	inner, _ := gre.AppendKeepalive(nil, local, remote, nil)
	// B, after decapsulating, recognises it and writes it back out.
	reply, to, err := gre.KeepaliveMatcher{}.Match(inner, local, remote)
	fmt.Println(len(reply), "bytes back to", to, err)
	// Output: 24 bytes back to 192.0.2.1 <nil>
}
