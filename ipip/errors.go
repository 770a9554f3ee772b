package ipip

import (
	"errors"
	"fmt"
	"io"
)

// Errors returned on the per-packet paths (Encap, Prepend, InnerOf, Parse,
// Decap, ApplyECN). Each is a package-level value, so returning one never
// allocates; match them with [errors.Is].
var (
	// ErrTruncated means the buffer ends inside the outer header, before
	// the IPv4 total length or the IPv6 payload length it declares, or
	// inside an IPv6 extension header. It matches [io.ErrUnexpectedEOF].
	ErrTruncated = fmt.Errorf("ipip: truncated outer header: %w", io.ErrUnexpectedEOF)
	// ErrVersion means the outer version nibble is neither 4 nor 6.
	ErrVersion = errors.New("ipip: outer IP version is not 4 or 6")
	// ErrHeaderLen means an outer IPv4 IHL below 5 or a total length
	// below the header length.
	ErrHeaderLen = errors.New("ipip: bad outer IPv4 header length")
	// ErrChecksum means the outer IPv4 header checksum is wrong.
	ErrChecksum = errors.New("ipip: bad outer IPv4 header checksum")
	// ErrFragment means the outer packet is a fragment (IPv4 MF set or a
	// nonzero fragment offset, or an IPv6 fragment header): it must be
	// reassembled before it can be decapsulated.
	ErrFragment = errors.New("ipip: outer packet is a fragment")
	// ErrOption means an outer IPv6 hop-by-hop or destination option that
	// a node which does not know it must not skip (action bits other than
	// 00, RFC 8200 §4.2), or a malformed option.
	ErrOption = errors.New("ipip: outer IPv6 option that cannot be skipped")
	// ErrProtocol means Decap found an outer protocol (IPv4) or final next
	// header (IPv6) other than 4 (IPv4) and 41 (IPv6).
	ErrProtocol = errors.New("ipip: outer protocol is not 4 (IPv4) or 41 (IPv6)")

	// ErrInnerTruncated means the inner packet is shorter than its header
	// or than the length that header declares.
	ErrInnerTruncated = fmt.Errorf("ipip: truncated inner packet: %w", io.ErrUnexpectedEOF)
	// ErrInnerVersion means the inner version nibble does not match the
	// outer protocol (4 for protocol 4, 6 for 41), or, from Encap and
	// InnerOf, is neither 4 nor 6.
	ErrInnerVersion = errors.New("ipip: inner IP version does not match")
	// ErrInnerHeaderLen means an inner IPv4 IHL below 5 or a total length
	// below the header length.
	ErrInnerHeaderLen = errors.New("ipip: bad inner IPv4 header length")
	// ErrInnerLength means, from Encap and InnerOf, that the inner packet
	// is longer than the length its header declares: the inner packet must
	// fill the buffer exactly.
	ErrInnerLength = errors.New("ipip: inner packet longer than its header says")
	// ErrInnerTTL means an inner TTL or hop limit of 0. RFC 2003 §3.1: "An
	// encapsulator MUST NOT encapsulate a datagram with TTL = 0", and "If,
	// after decapsulation, the inner datagram has TTL = 0, the decapsulator
	// MUST discard the datagram". The same rule is applied to IPv6.
	ErrInnerTTL = errors.New("ipip: inner TTL or hop limit is 0")

	// ErrECNDrop means the outer header is marked CE (congestion
	// experienced) but the inner packet is Not-ECT: RFC 6040 requires the
	// decapsulator to drop it, since the congestion signal cannot be
	// passed on. It is one of the combinations RFC 6040 marks as worth
	// logging.
	ErrECNDrop = errors.New("ipip: outer CE over a Not-ECT inner packet (RFC 6040 drop)")

	// ErrShortBuffer means there is no room for the outer header: the
	// offset of the inner packet is smaller than the outer header length,
	// or lies outside the buffer. It matches [io.ErrShortBuffer].
	ErrShortBuffer = fmt.Errorf("ipip: no headroom for the outer header: %w", io.ErrShortBuffer)
	// ErrTooLong means the outer packet would exceed 65535 bytes (IPv4
	// total length, IPv6 payload length).
	ErrTooLong = errors.New("ipip: packet too long to encapsulate")
)

// Configuration errors, wrapped in a [*ConfigError] by [Config.Validate]
// and [NewEncapsulator].
var (
	// ErrConfigAddr means Local or Remote is not a valid address, the two
	// are of different families, or one is an IPv4-mapped IPv6 address.
	ErrConfigAddr = errors.New("ipip: local and remote must be valid addresses of one family")
	// ErrConfigPMTUDisc means a fixed TTL together with NoPMTUDisc. Linux
	// refuses the same ("ttl != 0 and nopmtudisc are incompatible"): a
	// fixed TTL with DF clear would let inner packets be fragmented in the
	// tunnel without any path-MTU signal reaching their sources.
	ErrConfigPMTUDisc = errors.New("ipip: a fixed ttl needs path MTU discovery (use ttl inherit with nopmtudisc)")
	// ErrConfigNoPMTUDisc6 means NoPMTUDisc over an IPv6 outer header,
	// which has no DF bit: routers never fragment IPv6 packets.
	ErrConfigNoPMTUDisc6 = errors.New("ipip: nopmtudisc has no meaning over IPv6")
	// ErrConfigTOS means a fixed TOS with ECN bits set (they are set by
	// the RFC 6040 rules) or a nonzero TOS together with InheritTOS.
	ErrConfigTOS = errors.New("ipip: tos must leave the ECN bits 0, and be 0 with inherit")
	// ErrConfigFlowLabel means a flow label wider than 20 bits, or one set
	// for an IPv4 outer header.
	ErrConfigFlowLabel = errors.New("ipip: flow label must fit 20 bits and needs an IPv6 outer header")
	// ErrConfigECNMode means an unknown ECNMode.
	ErrConfigECNMode = errors.New("ipip: unknown ECN mode")
)
