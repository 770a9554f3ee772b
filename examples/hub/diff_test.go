package main

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/tunneltest"
)

// The inner prefixes of the tests' spokes are in 10.0.0.0/8: they never
// leave the test (in memory here, inside the test's own namespaces in the
// namespace test), and 10 000 spokes need more room than the
// documentation prefixes have. Outer addresses are documentation ones.

// spokeNet is spoke i's route, 10.(i/256).(i%256).0/24 (i < 65280).
func spokeNet(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24)
}

// spokeHost is a /32 in 10.0.0.0/8 for spoke i (i < 2^24).
func spokeHost(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
}

// spokeYAML is spoke i of a file: key i, remote 198.51.100.2.
func spokeYAML(i int, routes string) string {
	return fmt.Sprintf("  - name: spoke%d\n    remote: 198.51.100.2\n    key: %d\n    routes: [%s]\n", i, i, routes)
}

// hubYAML is a file with the spokes ids, each routing spokeNet(i).
func hubYAML(ids []int) string {
	var b strings.Builder
	b.WriteString("local: 198.51.100.1\ndefaults:\n  ttl: 64\nspokes:\n")
	for _, i := range ids {
		b.WriteString(spokeYAML(i, spokeNet(i).String()))
	}
	return b.String()
}

func mustParse(t *testing.T, file string) *hubConfig {
	t.Helper()
	hc, err := parseConfig("hub.yaml", []byte(file))
	require.NoError(t, err)
	return hc
}

// TestDiff: unchanged spokes are left alone (routes compared as sets),
// removed ones removed, new ones added, changed ones (any field) removed
// and added again; the device routes change only where the set of
// prefixes does.
func TestDiff(t *testing.T) {
	old := mustParse(t, `local: 198.51.100.1
spokes:
  - {name: same, remote: 203.0.113.1, key: 1, routes: [10.1.0.0/24, 10.1.1.0/24]}
  - {name: reordered, remote: 203.0.113.2, key: 2, routes: [10.2.0.0/24, 10.2.1.0/24]}
  - {name: gone, remote: 203.0.113.3, key: 3, routes: [10.3.0.0/24]}
  - {name: rekeyed, remote: 203.0.113.4, key: 4, routes: [10.4.0.0/24]}
  - {name: rerouted, remote: 203.0.113.5, key: 5, routes: [10.5.0.0/24]}
  - {name: csum, remote: 203.0.113.6, key: 6, routes: [10.6.0.0/24]}
`)
	new := mustParse(t, `local: 198.51.100.1
spokes:
  - {name: new, remote: 203.0.113.9, key: 9, routes: [10.3.0.0/24]}
  - {name: same, remote: 203.0.113.1, key: 1, routes: [10.1.0.0/24, 10.1.1.0/24]}
  - {name: reordered, remote: 203.0.113.2, key: 2, routes: [10.2.1.0/24, 10.2.0.0/24]}
  - {name: rekeyed, remote: 203.0.113.4, key: 44, routes: [10.4.0.0/24]}
  - {name: rerouted, remote: 203.0.113.5, key: 5, routes: [10.5.0.0/24, 10.5.1.0/24]}
  - {name: csum, remote: 203.0.113.6, key: 6, csum: true, routes: [10.6.0.0/24]}
`)
	p := diff(old.Spokes, new.Spokes)
	assert.Equal(t, 2, p.Unchanged, "same, reordered")
	assert.Equal(t, []string{"new"}, p.Added)
	assert.Equal(t, []string{"gone"}, p.Removed)
	assert.Equal(t, []string{"rekeyed", "rerouted", "csum"}, p.Changed)
	assert.Equal(t, []string{"rekeyed", "rerouted", "csum", "gone"}, p.Remove)
	var added []string
	for _, c := range p.Add {
		added = append(added, c.Name)
	}
	assert.Equal(t, []string{"new", "rekeyed", "rerouted", "csum"}, added)
	assert.Empty(t, p.RouteDel, "10.3.0.0/24 moved from gone to new: the device route stays")
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.5.1.0/24")}, p.RouteAdd)

	p = diff(new.Spokes, old.Spokes)
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.5.1.0/24")}, p.RouteDel)
	assert.Empty(t, p.RouteAdd)

	p = diff(old.Spokes, old.Spokes)
	assert.Equal(t, plan{Unchanged: 6}, p, "the same file: nothing to do")

	// A change of the defaults changes every spoke.
	a, b := mustParse(t, hubYAML([]int{1, 2})), mustParse(t, strings.Replace(hubYAML([]int{1, 2}), "ttl: 64", "ttl: 65", 1))
	p = diff(a.Spokes, b.Spokes)
	assert.Equal(t, []string{"spoke1", "spoke2"}, p.Changed)
}

// fakeRoutes is a routeTable in memory.
type fakeRoutes map[netip.Prefix]bool

func (f fakeRoutes) AddRoute(p netip.Prefix) error { f[p] = true; return nil }
func (f fakeRoutes) DelRoute(p netip.Prefix) error {
	if !f[p] {
		return fmt.Errorf("no route %s", p)
	}
	delete(f, p)
	return nil
}

// TestApply: a plan carried out on an engine with a shared overlay (in
// memory): an unchanged spoke keeps its *tunnel.Tunnel and its counters,
// and carries packets while the others change; the removed spoke's
// counters go to the retired sums; the device routes follow.
func TestApply(t *testing.T) {
	hub, far := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")
	a, w := tunneltest.NewPipe(tunneltest.PipeConfig{AddrA: netip.AddrPortFrom(hub, 0), AddrB: netip.AddrPortFrom(far, 0)})
	eng := tunnel.NewEngine(tunnel.EngineConfig{})
	t.Cleanup(func() { _ = eng.Close(); _ = w.Close() })
	require.NoError(t, eng.AddUnderlay(a, tunnel.UnderlayConfig{Name: "wire", Local: []netip.Addr{hub}}))
	o := tunneltest.NewChannelOverlay(tunneltest.OverlayConfig{})
	require.NoError(t, eng.AddOverlay(o, tunnel.OverlayConfig{Name: overlayName}))
	rt := fakeRoutes{}
	old := mustParse(t, hubYAML([]int{1, 2, 3}))
	p := diff(nil, old.Spokes)
	require.NoError(t, apply(eng, rt, &p, nil, nil))
	assert.Len(t, rt, 3)

	// Spoke 1 sends 3 packets; spoke 2 one.
	send := func(i, n int) {
		t.Helper()
		for range n {
			require.NoError(t, o.Inject(testpkt.BuildIPv4(0, 60, testpkt.IPv4{TTL: 64, Src: netip.MustParseAddr("192.0.2.1"),
				Dst: spokeNet(i).Addr().Next()})))
		}
	}
	waitTx := func(name string, n uint64) {
		t.Helper()
		require.Eventually(t, func() bool {
			tn, ok := eng.Get(name)
			return ok && tn.Stats().TxPackets == n
		}, 5*time.Second, time.Millisecond, "%s sent %d", name, n)
	}
	send(1, 3)
	send(2, 1)
	waitTx("spoke1", 3)
	waitTx("spoke2", 1)
	t1, _ := eng.Get("spoke1")

	// Reload: 2 removed, 3 changed (its key), 4 added, 1 unchanged.
	next := mustParse(t, strings.Replace(hubYAML([]int{1, 3, 4}), "key: 3\n", "key: 33\n", 1))
	p = diff(old.Spokes, next.Spokes)
	var gone retired
	require.NoError(t, apply(eng, rt, &p, &gone, nil))
	t1b, ok := eng.Get("spoke1")
	require.True(t, ok)
	assert.Same(t, t1, t1b, "unchanged: the same tunnel")
	_, ok = eng.Get("spoke2")
	assert.False(t, ok, "removed")
	t3, _ := eng.Get("spoke3")
	assert.Equal(t, tunnel.KeyOf(33), t3.Config().OKey, "changed: the new configuration")
	assert.Equal(t, uint64(1), gone.get().TxPackets, "spoke 2's final counters retired")
	assert.Equal(t, fakeRoutes{spokeNet(1): true, spokeNet(3): true, spokeNet(4): true}, rt)

	// The unchanged spoke's counters go on from where they were.
	send(1, 2)
	waitTx("spoke1", 5)
	send(4, 1)
	waitTx("spoke4", 1)
	send(2, 1)
	require.Eventually(t, func() bool { return eng.Stats().TxNoTunnel == 1 }, 5*time.Second, time.Millisecond, "spoke 2's prefix routes nowhere")
	names := []string{}
	for _, tn := range eng.List() {
		names = append(names, tn.Name())
	}
	assert.True(t, slices.Equal([]string{"spoke1", "spoke3", "spoke4"}, names), "%v", names)
}
