package tunnel

import (
	"encoding/binary"
	"net/netip"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/ipencap/ipencap/checksum"
	"github.com/ipencap/ipencap/iphdr"
	"github.com/ipencap/ipencap/outer"
)

// The ICMP messages the engine sends back towards an inner source, marshalled
// once by golang.org/x/net/icmp; each reply copies one and sets the MTU,
// the quoted packet and the checksum, so the per-packet path does not
// allocate (icmp.Message.Marshal does).
var (
	// icmpFragNeeded is ICMP "destination unreachable, fragmentation needed
	// and DF set" (type 3, code 4, RFC 792), whose next-hop MTU field is
	// bytes 6–7 (RFC 1191 §4).
	icmpFragNeeded = mustMarshal(&icmp.Message{Type: ipv4.ICMPTypeDestinationUnreachable, Code: 4, Body: &icmp.DstUnreach{}})
	// icmpTooBig is ICMPv6 "packet too big" (type 2, code 0, RFC 4443
	// §3.2), MTU in bytes 4–7.
	icmpTooBig = mustMarshal(&icmp.Message{Type: ipv6.ICMPTypePacketTooBig, Body: &icmp.PacketTooBig{}})
)

// limitedBroadcast is 255.255.255.255.
var limitedBroadcast = [4]byte{255, 255, 255, 255}

// icmpTypeSourceQuench is ICMP type 4 (RFC 792), deprecated by RFC 6633,
// for which golang.org/x/net/ipv4 has no name; it is still an error.
const icmpTypeSourceQuench ipv4.ICMPType = 4

func mustMarshal(m *icmp.Message) [8]byte {
	b, err := m.Marshal(nil)
	if err != nil || len(b) != 8 {
		panic("tunnel: marshalling an ICMP template")
	}
	return [8]byte(b)
}

// Quote limits: an ICMP error carries as much of the offending packet as
// fits in 576 bytes (IPv4, RFC 1812 §4.3.2.3) or 1280 bytes (IPv6, RFC 4443
// §2.4(c)).
const (
	icmp4MaxLen = 576
	icmp6MaxLen = 1280
	icmpTTL     = 64
)

// tooBig answers the inner packet b[Headroom:Headroom+size], too big for
// the tunnel MTU mtu, with ICMP "fragmentation needed" or ICMPv6 "packet
// too big", built in place in front of it (the quoted bytes stay where
// they are) and queued for the overlay. Its source is the packet's
// destination: the host that sent it only matches the quoted header (RFC
// 1191 §3, RFC 8201 §4). No error is sent about an ICMP error, nor to an
// unspecified or multicast source (RFC 1122 §3.2.2), nor about an IPv4
// packet to a multicast or broadcast destination, whose address must not
// be the source of an error either (RFC 1122 §3.2.2, RFC 1812 §4.3.2.7).
// IPv6 allows "packet too big" about multicast (RFC 4443 §2.4 (e.2)) but
// from a unicast address of the node: the tunnel's own IPv6 local address
// then, and none is sent by a tunnel that has none.
func (s *sender) tooBig(b []byte, size, mtu int) {
	p := b[Headroom : Headroom+size]
	var start, n int
	if p[0]>>4 == 4 {
		h := iphdr.IPv4(p)
		hl := h.HeaderLen()
		if hl < iphdr.IPv4MinLen || size < hl || h.FragOff() != 0 || isICMPError4(p, hl) ||
			h.Src().IsUnspecified() || h.Src().IsMulticast() || h.Src4() == limitedBroadcast ||
			h.Dst().IsMulticast() || h.Dst4() == limitedBroadcast {
			return
		}
		q := min(size, icmp4MaxLen-iphdr.IPv4MinLen-8)
		start = Headroom - iphdr.IPv4MinLen - 8
		r := b[start : Headroom+q]
		n = len(r)
		m := r[iphdr.IPv4MinLen:]
		copy(m, icmpFragNeeded[:])
		binary.BigEndian.PutUint16(m[6:], uint16(mtu))
		m[2], m[3] = 0, 0
		binary.BigEndian.PutUint16(m[2:], checksum.Checksum(m))
		ip := iphdr.IPv4(r)
		ip.Encode(&iphdr.IPv4Fields{TotalLen: uint16(len(r)), TTL: icmpTTL, Protocol: uint8(outer.ProtoICMP), Src: h.Dst(), Dst: h.Src()})
	} else {
		h := iphdr.IPv6(p)
		if isICMPError6(p) || h.Src().IsUnspecified() || h.Src().IsMulticast() || (h.Dst().IsMulticast() && !s.t.local.Is6()) {
			return
		}
		q := min(size, icmp6MaxLen-iphdr.IPv6Len-8)
		start = Headroom - iphdr.IPv6Len - 8
		r := b[start : Headroom+q]
		n = len(r)
		src, dst := h.Dst(), h.Src()
		if src.IsMulticast() {
			if !s.t.local.Is6() {
				return
			}
			src = s.t.local
		}
		m := r[iphdr.IPv6Len:]
		copy(m, icmpTooBig[:])
		binary.BigEndian.PutUint32(m[4:], uint32(mtu))
		m[2], m[3] = 0, 0
		binary.BigEndian.PutUint16(m[2:], ^checksum.Sum(m, pseudo6(src, dst, len(m))))
		iphdr.IPv6(r).Encode(&iphdr.IPv6Fields{PayloadLen: uint16(len(m)), NextHeader: uint8(outer.ProtoICMPv6), HopLimit: icmpTTL, Src: src, Dst: dst})
	}
	s.icmp = append(s.icmp, b[start-OverlayOffset:start+n])
	s.icmpT = append(s.icmpT, s.t)
}

// isICMPError4 reports whether the IPv4 packet p (header length hl) is an
// ICMP error message (types 3, 4, 5, 11, 12), about which no ICMP error is
// sent.
func isICMPError4(p []byte, hl int) bool {
	if outer.IPProto(p[9]) != outer.ProtoICMP || len(p) <= hl {
		return false
	}
	switch ipv4.ICMPType(p[hl]) {
	case ipv4.ICMPTypeDestinationUnreachable, icmpTypeSourceQuench, ipv4.ICMPTypeRedirect,
		ipv4.ICMPTypeTimeExceeded, ipv4.ICMPTypeParameterProblem:
		return true
	}
	return false
}

// isICMPError6 reports whether the IPv6 packet p carries an ICMPv6 error
// (types 0–127) right after its fixed header.
func isICMPError6(p []byte) bool {
	return outer.IPProto(p[6]) == outer.ProtoICMPv6 && len(p) > iphdr.IPv6Len && p[iphdr.IPv6Len] < 128 // error types are 0–127 (RFC 4443 §2.1)
}

// pseudo6 returns the one's complement sum of the IPv6 pseudo-header of an
// ICMPv6 message of n bytes from src to dst (RFC 8200 §8.1).
func pseudo6(src, dst netip.Addr, n int) uint16 {
	s, d := src.As16(), dst.As16()
	var ph [40]byte
	copy(ph[0:], s[:])
	copy(ph[16:], d[:])
	binary.BigEndian.PutUint32(ph[32:], uint32(n))
	ph[39] = uint8(outer.ProtoICMPv6)
	return checksum.Sum(ph[:], 0)
}
