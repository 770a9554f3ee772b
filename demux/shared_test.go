package demux_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/demux"
)

// linkTries is how many entries differing only in Link TestMaxShared and
// BenchmarkLinks try to add: without a cap they would share one probe
// sequence, 16,000 slots long.
const linkTries = 16_000

// TestMaxShared: at most MaxShared entries may differ only in Link (group
// entries: in Local and Link); one more is ErrTooMany, so that the probe
// sequence a lookup scans stays short whatever is tried.
func TestMaxShared(t *testing.T) {
	tab, ref := demux.New[int](), newRef()
	base := ent(0, me, peer)
	for i := range linkTries {
		e := link(i+1, base)
		e.Value = i + 1
		err := tab.Add(e)
		require.Equal(t, errKind(ref.Add(e)), errKind(err), "entry %d: the reference disagrees", i)
		if i < demux.MaxShared {
			require.NoError(t, err)
		} else {
			require.ErrorIs(t, err, demux.ErrTooMany, "entry %d", i)
		}
	}
	require.Equal(t, demux.MaxShared, tab.Len())
	// The bound: a probe of these entries' index key reads at most a slot
	// per entry and the never-used slot that ends the sequence (without the
	// cap: linkTries+1).
	n := demux.ProbeLen(tab, base.ID)
	t.Logf("probe sequence: %d slots", n)
	assert.LessOrEqual(t, n, demux.MaxShared+1)

	lookup := func(q demux.Query) demux.Result[int] {
		v, step, ok := tab.Lookup(q)
		re, rstep, rok, _ := ref.Lookup(q)
		require.Equal(t, demux.Result[int]{Value: re.Value, Step: rstep, OK: rok}, demux.Result[int]{Value: v, Step: step, OK: ok},
			"reference for %+v", q)
		return demux.Result[int]{Value: v, Step: step, OK: ok}
	}
	assert.Equal(t, demux.Result[int]{Value: demux.MaxShared, Step: demux.StepExact, OK: true}, lookup(on(demux.MaxShared, pkt)),
		"the entry bound to the packet's link")
	assert.Equal(t, demux.Result[int]{Value: 1, Step: demux.StepExact, OK: true}, lookup(on(linkTries, pkt)),
		"another link: the first added")
	assert.Equal(t, demux.Result[int]{Value: 1, Step: demux.StepExact, OK: true}, lookup(pkt))

	check := func(what string, got, want error) {
		t.Helper()
		if want == nil {
			require.NoError(t, got, what)
		} else {
			require.ErrorIs(t, got, want, what)
		}
	}
	both := func(what string, want error, tabOp, refOp func() error) {
		t.Helper()
		got := tabOp()
		check(what, got, want)
		require.Equal(t, errKind(want), errKind(refOp()), "reference: %s", what)
	}
	add := func(what string, e demux.Entry[int], want error) {
		t.Helper()
		both(what, want, func() error { return tab.Add(e) }, func() error { return ref.Add(e) })
	}
	replace := func(what string, old demux.ID, e demux.Entry[int], want error) {
		t.Helper()
		both(what, want, func() error { return tab.Replace(old, e) }, func() error { return ref.Replace(old, e) })
	}
	// A duplicate is still ErrExists, down entries count too, another key
	// or class is another index key.
	add("duplicate", link(1, base), demux.ErrExists)
	add("down", down(link(linkTries+1, base)), demux.ErrTooMany)
	add("another key", keyed(1).on(link(1, base)), nil)
	add("another class", class(demux.ClassGRETap, link(1, base)), nil)
	// Removing one makes room for one.
	both("remove", nil, func() error { return tab.Remove(link(1, base).ID) }, func() error { return ref.Remove(link(1, base).ID) })
	add("after a removal", link(linkTries+2, base), nil)
	add("full again", link(linkTries+3, base), demux.ErrTooMany)
	// Replace may move an entry to another link of a full index key, not
	// bring one more in.
	moved := link(linkTries+4, base)
	moved.Value = 2
	replace("move to another link", link(2, base).ID, moved, nil)
	replace("bring in from another key", keyed(1).on(link(1, base)).ID, link(linkTries+5, base), demux.ErrTooMany)
	replace("same identity", link(3, base).ID, link(3, down(base)), nil)
	require.Equal(t, demux.MaxShared+2, tab.Len())
	assert.Equal(t, demux.Result[int]{Value: 2, Step: demux.StepExact, OK: true}, lookup(pkt),
		"the first added UP entry: the moved one, which kept its place")

	// Group entries share their group's index key whatever their local.
	for i := range demux.MaxShared + 1 {
		var want error
		if i == demux.MaxShared {
			want = demux.ErrTooMany
		}
		add("group", ent(100+i, netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), group), want)
	}
}
