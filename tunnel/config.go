package tunnel

import (
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/outer"
)

// DefaultGREInUDPPort is the UDP destination port of GRE-in-UDP (RFC 8086
// §3.3); 4755 is GRE-in-UDP over DTLS.
const DefaultGREInUDPPort = 4754

// Key is an optional GRE key: a value with its presence, as Linux keeps
// i_key with GRE_KEY in i_flags (struct ip_tunnel_parm). The zero Key is
// "no key". Config holds Keys by value, so a Config shares no memory with
// the caller.
type Key struct {
	// Value is the key.
	Value gre.Key
	// Set says the key is present.
	Set bool
}

// KeyOf returns k as a present Key: Config{IKey: tunnel.KeyOf(5)} is
// `ikey 5`.
func KeyOf(k gre.Key) Key { return Key{Value: k, Set: true} }

// String returns the key as `ip tunnel` prints it (a number), or "none".
func (k Key) String() string {
	if !k.Set {
		return "none"
	}
	return strconv.FormatUint(uint64(k.Value), 10)
}

// Config is one tunnel, shaped like `ip tunnel add NAME mode M local S
// remote D [ikey K] [okey K] [icsum] [ocsum] [iseq] [oseq] [ttl N|inherit]
// [tos T|inherit] [nopmtudisc] [dev LINK] [mtu N]`. The zero value of each
// option is the Linux default. The engine's own features, which `ip
// tunnel` does not have, are in sub-structs whose zero value is "off":
// Seq, Keepalive, Reflect, Shape, FDB, and the Roam switch. A Config is a
// plain value: [Engine.Add] and [Tunnel.Config] copy it.
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
	// IKey is the key that received packets must carry (ikey); the zero
	// Key means keyless: packets with a key do not match. GRE modes only.
	IKey Key
	// OKey is the key sent (okey); the zero Key sends none. GRE modes only.
	OKey Key
	// ICsum requires a GRE checksum on received packets (icsum); as in
	// Linux, a packet that carries a checksum when the tunnel does not ask
	// for one is refused too. GRE modes only.
	ICsum bool
	// OCsum sends a GRE checksum (ocsum). GRE modes only.
	OCsum bool
	// ISeq requires sequence numbers on received packets (iseq) and drops
	// those at or behind the last one delivered (RFC 2890); see Seq for a
	// reorder buffer. GRE modes only.
	ISeq bool
	// OSeq numbers the packets sent (oseq). GRE modes only.
	OSeq bool
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

	// Overlay names a shared overlay ([Engine.AddOverlay]) the tunnel
	// uses instead of one of its own (Engine.Add is then given nil): many
	// tunnels behind one TUN device, as a hub terminates its spokes.
	Overlay string
	// Routes are the inner prefixes of a tunnel on a shared overlay, as
	// wireguard's AllowedIPs: packets the overlay gives with a
	// destination in them go to this tunnel (longest prefix wins over
	// every tunnel of the overlay), and packets the tunnel receives must
	// come from a source in them (Stats.RxSourceRefused). Only with
	// Overlay; no two tunnels of an overlay may hold the same prefix.
	Routes []netip.Prefix

	// Seq refines ISeq: a reorder buffer and a resync rule.
	Seq SeqConfig
	// Keepalive sends Cisco-style keepalives and runs the line protocol.
	Keepalive KeepaliveConfig
	// Reflect answers peers' keepalive requests.
	Reflect ReflectConfig
	// Shape shapes what the tunnel sends with a token bucket.
	Shape ShapeConfig
	// FDB bounds the MAC learning of a broadcast gretap tunnel.
	FDB FDBConfig
	// Roam lets the remote follow the peer: the tunnel sends to the outer
	// source (and, for GRE-in-UDP, the UDP source port) of packets that
	// passed every one of its checks (key, checksum, sequence number):
	// three in a row, or with iseq one numbered near the last delivered
	// from the current peer (see the package doc), so a peer behind NAT or with a dynamic
	// address keeps its tunnel. Remote is the first peer and must be set; the tunnel then
	// receives from any source address. Not for ModeMobile. Off by
	// default, and think before turning it on: a GRE key is not
	// authentication (it travels in clear and, without sequence numbers,
	// can be replayed), so anyone who can send the tunnel one packet with
	// the right key (checksum, sequence number) can move it to themselves
	// and receive what it sends. Use it over an authenticated underlay, or
	// only where that is acceptable.
	Roam bool
}

// SeqConfig refines the receive rule of iseq (Config.ISeq, which both
// fields need).
type SeqConfig struct {
	// Reorder holds up to this many packets that arrive ahead of a gap,
	// for at most ReorderWait, and delivers them in order (RFC 2890 §3,
	// MAX_PERFLOW_BUFFER); 0 drops them as Linux does. At most
	// [gre.MaxReorderPackets].
	Reorder int
	// ReorderWait is OUTOFORDER_TIMER; 0 means [gre.DefaultReorderWait].
	ReorderWait time.Duration
	// ReorderBytes bounds the bytes the reorder buffer holds, beside its
	// packets: a packet that would pass it releases what waits, past its
	// gaps, as a full buffer does. 0 means [DefaultReorderBytes]. It
	// counts the packets' bytes; the memory they hold is their buffers':
	// each is copied into one of 2 KiB if it fits (a packet of a usual
	// MTU) and a whole 64 KiB receive buffer if not, so the memory is at
	// most Reorder of those, whatever ReorderBytes says.
	ReorderBytes int
	// Resync accepts a packet after this many consecutive out-of-sequence
	// drops and restarts the window from it: a peer that restarted counts
	// from 0 again and would otherwise be dropped for up to 2^31 packets.
	// 0 (the default, as in Linux) never resyncs.
	Resync int
}

// KeepaliveConfig turns on Cisco-style GRE keepalives: `keepalive 10 5` on
// a Cisco tunnel interface is KeepaliveConfig{Period: DefaultKeepalive,
// Retries: 5}. ModeGRE only, with a unicast remote: the request is an IPv4
// GRE packet that the peer routes back to us. The far end needs no
// keepalive support of its own: it decapsulates the request and forwards
// the inner packet, the reply (see the package doc, and ReflectConfig for
// an engine at the far end). The line protocol ([Tunnel.LineUp]) follows
// the replies; [EngineConfig.OnLineChange] hears of its changes.
type KeepaliveConfig struct {
	// Period is the time between requests, at least [MinKeepalive]; 0
	// turns keepalives off.
	Period time.Duration
	// Retries is how many periods may pass without a reply before the
	// line protocol goes down; 0 means [DefaultKeepaliveRetries] (5).
	Retries int
}

// ReflectConfig answers peers' keepalive requests the way a Cisco router
// does by routing: the inner packet of a request (an IPv4 GRE packet of
// protocol 0 from this end to the peer) is written straight back to the
// underlay instead of to the overlay. Only requests whose inner source is
// this tunnel's local address and whose inner destination is this
// tunnel's remote, the outer ones swapped, are reflected, never to a
// destination that [gre.Reflectable] refuses, never one with IP options,
// and at most [ReflectRate] per second (burst [ReflectBurst]) from each
// source: the tunnel's remote, or with AnySource each other one, so that
// no source can spend another's share.
// The others are dropped and counted in
// ReflectRefused. ModeGRE only. Off by default: the request is then
// delivered to the overlay like any packet, for the host to route.
type ReflectConfig struct {
	// Enable turns reflection on.
	Enable bool
	// AnySource, with Enable, also reflects requests from sources other
	// than the tunnel's remote (a tunnel with remote any, a fallback): the
	// inner addresses must still be the outer ones swapped, so the reply
	// goes back only to the host that sent the request.
	AnySource bool
}

// ShapeConfig shapes what the tunnel sends with a token bucket, like `tc
// qdisc add dev tunl0 root tbf rate R burst B limit L` (see the package
// doc).
type ShapeConfig struct {
	// Rate is the rate in bits per second; 0 turns shaping off.
	Rate uint64
	// Burst is the bucket size in bytes (burst); 0 means the underlay
	// MTU. A packet larger than the bucket is never sent.
	Burst int
	// Limit is how many bytes may wait for tokens (limit); a packet that
	// would wait longer than Limit bytes take at Rate is dropped
	// (TxShapedDrops). 0 queues nothing: a packet that finds too few
	// tokens is dropped at once (a policer).
	Limit int
}

// FDBConfig bounds the forwarding database of a broadcast gretap tunnel
// (ModeGRETap with a multicast Remote; see [Tunnel.FDB]). It is only for
// such tunnels.
type FDBConfig struct {
	// Ageing is how long a learnt MAC address is kept without a frame
	// from it; 0 means [DefaultFDBAgeing] (300 s, a Linux bridge's
	// ageing_time).
	Ageing time.Duration
	// Max bounds the MAC addresses learnt; 0 means [DefaultFDBMax]. A
	// full table learns no new address (Stats.FDBFull) until entries
	// expire; their frames are still delivered.
	Max int
	// LearnRate bounds how many new addresses are learnt per second (with
	// bursts of as many); 0 means [DefaultFDBLearnRate]. Refused ones
	// count in Stats.FDBRefused.
	LearnRate int
	// NoLearning learns nothing: every frame goes to the group, as a
	// bridge port with learning off.
	NoLearning bool
	// Members, when not empty, are the only outer sources addresses are
	// learnt behind: a host outside them (one that can send to the
	// tunnel's address but is no member) cannot move a learnt address to
	// itself and receive its traffic. Without Members, any source that
	// passes the tunnel's checks (key, checksum, sequence number) is
	// learnt behind; a GRE key is no authentication. Unicast addresses of
	// the outer family, copied by Engine.Add.
	Members []netip.Addr
}

// Keepalive defaults, as on Cisco routers (`keepalive` with no arguments
// is `keepalive 10 3` on some releases and 10 5 on others; this package
// uses 5).
const (
	// DefaultKeepalive is the Cisco keepalive period.
	DefaultKeepalive = 10 * time.Second
	// DefaultKeepaliveRetries is Keepalive.Retries' default.
	DefaultKeepaliveRetries = 5
	// MinKeepalive is the shortest keepalive period: a shorter one floods
	// the peer (a period of 1 ns sent 600 000 keepalives in 200 ms).
	// Cisco's shortest is 1 s; this bound leaves room for tests and fast
	// failure detection.
	MinKeepalive = 10 * time.Millisecond
)

// Reflector rate limits: a tunnel with Reflect answers at most
// ReflectRate keepalive requests per second, with bursts of ReflectBurst,
// from each source (golang.org/x/time/rate token buckets).
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
	// ErrConfigFDB means an FDB option negative, a member that is not a
	// unicast address of the outer family, or an FDB option set on a tunnel
	// that is not broadcast gretap (ModeGRETap with a multicast remote).
	ErrConfigFDB = errors.New("fdb options need a gretap tunnel with a multicast remote")
	// ErrConfigOverlay means Config.Overlay names no shared overlay of the
	// engine, a tunnel given both an overlay of its own and a shared one,
	// or neither; Routes without Overlay, or a route that is not a valid
	// prefix; a shared overlay for a mode that carries Ethernet.
	ErrConfigOverlay = errors.New("overlay missing, unknown or given twice, or routes without a shared overlay")
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
	// Err is one of the ErrConfig values, or an error of package outer
	// (the outer-header rules are [outer.Config.Validate]'s alone).
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
// [*ConfigError], or nil. The outer-header rules (ttl, tos, nopmtudisc)
// are [outer.Config.ValidateOptions]'s; their errors are outer's.
func (c *Config) Validate() error {
	fail := func(field, value string, err error) error {
		return &ConfigError{Tunnel: c.Name, Field: field, Value: value, Err: err}
	}
	if c.Name == "" {
		return fail("name", `""`, ErrConfigName)
	}
	if !c.Mode.valid() {
		return fail("mode", c.Mode.String(), ErrConfigMode)
	}
	row := c.Mode.info()
	fam := row.family
	for _, a := range [...]struct {
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
	if !row.gre {
		for _, o := range [...]struct {
			on          bool
			word, value string
		}{{c.IKey.Set, "ikey", c.IKey.Value.String()}, {c.OKey.Set, "okey", c.OKey.Value.String()},
			{c.ICsum, "icsum", ""}, {c.OCsum, "ocsum", ""}, {c.ISeq, "iseq", ""}, {c.OSeq, "oseq", ""}} {
			if o.on {
				return fail(o.word, o.value, ErrConfigGREOnly)
			}
		}
	}
	if c.Seq.Reorder < 0 || c.Seq.Reorder > gre.MaxReorderPackets || (c.Seq.Reorder > 0 && !c.ISeq) {
		return fail("reorder", strconv.Itoa(c.Seq.Reorder), ErrConfigRange)
	}
	if c.Seq.ReorderBytes < 0 || (c.Seq.ReorderBytes > 0 && c.Seq.Reorder == 0) {
		return fail("reorderbytes", strconv.Itoa(c.Seq.ReorderBytes), ErrConfigRange)
	}
	if c.Seq.ReorderWait < 0 || c.Seq.ReorderWait > gre.MaxReorderWait {
		return fail("reorderwait", c.Seq.ReorderWait.String(), ErrConfigRange)
	}
	if c.Seq.Resync < 0 || (c.Seq.Resync > 0 && !c.ISeq) {
		return fail("seqresync", strconv.Itoa(c.Seq.Resync), ErrConfigRange)
	}
	oc := c.outerConfig(netip.Addr{}, netip.Addr{})
	if err := oc.ValidateOptions(fam == 6 || c.Local.Is6() || c.Remote.Is6()); err != nil {
		var oe *outer.ConfigError
		if errors.As(err, &oe) {
			return fail(oe.Field, oe.Value, oe.Err)
		}
		return fail("outer", "", err)
	}
	if c.MTU < 0 || c.MTU > MaxPacket {
		return fail("mtu", strconv.Itoa(c.MTU), ErrConfigMTU)
	}
	if c.Fallback && (!isAny(c.Local) || !isAny(c.Remote) || c.IKey.Set) {
		return fail("fallback", "", ErrConfigFallback)
	}
	ka := c.Keepalive
	if ka.Period < 0 || (ka.Period > 0 && (c.Mode != ModeGRE || isAny(c.Remote) || c.Remote.IsMulticast() || c.Fallback)) {
		return fail("keepalive", ka.Period.String(), ErrConfigKeepalive)
	}
	if ka.Period > 0 && ka.Period < MinKeepalive {
		return fail("keepalive", ka.Period.String(), ErrConfigRange)
	}
	if ka.Retries < 0 {
		return fail("keepalive-retries", strconv.Itoa(ka.Retries), ErrConfigKeepalive)
	}
	if (c.Reflect.Enable || c.Reflect.AnySource) && (c.Mode != ModeGRE || !c.Reflect.Enable) {
		return fail("reflect", "", ErrConfigKeepalive)
	}
	sh := c.Shape
	if sh.Burst < 0 || sh.Burst > 1<<30 || (sh.Burst > 0 && sh.Rate == 0) {
		return fail("burst", strconv.Itoa(sh.Burst), ErrConfigRange)
	}
	if sh.Limit < 0 || sh.Limit > 1<<30 || (sh.Limit > 0 && sh.Rate == 0) {
		return fail("limit", strconv.Itoa(sh.Limit), ErrConfigRange)
	}
	if c.Roam && (isAny(c.Remote) || c.Remote.IsMulticast() || c.Fallback || c.Mode == ModeMobile) {
		return fail("roam", "", ErrConfigRoam)
	}
	if len(c.Routes) > 0 && c.Overlay == "" || c.Overlay != "" && row.carries == carriesEthernet {
		return fail("overlay", c.Overlay, ErrConfigOverlay)
	}
	for _, p := range c.Routes {
		if !p.IsValid() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
			return fail("route", p.String(), ErrConfigOverlay)
		}
	}
	broadcastTap := c.Mode == ModeGRETap && c.Remote.IsMulticast()
	if c.FDB.Ageing < 0 || (c.FDB.Ageing != 0 && !broadcastTap) {
		return fail("fdb-ageing", c.FDB.Ageing.String(), ErrConfigFDB)
	}
	if c.FDB.Max < 0 || (c.FDB.Max != 0 && !broadcastTap) {
		return fail("fdb-max", strconv.Itoa(c.FDB.Max), ErrConfigFDB)
	}
	if c.FDB.LearnRate < 0 || ((c.FDB.LearnRate != 0 || c.FDB.NoLearning || len(c.FDB.Members) > 0) && !broadcastTap) {
		return fail("fdb", strconv.Itoa(c.FDB.LearnRate), ErrConfigFDB)
	}
	for _, m := range c.FDB.Members {
		if !m.IsValid() || m.Is4In6() || m.IsMulticast() || m.IsUnspecified() || m.IsLoopback() || m.Is6() != c.Remote.Is6() {
			return fail("fdb-member", m.String(), ErrConfigFDB)
		}
	}
	return nil
}

// clone returns c with its own copy of every slice, so that a Config held
// by the engine shares no memory with the caller's.
func (c Config) clone() Config {
	c.FDB.Members = slices.Clone(c.FDB.Members)
	c.Routes = slices.Clone(c.Routes)
	for i, p := range c.Routes {
		c.Routes[i] = p.Masked()
	}
	return c
}

// outerConfig is the outer header of c's packets from local to remote.
func (c *Config) outerConfig(local, remote netip.Addr) outer.Config {
	return outer.Config{Local: local, Remote: remote, TTL: c.TTL, TOS: c.TOS, InheritTOS: c.InheritTOS, NoPMTUDisc: c.NoPMTUDisc}
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
	case c.IKey.Set && c.IKey == c.OKey:
		b.WriteString(" key ")
		b.WriteString(c.IKey.String())
	default:
		if c.IKey.Set {
			b.WriteString(" ikey ")
			b.WriteString(c.IKey.String())
		}
		if c.OKey.Set {
			b.WriteString(" okey ")
			b.WriteString(c.OKey.String())
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
	if k := c.Mode.info().kind; k != "" {
		return k
	}
	return c.Mode.String()
}

func (c *Config) port() uint16 {
	if c.Port == 0 {
		return DefaultGREInUDPPort
	}
	return c.Port
}
