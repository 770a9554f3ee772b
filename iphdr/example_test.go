package iphdr_test

import (
	"fmt"
	"net/netip"

	"github.com/ipencap/ipencap/iphdr"
)

// Build an IPv4 header, check it, and read it through the view.
func ExampleCheckIPv4() {
	b := make([]byte, 28)
	iphdr.IPv4(b).Encode(&iphdr.IPv4Fields{TotalLen: 28, TTL: 64, Protocol: 17,
		Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("198.51.100.2")})
	h, err := iphdr.CheckIPv4(b, true)
	if err != nil {
		panic(err)
	}
	fmt.Println(h.Src(), ">", h.Dst(), "proto", h.Protocol(), "ttl", h.TTL(), "payload", len(h.Payload()))
	b[1] = 0xff // corrupt the TOS: the checksum no longer holds
	_, err = iphdr.CheckIPv4(b, true)
	fmt.Println(err)
	// Output:
	// 192.0.2.1 > 198.51.100.2 proto 17 ttl 64 payload 8
	// iphdr: bad IPv4 header checksum
}
