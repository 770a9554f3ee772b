package ipip

import (
	"github.com/ipencap/ipencap/outer"
)

// Decap decapsulates the IPIP, 6in4, 4in6 or 6in6 packet b, whose outer
// header [outer.Parse] has parsed into o, and returns the inner packet, a
// sub-slice of b. It does not parse the outer header again, and o keeps
// the outer addresses for the caller.
//
// The inner packet is checked as [Check] does; then RFC 6040 is applied to
// it in place ([outer.ApplyECN]): the inner ECN is rewritten (IPv4 header
// checksum updated incrementally), o.ECNAlarm reports a "(!!!)"
// combination, and outer CE over a Not-ECT inner packet returns
// [outer.ErrECNDrop]. The inner TTL is not changed (RFC 2003 §3.1).
// Decap never allocates.
func Decap(b []byte, o *outer.Outer) (inner []byte, err error) {
	inner, err = Check(b, o)
	if err != nil {
		return nil, err
	}
	o.ECNAlarm, err = outer.ApplyECN(inner, o.ECN())
	if err != nil {
		return nil, err
	}
	return inner, nil
}

// Check checks the inner packet of b, whose outer header [outer.Parse] has
// parsed into o, and returns it, a sub-slice of b, without writing to b:
// the non-mutating path for capture tools.
//
// The outer protocol must be 4 with an inner IPv4 packet or 41 with an
// inner IPv6 packet ([ErrProtocol], [ErrVersionMismatch]). The inner
// header must lie within the outer payload, as must the length it declares
// ([outer.ErrInnerTruncated], [outer.ErrInnerHeaderLen]); outer payload
// bytes beyond that length are cut off, as Linux trims them. An inner TTL
// or hop limit of 0 is refused ([outer.ErrInnerTTL]). The inner IPv4
// header checksum is not verified: the inner packet goes on to IP input,
// which checks it. Check never allocates.
func Check(b []byte, o *outer.Outer) (inner []byte, err error) {
	if o.HeaderLen > o.Len || o.Len > len(b) {
		return nil, outer.ErrTruncated
	}
	p := b[o.HeaderLen:o.Len]
	var v uint8
	switch o.Protocol {
	case outer.ProtoIPIP:
		v = 4
	case outer.ProtoIPv6:
		v = 6
	default:
		return nil, ErrProtocol
	}
	if len(p) > 0 && p[0]>>4 != v {
		return nil, ErrVersionMismatch
	}
	return outer.CheckInner(p, v)
}
