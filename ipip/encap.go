package ipip

import "github.com/ipencap/ipencap/outer"

// Config is the configuration of an IPIP tunnel: its outer header's
// addresses and rules, as `ip tunnel add NAME mode {ipip,sit,ip6ip6,ipip6}
// local S remote D [ttl N|inherit] [tos T|inherit] [nopmtudisc]` gives
// them. IPIP adds no option of its own to [outer.Config].
type Config = outer.Config

// Encapsulator encapsulates the packets of one IPIP tunnel. It is safe for
// concurrent use: its configuration is fixed at [NewEncapsulator] and its
// IPv4 identification counter is atomic.
type Encapsulator struct {
	o *outer.Encapsulator
}

// NewEncapsulator validates cfg (see [outer.Config.Validate]; errors are
// [*outer.ConfigError] values) and returns an Encapsulator for it.
func NewEncapsulator(cfg Config) (*Encapsulator, error) {
	o, err := outer.NewEncapsulator(cfg)
	if err != nil {
		return nil, err
	}
	return &Encapsulator{o: o}, nil
}

// Config returns the configuration e was made with.
func (e *Encapsulator) Config() Config { return e.o.Config() }

// Overhead returns the number of bytes Encap writes in front of the inner
// packet, the headroom to read inner packets at: [outer.IPv4HeaderLen]
// (20) or [outer.IPv6HeaderLen] (40).
func (e *Encapsulator) Overhead() int { return e.o.Overhead() }

// Encap encapsulates the IPv4 or IPv6 packet b[off:] in place: it writes
// the outer header into b[off-Overhead():off] and returns that start, so
// the tunnel packet is b[start:]. The protocol is 4 for an IPv4 inner
// packet and 41 for IPv6. The inner packet must fill b[off:] exactly and
// is checked by [outer.InnerOf]; the outer fields follow the rules of
// [outer.Encapsulator.Prepend]. Errors: those of InnerOf and Prepend
// ([outer.ErrShortBuffer], [outer.ErrTooLong], ...). Encap never
// allocates.
func (e *Encapsulator) Encap(b []byte, off int) (start int, err error) {
	if off < e.o.Overhead() || off > len(b) {
		return 0, outer.ErrShortBuffer
	}
	in, err := outer.InnerOf(b[off:])
	if err != nil {
		return 0, err
	}
	proto := outer.ProtoIPIP
	if in.Version == 6 {
		proto = outer.ProtoIPv6
	}
	return e.o.Prepend(b, off, proto, in)
}
