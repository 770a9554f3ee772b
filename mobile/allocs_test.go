package mobile_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/mobile"
	"github.com/ipencap/ipencap/outer"
)

// TestAllocs proves that every encapsulation and decapsulation path
// allocates nothing, on success and on error. Encap and Decap alternate on
// one buffer, so every run does real work.
func TestAllocs(t *testing.T) {
	s0 := datagram(12, 1400, optsNOP)
	s1 := datagram(12, 1400, optsRoute)
	frag := datagram(12, 60, nil)
	frag[12+6] |= 0x20 // MF (checksum now wrong too: either error will do)
	badMin := encapsulated(t, encS1, 60, nil)
	badMin[20+11]++ // minimal header checksum
	badMinO, _, err := outer.Parse(badMin)
	require.NoError(t, err)
	udp := datagram(0, 60, nil) // protocol 17
	udpO, _, err := outer.Parse(udp)
	require.NoError(t, err)
	var zeroO outer.Outer
	f := mobile.Fields{Protocol: 6, Dst: origDst, Src: origSrc}
	hdr := make([]byte, 12)

	cases := map[string]func(){
		"encap+decap S=0": func() {
			start, _ := encS0.Encap(s0, 12)
			o, _, _ := outer.Parse(s0[start:])
			_, _ = mobile.Decap(s0[start:], &o)
		},
		"encap+decap S=1": func() {
			start, _ := encS1.Encap(s1, 12)
			o, _, _ := outer.Parse(s1[start:])
			_, _ = mobile.Decap(s1[start:], &o)
		},
		"encap fragment":        func() { _, _ = encS1.Encap(frag, 12) },
		"encap no headroom":     func() { _, _ = encS1.Encap(s1, 11) },
		"encap truncated":       func() { _, _ = encS1.Encap(s1[:20], 12) },
		"decap bad checksum":    func() { _, _ = mobile.Decap(badMin, &badMinO) },
		"decap not protocol 55": func() { _, _ = mobile.Decap(udp, &udpO) },
		"decap zero outer":      func() { _, _ = mobile.Decap(udp, &zeroO) },
		"decap receive path":    func() { _, _, _ = decap(badMin) },
		"parse":                 func() { h, _ := mobile.Parse(vectorS1); _, _ = h.Src(); _ = h.Payload() },
		"parse error":           func() { _, _ = mobile.Parse(vectorS1[:9]) },
		"fields":                func() { h, _ := mobile.Parse(vectorS1); h.Fields(&f) },
		"encode":                func() { _, _ = f.Encode(hdr) },
		"encode error":          func() { _, _ = f.Encode(hdr[:4]) },
	}
	for name, fn := range cases {
		t.Run(name, func(t *testing.T) {
			require.Zero(t, testing.AllocsPerRun(1000, fn))
		})
	}
	// The alternation left both datagrams as they started.
	require.Equal(t, datagram(12, 1400, optsNOP)[12:], s0[12:])
	require.Equal(t, datagram(12, 1400, optsRoute)[12:], s1[12:])
}
