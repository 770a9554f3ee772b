package demux_test

import (
	"math"
	"net/netip"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/demux"
)

func TestAddErrors(t *testing.T) {
	tests := []struct {
		name  string
		first []demux.Entry[int]
		add   demux.Entry[int]
		err   error
	}{
		{"duplicate", []demux.Entry[int]{ent(1, me, peer)}, ent(2, me, peer), demux.ErrExists},
		{"duplicate whatever the UP state", []demux.Entry[int]{ent(1, me, peer)}, down(ent(2, me, peer)), demux.ErrExists},
		{"duplicate through another spelling",
			[]demux.Entry[int]{ent(1, netip.Addr{}, peer)}, ent(2, netip.MustParseAddr("::ffff:0.0.0.0"), netip.MustParseAddr("::ffff:198.51.100.2")), demux.ErrExists},
		{"duplicate keyed", []demux.Entry[int]{keyed(5).on(ent(1, me, peer))}, keyed(5).on(ent(2, me, peer)), demux.ErrExists},
		{"duplicate group", []demux.Entry[int]{ent(1, me, group)}, ent(2, me, group), demux.ErrExists},
		{"duplicate fallback", []demux.Entry[int]{fallback(1)}, fallback(2), demux.ErrExists},
		{"same addresses, different key", []demux.Entry[int]{ent(1, me, peer), keyed(0).on(ent(2, me, peer))}, keyed(1).on(ent(3, me, peer)), nil},
		{"same addresses and key, different link", []demux.Entry[int]{ent(1, me, peer)}, link(2, ent(2, me, peer)), nil},
		{"same addresses, different class", []demux.Entry[int]{ent(1, me, peer)}, class(demux.ClassGRETap, ent(2, me, peer)), nil},
		{"groups with different locals", []demux.Entry[int]{ent(1, me, group)}, ent(2, other, group), nil},
		{"class 0", nil, class(0, ent(1, me, peer)), demux.ErrInvalid},
		{"mixed families", nil, ent(1, me, peer6), demux.ErrInvalid},
		{"mixed families, mapped", nil, ent(1, netip.MustParseAddr("::ffff:192.0.2.1"), peer6), demux.ErrInvalid},
		{"key without HasKey", nil, demux.Entry[int]{Class: gre, Key: 5}, demux.ErrInvalid},
		{"negative link", nil, link(-1, ent(1, me, peer)), demux.ErrInvalid},
		{"link over 32 bits", nil, link(math.MaxInt32+1, ent(1, me, peer)), demux.ErrInvalid},
		{"fallback with an address", nil, demux.Entry[int]{Class: gre, Fallback: true, Local: me}, demux.ErrInvalid},
		{"fallback with a key", nil, demux.Entry[int]{Class: gre, Fallback: true, HasKey: true}, demux.ErrInvalid},
		{"fallback with a link", nil, demux.Entry[int]{Class: gre, Fallback: true, Link: 2}, demux.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := demux.New[int]()
			for _, e := range tt.first {
				require.NoError(t, tab.Add(e))
			}
			err := tab.Add(tt.add)
			if tt.err == nil {
				require.NoError(t, err)
				assert.Equal(t, len(tt.first)+1, tab.Len())
				return
			}
			require.ErrorIs(t, err, tt.err)
			assert.Contains(t, err.Error(), "demux: ")
			assert.Equal(t, len(tt.first), tab.Len())
		})
	}
}

func TestWriters(t *testing.T) {
	tab := demux.New[int]()
	a, b := ent(1, me, peer), keyed(3).on(ent(2, me, peer))
	require.NoError(t, tab.Add(a))
	require.NoError(t, tab.Add(b))

	t.Run("remove", func(t *testing.T) {
		require.ErrorIs(t, tab.Remove(ent(9, me, other).ID()), demux.ErrNotFound)
		require.ErrorIs(t, tab.Remove(demux.FallbackID(gre)), demux.ErrNotFound)
		require.ErrorIs(t, tab.Remove(demux.ID{}), demux.ErrInvalid)
		require.NoError(t, tab.Remove(a.ID()))
		require.ErrorIs(t, tab.Remove(a.ID()), demux.ErrNotFound)
		_, _, ok := tab.LookupEntry(pkt)
		assert.False(t, ok)
		got, _, ok := tab.LookupEntry(withKey(pkt, 3))
		assert.True(t, ok, "the other key stays")
		assert.Equal(t, 2, got.Value)
		require.NoError(t, tab.Add(a))
	})
	t.Run("set up", func(t *testing.T) {
		require.ErrorIs(t, tab.SetUp(ent(9, me, other).ID(), true), demux.ErrNotFound)
		require.ErrorIs(t, tab.SetUp(demux.FallbackID(gre), true), demux.ErrNotFound)
		require.NoError(t, tab.SetUp(a.ID(), false))
		require.NoError(t, tab.SetUp(a.ID(), false), "idempotent")
		_, _, ok := tab.LookupEntry(pkt)
		assert.False(t, ok)
		got, ok := tab.Get(a.ID())
		require.True(t, ok)
		assert.False(t, got.Up)
		require.NoError(t, tab.SetUp(a.ID(), true))
		got, _, ok = tab.LookupEntry(pkt)
		assert.True(t, ok)
		assert.Equal(t, 1, got.Value)
	})
	t.Run("replace in place", func(t *testing.T) {
		na := a
		na.Value = 10
		require.NoError(t, tab.Replace(a.ID(), na))
		got, _, _ := tab.LookupEntry(pkt)
		assert.Equal(t, 10, got.Value)
		assert.Equal(t, 2, tab.Len())
	})
	t.Run("replace with a new identity", func(t *testing.T) {
		nb := keyed(4).on(ent(20, me, peer))
		require.NoError(t, tab.Replace(b.ID(), nb))
		_, _, ok := tab.LookupEntry(withKey(pkt, 3))
		assert.False(t, ok)
		got, _, ok := tab.LookupEntry(withKey(pkt, 4))
		assert.True(t, ok)
		assert.Equal(t, 20, got.Value)
		require.ErrorIs(t, tab.Replace(b.ID(), nb), demux.ErrNotFound)
		require.ErrorIs(t, tab.Replace(nb.ID(), a), demux.ErrExists)
		require.ErrorIs(t, tab.Replace(nb.ID(), class(0, a)), demux.ErrInvalid)
		assert.Equal(t, 2, tab.Len())
	})
	t.Run("replace keeps the order", func(t *testing.T) {
		tab := demux.New[int]()
		first, second := link(4, ent(1, me, any4)), link(5, ent(2, me, any4))
		require.NoError(t, tab.Add(first))
		require.NoError(t, tab.Add(second))
		// first moves to link 6 but stays first among equals.
		require.NoError(t, tab.Replace(first.ID(), link(6, ent(3, me, any4))))
		got, _, _ := tab.LookupEntry(on(9, pkt))
		assert.Equal(t, 3, got.Value)
	})
	t.Run("replace the fallback", func(t *testing.T) {
		require.NoError(t, tab.Add(fallback(30)))
		require.NoError(t, tab.Replace(demux.FallbackID(gre), fallback(31)))
		got, ok := tab.Get(demux.FallbackID(gre))
		require.True(t, ok)
		assert.Equal(t, 31, got.Value)
		require.NoError(t, tab.Remove(demux.FallbackID(gre)))
	})
	t.Run("all", func(t *testing.T) {
		var values []int
		for e := range tab.All() {
			values = append(values, e.Value)
		}
		slices.Sort(values)
		assert.Equal(t, []int{10, 20}, values)
		for range tab.All() {
			break // stopping early is fine
		}
	})
}

func TestNormalizedEntries(t *testing.T) {
	tab := demux.New[int]()
	require.NoError(t, tab.Add(demux.Entry[int]{Class: gre, Local: netip.MustParseAddr("::ffff:192.0.2.1"),
		Remote: netip.IPv4Unspecified(), Up: true, Value: 1}))
	require.NoError(t, tab.Add(demux.Entry[int]{Class: gre, Local: netip.MustParseAddr("fe80::1%eth0"),
		Remote: netip.MustParseAddr("fe80::2%eth0"), Link: 7, Value: 2}))
	got, step, ok := tab.LookupEntry(pkt)
	require.True(t, ok)
	assert.Equal(t, demux.StepLocal, step)
	assert.Equal(t, demux.Entry[int]{Class: gre, Local: me, Up: true, Value: 1}, got)
	got, ok = tab.Get(demux.ID{Class: gre, Local: netip.MustParseAddr("fe80::1"), Remote: netip.MustParseAddr("fe80::2"), Link: 7})
	require.True(t, ok, "zones are ignored")
	assert.Equal(t, netip.MustParseAddr("fe80::1"), got.Local)
	_, ok = tab.Get(demux.ID{})
	assert.False(t, ok)
}

func TestStrings(t *testing.T) {
	assert.Equal(t, "gre", demux.ClassGRE.String())
	assert.Equal(t, "gretap", demux.ClassGRETap.String())
	assert.Equal(t, "ipip", demux.ClassIPIP.String())
	assert.Equal(t, "sit", demux.ClassSIT.String())
	assert.Equal(t, "ip6tnl", demux.ClassIP6.String())
	assert.Equal(t, "mobile", demux.ClassMobile.String())
	assert.Equal(t, "Class(200)", demux.Class(200).String())
	for s, want := range []string{"none", "exact", "remote", "local", "wildcard-key", "fallback", "Step(6)"} {
		assert.Equal(t, want, demux.Step(s).String())
	}
	assert.Equal(t, "gre local 192.0.2.1 remote any ikey 5 dev 3",
		demux.ID{Class: gre, Local: me, Key: 5, HasKey: true, Link: 3}.String())
	assert.Equal(t, "ipip fallback", demux.FallbackID(demux.ClassIPIP).String())
	err := demux.New[int]().Remove(demux.ID{Class: gre, Remote: peer})
	assert.EqualError(t, err, "demux: entry not found: gre local any remote 198.51.100.2")
}

// TestLookupBatchLengths: LookupBatch does min(len(qs), len(out)) lookups,
// across more than one touch round, and leaves the rest of out alone.
func TestLookupBatchLengths(t *testing.T) {
	tab := demux.New[int]()
	require.NoError(t, tab.Add(ent(1, me, peer)))
	qs := make([]demux.Query, 100)
	for i := range qs {
		qs[i] = pkt
	}
	out := make([]demux.Result[int], 70)
	require.Equal(t, 70, tab.LookupBatch(qs, out))
	for i, r := range out {
		require.Equal(t, demux.Result[int]{Value: 1, Step: demux.StepExact, OK: true}, r, "result %d", i)
	}
	out = make([]demux.Result[int], 10)
	out[3] = demux.Result[int]{Value: 9}
	require.Equal(t, 3, tab.LookupBatch(qs[:3], out))
	require.Equal(t, demux.Result[int]{Value: 9}, out[3], "out beyond the queries was written")
	require.Zero(t, tab.LookupBatch(nil, out))
}
