package outer

import (
	"net/netip"
	"strconv"
	"strings"
)

// Config is the configuration of one tunnel's outer IPv4 or IPv6 header,
// the words of `ip tunnel add NAME mode M local S remote D [ttl N|inherit]
// [tos T|inherit] [nopmtudisc]` that every mode shares. The zero value of
// each option is the Linux default: ttl inherit, tos 0, path-MTU discovery
// on.
type Config struct {
	// Local is the tunnel entry point, the outer source address. Its
	// family chooses the outer header: IPv4 (RFC 2003) or IPv6
	// (RFC 2473). It must be a specified address: the library writes it
	// into every outer header, so 0.0.0.0 or :: would go on the wire. (A
	// transport where the kernel writes the outer header, and picks the
	// source, needs no outer Config at all.)
	Local netip.Addr
	// Remote is the tunnel exit point, the outer destination address, of
	// the same family as Local; a multicast group is allowed (broadcast
	// GRE), the unspecified address is not.
	Remote netip.Addr
	// TTL is the outer TTL (IPv4) or hop limit (IPv6): 1–255 fixed, or 0
	// to inherit the inner packet's. Inheriting passes a TTL of 1 on too,
	// which kills such packets (OSPF hellos, say) one hop past the entry
	// point; a fixed TTL such as 64 or 255 is the usual answer. For an
	// inner packet that is not IP (Inner.Version 0), inherit means
	// [DefaultTTL].
	TTL uint8
	// TOS is the fixed outer TOS (IPv4) or traffic class (IPv6): the DSCP
	// shifted left by 2. Its ECN bits must be 0: they are set by the
	// ECN rules.
	TOS uint8
	// InheritTOS copies the inner packet's TOS or traffic class (DSCP
	// part) to the outer header instead of TOS, which must then be 0.
	InheritTOS bool
	// NoPMTUDisc turns path-MTU discovery off: the outer IPv4 DF bit is
	// no longer always set but copied from the inner IPv4 header (RFC 2003
	// §3.1 requires DF on the outer header when the inner one has it), and
	// clear for any other inner packet. It needs TTL 0 (inherit), as on
	// Linux, and an IPv4 outer header.
	NoPMTUDisc bool
	// FlowLabel is the fixed flow label of an IPv6 outer header (RFC 2473
	// §6.5: "The default value is zero"); it must fit 20 bits.
	FlowLabel uint32
	// ECN chooses RFC 6040's normal (default) or compatibility mode for
	// the outer ECN field on encapsulation.
	ECN ECNMode
}

// ConfigError is a configuration rejected by [Config.Validate]: the option,
// the value given and why, as an error matchable with [errors.Is] (one of
// the ErrConfig values).
type ConfigError struct {
	// Field is the option, as `ip tunnel` names it: "local", "remote",
	// "ttl", "tos", "nopmtudisc", "flowlabel", "ecn".
	Field string
	// Value is the rejected value, printed.
	Value string
	// Err is the reason, one of the ErrConfig values.
	Err error
}

// Error returns a message such as
// "outer: ttl 64: a fixed ttl needs path MTU discovery (use ttl inherit with nopmtudisc)".
func (e *ConfigError) Error() string {
	return "outer: " + e.Field + " " + e.Value + ": " + strings.TrimPrefix(e.Err.Error(), "outer: ")
}

// Unwrap returns Err.
func (e *ConfigError) Unwrap() error { return e.Err }

// Validate reports the first problem with c as a [*ConfigError], or nil:
// the addresses, then [Config.ValidateOptions] for the family of Local.
func (c *Config) Validate() error {
	switch {
	case !c.Local.IsValid() || c.Local.Is4In6() || c.Local.IsUnspecified():
		return &ConfigError{Field: "local", Value: addrString(c.Local), Err: ErrConfigAddr}
	case !c.Remote.IsValid() || c.Remote.Is4In6() || c.Remote.IsUnspecified() || c.Remote.Is4() != c.Local.Is4():
		return &ConfigError{Field: "remote", Value: addrString(c.Remote), Err: ErrConfigAddr}
	}
	return c.ValidateOptions(c.Local.Is6())
}

// ValidateOptions checks the options of c (TTL, TOS, NoPMTUDisc,
// FlowLabel, ECN) for an outer header of the family v6 says, whatever the
// addresses: the one list of the outer-header rules, for a caller that
// checks a configuration before its addresses are known (a tunnel with
// local any). It returns the first problem as a [*ConfigError], or nil.
func (c *Config) ValidateOptions(v6 bool) error {
	switch {
	case c.TOS&0b11 != 0 || (c.InheritTOS && c.TOS != 0):
		return &ConfigError{Field: "tos", Value: "0x" + strconv.FormatUint(uint64(c.TOS), 16), Err: ErrConfigTOS}
	case c.NoPMTUDisc && v6:
		return &ConfigError{Field: "nopmtudisc", Value: "(outer IPv6)", Err: ErrConfigNoPMTUDisc6}
	case c.NoPMTUDisc && c.TTL != 0:
		return &ConfigError{Field: "ttl", Value: strconv.Itoa(int(c.TTL)), Err: ErrConfigPMTUDisc}
	case c.FlowLabel > 0xfffff || (c.FlowLabel != 0 && !v6):
		return &ConfigError{Field: "flowlabel", Value: "0x" + strconv.FormatUint(uint64(c.FlowLabel), 16), Err: ErrConfigFlowLabel}
	case c.ECN > ECNCompat:
		return &ConfigError{Field: "ecn", Value: strconv.Itoa(int(c.ECN)), Err: ErrConfigECNMode}
	}
	return nil
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return "(none)"
	}
	return a.String()
}
