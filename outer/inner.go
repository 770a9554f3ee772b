package outer

import "github.com/ipencap/ipencap/iphdr"

// Inner is what the outer header rules read from the inner packet: TTL
// for ttl inherit, TOS for tos inherit and the ECN rules, DF for
// nopmtudisc. [InnerOf] fills it from an IPv4 or IPv6 packet; a caller
// whose inner packet is not IP (a GRE tunnel carrying Ethernet) passes
// the zero Inner.
type Inner struct {
	// Version is 4 or 6 for an IP inner packet, 0 for anything else.
	Version uint8
	// TTL is the inner IPv4 TTL or IPv6 hop limit.
	TTL uint8
	// TOS is the inner IPv4 TOS or IPv6 traffic class, with its ECN bits.
	TOS uint8
	// DF is the inner IPv4 "don't fragment" flag (false for IPv6).
	DF bool
}

// InnerOf checks the IPv4 or IPv6 packet p and returns its [Inner]. The
// packet must fill p exactly (its total length, or 40 + payload length,
// equals len(p)); its IPv4 header checksum is not verified. Errors:
// [ErrInnerTruncated], [ErrInnerVersion], [ErrInnerHeaderLen],
// [ErrInnerLength], [ErrInnerTTL]. InnerOf never allocates.
func InnerOf(p []byte) (Inner, error) {
	if len(p) == 0 {
		return Inner{}, ErrInnerTruncated
	}
	switch p[0] >> 4 {
	case 4:
		h, err := iphdr.CheckIPv4(p, false)
		if err != nil {
			return Inner{}, innerErr(err)
		}
		if int(h.TotalLen()) != len(p) {
			return Inner{}, ErrInnerLength
		}
		if h.TTL() == 0 {
			return Inner{}, ErrInnerTTL
		}
		return Inner{Version: 4, TTL: h.TTL(), TOS: h.TOS(), DF: h.DF()}, nil
	case 6:
		h, err := iphdr.CheckIPv6(p)
		if err != nil {
			return Inner{}, innerErr(err)
		}
		if iphdr.IPv6Len+int(h.PayloadLen()) != len(p) {
			return Inner{}, ErrInnerLength
		}
		if h.HopLimit() == 0 {
			return Inner{}, ErrInnerTTL
		}
		return Inner{Version: 6, TTL: h.HopLimit(), TOS: h.TrafficClass()}, nil
	}
	return Inner{}, ErrInnerVersion
}

// innerErr turns an iphdr check error on the inner packet into ours.
func innerErr(err error) error {
	switch err {
	case iphdr.ErrVersion:
		return ErrInnerVersion
	case iphdr.ErrHeaderLen:
		return ErrInnerHeaderLen
	}
	return ErrInnerTruncated
}

// CheckInner checks the IPv4 (version 4) or IPv6 (version 6) packet at
// the start of p, the payload of a tunnel header whose protocol field
// announced that version, and returns it trimmed to the length its header
// declares: the receive-side twin of [InnerOf] for a payload that may
// carry link padding. The version must be v ([ErrInnerVersion]), the
// header whole and within p, as must the length it declares
// ([ErrInnerTruncated], [ErrInnerHeaderLen]), and the TTL or hop limit
// not 0 ([ErrInnerTTL]); the IPv4 header checksum is not verified (IP
// input checks it). CheckInner never allocates.
func CheckInner(p []byte, v uint8) ([]byte, error) {
	if len(p) == 0 {
		return nil, ErrInnerTruncated
	}
	if p[0]>>4 != v {
		return nil, ErrInnerVersion
	}
	switch v {
	case 4:
		h, err := iphdr.CheckIPv4(p, false)
		if err != nil {
			return nil, innerErr(err)
		}
		if h.TTL() == 0 {
			return nil, ErrInnerTTL
		}
		return p[:h.TotalLen()], nil
	case 6:
		h, err := iphdr.CheckIPv6(p)
		if err != nil {
			return nil, innerErr(err)
		}
		if h.HopLimit() == 0 {
			return nil, ErrInnerTTL
		}
		return p[:iphdr.IPv6Len+int(h.PayloadLen())], nil
	}
	return nil, ErrInnerVersion
}
