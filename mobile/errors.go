package mobile

import (
	"errors"
	"fmt"
	"io"
)

// Errors returned by Parse, Fields.Encode, Encapsulate and Decapsulate.
// Each is a package-level value, so returning one never allocates; match
// them with [errors.Is].
var (
	// ErrTruncated means the buffer ends inside the IPv4 header, before
	// the total length it declares, or inside the minimal forwarding
	// header. It matches [io.ErrUnexpectedEOF].
	ErrTruncated = fmt.Errorf("mobile: truncated header: %w", io.ErrUnexpectedEOF)
	// ErrVersion means an IP version other than 4: minimal encapsulation
	// carries IPv4 datagrams in IPv4 only.
	ErrVersion = errors.New("mobile: IP version is not 4")
	// ErrHeaderLen means an IPv4 IHL below 5 or a total length below the
	// header length.
	ErrHeaderLen = errors.New("mobile: bad IPv4 header length")
	// ErrIPChecksum means the IPv4 header checksum is wrong (of the
	// datagram to encapsulate, or of the encapsulated datagram).
	ErrIPChecksum = errors.New("mobile: bad IPv4 header checksum")
	// ErrLength means the datagram given to Encapsulate does not fill the
	// buffer: its total length differs from len(b) - off.
	ErrLength = errors.New("mobile: datagram length differs from its total length field")
	// ErrFragment means a fragment (MF set or a nonzero fragment offset).
	// Minimal encapsulation cannot carry one, since the minimal header
	// would sit in front of only part of the original payload (RFC 2004
	// §3); callers may fall back to IP in IP. Decapsulate refuses outer
	// fragments: reassemble them first.
	ErrFragment = errors.New("mobile: fragmented datagrams cannot be minimally encapsulated")
	// ErrTooLong means the encapsulated datagram would exceed 65535 bytes.
	ErrTooLong = errors.New("mobile: datagram too long to encapsulate")
	// ErrShortBuffer means there is not enough room: from Encapsulate,
	// fewer than 8 (12 with an original source) bytes of headroom before
	// off, or off outside the buffer; from Fields.Encode, a buffer shorter
	// than the header. It matches [io.ErrShortBuffer].
	ErrShortBuffer = fmt.Errorf("mobile: no room for the minimal forwarding header: %w", io.ErrShortBuffer)
	// ErrProtocol means Decapsulate was given a datagram whose protocol is
	// not 55.
	ErrProtocol = errors.New("mobile: protocol is not 55 (minimal encapsulation)")
	// ErrReservedBits means reserved bits other than S are set in the
	// minimal forwarding header.
	ErrReservedBits = errors.New("mobile: reserved bits set in the minimal forwarding header")
	// ErrChecksum means the minimal forwarding header's checksum is wrong.
	ErrChecksum = errors.New("mobile: bad minimal forwarding header checksum")
	// ErrAddr means an address that is not IPv4 (IPv4-mapped IPv6
	// addresses are accepted as IPv4): the tunnel exit, the encapsulator,
	// or a Fields address.
	ErrAddr = errors.New("mobile: addresses must be IPv4")
)
