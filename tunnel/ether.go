package tunnel

import (
	"encoding/binary"

	"github.com/ipencap/ipencap/gre"
)

// EtherTypes of VLAN tags (IEEE 802.1Q, 802.1ad), which a gretap frame may
// carry in front of its payload.
const (
	etherVLAN = 0x8100
	etherQinQ = 0x88a8
)

// ethernetIP returns the IPv4 or IPv6 packet an Ethernet frame (RFC 894)
// carries, behind any 802.1Q/802.1ad tags, or nil when it carries
// something else (ARP...) or a packet whose version is not the EtherType's.
// The receive path applies RFC 6040 to it (Linux's IP_ECN_decapsulate
// leaves a frame that is not IP alone); the loop guard looks into it.
func ethernetIP(f []byte) []byte {
	if len(f) < gre.EthernetMinLen {
		return nil
	}
	et, p := binary.BigEndian.Uint16(f[12:]), f[gre.EthernetMinLen:]
	for et == etherVLAN || et == etherQinQ {
		if len(p) < 4 {
			return nil
		}
		et, p = binary.BigEndian.Uint16(p[2:]), p[4:]
	}
	switch {
	case len(p) == 0:
		return nil
	case gre.Protocol(et) == gre.ProtoIPv4 && p[0]>>4 == 4, gre.Protocol(et) == gre.ProtoIPv6 && p[0]>>4 == 6:
		return p
	}
	return nil
}
