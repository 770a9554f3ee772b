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
// returns a [Header] view. The flags word and protocol type are kept as
// validated; the accessors read the optional fields from the wire bytes:
// Key, Seq, Ack, Checksum, Payload (a sub-slice, never a copy), and
// Routing, an iterator over the source route entries. Parsing never
// allocates and never panics, and no accessor panics, on the zero Header
// or after the caller changed the packet bytes. Bad input gets a sentinel
// error such as [ErrTruncated], [ErrVersion], [ErrReservedBits], [ErrPPTP]
// or [ErrChecksum] (see errors.go), matchable with errors.Is; each is of
// one error kind of package ipencap.
//
// Strictness is explicit, a [Mode]; an unknown Mode fails every packet
// with [ErrMode]:
//   - [ModeLinux] (the default) accepts what the Linux kernel accepts, and
//     that depends on the outer IP version ([Decoder.OverIPv6]). Over
//     IPv6, ip6_gre calls only gre_parse_header: version 0 with C, K and
//     S; the s bit, recursion control and flag bits 8–12 ignored; R and
//     versions 1–7 rejected. Over IPv4 the packet first passes gre_rcv
//     (net/ipv4/gre_demux.c), which drops a GRE packet shorter than 12
//     bytes, header and payload together ([ErrTruncated]; keepalive
//     replies excepted, see [ModeLinux]), and reads the version as
//     data[1] & 0x7f, so any of the reserved flag bits 9–12 set drops it
//     (only bit 8 is ignored in version 0); version 1 is then taken under
//     the rules of today's pptp_rcv (drivers/net/ppp/pptp.c): K set, C
//     and R clear, protocol PPP, s and recursion control ignored.
//   - [ModeRFC2784] rejects R, s and the top recursion bit (bits 1, 4, 5;
//     bits 2 and 3 are RFC 2890's K and S) and version 1; ignores bits 6–12.
//   - [ModeRFC1701] accepts all of RFC 1701, routing included, and
//     version 1 under RFC 2637 (s and recursion control zero). What it
//     accepts re-encodes byte for byte, a checksum of 0xffff (one's
//     complement's other zero) included.
//
// The checksum (C bit) is the Internet checksum over the GRE header and
// payload with the checksum field zero, with no pseudo-header. Parse
// verifies it whenever C is set, in every mode, as Linux does;
// [Decoder.NoVerifyChecksum] turns that off (capture tools, benchmarks),
// and [Header.ChecksumValid] gives the verdict on demand.
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
// recognise and reflect Cisco-style keepalives; a keepalive is never
// reflected to a broadcast, multicast, loopback, unspecified or link-local
// destination ([Reflectable]). [SeqCounter] numbers
// outgoing packets; [SeqWindow] is the RFC 2890 receive window (drop and
// count what is at or behind the last delivered number) and [Reorder] adds
// the optional bounded reorder buffer (MAX_PERFLOW_BUFFER packets, at most
// OUTOFORDER_TIMER each, delivered in order; [NewReorder] bounds both by
// [MaxReorderPackets] and [MaxReorderWait]). Keep one per key: RFC 2890
// numbers each keyed flow on its own.
package gre
