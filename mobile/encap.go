package mobile

import (
	"encoding/binary"
	"net/netip"
	"strings"

	"github.com/ipencap/ipencap/checksum"
	"github.com/ipencap/ipencap/iphdr"
	"github.com/ipencap/ipencap/outer"
)

// Config is the configuration of a minimal-encapsulation tunnel, in the
// words `ip tunnel add NAME mode mobile local S remote D` that this
// module's tunnel engine uses for every mode. (Linux has no such mode:
// minimal encapsulation is the BSDs' "MOBILE" tunnel.) There is no ttl,
// tos or nopmtudisc: the tunnel adds no IPv4 header of its own, and the
// datagram's TTL, TOS and flags travel unchanged.
type Config struct {
	// Local is the encapsulator's address. RFC 2004 §3: "If the
	// encapsulator is not the original source of the datagram, the Source
	// Address field in the IP header is replaced by the IP address of the
	// encapsulator"; the original source then goes into the minimal header
	// with S set. A datagram whose source is Local keeps it and gets the
	// 8-byte header (S = 0). It must be a specified IPv4 address (not
	// 0.0.0.0).
	Local netip.Addr
	// Remote is the tunnel exit point, the new IPv4 destination: "The
	// Destination Address field in the IP header is replaced by the IP
	// address of the exit point of the tunnel." It must be a specified
	// IPv4 address.
	Remote netip.Addr
}

// ConfigError is a configuration rejected by [Config.Validate]: the option,
// the value given and why, as an error matchable with [errors.Is]
// ([ErrConfigAddr]).
type ConfigError struct {
	// Field is the option, as `ip tunnel` names it: "local" or "remote".
	Field string
	// Value is the rejected value, printed ("(none)" for the zero Addr).
	Value string
	// Err is the reason, [ErrConfigAddr].
	Err error
}

// Error returns a message such as
// "mobile: remote 2001:db8::7: local and remote must be specified IPv4 addresses".
func (e *ConfigError) Error() string {
	return "mobile: " + e.Field + " " + e.Value + ": " + strings.TrimPrefix(e.Err.Error(), "mobile: ")
}

// Unwrap returns Err.
func (e *ConfigError) Unwrap() error { return e.Err }

// Validate reports the first problem with c as a [*ConfigError], or nil.
// Local and Remote must be specified IPv4 addresses. IPv4-mapped IPv6
// addresses (::ffff:192.0.2.1) are refused, not taken as IPv4, as
// outer.Config refuses them: one tunnel configuration then means the same
// in every mode.
func (c *Config) Validate() error {
	switch {
	case !c.Local.Is4() || c.Local.IsUnspecified():
		return &ConfigError{Field: "local", Value: addrString(c.Local), Err: ErrConfigAddr}
	case !c.Remote.Is4() || c.Remote.IsUnspecified():
		return &ConfigError{Field: "remote", Value: addrString(c.Remote), Err: ErrConfigAddr}
	}
	return nil
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return "(none)"
	}
	return a.String()
}

// Encapsulator encapsulates the datagrams of one minimal-encapsulation
// tunnel. It is safe for concurrent use: it is never modified after
// [NewEncapsulator].
type Encapsulator struct {
	cfg           Config
	local, remote [4]byte // cfg.Local and cfg.Remote, as written into headers
}

// NewEncapsulator validates cfg (see [Config.Validate]; errors are
// [*ConfigError] values) and returns an Encapsulator for it.
func NewEncapsulator(cfg Config) (*Encapsulator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Encapsulator{cfg: cfg, local: cfg.Local.As4(), remote: cfg.Remote.As4()}, nil
}

// Config returns the configuration e was made with.
func (e *Encapsulator) Config() Config { return e.cfg }

// Overhead returns [MaxLen] (12), the most Encap writes in front of the
// datagram: the headroom to read datagrams at. A datagram that Local
// originated needs only [MinLen] (8).
func (e *Encapsulator) Overhead() int { return MaxLen }

// IPv4 header offsets Encap and Decap write addresses to.
const (
	ipv4Src = 12
	ipv4Dst = 16
)

// checkIPv4 validates the IPv4 header of b, its checksum included, and
// maps the errors to this package's.
func checkIPv4(b []byte) (iphdr.IPv4, error) {
	h, err := iphdr.CheckIPv4(b, true)
	switch err {
	case nil:
		return h, nil
	case iphdr.ErrVersion:
		return nil, ErrVersion
	case iphdr.ErrHeaderLen:
		return nil, ErrHeaderLen
	case iphdr.ErrChecksum:
		return nil, ErrIPChecksum
	}
	return nil, ErrTruncated
}

// Encap applies minimal encapsulation (RFC 2004 §3) in place to the IPv4
// datagram b[off:], which must fill the buffer (its total length is
// len(b) - off), and returns where the encapsulated datagram starts: it is
// b[start:], and start is off-8 or off-12.
//
// Only the IPv4 header moves: it is copied 8 or 12 bytes towards the front
// of b, into the headroom, and the minimal forwarding header is written
// into the gap between it and the payload, which stays where it is. The
// minimal header gets the original protocol, destination and, when Local
// is not the datagram's source, the original source with S set; the IPv4
// header gets protocol 55, Remote as destination, Local as source when S
// is set, a total length 8 or 12 bytes longer, and an updated checksum.
// Options, TOS, identification, flags and TTL are untouched.
//
// The datagram's header checksum must be valid ([ErrIPChecksum]): a
// corrupt header is not worth sending through the tunnel. Fragments
// cannot be encapsulated ([ErrFragment]). Errors: [ErrShortBuffer],
// [ErrTruncated], [ErrVersion], [ErrHeaderLen], [ErrIPChecksum],
// [ErrLength], [ErrFragment], [ErrTooLong]; b is not modified on error.
// Encap never allocates.
func (e *Encapsulator) Encap(b []byte, off int) (start int, err error) {
	if off < 0 || off > len(b) {
		return 0, ErrShortBuffer
	}
	h, err := checkIPv4(b[off:])
	if err != nil {
		return 0, err
	}
	tl := len(b) - off
	if int(h.TotalLen()) != tl {
		return 0, ErrLength
	}
	if h.IsFragment() {
		return 0, ErrFragment
	}
	src, dst, proto, hl := h.Src4(), h.Dst4(), outer.IPProto(h.Protocol()), h.HeaderLen()
	withSrc := e.local != src
	n, newSrc := MinLen, src
	if withSrc {
		n, newSrc = MaxLen, e.local
	}
	if off < n {
		return 0, ErrShortBuffer
	}
	if tl+n > 0xffff {
		return 0, ErrTooLong
	}

	start = off - n
	copy(b[start:start+hl], b[off:off+hl]) // overlapping: copy moves
	encode(b[start+hl:start+hl+n], proto, dst, src, withSrc)
	ip := iphdr.IPv4(b[start:])
	ip.SetProtocol(uint8(outer.ProtoMinimal))
	copy(ip[ipv4Dst:ipv4Dst+4], e.remote[:])
	copy(ip[ipv4Src:ipv4Src+4], newSrc[:])
	ip.SetTotalLen(uint16(tl + n))
	ip.SetChecksum(updateChecksum(ip.Checksum(), ip.TTL(), proto, outer.ProtoMinimal, uint16(tl), uint16(tl+n),
		dst, e.remote, src, newSrc))
	return start, nil
}

// updateChecksum returns the IPv4 header checksum ck updated for the
// protocol, total length, destination and source changing as given, word by
// word with RFC 1624 eqn. 3 (checksum.Update16 and Update32). For a header
// whose checksum was correct and not 0xffff, the result is exactly the
// checksum a full RFC 1071 computation gives, at a fraction of the cost of
// summing the header again.
func updateChecksum(ck uint16, ttl uint8, oldProto, newProto outer.IPProto, oldLen, newLen uint16, oldDst, newDst, oldSrc, newSrc [4]byte) uint16 {
	ck = checksum.Update16(ck, uint16(ttl)<<8|uint16(oldProto), uint16(ttl)<<8|uint16(newProto))
	ck = checksum.Update16(ck, oldLen, newLen)
	ck = checksum.Update32(ck, binary.BigEndian.Uint32(oldDst[:]), binary.BigEndian.Uint32(newDst[:]))
	return checksum.Update32(ck, binary.BigEndian.Uint32(oldSrc[:]), binary.BigEndian.Uint32(newSrc[:]))
}
