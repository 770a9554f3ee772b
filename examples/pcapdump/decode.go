package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/ipip"
	"github.com/ipencap/ipencap/mobile"
	"github.com/ipencap/ipencap/outer"
)

// Layer is one decoded header of a frame.
type Layer struct {
	// Proto names the header: "Ethernet", "802.1Q", "IPv4", "IPv6", "GRE",
	// "4in4", "6in4", "4in6", "6in6", "MOBILE", "UDP", "ERSPAN", "PPP",
	// "MPLS", "TCP", "ICMP", …
	Proto string `json:"proto"`
	// Src and Dst are the header's addresses or ports, where it has them.
	Src string `json:"src,omitempty"`
	Dst string `json:"dst,omitempty"`
	// Text is how the line shows the header (for IP, what follows the
	// addresses).
	Text string `json:"text,omitempty"`
	// Fields holds the header's fields by name, for -json.
	Fields map[string]any `json:"fields,omitempty"`
	// Error is why the header could not be decoded: the error of one of
	// the ipencap codecs, or of pcapdump's own small parsers.
	Error string `json:"error,omitempty"`

	link bool // a link-layer header of the frame itself (not on the line)
}

// Result is a decoded frame.
type Result struct {
	File    string   `json:"file,omitempty"`
	Frame   int      `json:"frame"`
	Time    string   `json:"time"`
	CapLen  int      `json:"caplen"`
	Len     int      `json:"len"`
	Tunnels []string `json:"tunnels,omitempty"` // encapsulations found, outermost first
	// Fragment is set when an IP header of the frame is a fragment:
	// outer.Parse refuses fragments, so decoding stops there.
	Fragment bool     `json:"fragment,omitempty"`
	Errors   []string `json:"errors,omitempty"`
	Layers   []Layer  `json:"layers"`
	Line     string   `json:"line"` // the text line, without frame number and time
}

// maxDepth bounds how many IP headers one frame may nest.
const maxDepth = 32

// decoder decodes one frame into layers.
type decoder struct {
	layers  []Layer
	tunnels []string
	errs    []string
	frag    bool
	depth   int
}

// decodeFrame strips the link layer of data (link type lt) and decodes the
// headers behind it.
func decodeFrame(lt uint16, data []byte) *Result {
	var d decoder
	d.link(lt, data)
	return &Result{Tunnels: d.tunnels, Fragment: d.frag, Errors: d.errs, Layers: d.layers, Line: render(d.layers)}
}

func (d *decoder) add(l Layer) { d.layers = append(d.layers, l) }

// fail adds l with err as its error.
func (d *decoder) fail(l Layer, err error) {
	l.Error = err.Error()
	d.errs = append(d.errs, l.Error)
	d.add(l)
}

// tunnel records an encapsulation of the frame.
func (d *decoder) tunnel(name string) {
	for _, t := range d.tunnels {
		if t == name {
			return
		}
	}
	d.tunnels = append(d.tunnels, name)
}

// errTruncated is the error of pcapdump's own small parsers.
func errTruncated(what string) error { return errors.New(what + ": truncated header") }

var be = binary.BigEndian

// link strips the link-layer header.
func (d *decoder) link(lt uint16, b []byte) {
	switch lt {
	case linkEthernet:
		d.ethernet(b, true)
	case linkRaw, linkRawBSD, linkRawBSD14, linkIPv4, linkIPv6:
		d.ip(b)
	case linkNull, linkLoop:
		l := Layer{Proto: "Loopback", Text: "Loopback", link: true}
		if len(b) < 4 {
			d.fail(l, errTruncated("loopback"))
			return
		}
		d.add(l)
		d.ip(b[4:]) // the address family only says what the version nibble says
	case linkSLL:
		l := Layer{Proto: "SLL", Text: "SLL", link: true}
		if len(b) < 16 {
			d.fail(l, errTruncated("sll"))
			return
		}
		l.Text += " " + sllPacketType(be.Uint16(b[0:2]))
		d.add(l)
		d.etherType(be.Uint16(b[14:16]), b[16:], true)
	case linkSLL2:
		l := Layer{Proto: "SLL2", Text: "SLL2", link: true}
		if len(b) < 20 {
			d.fail(l, errTruncated("sll2"))
			return
		}
		l.Text += " " + sllPacketType(uint16(b[10]))
		d.add(l)
		d.etherType(be.Uint16(b[0:2]), b[20:], true)
	default:
		name := "link type " + strconv.Itoa(int(lt))
		if lt == linkOther {
			name = "link type above 255"
		}
		d.fail(Layer{Proto: "link", Text: name, link: true}, errors.New(name+" not supported"))
	}
}

func sllPacketType(t uint16) string {
	switch t {
	case 0:
		return "In"
	case 1:
		return "B" // broadcast
	case 2:
		return "M" // multicast
	case 3:
		return "P" // to another host
	case 4:
		return "Out"
	}
	return "type " + strconv.Itoa(int(t))
}

// ethernet decodes an Ethernet header: the frame's own (link) or one that
// a tunnel carries.
func (d *decoder) ethernet(b []byte, link bool) {
	l := Layer{Proto: "Ethernet", Text: "Ether", link: link}
	if len(b) < 14 {
		d.fail(l, errTruncated("ethernet"))
		return
	}
	l.Src, l.Dst = net.HardwareAddr(b[6:12]).String(), net.HardwareAddr(b[0:6]).String()
	l.Text = "Ether " + l.Src + " > " + l.Dst
	d.add(l)
	et := be.Uint16(b[12:14])
	if et <= 1500 { // an 802.3 length: LLC (STP, CDP, IS-IS …)
		d.add(Layer{Proto: "LLC", Text: "802.3 LLC", link: link})
		return
	}
	d.etherType(et, b[14:], link)
}

// etherType decodes the payload of an Ethernet type: VLAN tags, IP, MPLS,
// ARP.
func (d *decoder) etherType(et uint16, b []byte, link bool) {
	for et == 0x8100 || et == 0x88A8 || et == 0x9100 {
		name := "802.1Q"
		if et != 0x8100 {
			name = "802.1ad"
		}
		l := Layer{Proto: name, Text: "vlan", link: link}
		if len(b) < 4 {
			d.fail(l, errTruncated("vlan"))
			return
		}
		tci := be.Uint16(b[0:2])
		l.Text = fmt.Sprintf("vlan %d", tci&0x0FFF)
		l.Fields = map[string]any{"vlan": tci & 0x0FFF, "pcp": tci >> 13}
		d.add(l)
		et, b = be.Uint16(b[2:4]), b[4:]
	}
	if et <= 1500 { // an 802.3 length behind the tags
		d.add(Layer{Proto: "LLC", Text: "802.3 LLC", link: link})
		return
	}
	switch et {
	case 0x0800, 0x86DD:
		d.ip(b)
	case 0x8847, 0x8848:
		d.mpls(b, link)
	case 0x0806:
		d.arp(b, link)
	default:
		name := etherTypeName(et)
		d.add(Layer{Proto: name, Text: name, Fields: map[string]any{"ethertype": et}, link: link})
	}
}

func etherTypeName(et uint16) string {
	switch et {
	case 0x2000:
		return "CDP"
	case 0x8035:
		return "RARP"
	case 0x8863:
		return "PPPoE-discovery"
	case 0x8864:
		return "PPPoE"
	case 0x888E:
		return "EAPOL"
	case 0x88CC:
		return "LLDP"
	case 0x8809:
		return "slow-protocols"
	case 0x9000:
		return "loopback"
	case 0x88E5:
		return "MACsec"
	case 0x8909:
		return "CMD"
	}
	return fmt.Sprintf("ethertype 0x%04x", et)
}

// ip decodes an IPv4 or IPv6 packet with outer.Parse and what it carries.
func (d *decoder) ip(b []byte) {
	d.depth++
	if d.depth > maxDepth {
		d.fail(Layer{Proto: "IP", Text: "IP"}, fmt.Errorf("more than %d nested IP headers", maxDepth))
		return
	}
	o, payload, err := outer.Parse(b)
	if err != nil {
		d.ipError(b, err)
		return
	}
	v6 := o.Src.Is6()
	l := Layer{Proto: "IPv4", Src: o.Src.String(), Dst: o.Dst.String(),
		Fields: map[string]any{"ttl": o.TTL, "tos": o.TOS, "protocol": uint8(o.Protocol), "header_len": o.HeaderLen, "len": o.Len}}
	if v6 {
		l.Proto = "IPv6"
	}
	d.add(l)
	d.proto(o.Protocol, payload, b, &o, v6)
}

// ipError shows an IP header that outer.Parse refused: as much of it as
// the bytes hold (addresses, protocol, fragment), and the error.
func (d *decoder) ipError(b []byte, err error) {
	l := Layer{Proto: "IP"}
	var proto int = -1
	switch {
	case len(b) >= 20 && b[0]>>4 == 4:
		l.Proto = "IPv4"
		l.Src, l.Dst = netip.AddrFrom4([4]byte(b[12:16])).String(), netip.AddrFrom4([4]byte(b[16:20])).String()
		proto = int(b[9])
		if fo := be.Uint16(b[6:8]); fo&0x3FFF != 0 {
			l.Fields = map[string]any{"id": be.Uint16(b[4:6]), "offset": int(fo&0x1FFF) * 8, "more_fragments": fo&0x2000 != 0}
			l.Text = fmt.Sprintf("frag id %d offset %d", be.Uint16(b[4:6]), int(fo&0x1FFF)*8)
			if fo&0x2000 != 0 {
				l.Text += "+"
			}
		}
	case len(b) >= 40 && b[0]>>4 == 6:
		l.Proto = "IPv6"
		l.Src, l.Dst = netip.AddrFrom16([16]byte(b[8:24])).String(), netip.AddrFrom16([16]byte(b[24:40])).String()
		proto = int(b[6])
		// Walk the extension headers the captured bytes hold.
	walk:
		for off, i := 40, 0; i < 8; i++ {
			switch proto {
			case 0, 43, 60: // hop-by-hop, routing, destination options
				if len(b) < off+2 {
					break walk
				}
				proto, off = int(b[off]), off+(int(b[off+1])+1)*8
			case 44: // fragment
				if len(b) < off+8 {
					break walk
				}
				fo := be.Uint16(b[off+2 : off+4])
				l.Fields = map[string]any{"id": be.Uint32(b[off+4 : off+8]), "offset": int(fo>>3) * 8, "more_fragments": fo&1 != 0}
				l.Text = fmt.Sprintf("frag id %d offset %d", be.Uint32(b[off+4:off+8]), int(fo>>3)*8)
				if fo&1 != 0 {
					l.Text += "+"
				}
				proto, off = int(b[off]), off+8
			default:
				break walk
			}
		}
	}
	if proto >= 0 {
		v6 := l.Proto == "IPv6"
		name := ipProtoName(uint8(proto))
		switch p := outer.IPProto(proto); p {
		case outer.ProtoGRE, outer.ProtoMinimal:
			d.tunnel(name)
		case outer.ProtoIPIP, outer.ProtoIPv6:
			name = ipipName(v6, p)
			d.tunnel(name)
		}
		l.Text = strings.TrimSpace(name + " " + l.Text)
		if l.Fields == nil {
			l.Fields = map[string]any{}
		}
		l.Fields["protocol"] = proto
	}
	if errors.Is(err, outer.ErrFragment) {
		d.frag = true // not a decoding error: pcapdump does not reassemble
		l.Error = err.Error()
		d.add(l)
		return
	}
	d.fail(l, err)
}

// ipipName names IP in IP by the outer version and the protocol.
func ipipName(v6 bool, p outer.IPProto) string {
	inner := "4"
	if p == outer.ProtoIPv6 {
		inner = "6"
	}
	if v6 {
		return inner + "in6"
	}
	return inner + "in4"
}

// proto decodes the payload of an IP header of protocol p. pkt and o are
// the whole packet and its parsed header, for ipip.Check; o is nil for the
// payload of a minimal encapsulation header, whose IP header is the outer
// one.
func (d *decoder) proto(p outer.IPProto, payload, pkt []byte, o *outer.Outer, v6 bool) {
	switch p {
	case outer.ProtoGRE:
		d.tunnel("GRE")
		d.gre(payload, v6)
	case outer.ProtoIPIP, outer.ProtoIPv6:
		name := ipipName(v6, p)
		d.tunnel(name)
		l := Layer{Proto: name, Text: name}
		inner := payload
		if o != nil {
			var err error
			if inner, err = ipip.Check(pkt, o); err != nil {
				d.fail(l, err)
				return
			}
		}
		d.add(l)
		d.ip(inner)
	case outer.ProtoMinimal:
		d.tunnel("MOBILE")
		d.minimal(payload, o, v6)
	case outer.ProtoUDP:
		d.udp(payload, v6)
	case 6:
		d.tcp(payload)
	case 1:
		d.icmp(payload)
	case 58:
		d.icmp6(payload)
	default:
		name := ipProtoName(uint8(p))
		d.add(Layer{Proto: name, Text: name})
	}
}

func ipProtoName(p uint8) string {
	switch p {
	case 1:
		return "ICMP"
	case 2:
		return "IGMP"
	case 4:
		return "IPIP"
	case 6:
		return "TCP"
	case 17:
		return "UDP"
	case 41:
		return "IPv6"
	case 43:
		return "IPv6-route"
	case 44:
		return "IPv6-frag"
	case 47:
		return "GRE"
	case 50:
		return "ESP"
	case 51:
		return "AH"
	case 55:
		return "MOBILE"
	case 58:
		return "ICMPv6"
	case 59:
		return "no-next-header"
	case 89:
		return "OSPF"
	case 103:
		return "PIM"
	case 112:
		return "VRRP"
	case 115:
		return "L2TP"
	case 132:
		return "SCTP"
	}
	return "proto " + strconv.Itoa(int(p))
}

// minimal decodes a minimal encapsulation header (RFC 2004) with
// mobile.Parse, which leaves the buffer alone, and the original datagram:
// its IP header is the outer one with the original addresses and protocol
// put back, so pcapdump shows those and then decodes the payload.
func (d *decoder) minimal(b []byte, o *outer.Outer, v6 bool) {
	l := Layer{Proto: "MOBILE", Text: "MOBILE"}
	if v6 || o == nil {
		d.fail(l, mobile.ErrProtocol)
		return
	}
	h, err := mobile.Parse(b)
	if err != nil {
		d.fail(l, err)
		return
	}
	src, hasSrc := h.Src()
	if !hasSrc {
		src = o.Src
	}
	l.Src, l.Dst = src.String(), h.Dst().String()
	l.Text = fmt.Sprintf("MOBILE orig %s > %s proto %s", l.Src, l.Dst, ipProtoName(uint8(h.Protocol())))
	l.Fields = map[string]any{"orig_src": l.Src, "orig_dst": l.Dst, "orig_protocol": uint8(h.Protocol()),
		"src_present": hasSrc, "checksum": h.Checksum(), "header_len": h.Len()}
	d.add(l)
	// The original datagram, whose header the decapsulator restores.
	d.depth++
	d.add(Layer{Proto: "IPv4", Src: l.Src, Dst: l.Dst, Text: "(restored)",
		Fields: map[string]any{"ttl": o.TTL, "tos": o.TOS, "protocol": uint8(h.Protocol())}})
	d.proto(h.Protocol(), h.Payload(), nil, nil, false)
}

// gre decodes a GRE header with gre.Decoder in RFC 1701 mode (everything
// that is GRE), without dropping bad checksums: they are shown instead.
func (d *decoder) gre(b []byte, v6 bool) {
	l := Layer{Proto: "GRE", Text: "GRE"}
	h, err := gre.Decoder{Mode: gre.ModeRFC1701, OverIPv6: v6, NoVerifyChecksum: true}.Parse(b)
	if err != nil {
		d.fail(l, err)
		return
	}
	p := h.Protocol()
	f := map[string]any{"version": h.Version(), "protocol": uint16(p), "protocol_name": greProtoName(p), "header_len": h.Len()}
	var t strings.Builder
	t.WriteString("GRE")
	if v := h.Version(); v != 0 {
		fmt.Fprintf(&t, " v%d", v)
	}
	if sum, ok := h.Checksum(); ok {
		status := "bad"
		if h.ChecksumValid() {
			status = "ok"
		}
		fmt.Fprintf(&t, " csum 0x%04x %s", sum, status)
		f["checksum"], f["checksum_ok"] = sum, h.ChecksumValid()
	}
	if k, ok := h.Key(); ok {
		if h.Version() == 1 {
			fmt.Fprintf(&t, " call %d len %d", h.CallID(), h.PayloadLength())
			f["call_id"], f["payload_length"] = h.CallID(), h.PayloadLength()
		} else {
			fmt.Fprintf(&t, " key %s (%d)", k, uint32(k))
			f["key"], f["key_dotted"] = uint32(k), k.String()
		}
	}
	if s, ok := h.Seq(); ok {
		fmt.Fprintf(&t, " seq %d", s)
		f["seq"] = s
	}
	if a, ok := h.Ack(); ok {
		fmt.Fprintf(&t, " ack %d", a)
		f["ack"] = a
	}
	if h.RoutingPresent() {
		n := 0
		for it := h.Routing(); it.Next(); {
			n++
		}
		off, _ := h.Offset()
		fmt.Fprintf(&t, " routing %d SREs offset %d", n, off)
		f["sres"], f["routing_offset"] = n, off
	}
	if h.StrictSourceRoute() {
		t.WriteString(" strict")
		f["strict_source_route"] = true
	}
	if r := h.Recursion(); r != 0 {
		fmt.Fprintf(&t, " recursion %d", r)
		f["recursion"] = r
	}
	if r := h.Reserved(); r != 0 {
		fmt.Fprintf(&t, " reserved 0x%x", r)
		f["reserved"] = r
	}
	payload := h.Payload()
	switch p {
	case gre.ProtoIPv4, gre.ProtoIPv6, gre.ProtoPPP, gre.ProtoERSPAN, gre.ProtoERSPAN3,
		gre.ProtoMPLS, gre.ProtoMPLSMulticast, gre.ProtoWCCP, gre.ProtoNHRP, gre.ProtoARP,
		gre.ProtoKeepalive, protoCMD:
		// The next layer names the protocol.
	default:
		t.WriteString(" " + greProtoName(p))
	}
	l.Text, l.Fields = t.String(), f
	d.add(l)

	switch p {
	case gre.ProtoIPv4, gre.ProtoIPv6:
		d.ip(payload)
	case gre.ProtoTEB:
		d.ethernet(payload, false)
	case gre.ProtoERSPAN:
		_, seq := h.Seq()
		d.erspan(payload, seq)
	case gre.ProtoERSPAN3:
		d.erspan3(payload)
	case gre.ProtoPPP:
		if len(payload) > 0 { // else a PPTP acknowledgment on its own
			d.ppp(payload)
		}
	case gre.ProtoKeepalive:
		k := Layer{Proto: "keepalive", Text: "keepalive reply"}
		if len(payload) > 0 {
			k.Text += fmt.Sprintf(" (%d bytes padding)", len(payload))
		}
		d.add(k)
	case gre.ProtoMPLS, gre.ProtoMPLSMulticast:
		d.mpls(payload, false)
	case gre.ProtoWCCP:
		d.wccp(payload)
	case gre.ProtoNHRP:
		d.nhrp(payload)
	case gre.ProtoARP:
		d.arp(payload, false)
	case protoCMD:
		d.cmd(payload)
	}
}

const protoCMD gre.Protocol = 0x8909 // Cisco MetaData

// greProtoName names a GRE protocol type: gre.Protocol's names, and a few
// more.
func greProtoName(p gre.Protocol) string {
	switch p {
	case 0x2000:
		return "CDP"
	case protoCMD:
		return "CMD"
	case 0x8300:
		return "Aruba"
	case 0x00FE:
		return "OSI"
	}
	return p.String()
}

// erspan decodes ERSPAN type I (no header: GRE without sequence numbers)
// or type II (an 8-byte header) and the mirrored Ethernet frame.
func (d *decoder) erspan(b []byte, typeII bool) {
	if !typeII {
		d.add(Layer{Proto: "ERSPAN", Text: "ERSPAN I", Fields: map[string]any{"type": 1}})
		d.ethernet(b, false)
		return
	}
	l := Layer{Proto: "ERSPAN", Text: "ERSPAN II"}
	if len(b) < 8 {
		d.fail(l, errTruncated("erspan"))
		return
	}
	ver, vlan := b[0]>>4, be.Uint16(b[0:2])&0x0FFF
	session, index := be.Uint16(b[2:4])&0x03FF, be.Uint32(b[4:8])&0xFFFFF
	l.Text = fmt.Sprintf("ERSPAN II session %d vlan %d", session, vlan)
	if ver != 1 {
		l.Text += fmt.Sprintf(" version %d", ver)
	}
	l.Fields = map[string]any{"type": 2, "version": ver, "session": session, "vlan": vlan, "cos": b[2] >> 5, "index": index}
	d.add(l)
	d.ethernet(b[8:], false)
}

// erspan3 decodes an ERSPAN type III header and, for frame type 0
// (Ethernet) or 2 (IP), the mirrored packet.
func (d *decoder) erspan3(b []byte) {
	l := Layer{Proto: "ERSPAN", Text: "ERSPAN III"}
	if len(b) < 12 {
		d.fail(l, errTruncated("erspan"))
		return
	}
	ver, vlan, session := b[0]>>4, be.Uint16(b[0:2])&0x0FFF, be.Uint16(b[2:4])&0x03FF
	ft, hw, dir, opt := (b[10]>>2)&0x1F, (be.Uint16(b[10:12])>>4)&0x3F, (b[11]>>3)&1, b[11]&1
	hlen := 12
	if opt == 1 {
		hlen += 8 // platform-specific subheader
	}
	l.Text = fmt.Sprintf("ERSPAN III session %d vlan %d", session, vlan)
	if ver != 2 {
		l.Text += fmt.Sprintf(" version %d", ver)
	}
	dirName := "ingress"
	if dir == 1 {
		dirName = "egress"
	}
	l.Text += " " + dirName
	l.Fields = map[string]any{"type": 3, "version": ver, "session": session, "vlan": vlan, "frame_type": ft,
		"hw_id": hw, "direction": dirName, "timestamp": be.Uint32(b[4:8]), "sgt": be.Uint16(b[8:10])}
	if len(b) < hlen {
		d.fail(l, errTruncated("erspan"))
		return
	}
	switch ft {
	case 0:
		d.add(l)
		d.ethernet(b[hlen:], false)
	case 2:
		d.add(l)
		d.ip(b[hlen:])
	default:
		l.Text += fmt.Sprintf(" frame type %d", ft)
		d.add(l)
	}
}

// ppp decodes the PPP header of PPTP (or of PPP over GRE version 0).
func (d *decoder) ppp(b []byte) {
	l := Layer{Proto: "PPP", Text: "PPP"}
	if len(b) >= 2 && b[0] == 0xFF && b[1] == 0x03 { // address and control
		b = b[2:]
	}
	var proto uint16
	switch {
	case len(b) >= 1 && b[0]&1 == 1: // protocol field compression
		proto, b = uint16(b[0]), b[1:]
	case len(b) >= 2:
		proto, b = be.Uint16(b[0:2]), b[2:]
	default:
		d.fail(l, errTruncated("ppp"))
		return
	}
	l.Fields = map[string]any{"protocol": proto}
	switch proto {
	case 0x0021:
		d.add(l)
		d.ip(b)
		return
	case 0x0057:
		d.add(l)
		d.ip(b)
		return
	}
	name := pppProtoName(proto)
	l.Text += " " + name
	if proto >= 0x8000 && len(b) >= 1 { // a control protocol: LCP, IPCP, CCP …
		l.Text += " " + pppCodeName(b[0])
		l.Fields["code"] = b[0]
	}
	d.add(l)
}

func pppProtoName(p uint16) string {
	switch p {
	case 0xC021:
		return "LCP"
	case 0x8021:
		return "IPCP"
	case 0x8057:
		return "IPV6CP"
	case 0x80FD:
		return "CCP"
	case 0x00FD:
		return "compressed"
	case 0xC023:
		return "PAP"
	case 0xC223:
		return "CHAP"
	case 0x002D, 0x002F:
		return "VJ"
	case 0x0281:
		return "MPLS"
	}
	return fmt.Sprintf("proto 0x%04x", p)
}

func pppCodeName(c byte) string {
	names := [...]string{1: "Conf-Request", "Conf-Ack", "Conf-Nak", "Conf-Reject", "Term-Request", "Term-Ack",
		"Code-Reject", "Protocol-Reject", "Echo-Request", "Echo-Reply", "Discard-Request", 14: "Reset-Request", "Reset-Ack"}
	if int(c) < len(names) && names[c] != "" {
		return names[c]
	}
	return "code " + strconv.Itoa(int(c))
}

// mpls decodes an MPLS label stack and an IP packet behind it.
func (d *decoder) mpls(b []byte, link bool) {
	l := Layer{Proto: "MPLS", Text: "MPLS", link: link}
	var labels []uint32
	for {
		if len(b) < 4 {
			l.Text = mplsText(labels)
			d.fail(l, errTruncated("mpls"))
			return
		}
		e := be.Uint32(b)
		labels, b = append(labels, e>>12), b[4:]
		if e&0x100 != 0 { // bottom of stack
			break
		}
	}
	l.Text, l.Fields = mplsText(labels), map[string]any{"labels": labels}
	d.add(l)
	if len(b) > 0 && (b[0]>>4 == 4 || b[0]>>4 == 6) {
		d.ip(b)
	}
}

func mplsText(labels []uint32) string {
	s := make([]string, len(labels))
	for i, v := range labels {
		s[i] = strconv.Itoa(int(v))
	}
	return "MPLS labels " + strings.Join(s, "/")
}

// wccp decodes the WCCP redirect header (4 bytes, WCCPv2; none in v1) and
// the redirected IP packet.
func (d *decoder) wccp(b []byte) {
	l := Layer{Proto: "WCCP", Text: "WCCP"}
	switch {
	case len(b) >= 5 && b[4]>>4 == 4:
		l.Text += fmt.Sprintf(" redirect service %d", b[1])
		l.Fields = map[string]any{"service": b[1]}
		d.add(l)
		d.ip(b[4:])
	case len(b) >= 1 && b[0]>>4 == 4:
		d.add(l)
		d.ip(b)
	default:
		d.fail(l, errTruncated("wccp"))
	}
}

// nhrp shows the NHRP operation (RFC 2332).
func (d *decoder) nhrp(b []byte) {
	l := Layer{Proto: "NHRP", Text: "NHRP"}
	if len(b) < 20 {
		d.fail(l, errTruncated("nhrp"))
		return
	}
	ops := [...]string{1: "resolution request", "resolution reply", "registration request", "registration reply",
		"purge request", "purge reply", "error indication", "traffic indication"}
	op := b[17]
	if int(op) < len(ops) && ops[op] != "" {
		l.Text += " " + ops[op]
	} else {
		l.Text += " op " + strconv.Itoa(int(op))
	}
	l.Fields = map[string]any{"op": op, "version": b[16]}
	d.add(l)
}

// arp shows an ARP request or reply.
func (d *decoder) arp(b []byte, link bool) {
	l := Layer{Proto: "ARP", Text: "ARP", link: link}
	if len(b) < 8 {
		d.fail(l, errTruncated("arp"))
		return
	}
	op := be.Uint16(b[6:8])
	l.Fields = map[string]any{"op": op}
	if be.Uint16(b[0:2]) == 1 && be.Uint16(b[2:4]) == 0x0800 && b[4] == 6 && b[5] == 4 && len(b) >= 28 {
		sha, spa, tpa := net.HardwareAddr(b[8:14]), netip.AddrFrom4([4]byte(b[14:18])), netip.AddrFrom4([4]byte(b[24:28]))
		switch op {
		case 1:
			l.Text = fmt.Sprintf("ARP who-has %s tell %s", tpa, spa)
		case 2:
			l.Text = fmt.Sprintf("ARP reply %s is-at %s", spa, sha)
		}
		l.Src, l.Dst = spa.String(), tpa.String()
	}
	if l.Text == "ARP" {
		l.Text = "ARP op " + strconv.Itoa(int(op))
	}
	d.add(l)
}

// cmd decodes Cisco MetaData as carried by GRE: the Ethernet type comes
// first, then version, length, option and the security group tag.
func (d *decoder) cmd(b []byte) {
	l := Layer{Proto: "CMD", Text: "CMD"}
	if len(b) < 8 {
		d.fail(l, errTruncated("cmd"))
		return
	}
	sgt := be.Uint16(b[6:8])
	l.Text = fmt.Sprintf("CMD sgt %d", sgt)
	l.Fields = map[string]any{"ethertype": be.Uint16(b[0:2]), "sgt": sgt}
	d.add(l)
	d.etherType(be.Uint16(b[0:2]), b[8:], false)
}

// udp decodes a UDP header; to port 4754 it carries GRE (RFC 8086).
func (d *decoder) udp(b []byte, v6 bool) {
	l := Layer{Proto: "UDP", Text: "UDP"}
	if len(b) < 8 {
		d.fail(l, errTruncated("udp"))
		return
	}
	sp, dp, n := be.Uint16(b[0:2]), be.Uint16(b[2:4]), int(be.Uint16(b[4:6]))
	l.Src, l.Dst = strconv.Itoa(int(sp)), strconv.Itoa(int(dp))
	l.Text = "UDP " + l.Src + " > " + l.Dst
	l.Fields = map[string]any{"length": n}
	payload := b[8:]
	if n >= 8 && n-8 < len(payload) {
		payload = payload[:n-8]
	}
	d.add(l)
	if dp == 4754 {
		d.tunnel("GRE-in-UDP")
		d.gre(payload, v6)
	}
}

// tcp shows ports and flags.
func (d *decoder) tcp(b []byte) {
	l := Layer{Proto: "TCP", Text: "TCP"}
	if len(b) < 14 {
		d.fail(l, errTruncated("tcp"))
		return
	}
	sp, dp, fl := be.Uint16(b[0:2]), be.Uint16(b[2:4]), b[13]
	var flags []byte
	for _, f := range []struct {
		bit byte
		c   byte
	}{{0x01, 'F'}, {0x02, 'S'}, {0x04, 'R'}, {0x08, 'P'}, {0x20, 'U'}, {0x40, 'E'}, {0x80, 'W'}, {0x10, '.'}} {
		if fl&f.bit != 0 {
			flags = append(flags, f.c)
		}
	}
	l.Src, l.Dst = strconv.Itoa(int(sp)), strconv.Itoa(int(dp))
	if len(flags) == 0 {
		flags = []byte("none")
	}
	l.Text = fmt.Sprintf("TCP %d > %d [%s]", sp, dp, flags)
	l.Fields = map[string]any{"flags": string(flags), "seq": be.Uint32(b[4:8])}
	d.add(l)
}

// icmp shows the ICMP type.
func (d *decoder) icmp(b []byte) {
	l := Layer{Proto: "ICMP", Text: "ICMP"}
	if len(b) < 4 {
		d.fail(l, errTruncated("icmp"))
		return
	}
	typ, code := b[0], b[1]
	l.Fields = map[string]any{"type": typ, "code": code}
	switch typ {
	case 0, 8:
		l.Text = "ICMP echo request"
		if typ == 0 {
			l.Text = "ICMP echo reply"
		}
		if len(b) >= 8 {
			l.Text += fmt.Sprintf(" id %d seq %d", be.Uint16(b[4:6]), be.Uint16(b[6:8]))
		}
	case 3:
		l.Text = fmt.Sprintf("ICMP unreachable code %d", code)
	case 5:
		l.Text = "ICMP redirect"
	case 11:
		l.Text = "ICMP time exceeded"
	case 12:
		l.Text = "ICMP parameter problem"
	case 13, 14:
		l.Text = "ICMP timestamp"
	default:
		l.Text = fmt.Sprintf("ICMP type %d code %d", typ, code)
	}
	d.add(l)
}

// icmp6 shows the ICMPv6 type.
func (d *decoder) icmp6(b []byte) {
	l := Layer{Proto: "ICMPv6", Text: "ICMPv6"}
	if len(b) < 4 {
		d.fail(l, errTruncated("icmp6"))
		return
	}
	typ, code := b[0], b[1]
	l.Fields = map[string]any{"type": typ, "code": code}
	names := map[uint8]string{1: "unreachable", 2: "packet too big", 3: "time exceeded", 4: "parameter problem",
		128: "echo request", 129: "echo reply", 130: "multicast listener query", 131: "multicast listener report",
		133: "router solicitation", 134: "router advertisement", 135: "neighbor solicitation",
		136: "neighbor advertisement", 137: "redirect", 143: "multicast listener report v2"}
	if n, ok := names[typ]; ok {
		l.Text = "ICMPv6 " + n
	} else {
		l.Text = fmt.Sprintf("ICMPv6 type %d code %d", typ, code)
	}
	if (typ == 128 || typ == 129) && len(b) >= 8 {
		l.Text += fmt.Sprintf(" id %d seq %d", be.Uint16(b[4:6]), be.Uint16(b[6:8]))
	}
	d.add(l)
}

// render builds the text line: the layers from the first one that is not
// the frame's own link layer (all of them if there is none), nested
// packets joined by " | ". The first IP header shows as "src > dst:", the
// others as "IPv4 src > dst".
func render(ls []Layer) string {
	start := 0
	for start < len(ls) && ls[start].link {
		start++
	}
	if start == len(ls) {
		start = 0
	}
	var b strings.Builder
	for i := start; i < len(ls); i++ {
		l := &ls[i]
		ip := l.Proto == "IPv4" || l.Proto == "IPv6" || l.Proto == "IP"
		if i > start {
			if ip || (l.Proto == "Ethernet" && !l.link) {
				b.WriteString(" | ")
			} else {
				b.WriteByte(' ')
			}
		}
		switch {
		case ip && l.Src != "" && i == start:
			b.WriteString(l.Src + " > " + l.Dst + ":")
		case ip && l.Src != "":
			b.WriteString(l.Proto + " " + l.Src + " > " + l.Dst)
		case ip:
			b.WriteString(l.Proto)
		default:
			b.WriteString(l.Text)
		}
		if ip && l.Text != "" {
			b.WriteString(" " + l.Text)
		}
		if l.Error != "" {
			b.WriteString(" [" + l.Error + "]")
		}
	}
	return b.String()
}
