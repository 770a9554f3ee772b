package ipip

import (
	"github.com/ipencap/ipencap"
)

// Errors of IPIP's own, returned by Decap and Check (Encap and Decap also
// return the errors of package outer). Each is a package-level value, so
// returning one never allocates; match them with [errors.Is], by value or
// by their kind from package [ipencap].
var (
	// ErrProtocol (kind [ipencap.ErrProtocol]) means an outer protocol
	// (IPv4) or final next header (IPv6) other than 4 (IPv4) and 41
	// (IPv6).
	ErrProtocol = ipencap.NewError("ipip: outer protocol is not 4 (IPv4) or 41 (IPv6)", ipencap.ErrProtocol)
	// ErrVersionMismatch (kind [ipencap.ErrProtocol]) means the inner IP
	// version does not match the outer protocol: protocol 4 must carry
	// IPv4, protocol 41 IPv6.
	ErrVersionMismatch = ipencap.NewError("ipip: inner IP version does not match the outer protocol", ipencap.ErrProtocol)
)
