package udp

import (
	"encoding/binary"

	"github.com/ipencap/ipencap/gre"
)

// The GRE header fields flowHash reads (RFC 2784, RFC 2890) are package
// gre's; these are the EtherTypes it looks through.
const (
	etherIPv4 = uint16(gre.ProtoIPv4)
	etherIPv6 = uint16(gre.ProtoIPv6)
	etherTEB  = uint16(gre.ProtoTEB) // transparent Ethernet bridging
	etherVLAN = 0x8100               // IEEE 802.1Q
	etherQinQ = 0x88a8               // IEEE 802.1ad
)

// flowHash hashes the inner flow of the GRE packet p: the inner IP
// addresses, protocol and, for TCP, UDP, UDP-Lite and SCTP, the ports (IPv4
// fragments hash without ports, so that all fragments of a packet stay
// together; IPv6 without ports hashes the flow label), looking through an
// Ethernet header for transparent Ethernet bridging. A packet it cannot
// parse hashes its GRE protocol and key. It does not allocate.
func flowHash(p []byte, seed uint64) uint64 {
	h := mix(seed, 0x6772)
	if len(p) < 4 {
		return h
	}
	flags := binary.BigEndian.Uint16(p)
	proto := binary.BigEndian.Uint16(p[2:])
	h = mix(h, uint64(proto))
	if flags&gre.VersionMask != 0 {
		return h
	}
	hl := 4
	if flags&(gre.FlagChecksum|gre.FlagRouting) != 0 {
		hl += 4
	}
	if flags&gre.FlagKey != 0 {
		if len(p) >= hl+4 {
			h = mix(h, uint64(binary.BigEndian.Uint32(p[hl:])))
		}
		hl += 4
	}
	if flags&gre.FlagSeq != 0 {
		hl += 4
	}
	if len(p) < hl {
		return h
	}
	in := p[hl:]
	if proto == etherTEB {
		if len(in) < 14 {
			return h
		}
		proto, in = binary.BigEndian.Uint16(in[12:]), in[14:]
		for i := 0; i < 2 && (proto == etherVLAN || proto == etherQinQ) && len(in) >= 4; i++ {
			proto, in = binary.BigEndian.Uint16(in[2:]), in[4:]
		}
	}
	switch {
	case proto == etherIPv4 && len(in) >= 20 && in[0]>>4 == 4:
		ihl := int(in[0]&0x0f) * 4
		h = mix(h, uint64(binary.BigEndian.Uint32(in[12:])))
		h = mix(h, uint64(binary.BigEndian.Uint32(in[16:])))
		h = mix(h, uint64(in[9]))
		frag := binary.BigEndian.Uint16(in[6:])&0x3fff != 0 // MF or offset
		if !frag && hasPorts(in[9]) && ihl >= 20 && len(in) >= ihl+4 {
			h = mix(h, uint64(binary.BigEndian.Uint32(in[ihl:])))
		}
	case proto == etherIPv6 && len(in) >= 40 && in[0]>>4 == 6:
		for i := 8; i < 40; i += 8 {
			h = mix(h, binary.BigEndian.Uint64(in[i:]))
		}
		h = mix(h, uint64(in[6]))
		if hasPorts(in[6]) && len(in) >= 44 {
			h = mix(h, uint64(binary.BigEndian.Uint32(in[40:])))
		} else {
			h = mix(h, uint64(binary.BigEndian.Uint32(in[0:])&0xfffff))
		}
	}
	return h
}

// hasPorts reports whether IP protocol proto starts with 16-bit source
// and destination ports.
func hasPorts(proto uint8) bool {
	switch proto {
	case 6, 17, 132, 136: // TCP, UDP, SCTP, UDP-Lite
		return true
	}
	return false
}

// mix folds v into the hash h (a multiply-xorshift step).
func mix(h, v uint64) uint64 {
	h ^= v
	h *= 0x9e3779b97f4a7c15
	return h ^ h>>29
}
