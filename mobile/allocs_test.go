package mobile_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/mobile"
)

// TestAllocs proves that every encapsulation and decapsulation path
// allocates nothing, on success and on error. Encapsulate and Decapsulate
// alternate on one buffer, so every run does real work.
func TestAllocs(t *testing.T) {
	s0 := datagram(12, 1400, optsNOP)
	s1 := datagram(12, 1400, optsRoute)
	frag := datagram(12, 60, nil)
	frag[12+6] |= 0x20 // MF (checksum now wrong too: either error will do)
	badMin := datagram(12, 60, nil)
	start, err := mobile.Encapsulate(badMin, 12, careOf, homeAg)
	require.NoError(t, err)
	badMin = badMin[start:]
	badMin[20+11]++ // minimal header checksum
	f := mobile.Fields{Protocol: 6, Dst: origDst, Src: origSrc}
	hdr := make([]byte, 12)

	cases := map[string]func(){
		"encapsulate+decapsulate S=0": func() {
			start, _ := mobile.Encapsulate(s0, 12, careOf, netip.Addr{})
			_, _ = mobile.Decapsulate(s0[start:])
		},
		"encapsulate+decapsulate S=1": func() {
			start, _ := mobile.Encapsulate(s1, 12, careOf, homeAg)
			_, _ = mobile.Decapsulate(s1[start:])
		},
		"encapsulate fragment":        func() { _, _ = mobile.Encapsulate(frag, 12, careOf, homeAg) },
		"encapsulate no headroom":     func() { _, _ = mobile.Encapsulate(s1, 11, careOf, homeAg) },
		"encapsulate bad address":     func() { _, _ = mobile.Encapsulate(s1, 12, netip.Addr{}, homeAg) },
		"decapsulate bad checksum":    func() { _, _ = mobile.Decapsulate(badMin) },
		"decapsulate not protocol 55": func() { _, _ = mobile.Decapsulate(s0[12:]) },
		"decapsulate truncated":       func() { _, _ = mobile.Decapsulate(s0[:10]) },
		"parse":                       func() { h, _ := mobile.Parse(vectorS1); _, _ = h.Src(); _ = h.Payload() },
		"parse error":                 func() { _, _ = mobile.Parse(vectorS1[:9]) },
		"fields":                      func() { h, _ := mobile.Parse(vectorS1); h.Fields(&f) },
		"encode":                      func() { _, _ = f.Encode(hdr) },
		"encode error":                func() { _, _ = f.Encode(hdr[:4]) },
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
