package mobile_test

import (
	"net/netip"

	"github.com/ipencap/ipencap/internal/iphdr"
)

// Addresses from the documentation ranges (RFC 5737).
var (
	origSrc = netip.MustParseAddr("203.0.113.10") // the mobile node's correspondent
	origDst = netip.MustParseAddr("203.0.113.20") // the mobile node's home address
	homeAg  = netip.MustParseAddr("192.0.2.1")    // home agent: the encapsulator
	careOf  = netip.MustParseAddr("198.51.100.7") // care-of address: the tunnel exit
)

// datagram returns headroom bytes and an IPv4 datagram of n bytes in all
// (UDP, counting bytes), with the given options (a multiple of 4 bytes),
// TTL 64, DF, ID 0x1234 and TOS 0xb8.
func datagram(headroom, n int, opts []byte) []byte {
	b := make([]byte, headroom+n)
	p := b[headroom:]
	hl := 20 + len(opts)
	h := iphdr.IPv4(p)
	h.Encode(&iphdr.IPv4Fields{TOS: 0xb8, TotalLen: uint16(n), ID: 0x1234, FlagsFragOff: iphdr.IPv4FlagDF,
		TTL: 64, Protocol: 17, Src: origSrc, Dst: origDst})
	h.SetVersionIHL(hl)
	copy(p[20:hl], opts)
	for i := hl; i < n; i++ {
		p[i] = byte(i)
	}
	h.ComputeChecksum()
	return b
}

// Options for tests: NOP, NOP, NOP, EOL; and a record-route option with
// room for two addresses (type 7, length 11, pointer 4) plus EOL.
var (
	optsNOP   = []byte{1, 1, 1, 0}
	optsRoute = []byte{7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0}
)
