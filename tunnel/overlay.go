package tunnel

import (
	"log/slog"
	"net/netip"

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
// Its routes are an lpmTable: lock-free lookups, O(1) changes for host
// routes (a spoke's usual route).
type sharedOverlay struct {
	name   string
	over   Overlay
	log    *slog.Logger
	routes lpmTable[*Tunnel]
	n      int // tunnels on it, guarded by Engine.mu
}

// lookup returns the tunnel whose route holds a, longest prefix first.
func (so *sharedOverlay) lookup(a netip.Addr) *Tunnel {
	t, _ := so.routes.lookup(a)
	return t
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
	so.routes.mu.Lock()
	defer so.routes.mu.Unlock()
	for _, p := range t.cfg.Routes {
		if other, ok := so.routes.get(p); ok {
			return &ConfigError{Tunnel: t.cfg.Name, Field: "route", Value: p.String() + " (tunnel " + other.cfg.Name + ")", Err: ErrConfigDuplicate}
		}
	}
	for _, p := range t.cfg.Routes {
		so.routes.set(p, t)
	}
	return nil
}

// removeRoutes takes t's routes out.
func (so *sharedOverlay) removeRoutes(t *Tunnel) {
	so.routes.mu.Lock()
	defer so.routes.mu.Unlock()
	for _, p := range t.cfg.Routes {
		so.routes.remove(p, t, true)
	}
}
