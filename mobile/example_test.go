package mobile_test

import (
	"bytes"
	"fmt"
	"net/netip"

	"github.com/ipencap/ipencap/mobile"
	"github.com/ipencap/ipencap/outer"
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
// behind Overhead() bytes of headroom; only its header moves.
func ExampleEncapsulator_Encap() {
	e, err := mobile.NewEncapsulator(mobile.Config{
		Local:  netip.MustParseAddr("192.0.2.1"),
		Remote: netip.MustParseAddr("198.51.100.7"),
	})
	if err != nil {
		panic(err)
	}
	buf := make([]byte, e.Overhead()+len(ping))
	copy(buf[e.Overhead():], ping)

	start, err := e.Encap(buf, e.Overhead())
	if err != nil {
		panic(err)
	}
	pkt := buf[start:]
	o, payload, err := outer.Parse(pkt)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%v > %v protocol %d length %d ttl %d\n", o.Src, o.Dst, o.Protocol, o.Len, o.TTL)

	h, err := mobile.Parse(payload)
	if err != nil {
		panic(err)
	}
	osrc, _ := h.Src()
	fmt.Printf("minimal header: %d bytes, %v > %v protocol %d\n", h.Len(), osrc, h.Dst(), h.Protocol())
	// Output:
	// 192.0.2.1 > 198.51.100.7 protocol 55 length 44 ttl 64
	// minimal header: 12 bytes, 10.0.0.1 > 10.0.0.2 protocol 17
}

// The care-of address parses the outer header once, then decapsulates in
// place and gets the original datagram back, byte for byte. Here the
// encapsulator is the datagram's own source (10.0.0.1), so the minimal
// header is 8 bytes (S=0).
func ExampleDecap() {
	e, err := mobile.NewEncapsulator(mobile.Config{
		Local:  netip.MustParseAddr("10.0.0.1"),
		Remote: netip.MustParseAddr("198.51.100.7"),
	})
	if err != nil {
		panic(err)
	}
	buf := make([]byte, e.Overhead()+len(ping))
	copy(buf[e.Overhead():], ping)
	start, err := e.Encap(buf, e.Overhead())
	if err != nil {
		panic(err)
	}
	pkt := buf[start:]
	fmt.Println("encapsulated:", len(pkt), "bytes")

	o, _, err := outer.Parse(pkt) // a tunnel looks itself up by o.Src and o.Dst here
	if err != nil {
		panic(err)
	}
	orig, err := mobile.Decap(pkt, &o)
	if err != nil {
		panic(err)
	}
	fmt.Println("decapsulated:", len(orig), "bytes, same as sent:", bytes.Equal(orig, ping))
	fmt.Println("tunnel:", o.Src, ">", o.Dst)

	// A fragment cannot be minimally encapsulated.
	frag := append([]byte(nil), ping...)
	frag[6] = 0x60                  // DF and MF
	frag[10], frag[11] = 0xea, 0x82 // checksum for the new flags
	_, err = e.Encap(append(make([]byte, e.Overhead()), frag...), e.Overhead())
	fmt.Println(err)
	// Output:
	// encapsulated: 40 bytes
	// decapsulated: 32 bytes, same as sent: true
	// tunnel: 10.0.0.1 > 198.51.100.7
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
	fmt.Printf("protocol %d, %v, S %v, %v\n", h.Protocol(), h.Dst(), h.SourcePresent(), err)
	// Output:
	// 06 00 bd ea cb 00 71 14
	// protocol 6, 203.0.113.20, S false, <nil>
}
