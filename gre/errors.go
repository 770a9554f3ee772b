package gre

import (
	"io"

	"github.com/ipencap/ipencap"
)

// Per-packet errors. Each is a package-level value, so returning one never
// allocates; match them with [errors.Is]. Each matches exactly one error
// kind of package ipencap ([ipencap.ErrFrame] or [ipencap.ErrChecksum]), so
// a receiver can count any of them with four checks. This is the one place
// they are documented; function docs only name them. ([ErrKeySyntax], an
// error of ParseKey on configuration text rather than on a packet, has no
// kind and is documented beside ParseKey.)
var (
	// ErrTruncated means the buffer ends inside the GRE header (or inside
	// the routing field), or, from Parse in ModeLinux over IPv4, a GRE
	// packet (header and payload) shorter than the 12 bytes that Linux's
	// gre_rcv (net/ipv4/gre_demux.c) pulls before anything else, a
	// keepalive reply excepted (see ModeLinux). Parse and
	// KeepaliveMatcher.Match return it. It matches [io.ErrUnexpectedEOF]
	// and is of kind [ipencap.ErrFrame].
	ErrTruncated = ipencap.NewError("gre: truncated header", io.ErrUnexpectedEOF, ipencap.ErrFrame)
	// ErrShortBuffer means there is no room for the header: from
	// Fields.Encode, a buffer shorter than the header; from
	// Encapsulator.Encap, an offset smaller than the headroom Overhead
	// asks for, or past the end of the buffer. It matches
	// [io.ErrShortBuffer] and is of kind [ipencap.ErrFrame].
	ErrShortBuffer = ipencap.NewError("gre: buffer too short for the header", io.ErrShortBuffer, ipencap.ErrFrame)
	// ErrMode means a Decoder whose Mode is none of ModeLinux, ModeRFC2784
	// and ModeRFC1701: Decoder.Parse fails closed on every packet rather
	// than guess. Kind [ipencap.ErrFrame].
	ErrMode = ipencap.NewError("gre: unknown decoder mode", ipencap.ErrFrame)
	// ErrVersion means a version number that Parse does not accept in its
	// mode: 2–7 always, 1 in ModeRFC2784 and in ModeLinux over IPv6. From
	// Fields.Validate, Encode, Append and AppendKeepalive: a version other
	// than 0 and 1. Kind [ipencap.ErrFrame].
	ErrVersion = ipencap.NewError("gre: unsupported version", ipencap.ErrFrame)
	// ErrReservedBits means flag bits that the decoding mode rejects: from
	// Parse, the routing bit R in ModeLinux, any of the reserved flag bits
	// 9–12 in ModeLinux over IPv4, and R, s or the top recursion bit in
	// ModeRFC2784; from Fields.Validate, Encode, Append and
	// AppendKeepalive, a Recursion or Reserved value too wide for its bits.
	// Kind [ipencap.ErrFrame].
	ErrReservedBits = ipencap.NewError("gre: reserved flag bits set", ipencap.ErrFrame)
	// ErrChecksum means the checksum bit is set and the checksum over the
	// GRE header and payload is wrong. Parse returns it unless
	// Decoder.NoVerifyChecksum is set; KeepaliveMatcher.Match returns it
	// for an inner GRE header with a bad checksum. Kind
	// [ipencap.ErrChecksum].
	ErrChecksum = ipencap.NewError("gre: bad checksum", ipencap.ErrChecksum)
	// ErrPPTP means a version 1 (PPTP, RFC 2637) header that breaks the
	// rules of the enhanced GRE header: K clear, C, R or reserved flag bits
	// set, or a protocol other than PPP (0x880B), as today's Linux checks
	// them (pptp_rcv in drivers/net/ppp/pptp.c: GRE_IS_CSUM,
	// GRE_IS_ROUTING, !GRE_IS_KEY, "flags & GRE_FLAGS", the reserved bits
	// 0x0078, and the protocol); and, except from Parse in ModeLinux,
	// where pptp_rcv no longer looks at them, s or recursion bits set
	// (RFC 2637 §4.1 sets them to zero). Parse and Fields.Validate (so
	// Encode, Append) return it. Kind [ipencap.ErrFrame].
	ErrPPTP = ipencap.NewError("gre: invalid version 1 (PPTP) header", ipencap.ErrFrame)
	// ErrAck means Fields asks for the acknowledgment bit on a version 0
	// header: only version 1 carries an acknowledgment number.
	// Fields.Validate (so Encode, Append, AppendKeepalive) returns it. Kind
	// [ipencap.ErrFrame].
	ErrAck = ipencap.NewError("gre: acknowledgment needs version 1", ipencap.ErrFrame)
	// ErrRouting means a malformed routing field: from Parse, a NULL SRE
	// whose SRE offset is not zero, or SREs that make the header longer
	// than 2^32-1 bytes (no IP packet, not even an IPv6 jumbogram, holds
	// that much); from Fields.Validate (so Encode, Append), SREs without
	// the R bit, an SRE that would read as the NULL terminator, or SRE
	// information longer than 255 bytes. Kind [ipencap.ErrFrame].
	ErrRouting = ipencap.NewError("gre: invalid routing field", ipencap.ErrFrame)
	// ErrTooLong means AppendKeepalive was asked for a packet longer than
	// the 65535 bytes an IPv4 total length can state (an inner GRE header
	// with a long routing field). Kind [ipencap.ErrFrame].
	ErrTooLong = ipencap.NewError("gre: packet longer than 65535 bytes", ipencap.ErrFrame)
	// ErrNotKeepalive means a packet that is not a GRE keepalive of the
	// expected shape, or one that must not be reflected (see
	// [KeepaliveMatcher.Match]); from AppendKeepalive, addresses that are
	// not IPv4 or an inner header whose protocol is not ProtoKeepalive.
	// Kind [ipencap.ErrFrame].
	ErrNotKeepalive = ipencap.NewError("gre: not a keepalive", ipencap.ErrFrame)
)
