// Package ipip builds and parses the outer IPv4 or IPv6 header of IP-in-IP
// tunnels: IPv4 in IPv4 (RFC 2003, IP protocol 4, Linux "ipip"), IPv6 in
// IPv4 (RFC 4213 "6in4", protocol 41, Linux "sit"), and IPv4 or IPv6 in
// IPv6 (RFC 2473, next header 4 or 41, Linux "ipip6" and "ip6ip6"). ECN
// follows RFC 6040. The same outer-header rules serve GRE (RFC 2784) over
// IPv4 and IPv6.
//
// # Sending
//
// [NewEncapsulator] takes a [Config] (local, remote, ttl, tos, nopmtudisc,
// as `ip tunnel add` spells them). [Encapsulator.Encap] writes the outer
// header in place, in the headroom in front of an inner packet, and
// returns where the tunnel packet starts: nothing is copied.
// [Encapsulator.Prepend] does the same for any payload with an explicit
// protocol number and the inner packet's [Inner] fields, which is what a
// GRE sender needs. Choices, with the RFC or Linux behaviour behind them:
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
//   - No IPv4 options and no IPv6 extension headers are sent (in
//     particular no RFC 2473 tunnel encapsulation limit option).
//
// # Receiving
//
// [Parse] validates an outer header like a careful receiver (version, IHL,
// lengths against the buffer, IPv4 header checksum, no fragments, IPv6
// extension headers) and returns its [Outer] fields and the payload as a
// sub-slice. [Decap] adds the inner checks for protocols 4 and 41 and RFC
// 6040 decapsulation ([DecapECN], [ApplyECN]): the inner ECN is rewritten
// in place, the "(!!!)" combinations are flagged in [Outer.ECNAlarm], and
// outer CE over a Not-ECT inner packet is refused with [ErrECNDrop].
//
// Nothing on the per-packet paths allocates, and wire input never causes a
// panic. Errors are package-level sentinels matchable with [errors.Is];
// configuration errors are [*ConfigError] values.
package ipip
