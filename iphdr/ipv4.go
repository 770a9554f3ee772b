// Package iphdr holds IPv4 and IPv6 header views over byte slices, shared by
// the codecs and the engine.
//
// A view is a []byte whose accessors read and write header fields in place.
// Accessors do not check bounds: validate with CheckIPv4 or CheckIPv6 first
// (or build the header with Encode into a buffer of the right size). Nothing
// here allocates; addresses come back as netip.Addr values.
package iphdr

import (
	"encoding/binary"
	"io"

	"github.com/ipencap/ipencap"
	"net/netip"

	"github.com/ipencap/ipencap/checksum"
)

// IPv4 is a view of an IPv4 header and what follows it (RFC 791 §3.1):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version|  IHL  |Type of Service|          Total Length         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Identification        |Flags|      Fragment Offset    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Time to Live |    Protocol   |         Header Checksum       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                       Source Address                          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Destination Address                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Options                    |    Padding    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type IPv4 []byte

const (
	v4VersIHL  = 0
	v4TOS      = 1
	v4TotalLen = 2
	v4ID       = 4
	v4FlagsOff = 6
	v4TTL      = 8
	v4Protocol = 9
	v4Checksum = 10
	v4Src      = 12
	v4Dst      = 16
)

// IPv4 sizes and flags.
const (
	// IPv4MinLen is the length of an IPv4 header without options.
	IPv4MinLen = 20
	// IPv4MaxLen is the longest IPv4 header: IHL 15, 60 bytes.
	IPv4MaxLen = 60
	// IPv4FlagDF is the "don't fragment" bit of the flags/offset word.
	IPv4FlagDF = 0x4000
	// IPv4FlagMF is the "more fragments" bit of the flags/offset word.
	IPv4FlagMF = 0x2000
	// IPv4OffsetMask masks the fragment offset (in 8-byte units).
	IPv4OffsetMask = 0x1fff
)

// Version returns the version field (4 for a valid IPv4 header).
func (b IPv4) Version() uint8 { return b[v4VersIHL] >> 4 }

// HeaderLen returns the header length in bytes (IHL × 4).
func (b IPv4) HeaderLen() int { return int(b[v4VersIHL]&0x0f) * 4 }

// TOS returns the type of service byte (DSCP and ECN).
func (b IPv4) TOS() uint8 { return b[v4TOS] }

// TotalLen returns the total length field: header plus data, in bytes.
func (b IPv4) TotalLen() uint16 { return binary.BigEndian.Uint16(b[v4TotalLen:]) }

// ID returns the identification field.
func (b IPv4) ID() uint16 { return binary.BigEndian.Uint16(b[v4ID:]) }

// FlagsFragOff returns the 16-bit flags and fragment offset word.
func (b IPv4) FlagsFragOff() uint16 { return binary.BigEndian.Uint16(b[v4FlagsOff:]) }

// DF reports whether the "don't fragment" flag is set.
func (b IPv4) DF() bool { return b.FlagsFragOff()&IPv4FlagDF != 0 }

// MF reports whether the "more fragments" flag is set.
func (b IPv4) MF() bool { return b.FlagsFragOff()&IPv4FlagMF != 0 }

// FragOff returns the fragment offset in 8-byte units.
func (b IPv4) FragOff() uint16 { return b.FlagsFragOff() & IPv4OffsetMask }

// IsFragment reports whether the datagram is a fragment (MF set or offset ≠ 0).
func (b IPv4) IsFragment() bool { return b.FlagsFragOff()&(IPv4FlagMF|IPv4OffsetMask) != 0 }

// TTL returns the time to live.
func (b IPv4) TTL() uint8 { return b[v4TTL] }

// Protocol returns the protocol number of the payload.
func (b IPv4) Protocol() uint8 { return b[v4Protocol] }

// Checksum returns the header checksum field.
func (b IPv4) Checksum() uint16 { return binary.BigEndian.Uint16(b[v4Checksum:]) }

// Src returns the source address.
func (b IPv4) Src() netip.Addr { return netip.AddrFrom4([4]byte(b[v4Src : v4Src+4])) }

// Dst returns the destination address.
func (b IPv4) Dst() netip.Addr { return netip.AddrFrom4([4]byte(b[v4Dst : v4Dst+4])) }

// Src4 returns the source address as 4 bytes.
func (b IPv4) Src4() [4]byte { return [4]byte(b[v4Src : v4Src+4]) }

// Dst4 returns the destination address as 4 bytes.
func (b IPv4) Dst4() [4]byte { return [4]byte(b[v4Dst : v4Dst+4]) }

// Options returns the options bytes (between byte 20 and the header length).
func (b IPv4) Options() []byte { return b[IPv4MinLen:b.HeaderLen()] }

// Payload returns the data after the header, up to the total length.
func (b IPv4) Payload() []byte {
	_ = b[v4TotalLen+1] // one bounds check for the three bytes read
	return b[int(b[v4VersIHL]&0x0f)*4 : int(b[v4TotalLen])<<8|int(b[v4TotalLen+1])]
}

// SetVersionIHL sets version 4 and the header length in bytes (a multiple of 4).
func (b IPv4) SetVersionIHL(hdrLen int) { b[v4VersIHL] = 0x40 | byte(hdrLen/4)&0x0f }

// SetTOS sets the type of service byte.
func (b IPv4) SetTOS(v uint8) { b[v4TOS] = v }

// SetTotalLen sets the total length field.
func (b IPv4) SetTotalLen(v uint16) { binary.BigEndian.PutUint16(b[v4TotalLen:], v) }

// SetID sets the identification field.
func (b IPv4) SetID(v uint16) { binary.BigEndian.PutUint16(b[v4ID:], v) }

// SetFlagsFragOff sets the flags and fragment offset word.
func (b IPv4) SetFlagsFragOff(v uint16) { binary.BigEndian.PutUint16(b[v4FlagsOff:], v) }

// SetTTL sets the time to live.
func (b IPv4) SetTTL(v uint8) { b[v4TTL] = v }

// SetProtocol sets the protocol number.
func (b IPv4) SetProtocol(v uint8) { b[v4Protocol] = v }

// SetChecksum sets the header checksum field.
func (b IPv4) SetChecksum(v uint16) { binary.BigEndian.PutUint16(b[v4Checksum:], v) }

// SetSrc sets the source address, which must be IPv4.
func (b IPv4) SetSrc(a netip.Addr) { s := a.As4(); copy(b[v4Src:], s[:]) }

// SetDst sets the destination address, which must be IPv4.
func (b IPv4) SetDst(a netip.Addr) { s := a.As4(); copy(b[v4Dst:], s[:]) }

// ComputeChecksum fills in the header checksum over HeaderLen bytes.
func (b IPv4) ComputeChecksum() {
	b[v4Checksum], b[v4Checksum+1] = 0, 0
	b.SetChecksum(checksum.Checksum(b[:b.HeaderLen()]))
}

// ChecksumValid reports whether the header checksum is correct.
func (b IPv4) ChecksumValid() bool {
	return checksum.Sum(b[:b.HeaderLen()], 0) == 0xffff
}

// IPv4Fields are the fields of an IPv4 header without options, for Encode.
type IPv4Fields struct {
	// TOS is the type of service byte (DSCP << 2 | ECN).
	TOS uint8
	// TotalLen is the length of header and data in bytes.
	TotalLen uint16
	// ID is the identification field.
	ID uint16
	// FlagsFragOff is the flags and fragment offset word (IPv4FlagDF, …).
	FlagsFragOff uint16
	// TTL is the time to live.
	TTL uint8
	// Protocol is the protocol number of the payload.
	Protocol uint8
	// Src and Dst are the addresses; both must be IPv4.
	Src, Dst netip.Addr
}

// Encode writes a 20-byte header from f into b[:IPv4MinLen], with its checksum.
func (b IPv4) Encode(f *IPv4Fields) {
	_ = b[IPv4MinLen-1]
	b[v4VersIHL] = 0x45
	b[v4TOS] = f.TOS
	b.SetTotalLen(f.TotalLen)
	b.SetID(f.ID)
	b.SetFlagsFragOff(f.FlagsFragOff)
	b[v4TTL] = f.TTL
	b[v4Protocol] = f.Protocol
	b.SetSrc(f.Src)
	b.SetDst(f.Dst)
	b[v4Checksum], b[v4Checksum+1] = 0, 0
	b.SetChecksum(checksum.Checksum(b[:IPv4MinLen]))
}

// Errors of CheckIPv4 and CheckIPv6, each of one kind of package
// [ipencap]. The codecs map them to their own sentinels; they never carry
// per-packet detail, so returning one never allocates.
var (
	// ErrTruncated (kind [ipencap.ErrFrame], and [io.ErrUnexpectedEOF]):
	// the buffer is shorter than the header or the length it declares.
	ErrTruncated = ipencap.NewError("iphdr: truncated IP header", io.ErrUnexpectedEOF, ipencap.ErrFrame)
	// ErrVersion (kind [ipencap.ErrFrame]): the version nibble is not the
	// one expected.
	ErrVersion = ipencap.NewError("iphdr: wrong IP version", ipencap.ErrFrame)
	// ErrHeaderLen (kind [ipencap.ErrFrame]): the IPv4 IHL is below 5 or the
	// total length below the header length.
	ErrHeaderLen = ipencap.NewError("iphdr: bad IP header length", ipencap.ErrFrame)
	// ErrChecksum (kind [ipencap.ErrChecksum]): the IPv4 header checksum is
	// wrong.
	ErrChecksum = ipencap.NewError("iphdr: bad IPv4 header checksum", ipencap.ErrChecksum)
)

// CheckIPv4 validates the IPv4 header at the start of b: version 4, IHL ≥ 5,
// the header and the total length within b, total length ≥ header length,
// and (if verifyChecksum) the header checksum. On success the view's
// accessors, Options and Payload are safe. Bytes beyond the total length
// (link padding) are allowed.
func CheckIPv4(b []byte, verifyChecksum bool) (IPv4, error) {
	// Called for every outer and inner header, so kept cheap: a fast path
	// for the usual header, then the checks in their old order (which
	// decides the error of a header with several faults), and no call, not
	// even for the checksum (headerSumValid), so that CheckIPv4 is a leaf
	// function that runs without a stack frame. TestCheckIPv4Reference
	// compares it with the plain version.
	if len(b) < IPv4MinLen {
		return nil, ErrTruncated
	}
	vihl := b[v4VersIHL]
	tl := int(b[v4TotalLen])<<8 | int(b[v4TotalLen+1])
	if vihl == 0x45 && uint(tl-IPv4MinLen) <= uint(len(b)-IPv4MinLen) && !verifyChecksum {
		// Almost every header: version 4, no options (IHL 5), and a total
		// length from 20 to len(b). The checks below would all pass.
		return b, nil
	}
	hl := int(vihl&0x0f) * 4
	switch {
	case vihl>>4 != 4:
		return nil, ErrVersion
	case hl < IPv4MinLen:
		return nil, ErrHeaderLen
	case len(b) < hl:
		return nil, ErrTruncated
	case tl < hl:
		return nil, ErrHeaderLen
	case len(b) < tl:
		return nil, ErrTruncated
	case verifyChecksum && !headerSumValid(b[:hl]):
		return nil, ErrChecksum
	}
	return b, nil
}

// headerSumValid reports whether the one's complement sum of an IPv4
// header (a multiple of 4 bytes, at most 60) is 0xffff, as ChecksumValid
// does, without the call to package checksum: 32-bit words summed into 64
// bits, then folded with end-around carries (2^16 ≡ 1 modulo 0xffff, so
// the folded sum of 32-bit words is that of the 16-bit words).
func headerSumValid(h []byte) bool {
	var s uint64
	for ; len(h) >= 4; h = h[4:] {
		s += uint64(binary.BigEndian.Uint32(h))
	}
	s = s>>32 + s&0xffffffff // at most 2^32+13 (15 words)
	s = s>>16 + s&0xffff     // at most 0x1fffe
	s = s>>16 + s&0xffff     // at most 0xffff
	return s == 0xffff
}
