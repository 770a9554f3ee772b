package gre

import (
	"github.com/ipencap/ipencap/outer"
)

// EthernetMinLen is the shortest payload of protocol type [ProtoTEB] that
// [Header.Inner] accepts: an Ethernet header (destination, source,
// EtherType), as Linux's gretap asks for before eth_type_trans.
const EthernetMinLen = 14

// Decap is the receive side of GRE over IP, the twin of ipip.Check and
// mobile.Decap: it parses the GRE header of the packet b, whose outer
// header [outer.Parse] has parsed into o, with [Decoder.ParseOuter] of the
// zero Decoder (Linux acceptance, the checksum verified when C is set),
// then checks the inner packet with [Header.Inner]. It returns the header
// view and the inner packet, a sub-slice of b; it does not parse the outer
// header again and does not write to b. Decap never allocates.
func Decap(b []byte, o *outer.Outer) (Header, []byte, error) {
	h, err := Decoder{}.ParseOuter(b, o)
	if err != nil {
		return Header{}, nil, err
	}
	inner, err := h.Inner()
	if err != nil {
		return Header{}, nil, err
	}
	return h, inner, nil
}

// ParseOuter parses the GRE header behind the outer header that
// [outer.Parse] read from b into o: the GRE packet is b[o.HeaderLen:o.Len],
// and d.OverIPv6 is taken from o's source address, so that Linux's rules
// for the outer family apply. For GRE-in-UDP, whose socket strips the IP
// and UDP headers, o.HeaderLen is 0 and o.Len the datagram's length.
// Errors are those of [Decoder.Parse], and [ErrTruncated] when o does not
// fit b. ParseOuter never allocates.
func (d Decoder) ParseOuter(b []byte, o *outer.Outer) (Header, error) {
	if o.HeaderLen < 0 || o.HeaderLen > o.Len || o.Len > len(b) {
		return Header{}, ErrTruncated
	}
	d.OverIPv6 = o.Src.Is6()
	return d.Parse(b[o.HeaderLen:o.Len])
}

// Inner returns the payload of h checked as its protocol type says: an
// IPv4 ([ProtoIPv4]) or IPv6 ([ProtoIPv6]) packet must pass
// [outer.CheckInner] and is trimmed to the length its header declares; an
// Ethernet frame ([ProtoTEB]) must hold at least [EthernetMinLen] bytes
// ([outer.ErrInnerTruncated]); any other payload (MPLS, PPP, a keepalive
// reply's empty one...) is returned as it is, for the caller to judge.
// Inner never allocates and never panics, on the zero Header too.
func (h Header) Inner() ([]byte, error) {
	p := h.Payload()
	switch h.Protocol() {
	case ProtoIPv4:
		return outer.CheckInner(p, 4)
	case ProtoIPv6:
		return outer.CheckInner(p, 6)
	case ProtoTEB:
		if len(p) < EthernetMinLen {
			return nil, outer.ErrInnerTruncated
		}
	}
	return p, nil
}
