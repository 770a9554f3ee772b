package outer_test

import (
	"errors"

	"github.com/ipencap/ipencap/internal/testpkt"
)

// Addresses from the documentation ranges, shared by every package's tests.
var (
	outer4Src = testpkt.Outer4Src
	outer4Dst = testpkt.Outer4Dst
	outer6Src = testpkt.Outer6Src
	outer6Dst = testpkt.Outer6Dst
)

// packet4 returns a buffer with headroom bytes in front of an IPv4 packet
// (UDP, a payload of counting bytes) of total length n, with the given
// TTL, TOS and DF.
func packet4(headroom, n int, ttl, tos uint8, df bool) []byte {
	return testpkt.BuildIPv4(headroom, n, testpkt.IPv4{TTL: ttl, TOS: tos, DF: df})
}

// packet6 returns a buffer with headroom bytes in front of an IPv6 packet
// (next header 17) of n bytes in all, with the given hop limit and traffic
// class.
func packet6(headroom, n int, hlim, tc uint8) []byte {
	return testpkt.BuildIPv6(headroom, n, testpkt.IPv6{HopLimit: hlim, TrafficClass: tc})
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
