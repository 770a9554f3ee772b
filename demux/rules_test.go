package demux_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/demux"
)

var (
	me    = netip.MustParseAddr("192.0.2.1")    // our address: the packets' D
	peer  = netip.MustParseAddr("198.51.100.2") // the sender: the packets' S
	other = netip.MustParseAddr("203.0.113.3")
	me6   = netip.MustParseAddr("2001:db8::1")
	peer6 = netip.MustParseAddr("2001:db8::2")
	group = netip.MustParseAddr("224.66.66.66")
	any4  = netip.IPv4Unspecified()
	any6  = netip.IPv6Unspecified()
	gre   = demux.ClassGRE
)

// ent is an UP GRE entry with value v, of the family of its addresses.
func ent(v int, local, remote netip.Addr) demux.Entry[int] {
	return demux.Entry[int]{ID: demux.ID{Class: gre, Local: local, Remote: remote}, Up: true, Value: v}
}

func (k keyed) on(e demux.Entry[int]) demux.Entry[int] { e.HasKey, e.Key = true, uint32(k); return e }

type keyed uint32

func down(e demux.Entry[int]) demux.Entry[int]                 { e.Up = false; return e }
func link(n int, e demux.Entry[int]) demux.Entry[int]          { e.Link = n; return e }
func class(c demux.Class, e demux.Entry[int]) demux.Entry[int] { e.Class = c; return e }

// fallback is the UP IPv4 GRE fallback entry (gre0) with value v.
func fallback(v int) demux.Entry[int] {
	return demux.Entry[int]{ID: demux.FallbackID(gre, demux.IPv4), Up: true, Value: v}
}

// fallback6 is the UP IPv6 GRE fallback entry (ip6gre0) with value v.
func fallback6(v int) demux.Entry[int] {
	return demux.Entry[int]{ID: demux.FallbackID(gre, demux.IPv6), Up: true, Value: v}
}

// pkt is a GRE packet from peer to me without a key, arriving on link 0.
var pkt = demux.Query{Class: gre, Src: peer, Dst: me}

func withKey(q demux.Query, k uint32) demux.Query { q.HasKey, q.Key = true, k; return q }
func on(n int, q demux.Query) demux.Query         { q.Link = n; return q }

// TestRules has one hand-written case for each rule of the lookup. Each case
// names the value it expects (0: a miss) and the step.
func TestRules(t *testing.T) {
	tests := []struct {
		name    string
		entries []demux.Entry[int]
		q       demux.Query
		want    int
		step    demux.Step
	}{
		{"1 exact: local == D and remote == S",
			[]demux.Entry[int]{ent(1, me, peer)}, pkt, 1, demux.StepExact},
		{"1 exact beats 2, 3, 4 and fallback",
			[]demux.Entry[int]{ent(2, any4, peer), ent(3, me, any4), ent(4, any4, any4), fallback(5), ent(1, me, peer)},
			pkt, 1, demux.StepExact},
		{"1 exact: wrong source does not match",
			[]demux.Entry[int]{ent(1, me, other)}, pkt, 0, demux.StepNone},
		{"2 remote == S, local wildcard",
			[]demux.Entry[int]{ent(1, netip.Addr{}, peer)}, pkt, 1, demux.StepRemote},
		{"2 beats 3 and 4",
			[]demux.Entry[int]{ent(3, me, any4), ent(4, any4, any4), ent(2, any4, peer)}, pkt, 2, demux.StepRemote},
		{"3 local == D, remote wildcard",
			[]demux.Entry[int]{ent(1, me, netip.Addr{})}, pkt, 1, demux.StepLocal},
		{"3 beats 4",
			[]demux.Entry[int]{ent(4, any4, any4), ent(3, me, any4)}, pkt, 3, demux.StepLocal},
		{"3 multicast: remote is the group D, any source",
			[]demux.Entry[int]{ent(1, me, group)}, demux.Query{Class: gre, Src: other, Dst: group}, 1, demux.StepLocal},
		{"3 multicast: the group's local is not compared",
			[]demux.Entry[int]{ent(1, other, group)}, demux.Query{Class: gre, Src: peer, Dst: group}, 1, demux.StepLocal},
		{"3 multicast: a group entry never matches its remote as S",
			[]demux.Entry[int]{ent(1, me, group)}, demux.Query{Class: gre, Src: group, Dst: me}, 0, demux.StepNone},
		{"4 local and remote wildcard with equal key",
			[]demux.Entry[int]{keyed(9).on(ent(1, any4, any4))}, withKey(pkt, 9), 1, demux.StepWildcardKey},
		{"4 wildcard with another key does not match",
			[]demux.Entry[int]{keyed(9).on(ent(1, any4, any4))}, withKey(pkt, 8), 0, demux.StepNone},
		{"4 keyless wildcard takes keyless packets",
			[]demux.Entry[int]{ent(1, any4, netip.Addr{})}, pkt, 1, demux.StepWildcardKey},
		{"5 fallback when nothing else matches",
			[]demux.Entry[int]{ent(1, me, other), fallback(5)}, pkt, 5, demux.StepFallback},
		{"5 no fallback: miss",
			[]demux.Entry[int]{ent(1, me, other)}, pkt, 0, demux.StepNone},
		{"key: keyed entry matches its key",
			[]demux.Entry[int]{keyed(7).on(ent(1, me, peer))}, withKey(pkt, 7), 1, demux.StepExact},
		{"key: keyed entry rejects a keyless packet",
			[]demux.Entry[int]{keyed(7).on(ent(1, me, peer))}, pkt, 0, demux.StepNone},
		{"key: keyed entry rejects another key",
			[]demux.Entry[int]{keyed(7).on(ent(1, me, peer))}, withKey(pkt, 8), 0, demux.StepNone},
		{"key: keyless entry rejects a packet with key 0",
			[]demux.Entry[int]{ent(1, me, peer)}, withKey(pkt, 0), 0, demux.StepNone},
		{"key: key 0 is a key like any other",
			[]demux.Entry[int]{ent(1, me, peer), keyed(0).on(ent(2, me, peer))}, withKey(pkt, 0), 2, demux.StepExact},
		{"key: same addresses, different keys, each gets its own",
			[]demux.Entry[int]{keyed(1).on(ent(1, me, peer)), keyed(2).on(ent(2, me, peer)), ent(3, me, peer)},
			withKey(pkt, 2), 2, demux.StepExact},
		{"key: a keyless exact entry is passed over for a keyed one at step 3",
			[]demux.Entry[int]{ent(1, me, peer), keyed(4).on(ent(2, me, any4))}, withKey(pkt, 4), 2, demux.StepLocal},
		{"down: a down entry is skipped, the next step answers",
			[]demux.Entry[int]{down(ent(1, me, peer)), ent(2, any4, peer)}, pkt, 2, demux.StepRemote},
		{"down: all down and no fallback: miss",
			[]demux.Entry[int]{down(ent(1, me, peer)), down(ent(2, any4, any4))}, pkt, 0, demux.StepNone},
		{"link: within a step the entry bound to the ingress link wins",
			[]demux.Entry[int]{ent(1, me, peer), link(3, ent(2, me, peer))}, on(3, pkt), 2, demux.StepExact},
		{"link: bound to another link is still a candidate",
			[]demux.Entry[int]{link(4, ent(1, me, peer))}, on(3, pkt), 1, demux.StepExact},
		{"link: binding is a preference, an unknown ingress link still matches",
			[]demux.Entry[int]{link(4, ent(1, me, peer))}, pkt, 1, demux.StepExact},
		{"link: a bound match at a later step beats an unbound one at an earlier step",
			[]demux.Entry[int]{ent(1, me, peer), link(3, ent(2, me, any4))}, on(3, pkt), 2, demux.StepLocal},
		{"link: without a bound match the first candidate (earliest step) wins",
			[]demux.Entry[int]{link(5, ent(2, me, any4)), link(4, ent(1, me, peer))}, on(3, pkt), 1, demux.StepExact},
		{"link: a bound but down entry does not win",
			[]demux.Entry[int]{ent(1, me, peer), down(link(3, ent(2, me, peer)))}, on(3, pkt), 1, demux.StepExact},
		{"link: ties within a step go to the first added",
			[]demux.Entry[int]{link(4, ent(1, me, any4)), link(5, ent(2, me, any4)), ent(3, me, group)},
			on(3, pkt), 1, demux.StepLocal},
		{"class: another class never matches",
			[]demux.Entry[int]{class(demux.ClassIPIP, ent(1, me, peer))}, pkt, 0, demux.StepNone},
		{"class: each class has its own fallback",
			[]demux.Entry[int]{class(demux.ClassIPIP, fallback(1))}, pkt, 0, demux.StepNone},
		{"addr: a packet with an IPv4-mapped source and an IPv4 destination has no family",
			[]demux.Entry[int]{ent(1, me, peer), ent(2, any4, any4), fallback(3), fallback6(4)},
			demux.Query{Class: gre, Src: netip.MustParseAddr("::ffff:198.51.100.2"), Dst: me}, 0, demux.StepNone},
		{"addr: IPv6 entries",
			[]demux.Entry[int]{ent(1, me6, peer6), ent(2, me, peer)}, demux.Query{Class: gre, Src: peer6, Dst: me6}, 1, demux.StepExact},
		{"addr: :: is a wildcard too",
			[]demux.Entry[int]{ent(1, netip.IPv6Unspecified(), peer6)}, demux.Query{Class: gre, Src: peer6, Dst: me6}, 1, demux.StepRemote},
		{"addr: an unspecified source matches no remote",
			[]demux.Entry[int]{ent(1, any4, any4), ent(2, me, any4)}, demux.Query{Class: gre, Src: any4, Dst: me}, 2, demux.StepLocal},
		{"addr: a zero destination matches no local",
			[]demux.Entry[int]{ent(1, me, peer), ent(2, any4, any4)}, demux.Query{Class: gre, Src: peer}, 2, demux.StepWildcardKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := demux.New[int]()
			for _, e := range tt.entries {
				require.NoError(t, tab.Add(e))
			}
			e, step, ok := tab.LookupEntry(tt.q)
			assert.Equal(t, tt.want != 0, ok)
			assert.Equal(t, tt.want, e.Value)
			assert.Equal(t, tt.step, step)
			// The reference agrees with the hand-written answer.
			ref := newRef()
			for _, e := range tt.entries {
				require.NoError(t, ref.Add(e))
			}
			re, rstep, _, _ := ref.Lookup(tt.q)
			assert.Equal(t, tt.want, re.Value, "reference")
			assert.Equal(t, tt.step, rstep, "reference")
		})
	}
}

// TestFallback: the fallback entry never wins over a more specific one, and
// is not used when down or absent.
func TestFallback(t *testing.T) {
	tab := demux.New[int]()
	require.NoError(t, tab.Add(fallback(100)))
	specific := []demux.Entry[int]{
		ent(1, me, peer), ent(2, any4, peer), ent(3, me, any4), ent(4, me, group), ent(5, any4, any4),
		keyed(6).on(ent(6, any4, any4)),
	}
	queries := []demux.Query{pkt, pkt, pkt, {Class: gre, Src: peer, Dst: group}, pkt, withKey(pkt, 6)}
	for i, e := range specific {
		require.NoError(t, tab.Add(e))
		got, step, ok := tab.LookupEntry(queries[i])
		require.True(t, ok)
		assert.Equal(t, e.Value, got.Value, "entry %d", e.Value)
		assert.NotEqual(t, demux.StepFallback, step)
		require.NoError(t, tab.Remove(e.ID))
	}
	got, step, ok := tab.LookupEntry(pkt)
	require.True(t, ok)
	assert.Equal(t, 100, got.Value)
	assert.Equal(t, demux.StepFallback, step)
	assert.True(t, got.Fallback)

	require.NoError(t, tab.SetUp(demux.FallbackID(gre, demux.IPv4), false))
	_, step, ok = tab.LookupEntry(pkt)
	assert.False(t, ok, "down fallback")
	assert.Equal(t, demux.StepNone, step)
	require.NoError(t, tab.SetUp(demux.FallbackID(gre, demux.IPv4), true))
	_, _, ok = tab.LookupEntry(pkt)
	assert.True(t, ok)

	require.NoError(t, tab.Remove(demux.FallbackID(gre, demux.IPv4)))
	_, _, ok = tab.LookupEntry(pkt)
	assert.False(t, ok, "absent fallback")
	assert.Equal(t, uint64(2), tab.Misses(gre))
	assert.Zero(t, tab.Misses(demux.ClassIPIP))
}
