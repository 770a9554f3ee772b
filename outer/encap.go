package outer

import (
	"math/rand/v2"
	"sync/atomic"

	"github.com/ipencap/ipencap/checksum"
	"github.com/ipencap/ipencap/iphdr"
)

// Header sizes and defaults.
const (
	// IPv4HeaderLen is the length of the outer IPv4 header Prepend writes
	// (no options): the headroom an IPv4 tunnel needs.
	IPv4HeaderLen = iphdr.IPv4MinLen
	// IPv6HeaderLen is the length of the outer IPv6 header Prepend writes
	// (no extension headers): the headroom an IPv6 tunnel needs.
	IPv6HeaderLen = iphdr.IPv6Len
	// DefaultTTL is the TTL or hop limit used with TTL inherit when the
	// inner packet is not IP: 64, the default of RFC 1700 and RFC 2473 §6.3.
	DefaultTTL = 64
)

// Encapsulator writes the outer IPv4 or IPv6 header of one tunnel in front
// of any payload ([Encapsulator.Prepend]). It is safe for
// concurrent use: its configuration is fixed at [NewEncapsulator] and the
// IPv4 identification counter is atomic.
type Encapsulator struct {
	// What Prepend reads for every packet comes first: a tunnel out of
	// the cache (a hub's random spoke) costs as few cache lines as can be.
	hdrLen int
	id     atomic.Uint32
	sum    uint16
	// tmpl is the outer header with the fields that never change (version,
	// IHL, flow label, addresses) filled in and the others zero; sum is
	// the one's complement sum of an IPv4 template, to which Prepend adds
	// the per-packet words instead of summing the whole header again.
	tmpl [IPv6HeaderLen]byte
	cfg  Config
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

// Overhead returns the length of the outer header e writes, the headroom
// it needs in front of the payload: [IPv4HeaderLen] or [IPv6HeaderLen].
func (e *Encapsulator) Overhead() int { return e.hdrLen }

// Prepend writes an outer header with protocol (IPv4) or next header
// (IPv6) proto in front of b[off:], whatever it holds, into
// b[off-Overhead():off], and returns that start; the outer packet is
// b[start:]. Every mode's Encapsulator is built on it: gre.Encapsulator
// writes its GRE header in front of the inner packet, then calls Prepend
// with [ProtoGRE] and the inner packet's [Inner] (the zero Inner when it is
// not IP); ipip.Encapsulator calls it with [ProtoIPIP] or [ProtoIPv6].
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
func (e *Encapsulator) Prepend(b []byte, off int, proto IPProto, in Inner) (start int, err error) {
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
		v6.SetNextHeader(uint8(proto))
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
	v4.SetProtocol(uint8(proto))
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
