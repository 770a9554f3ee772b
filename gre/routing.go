package gre

import "encoding/binary"

// Address families of RFC 1701 source route entries.
const (
	// SREFamilyIP: the routing information is a list of IPv4 addresses.
	SREFamilyIP = 0x0800
	// SREFamilyASN: the routing information is a list of 2-byte autonomous system numbers.
	SREFamilyASN = 0xFFFE
)

// SRE is one source route entry of the RFC 1701 routing field:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|       Address Family          |  SRE Offset   |  SRE Length   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                        Routing Information ...
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The routing field ends with a NULL SRE (address family 0, length 0),
// which Encode writes and the iterator does not yield.
type SRE struct {
	// AddressFamily "indicates the syntax and semantics of the Routing
	// Information field" (SREFamilyIP, SREFamilyASN, …).
	AddressFamily uint16
	// Offset "indicates the octet offset from the start of the Routing
	// Information field to the first octet of the active entry".
	Offset uint8
	// Info is the routing information; its length is the SRE Length.
	// After parsing it is a sub-slice of the packet.
	Info []byte
}

// SREIter walks the SREs of a parsed header without allocating. Parse has
// validated the whole list, so iteration cannot fail. The iterator reads
// the packet bytes as it goes: if they were changed after Parse so that an
// SRE no longer fits in the routing field, iteration stops there instead of
// panicking. The zero SREIter yields nothing.
type SREIter struct {
	b   []byte
	sre SRE
}

// Next advances to the next SRE and reports whether there is one.
func (it *SREIter) Next() bool {
	if len(it.b) < 4 {
		return false
	}
	af := binary.BigEndian.Uint16(it.b)
	l := int(it.b[3])
	if af == 0 && l == 0 || len(it.b) < 4+l {
		it.b = nil
		return false
	}
	it.sre = SRE{AddressFamily: af, Offset: it.b[2], Info: it.b[4 : 4+l : 4+l]}
	it.b = it.b[4+l:]
	return true
}

// SRE returns the entry Next moved to.
func (it *SREIter) SRE() SRE { return it.sre }
