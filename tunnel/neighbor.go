package tunnel

import (
	"cmp"
	"errors"
	"net/netip"
	"slices"
)

// Neighbour table errors.
var (
	// ErrNotNBMA means a neighbour entry for a tunnel that takes none: a
	// point-to-point tunnel (a unicast remote), a fallback tunnel, a
	// roaming tunnel, or a gretap tunnel (whose broadcast form learns its
	// members, see [Tunnel.FDB]).
	ErrNotNBMA = errors.New("tunnel: neighbour entries need an NBMA tunnel (remote any or a multicast group; not gretap, fallback or roam)")
	// ErrNeighborAddr means an inner prefix of a family the mode does not
	// carry, or an outer address that is not a unicast address of the
	// tunnel's outer family (or a port on a tunnel that is not
	// GRE-in-UDP), or a tunnel with local any over an underlay without an
	// address of that family.
	ErrNeighborAddr = errors.New("tunnel: neighbour address of the wrong family or kind")
	// ErrNoNeighbor means RemoveNeighbor found no entry for the prefix.
	ErrNoNeighbor = errors.New("tunnel: no such neighbour entry")
)

// Neighbor is one static entry of an NBMA tunnel's neighbour table: inner
// destinations in Inner are sent to the outer destination Outer, like
// `ip neigh add 192.0.2.9 lladdr 198.51.100.9 dev gre1 nud permanent`
// (Inner 192.0.2.9/32) or `ip route add 10.0.0.0/24 via 198.51.100.9 dev
// tunl0 onlink` (Inner 10.0.0.0/24).
type Neighbor struct {
	// Inner is the inner destination prefix, masked.
	Inner netip.Prefix
	// Outer is the outer destination; its port is the UDP destination
	// port for GRE-in-UDP and 0 otherwise.
	Outer netip.AddrPort
}

// neighbor is a Neighbor with its own Encapsulator, addressed to Outer.
type neighbor struct {
	Neighbor
	enc encapsulator
}

// neighbors is a tunnel's neighbour table: lock-free lookups on the send
// path, O(1) adds and removes of host entries (it was a copy-on-write map
// copied whole for each entry: seconds for 8 000 entries).
type neighbors struct {
	tab lpmTable[*neighbor]
}

// lookup returns the entry with the longest prefix holding dst, or nil.
// It does not allocate.
func (n *neighbors) lookup(dst netip.Addr) *neighbor {
	e, _ := n.tab.lookup(dst)
	return e
}

// empty reports whether the table has no entry.
func (n *neighbors) empty() bool { return n.tab.len() == 0 }

// nbma reports whether the tunnel takes neighbour entries: remote any or a
// multicast group, not gretap, fallback or roam.
func (t *Tunnel) nbma() bool {
	c := &t.cfg
	return (isAny(c.Remote) || c.Remote.IsMulticast()) && !c.Fallback && !c.Roam && t.row.carries != carriesEthernet
}

// AddNeighbor adds a static ("nud permanent") entry to the neighbour table
// of an NBMA tunnel, or replaces the entry of the same prefix (`ip neigh
// replace`): inner packets whose destination lies in inner are
// encapsulated to outer. The longest prefix holding a packet's
// destination wins; a host entry is netip.PrefixFrom(addr, addr.BitLen()).
// The engine has no routing table: a route through the tunnel to a next
// hop (`ip route add 10.0.0.0/24 via 10.0.0.9 dev gre1` with `ip neigh add
// 10.0.0.9 lladdr 198.51.100.9`) is the entry 10.0.0.0/24 → 198.51.100.9.
//
// NBMA tunnels are those with remote any (not fallback, not roaming), and
// those with a multicast remote (broadcast GRE), whose packets without an
// entry go to the group; gretap tunnels take no entries. Without an entry
// an NBMA tunnel with remote any counts the packet as TxNoRoute. The
// prefix's family must be one the mode carries, outer a unicast address
// of the tunnel's outer family; outer's port is the GRE-in-UDP destination
// port (0: Config.Port) and must be 0 for other modes.
//
// Each entry has its own Encapsulator, made here: a tunnel with oseq
// numbers the packets to each neighbour from 0, so each peer sees its own
// gapless sequence. Lookups take no lock and do not allocate; adding or
// removing a host entry costs O(1) whatever the table's size (other
// prefixes O(depth) node copies). Errors: [ErrNotNBMA], [ErrNeighborAddr], or the
// Encapsulator's.
func (t *Tunnel) AddNeighbor(inner netip.Prefix, outer netip.AddrPort) error {
	if !t.nbma() {
		return ErrNotNBMA
	}
	if !inner.IsValid() {
		return ErrNeighborAddr
	}
	inner = inner.Masked()
	if v := t.row.innerVersion(); (v == 4 && !inner.Addr().Is4()) || (v == 6 && !inner.Addr().Is6()) || inner.Addr().Is4In6() {
		return ErrNeighborAddr
	}
	oa := outer.Addr()
	v6 := t.outer6()
	if !oa.IsValid() || oa.Is4In6() || oa.IsUnspecified() || oa.IsMulticast() || oa.Is6() != v6 || oa.Zone() != "" {
		return ErrNeighborAddr
	}
	if t.row.framing == FramingUDP {
		if outer.Port() == 0 {
			outer = netip.AddrPortFrom(oa, t.cfg.port())
		}
	} else if outer.Port() != 0 {
		return ErrNeighborAddr
	}
	if t.ul.framing == FramingIP && !t.local.IsValid() {
		return ErrNeighborAddr
	}
	enc, err := t.newEncapsulator(oa)
	if err != nil {
		return err
	}
	tab := &t.neigh.tab
	tab.mu.Lock()
	defer tab.mu.Unlock()
	tab.set(inner, &neighbor{Neighbor: Neighbor{Inner: inner, Outer: outer}, enc: enc})
	return nil
}

// RemoveNeighbor removes the entry of prefix inner (`ip neigh del`);
// packets sent while it is removed may still use it. It returns
// [ErrNoNeighbor] when there is none.
func (t *Tunnel) RemoveNeighbor(inner netip.Prefix) error {
	inner = inner.Masked()
	tab := &t.neigh.tab
	tab.mu.Lock()
	defer tab.mu.Unlock()
	if !tab.remove(inner, nil, false) {
		return ErrNoNeighbor
	}
	return nil
}

// Neighbors returns the neighbour table (`ip neigh show dev NAME`), IPv4
// prefixes first, then by address and length.
func (t *Tunnel) Neighbors() []Neighbor {
	if t.neigh.empty() {
		return nil
	}
	out := make([]Neighbor, 0, t.neigh.tab.len())
	for _, e := range t.neigh.tab.all() {
		out = append(out, e.Neighbor)
	}
	slices.SortFunc(out, func(a, b Neighbor) int {
		if c := a.Inner.Addr().Compare(b.Inner.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(a.Inner.Bits(), b.Inner.Bits())
	})
	return out
}
