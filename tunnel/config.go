package tunnel

import (
	"errors"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/outer"
)

// Mode is a tunnel's encapsulation, as `ip tunnel add NAME mode M` names it.
type Mode uint8

// The modes. The outer family each needs is in brackets.
const (
	// ModeGRE is GRE carrying IPv4 or IPv6 (RFC 2784, 2890) [IPv4].
	ModeGRE Mode = 1 + iota
	// ModeGRETap is Ethernet over GRE, protocol type 0x6558 [IPv4 or IPv6].
	ModeGRETap
	// ModeIPIP is IPv4 in IPv4 (RFC 2003, protocol 4) [IPv4].
	ModeIPIP
	// ModeSIT is IPv6 in IPv4 (RFC 4213 "6in4", protocol 41) [IPv4].
	ModeSIT
	// ModeIP6IP6 is IPv6 in IPv6 (RFC 2473, next header 41) [IPv6].
	ModeIP6IP6
	// ModeIPIP6 is IPv4 in IPv6 (RFC 2473, next header 4) [IPv6].
	ModeIPIP6
	// ModeIP6GRE is GRE over IPv6 carrying IPv4 or IPv6 [IPv6].
	ModeIP6GRE
	// ModeMobile is minimal encapsulation (RFC 2004, protocol 55), the
	// BSDs' MOBILE mode [IPv4].
	ModeMobile
	// ModeGREInUDP is GRE in UDP (RFC 8086): the GRE header and the inner
	// packet in a UDP datagram to port 4754; it needs an underlay of
	// [FramingUDP] [IPv4 or IPv6].
	ModeGREInUDP
)

var modeNames = [...]string{
	ModeGRE: "gre", ModeGRETap: "gretap", ModeIPIP: "ipip", ModeSIT: "sit", ModeIP6IP6: "ip6ip6",
	ModeIPIP6: "ipip6", ModeIP6GRE: "ip6gre", ModeMobile: "mobile", ModeGREInUDP: "gre-in-udp",
}

// String returns the mode's name as `ip tunnel add ... mode` spells it
// ("gre", "gretap", "ipip", "sit", "ip6ip6", "ipip6", "ip6gre", "mobile",
// "gre-in-udp").
func (m Mode) String() string {
	if int(m) < len(modeNames) && modeNames[m] != "" {
		return modeNames[m]
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// ParseMode returns the Mode named s (see [Mode.String]).
func ParseMode(s string) (Mode, error) {
	for m, n := range modeNames {
		if n != "" && n == s {
			return Mode(m), nil
		}
	}
	return 0, &ConfigError{Field: "mode", Value: s, Err: ErrConfigMode}
}

// isGRE reports whether the mode puts a GRE header on the wire (and so has
// keys, checksums and sequence numbers).
func (m Mode) isGRE() bool {
	return m == ModeGRE || m == ModeGRETap || m == ModeIP6GRE || m == ModeGREInUDP
}

// outerFamily returns 4 or 6 for a mode tied to one outer family, 0 for
// one that takes either.
func (m Mode) outerFamily() int {
	switch m {
	case ModeGRE, ModeIPIP, ModeSIT, ModeMobile:
		return 4
	case ModeIP6IP6, ModeIPIP6, ModeIP6GRE:
		return 6
	}
	return 0
}

// innerVersion returns the IP version a mode carries, 0 for either (GRE)
// or for Ethernet (gretap).
func (m Mode) innerVersion() uint8 {
	switch m {
	case ModeIPIP, ModeIPIP6, ModeMobile:
		return 4
	case ModeSIT, ModeIP6IP6:
		return 6
	}
	return 0
}

// DefaultGREInUDPPort is the UDP destination port of GRE-in-UDP (RFC 8086
// §3.3); 4755 is GRE-in-UDP over DTLS.
const DefaultGREInUDPPort = 4754

// Config is one tunnel, shaped like `ip tunnel add NAME mode M local S
// remote D [ikey K] [okey K] [icsum] [ocsum] [iseq] [oseq] [ttl N|inherit]
// [tos T|inherit] [nopmtudisc] [dev LINK] [mtu N]`. The zero value of each
// option is the Linux default.
type Config struct {
	// Name names the tunnel (NAME), unique in an Engine.
	Name string
	// Mode is the encapsulation.
	Mode Mode
	// Local is the outer source address (local S); the zero Addr or the
	// unspecified address is "any": the tunnel receives at every address
	// of the underlay and sends from the underlay's first address of the
	// family (UnderlayConfig.Local).
	Local netip.Addr
	// Remote is the outer destination (remote D); the zero Addr or the
	// unspecified address is "any": the tunnel receives from every peer
	// and is NBMA: it sends each packet where its neighbour table says
	// ([Tunnel.AddNeighbor]) and counts what has no entry as TxNoRoute.
	// A multicast group makes a broadcast tunnel (broadcast GRE, see the
	// package doc): it sends to the group and receives from every member,
	// what they send to the group and to its own address.
	Remote netip.Addr
	// IKey is the key that received packets must carry (ikey); nil means
	// keyless: packets with a key do not match. GRE modes only.
	IKey *gre.Key
	// OKey is the key sent (okey); nil sends none. GRE modes only.
	OKey *gre.Key
	// ICsum requires a GRE checksum on received packets (icsum); as in
	// Linux, a packet that carries a checksum when the tunnel does not ask
	// for one is refused too. GRE modes only.
	ICsum bool
	// OCsum sends a GRE checksum (ocsum). GRE modes only.
	OCsum bool
	// ISeq requires sequence numbers on received packets (iseq) and drops
	// those at or behind the last one delivered (RFC 2890). GRE modes only.
	ISeq bool
	// OSeq numbers the packets sent (oseq). GRE modes only.
	OSeq bool
	// Reorder, with ISeq, holds up to this many packets that arrive ahead
	// of a gap, for at most ReorderWait, and delivers them in order (RFC
	// 2890 §3, MAX_PERFLOW_BUFFER); 0 drops them as Linux does. At most
	// [gre.MaxReorderPackets].
	Reorder int
	// ReorderWait is OUTOFORDER_TIMER; 0 means [gre.DefaultReorderWait].
	ReorderWait time.Duration
	// SeqResync, with ISeq, accepts a packet after this many consecutive
	// out-of-sequence drops and restarts the window from it: a peer that
	// restarted counts from 0 again and would otherwise be dropped for up
	// to 2^31 packets. 0 (the default, as in Linux) never resyncs.
	SeqResync int
	// TTL is the outer TTL or hop limit: 1–255, or 0 to inherit the inner
	// packet's (ttl inherit, the Linux default).
	TTL uint8
	// TOS is the outer TOS or traffic class (DSCP bits); InheritTOS copies
	// the inner packet's instead (tos inherit).
	TOS uint8
	// InheritTOS is tos inherit.
	InheritTOS bool
	// NoPMTUDisc clears the outer DF bit (nopmtudisc); it needs TTL 0.
	NoPMTUDisc bool
	// Link binds the tunnel to the underlay of that name (dev LINK): it
	// sends there, and packets that arrive there prefer it. Empty: the
	// first underlay of the right framing.
	Link string
	// MTU is the tunnel MTU; 0 means the underlay MTU less the exact
	// overhead of the mode and options (1476 for plain GRE over 1500).
	MTU int
	// Port is the UDP destination port of ModeGREInUDP; 0 means 4754.
	Port uint16
	// Fallback makes the tunnel the fallback of its mode and outer family,
	// like Linux's gre0 or tunl0: it receives every packet of the mode
	// that no other tunnel takes (lookup step 5). Local, Remote and IKey
	// must be unset. Off by default: turning it on means that any host
	// that can reach the underlay can inject packets into the fallback's
	// overlay, whatever its address or key. Its Stats count them like any
	// tunnel's. A fallback tunnel does not send.
	Fallback bool
	// Keepalive, when not 0, sends a Cisco-style GRE keepalive every
	// Keepalive (`keepalive 10 5` on a Cisco tunnel interface is
	// Keepalive: [DefaultKeepalive], KeepaliveRetries: 5) and runs the
	// line protocol (see [Tunnel.LineUp]). ModeGRE only, with a remote:
	// the request is an IPv4 GRE packet that the peer routes back to us.
	// The far end needs no keepalive support of its own: it decapsulates
	// the request and forwards the inner packet, the reply (see the
	// package doc, and Reflect for an engine at the far end).
	Keepalive time.Duration
	// KeepaliveRetries is how many periods may pass without a reply
	// before the line protocol goes down; 0 means
	// [DefaultKeepaliveRetries] (5).
	KeepaliveRetries int
	// OnLineChange, when not nil, is called when the line protocol goes
	// down or comes back up. Calls are serialised and made from the
	// keepalive timer or the receive goroutine, so it must return quickly
	// and must not call [Tunnel.Tick]; it may call LineUp and Stats.
	OnLineChange func(t *Tunnel, up bool)
	// Reflect answers peers' keepalive requests the way a Cisco router
	// does by routing: the inner packet of a request (an IPv4 GRE packet
	// of protocol 0 from this end to the peer) is written straight back to
	// the underlay instead of to the overlay. Only requests whose inner
	// source is this tunnel's local address and whose inner destination
	// is this tunnel's remote, the outer ones swapped, are reflected,
	// never to a destination that [gre.Reflectable] refuses, and at most
	// [ReflectRate] per second (burst [ReflectBurst]); the others are
	// dropped and counted in ReflectRefused. ModeGRE only. Off by
	// default: the request is then delivered to the overlay like any
	// packet, for the host to route.
	Reflect bool
	// ReflectAny, with Reflect, also reflects requests from sources other
	// than the tunnel's remote (a tunnel with remote any, a fallback):
	// the inner addresses must still be the outer ones swapped, so the
	// reply goes back only to the host that sent the request.
	ReflectAny bool
	// ShapeRate, when not 0, shapes what the tunnel sends to ShapeRate
	// bits per second with a token bucket, like `tc qdisc add dev tunl0
	// root tbf rate R burst B limit L` (see the package doc).
	ShapeRate uint64
	// ShapeBurst is the bucket size in bytes (burst); 0 means the
	// underlay MTU. A packet larger than the bucket is never sent.
	ShapeBurst int
	// ShapeLimit is how many bytes may wait for tokens (limit); a packet
	// that would wait longer than ShapeLimit bytes take at ShapeRate is
	// dropped (TxShapedDrops). 0 queues nothing: a packet that finds too
	// few tokens is dropped at once (a policer).
	ShapeLimit int
	// Roam lets the remote follow the peer: the tunnel sends to the outer
	// source (and, for GRE-in-UDP, the UDP source port) of the last
	// packet that passed every one of its checks (key, checksum, sequence
	// number), so a peer behind NAT or with a dynamic address keeps its
	// tunnel. Remote is the first peer and must be set; the tunnel then
	// receives from any source address. Not for ModeMobile. Off by
	// default, and think before turning it on: a GRE key is not
	// authentication (it travels in clear and, without sequence numbers,
	// can be replayed), so anyone who can send the tunnel one packet with
	// the right key (checksum, sequence number) can move it to themselves
	// and receive what it sends. Use it over an authenticated underlay, or
	// only where that is acceptable.
	Roam bool
	// FDBAgeing is how long a broadcast gretap tunnel (ModeGRETap with a
	// multicast Remote) keeps a learnt MAC address without a frame from
	// it (see [Tunnel.FDB]); 0 means [DefaultFDBAgeing] (300 s, a Linux
	// bridge's ageing_time). Only for broadcast gretap tunnels.
	FDBAgeing time.Duration
	// FDBMax bounds the MAC addresses a broadcast gretap tunnel learns; 0
	// means [DefaultFDBMax]. Only for broadcast gretap tunnels.
	FDBMax int
	// Logger receives the tunnel's rare events (never one per packet); nil
	// is silent.
	Logger *slog.Logger
}

// Keepalive defaults, as on Cisco routers (`keepalive` with no arguments
// is `keepalive 10 3` on some releases and 10 5 on others; this package
// uses 5).
const (
	// DefaultKeepalive is the Cisco keepalive period.
	DefaultKeepalive = 10 * time.Second
	// DefaultKeepaliveRetries is KeepaliveRetries' default.
	DefaultKeepaliveRetries = 5
)

// Reflector rate limit: each tunnel with Reflect answers at most
// ReflectRate keepalive requests per second, with bursts of ReflectBurst
// (a golang.org/x/time/rate token bucket).
const (
	ReflectRate  = 10
	ReflectBurst = 10
)

// Configuration errors, wrapped in a [*ConfigError].
var (
	// ErrConfigMode means an unknown Mode.
	ErrConfigMode = errors.New("unknown mode")
	// ErrConfigName means an empty or duplicate tunnel name.
	ErrConfigName = errors.New("name empty or already in use")
	// ErrConfigAddr means an address of the wrong family for the mode, an
	// IPv4-mapped address, a multicast local, or local and remote of
	// different families.
	ErrConfigAddr = errors.New("address of the wrong family for the mode")
	// ErrConfigGREOnly means a key, checksum or sequence option on a mode
	// that has no GRE header.
	ErrConfigGREOnly = errors.New("only GRE modes have keys, checksums and sequence numbers")
	// ErrConfigDuplicate means another tunnel of the same mode already has
	// this local, remote and key (for a tunnel with a multicast remote,
	// also: another tunnel with remote any has its local and key, since
	// both would receive the unicast packets sent to that local).
	ErrConfigDuplicate = errors.New("another tunnel has the same local, remote and key")
	// ErrConfigRange means a number out of its range.
	ErrConfigRange = errors.New("out of range")
	// ErrConfigPMTUDisc means a fixed TTL together with nopmtudisc, which
	// Linux refuses too.
	ErrConfigPMTUDisc = errors.New("ttl != 0 and nopmtudisc are incompatible")
	// ErrConfigLink means Link names no underlay of the engine, or no
	// underlay of the framing the mode needs exists.
	ErrConfigLink = errors.New("no such underlay")
	// ErrConfigLocal means local any on a tunnel that writes its outer
	// header, over an underlay with no address of the family.
	ErrConfigLocal = errors.New("local any needs an address on the underlay")
	// ErrConfigFallback means a fallback tunnel with a local, remote or
	// ikey, or a second fallback of the same mode and family.
	ErrConfigFallback = errors.New("a fallback tunnel has no local, remote or ikey, and is the only one of its mode")
	// ErrConfigKeepalive means Keepalive or Reflect on a mode other than
	// ModeGRE, keepalives without a unicast remote, or a negative period
	// or retry count.
	ErrConfigKeepalive = errors.New("keepalives and reflection need mode gre (and keepalives a unicast remote)")
	// ErrConfigRoam means Roam without a unicast remote, on a fallback
	// tunnel or on ModeMobile.
	ErrConfigRoam = errors.New("roam needs a unicast remote and a mode other than mobile")
	// ErrConfigFDB means FDBAgeing or FDBMax negative, or set on a tunnel
	// that is not broadcast gretap (ModeGRETap with a multicast remote).
	ErrConfigFDB = errors.New("fdb options need a gretap tunnel with a multicast remote")
	// ErrConfigMTU means an MTU below the minimum (68 for IPv4, 1280 when
	// the tunnel carries IPv6) or above what the underlay can carry.
	ErrConfigMTU = errors.New("mtu out of range")
)

// ConfigError is a tunnel configuration that was refused: the tunnel, the
// option as `ip tunnel` names it, the value and the reason.
type ConfigError struct {
	// Tunnel is Config.Name.
	Tunnel string
	// Field is the option: "mode", "local", "remote", "ikey", "ttl", ...
	Field string
	// Value is the refused value, printed.
	Value string
	// Err is one of the ErrConfig values, or an error of package outer.
	Err error
}

// Error returns a message such as `tunnel "gre1": ttl 300: out of range`.
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("tunnel ")
	b.WriteString(strconv.Quote(e.Tunnel))
	b.WriteString(": ")
	b.WriteString(e.Field)
	if e.Value != "" {
		b.WriteString(" ")
		b.WriteString(e.Value)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns Err.
func (e *ConfigError) Unwrap() error { return e.Err }

func isAny(a netip.Addr) bool { return !a.IsValid() || a.IsUnspecified() }

func addrText(a netip.Addr) string {
	if isAny(a) {
		return "any"
	}
	return a.String()
}

// Validate checks c on its own (what needs the engine — duplicates, links —
// is checked by [Engine.Add]) and returns the first problem as a
// [*ConfigError], or nil.
func (c *Config) Validate() error {
	fail := func(field, value string, err error) error {
		return &ConfigError{Tunnel: c.Name, Field: field, Value: value, Err: err}
	}
	if c.Name == "" {
		return fail("name", `""`, ErrConfigName)
	}
	if c.Mode == 0 || int(c.Mode) >= len(modeNames) {
		return fail("mode", c.Mode.String(), ErrConfigMode)
	}
	fam := c.Mode.outerFamily()
	for _, a := range []struct {
		field string
		addr  netip.Addr
	}{{"local", c.Local}, {"remote", c.Remote}} {
		if !a.addr.IsValid() {
			continue
		}
		if a.addr.Is4In6() || (fam == 4 && !a.addr.Is4()) || (fam == 6 && !a.addr.Is6()) || (a.field == "local" && a.addr.IsMulticast()) {
			return fail(a.field, a.addr.String(), ErrConfigAddr)
		}
	}
	if c.Local.IsValid() && c.Remote.IsValid() && c.Local.Is4() != c.Remote.Is4() {
		return fail("remote", c.Remote.String(), ErrConfigAddr)
	}
	if !c.Mode.isGRE() {
		switch {
		case c.IKey != nil:
			return fail("ikey", c.IKey.String(), ErrConfigGREOnly)
		case c.OKey != nil:
			return fail("okey", c.OKey.String(), ErrConfigGREOnly)
		case c.ICsum:
			return fail("icsum", "", ErrConfigGREOnly)
		case c.OCsum:
			return fail("ocsum", "", ErrConfigGREOnly)
		case c.ISeq:
			return fail("iseq", "", ErrConfigGREOnly)
		case c.OSeq:
			return fail("oseq", "", ErrConfigGREOnly)
		}
	}
	if c.Reorder < 0 || c.Reorder > gre.MaxReorderPackets || (c.Reorder > 0 && !c.ISeq) {
		return fail("reorder", strconv.Itoa(c.Reorder), ErrConfigRange)
	}
	if c.ReorderWait < 0 || c.ReorderWait > gre.MaxReorderWait {
		return fail("reorderwait", c.ReorderWait.String(), ErrConfigRange)
	}
	if c.SeqResync < 0 || (c.SeqResync > 0 && !c.ISeq) {
		return fail("seqresync", strconv.Itoa(c.SeqResync), ErrConfigRange)
	}
	if c.NoPMTUDisc && (fam == 6 || c.Local.Is6() || c.Remote.Is6()) {
		return fail("nopmtudisc", "", outer.ErrConfigNoPMTUDisc6)
	}
	if c.NoPMTUDisc && c.TTL != 0 {
		return fail("ttl", strconv.Itoa(int(c.TTL)), ErrConfigPMTUDisc)
	}
	if c.TOS&3 != 0 || (c.InheritTOS && c.TOS != 0) {
		return fail("tos", "0x"+strconv.FormatUint(uint64(c.TOS), 16), outer.ErrConfigTOS)
	}
	if c.MTU < 0 || c.MTU > 65535 {
		return fail("mtu", strconv.Itoa(c.MTU), ErrConfigMTU)
	}
	if c.Fallback && (!isAny(c.Local) || !isAny(c.Remote) || c.IKey != nil) {
		return fail("fallback", "", ErrConfigFallback)
	}
	if c.Keepalive < 0 || (c.Keepalive > 0 && (c.Mode != ModeGRE || isAny(c.Remote) || c.Remote.IsMulticast() || c.Fallback)) {
		return fail("keepalive", c.Keepalive.String(), ErrConfigKeepalive)
	}
	if c.KeepaliveRetries < 0 {
		return fail("keepalive-retries", strconv.Itoa(c.KeepaliveRetries), ErrConfigKeepalive)
	}
	if (c.Reflect || c.ReflectAny) && c.Mode != ModeGRE {
		return fail("reflect", "", ErrConfigKeepalive)
	}
	if c.ShapeBurst < 0 || c.ShapeBurst > 1<<30 || (c.ShapeBurst > 0 && c.ShapeRate == 0) {
		return fail("burst", strconv.Itoa(c.ShapeBurst), ErrConfigRange)
	}
	if c.ShapeLimit < 0 || c.ShapeLimit > 1<<30 || (c.ShapeLimit > 0 && c.ShapeRate == 0) {
		return fail("limit", strconv.Itoa(c.ShapeLimit), ErrConfigRange)
	}
	if c.Roam && (isAny(c.Remote) || c.Remote.IsMulticast() || c.Fallback || c.Mode == ModeMobile) {
		return fail("roam", "", ErrConfigRoam)
	}
	broadcastTap := c.Mode == ModeGRETap && c.Remote.IsMulticast()
	if c.FDBAgeing < 0 || (c.FDBAgeing != 0 && !broadcastTap) {
		return fail("fdb-ageing", c.FDBAgeing.String(), ErrConfigFDB)
	}
	if c.FDBMax < 0 || (c.FDBMax != 0 && !broadcastTap) {
		return fail("fdb-max", strconv.Itoa(c.FDBMax), ErrConfigFDB)
	}
	return nil
}

// String formats c the way `ip tunnel show` prints a tunnel:
//
//	gre1: gre/ip remote 198.51.100.2 local 192.0.2.1 ttl 255 key 5 icsum ocsum iseq oseq
//
// with "any" for wildcard addresses, "ttl inherit" for TTL 0, "tos
// inherit", "ikey"/"okey" when they differ (a single "key" when equal), and
// "nopmtudisc", "dev LINK" and "mtu N" when set.
func (c *Config) String() string {
	var b strings.Builder
	b.WriteString(c.Name)
	b.WriteString(": ")
	b.WriteString(c.kindText())
	b.WriteString(" remote ")
	b.WriteString(addrText(c.Remote))
	b.WriteString(" local ")
	b.WriteString(addrText(c.Local))
	if c.Link != "" {
		b.WriteString(" dev ")
		b.WriteString(c.Link)
	}
	if c.Mode == ModeGREInUDP {
		b.WriteString(" dport ")
		b.WriteString(strconv.Itoa(int(c.port())))
	}
	b.WriteString(" ttl ")
	if c.TTL == 0 {
		b.WriteString("inherit")
	} else {
		b.WriteString(strconv.Itoa(int(c.TTL)))
	}
	switch {
	case c.InheritTOS:
		b.WriteString(" tos inherit")
	case c.TOS != 0:
		b.WriteString(" tos 0x")
		b.WriteString(strconv.FormatUint(uint64(c.TOS), 16))
	}
	switch {
	case c.IKey != nil && c.OKey != nil && *c.IKey == *c.OKey:
		b.WriteString(" key ")
		b.WriteString(strconv.FormatUint(uint64(*c.IKey), 10))
	default:
		if c.IKey != nil {
			b.WriteString(" ikey ")
			b.WriteString(strconv.FormatUint(uint64(*c.IKey), 10))
		}
		if c.OKey != nil {
			b.WriteString(" okey ")
			b.WriteString(strconv.FormatUint(uint64(*c.OKey), 10))
		}
	}
	for _, f := range []struct {
		on   bool
		word string
	}{{c.ICsum, "icsum"}, {c.OCsum, "ocsum"}, {c.ISeq, "iseq"}, {c.OSeq, "oseq"}, {c.NoPMTUDisc, "nopmtudisc"}, {c.Fallback, "fallback"}} {
		if f.on {
			b.WriteString(" ")
			b.WriteString(f.word)
		}
	}
	if c.MTU != 0 {
		b.WriteString(" mtu ")
		b.WriteString(strconv.Itoa(c.MTU))
	}
	return b.String()
}

// kindText is iproute2's "inner/outer" word: "gre/ip", "ip/ip", "ipv6/ip",
// "ipv6/ipv6", "ip/ipv6", "gre/ipv6", "mobile/ip", "gretap", "gre-in-udp".
func (c *Config) kindText() string {
	switch c.Mode {
	case ModeGRE:
		return "gre/ip"
	case ModeIPIP:
		return "ip/ip"
	case ModeSIT:
		return "ipv6/ip"
	case ModeIP6IP6:
		return "ipv6/ipv6"
	case ModeIPIP6:
		return "ip/ipv6"
	case ModeIP6GRE:
		return "gre/ipv6"
	case ModeMobile:
		return "mobile/ip"
	}
	return c.Mode.String()
}

func (c *Config) port() uint16 {
	if c.Port == 0 {
		return DefaultGREInUDPPort
	}
	return c.Port
}
