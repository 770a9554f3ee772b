package outer

import "strconv"

// IPProto is an IP protocol number: the IPv4 protocol field and the IPv6
// next header share one number space (IANA "Assigned Internet Protocol
// Numbers"). It is a different type from gre.Protocol, which is an
// EtherType.
type IPProto uint8

// The IP protocol numbers of the encapsulations this module speaks, and of
// the ICMP errors a tunnel sends and receives about them.
const (
	// ProtoICMP (1) is ICMP for IPv4 (RFC 792).
	ProtoICMP IPProto = 1
	// ProtoIPIP (4) is IPv4 inside IPv4 (RFC 2003) or IPv6 (RFC 2473):
	// Linux's "ipip" and "ipip6".
	ProtoIPIP IPProto = 4
	// ProtoUDP (17) carries GRE-in-UDP (RFC 8086).
	ProtoUDP IPProto = 17
	// ProtoIPv6 (41) is IPv6 inside IPv4 (RFC 4213 "6in4", Linux's "sit")
	// or IPv6 (RFC 2473, Linux's "ip6ip6").
	ProtoIPv6 IPProto = 41
	// ProtoGRE (47) is GRE (RFC 2784, RFC 1701).
	ProtoGRE IPProto = 47
	// ProtoMinimal (55) is minimal encapsulation (RFC 2004, the BSDs'
	// "MOBILE").
	ProtoMinimal IPProto = 55
	// ProtoICMPv6 (58) is ICMP for IPv6 (RFC 4443).
	ProtoICMPv6 IPProto = 58
)

// String returns the protocol's name ("ICMP", "IPIP", "UDP", "IPv6",
// "GRE", "MOBILE", "ICMPv6"), or its number for any other.
func (p IPProto) String() string {
	switch p {
	case ProtoICMP:
		return "ICMP"
	case ProtoICMPv6:
		return "ICMPv6"
	case ProtoIPIP:
		return "IPIP"
	case ProtoUDP:
		return "UDP"
	case ProtoIPv6:
		return "IPv6"
	case ProtoGRE:
		return "GRE"
	case ProtoMinimal:
		return "MOBILE"
	}
	return "proto(" + strconv.Itoa(int(p)) + ")"
}
