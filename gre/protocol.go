package gre

import "strconv"

// Protocol is the GRE protocol type field: the EtherType of the payload
// (RFC 2784 §2.4, RFC 1701 §3.2).
type Protocol uint16

// Protocol types that GRE carries.
const (
	// ProtoKeepalive (0x0000) marks a Cisco-style keepalive reply: a GRE
	// header with nothing behind it.
	ProtoKeepalive Protocol = 0x0000
	// ProtoNHRP is the Next Hop Resolution Protocol (RFC 2332) over GRE, as DMVPN uses it.
	ProtoNHRP Protocol = 0x2001
	// ProtoERSPAN3 is ERSPAN type III mirrored traffic.
	ProtoERSPAN3 Protocol = 0x22EB
	// ProtoIPv4 is an IPv4 payload (RFC 2784).
	ProtoIPv4 Protocol = 0x0800
	// ProtoARP is an ARP payload.
	ProtoARP Protocol = 0x0806
	// ProtoTEB is transparent Ethernet bridging: an Ethernet frame (gretap).
	ProtoTEB Protocol = 0x6558
	// ProtoIPv6 is an IPv6 payload.
	ProtoIPv6 Protocol = 0x86DD
	// ProtoMPLS is an MPLS unicast label stack (RFC 4023).
	ProtoMPLS Protocol = 0x8847
	// ProtoMPLSMulticast is an MPLS multicast label stack.
	ProtoMPLSMulticast Protocol = 0x8848
	// ProtoPPP is PPP, the payload of PPTP's version 1 GRE (RFC 2637).
	ProtoPPP Protocol = 0x880B
	// ProtoWCCP is WCCP redirection (Cisco).
	ProtoWCCP Protocol = 0x883E
	// ProtoERSPAN is ERSPAN type I and II mirrored traffic.
	ProtoERSPAN Protocol = 0x88BE
)

var protocolNames = map[Protocol]string{
	ProtoKeepalive:     "keepalive",
	ProtoNHRP:          "NHRP",
	ProtoERSPAN3:       "ERSPAN-III",
	ProtoIPv4:          "IPv4",
	ProtoARP:           "ARP",
	ProtoTEB:           "TEB",
	ProtoIPv6:          "IPv6",
	ProtoMPLS:          "MPLS",
	ProtoMPLSMulticast: "MPLS-multicast",
	ProtoPPP:           "PPP",
	ProtoWCCP:          "WCCP",
	ProtoERSPAN:        "ERSPAN",
}

// String returns the protocol's name, or its number as 0x-hex when it has none.
func (p Protocol) String() string {
	if s, ok := protocolNames[p]; ok {
		return s
	}
	return "0x" + hex4(uint16(p))
}

func hex4(v uint16) string {
	s := strconv.FormatUint(uint64(v), 16)
	for len(s) < 4 {
		s = "0" + s
	}
	return s
}
