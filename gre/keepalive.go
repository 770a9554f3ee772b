package gre

import (
	"encoding/binary"
	"net/netip"

	"github.com/ipencap/ipencap/iphdr"
)

// Cisco-style GRE keepalives need no keepalive support at the far end. The
// sender A builds the reply it wants inside the request: an inner IPv4
// packet from B to A, protocol 47, holding a GRE header of protocol 0
// (ProtoKeepalive) and nothing else. A sends it through the tunnel like any
// IPv4 packet, so on the wire the request is
//
//	outer IPv4 A→B proto 47 | GRE proto 0x0800 | inner IPv4 B→A proto 47 | GRE proto 0
//
// B decapsulates it as usual and forwards the inner packet, which is a GRE
// packet from B to A: the reply. A recognises it by its protocol 0 (see
// IsKeepalive), and so knows the path both ways works.
//
// A userspace endpoint that receives a request plays B's part itself: after
// decapsulation it matches the inner packet with a KeepaliveMatcher and
// writes it back to the underlay unchanged (reflection).

// KeepaliveTTL is the TTL of the inner IPv4 header of keepalive requests
// built here, as Cisco routers use.
const KeepaliveTTL = 255

// KeepaliveLen returns the length of the inner keepalive packet that
// AppendKeepalive builds with the given inner GRE header: 20 bytes of IPv4
// and the GRE header (24 for a plain one).
func KeepaliveLen(inner *Fields) int {
	if inner == nil {
		return iphdr.IPv4MinLen + MinLen
	}
	return iphdr.IPv4MinLen + inner.Len()
}

// AppendKeepalive appends to dst the inner packet of a keepalive request
// from local to remote (both IPv4): an IPv4 header remote→local, protocol
// 47, TTL 255, with a valid header checksum, and a GRE header of protocol
// 0. The tunnel sends that packet with GRE protocol IPv4 toward remote.
//
// inner is the GRE header the reply should carry, nil for the plain
// 4-byte header; give it the key (and checksum or sequence flags) that the
// local tunnel's receive side requires, so the reply passes its checks
// (Cisco copies the tunnel key into the inner header). inner.Protocol must
// be ProtoKeepalive, and the packet must fit the 65535 bytes an IPv4 total
// length can state. AppendKeepalive returns dst unchanged and
// [ErrNotKeepalive], [ErrTooLong] or Fields.Validate's error when it
// cannot build the packet. It allocates only when dst lacks capacity.
func AppendKeepalive(dst []byte, local, remote netip.Addr, inner *Fields) ([]byte, error) {
	if !local.Is4() || !remote.Is4() {
		return dst, ErrNotKeepalive
	}
	var plain Fields
	if inner == nil {
		inner = &plain
	}
	if inner.Protocol != ProtoKeepalive {
		return dst, ErrNotKeepalive
	}
	if err := inner.Validate(); err != nil {
		return dst, err
	}
	n := iphdr.IPv4MinLen + inner.Len()
	if n > 0xffff {
		// Only a routing field can make the inner header this long; the
		// IPv4 total length could not say how long the packet is.
		return dst, ErrTooLong
	}
	out, pkt := grow(dst, n)
	iphdr.IPv4(pkt).Encode(&iphdr.IPv4Fields{
		TotalLen: uint16(n),
		TTL:      KeepaliveTTL,
		Protocol: 47,
		Src:      remote,
		Dst:      local,
	})
	if _, err := inner.Encode(pkt[iphdr.IPv4MinLen:]); err != nil {
		return dst, err
	}
	return out, nil
}

// IsKeepalive reports whether h is a keepalive reply: a parsed GRE header
// of protocol 0 (ProtoKeepalive). Some vendors pad the reply, so a payload
// is allowed. It is false for the zero Header, which was never parsed.
func IsKeepalive(h Header) bool { return h.n != 0 && h.proto == ProtoKeepalive }

// KeepaliveMatcher recognises a peer's keepalive request that this end
// should reflect, in the inner packet of a decapsulated GRE packet of
// protocol IPv4. The zero value matches the Cisco form exactly; the
// fields relax it for vendor variants.
//
// Whatever the fields say, Match never reflects a packet to a destination
// that a reflector must not send to (see [Reflectable]): a keepalive is a
// unicast exchange between two tunnel endpoints, and a reflector that sent
// to broadcast, multicast, loopback or link-local addresses would let any
// sender aim it at a whole segment or at the reflector's own host.
type KeepaliveMatcher struct {
	// AnyAddress accepts an inner packet whose addresses are not the
	// outer ones swapped (the peer behind NAT, or a vendor that puts other
	// addresses in). The reflected packet still goes to its inner
	// destination, which must still be [Reflectable].
	AnyAddress bool
	// AllowKey accepts a key in the inner GRE header.
	AllowKey bool
	// AllowChecksum accepts a checksum in the inner GRE header; it must be valid.
	AllowChecksum bool
	// AllowSeq accepts a sequence number in the inner GRE header.
	AllowSeq bool
	// AllowPadding accepts bytes after the inner GRE header (within the
	// inner IPv4 total length).
	AllowPadding bool
}

// Match checks whether inner, the inner packet of a GRE packet that came
// from outerSrc to outerDst, is a keepalive request to reflect: a valid
// IPv4 header (checksum included) that is not a fragment, protocol 47,
// from outerDst to outerSrc (unless AnyAddress), to a [Reflectable]
// destination, holding a version 0 GRE header of protocol 0 with only the
// flags m allows. On success it returns the packet to send back, inner up
// to its total length, and its destination; the caller writes it to the
// underlay unchanged. Otherwise it returns [ErrNotKeepalive],
// [ErrTruncated] or [ErrChecksum]. Match never allocates.
func (m KeepaliveMatcher) Match(inner []byte, outerSrc, outerDst netip.Addr) (reply []byte, to netip.Addr, err error) {
	ip, err := iphdr.CheckIPv4(inner, true)
	if err != nil {
		if err == iphdr.ErrTruncated {
			return nil, netip.Addr{}, ErrTruncated
		}
		return nil, netip.Addr{}, ErrNotKeepalive
	}
	if ip.Protocol() != 47 || ip.IsFragment() {
		return nil, netip.Addr{}, ErrNotKeepalive
	}
	if !m.AnyAddress && (ip.Src() != outerDst.Unmap() || ip.Dst() != outerSrc.Unmap()) {
		return nil, netip.Addr{}, ErrNotKeepalive
	}
	if !Reflectable(ip.Dst()) {
		return nil, netip.Addr{}, ErrNotKeepalive
	}
	pkt := inner[:ip.TotalLen()]
	g := pkt[ip.HeaderLen():]
	if len(g) < MinLen {
		return nil, netip.Addr{}, ErrTruncated
	}
	w := binary.BigEndian.Uint16(g)
	allowed := uint16(0)
	if m.AllowKey {
		allowed |= FlagKey
	}
	if m.AllowChecksum {
		allowed |= FlagChecksum
	}
	if m.AllowSeq {
		allowed |= FlagSeq
	}
	if w&^allowed != 0 {
		return nil, netip.Addr{}, ErrNotKeepalive
	}
	h, err := Decoder{Mode: ModeRFC2784}.Parse(g)
	if err != nil {
		return nil, netip.Addr{}, err
	}
	if h.Protocol() != ProtoKeepalive || (!m.AllowPadding && len(h.Payload()) != 0) {
		return nil, netip.Addr{}, ErrNotKeepalive
	}
	return pkt, ip.Dst(), nil
}

// Reflectable reports whether a keepalive reflector may send a packet to
// dst: a unicast address that leaves the host. It is false for the zero
// Addr and for destinations that are not one remote host on a routed path:
// the IPv4 limited broadcast 255.255.255.255, multicast (IPv4 224.0.0.0/4,
// IPv6 ff00::/8), loopback (127.0.0.0/8, ::1), unspecified (0.0.0.0, ::;
// and all of 0.0.0.0/8, "this network", which RFC 1122 §3.2.1.3 allows
// only as a source) and link-local unicast (169.254.0.0/16, fe80::/10).
// IPv4-mapped IPv6 addresses are judged as IPv4. Directed broadcasts
// (the last address of a remote subnet) cannot be told from unicast
// without the subnet's prefix length and are not caught.
func Reflectable(dst netip.Addr) bool {
	dst = dst.Unmap()
	if !dst.IsValid() || dst.IsMulticast() || dst.IsLoopback() || dst.IsUnspecified() ||
		dst.IsLinkLocalUnicast() {
		return false
	}
	if dst.Is4() {
		a := dst.As4()
		if a == [4]byte{255, 255, 255, 255} || a[0] == 0 {
			return false
		}
	}
	return true
}
