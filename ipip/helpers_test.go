package ipip_test

import (
	"net/netip"

	"github.com/ipencap/ipencap/internal/iphdr"
)

// Addresses from the documentation ranges (RFC 5737, RFC 3849).
var (
	outer4Src = netip.MustParseAddr("192.0.2.1")
	outer4Dst = netip.MustParseAddr("198.51.100.7")
	inner4Src = netip.MustParseAddr("203.0.113.10")
	inner4Dst = netip.MustParseAddr("203.0.113.20")
	outer6Src = netip.MustParseAddr("2001:db8::1")
	outer6Dst = netip.MustParseAddr("2001:db8::7")
	inner6Src = netip.MustParseAddr("2001:db8:1::10")
	inner6Dst = netip.MustParseAddr("2001:db8:1::20")
)

// packet4 returns a buffer with headroom bytes in front of an IPv4 packet
// (UDP, 8-byte header and a payload of n-28 counting bytes) of total
// length n, with the given TTL, TOS and DF.
func packet4(headroom, n int, ttl, tos uint8, df bool) []byte {
	b := make([]byte, headroom+n)
	p := b[headroom:]
	var flags uint16
	if df {
		flags = iphdr.IPv4FlagDF
	}
	iphdr.IPv4(p).Encode(&iphdr.IPv4Fields{TOS: tos, TotalLen: uint16(n), ID: 0x1234, FlagsFragOff: flags,
		TTL: ttl, Protocol: 17, Src: inner4Src, Dst: inner4Dst})
	for i := 20; i < n; i++ {
		p[i] = byte(i)
	}
	return b
}

// packet6 returns a buffer with headroom bytes in front of an IPv6 packet
// (next header 17) of n bytes in all, with the given hop limit and traffic
// class.
func packet6(headroom, n int, hlim, tc uint8) []byte {
	b := make([]byte, headroom+n)
	p := b[headroom:]
	iphdr.IPv6(p).Encode(&iphdr.IPv6Fields{TrafficClass: tc, FlowLabel: 0x12345, PayloadLen: uint16(n - 40),
		NextHeader: 17, HopLimit: hlim, Src: inner6Src, Dst: inner6Dst})
	for i := 40; i < n; i++ {
		p[i] = byte(i)
	}
	return b
}
