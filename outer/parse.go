package outer

import (
	"net/netip"

	"github.com/ipencap/ipencap/iphdr"
)

// Outer holds what a tunnel needs from a received outer header.
type Outer struct {
	// Src is the outer source, the tunnel entry point.
	Src netip.Addr
	// Dst is the outer destination, the tunnel exit point.
	Dst netip.Addr
	// TTL is the outer IPv4 TTL or IPv6 hop limit.
	TTL uint8
	// TOS is the outer IPv4 TOS or IPv6 traffic class, ECN bits included.
	TOS uint8
	// Protocol is the IPv4 protocol, or the IPv6 next header that follows
	// the fixed header and any hop-by-hop and destination options headers.
	Protocol IPProto
	// HeaderLen is the number of bytes in front of the payload: the IPv4
	// header with its options, or the IPv6 header with the extension
	// headers Parse skipped.
	HeaderLen int
	// Len is the length of the outer packet as its header declares it
	// (IPv4 total length, or 40 + IPv6 payload length): the payload is
	// b[HeaderLen:Len] of the buffer given to Parse.
	Len int
	// ECNAlarm is set by a mode's Decap (ipip.Decap, or the tunnel engine
	// after GRE) when the inner and outer ECN form one of the
	// combinations RFC 6040 marks "(!!!)" (see [DecapECN]); a tunnel counts
	// these. Parse leaves it false.
	ECNAlarm bool
}

// ECN returns the outer ECN codepoint.
func (o *Outer) ECN() ECN { return ECNOf(o.TOS) }

// maxExtHeaders bounds how many IPv6 extension headers Parse walks: a
// hop-by-hop options header and up to two destination options headers
// (RFC 8200 §4.1 allows one before a routing header and one at the end).
const maxExtHeaders = 3

// IPv6 extension header numbers Parse knows.
const (
	nhHopByHop = 0
	nhFragment = 44
	nhDestOpts = 60
)

// Parse checks the outer IPv4 or IPv6 header at the start of b, as a
// careful receiver does, and returns its fields and the payload, a
// sub-slice of b up to the length the header declares (bytes beyond it,
// link padding, are ignored).
//
// IPv4: version, IHL ≥ 5, total length within b and ≥ IHL, the header
// checksum, and no fragmentation (MF clear and offset 0); options are
// skipped. IPv6: version, payload length within b, and extension headers:
// a hop-by-hop options header first and destination options headers
// (where RFC 2473 §4.1 puts the tunnel encapsulation limit) are skipped
// after checking that none of their options must be understood; a
// fragment header is refused, and so is an IPv4-mapped source or
// destination (an IPv6 packet must never pass for one from an IPv4 peer).
// Any protocol is accepted: Parse is the first step of every mode's
// receive path, and [Outer.Protocol] says which mode's Decap comes next.
//
// Errors: [ErrTruncated], [ErrVersion], [ErrHeaderLen], [ErrChecksum],
// [ErrFragment], [ErrOption], [ErrMappedAddr]. Parse never modifies b and
// never allocates.
func Parse(b []byte) (o Outer, payload []byte, err error) {
	payload, err = parse(b, &o)
	return o, payload, err
}

// parse is Parse writing into *o; it saves copying the Outer value around.
func parse(b []byte, o *Outer) ([]byte, error) {
	if len(b) == 0 {
		return nil, ErrTruncated
	}
	switch b[0] >> 4 {
	case 4:
		return parse4(b, o)
	case 6:
		return parse6(b, o)
	}
	return nil, ErrVersion
}

func parse4(b []byte, o *Outer) ([]byte, error) {
	h, err := iphdr.CheckIPv4(b, true)
	if err != nil {
		switch err {
		case iphdr.ErrHeaderLen:
			return nil, ErrHeaderLen
		case iphdr.ErrChecksum:
			return nil, ErrChecksum
		}
		return nil, ErrTruncated
	}
	if h.IsFragment() {
		return nil, ErrFragment
	}
	hl := h.HeaderLen()
	// Field by field: a composite literal would be built and then copied.
	o.Src, o.Dst = h.Src(), h.Dst()
	o.TTL, o.TOS, o.Protocol = h.TTL(), h.TOS(), IPProto(h.Protocol())
	o.HeaderLen, o.Len, o.ECNAlarm = hl, int(h.TotalLen()), false
	return b[hl:h.TotalLen()], nil
}

func parse6(b []byte, o *Outer) ([]byte, error) {
	h, err := iphdr.CheckIPv6(b)
	if err != nil {
		return nil, ErrTruncated
	}
	end := iphdr.IPv6Len + int(h.PayloadLen())
	off := iphdr.IPv6Len
	nh := h.NextHeader()
	for i := 0; i < maxExtHeaders; i++ {
		if nh != nhDestOpts && (nh != nhHopByHop || i != 0) {
			break
		}
		if end-off < 8 {
			return nil, ErrTruncated
		}
		n := (int(b[off+1]) + 1) * 8
		if end-off < n {
			return nil, ErrTruncated
		}
		if !skippableOptions(b[off+2 : off+n]) {
			return nil, ErrOption
		}
		nh = b[off]
		off += n
	}
	if nh == nhFragment {
		return nil, ErrFragment
	}
	o.Src, o.Dst = h.Src(), h.Dst()
	if o.Src.Is4In6() || o.Dst.Is4In6() {
		*o = Outer{}
		return nil, ErrMappedAddr
	}
	o.TTL, o.TOS, o.Protocol = h.HopLimit(), h.TrafficClass(), IPProto(nh)
	o.HeaderLen, o.Len, o.ECNAlarm = off, end, false
	return b[off:end], nil
}

// Option types Parse recognises in hop-by-hop and destination options.
const (
	optPad1       = 0
	optPadN       = 1
	optEncapLimit = 4 // RFC 2473 §4.1.1, tunnel encapsulation limit
)

// skippableOptions walks the type-length-value options of a hop-by-hop or
// destination options header and reports whether they are well formed and
// all either known (Pad1, PadN, the tunnel encapsulation limit) or marked
// "skip over this option" (the two high-order bits of the type 00, RFC
// 8200 §4.2).
func skippableOptions(opts []byte) bool {
	for len(opts) > 0 {
		t := opts[0]
		if t == optPad1 {
			opts = opts[1:]
			continue
		}
		if len(opts) < 2 || len(opts) < 2+int(opts[1]) {
			return false
		}
		if t != optPadN && t != optEncapLimit && t>>6 != 0 {
			return false
		}
		opts = opts[2+int(opts[1]):]
	}
	return true
}
