package mobile_test

import (
	"net/netip"
	"testing"

	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/mobile"
	"github.com/ipencap/ipencap/outer"
)

// Addresses from the documentation ranges, shared by every package's tests,
// under the names of a Mobile IP tunnel.
var (
	origSrc = testpkt.Inner4Src // 203.0.113.10, the mobile node's correspondent
	origDst = testpkt.Inner4Dst // 203.0.113.20, the mobile node's home address
	homeAg  = testpkt.Outer4Src // 192.0.2.1, home agent: the encapsulator (Local)
	careOf  = testpkt.Outer4Dst // 198.51.100.7, care-of address: the tunnel exit (Remote)
)

// datagram returns headroom bytes and an IPv4 datagram of n bytes in all
// (UDP, counting bytes) from origSrc to origDst, with the given options (a
// multiple of 4 bytes), TTL 64, DF, ID 0x1234 and TOS 0xb8.
func datagram(headroom, n int, opts []byte) []byte {
	return testpkt.BuildIPv4(headroom, n, testpkt.IPv4{TTL: 64, TOS: 0xb8, DF: true, ID: 0x1234, Options: opts})
}

// Options for tests: NOP, NOP, NOP, EOL; and a record-route option with
// room for two addresses (type 7, length 11, pointer 4) plus EOL.
var (
	optsNOP   = []byte{1, 1, 1, 0}
	optsRoute = []byte{7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0}
)

// Encapsulators for the two header forms.
var (
	encS0 = mustEncapsulator(origSrc) // S=0: the encapsulator is the original source
	encS1 = mustEncapsulator(homeAg)  // S=1: the home agent encapsulates
)

func mustEncapsulator(local netip.Addr) *mobile.Encapsulator {
	e, err := mobile.NewEncapsulator(mobile.Config{Local: local, Remote: careOf})
	if err != nil {
		panic(err)
	}
	return e
}

// decap is the receive path of a minimal-encapsulation tunnel: outer.Parse,
// then mobile.Decap with the parsed outer header.
func decap(b []byte) ([]byte, outer.Outer, error) {
	o, _, err := outer.Parse(b)
	if err != nil {
		return nil, o, err
	}
	inner, err := mobile.Decap(b, &o)
	return inner, o, err
}

// encapsulated returns a datagram of n bytes with the given options,
// encapsulated by e behind 12 bytes of headroom: the tunnel packet.
func encapsulated(tb testing.TB, e *mobile.Encapsulator, n int, opts []byte) []byte {
	tb.Helper()
	b := datagram(12, n, opts)
	start, err := e.Encap(b, 12)
	if err != nil {
		tb.Fatal(err)
	}
	return b[start:]
}
