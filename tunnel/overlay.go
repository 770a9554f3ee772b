package tunnel

import (
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/gaissmai/bart"

	"github.com/ipencap/ipencap/iphdr"
)

// OverlayConfig describes a shared Overlay to [Engine.AddOverlay].
type OverlayConfig struct {
	// Name names the overlay; a tunnel uses it with Config.Overlay.
	// Names are unique in an engine.
	Name string
}

// sharedOverlay is an Overlay that many tunnels share (a hub's one TUN
// device): one goroutine reads it and routes each packet, by its inner
// destination, to the tunnel whose Routes hold it (longest prefix wins,
// as wireguard-go's AllowedIPs); what the tunnels receive is written to it
// in one batch per receive batch.
//
// Routes live in two tables, both read without a lock. Host routes (a /32
// or /128, the usual route of a spoke) are in a sync.Map keyed by address:
// O(1) to add and remove at any size, and an address found there needs no
// further lookup, since no prefix is longer. (A sharded copy-on-write map
// of our own was 10 % faster on random lookups at 100 000 routes, both
// bound by cache misses: not worth the code.) Other prefixes are in
// github.com/gaissmai/bart's table, a compressed multibit trie that looks
// an address up in a few cache lines at any size: writers make a new
// version with its persistent (path-copying) insert and publish it through
// an atomic pointer, which costs O(depth) node copies per change — tens of
// microseconds in a table of 100 000 prefixes, where a host route costs
// one map entry.
type sharedOverlay struct {
	name   string
	over   Overlay
	log    *slog.Logger
	mu     sync.Mutex // writers of routes
	hosts  sync.Map   // netip.Addr → *Tunnel: the /32 and /128 routes
	routes atomic.Pointer[bart.Table[*Tunnel]]
	n      int // tunnels on it, guarded by Engine.mu
}

// lookup returns the tunnel whose route holds a, longest prefix first.
func (so *sharedOverlay) lookup(a netip.Addr) *Tunnel {
	if v, ok := so.hosts.Load(a); ok {
		return v.(*Tunnel)
	}
	t, _ := so.routes.Load().Lookup(a)
	return t
}

// get returns the tunnel that has route p.
func (so *sharedOverlay) get(p netip.Prefix) (*Tunnel, bool) {
	if p.IsSingleIP() {
		v, ok := so.hosts.Load(p.Addr())
		if !ok {
			return nil, false
		}
		return v.(*Tunnel), true
	}
	return so.routes.Load().Get(p)
}

// route returns the tunnel of the inner IPv4 or IPv6 packet p, by its
// destination, or nil. It does not allocate.
func (so *sharedOverlay) route(p []byte) *Tunnel {
	var dst netip.Addr
	switch {
	case len(p) >= iphdr.IPv4MinLen && p[0]>>4 == 4:
		dst = iphdr.IPv4(p).Dst()
	case len(p) >= iphdr.IPv6Len && p[0]>>4 == 6:
		dst = iphdr.IPv6(p).Dst()
	default:
		return nil
	}
	return so.lookup(dst)
}

// allows reports whether tunnel t may deliver the inner packet p into the
// overlay: its source must be one t's Routes hold, and t the tunnel the
// overlay would send that source's packets to (as wireguard-go checks a
// packet's source against the peer's AllowedIPs), so that a spoke cannot
// send into the overlay as another.
func (so *sharedOverlay) allows(t *Tunnel, p []byte) bool {
	var src netip.Addr
	switch {
	case len(p) >= iphdr.IPv4MinLen && p[0]>>4 == 4:
		src = iphdr.IPv4(p).Src()
	case len(p) >= iphdr.IPv6Len && p[0]>>4 == 6:
		src = iphdr.IPv6(p).Src()
	default:
		return false
	}
	// The tunnel's own routes first: none holds src, refused; a host
	// route holds it, no route is longer, accepted, without a lookup in
	// the overlay's tables (a spoke's usual route is one host route).
	if t.route0.IsSingleIP() && t.route0.Addr() == src {
		return true
	}
	held := false
	for _, p := range t.cfg.Routes {
		if p.Contains(src) {
			if p.IsSingleIP() {
				return true
			}
			held = true
		}
	}
	return held && so.lookup(src) == t
}

// addRoutes enters t's routes; it refuses a prefix another tunnel has.
func (so *sharedOverlay) addRoutes(t *Tunnel) error {
	so.mu.Lock()
	defer so.mu.Unlock()
	for _, p := range t.cfg.Routes {
		if other, ok := so.get(p); ok {
			return &ConfigError{Tunnel: t.cfg.Name, Field: "route", Value: p.String() + " (tunnel " + other.cfg.Name + ")", Err: ErrConfigDuplicate}
		}
	}
	tab, changed := so.routes.Load(), false
	for _, p := range t.cfg.Routes {
		if p.IsSingleIP() {
			so.hosts.Store(p.Addr(), t)
			continue
		}
		tab, changed = tab.InsertPersist(p, t), true
	}
	if changed {
		so.routes.Store(tab)
	}
	return nil
}

// removeRoutes takes t's routes out.
func (so *sharedOverlay) removeRoutes(t *Tunnel) {
	so.mu.Lock()
	defer so.mu.Unlock()
	tab, changed := so.routes.Load(), false
	for _, p := range t.cfg.Routes {
		if owner, ok := so.get(p); !ok || owner != t {
			continue
		}
		if p.IsSingleIP() {
			so.hosts.Delete(p.Addr())
			continue
		}
		tab, changed = tab.DeletePersist(p), true
	}
	if changed {
		so.routes.Store(tab)
	}
}
