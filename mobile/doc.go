// Package mobile implements minimal encapsulation within IP, RFC 2004: IP
// protocol 55, the "MOBILE" mode of the BSDs' gre(4) interfaces. Instead of
// a whole second IPv4 header (RFC 2003, package ipip), the encapsulator
// edits the datagram's own header and inserts an 8-byte minimal forwarding
// header (12 bytes when it has to keep the original source) between it and
// the payload:
//
//	before:  | IPv4 header (options) | payload |
//	after:   | IPv4 header (options) | minimal header | payload |
//	           proto 55, dst = exit    original protocol, destination
//	           src = encapsulator      [and source, S = 1]
//	           (S = 1 only)
//
// [Encapsulate] and [Decapsulate] work in place: the datagram is read into
// a buffer with at least 12 bytes of headroom, only the IPv4 header (20 to
// 60 bytes) moves, and the payload is never copied. [Parse] validates a
// minimal forwarding header and returns a [Header] view; [Fields.Encode]
// writes one.
//
// Choices, where RFC 2004 and SPEC leave them open:
//   - S is set, and the source replaced by the encapsulator, exactly when
//     the encapsulator address given is valid and differs from the
//     datagram's source; the zero Addr means "the encapsulator is the
//     original source".
//   - TTL, TOS, identification, flags and options are left as they are,
//     on both sides; the IPv4 header checksum is recomputed, the minimal
//     header's checksum covers the minimal header alone.
//   - Fragments (MF set or offset ≠ 0) are refused with [ErrFragment]: the
//     minimal header would end up in the first fragment only. Callers may
//     fall back to IP in IP.
//   - The datagram to encapsulate must have a valid header checksum and
//     fill its buffer exactly; the datagram to decapsulate must have a
//     valid header checksum and is not a fragment. Reserved bits other
//     than S are refused.
//
// Nothing allocates and wire input never causes a panic. Errors are
// package-level sentinels matchable with [errors.Is].
package mobile
