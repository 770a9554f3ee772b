package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"slices"
	"sync"

	"github.com/ipencap/ipencap/tunnel"
)

// plan is what a reload changes: the difference between the running
// spokes and a new file's. A spoke whose configuration is the same (every
// field; its routes as a set) is left alone, so it keeps its
// *tunnel.Tunnel, its counters and its packets; a changed one is removed
// and added again.
type plan struct {
	// Remove are the spokes to remove: gone from the file, or changed.
	Remove []string
	// Add are the spokes to add: new in the file, or changed; in the
	// file's order.
	Add []tunnel.Config
	// Added, Removed and Changed name the spokes by what happens to them
	// (Remove is Removed and Changed, Add is Added and Changed).
	Added, Removed, Changed []string
	// Unchanged counts the spokes left alone.
	Unchanged int
	// RouteDel and RouteAdd are the device routes to delete and add:
	// prefixes that only the old or only the new configuration holds.
	RouteDel, RouteAdd []netip.Prefix
}

// diff returns the plan that takes the spokes running from old to new.
func diff(old, new []tunnel.Config) plan {
	var p plan
	was := make(map[string]*tunnel.Config, len(old))
	for i := range old {
		was[old[i].Name] = &old[i]
	}
	is := make(map[string]bool, len(new))
	for i := range new {
		c := &new[i]
		is[c.Name] = true
		switch o, ok := was[c.Name]; {
		case !ok:
			p.Added = append(p.Added, c.Name)
			p.Add = append(p.Add, *c)
		case sameSpoke(o, c):
			p.Unchanged++
		default:
			p.Changed = append(p.Changed, c.Name)
			p.Remove = append(p.Remove, c.Name)
			p.Add = append(p.Add, *c)
		}
	}
	for i := range old {
		if !is[old[i].Name] {
			p.Removed = append(p.Removed, old[i].Name)
			p.Remove = append(p.Remove, old[i].Name)
		}
	}
	oldRoutes, newRoutes := routeSet(old), routeSet(new)
	for _, c := range old {
		for _, r := range c.Routes {
			if !newRoutes[r] {
				p.RouteDel = append(p.RouteDel, r)
			}
		}
	}
	for _, c := range new {
		for _, r := range c.Routes {
			if !oldRoutes[r] {
				p.RouteAdd = append(p.RouteAdd, r)
			}
		}
	}
	return p
}

// sameSpoke reports whether a and b configure the same tunnel: every
// field equal, the routes compared as sets.
func sameSpoke(a, b *tunnel.Config) bool {
	x, y := *a, *b
	x.Routes, y.Routes = sortedRoutes(a.Routes), sortedRoutes(b.Routes)
	return reflect.DeepEqual(x, y)
}

func sortedRoutes(r []netip.Prefix) []netip.Prefix {
	r = slices.Clone(r)
	slices.SortFunc(r, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return r
}

func routeSet(spokes []tunnel.Config) map[netip.Prefix]bool {
	m := map[netip.Prefix]bool{}
	for _, c := range spokes {
		for _, r := range c.Routes {
			m[r] = true
		}
	}
	return m
}

// routeTable is where the host's routes into the hub's device go: the TUN
// device's routing table, or a fake in tests.
type routeTable interface {
	AddRoute(p netip.Prefix) error
	DelRoute(p netip.Prefix) error
}

// retired keeps the final counters of removed tunnels, so that sums over
// all tunnels (-aggregate) never go down when a spoke goes.
type retired struct {
	mu sync.Mutex
	s  tunnel.Stats
}

// add adds s to the retired counters.
func (r *retired) add(s tunnel.Stats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	addStats(&r.s, &s)
}

// get returns the retired counters.
func (r *retired) get() tunnel.Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.s
}

// addStats adds every counter of s to sum.
func addStats(sum, s *tunnel.Stats) {
	a, b := reflect.ValueOf(sum).Elem(), reflect.ValueOf(s).Elem()
	for i := range a.NumField() {
		if f := a.Field(i); f.Kind() == reflect.Uint64 {
			f.SetUint(f.Uint() + b.Field(i).Uint())
		}
	}
}

// apply carries out p on eng and rt: removals first (so that a changed
// spoke's key and routes are free for its new tunnel), then additions,
// then the device routes. The final counters of removed tunnels go to
// gone (when not nil). It goes on after a failure and returns every
// failure joined.
func apply(eng *tunnel.Engine, rt routeTable, p *plan, gone *retired, log *slog.Logger) error {
	var errs []error
	for _, name := range p.Remove {
		t, ok := eng.Get(name)
		if err := eng.Remove(name); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", name, err))
			continue
		}
		if ok && gone != nil {
			gone.add(t.Stats()) // final: Remove waited for its goroutines
		}
	}
	for _, c := range p.Add {
		if _, err := eng.Add(c, nil); err != nil {
			errs = append(errs, fmt.Errorf("add %s: %w", c.Name, err))
		}
	}
	for _, r := range p.RouteDel {
		if err := rt.DelRoute(r); err != nil {
			errs = append(errs, fmt.Errorf("delete route %s: %w", r, err))
		}
	}
	for _, r := range p.RouteAdd {
		if err := rt.AddRoute(r); err != nil {
			errs = append(errs, fmt.Errorf("add route %s: %w", r, err))
		}
	}
	if log != nil && len(errs) > 0 {
		log.Error("reload incomplete", "errors", len(errs), "first", errs[0].Error())
	}
	return errors.Join(errs...)
}
