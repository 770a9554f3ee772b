// Package ipencap is the root of the ipencap module: GRE (RFC 1701, 1702,
// 2784, 2890, PPTP's version 1), IP in IP (RFC 2003, 2473, 4213) and minimal
// encapsulation (RFC 2004) in user space, with zero-allocation codecs and a
// tunnel engine.
//
// The packages:
//
//   - outer: the outer IPv4/IPv6 header every mode shares (Config, an
//     Encapsulator that writes it in front of any payload, Parse, RFC 6040
//     ECN, typed IP protocol numbers);
//   - gre, ipip, mobile: one codec per mode, each with an Encapsulator of the
//     same shape, Overhead() and Encap(b, off);
//   - demux: the receive-side tunnel table with the 4-step lookup of the
//     Linux tunnel driver;
//   - tunnel: the engine, with its transports (rawsock, udp, tundev);
//   - checksum and iphdr: the Internet checksum and IPv4/IPv6 header views
//     the codecs are built on.
//
// This package holds what the codecs share: the kinds of error below, and
// [NewError], which builds their sentinels. Every
// per-packet error of every codec matches exactly one of them with
// [errors.Is], so a receiver maps any codec error to one counter of
// `ip -s tunnel` with four checks instead of one per sentinel.
package ipencap

import "errors"

// Error kinds. Each per-packet sentinel error of packages outer, gre, ipip
// and mobile wraps exactly one of these; match them with [errors.Is].
var (
	// ErrFrame is the kind of every error about a malformed or unusable
	// packet: truncation, bad lengths, unsupported versions, reserved bits,
	// fragments, options that cannot be skipped, RFC 6040 ECN drops, a
	// packet too long or a buffer too short to encapsulate. A tunnel counts
	// these received as rx frame (length) errors.
	ErrFrame = errors.New("malformed packet")
	// ErrChecksum is the kind of every checksum error: an outer IPv4 header
	// checksum, a GRE checksum, a minimal forwarding header checksum, or a
	// required checksum that is missing. A tunnel counts these as rx
	// checksum errors (CsumErrs).
	ErrChecksum = errors.New("checksum error")
	// ErrProtocol is the kind of every error about a protocol that does not
	// fit: an outer protocol other than the mode's, an inner packet whose
	// IP version does not match the protocol that announced it.
	ErrProtocol = errors.New("protocol mismatch")
	// ErrSequence is the kind of a sequence-number error: a packet at or
	// behind the last one delivered (RFC 2890). A tunnel counts these as rx
	// out-of-sequence (OutOfSeq).
	ErrSequence = errors.New("out of sequence")
)
