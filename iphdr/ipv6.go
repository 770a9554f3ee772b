package iphdr

import (
	"encoding/binary"
	"net/netip"
)

// IPv6 is a view of an IPv6 fixed header and what follows it (RFC 8200 §3):
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version| Traffic Class |           Flow Label                  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Payload Length        |  Next Header  |   Hop Limit   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Source Address (128 bits)                  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                 Destination Address (128 bits)                |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type IPv6 []byte

const (
	v6VersTCFL     = 0
	v6PayloadLen   = 4
	v6NextHeader   = 6
	v6HopLimit     = 7
	v6Src          = 8
	v6Dst          = 24
	ipv6FlowMask   = 0x000fffff
	ipv6TCShift    = 20
	ipv6VersionOff = 28
)

// IPv6Len is the length of the IPv6 fixed header.
const IPv6Len = 40

// Version returns the version field (6 for a valid IPv6 header).
func (b IPv6) Version() uint8 { return b[v6VersTCFL] >> 4 }

// TrafficClass returns the traffic class byte (DSCP and ECN).
func (b IPv6) TrafficClass() uint8 {
	return uint8(binary.BigEndian.Uint32(b[v6VersTCFL:]) >> ipv6TCShift)
}

// FlowLabel returns the 20-bit flow label.
func (b IPv6) FlowLabel() uint32 { return binary.BigEndian.Uint32(b[v6VersTCFL:]) & ipv6FlowMask }

// PayloadLen returns the payload length: the bytes after the fixed header.
func (b IPv6) PayloadLen() uint16 { return binary.BigEndian.Uint16(b[v6PayloadLen:]) }

// NextHeader returns the next header (protocol) number.
func (b IPv6) NextHeader() uint8 { return b[v6NextHeader] }

// HopLimit returns the hop limit.
func (b IPv6) HopLimit() uint8 { return b[v6HopLimit] }

// Src returns the source address.
func (b IPv6) Src() netip.Addr { return netip.AddrFrom16([16]byte(b[v6Src : v6Src+16])) }

// Dst returns the destination address.
func (b IPv6) Dst() netip.Addr { return netip.AddrFrom16([16]byte(b[v6Dst : v6Dst+16])) }

// Payload returns the bytes after the fixed header, up to the payload length.
func (b IPv6) Payload() []byte { return b[IPv6Len : IPv6Len+int(b.PayloadLen())] }

// SetTrafficClass sets the traffic class byte.
func (b IPv6) SetTrafficClass(v uint8) {
	w := binary.BigEndian.Uint32(b[v6VersTCFL:])
	w = w&^(0xff<<ipv6TCShift) | uint32(v)<<ipv6TCShift
	binary.BigEndian.PutUint32(b[v6VersTCFL:], w)
}

// SetPayloadLen sets the payload length.
func (b IPv6) SetPayloadLen(v uint16) { binary.BigEndian.PutUint16(b[v6PayloadLen:], v) }

// SetNextHeader sets the next header number.
func (b IPv6) SetNextHeader(v uint8) { b[v6NextHeader] = v }

// SetHopLimit sets the hop limit.
func (b IPv6) SetHopLimit(v uint8) { b[v6HopLimit] = v }

// SetSrc sets the source address (an IPv4 address is written IPv4-mapped).
func (b IPv6) SetSrc(a netip.Addr) { s := a.As16(); copy(b[v6Src:], s[:]) }

// SetDst sets the destination address (an IPv4 address is written IPv4-mapped).
func (b IPv6) SetDst(a netip.Addr) { s := a.As16(); copy(b[v6Dst:], s[:]) }

// IPv6Fields are the fields of an IPv6 fixed header, for Encode.
type IPv6Fields struct {
	// TrafficClass is the traffic class byte (DSCP << 2 | ECN).
	TrafficClass uint8
	// FlowLabel is the 20-bit flow label.
	FlowLabel uint32
	// PayloadLen is the length of what follows the fixed header.
	PayloadLen uint16
	// NextHeader is the protocol number of what follows.
	NextHeader uint8
	// HopLimit is the hop limit.
	HopLimit uint8
	// Src and Dst are the addresses.
	Src, Dst netip.Addr
}

// Encode writes the fixed header from f into b[:IPv6Len].
func (b IPv6) Encode(f *IPv6Fields) {
	_ = b[IPv6Len-1]
	binary.BigEndian.PutUint32(b[v6VersTCFL:],
		6<<ipv6VersionOff|uint32(f.TrafficClass)<<ipv6TCShift|f.FlowLabel&ipv6FlowMask)
	b.SetPayloadLen(f.PayloadLen)
	b[v6NextHeader] = f.NextHeader
	b[v6HopLimit] = f.HopLimit
	b.SetSrc(f.Src)
	b.SetDst(f.Dst)
}

// CheckIPv6 validates the IPv6 fixed header at the start of b: version 6 and
// the payload length within b. Bytes beyond the payload length (link
// padding) are allowed. Jumbograms (RFC 2675, payload length 0 with a
// hop-by-hop option) are not recognised: their payload reads as empty.
func CheckIPv6(b []byte) (IPv6, error) {
	if len(b) < IPv6Len {
		return nil, ErrTruncated
	}
	h := IPv6(b)
	if h.Version() != 6 {
		return nil, ErrVersion
	}
	if len(b) < IPv6Len+int(h.PayloadLen()) {
		return nil, ErrTruncated
	}
	return h, nil
}
