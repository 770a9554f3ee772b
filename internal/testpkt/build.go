package testpkt

import (
	"net/netip"

	"github.com/ipencap/ipencap/iphdr"
)

// Addresses from the documentation ranges (RFC 5737, RFC 3849) that the
// tests of every package use: outer (underlay) and inner (overlay) ends.
var (
	Outer4Src = netip.MustParseAddr("192.0.2.1")
	Outer4Dst = netip.MustParseAddr("198.51.100.7")
	Inner4Src = netip.MustParseAddr("203.0.113.10")
	Inner4Dst = netip.MustParseAddr("203.0.113.20")
	Outer6Src = netip.MustParseAddr("2001:db8::1")
	Outer6Dst = netip.MustParseAddr("2001:db8::7")
	Inner6Src = netip.MustParseAddr("2001:db8:1::10")
	Inner6Dst = netip.MustParseAddr("2001:db8:1::20")
)

// IPv4 describes an IPv4 packet for [BuildIPv4]. Zero fields take the
// defaults named on each.
type IPv4 struct {
	// Src and Dst default to Inner4Src and Inner4Dst.
	Src, Dst netip.Addr
	// TTL is the time to live (0 stays 0: tests of the TTL rule need it).
	TTL uint8
	// TOS is the TOS byte, ECN bits included.
	TOS uint8
	// DF sets the don't-fragment flag.
	DF bool
	// ID is the identification; 0 means 0x1234.
	ID uint16
	// Protocol defaults to 17 (UDP).
	Protocol uint8
	// Options are IPv4 options, a multiple of 4 bytes.
	Options []byte
}

// BuildIPv4 returns headroom bytes followed by an IPv4 packet of n bytes in
// all (n ≥ 20 + len(Options)), with a valid header checksum and a counting
// pattern (byte i holds i) after the header.
func BuildIPv4(headroom, n int, f IPv4) []byte {
	b := make([]byte, headroom+n)
	p := b[headroom:]
	if !f.Src.IsValid() {
		f.Src = Inner4Src
	}
	if !f.Dst.IsValid() {
		f.Dst = Inner4Dst
	}
	if f.ID == 0 {
		f.ID = 0x1234
	}
	if f.Protocol == 0 {
		f.Protocol = 17
	}
	var flags uint16
	if f.DF {
		flags = iphdr.IPv4FlagDF
	}
	hl := iphdr.IPv4MinLen + len(f.Options)
	h := iphdr.IPv4(p)
	h.Encode(&iphdr.IPv4Fields{TOS: f.TOS, TotalLen: uint16(n), ID: f.ID, FlagsFragOff: flags,
		TTL: f.TTL, Protocol: f.Protocol, Src: f.Src, Dst: f.Dst})
	if len(f.Options) > 0 {
		h.SetVersionIHL(hl)
		copy(p[iphdr.IPv4MinLen:hl], f.Options)
		h.ComputeChecksum()
	}
	for i := hl; i < n; i++ {
		p[i] = byte(i)
	}
	return b
}

// IPv6 describes an IPv6 packet for [BuildIPv6].
type IPv6 struct {
	// Src and Dst default to Inner6Src and Inner6Dst.
	Src, Dst netip.Addr
	// HopLimit is the hop limit (0 stays 0).
	HopLimit uint8
	// TrafficClass is the traffic class, ECN bits included.
	TrafficClass uint8
	// FlowLabel is the flow label; 0 means 0x12345.
	FlowLabel uint32
	// NextHeader defaults to 17 (UDP).
	NextHeader uint8
}

// BuildIPv6 returns headroom bytes followed by an IPv6 packet of n bytes in
// all (n ≥ 40), with a counting pattern after the header.
func BuildIPv6(headroom, n int, f IPv6) []byte {
	b := make([]byte, headroom+n)
	p := b[headroom:]
	if !f.Src.IsValid() {
		f.Src = Inner6Src
	}
	if !f.Dst.IsValid() {
		f.Dst = Inner6Dst
	}
	if f.FlowLabel == 0 {
		f.FlowLabel = 0x12345
	}
	if f.NextHeader == 0 {
		f.NextHeader = 17
	}
	iphdr.IPv6(p).Encode(&iphdr.IPv6Fields{TrafficClass: f.TrafficClass, FlowLabel: f.FlowLabel,
		PayloadLen: uint16(n - iphdr.IPv6Len), NextHeader: f.NextHeader, HopLimit: f.HopLimit, Src: f.Src, Dst: f.Dst})
	for i := iphdr.IPv6Len; i < n; i++ {
		p[i] = byte(i)
	}
	return b
}
