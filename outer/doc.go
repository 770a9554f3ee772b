// Package outer is the outer IPv4 or IPv6 header layer that every tunnel
// mode shares, what Linux keeps in net/ipv4/ip_tunnel.c under its thin
// ipip.c and ip_gre.c: IPv4 outer headers (RFC 791, as RFC 2003 and RFC
// 2784 use them) and IPv6 outer headers (RFC 2473), with ECN handled by
// RFC 6040.
//
// # Sending
//
// [NewEncapsulator] takes a [Config] (local, remote, ttl, tos, nopmtudisc,
// as `ip tunnel add` spells them). [Encapsulator.Prepend] writes the outer
// header in place, in the headroom in front of a payload, with an explicit
// [IPProto] and the inner packet's [Inner] fields, and returns where the
// tunnel packet starts: nothing is copied. The modes build on it: package
// gre writes its GRE header and then calls Prepend with [ProtoGRE], package
// ipip calls it with [ProtoIPIP] or [ProtoIPv6]. Choices, with the RFC or
// Linux behaviour behind them:
//
//   - TTL: fixed (1–255) or 0 = inherit the inner TTL or hop limit
//     (Linux's default; [DefaultTTL] when the inner packet is not IP).
//     Inheriting TTL 1 kills OSPF and similar packets one hop out: prefer
//     a fixed TTL. A packet whose TTL is already 0 is not encapsulated
//     (RFC 2003 §3.1).
//   - TOS / traffic class: fixed (default 0) or inherit, DSCP bits only.
//   - ECN (RFC 6040 §4.1): normal mode copies the inner ECN with CE turned
//     into ECT(0); compatibility mode sends Not-ECT.
//   - DF: with path-MTU discovery (the default) the outer IPv4 DF bit is
//     always set, whatever the inner packet says, as Linux does.
//     NoPMTUDisc stops forcing it: the outer DF is then a copy of the inner
//     IPv4 DF, because RFC 2003 §3.1 says that if DF "is set in the inner
//     IP header, it MUST be set in the outer IP header" (Linux copies it
//     too); it is clear for IPv6 and non-IP inner packets. A fixed TTL
//     with NoPMTUDisc is a configuration error, as on Linux.
//   - Identification: a per-Encapsulator atomic counter that starts at a
//     random value and skips 0, so concurrent senders get distinct IDs.
//   - Addresses: Local and Remote must be specified addresses of one
//     family; the unspecified address is refused rather than sent.
//   - No IPv4 options and no IPv6 extension headers are sent (in
//     particular no RFC 2473 tunnel encapsulation limit option).
//
// # Receiving
//
// [Parse] validates an outer header like a careful receiver (version, IHL,
// lengths against the buffer, IPv4 header checksum, no fragments, IPv6
// extension headers, no IPv4-mapped addresses in an IPv6 header) and
// returns its [Outer] fields and the payload as a sub-slice, without
// modifying the buffer. A receiver parses the outer header once, looks the
// tunnel up by [Outer.Src] and [Outer.Dst], and hands the payload to the
// mode that [Outer.Protocol] names. RFC 6040 decapsulation is here for
// every mode ([DecapECN], [ApplyECN]): the inner ECN is rewritten in place,
// the "(!!!)" combinations are reported, and outer CE over a Not-ECT inner
// packet is refused with [ErrECNDrop].
//
// Nothing on the per-packet paths allocates, and wire input never causes a
// panic. Errors are package-level sentinels matchable with [errors.Is],
// each of one kind of package [github.com/ipencap/ipencap] (frame,
// checksum, protocol); configuration errors are [*ConfigError] values.
package outer
