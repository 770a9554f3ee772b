package mobile

import (
	"encoding/binary"
	"net/netip"

	"github.com/ipencap/ipencap/internal/checksum"
	"github.com/ipencap/ipencap/internal/iphdr"
)

// checkIPv4 validates the IPv4 header of b, its checksum included, and
// maps the errors to this package's.
func checkIPv4(b []byte) (iphdr.IPv4, error) {
	h, err := iphdr.CheckIPv4(b, true)
	switch err {
	case nil:
		return h, nil
	case iphdr.ErrVersion:
		return nil, ErrVersion
	case iphdr.ErrHeaderLen:
		return nil, ErrHeaderLen
	case iphdr.ErrChecksum:
		return nil, ErrIPChecksum
	}
	return nil, ErrTruncated
}

// Encapsulate applies minimal encapsulation (RFC 2004 §3) in place to the
// IPv4 datagram b[off:], which must fill the buffer (its total length is
// len(b) - off), and returns where the encapsulated datagram starts: it is
// b[start:].
//
// Only the IPv4 header moves: it is copied 8 or 12 bytes towards the front
// of b, into the headroom, and the minimal forwarding header is written
// into the gap between it and the payload, which stays where it is. The
// minimal header gets the original protocol, destination and, when
// encapsulator is a valid address other than the datagram's source, the
// original source with S set; the IPv4 header gets protocol 55, the tunnel
// exit as destination, the encapsulator as source when S is set, a total
// length 8 or 12 bytes longer, and an updated checksum. Options, TOS,
// identification, flags and TTL are untouched. Pass the zero Addr as
// encapsulator when it is the original source.
//
// The datagram's header checksum must be valid ([ErrIPChecksum]): a
// corrupt header is not worth sending through the tunnel. Fragments
// cannot be encapsulated ([ErrFragment]). Errors: [ErrShortBuffer],
// [ErrAddr], [ErrTruncated], [ErrVersion], [ErrHeaderLen],
// [ErrIPChecksum], [ErrLength], [ErrFragment], [ErrTooLong]; b is not
// modified on error. Encapsulate never allocates.
func Encapsulate(b []byte, off int, exit, encapsulator netip.Addr) (start int, err error) {
	if off < 0 || off > len(b) {
		return 0, ErrShortBuffer
	}
	exit, encapsulator = exit.Unmap(), encapsulator.Unmap()
	if !exit.Is4() || (encapsulator.IsValid() && !encapsulator.Is4()) {
		return 0, ErrAddr
	}
	h, err := checkIPv4(b[off:])
	if err != nil {
		return 0, err
	}
	tl := len(b) - off
	if int(h.TotalLen()) != tl {
		return 0, ErrLength
	}
	if h.IsFragment() {
		return 0, ErrFragment
	}
	src, dst, proto, hl := h.Src4(), h.Dst4(), h.Protocol(), h.HeaderLen()
	withSrc := encapsulator.IsValid() && encapsulator.As4() != src
	n := MinLen
	if withSrc {
		n = MaxLen
	}
	if off < n {
		return 0, ErrShortBuffer
	}
	if tl+n > 0xffff {
		return 0, ErrTooLong
	}

	start = off - n
	copy(b[start:start+hl], b[off:off+hl]) // overlapping: copy moves
	encode(b[start+hl:start+hl+n], proto, dst, src, withSrc)
	ip := iphdr.IPv4(b[start:])
	ip.SetProtocol(ProtoMinimal)
	ip.SetDst(exit)
	if withSrc {
		ip.SetSrc(encapsulator)
	}
	ip.SetTotalLen(uint16(tl + n))
	ip.SetChecksum(updateChecksum(ip.Checksum(), ip.TTL(), proto, ProtoMinimal, uint16(tl), uint16(tl+n),
		dst, exit.As4(), src, ip.Src4()))
	return start, nil
}

// updateChecksum returns the IPv4 header checksum ck updated for the
// protocol, total length, destination and source changing as given, word by
// word with RFC 1624 eqn. 3 (checksum.Update16 and Update32). For a header
// whose checksum was correct and not 0xffff, the result is exactly the
// checksum a full RFC 1071 computation gives, at a fraction of the cost of
// summing the header again.
func updateChecksum(ck uint16, ttl, oldProto, newProto uint8, oldLen, newLen uint16, oldDst, newDst, oldSrc, newSrc [4]byte) uint16 {
	ck = checksum.Update16(ck, uint16(ttl)<<8|uint16(oldProto), uint16(ttl)<<8|uint16(newProto))
	ck = checksum.Update16(ck, oldLen, newLen)
	ck = checksum.Update32(ck, binary.BigEndian.Uint32(oldDst[:]), binary.BigEndian.Uint32(newDst[:]))
	return checksum.Update32(ck, binary.BigEndian.Uint32(oldSrc[:]), binary.BigEndian.Uint32(newSrc[:]))
}

// Decapsulate reverses [Encapsulate] in place on the IPv4 datagram b with
// protocol 55 and returns the original datagram, a sub-slice of b that
// starts 8 or 12 bytes in (bytes beyond the total length, link padding,
// are left out).
//
// It checks the IPv4 header (version, lengths, checksum; an outer fragment
// is refused, reassemble it first) and parses the minimal forwarding
// header with [Parse] (length, reserved bits, checksum). It then puts the
// original protocol, destination and, with S set, source back into the
// IPv4 header, shortens the total length, updates the checksum and
// moves the header 8 or 12 bytes towards the payload, over the minimal
// header. Options, TOS, identification, flags and TTL are kept, so
// Decapsulate(Encapsulate(p)) gives p back byte for byte, except that an
// original header checksum of 0xffff (the "-0" an incremental update can
// leave, RFC 1624 §3) comes back as the equivalent 0x0000.
//
// The outer source and destination are overwritten: a tunnel that needs
// them (to find the tunnel, say) reads them first. Errors: [ErrTruncated],
// [ErrVersion], [ErrHeaderLen], [ErrIPChecksum], [ErrProtocol],
// [ErrFragment], [ErrReservedBits], [ErrChecksum]; b is not modified on
// error. Decapsulate never allocates.
func Decapsulate(b []byte) ([]byte, error) {
	h, err := checkIPv4(b)
	if err != nil {
		return nil, err
	}
	if h.Protocol() != ProtoMinimal {
		return nil, ErrProtocol
	}
	if h.IsFragment() {
		return nil, ErrFragment
	}
	hl, tl := h.HeaderLen(), int(h.TotalLen())
	m, err := Parse(b[hl:tl])
	if err != nil {
		return nil, err
	}
	n := m.Len()
	proto := m.Protocol()
	var dst, src [4]byte
	copy(dst[:], m.b[offDst:offDst+4])
	withSrc := m.SourcePresent()
	if withSrc {
		copy(src[:], m.b[offSrc:offSrc+4])
	}

	outerDst, outerSrc := h.Dst4(), h.Src4()
	if !withSrc {
		src = outerSrc
	}
	h.SetChecksum(updateChecksum(h.Checksum(), h.TTL(), ProtoMinimal, proto, uint16(tl), uint16(tl-n),
		outerDst, dst, outerSrc, src))
	h.SetProtocol(proto)
	h.SetDst(netip.AddrFrom4(dst))
	h.SetSrc(netip.AddrFrom4(src))
	h.SetTotalLen(uint16(tl - n))
	copy(b[n:n+hl], b[:hl]) // overlapping: copy moves
	return b[n:tl], nil
}
