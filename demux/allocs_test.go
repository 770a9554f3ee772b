package demux_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/demux"
)

// TestLookupAllocs proves that Lookup and LookupEntry allocate nothing, whichever step
// answers, on a miss, and with a value type holding pointers.
func TestLookupAllocs(t *testing.T) {
	type tunnel struct{ name string }
	tab := demux.New[*tunnel]()
	add := func(id demux.ID) {
		id.Class = gre
		require.NoError(t, tab.Add(demux.Entry[*tunnel]{ID: id, Up: true, Value: &tunnel{"t"}}))
	}
	add(demux.ID{Local: me, Remote: peer})
	add(demux.ID{Remote: other})
	add(demux.ID{Local: me6})
	add(demux.ID{Local: me, Remote: group})
	add(demux.ID{Family: demux.IPv4, HasKey: true, Key: 42})
	add(demux.ID{Local: me, Remote: peer, HasKey: true, Key: 1, Link: 2})
	add(demux.ID{Local: me, Remote: peer, HasKey: true, Key: 1, Link: 3})
	require.NoError(t, tab.Add(demux.Entry[*tunnel]{ID: demux.FallbackID(demux.ClassIPIP, demux.IPv4), Up: true}))

	tests := []struct {
		name string
		q    demux.Query
		step demux.Step
	}{
		{"exact", pkt, demux.StepExact},
		{"exact bound", withKey(on(3, pkt), 1), demux.StepExact},
		{"remote", demux.Query{Class: gre, Src: other, Dst: me}, demux.StepRemote},
		{"local", demux.Query{Class: gre, Src: peer6, Dst: me6}, demux.StepLocal},
		{"group", demux.Query{Class: gre, Src: netip.MustParseAddr("192.0.2.99"), Dst: group}, demux.StepLocal},
		{"wildcard-key", withKey(demux.Query{Class: gre, Src: other, Dst: peer}, 42), demux.StepWildcardKey},
		{"fallback", demux.Query{Class: demux.ClassIPIP, Src: peer, Dst: me}, demux.StepFallback},
		{"miss", demux.Query{Class: gre, Src: peer, Dst: other}, demux.StepNone},
		{"miss, no addresses", demux.Query{Class: gre, Src: netip.Addr{}, Dst: netip.Addr{}, Link: 9}, demux.StepNone},
		{"miss, two families", demux.Query{Class: gre, Src: peer6, Dst: me}, demux.StepNone},
		{"local, IPv4-mapped source", demux.Query{Class: gre, Src: netip.MustParseAddr("::ffff:198.51.100.2"), Dst: me6}, demux.StepLocal},
		{"miss, IPv4-mapped addresses",
			demux.Query{Class: gre, Src: netip.MustParseAddr("::ffff:198.51.100.2"), Dst: netip.MustParseAddr("::ffff:192.0.2.1")}, demux.StepNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, step, _ := tab.Lookup(tt.q)
			require.Equal(t, tt.step, step)
			require.Zero(t, testing.AllocsPerRun(1000, func() { _, _, _ = tab.Lookup(tt.q) }), "Lookup")
			require.Zero(t, testing.AllocsPerRun(1000, func() { _, _, _ = tab.LookupEntry(tt.q) }), "LookupEntry")
			qs := []demux.Query{tt.q, tt.q, tt.q}
			out := make([]demux.Result[*tunnel], len(qs))
			require.Zero(t, testing.AllocsPerRun(1000, func() { tab.LookupBatch(qs, out) }), "LookupBatch")
			require.Equal(t, tt.step, out[2].Step)
		})
	}
}
