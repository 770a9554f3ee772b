package demux

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// Class is the protocol class of a tunnel: tunnels of one class and
// [Family] compete for the same packets, tunnels of different classes never
// meet. The named classes are those of the engine, each for both families
// (ClassGRE holds gre and ip6gre tunnels, kept apart by their Family); any
// other nonzero value is a valid class of its own (for example to keep
// ERSPAN apart from GRE). Class 0 is invalid, so that a forgotten field is
// an error.
type Class uint8

// The protocol classes of the engine.
const (
	// ClassGRE is GRE (IP protocol 47) carrying IP: the modes gre and
	// ip6gre, with the keyed lookup of RFC 2890.
	ClassGRE Class = 1 + iota
	// ClassGRETap is Ethernet over GRE (protocol type 0x6558, transparent
	// Ethernet bridging): the mode gretap, keyed like ClassGRE.
	ClassGRETap
	// ClassIPIP is IPv4 in IPv4 (IP protocol 4, RFC 2003): the mode ipip.
	ClassIPIP
	// ClassSIT is IPv6 in IPv4 (IP protocol 41, 6in4): the mode sit.
	ClassSIT
	// ClassIP6 is IPv4 or IPv6 in IPv6 (RFC 2473): the modes ip6ip6 and
	// ipip6 (Linux's ip6tnl).
	ClassIP6
	// ClassMobile is minimal encapsulation (IP protocol 55, RFC 2004).
	ClassMobile
)

// String returns the iproute2 name of the class ("gre", "gretap", "ipip",
// "sit", "ip6tnl", "mobile") or "Class(N)" for other values.
func (c Class) String() string {
	switch c {
	case ClassGRE:
		return "gre"
	case ClassGRETap:
		return "gretap"
	case ClassIPIP:
		return "ipip"
	case ClassSIT:
		return "sit"
	case ClassIP6:
		return "ip6tnl"
	case ClassMobile:
		return "mobile"
	}
	return "Class(" + strconv.Itoa(int(c)) + ")"
}

// Step is the step of the lookup at which an entry matched (see the package
// documentation for the order).
type Step uint8

// The lookup steps, in order.
const (
	// StepNone is returned with a miss.
	StepNone Step = iota
	// StepExact matched local == destination and remote == source.
	StepExact
	// StepRemote matched remote == source with a wildcard local.
	StepRemote
	// StepLocal matched local == destination with a wildcard remote, or a
	// multicast remote equal to the destination (broadcast GRE).
	StepLocal
	// StepWildcardKey matched an entry with wildcard local and remote and
	// the packet's key (or, keyless, a keyless one).
	StepWildcardKey
	// StepFallback matched the fallback entry of the class and the
	// packet's family (like gre0, tunl0 or ip6gre0).
	StepFallback
)

// String returns "none", "exact", "remote", "local", "wildcard-key",
// "fallback" or "Step(N)".
func (s Step) String() string {
	switch s {
	case StepNone:
		return "none"
	case StepExact:
		return "exact"
	case StepRemote:
		return "remote"
	case StepLocal:
		return "local"
	case StepWildcardKey:
		return "wildcard-key"
	case StepFallback:
		return "fallback"
	}
	return "Step(" + strconv.Itoa(int(s)) + ")"
}

// Family is the address family of a tunnel's outer header. Linux keeps
// IPv4 tunnels (gre, gre0) and IPv6 tunnels (ip6gre, ip6gre0) in separate
// tables, so a packet never meets a tunnel of the other family: in a
// [Table], an entry matches only queries of its family, at every step.
type Family uint8

// The address families.
const (
	// IPv4 is the family of IPv4 outer headers.
	IPv4 Family = 4
	// IPv6 is the family of IPv6 outer headers. IPv4-mapped IPv6 addresses
	// (::ffff:a.b.c.d) belong to it.
	IPv6 Family = 6
)

// String returns "ipv4", "ipv6" or "Family(N)".
func (f Family) String() string {
	switch f {
	case IPv4:
		return "ipv4"
	case IPv6:
		return "ipv6"
	}
	return "Family(" + strconv.Itoa(int(f)) + ")"
}

// familyOf returns the family of a valid address: IPv4 for an IPv4
// address, IPv6 for any other (IPv4-mapped included), 0 for the zero Addr.
func familyOf(a netip.Addr) Family {
	switch {
	case a.Is4():
		return IPv4
	case a.IsValid():
		return IPv6
	}
	return 0
}

// ID is the identity of an entry: no two entries in a table have equal IDs
// after normalization (see [Entry]). Up and the value are not part of it.
type ID struct {
	// Class is the protocol class; it must not be 0.
	Class Class
	// Family is the address family; 0 means the family of Local and
	// Remote. Local and Remote (a wildcard too, when spelled 0.0.0.0 or
	// ::) must be of this family, and an ID with neither address nor
	// Family (a fallback, or a wildcard spelled as the zero Addr) is
	// invalid: a tunnel is IPv4 or IPv6, never both.
	Family Family
	// Local is the tunnel's local address (the outer destination of
	// received packets); the zero Addr or an unspecified address is the
	// wildcard. It must not be IPv4-mapped (see [ErrInvalid]).
	Local netip.Addr
	// Remote is the tunnel's remote address (the outer source of received
	// packets), or a multicast group; zero or unspecified is the wildcard.
	// It must not be IPv4-mapped.
	Remote netip.Addr
	// Key is the input key (ikey); it must be 0 when HasKey is false.
	Key uint32
	// HasKey says the tunnel has an input key, so it receives only packets
	// carrying that key. Key 0 with HasKey is a key like any other.
	HasKey bool
	// Link is the index of the underlay link the tunnel is bound to (dev
	// LINK), 0 for none; it must fit in 0..2³¹-1. At most [MaxShared]
	// entries may differ only in Link (see [ErrTooMany]).
	Link int
	// Fallback marks the fallback entry of a class and family (like gre0
	// or ip6gre0), of which each has at most one. Its ID has only Class
	// and Family set.
	Fallback bool
}

// FallbackID returns the ID of the fallback entry of class c and family f.
func FallbackID(c Class, f Family) ID { return ID{Class: c, Family: f, Fallback: true} }

// family returns id.Family, or else the family of its addresses (0 if
// they have none or disagree).
func (id ID) family() Family {
	if id.Family != 0 {
		return id.Family
	}
	l, r := familyOf(id.Local), familyOf(id.Remote)
	if l == 0 || l == r {
		return r
	}
	if r == 0 {
		return l
	}
	return 0
}

// String formats the ID the way `ip tunnel show` shows a tunnel, the class
// followed by iproute2's family word ("ip" or "ipv6"), with "any" for
// wildcards: "gre/ip local 192.0.2.1 remote any ikey 5 dev 3",
// "gre/ipv6 fallback".
func (id ID) String() string {
	var b strings.Builder
	b.WriteString(id.Class.String())
	switch id.family() {
	case IPv4:
		b.WriteString("/ip")
	case IPv6:
		b.WriteString("/ipv6")
	}
	if id.Fallback {
		b.WriteString(" fallback")
		return b.String()
	}
	b.WriteString(" local ")
	b.WriteString(addrString(id.Local))
	b.WriteString(" remote ")
	b.WriteString(addrString(id.Remote))
	if id.HasKey {
		b.WriteString(" ikey ")
		b.WriteString(strconv.FormatUint(uint64(id.Key), 10))
	}
	if id.Link != 0 {
		b.WriteString(" dev ")
		b.WriteString(strconv.Itoa(id.Link))
	}
	return b.String()
}

func addrString(a netip.Addr) string {
	if isWildcard(a) {
		return "any"
	}
	return a.String()
}

// Entry is one tunnel of the table: its identity, its UP state and the
// caller's value. The fields of [ID] have the meaning given there.
//
// The table stores entries normalized: Family set, zones dropped, and a
// wildcard (zero or unspecified) as the zero Addr, so Lookup and Get return
// them in that form. An IPv4-mapped IPv6 address is not unmapped but
// rejected (ErrInvalid): as an outer address it would be an IPv6 address
// that no IPv6 packet carries (::ffff:0:0/96, RFC 4291 §2.5.5.2, is not
// forwardable, RFC 6890), and unmapping it would give an entry the family
// its writer did not ask for (a mapped address usually comes from a
// dual-stack socket); pass the IPv4 address (netip.Addr.Unmap) instead.
//
// Remote may be a multicast group: an entry with a multicast Remote is a
// group entry, which matches at StepLocal every packet of its family sent
// to the group, whatever its source, and never at another step. Its Local
// is then the address the tunnel sends from and is not compared. Entries
// with HasKey receive only packets with Key; without it, only packets
// without a key (StepExact to StepWildcardKey). Link is the underlay link
// the entry prefers, 0 for none.
type Entry[V any] struct {
	// ID is the identity of the entry.
	ID
	// Up is the UP state: entries that are down never match.
	Up bool
	// Value is the caller's value, returned by Lookup (the engine stores
	// its *Tunnel).
	Value V
}

// Query is a received packet as the lookup sees it. Its family is that of
// its addresses, an IPv4-mapped IPv6 address counting as IPv6 (a packet with
// an IPv6 outer header never reaches an IPv4 tunnel, whatever its source
// address says). A query with neither address, or with addresses of both
// families, matches nothing: no received packet looks like that.
type Query struct {
	// Class is the protocol class of the packet.
	Class Class
	// Src is the outer source address (S). A zero or unspecified Src equals
	// no entry's remote.
	Src netip.Addr
	// Dst is the outer destination address (D). A zero or unspecified Dst
	// equals no entry's local and no group.
	Dst netip.Addr
	// Key is the packet's key, ignored when HasKey is false.
	Key uint32
	// HasKey says the packet carries a key (GRE K bit).
	HasKey bool
	// Link is the index of the link the packet arrived on, 0 if unknown.
	Link int
}

// isWildcard reports whether a is a wildcard address.
func isWildcard(a netip.Addr) bool { return !a.IsValid() || a.IsUnspecified() }

// normAddr returns a in the stored form: without zone, and the zero Addr
// for a wildcard.
func normAddr(a netip.Addr) netip.Addr {
	if isWildcard(a) {
		return netip.Addr{}
	}
	return a.WithZone("")
}

// normalize validates id and returns it in the stored form.
func (id ID) normalize() (ID, error) {
	if id.Class == 0 {
		return id, fmt.Errorf("%w: class 0", ErrInvalid)
	}
	if id.Family != 0 && id.Family != IPv4 && id.Family != IPv6 {
		return id, fmt.Errorf("%w: %v", ErrInvalid, id.Family)
	}
	for _, a := range [2]netip.Addr{id.Local, id.Remote} {
		if a.Is4In6() {
			return id, fmt.Errorf("%w: IPv4-mapped address %v (use the IPv4 address)", ErrInvalid, a)
		}
		if f := familyOf(a); f != 0 && f != id.Family {
			if id.Family != 0 {
				return id, fmt.Errorf("%w: %v address %v in an %v entry", ErrInvalid, f, a, id.Family)
			}
			id.Family = f
		}
	}
	if id.Family == 0 {
		return id, fmt.Errorf("%w: no address family (set Family, or spell the wildcard 0.0.0.0 or ::)", ErrInvalid)
	}
	id.Local, id.Remote = normAddr(id.Local), normAddr(id.Remote)
	if id.Fallback {
		if id.Local.IsValid() || id.Remote.IsValid() || id.HasKey || id.Key != 0 || id.Link != 0 {
			return id, fmt.Errorf("%w: fallback entry with addresses, key or link", ErrInvalid)
		}
		return id, nil
	}
	if !id.HasKey && id.Key != 0 {
		return id, fmt.Errorf("%w: key %d without HasKey", ErrInvalid, id.Key)
	}
	if id.Link < 0 || id.Link > math.MaxInt32 {
		return id, fmt.Errorf("%w: link %d out of range", ErrInvalid, id.Link)
	}
	return id, nil
}
