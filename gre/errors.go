package gre

import (
	"errors"
	"fmt"
	"io"
)

// Errors returned by Parse, Encode and the keepalive functions. Each is a
// package-level value, so returning one never allocates; match them with
// [errors.Is].
var (
	// ErrTruncated means the buffer ends inside the GRE header (or inside the
	// routing field). It matches [io.ErrUnexpectedEOF] too.
	ErrTruncated = fmt.Errorf("gre: truncated header: %w", io.ErrUnexpectedEOF)
	// ErrVersion means a version number the decoder does not accept: 2–7
	// always, 1 in ModeRFC2784 (and Encode: anything but 0 and 1).
	ErrVersion = errors.New("gre: unsupported version")
	// ErrReservedBits means flag bits that the decoding mode rejects (the
	// routing bit in ModeLinux; R, s and the top recursion bit in
	// ModeRFC2784), or, from Encode, a field too wide for its bits.
	ErrReservedBits = errors.New("gre: reserved flag bits set")
	// ErrChecksum means the checksum bit is set and the checksum over the
	// GRE header and payload is wrong.
	ErrChecksum = errors.New("gre: bad checksum")
	// ErrPPTP means a version 1 (PPTP, RFC 2637) header that breaks the
	// rules of the enhanced GRE header: K clear, C, R, s, recursion or
	// reserved flag bits set, or a protocol other than PPP (0x880B).
	ErrPPTP = errors.New("gre: invalid version 1 (PPTP) header")
	// ErrAck means the acknowledgment bit requested on a version 0 header:
	// only version 1 carries an acknowledgment number.
	ErrAck = errors.New("gre: acknowledgment needs version 1")
	// ErrRouting means a malformed routing field: from Parse, a NULL SRE
	// whose SRE offset is not zero; from Encode, SREs without the R bit,
	// an SRE that would read as the NULL terminator, or SRE information
	// longer than 255 bytes.
	ErrRouting = errors.New("gre: invalid routing field")
	// ErrNotKeepalive means a packet is not a GRE keepalive of the expected
	// shape (see [KeepaliveMatcher]).
	ErrNotKeepalive = errors.New("gre: not a keepalive")
)
