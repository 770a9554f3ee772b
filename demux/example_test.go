package demux_test

import (
	"fmt"
	"net/netip"

	"github.com/ipencap/ipencap/demux"
)

// tunnelInfo stands for the caller's tunnel type.
type tunnelInfo struct{ name string }

func ExampleTable_Lookup() {
	tab := demux.New[*tunnelInfo]()
	me := netip.MustParseAddr("192.0.2.1")
	peer := netip.MustParseAddr("198.51.100.2")

	// ip tunnel add gre1 mode gre local 192.0.2.1 remote 198.51.100.2 ikey 7
	_ = tab.Add(demux.Entry[*tunnelInfo]{ID: demux.ID{Class: demux.ClassGRE, Local: me, Remote: peer,
		HasKey: true, Key: 7}, Up: true, Value: &tunnelInfo{"gre1"}})
	// ip tunnel add gre2 mode gre local 192.0.2.1 (any remote, no key)
	_ = tab.Add(demux.Entry[*tunnelInfo]{ID: demux.ID{Class: demux.ClassGRE, Local: me}, Up: true,
		Value: &tunnelInfo{"gre2"}})

	for _, q := range []demux.Query{
		{Class: demux.ClassGRE, Src: peer, Dst: me, HasKey: true, Key: 7},
		{Class: demux.ClassGRE, Src: netip.MustParseAddr("203.0.113.9"), Dst: me},
		{Class: demux.ClassGRE, Src: peer, Dst: me, HasKey: true, Key: 8},
	} {
		if t, step, ok := tab.Lookup(q); ok {
			fmt.Printf("%v key %v/%d -> %s at step %v\n", q.Src, q.HasKey, q.Key, t.name, step)
		} else {
			fmt.Printf("%v key %v/%d -> no tunnel\n", q.Src, q.HasKey, q.Key)
		}
	}
	fmt.Println("misses:", tab.Misses(demux.ClassGRE))
	// Output:
	// 198.51.100.2 key true/7 -> gre1 at step exact
	// 203.0.113.9 key false/0 -> gre2 at step local
	// 198.51.100.2 key true/8 -> no tunnel
	// misses: 1
}

func ExampleTable_LookupBatch() {
	tab := demux.New[string]()
	me := netip.MustParseAddr("192.0.2.1")
	for i := range 3 {
		peer := netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i)})
		_ = tab.Add(demux.Entry[string]{ID: demux.ID{Class: demux.ClassIPIP, Local: me, Remote: peer}, Up: true,
			Value: fmt.Sprintf("ipip%d", i)})
	}
	_ = tab.Add(demux.Entry[string]{ID: demux.FallbackID(demux.ClassIPIP, demux.IPv4), Up: true, Value: "tunl0"})

	// A batch of received packets, as recvmmsg returns them.
	qs := []demux.Query{
		{Class: demux.ClassIPIP, Src: netip.MustParseAddr("198.51.100.11"), Dst: me},
		{Class: demux.ClassIPIP, Src: netip.MustParseAddr("198.51.100.99"), Dst: me},
		{Class: demux.ClassIPIP, Src: netip.MustParseAddr("198.51.100.10"), Dst: me},
	}
	out := make([]demux.Result[string], len(qs))
	n := tab.LookupBatch(qs, out)
	for i, r := range out[:n] {
		fmt.Println(qs[i].Src, "->", r.Value, r.Step)
	}
	// Output:
	// 198.51.100.11 -> ipip1 exact
	// 198.51.100.99 -> tunl0 fallback
	// 198.51.100.10 -> ipip0 exact
}

func ExampleTable_SetUp() {
	tab := demux.New[string]()
	e := demux.Entry[string]{ID: demux.ID{Class: demux.ClassGRE, Local: netip.MustParseAddr("192.0.2.1"),
		Remote: netip.MustParseAddr("198.51.100.2")}, Up: true, Value: "gre1"}
	_ = tab.Add(e)
	q := demux.Query{Class: demux.ClassGRE, Src: e.Remote, Dst: e.Local}

	_ = tab.SetUp(e.ID, false) // ip link set gre1 down
	_, _, ok := tab.Lookup(q)
	fmt.Println("down, found:", ok)
	_ = tab.SetUp(e.ID, true)
	v, _, ok := tab.Lookup(q)
	fmt.Println("up, found:", ok, v)
	fmt.Println(e.ID)
	// Output:
	// down, found: false
	// up, found: true gre1
	// gre/ip local 192.0.2.1 remote 198.51.100.2
}

// An IPv4 tunnel never receives an IPv6 packet, even one whose source is
// the IPv4-mapped form of the tunnel's remote: each family has its own
// entries and its own fallback.
func ExampleTable_Lookup_families() {
	tab := demux.New[string]()
	// ip tunnel add gre1 mode gre remote 198.51.100.2 (local any)
	_ = tab.Add(demux.Entry[string]{ID: demux.ID{Class: demux.ClassGRE, Remote: netip.MustParseAddr("198.51.100.2")},
		Up: true, Value: "gre1"})
	// The fallback devices gre0 and ip6gre0.
	_ = tab.Add(demux.Entry[string]{ID: demux.FallbackID(demux.ClassGRE, demux.IPv4), Up: true, Value: "gre0"})
	_ = tab.Add(demux.Entry[string]{ID: demux.FallbackID(demux.ClassGRE, demux.IPv6), Up: true, Value: "ip6gre0"})

	for _, q := range []demux.Query{
		{Class: demux.ClassGRE, Src: netip.MustParseAddr("198.51.100.2"), Dst: netip.MustParseAddr("192.0.2.1")},
		{Class: demux.ClassGRE, Src: netip.MustParseAddr("::ffff:198.51.100.2"), Dst: netip.MustParseAddr("2001:db8::1")},
		{Class: demux.ClassGRE, Src: netip.MustParseAddr("203.0.113.9"), Dst: netip.MustParseAddr("192.0.2.1")},
	} {
		v, step, _ := tab.Lookup(q)
		fmt.Printf("%v -> %v: %s at step %v\n", q.Src, q.Dst, v, step)
	}
	// Output:
	// 198.51.100.2 -> 192.0.2.1: gre1 at step remote
	// ::ffff:198.51.100.2 -> 2001:db8::1: ip6gre0 at step fallback
	// 203.0.113.9 -> 192.0.2.1: gre0 at step fallback
}
