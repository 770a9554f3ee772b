package mobile

import (
	"github.com/ipencap/ipencap/iphdr"
	"github.com/ipencap/ipencap/outer"
)

// Decap reverses [Encapsulator.Encap] in place on the datagram b, whose
// outer IPv4 header [outer.Parse] has parsed into o, and returns the
// original datagram, b[n:o.Len] with n the minimal header's length, 8 or
// 12 (bytes beyond o.Len, link padding, are left out).
//
// It does not check the IPv4 header again: outer.Parse did (version,
// lengths, header checksum, no fragments). It requires o.Protocol to be
// [outer.ProtoMinimal] and the outer header to be IPv4 ([ErrProtocol]),
// and o to fit b ([ErrTruncated] otherwise, never a panic); then it parses
// the minimal forwarding header at b[o.HeaderLen:o.Len] as [Parse] does
// (length, reserved bits, checksum). It puts the original protocol,
// destination and, with S set, source back into the IPv4 header, shortens
// the total length, updates the checksum and moves the header 8 or 12
// bytes towards the payload, over the minimal header. Options, TOS,
// identification, flags and TTL are kept, so Decap after Encap gives the
// datagram back byte for byte, except that an original header checksum of
// 0xffff (the "-0" an incremental update can leave, RFC 1624 §3) comes
// back as the equivalent 0x0000.
//
// The outer source and destination are overwritten in b, but o is a
// separate struct, not a view of b: o.Src and o.Dst (the tunnel's
// addresses, to find the tunnel or count by peer) stay readable after
// Decap, which does not modify o. There is one IP header, so there is no
// RFC 6040 step: the ECN bits travel unchanged. Errors: [ErrProtocol],
// [ErrTruncated], [ErrReservedBits], [ErrChecksum]; b is not modified on
// error. To read the minimal header without writing to b (a capture
// tool), call [Parse] on the payload outer.Parse returns instead. Decap
// never allocates.
func Decap(b []byte, o *outer.Outer) (inner []byte, err error) {
	if o.Protocol != outer.ProtoMinimal || !o.Src.Is4() || !o.Dst.Is4() {
		return nil, ErrProtocol
	}
	hl, tl := o.HeaderLen, o.Len
	if hl < iphdr.IPv4MinLen || hl > tl || tl > len(b) {
		return nil, ErrTruncated
	}
	m, err := Parse(b[hl:tl])
	if err != nil {
		return nil, err
	}
	n, proto := m.Len(), m.Protocol()
	h := iphdr.IPv4(b)
	oldDst, oldSrc := h.Dst4(), h.Src4()
	dst, src := [4]byte(m.b[offDst:offDst+4]), oldSrc
	if m.SourcePresent() {
		src = [4]byte(m.b[offSrc : offSrc+4])
	}
	h.SetChecksum(updateChecksum(h.Checksum(), h.TTL(), outer.IPProto(h.Protocol()), proto, h.TotalLen(), uint16(tl-n),
		oldDst, dst, oldSrc, src))
	h.SetProtocol(uint8(proto))
	copy(h[ipv4Dst:ipv4Dst+4], dst[:])
	copy(h[ipv4Src:ipv4Src+4], src[:])
	h.SetTotalLen(uint16(tl - n))
	copy(b[n:n+hl], b[:hl]) // overlapping: copy moves
	return b[n:tl], nil
}
