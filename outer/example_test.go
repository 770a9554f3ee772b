package outer_test

import (
	"fmt"
	"net/netip"
	"strings"

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

// A GRE sender writes its own header in front of the inner packet, then has
// the outer IPv4 header written with protocol 47 and the inner packet's
// fields for the TTL, TOS and ECN rules.
func ExampleEncapsulator_Prepend() {
	e, err := outer.NewEncapsulator(outer.Config{
		Local:  netip.MustParseAddr("192.0.2.1"),
		Remote: netip.MustParseAddr("198.51.100.7"),
	})
	if err != nil {
		panic(err)
	}
	const greLen = 4
	buf := make([]byte, e.Overhead()+greLen+len(innerPing))
	innerOff := e.Overhead() + greLen
	copy(buf[innerOff:], innerPing)
	copy(buf[e.Overhead():], []byte{0x00, 0x00, 0x08, 0x00}) // GRE, protocol IPv4

	in, err := outer.InnerOf(buf[innerOff:])
	if err != nil {
		panic(err)
	}
	start, err := e.Prepend(buf, e.Overhead(), outer.ProtoGRE, in)
	if err != nil {
		panic(err)
	}
	o, payload, _ := outer.Parse(buf[start:])
	fmt.Printf("protocol %v ttl %d (inherited), payload %d bytes\n", o.Protocol, o.TTL, len(payload))
	// Output:
	// protocol GRE ttl 64 (inherited), payload 36 bytes
}

// The RFC 6040 decapsulation table.
func ExampleDecapECN() {
	codepoints := []outer.ECN{outer.NotECT, outer.ECT0, outer.ECT1, outer.CE}
	for _, inner := range codepoints {
		row := fmt.Sprintf("%-7v |", inner)
		for _, out := range codepoints {
			cell := "drop"
			e, v := outer.DecapECN(inner, out)
			if v != outer.ECNDrop {
				cell = e.String()
			}
			if v != outer.ECNForward {
				cell += " (!!!)"
			}
			row += fmt.Sprintf(" %-13s", cell)
		}
		fmt.Println(strings.TrimRight(row, " "))
	}
	// Output:
	// Not-ECT | Not-ECT       Not-ECT (!!!) Not-ECT (!!!) drop (!!!)
	// ECT(0)  | ECT(0)        ECT(0)        ECT(1)        CE
	// ECT(1)  | ECT(1)        ECT(1)        ECT(1)        CE
	// CE      | CE            CE            CE (!!!)      CE
}
