package demux_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/demux"
)

// IPv4-mapped IPv6 forms of the IPv4 test addresses: the addresses of IPv6
// packets, never equal to the IPv4 ones.
var (
	mappedPeer  = netip.MustParseAddr("::ffff:198.51.100.2")
	mappedMe    = netip.MustParseAddr("::ffff:192.0.2.1")
	mappedGroup = netip.MustParseAddr("::ffff:224.66.66.66")
	pkt6        = demux.Query{Class: gre, Src: peer6, Dst: me6}
)

// TestFamilies: an entry matches only packets of its family, at every step,
// and a packet whose address is IPv4-mapped is an IPv6 packet. Each case is
// checked through Lookup, LookupEntry, LookupBatch and the reference.
func TestFamilies(t *testing.T) {
	q := func(src, dst netip.Addr) demux.Query { return demux.Query{Class: gre, Src: src, Dst: dst} }
	tests := []struct {
		name    string
		entries []demux.Entry[int]
		q       demux.Query
		want    int
		step    demux.Step
	}{
		// IPv4 entries never receive IPv6 packets, however their addresses
		// are written.
		{"2: IPv4 remote 198.51.100.2 local any, IPv6 packet from ::ffff:198.51.100.2",
			[]demux.Entry[int]{ent(1, netip.Addr{}, peer)}, q(mappedPeer, me6), 0, demux.StepNone},
		{"2: the same with a key",
			[]demux.Entry[int]{keyed(5).on(ent(1, any4, peer))}, withKey(q(mappedPeer, me6), 5), 0, demux.StepNone},
		{"1: IPv4 exact entry, IPv6 packet between the mapped addresses",
			[]demux.Entry[int]{ent(1, me, peer)}, q(mappedPeer, mappedMe), 0, demux.StepNone},
		{"3: IPv4 local entry, IPv6 packet to the mapped local",
			[]demux.Entry[int]{ent(1, me, any4)}, q(peer6, mappedMe), 0, demux.StepNone},
		{"3: IPv4 group entry, IPv6 packet to the mapped group",
			[]demux.Entry[int]{ent(1, me, group)}, q(peer6, mappedGroup), 0, demux.StepNone},
		{"4: IPv4 wildcard entry, IPv6 packet",
			[]demux.Entry[int]{ent(1, any4, any4)}, pkt6, 0, demux.StepNone},
		{"4: IPv4 wildcard entry, IPv6 packet between mapped addresses",
			[]demux.Entry[int]{keyed(9).on(ent(1, any4, netip.Addr{}))}, withKey(q(mappedPeer, mappedMe), 9), 0, demux.StepNone},
		{"5: IPv4 fallback, IPv6 packet",
			[]demux.Entry[int]{fallback(1)}, q(mappedPeer, me6), 0, demux.StepNone},
		// IPv6 entries never receive IPv4 packets.
		{"4: IPv6 wildcard entry, IPv4 packet",
			[]demux.Entry[int]{ent(1, any6, any6)}, pkt, 0, demux.StepNone},
		{"4: IPv6 wildcard entry with a key, IPv4 packet",
			[]demux.Entry[int]{keyed(9).on(demux.Entry[int]{ID: demux.ID{Class: gre, Family: demux.IPv6}, Up: true, Value: 1})},
			withKey(pkt, 9), 0, demux.StepNone},
		{"5: IPv6 fallback, IPv4 packet",
			[]demux.Entry[int]{fallback6(1)}, pkt, 0, demux.StepNone},
		// Each family has its own entries.
		{"4: each family its own wildcard: IPv6",
			[]demux.Entry[int]{keyed(9).on(ent(1, any4, any4)), keyed(9).on(ent(2, any6, any6))}, withKey(pkt6, 9), 2, demux.StepWildcardKey},
		{"4: each family its own wildcard: IPv4",
			[]demux.Entry[int]{keyed(9).on(ent(2, any6, any6)), keyed(9).on(ent(1, any4, any4))}, withKey(pkt, 9), 1, demux.StepWildcardKey},
		{"5: each family its own fallback: IPv6",
			[]demux.Entry[int]{fallback(1), fallback6(2)}, q(mappedPeer, me6), 2, demux.StepFallback},
		{"5: each family its own fallback: IPv4",
			[]demux.Entry[int]{fallback6(2), fallback(1)}, pkt, 1, demux.StepFallback},
		{"an entry of the other family at an earlier step does not shadow",
			[]demux.Entry[int]{ent(1, any4, peer), ent(2, any6, any6)}, q(mappedPeer, me6), 2, demux.StepWildcardKey},
		{"a bound entry of the other family does not win",
			[]demux.Entry[int]{link(3, ent(1, any4, peer)), ent(2, me6, any6)}, on(3, q(mappedPeer, me6)), 2, demux.StepLocal},
		// An IPv4-mapped address is an IPv6 address like any other.
		{"3: IPv6 entry with any remote takes a mapped source",
			[]demux.Entry[int]{ent(1, me6, any6)}, q(mappedPeer, me6), 1, demux.StepLocal},
		{"4: IPv6 wildcard entry takes a packet between mapped addresses",
			[]demux.Entry[int]{ent(1, any6, any6)}, q(mappedPeer, mappedMe), 1, demux.StepWildcardKey},
		{"4: an IPv6 packet without destination is IPv6 by its source",
			[]demux.Entry[int]{ent(1, any4, any4), ent(2, any6, any6)}, q(peer6, netip.Addr{}), 2, demux.StepWildcardKey},
		// A query of no family matches nothing, not even a fallback.
		{"no family: IPv4 source, IPv6 destination",
			[]demux.Entry[int]{ent(1, any4, peer), ent(2, me6, any6), ent(3, any4, any4), ent(4, any6, any6), fallback(5), fallback6(6)},
			q(peer, me6), 0, demux.StepNone},
		{"no family: IPv4-mapped source, IPv4 destination",
			[]demux.Entry[int]{ent(1, me, any4), ent(3, any4, any4), ent(4, any6, any6), fallback(5), fallback6(6)},
			q(mappedPeer, me), 0, demux.StepNone},
		{"no family: no address",
			[]demux.Entry[int]{ent(3, any4, any4), ent(4, any6, any6), fallback(5), fallback6(6)},
			q(netip.Addr{}, netip.Addr{}), 0, demux.StepNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, ref := demux.New[int](), newRef()
			for _, e := range tt.entries {
				require.NoError(t, tab.Add(e))
				require.NoError(t, ref.Add(e))
			}
			v, step, ok := tab.Lookup(tt.q)
			assert.Equal(t, demux.Result[int]{Value: tt.want, Step: tt.step, OK: tt.want != 0},
				demux.Result[int]{Value: v, Step: step, OK: ok}, "Lookup")
			e, step, ok := tab.LookupEntry(tt.q)
			assert.Equal(t, demux.Result[int]{Value: tt.want, Step: tt.step, OK: tt.want != 0},
				demux.Result[int]{Value: e.Value, Step: step, OK: ok}, "LookupEntry")
			if ok {
				assert.Equal(t, tt.q.Dst.Is6() || tt.q.Src.Is6(), e.Family == demux.IPv6, "the entry's family")
			}
			out := make([]demux.Result[int], 3)
			require.Equal(t, 3, tab.LookupBatch([]demux.Query{pkt, tt.q, pkt6}, out))
			assert.Equal(t, demux.Result[int]{Value: tt.want, Step: tt.step, OK: tt.want != 0}, out[1], "LookupBatch")
			re, rstep, rok, _ := ref.Lookup(tt.q)
			assert.Equal(t, demux.Result[int]{Value: tt.want, Step: tt.step, OK: tt.want != 0},
				demux.Result[int]{Value: re.Value, Step: rstep, OK: rok}, "reference")
		})
	}
}
