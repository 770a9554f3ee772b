package ipip_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/ipip"
	"github.com/ipencap/ipencap/outer"
)

// TestAllocs proves that every encapsulation and decapsulation path
// allocates nothing, on success and on error.
func TestAllocs(t *testing.T) {
	e4, err := ipip.NewEncapsulator(ipip.Config{Local: outer4Src, Remote: outer4Dst, TTL: 64})
	require.NoError(t, err)
	e6, err := ipip.NewEncapsulator(ipip.Config{Local: outer6Src, Remote: outer6Dst, InheritTOS: true})
	require.NoError(t, err)

	in4 := packet4(40, 1400, 64, 0x02, true)
	in6 := packet6(40, 1400, 64, 0x01)
	badInner := packet4(40, 60, 0, 0, false) // TTL 0
	pkts := map[string][]byte{}
	for _, kind := range tunnelKinds {
		pkts[kind.name] = tunnelPacket(t, kind, 1400)
	}
	ecnDrop := tunnelPacket(t, tunnelKinds[0], 60)
	setOuterECN(ecnDrop, outer.CE)
	ecnAlarm := tunnelPacket(t, tunnelKinds[3], 60)
	setOuterECN(ecnAlarm, outer.ECT1)
	ext := withExt(t, extHopByHop, extEncapLimit)
	badCsum := append([]byte(nil), pkts["4in4"]...)
	badCsum[8]++
	badVersion := append([]byte(nil), pkts["6in6"]...)
	badVersion[40] = 0x45

	cases := map[string]func(){
		"encap 4in4":         func() { _, _ = e4.Encap(in4, 40) },
		"encap 6in4":         func() { _, _ = e4.Encap(in6, 40) },
		"encap 4in6":         func() { _, _ = e6.Encap(in4, 40) },
		"encap 6in6":         func() { _, _ = e6.Encap(in6, 40) },
		"inner of":           func() { _, _ = outer.InnerOf(in6[40:]) },
		"encap no headroom":  func() { _, _ = e6.Encap(in4, 39) },
		"encap bad inner":    func() { _, _ = e4.Encap(badInner, 40) },
		"encap inner length": func() { _, _ = e4.Encap(in4[:len(in4)-1], 40) },
		"parse":              func() { _, _, _ = outer.Parse(pkts["4in6"]) },
		"parse ext headers":  func() { _, _, _ = outer.Parse(ext) },
		"parse truncated":    func() { _, _, _ = outer.Parse(pkts["4in4"][:10]) },
		"decap checksum":     func() { _, _, _ = decap(badCsum) },
		"decap inner version": func() {
			_, _, _ = decap(badVersion)
		},
		"decap ecn drop":  func() { _, _, _ = decap(ecnDrop) },
		"decap ecn alarm": func() { _, _, _ = decap(ecnAlarm) },
		"apply ecn":       func() { _, _ = outer.ApplyECN(in4[40:], outer.CE) },
	}
	for _, kind := range tunnelKinds {
		p := pkts[kind.name]
		cases["decap "+kind.name] = func() { _, _, _ = decap(p) }
	}
	for name, fn := range cases {
		t.Run(name, func(t *testing.T) {
			require.Zero(t, testing.AllocsPerRun(1000, fn))
		})
	}
}
