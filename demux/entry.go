package demux

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// Class is the protocol class of a tunnel: tunnels of one class compete for
// the same packets, tunnels of different classes never meet. The named
// classes are those of the engine; any other nonzero value is a valid class
// of its own (for example to keep GRE over IPv4 and GRE over IPv6 apart).
// Class 0 is invalid, so that a forgotten field is an error.
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
	// StepFallback matched the class's fallback entry (like gre0 or tunl0).
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

// ID is the identity of an entry: no two entries in a table have equal IDs
// after normalization (see [Entry]). Up and the value are not part of it.
type ID struct {
	// Class is the protocol class; it must not be 0.
	Class Class
	// Local is the tunnel's local address (the outer destination of
	// received packets); the zero Addr or an unspecified address is the
	// wildcard.
	Local netip.Addr
	// Remote is the tunnel's remote address (the outer source of received
	// packets), or a multicast group; zero or unspecified is the wildcard.
	Remote netip.Addr
	// Key is the input key (ikey); it must be 0 when HasKey is false.
	Key uint32
	// HasKey says the tunnel has an input key, so it receives only packets
	// carrying that key. Key 0 with HasKey is a key like any other.
	HasKey bool
	// Link is the index of the underlay link the tunnel is bound to (dev
	// LINK), 0 for none; it must fit in 0..2³¹-1.
	Link int
	// Fallback marks the class's fallback entry (like gre0 or tunl0), of
	// which a class has at most one. Its ID has only the Class set.
	Fallback bool
}

// FallbackID returns the ID of the fallback entry of class c.
func FallbackID(c Class) ID { return ID{Class: c, Fallback: true} }

// String formats the ID the way `ip tunnel` shows a tunnel, with "any" for
// wildcards: "gre local 192.0.2.1 remote any ikey 5 dev 3".
func (id ID) String() string {
	var b strings.Builder
	b.WriteString(id.Class.String())
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

// Entry is one tunnel of the table. Local, Remote, Key, HasKey and Link have
// the meaning given in [ID]. The table stores entries normalized: an
// IPv4-mapped IPv6 address becomes the IPv4 address it maps, zones are
// dropped, and a wildcard (zero or unspecified) becomes the zero Addr, so
// Lookup and Get return them in that form.
type Entry[V any] struct {
	// Class is the protocol class; it must not be 0.
	Class Class
	// Local is the local address, the wildcard (zero Addr or unspecified),
	// or, in a group entry, the address the tunnel sends from.
	Local netip.Addr
	// Remote is the remote address, the wildcard, or a multicast group: an
	// entry with a multicast Remote is a group entry, which matches at
	// StepLocal every packet sent to the group, whatever its source, and
	// never at another step. Its Local is not compared.
	Remote netip.Addr
	// Key is the input key, 0 when HasKey is false.
	Key uint32
	// HasKey says the entry receives only packets with Key; without it,
	// only packets without a key (StepExact to StepWildcardKey).
	HasKey bool
	// Link is the underlay link the entry prefers, 0 for none.
	Link int
	// Fallback makes this the class's fallback entry (see [ID]).
	Fallback bool
	// Up is the UP state: entries that are down never match.
	Up bool
	// Value is the caller's value, returned by Lookup (the engine stores
	// its *Tunnel).
	Value V
}

// ID returns the identity of e.
func (e Entry[V]) ID() ID {
	return ID{Class: e.Class, Local: e.Local, Remote: e.Remote, Key: e.Key,
		HasKey: e.HasKey, Link: e.Link, Fallback: e.Fallback}
}

// Query is a received packet as the lookup sees it.
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

// normAddr returns a in the stored form: unmapped, without zone, and the zero
// Addr for a wildcard.
func normAddr(a netip.Addr) netip.Addr {
	a = a.Unmap()
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
	if id.Local.IsValid() && id.Remote.IsValid() && id.Local.Is4() != id.Remote.Is4() {
		return id, fmt.Errorf("%w: local %v and remote %v of different families", ErrInvalid, id.Local, id.Remote)
	}
	return id, nil
}
