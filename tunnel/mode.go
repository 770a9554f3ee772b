package tunnel

import (
	"strconv"

	"github.com/ipencap/ipencap/demux"
	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/ipip"
	"github.com/ipencap/ipencap/mobile"
	"github.com/ipencap/ipencap/outer"
)

// Mode is a tunnel's encapsulation, as `ip tunnel add NAME mode M` names it.
type Mode uint8

// The modes. The outer family each needs is in brackets.
const (
	// ModeGRE is GRE carrying IPv4 or IPv6 (RFC 2784, 2890) [IPv4].
	ModeGRE Mode = 1 + iota
	// ModeGRETap is Ethernet over GRE, protocol type 0x6558 [IPv4 or IPv6].
	ModeGRETap
	// ModeIPIP is IPv4 in IPv4 (RFC 2003, protocol 4) [IPv4].
	ModeIPIP
	// ModeSIT is IPv6 in IPv4 (RFC 4213 "6in4", protocol 41) [IPv4].
	ModeSIT
	// ModeIP6IP6 is IPv6 in IPv6 (RFC 2473, next header 41) [IPv6].
	ModeIP6IP6
	// ModeIPIP6 is IPv4 in IPv6 (RFC 2473, next header 4) [IPv6].
	ModeIPIP6
	// ModeIP6GRE is GRE over IPv6 carrying IPv4 or IPv6 [IPv6].
	ModeIP6GRE
	// ModeMobile is minimal encapsulation (RFC 2004, protocol 55), the
	// BSDs' MOBILE mode [IPv4].
	ModeMobile
	// ModeGREInUDP is GRE in UDP (RFC 8086): the GRE header and the inner
	// packet in a UDP datagram to port 4754; it needs an underlay of
	// [FramingUDP] [IPv4 or IPv6].
	ModeGREInUDP
)

// carries is a set of inner payloads a mode carries, by the GRE protocol
// type (EtherType) that names them.
type carries uint8

const (
	carriesIPv4 carries = 1 << iota
	carriesIPv6
	carriesEthernet
)

// carriesOf returns the bit of protocol type p, 0 for one no mode carries.
func carriesOf(p gre.Protocol) carries {
	switch p {
	case gre.ProtoIPv4:
		return carriesIPv4
	case gre.ProtoIPv6:
		return carriesIPv6
	case gre.ProtoTEB:
		return carriesEthernet
	}
	return 0
}

// modeInfo is everything the engine knows about a mode: one row per mode in
// [modes], read wherever a mode's behaviour differs. A new mode is one row
// (plus, for a new IP protocol, one entry in rxProtos).
type modeInfo struct {
	name string // `ip tunnel add ... mode NAME`
	kind string // `ip tunnel show`'s inner/outer word
	// family is the outer family the mode needs: 4 or 6, 0 for either.
	family int
	// proto is the outer IP protocol (for FramingUDP: what the UDP
	// datagram carries, GRE). Modes that share it tell their packets
	// apart by demux class.
	proto   outer.IPProto
	framing Framing
	class   demux.Class
	// carries are the inner payloads the mode carries, both ways.
	carries carries
	// gre: the mode has a GRE header, so keys, checksums and sequence
	// numbers; greProto is the protocol type it sends when that is not the
	// inner packet's IP version (ProtoTEB for gretap).
	gre      bool
	greProto gre.Protocol
	// fixed is the overhead of the mode's own header beside GRE's and the
	// IP header (minimal encapsulation's forwarding header, at most), or
	// for gretap the inner Ethernet header, which the tunnel MTU, an IP
	// MTU as Linux's gretap device has it (1462 over 1500), leaves out;
	// ipHdr
	// says the encapsulator writes an outer IP header (not with
	// FramingUDP, whose socket does, nor minimal encapsulation, which
	// reuses the inner one).
	fixed int
	ipHdr bool
	// newEnc makes the mode's Encapsulator from the outer configuration
	// and the GRE options of c.
	newEnc func(oc outer.Config, c *Config, row *modeInfo) (encapsulator, error)
}

// classGREInUDP is the demux class of GRE-in-UDP: a class of its own, so
// that it never meets GRE over IP.
const classGREInUDP demux.Class = 16

// modes is the mode table, indexed by Mode.
var modes = [...]modeInfo{
	ModeGRE: {name: "gre", kind: "gre/ip", family: 4, proto: outer.ProtoGRE, framing: FramingIP, class: demux.ClassGRE,
		carries: carriesIPv4 | carriesIPv6, gre: true, ipHdr: true, newEnc: newGREEnc},
	ModeGRETap: {name: "gretap", kind: "gretap", proto: outer.ProtoGRE, framing: FramingIP, class: demux.ClassGRETap,
		carries: carriesEthernet, gre: true, greProto: gre.ProtoTEB, fixed: gre.EthernetMinLen, ipHdr: true, newEnc: newGREEnc},
	ModeIPIP: {name: "ipip", kind: "ip/ip", family: 4, proto: outer.ProtoIPIP, framing: FramingIP, class: demux.ClassIPIP,
		carries: carriesIPv4, ipHdr: true, newEnc: newIPIPEnc},
	ModeSIT: {name: "sit", kind: "ipv6/ip", family: 4, proto: outer.ProtoIPv6, framing: FramingIP, class: demux.ClassSIT,
		carries: carriesIPv6, ipHdr: true, newEnc: newIPIPEnc},
	ModeIP6IP6: {name: "ip6ip6", kind: "ipv6/ipv6", family: 6, proto: outer.ProtoIPv6, framing: FramingIP, class: demux.ClassIP6,
		carries: carriesIPv6, ipHdr: true, newEnc: newIPIPEnc},
	ModeIPIP6: {name: "ipip6", kind: "ip/ipv6", family: 6, proto: outer.ProtoIPIP, framing: FramingIP, class: demux.ClassIP6,
		carries: carriesIPv4, ipHdr: true, newEnc: newIPIPEnc},
	ModeIP6GRE: {name: "ip6gre", kind: "gre/ipv6", family: 6, proto: outer.ProtoGRE, framing: FramingIP, class: demux.ClassGRE,
		carries: carriesIPv4 | carriesIPv6, gre: true, ipHdr: true, newEnc: newGREEnc},
	ModeMobile: {name: "mobile", kind: "mobile/ip", family: 4, proto: outer.ProtoMinimal, framing: FramingIP, class: demux.ClassMobile,
		carries: carriesIPv4, fixed: mobile.MaxLen, newEnc: newMobileEnc},
	ModeGREInUDP: {name: "gre-in-udp", kind: "gre-in-udp", proto: outer.ProtoGRE, framing: FramingUDP, class: classGREInUDP,
		carries: carriesIPv4 | carriesIPv6, gre: true, newEnc: newGREEnc},
}

// info returns the mode's row; an unknown mode gets the zero row, whose
// name is empty.
func (m Mode) info() *modeInfo {
	if int(m) < len(modes) {
		return &modes[m]
	}
	return &modes[0]
}

// valid reports whether m is one of the modes.
func (m Mode) valid() bool { return m.info().name != "" }

// String returns the mode's name as `ip tunnel add ... mode` spells it
// ("gre", "gretap", "ipip", "sit", "ip6ip6", "ipip6", "ip6gre", "mobile",
// "gre-in-udp").
func (m Mode) String() string {
	if n := m.info().name; n != "" {
		return n
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// ParseMode returns the Mode named s (see [Mode.String]).
func ParseMode(s string) (Mode, error) {
	for m := range modes {
		if modes[m].name != "" && modes[m].name == s {
			return Mode(m), nil
		}
	}
	return 0, &ConfigError{Field: "mode", Value: s, Err: ErrConfigMode}
}

// IPProto returns the IP protocol of the mode's outer packets (for
// ModeGREInUDP, what its UDP datagrams carry: GRE): what a raw socket for
// the mode opens (protocol 47, 4, 41 or 55). 0 for an unknown mode.
func (m Mode) IPProto() outer.IPProto { return m.info().proto }

// Framing returns the framing of the underlay the mode needs.
func (m Mode) Framing() Framing { return m.info().framing }

// OuterFamily returns 4 or 6 for a mode tied to one outer family, 0 for one
// that takes either (ModeGRETap, ModeGREInUDP) or an unknown mode.
func (m Mode) OuterFamily() int { return m.info().family }

// MinMTU returns the smallest tunnel MTU of the mode: 1280 when it
// carries only IPv6 (sit, ip6ip6; RFC 8200 §5), 68 otherwise (RFC 791).
func (m Mode) MinMTU() int { return m.info().minMTU() }

// innerVersion returns the one IP version the mode carries, 0 when it
// carries both or Ethernet.
func (row *modeInfo) innerVersion() uint8 {
	switch row.carries {
	case carriesIPv4:
		return 4
	case carriesIPv6:
		return 6
	}
	return 0
}

// minMTU is the smallest tunnel MTU of the mode: 1280 when it carries only
// IPv6 (RFC 8200 §5), 68 otherwise (RFC 791).
func (row *modeInfo) minMTU() int {
	if row.innerVersion() == 6 {
		return 1280
	}
	return 68
}

// greLen is the GRE header a tunnel with c's options sends: 4 bytes and 4
// for each of key, checksum and sequence number.
func greLen(c *Config) int {
	n := gre.MinLen
	for _, on := range [...]bool{c.OKey.Set, c.OCsum, c.OSeq} {
		if on {
			n += 4
		}
	}
	return n
}

// overhead is what a tunnel of this mode with c's options adds in front of
// an inner packet with an outer header of family v6, as the MTU counts it:
// outer IP header, GRE or minimal header, and what the underlay adds
// (ulHdr: the IP and UDP headers of a GRE-in-UDP socket).
func (row *modeInfo) overhead(c *Config, v6 bool, ulHdr int) int {
	n := row.fixed + ulHdr
	if row.ipHdr {
		n += ipHeaderLen(v6)
	}
	if row.gre {
		n += greLen(c)
	}
	return n
}

// ipHeaderLen is the length of an outer IP header without options.
func ipHeaderLen(v6 bool) int {
	if v6 {
		return outer.IPv6HeaderLen
	}
	return outer.IPv4HeaderLen
}

func newGREEnc(oc outer.Config, c *Config, row *modeInfo) (encapsulator, error) {
	gc := gre.Config{KeyPresent: c.OKey.Set, Key: c.OKey.Value, Checksum: c.OCsum, Seq: c.OSeq, Protocol: row.greProto}
	if row.ipHdr {
		gc.Outer = &oc
	}
	return gre.NewEncapsulator(gc)
}

func newIPIPEnc(oc outer.Config, _ *Config, _ *modeInfo) (encapsulator, error) {
	return ipip.NewEncapsulator(oc)
}

func newMobileEnc(oc outer.Config, _ *Config, _ *modeInfo) (encapsulator, error) {
	return mobile.NewEncapsulator(mobile.Config{Local: oc.Local, Remote: oc.Remote})
}
