package mobile_test

import (
	"bytes"
	"fmt"
	"net/netip"

	"github.com/ipencap/ipencap/mobile"
)

// ping is an IPv4 UDP datagram 10.0.0.1 > 10.0.0.2, TTL 64, DF, carrying
// "ping".
var ping = []byte{
	0x45, 0x02, 0x00, 0x20, // version 4, IHL 5, TOS 0x02, total length 32
	0x1c, 0x46, 0x40, 0x00, // ID, DF
	0x40, 0x11, 0x0a, 0x83, // TTL 64, UDP, checksum
	0x0a, 0x00, 0x00, 0x01, // 10.0.0.1
	0x0a, 0x00, 0x00, 0x02, // 10.0.0.2
	0x04, 0xd2, 0x16, 0x2e, 0x00, 0x0c, 0x00, 0x00, // UDP 1234 > 5678, length 12
	'p', 'i', 'n', 'g',
}

// A home agent (192.0.2.1) tunnels a datagram for a mobile node to its
// care-of address (198.51.100.7). It is not the datagram's source, so the
// original source goes into the minimal header (S=1). The datagram sits
// behind 12 bytes of headroom; only its header moves.
func ExampleEncapsulate() {
	buf := make([]byte, mobile.MaxLen+len(ping))
	copy(buf[mobile.MaxLen:], ping)

	start, err := mobile.Encapsulate(buf, mobile.MaxLen,
		netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("192.0.2.1"))
	if err != nil {
		panic(err)
	}
	pkt := buf[start:]
	src := netip.AddrFrom4([4]byte(pkt[12:16]))
	dst := netip.AddrFrom4([4]byte(pkt[16:20]))
	fmt.Printf("%v > %v protocol %d length %d ttl %d\n", src, dst, pkt[9], len(pkt), pkt[8])

	h, err := mobile.Parse(pkt[20:])
	if err != nil {
		panic(err)
	}
	osrc, _ := h.Src()
	fmt.Printf("minimal header: %d bytes, %v > %v protocol %d\n", h.Len(), osrc, h.Dst(), h.Protocol())
	// Output:
	// 192.0.2.1 > 198.51.100.7 protocol 55 length 44 ttl 64
	// minimal header: 12 bytes, 10.0.0.1 > 10.0.0.2 protocol 17
}

// The care-of address decapsulates in place and gets the original datagram
// back, byte for byte.
func ExampleDecapsulate() {
	buf := make([]byte, mobile.MaxLen+len(ping))
	copy(buf[mobile.MaxLen:], ping)
	start, err := mobile.Encapsulate(buf, mobile.MaxLen, netip.MustParseAddr("198.51.100.7"), netip.Addr{})
	if err != nil {
		panic(err)
	}
	fmt.Println("encapsulated:", len(buf[start:]), "bytes")

	orig, err := mobile.Decapsulate(buf[start:])
	if err != nil {
		panic(err)
	}
	fmt.Println("decapsulated:", len(orig), "bytes, same as sent:", bytes.Equal(orig, ping))

	// A fragment cannot be minimally encapsulated.
	frag := append([]byte(nil), ping...)
	frag[6] = 0x60                  // DF and MF
	frag[10], frag[11] = 0xea, 0x82 // checksum for the new flags
	_, err = mobile.Encapsulate(append(make([]byte, 12), frag...), 12, netip.MustParseAddr("198.51.100.7"), netip.Addr{})
	fmt.Println(err)
	// Output:
	// encapsulated: 40 bytes
	// decapsulated: 32 bytes, same as sent: true
	// mobile: fragmented datagrams cannot be minimally encapsulated
}

// Fields.Encode writes a minimal forwarding header; Parse reads one.
func ExampleFields_Encode() {
	f := mobile.Fields{Protocol: 6, Dst: netip.MustParseAddr("203.0.113.20")}
	b := make([]byte, mobile.MaxLen)
	n, err := f.Encode(b)
	if err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", b[:n])
	h, err := mobile.Parse(b[:n])
	fmt.Println(h.Protocol(), h.Dst(), h.SourcePresent(), err)
	// Output:
	// 06 00 bd ea cb 00 71 14
	// 6 203.0.113.20 false <nil>
}
