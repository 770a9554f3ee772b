// Package mobile implements minimal encapsulation within IP, RFC 2004: IP
// protocol 55 (outer.ProtoMinimal), the BSDs' "MOBILE" tunnel mode.
// Instead of a whole second IPv4 header (RFC 2003, package ipip), the
// encapsulator edits the datagram's own header and inserts an 8-byte
// minimal forwarding header (12 bytes when it has to keep the original
// source) between it and the payload:
//
//	before:  | IPv4 header (options) | payload |
//	after:   | IPv4 header (options) | minimal header | payload |
//	           proto 55, dst = Remote  original protocol, destination
//	           src = Local             [and source, S = 1]
//	           (S = 1 only)
//
// # Sending
//
// [NewEncapsulator] takes a [Config] (Local, the encapsulator, and Remote,
// the tunnel exit, as `ip tunnel add NAME mode mobile local S remote D`
// would spell them). [Encapsulator.Encap] works in place: the datagram is
// read into a buffer behind [Encapsulator.Overhead] (12) bytes of
// headroom, only its IPv4 header (20 to 60 bytes) moves, and the payload
// is never copied. It has the same two methods as ipip.Encapsulator and
// gre.Encapsulator, so a tunnel engine drives all three alike.
//
// # Receiving
//
// A receiver parses the outer header once with outer.Parse (which checks
// version, lengths, header checksum and fragments), looks the tunnel up by
// its addresses, and hands the datagram and its outer.Outer to [Decap],
// which restores the original datagram in place. Capture tools that must
// not write to the buffer call [Parse] on the payload outer.Parse returns:
// it validates the minimal forwarding header and returns a [Header] view
// of it, whose accessors cannot panic. [Fields.Encode] writes a minimal
// forwarding header on its own.
//
// Choices, where RFC 2004 and SPEC leave them open:
//   - S is set, and the source replaced by Local, exactly when Local
//     differs from the datagram's source (RFC 2004 §3: "If the
//     encapsulator is not the original source of the datagram").
//   - Local and Remote must be specified IPv4 addresses; IPv4-mapped IPv6
//     addresses are refused, as outer.Config refuses them.
//   - TTL, TOS (ECN bits included), identification, flags and options are
//     left as they are, on both sides: there is one IP header, so no
//     RFC 6040 step. The IPv4 header checksum is updated incrementally
//     (RFC 1624); the minimal header's checksum covers the minimal header
//     alone.
//   - Fragments (MF set or offset ≠ 0) are refused with [ErrFragment]: the
//     minimal header would end up in the first fragment only. Callers may
//     fall back to IP in IP.
//   - The datagram to encapsulate must have a valid header checksum and
//     fill its buffer exactly. A received packet with protocol 55 over
//     IPv6 is refused with [ErrProtocol]: RFC 2004 defines minimal
//     encapsulation for IPv4 only. Reserved bits other than S are refused.
//
// Nothing on the per-packet paths allocates, and wire input never causes a
// panic. Errors are package-level sentinels matchable with [errors.Is],
// each of one kind of package [github.com/ipencap/ipencap] (frame,
// checksum, protocol); configuration errors are [*ConfigError] values.
package mobile
