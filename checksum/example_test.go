package checksum_test

import (
	"fmt"

	"github.com/ipencap/ipencap/checksum"
)

// An IPv4 header's checksum, verified by summing the header to 0xffff, then
// updated incrementally (RFC 1624) when the TTL changes.
func Example() {
	h := []byte{
		0x45, 0x00, 0x00, 0x54, 0x12, 0x34, 0x40, 0x00, // version, IHL, TOS, length, ID, DF
		0x40, 0x01, 0x00, 0x00, // TTL 64, ICMP, checksum 0
		0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x02, // 192.0.2.1 > 198.51.100.2
	}
	c := checksum.Checksum(h)
	h[10], h[11] = byte(c>>8), byte(c)
	fmt.Printf("checksum %#04x, valid %v\n", c, checksum.Sum(h, 0) == 0xffff)

	h[8] = 63 // TTL 64 -> 63
	c = checksum.Update16(c, 0x4001, 0x3f01)
	h[10], h[11] = byte(c>>8), byte(c)
	fmt.Printf("after the TTL change %#04x, valid %v\n", c, checksum.Sum(h, 0) == 0xffff)
	// Output:
	// checksum 0x3c3e, valid true
	// after the TTL change 0x3d3e, valid true
}
