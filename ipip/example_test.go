package ipip_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/ipencap/ipencap/ipip"
	"github.com/ipencap/ipencap/outer"
)

// innerPing is an IPv4 UDP packet 10.0.0.1 > 10.0.0.2, TTL 64, DF, ECN
// ECT(0), carrying "ping".
var innerPing = []byte{
	0x45, 0x02, 0x00, 0x20, // version 4, IHL 5, TOS 0x02 (ECT(0)), total length 32
	0x1c, 0x46, 0x40, 0x00, // ID, DF
	0x40, 0x11, 0x0a, 0x83, // TTL 64, UDP, checksum
	0x0a, 0x00, 0x00, 0x01, // 10.0.0.1
	0x0a, 0x00, 0x00, 0x02, // 10.0.0.2
	0x04, 0xd2, 0x16, 0x2e, 0x00, 0x0c, 0x00, 0x00, // UDP 1234 > 5678, length 12
	'p', 'i', 'n', 'g',
}

// An IPIP tunnel (ip tunnel add tun0 mode ipip local 192.0.2.1 remote
// 198.51.100.7 ttl 255): the inner packet is read into a buffer behind
// room for the outer header, which Encap writes in place.
func ExampleEncapsulator_Encap() {
	e, err := ipip.NewEncapsulator(ipip.Config{
		Local:  netip.MustParseAddr("192.0.2.1"),
		Remote: netip.MustParseAddr("198.51.100.7"),
		TTL:    255,
	})
	if err != nil {
		panic(err)
	}
	buf := make([]byte, e.Overhead()+len(innerPing))
	copy(buf[e.Overhead():], innerPing)

	start, err := e.Encap(buf, e.Overhead())
	if err != nil {
		panic(err)
	}
	pkt := buf[start:]
	o, payload, err := outer.Parse(pkt)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d bytes: %v > %v protocol %d ttl %d ECN %v DF %v\n",
		len(pkt), o.Src, o.Dst, o.Protocol, o.TTL, o.ECN(), pkt[6]&0x40 != 0)
	fmt.Printf("payload is the inner packet: %v\n", len(payload) == len(innerPing))
	// Output:
	// 52 bytes: 192.0.2.1 > 198.51.100.7 protocol 4 ttl 255 ECN ECT(0) DF true
	// payload is the inner packet: true
}

// A 6in4 or 4in6 tunnel works the same way; here IPv4 over IPv6 with the
// TTL and TOS inherited from the inner packet.
func ExampleEncapsulator_Encap_ipv6() {
	e, err := ipip.NewEncapsulator(ipip.Config{
		Local:      netip.MustParseAddr("2001:db8::1"),
		Remote:     netip.MustParseAddr("2001:db8::7"),
		InheritTOS: true,
	})
	if err != nil {
		panic(err)
	}
	buf := make([]byte, 64+len(innerPing)) // more headroom than needed is fine
	copy(buf[64:], innerPing)
	start, err := e.Encap(buf, 64)
	if err != nil {
		panic(err)
	}
	o, _, _ := outer.Parse(buf[start:])
	fmt.Printf("start %d: %v > %v next header %d hop limit %d\n", start, o.Src, o.Dst, o.Protocol, o.TTL)
	// Output:
	// start 24: 2001:db8::1 > 2001:db8::7 next header 4 hop limit 64
}

// Decap strips the outer header and applies RFC 6040: congestion marked on
// the outer header (CE) is copied into an ECN-capable inner packet.
func ExampleDecap() {
	e, _ := ipip.NewEncapsulator(ipip.Config{
		Local:  netip.MustParseAddr("192.0.2.1"),
		Remote: netip.MustParseAddr("198.51.100.7"),
	})
	buf := make([]byte, 20+len(innerPing))
	copy(buf[20:], innerPing)
	start, _ := e.Encap(buf, 20)
	pkt := buf[start:]
	// A congested router on the way marks the outer header CE, TOS 0x02 ->
	// 0x03, and updates the header checksum by RFC 1624:
	// HC' = ~(~HC + ~m + m'), m being the 16-bit word that changed.
	pkt[1] = 0x03
	sum := uint32(^binary.BigEndian.Uint16(pkt[10:])) + uint32(^uint16(0x4502)) + 0x4503
	sum = sum&0xffff + sum>>16
	sum = sum&0xffff + sum>>16
	binary.BigEndian.PutUint16(pkt[10:], ^uint16(sum))

	// The receive path: parse the outer header once (a tunnel looks itself
	// up by o.Src and o.Dst here), then hand the packet to the mode.
	o, _, err := outer.Parse(pkt)
	if err != nil {
		panic(err)
	}
	inner, err := ipip.Decap(pkt, &o)
	if err != nil {
		panic(err)
	}
	fmt.Printf("from %v: inner %d bytes, outer ECN %v, inner ECN %v, alarm %v\n",
		o.Src, len(inner), o.ECN(), outer.ECNOf(inner[1]), o.ECNAlarm)

	// The same mark over a Not-ECT inner packet cannot be passed on.
	pkt = []byte{
		0x45, 0x03, 0x00, 0x28, 0x00, 0x01, 0x40, 0x00, 0x40, 0x04, 0x4e, 0x92, // TOS CE, DF, TTL 64, protocol 4
		0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x07, // 192.0.2.1 > 198.51.100.7
		0x45, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00, 0x66, 0xe8, // inner Not-ECT, no payload
		0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02,
	}
	o, _, err = outer.Parse(pkt)
	if err != nil {
		panic(err)
	}
	_, err = ipip.Decap(pkt, &o)
	fmt.Println(errors.Is(err, outer.ErrECNDrop))
	// Output:
	// from 192.0.2.1: inner 32 bytes, outer ECN CE, inner ECN CE, alarm false
	// true
}
