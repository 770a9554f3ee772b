// Package gre encodes and decodes Generic Routing Encapsulation headers:
// RFC 1701 (checksum, routing with source route entries, key, sequence
// number, strict source route, recursion control), RFC 1702 (GRE over
// IPv4), RFC 2784 (the current base), RFC 2890 (key and sequence number
// extensions) and version 1, PPTP's enhanced GRE of RFC 2637 (payload
// length and call ID in the key, acknowledgment number).
//
// # Decoding
//
// [Parse] (or [Decoder.Parse] with options) validates a header once and
// returns a [Header] view whose accessors read the wire bytes: Key, Seq,
// Ack, Checksum, Protocol, Payload (a sub-slice, never a copy), and
// Routing, an iterator over the source route entries. Parsing never
// allocates and never panics; bad input gets a sentinel error such as
// [ErrTruncated], [ErrVersion], [ErrReservedBits], [ErrPPTP] or
// [ErrChecksum], matchable with errors.Is.
//
// Strictness is explicit, a [Mode]:
//   - [ModeLinux] (the default) accepts what the Linux kernel accepts:
//     version 0 with C, K and S, the s bit, recursion control and
//     reserved flag bits ignored; version 1 under the PPTP rules; the
//     routing bit R rejected.
//   - [ModeRFC2784] rejects R, s and the top recursion bit (bits 1, 4, 5;
//     bits 2 and 3 are RFC 2890's K and S) and version 1; ignores bits 6–12.
//   - [ModeRFC1701] accepts all of RFC 1701, routing included, and
//     version 1. What it accepts re-encodes byte for byte.
//
// The checksum (C bit) is the Internet checksum over the GRE header and
// payload with the checksum field zero, with no pseudo-header. Set
// [Decoder.VerifyChecksum] to verify it while parsing, or call
// [Header.ChecksumValid].
//
// # Encoding
//
// [Fields] holds every field; [Fields.Encode] writes the header into a
// caller's buffer in front of the payload already there, computing the
// checksum over both, and [Fields.Append] appends header and payload. Both
// never allocate when the buffer is large enough. [Header.Fields] fills a
// Fields from a parsed header, so decode(encode(f)) == f.
//
// # Keys, keepalives and sequence numbers
//
// [Key] prints and parses keys as `ip tunnel` does (a number or a dotted
// quad). [AppendKeepalive], [IsKeepalive] and [KeepaliveMatcher] build,
// recognise and reflect Cisco-style keepalives. [SeqCounter] numbers
// outgoing packets; [SeqWindow] is the RFC 2890 receive window (drop and
// count what is at or behind the last delivered number) and [Reorder] adds
// the optional bounded reorder buffer (MAX_PERFLOW_BUFFER packets, at most
// OUTOFORDER_TIMER each, delivered in order). Keep one per key: RFC 2890
// numbers each keyed flow on its own.
package gre
