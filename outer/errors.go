package outer

import (
	"errors"
	"io"

	"github.com/ipencap/ipencap"
)

// Errors returned on the per-packet paths (Encapsulator.Prepend, InnerOf,
// Parse, ApplyECN). Each is a package-level value, so returning one never
// allocates; match them with [errors.Is], by value or by their kind from
// package [ipencap] (named with each).
var (
	// ErrTruncated (kind [ipencap.ErrFrame]) means the buffer ends inside
	// the outer header, before the IPv4 total length or the IPv6 payload
	// length it declares, or inside an IPv6 extension header. It matches
	// [io.ErrUnexpectedEOF] too.
	ErrTruncated = ipencap.NewError("outer: truncated outer header", io.ErrUnexpectedEOF, ipencap.ErrFrame)
	// ErrVersion (kind [ipencap.ErrFrame]) means the outer version nibble
	// is neither 4 nor 6.
	ErrVersion = ipencap.NewError("outer: outer IP version is not 4 or 6", ipencap.ErrFrame)
	// ErrHeaderLen (kind [ipencap.ErrFrame]) means an outer IPv4 IHL below
	// 5 or a total length below the header length.
	ErrHeaderLen = ipencap.NewError("outer: bad outer IPv4 header length", ipencap.ErrFrame)
	// ErrChecksum (kind [ipencap.ErrChecksum]) means the outer IPv4 header
	// checksum is wrong.
	ErrChecksum = ipencap.NewError("outer: bad outer IPv4 header checksum", ipencap.ErrChecksum)
	// ErrFragment (kind [ipencap.ErrFrame]) means the outer packet is a
	// fragment (IPv4 MF set or a nonzero fragment offset, or an IPv6
	// fragment header): it must be reassembled before it can be
	// decapsulated.
	ErrFragment = ipencap.NewError("outer: outer packet is a fragment", ipencap.ErrFrame)
	// ErrOption (kind [ipencap.ErrFrame]) means an outer IPv6 hop-by-hop or
	// destination option that a node which does not know it must not skip
	// (action bits other than 00, RFC 8200 §4.2), or a malformed option.
	ErrOption = ipencap.NewError("outer: outer IPv6 option that cannot be skipped", ipencap.ErrFrame)
	// ErrMappedAddr (kind [ipencap.ErrFrame]) means an IPv6 outer header
	// whose source or destination is an IPv4-mapped address
	// (::ffff:0:0/96). Such an address never appears on an IPv6 wire (RFC
	// 4291 §2.5.5.2); accepting it would let an IPv6 packet pass for one
	// from an IPv4 peer, past IPv4-only filters.
	ErrMappedAddr = ipencap.NewError("outer: IPv4-mapped address in an IPv6 outer header", ipencap.ErrFrame)

	// ErrInnerTruncated (kind [ipencap.ErrFrame]) means the inner packet
	// is shorter than its header or than the length that header declares.
	// It matches [io.ErrUnexpectedEOF] too.
	ErrInnerTruncated = ipencap.NewError("outer: truncated inner packet", io.ErrUnexpectedEOF, ipencap.ErrFrame)
	// ErrInnerVersion (kind [ipencap.ErrProtocol]) means the inner version
	// nibble is neither 4 nor 6 where an IP packet is required.
	ErrInnerVersion = ipencap.NewError("outer: inner packet is not IPv4 or IPv6", ipencap.ErrProtocol)
	// ErrInnerHeaderLen (kind [ipencap.ErrFrame]) means an inner IPv4 IHL
	// below 5 or a total length below the header length.
	ErrInnerHeaderLen = ipencap.NewError("outer: bad inner IPv4 header length", ipencap.ErrFrame)
	// ErrInnerLength (kind [ipencap.ErrFrame]) means, from InnerOf, that
	// the inner packet is longer than the length its header declares: the
	// inner packet must fill the buffer exactly.
	ErrInnerLength = ipencap.NewError("outer: inner packet longer than its header says", ipencap.ErrFrame)
	// ErrInnerTTL (kind [ipencap.ErrFrame]) means an inner TTL or hop limit
	// of 0. RFC 2003 §3.1: "An encapsulator MUST NOT encapsulate a datagram
	// with TTL = 0", and "If, after decapsulation, the inner datagram has
	// TTL = 0, the decapsulator MUST discard the datagram". The same rule is
	// applied to IPv6.
	ErrInnerTTL = ipencap.NewError("outer: inner TTL or hop limit is 0", ipencap.ErrFrame)

	// ErrECNDrop (kind [ipencap.ErrFrame]) means the outer header is marked
	// CE (congestion experienced) but the inner packet is Not-ECT: RFC 6040
	// requires the decapsulator to drop it, since the congestion signal
	// cannot be passed on. It is one of the combinations RFC 6040 marks as
	// worth logging.
	ErrECNDrop = ipencap.NewError("outer: outer CE over a Not-ECT inner packet (RFC 6040 drop)", ipencap.ErrFrame)

	// ErrShortBuffer (kind [ipencap.ErrFrame]) means there is no room for
	// the outer header: the offset of the inner packet is smaller than the
	// outer header length, or lies outside the buffer. It matches
	// [io.ErrShortBuffer] too.
	ErrShortBuffer = ipencap.NewError("outer: no headroom for the outer header", io.ErrShortBuffer, ipencap.ErrFrame)
	// ErrTooLong (kind [ipencap.ErrFrame]) means the outer packet would
	// exceed 65535 bytes (IPv4 total length, IPv6 payload length).
	ErrTooLong = ipencap.NewError("outer: packet too long to encapsulate", ipencap.ErrFrame)
)

// Configuration errors, wrapped in a [*ConfigError] by [Config.Validate]
// and [NewEncapsulator].
var (
	// ErrConfigAddr means Local or Remote is missing, unspecified (0.0.0.0
	// or ::, which would go on the wire as a source or destination), an
	// IPv4-mapped IPv6 address, or the two are of different families.
	ErrConfigAddr = errors.New("outer: local and remote must be specified addresses of one family")
	// ErrConfigPMTUDisc means a fixed TTL together with NoPMTUDisc. Linux
	// refuses the same ("ttl != 0 and nopmtudisc are incompatible"): a
	// fixed TTL with DF clear would let inner packets be fragmented in the
	// tunnel without any path-MTU signal reaching their sources.
	ErrConfigPMTUDisc = errors.New("outer: a fixed ttl needs path MTU discovery (use ttl inherit with nopmtudisc)")
	// ErrConfigNoPMTUDisc6 means NoPMTUDisc over an IPv6 outer header,
	// which has no DF bit: routers never fragment IPv6 packets.
	ErrConfigNoPMTUDisc6 = errors.New("outer: nopmtudisc has no meaning over IPv6")
	// ErrConfigTOS means a fixed TOS with ECN bits set (they are set by
	// the RFC 6040 rules) or a nonzero TOS together with InheritTOS.
	ErrConfigTOS = errors.New("outer: tos must leave the ECN bits 0, and be 0 with inherit")
	// ErrConfigFlowLabel means a flow label wider than 20 bits, or one set
	// for an IPv4 outer header.
	ErrConfigFlowLabel = errors.New("outer: flow label must fit 20 bits and needs an IPv6 outer header")
	// ErrConfigECNMode means an unknown ECNMode.
	ErrConfigECNMode = errors.New("outer: unknown ECN mode")
)
