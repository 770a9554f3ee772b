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
			[]demux.Entry[int]{ent(1, netip.Addr{}, peer)}, ent(2, any4, peer), demux.ErrExists},
		{"duplicate wildcard: family set or spelled",
			[]demux.Entry[int]{{ID: demux.ID{Class: gre, Family: demux.IPv6}}}, ent(2, any6, netip.Addr{}), demux.ErrExists},
		{"duplicate IPv6 through a zone", []demux.Entry[int]{ent(1, me6, peer6)},
			ent(2, netip.MustParseAddr("2001:db8::1%eth0"), peer6), demux.ErrExists},
		{"duplicate keyed", []demux.Entry[int]{keyed(5).on(ent(1, me, peer))}, keyed(5).on(ent(2, me, peer)), demux.ErrExists},
		{"duplicate group", []demux.Entry[int]{ent(1, me, group)}, ent(2, me, group), demux.ErrExists},
		{"duplicate fallback", []demux.Entry[int]{fallback(1)}, fallback(2), demux.ErrExists},
		{"duplicate fallback, family spelled as a wildcard", []demux.Entry[int]{fallback6(1)},
			demux.Entry[int]{ID: demux.ID{Class: gre, Local: any6, Fallback: true}}, demux.ErrExists},
		{"fallbacks of both families", []demux.Entry[int]{fallback(1)}, fallback6(2), nil},
		{"wildcards of both families", []demux.Entry[int]{ent(1, any4, any4)}, ent(2, any6, any6), nil},
		{"same addresses in both spellings of the family",
			[]demux.Entry[int]{ent(1, me, any4)}, ent(2, netip.MustParseAddr("::ffff:192.0.2.1"), any6), demux.ErrInvalid},
		{"same addresses, different key", []demux.Entry[int]{ent(1, me, peer), keyed(0).on(ent(2, me, peer))}, keyed(1).on(ent(3, me, peer)), nil},
		{"same addresses and key, different link", []demux.Entry[int]{ent(1, me, peer)}, link(2, ent(2, me, peer)), nil},
		{"same addresses, different class", []demux.Entry[int]{ent(1, me, peer)}, class(demux.ClassGRETap, ent(2, me, peer)), nil},
		{"groups with different locals", []demux.Entry[int]{ent(1, me, group)}, ent(2, other, group), nil},
		{"class 0", nil, class(0, ent(1, me, peer)), demux.ErrInvalid},
		{"mixed families", nil, ent(1, me, peer6), demux.ErrInvalid},
		{"mixed families, mapped", nil, ent(1, netip.MustParseAddr("::ffff:192.0.2.1"), peer6), demux.ErrInvalid},
		{"mixed families, wildcards", nil, ent(1, any4, any6), demux.ErrInvalid},
		{"mixed families, wildcard local", nil, ent(1, any6, peer), demux.ErrInvalid},
		{"family and address disagree", nil, demux.Entry[int]{ID: demux.ID{Class: gre, Family: demux.IPv6, Local: me}}, demux.ErrInvalid},
		{"unknown family", nil, demux.Entry[int]{ID: demux.ID{Class: gre, Family: 5, Local: me}}, demux.ErrInvalid},
		{"no family", nil, demux.Entry[int]{ID: demux.ID{Class: gre, HasKey: true, Key: 5}}, demux.ErrInvalid},
		{"fallback without family", nil, demux.Entry[int]{ID: demux.ID{Class: gre, Fallback: true}}, demux.ErrInvalid},
		{"IPv4-mapped local", nil, ent(1, netip.MustParseAddr("::ffff:192.0.2.1"), peer), demux.ErrInvalid},
		{"IPv4-mapped remote", nil, ent(1, netip.Addr{}, netip.MustParseAddr("::ffff:198.51.100.2")), demux.ErrInvalid},
		{"IPv4-mapped wildcard", nil, ent(1, netip.MustParseAddr("::ffff:0.0.0.0"), peer6), demux.ErrInvalid},
		{"IPv4-mapped group", nil, ent(1, me6, netip.MustParseAddr("::ffff:224.66.66.66")), demux.ErrInvalid},
		{"key without HasKey", nil, demux.Entry[int]{ID: demux.ID{Class: gre, Family: demux.IPv4, Key: 5}}, demux.ErrInvalid},
		{"negative link", nil, link(-1, ent(1, me, peer)), demux.ErrInvalid},
		{"link over 32 bits", nil, link(math.MaxInt32+1, ent(1, me, peer)), demux.ErrInvalid},
		{"fallback with an address", nil, demux.Entry[int]{ID: demux.ID{Class: gre, Fallback: true, Local: me}}, demux.ErrInvalid},
		{"fallback with a key", nil, demux.Entry[int]{ID: demux.ID{Class: gre, Family: demux.IPv4, Fallback: true, HasKey: true}}, demux.ErrInvalid},
		{"fallback with a link", nil, demux.Entry[int]{ID: demux.ID{Class: gre, Family: demux.IPv4, Fallback: true, Link: 2}}, demux.ErrInvalid},
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
			// The reference agrees.
			ref := newRef()
			for _, e := range tt.first {
				require.NoError(t, ref.Add(e))
			}
			assert.Equal(t, tt.err, errKind(ref.Add(tt.add)), "reference")
		})
	}
}

func TestWriters(t *testing.T) {
	tab := demux.New[int]()
	a, b := ent(1, me, peer), keyed(3).on(ent(2, me, peer))
	require.NoError(t, tab.Add(a))
	require.NoError(t, tab.Add(b))

	t.Run("remove", func(t *testing.T) {
		require.ErrorIs(t, tab.Remove(ent(9, me, other).ID), demux.ErrNotFound)
		require.ErrorIs(t, tab.Remove(demux.FallbackID(gre, demux.IPv4)), demux.ErrNotFound)
		require.ErrorIs(t, tab.Remove(demux.ID{}), demux.ErrInvalid)
		require.NoError(t, tab.Remove(a.ID))
		require.ErrorIs(t, tab.Remove(a.ID), demux.ErrNotFound)
		_, _, ok := tab.LookupEntry(pkt)
		assert.False(t, ok)
		got, _, ok := tab.LookupEntry(withKey(pkt, 3))
		assert.True(t, ok, "the other key stays")
		assert.Equal(t, 2, got.Value)
		require.NoError(t, tab.Add(a))
	})
	t.Run("set up", func(t *testing.T) {
		require.ErrorIs(t, tab.SetUp(ent(9, me, other).ID, true), demux.ErrNotFound)
		require.ErrorIs(t, tab.SetUp(demux.FallbackID(gre, demux.IPv4), true), demux.ErrNotFound)
		require.NoError(t, tab.SetUp(a.ID, false))
		require.NoError(t, tab.SetUp(a.ID, false), "idempotent")
		_, _, ok := tab.LookupEntry(pkt)
		assert.False(t, ok)
		got, ok := tab.Get(a.ID)
		require.True(t, ok)
		assert.False(t, got.Up)
		require.NoError(t, tab.SetUp(a.ID, true))
		got, _, ok = tab.LookupEntry(pkt)
		assert.True(t, ok)
		assert.Equal(t, 1, got.Value)
	})
	t.Run("replace in place", func(t *testing.T) {
		na := a
		na.Value = 10
		require.NoError(t, tab.Replace(a.ID, na))
		got, _, _ := tab.LookupEntry(pkt)
		assert.Equal(t, 10, got.Value)
		assert.Equal(t, 2, tab.Len())
	})
	t.Run("replace with a new identity", func(t *testing.T) {
		nb := keyed(4).on(ent(20, me, peer))
		require.NoError(t, tab.Replace(b.ID, nb))
		_, _, ok := tab.LookupEntry(withKey(pkt, 3))
		assert.False(t, ok)
		got, _, ok := tab.LookupEntry(withKey(pkt, 4))
		assert.True(t, ok)
		assert.Equal(t, 20, got.Value)
		require.ErrorIs(t, tab.Replace(b.ID, nb), demux.ErrNotFound)
		require.ErrorIs(t, tab.Replace(nb.ID, a), demux.ErrExists)
		require.ErrorIs(t, tab.Replace(nb.ID, class(0, a)), demux.ErrInvalid)
		assert.Equal(t, 2, tab.Len())
	})
	t.Run("replace keeps the order", func(t *testing.T) {
		tab := demux.New[int]()
		first, second := link(4, ent(1, me, any4)), link(5, ent(2, me, any4))
		require.NoError(t, tab.Add(first))
		require.NoError(t, tab.Add(second))
		// first moves to link 6 but stays first among equals.
		require.NoError(t, tab.Replace(first.ID, link(6, ent(3, me, any4))))
		got, _, _ := tab.LookupEntry(on(9, pkt))
		assert.Equal(t, 3, got.Value)
	})
	t.Run("replace the fallback", func(t *testing.T) {
		require.NoError(t, tab.Add(fallback(30)))
		require.NoError(t, tab.Replace(demux.FallbackID(gre, demux.IPv4), fallback(31)))
		got, ok := tab.Get(demux.FallbackID(gre, demux.IPv4))
		require.True(t, ok)
		assert.Equal(t, 31, got.Value)
		require.NoError(t, tab.Remove(demux.FallbackID(gre, demux.IPv4)))
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
	require.NoError(t, tab.Add(demux.Entry[int]{ID: demux.ID{Class: gre, Local: me, Remote: netip.IPv4Unspecified()},
		Up: true, Value: 1}))
	require.NoError(t, tab.Add(demux.Entry[int]{ID: demux.ID{Class: gre, Local: netip.MustParseAddr("fe80::1%eth0"),
		Remote: netip.MustParseAddr("fe80::2%eth0"), Link: 7}, Value: 2}))
	require.NoError(t, tab.Add(demux.Entry[int]{ID: demux.ID{Class: gre, Local: any6, Remote: any6, HasKey: true}, Value: 3}))
	got, step, ok := tab.LookupEntry(pkt)
	require.True(t, ok)
	assert.Equal(t, demux.StepLocal, step)
	assert.Equal(t, demux.Entry[int]{ID: demux.ID{Class: gre, Family: demux.IPv4, Local: me}, Up: true, Value: 1}, got)
	got, ok = tab.Get(demux.ID{Class: gre, Local: netip.MustParseAddr("fe80::1"), Remote: netip.MustParseAddr("fe80::2"), Link: 7})
	require.True(t, ok, "zones are ignored")
	assert.Equal(t, netip.MustParseAddr("fe80::1"), got.Local)
	assert.Equal(t, demux.IPv6, got.Family)
	got, ok = tab.Get(demux.ID{Class: gre, Family: demux.IPv6, HasKey: true})
	require.True(t, ok, "an IPv6 wildcard entry, found by its Family")
	assert.Equal(t, demux.Entry[int]{ID: demux.ID{Class: gre, Family: demux.IPv6, HasKey: true}, Value: 3}, got)
	_, ok = tab.Get(demux.ID{Class: gre, Family: demux.IPv4, HasKey: true})
	assert.False(t, ok, "the IPv4 wildcard entry is another")
	_, ok = tab.Get(demux.ID{})
	assert.False(t, ok)
	// Every stored address has the family of its entry: All returns IPv4
	// addresses as 4 bytes, never IPv4-mapped.
	for e := range tab.All() {
		for _, a := range []netip.Addr{e.Local, e.Remote} {
			if a.IsValid() {
				assert.Equal(t, e.Family == demux.IPv4, a.Is4(), "%v in %v", a, e.ID)
			}
		}
	}
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
	assert.Equal(t, "ipv4", demux.IPv4.String())
	assert.Equal(t, "ipv6", demux.IPv6.String())
	assert.Equal(t, "Family(5)", demux.Family(5).String())
	assert.Equal(t, "gre/ip local 192.0.2.1 remote any ikey 5 dev 3",
		demux.ID{Class: gre, Local: me, Key: 5, HasKey: true, Link: 3}.String())
	assert.Equal(t, "gre/ipv6 local any remote 2001:db8::2", demux.ID{Class: gre, Local: any6, Remote: peer6}.String())
	assert.Equal(t, "gre/ipv6 local any remote any", demux.ID{Class: gre, Family: demux.IPv6}.String())
	assert.Equal(t, "gre local any remote any", demux.ID{Class: gre}.String(), "no family")
	assert.Equal(t, "gre local 192.0.2.1 remote 2001:db8::2", demux.ID{Class: gre, Local: me, Remote: peer6}.String(), "two families")
	assert.Equal(t, "ipip/ip fallback", demux.FallbackID(demux.ClassIPIP, demux.IPv4).String())
	assert.Equal(t, "gre/ipv6 fallback", demux.FallbackID(gre, demux.IPv6).String())
	// An Entry prints its identity (the String method of the embedded ID).
	assert.Equal(t, "gre/ip local 192.0.2.1 remote 198.51.100.2", ent(1, me, peer).String())
	err := demux.New[int]().Remove(demux.ID{Class: gre, Remote: peer})
	assert.EqualError(t, err, "demux: entry not found: gre/ip local any remote 198.51.100.2")
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
