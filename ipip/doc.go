// Package ipip is IP in IP over package outer: IPv4 in IPv4 (RFC 2003, IP
// protocol 4, Linux "ipip"), IPv6 in IPv4 (RFC 4213 "6in4", protocol 41,
// Linux "sit"), and IPv4 or IPv6 in IPv6 (RFC 2473, next header 4 or 41,
// Linux "ipip6" and "ip6ip6"). What all tunnel modes share (the outer
// header's TTL, TOS, DF and flow-label rules, parsing, RFC 6040 ECN) lives
// in package [github.com/ipencap/ipencap/outer]; this package holds what is
// IPIP's own: the protocol number follows the inner IP version, and on
// receipt the inner version must match the protocol that announced it.
//
// # Sending
//
// [NewEncapsulator] takes a [Config] (the outer.Config: local, remote,
// ttl, tos, nopmtudisc, as `ip tunnel add` spells them).
// [Encapsulator.Encap] checks the inner packet, picks protocol 4 or 41
// from its version and writes the outer header in place, in the
// [Encapsulator.Overhead] bytes of headroom in front of it: nothing is
// copied. It has the same two methods as gre.Encapsulator and
// mobile.Encapsulator, so a tunnel engine drives all three alike.
//
// # Receiving
//
// A receiver parses the outer header once with outer.Parse, looks the
// tunnel up, and hands the packet and its outer.Outer to [Decap], which
// checks the inner packet (protocol 4 or 41 with the matching IP version,
// lengths, TTL) and applies RFC 6040 in place. [Check] makes the same
// checks without writing to the buffer, for capture tools.
//
// Nothing on the per-packet paths allocates, and wire input never causes a
// panic. Errors are sentinels matchable with [errors.Is]: this package's
// own and those of package outer, each of one kind of package
// [github.com/ipencap/ipencap].
package ipip
