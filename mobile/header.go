package mobile

import (
	"encoding/binary"
	"net/netip"

	"github.com/ipencap/ipencap/checksum"
	"github.com/ipencap/ipencap/outer"
)

// Header sizes and flag.
const (
	// MinLen is the length of a minimal forwarding header without the
	// original source address (S = 0).
	MinLen = 8
	// MaxLen is the length of a minimal forwarding header with the
	// original source address (S = 1): the most [Encapsulator.Encap]
	// writes in front of the datagram, its [Encapsulator.Overhead].
	MaxLen = 12
	// FlagS is the S bit in the second byte: the original source address
	// is present.
	FlagS = 0x80
)

// Offsets in the minimal forwarding header.
const (
	offProtocol = 0
	offFlags    = 1
	offChecksum = 2
	offDst      = 4
	offSrc      = 8
)

// Header is a validated view of a minimal forwarding header (RFC 2004 §3)
// and what follows it, as [Parse] returns it:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   Protocol    |S|  reserved   |        Header Checksum        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                 Original Destination Address                  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	:            (if present) Original Source Address               :
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Parse fixes the header length (8, or 12 with S) and the S flag in the
// Header value, so its accessors cannot panic: not on the zero Header
// (which is empty: Len is 0), and not when the buffer changes after Parse
// (S set or cleared, say). Field accessors read the buffer as it is then,
// within the bounds Parse checked.
type Header struct {
	b []byte // the header and what follows, validated by Parse
	n uint8  // header length fixed by Parse: 0 (zero Header), MinLen or MaxLen
}

// Parse checks the minimal forwarding header at the start of b (the
// payload of an IPv4 datagram with protocol 55, as [outer.Parse] returns
// it): its length (8 bytes, 12 with S set), that the reserved bits are
// zero, and its checksum, the Internet checksum of the header alone.
// It does not write to b: after outer.Parse, it is the path for capture
// tools, which must leave the buffer alone ([Decap] restores the original
// datagram in place instead). Errors: [ErrTruncated], [ErrReservedBits], [ErrChecksum]. Parse
// never allocates.
func Parse(b []byte) (Header, error) {
	if len(b) < MinLen {
		return Header{}, ErrTruncated
	}
	n := MinLen
	if b[offFlags]&FlagS != 0 {
		n = MaxLen
		if len(b) < MaxLen {
			return Header{}, ErrTruncated
		}
	}
	if b[offFlags]&^FlagS != 0 {
		return Header{}, ErrReservedBits
	}
	if checksum.Sum(b[:n], 0) != 0xffff {
		return Header{}, ErrChecksum
	}
	return Header{b: b, n: uint8(n)}, nil
}

// Protocol returns the protocol of the original datagram, which the
// decapsulator puts back into the IPv4 header.
func (h Header) Protocol() outer.IPProto {
	if h.n == 0 {
		return 0
	}
	return outer.IPProto(h.b[offProtocol])
}

// SourcePresent reports the S bit as Parse saw it: the original source
// address is present because the encapsulator was not the original
// source.
func (h Header) SourcePresent() bool { return h.n == MaxLen }

// Checksum returns the header checksum field.
func (h Header) Checksum() uint16 {
	if h.n == 0 {
		return 0
	}
	return binary.BigEndian.Uint16(h.b[offChecksum:])
}

// Dst returns the original destination address.
func (h Header) Dst() netip.Addr {
	if h.n == 0 {
		return netip.Addr{}
	}
	return netip.AddrFrom4([4]byte(h.b[offDst : offDst+4]))
}

// Src returns the original source address and true when S is set, or the
// zero Addr and false: the original source is then the IPv4 source.
func (h Header) Src() (netip.Addr, bool) {
	if h.n != MaxLen {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(h.b[offSrc : offSrc+4])), true
}

// Len returns the header length: 8, 12 with S set, or 0 for the zero Header.
func (h Header) Len() int { return int(h.n) }

// Bytes returns the header bytes, a sub-slice of what Parse was given.
func (h Header) Bytes() []byte { return h.b[:h.n] }

// Payload returns what follows the header (the original datagram's
// payload), a sub-slice of what Parse was given.
func (h Header) Payload() []byte { return h.b[h.n:] }

// Fields fills f from h, resetting every field.
func (h Header) Fields(f *Fields) {
	src, _ := h.Src()
	*f = Fields{Protocol: h.Protocol(), Dst: h.Dst(), Src: src}
}

// Fields are the fields of a minimal forwarding header, for Encode.
type Fields struct {
	// Protocol is the protocol of the original datagram.
	Protocol outer.IPProto
	// Dst is the original destination address.
	Dst netip.Addr
	// Src is the original source address. When valid, it is sent and S
	// is set ("the encapsulator is not the original source"); the zero
	// Addr leaves it out.
	Src netip.Addr
}

// Len returns the length of the header f describes: 8, or 12 with Src.
func (f *Fields) Len() int {
	if f.Src.IsValid() {
		return MaxLen
	}
	return MinLen
}

// Encode writes the header f describes into b[:f.Len()], with its
// checksum, and returns its length. IPv4-mapped IPv6 addresses count as
// IPv4. Errors: [ErrShortBuffer], [ErrAddr] (Dst, or a valid Src, not
// IPv4). Encode never allocates.
func (f *Fields) Encode(b []byte) (int, error) {
	n := f.Len()
	if len(b) < n {
		return 0, ErrShortBuffer
	}
	dst := f.Dst.Unmap()
	src := f.Src.Unmap()
	if !dst.Is4() || (src.IsValid() && !src.Is4()) {
		return 0, ErrAddr
	}
	d := dst.As4()
	var s [4]byte
	if src.IsValid() {
		s = src.As4()
	}
	encode(b[:n], f.Protocol, d, s, src.IsValid())
	return n, nil
}

// encode writes a minimal forwarding header into m, whose length (8 or
// 12) matches withSrc.
func encode(m []byte, proto outer.IPProto, dst, src [4]byte, withSrc bool) {
	m[offProtocol] = uint8(proto)
	m[offFlags] = 0
	if withSrc {
		m[offFlags] = FlagS
		copy(m[offSrc:offSrc+4], src[:])
	}
	m[offChecksum], m[offChecksum+1] = 0, 0
	copy(m[offDst:offDst+4], dst[:])
	binary.BigEndian.PutUint16(m[offChecksum:], checksum.Checksum(m))
}
