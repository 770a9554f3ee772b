package mobile

import (
	"errors"
	"io"

	"github.com/ipencap/ipencap"
)

// Errors returned on the per-packet paths: [Encapsulator.Encap], [Decap],
// [Parse] and [Fields.Encode]. Each is a package-level value, so returning
// one never allocates; match them with [errors.Is], by value or by their
// kind from package [ipencap] (named with each). Decap is given an outer
// header that outer.Parse has already checked, so the outer IPv4 errors
// of a received packet (truncation, header length, checksum, fragments)
// are outer's, returned by outer.Parse.
var (
	// ErrTruncated (kind [ipencap.ErrFrame]) means, from Encap, that the
	// buffer ends inside the IPv4 header of the datagram or before the
	// total length it declares; from Parse and Decap, that the minimal
	// forwarding header is cut short (fewer than 8 bytes, or 12 with S
	// set); from Decap also that the outer.Outer does not fit the
	// buffer it was given with. It matches [io.ErrUnexpectedEOF] too.
	ErrTruncated = ipencap.NewError("mobile: truncated header", io.ErrUnexpectedEOF, ipencap.ErrFrame)
	// ErrVersion (kind [ipencap.ErrFrame]) means Encap was given a datagram
	// whose IP version is not 4: minimal encapsulation carries IPv4
	// datagrams only.
	ErrVersion = ipencap.NewError("mobile: IP version is not 4", ipencap.ErrFrame)
	// ErrHeaderLen (kind [ipencap.ErrFrame]) means Encap was given a
	// datagram with an IPv4 IHL below 5 or a total length below the
	// header length.
	ErrHeaderLen = ipencap.NewError("mobile: bad IPv4 header length", ipencap.ErrFrame)
	// ErrIPChecksum (kind [ipencap.ErrChecksum]) means Encap was given a
	// datagram whose IPv4 header checksum is wrong: a corrupt header is not
	// worth sending through the tunnel.
	ErrIPChecksum = ipencap.NewError("mobile: bad IPv4 header checksum", ipencap.ErrChecksum)
	// ErrLength (kind [ipencap.ErrFrame]) means the datagram given to Encap
	// does not fill the buffer: its total length differs from len(b) - off.
	ErrLength = ipencap.NewError("mobile: datagram length differs from its total length field", ipencap.ErrFrame)
	// ErrFragment (kind [ipencap.ErrFrame]) means Encap was given a fragment
	// (MF set or a nonzero fragment offset). Minimal encapsulation cannot
	// carry one, since the minimal header would sit in front of only part
	// of the original payload (RFC 2004 §3); callers may fall back to IP in
	// IP. (A received outer fragment is refused by outer.Parse with
	// outer.ErrFragment.)
	ErrFragment = ipencap.NewError("mobile: fragmented datagrams cannot be minimally encapsulated", ipencap.ErrFrame)
	// ErrTooLong (kind [ipencap.ErrFrame]) means, from Encap, that the
	// encapsulated datagram would exceed 65535 bytes.
	ErrTooLong = ipencap.NewError("mobile: datagram too long to encapsulate", ipencap.ErrFrame)
	// ErrShortBuffer (kind [ipencap.ErrFrame]) means there is not enough
	// room: from Encap, fewer than 8 (12 with the original source) bytes
	// of headroom before off, or off outside the buffer; from
	// Fields.Encode, a buffer shorter than the header. It matches
	// [io.ErrShortBuffer] too.
	ErrShortBuffer = ipencap.NewError("mobile: no room for the minimal forwarding header", io.ErrShortBuffer, ipencap.ErrFrame)
	// ErrProtocol (kind [ipencap.ErrProtocol]) means Decap was given a
	// packet that is not minimal encapsulation: an outer protocol other
	// than 55 (outer.ProtoMinimal), or an IPv6 outer header, over
	// which RFC 2004 defines no minimal encapsulation (its header has
	// room for IPv4 addresses only).
	ErrProtocol = ipencap.NewError("mobile: not minimal encapsulation (IPv4 protocol 55)", ipencap.ErrProtocol)
	// ErrReservedBits (kind [ipencap.ErrFrame]) means, from Parse and
	// Decap, that reserved bits other than S are set in the minimal
	// forwarding header.
	ErrReservedBits = ipencap.NewError("mobile: reserved bits set in the minimal forwarding header", ipencap.ErrFrame)
	// ErrChecksum (kind [ipencap.ErrChecksum]) means, from Parse and Decap,
	// that the minimal forwarding header's checksum is wrong.
	ErrChecksum = ipencap.NewError("mobile: bad minimal forwarding header checksum", ipencap.ErrChecksum)
	// ErrAddr (kind [ipencap.ErrFrame]) means Fields.Encode was given a Dst,
	// or a valid Src, that is not IPv4 (IPv4-mapped IPv6 addresses count as
	// IPv4).
	ErrAddr = ipencap.NewError("mobile: addresses must be IPv4", ipencap.ErrFrame)
)

// ErrConfigAddr is the configuration error, wrapped in a [*ConfigError] by
// [Config.Validate] and [NewEncapsulator], for a Local or Remote that is
// missing, not IPv4, the unspecified address 0.0.0.0 (which would go on
// the wire), or an IPv4-mapped IPv6 address.
var ErrConfigAddr = errors.New("mobile: local and remote must be specified IPv4 addresses")
