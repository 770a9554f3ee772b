package ipip

import (
	"math/rand/v2"
	"sync/atomic"

	"github.com/ipencap/ipencap/internal/checksum"
	"github.com/ipencap/ipencap/internal/iphdr"
)

// Protocol numbers of the inner packets this package carries: the IPv4
// protocol field and the IPv6 next header share one number space.
const (
	// ProtoIPv4 (4) is IPv4 inside IPv4 (RFC 2003) or IPv6 (RFC 2473).
	ProtoIPv4 uint8 = 4
	// ProtoIPv6 (41) is IPv6 inside IPv4 (RFC 4213 "6in4") or IPv6.
	ProtoIPv6 uint8 = 41
)

// Header sizes and defaults.
const (
	// IPv4HeaderLen is the length of the outer IPv4 header Encap writes
	// (no options): the headroom an IPv4 tunnel needs.
	IPv4HeaderLen = iphdr.IPv4MinLen
	// IPv6HeaderLen is the length of the outer IPv6 header Encap writes
	// (no extension headers): the headroom an IPv6 tunnel needs.
	IPv6HeaderLen = iphdr.IPv6Len
	// DefaultTTL is the TTL or hop limit used with TTL inherit when the
	// inner packet is not IP: 64, the default of RFC 1700 and RFC 2473 §6.3.
	DefaultTTL = 64
)

// Inner is what the outer header rules read from the inner packet: TTL
// for ttl inherit, TOS for tos inherit and the ECN rules, DF for
// nopmtudisc. [InnerOf] fills it from an IPv4 or IPv6 packet; a caller
// whose inner packet is not IP (a GRE tunnel carrying Ethernet) passes
// the zero Inner.
type Inner struct {
	// Version is 4 or 6 for an IP inner packet, 0 for anything else.
	Version uint8
	// TTL is the inner IPv4 TTL or IPv6 hop limit.
	TTL uint8
	// TOS is the inner IPv4 TOS or IPv6 traffic class, with its ECN bits.
	TOS uint8
	// DF is the inner IPv4 "don't fragment" flag (false for IPv6).
	DF bool
}

// InnerOf checks the IPv4 or IPv6 packet p and returns its [Inner]. The
// packet must fill p exactly (its total length, or 40 + payload length,
// equals len(p)); its IPv4 header checksum is not verified. Errors:
// [ErrInnerTruncated], [ErrInnerVersion], [ErrInnerHeaderLen],
// [ErrInnerLength], [ErrInnerTTL]. InnerOf never allocates.
func InnerOf(p []byte) (Inner, error) {
	if len(p) == 0 {
		return Inner{}, ErrInnerTruncated
	}
	switch p[0] >> 4 {
	case 4:
		h, err := iphdr.CheckIPv4(p, false)
		if err != nil {
			return Inner{}, innerErr(err)
		}
		if int(h.TotalLen()) != len(p) {
			return Inner{}, ErrInnerLength
		}
		if h.TTL() == 0 {
			return Inner{}, ErrInnerTTL
		}
		return Inner{Version: 4, TTL: h.TTL(), TOS: h.TOS(), DF: h.DF()}, nil
	case 6:
		h, err := iphdr.CheckIPv6(p)
		if err != nil {
			return Inner{}, innerErr(err)
		}
		if iphdr.IPv6Len+int(h.PayloadLen()) != len(p) {
			return Inner{}, ErrInnerLength
		}
		if h.HopLimit() == 0 {
			return Inner{}, ErrInnerTTL
		}
		return Inner{Version: 6, TTL: h.HopLimit(), TOS: h.TrafficClass()}, nil
	}
	return Inner{}, ErrInnerVersion
}

// innerErr turns an iphdr check error on the inner packet into ours.
func innerErr(err error) error {
	switch err {
	case iphdr.ErrVersion:
		return ErrInnerVersion
	case iphdr.ErrHeaderLen:
		return ErrInnerHeaderLen
	}
	return ErrInnerTruncated
}

// Encapsulator writes the outer headers of one tunnel. It is safe for
// concurrent use: its configuration is fixed at [NewEncapsulator] and the
// IPv4 identification counter is atomic.
type Encapsulator struct {
	cfg    Config
	hdrLen int
	id     atomic.Uint32
	// tmpl is the outer header with the fields that never change (version,
	// IHL, flow label, addresses) filled in and the others zero; sum is
	// the one's complement sum of an IPv4 template, to which Prepend adds
	// the per-packet words instead of summing the whole header again.
	tmpl [IPv6HeaderLen]byte
	sum  uint16
}

// NewEncapsulator validates cfg (see [Config.Validate]) and returns an
// Encapsulator for it. The outer IPv4 identification counter starts at a
// random value (RFC 6864 §4.1 asks that IDs not be predictable across
// tunnels and restarts).
func NewEncapsulator(cfg Config) (*Encapsulator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Encapsulator{cfg: cfg, hdrLen: IPv4HeaderLen}
	if cfg.Local.Is6() {
		e.hdrLen = IPv6HeaderLen
		iphdr.IPv6(e.tmpl[:]).Encode(&iphdr.IPv6Fields{FlowLabel: cfg.FlowLabel, Src: cfg.Local, Dst: cfg.Remote})
	} else {
		iphdr.IPv4(e.tmpl[:]).Encode(&iphdr.IPv4Fields{Src: cfg.Local, Dst: cfg.Remote})
		e.tmpl[10], e.tmpl[11] = 0, 0
		e.sum = checksum.Sum(e.tmpl[:IPv4HeaderLen], 0)
	}
	e.id.Store(rand.Uint32())
	return e, nil
}

// Config returns the configuration e was made with.
func (e *Encapsulator) Config() Config { return e.cfg }

// HeaderLen returns the length of the outer header e writes, the headroom
// it needs in front of the packet: [IPv4HeaderLen] or [IPv6HeaderLen].
func (e *Encapsulator) HeaderLen() int { return e.hdrLen }

// Encap encapsulates the IPv4 or IPv6 packet b[off:] in place: it writes
// the outer header into b[off-HeaderLen():off] and returns that start, so
// the tunnel packet is b[start:]. The protocol is 4 for an IPv4 inner
// packet and 41 for IPv6. The inner packet must fill b[off:] exactly and
// is checked by [InnerOf]; the outer fields follow the rules of
// [Encapsulator.Prepend]. Errors: those of InnerOf, [ErrShortBuffer],
// [ErrTooLong]. Encap never allocates.
func (e *Encapsulator) Encap(b []byte, off int) (start int, err error) {
	if off < e.hdrLen || off > len(b) {
		return 0, ErrShortBuffer
	}
	in, err := InnerOf(b[off:])
	if err != nil {
		return 0, err
	}
	proto := ProtoIPv4
	if in.Version == 6 {
		proto = ProtoIPv6
	}
	return e.Prepend(b, off, proto, in)
}

// Prepend writes an outer header with protocol (IPv4) or next header
// (IPv6) proto in front of b[off:], whatever it holds, into
// b[off-HeaderLen():off], and returns that start; the outer packet is
// b[start:]. This is the building block for other encapsulations over
// IP: a GRE sender writes its GRE header in front of the inner packet,
// then calls Prepend with proto 47 and the inner packet's [Inner] (the
// zero Inner when it is not IP).
//
// The outer fields:
//   - TTL or hop limit: Config.TTL, or with TTL 0 the inner TTL (DefaultTTL
//     if the inner packet is not IP). An IP inner packet with TTL 0 is
//     refused with [ErrInnerTTL].
//   - TOS or traffic class: the DSCP part of Config.TOS, or of the inner TOS
//     with InheritTOS; the ECN part by RFC 6040: in normal mode the inner
//     ECN with CE turned into ECT(0), in compatibility mode Not-ECT.
//   - IPv4 DF: always set under path-MTU discovery (the default); with
//     NoPMTUDisc copied from the inner IPv4 header (RFC 2003 §3.1).
//   - IPv4 identification: the next value of the Encapsulator's atomic
//     counter, skipping 0, so concurrent senders never share an ID until
//     the 16-bit counter wraps. The fragment offset is 0 and MF clear.
//   - IPv4 header checksum: computed.
//   - IPv6 flow label: Config.FlowLabel.
//   - Total length or payload length: from len(b) - off.
//
// Errors: [ErrShortBuffer], [ErrTooLong], [ErrInnerTTL]. Prepend never
// allocates.
func (e *Encapsulator) Prepend(b []byte, off int, proto uint8, in Inner) (start int, err error) {
	if off < e.hdrLen || off > len(b) {
		return 0, ErrShortBuffer
	}
	ttl := e.cfg.TTL
	if ttl == 0 {
		ttl = in.TTL
		if in.Version == 0 {
			ttl = DefaultTTL
		}
	}
	if in.Version != 0 && in.TTL == 0 {
		return 0, ErrInnerTTL
	}
	tos := e.cfg.TOS
	if e.cfg.InheritTOS {
		tos = in.TOS &^ 0b11
	}
	if e.cfg.ECN == ECNNormal {
		tos |= uint8(EncapECN(ECNOf(in.TOS)))
	}
	n := len(b) - off
	maxPayload := 0xffff - IPv4HeaderLen // the IPv4 total length counts the header
	if e.hdrLen == IPv6HeaderLen {
		maxPayload = 0xffff // the IPv6 payload length does not
	}
	if n > maxPayload {
		return 0, ErrTooLong
	}
	start = off - e.hdrLen
	h := b[start:off]
	copy(h, e.tmpl[:e.hdrLen])
	if e.hdrLen == IPv6HeaderLen {
		v6 := iphdr.IPv6(h)
		v6.SetTrafficClass(tos)
		v6.SetPayloadLen(uint16(n))
		v6.SetNextHeader(proto)
		v6.SetHopLimit(ttl)
		return start, nil
	}
	var flags uint16
	if !e.cfg.NoPMTUDisc || in.DF {
		flags = iphdr.IPv4FlagDF
	}
	total := uint16(IPv4HeaderLen + n)
	id := e.nextID()
	v4 := iphdr.IPv4(h)
	v4.SetTOS(tos)
	v4.SetTotalLen(total)
	v4.SetID(id)
	v4.SetFlagsFragOff(flags)
	v4.SetTTL(ttl)
	v4.SetProtocol(proto)
	// The template's sum plus the words that vary (RFC 1071 §2(C): the
	// sum can be taken in any grouping).
	sum := uint32(e.sum) + uint32(tos) + uint32(total) + uint32(id) + uint32(flags) + uint32(ttl)<<8 + uint32(proto)
	sum = sum&0xffff + sum>>16
	sum = sum&0xffff + sum>>16
	v4.SetChecksum(^uint16(sum))
	return start, nil
}

// nextID returns the next IPv4 identification, never 0.
func (e *Encapsulator) nextID() uint16 {
	for {
		if id := uint16(e.id.Add(1)); id != 0 {
			return id
		}
	}
}
