package gre_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/gre"
)

// TestAllocs proves that decoding, encoding, checksum verification and
// keepalive matching allocate nothing, on success and on error paths.
func TestAllocs(t *testing.T) {
	buf := make([]byte, 1500)
	cks := gre.Fields{Protocol: gre.ProtoIPv4, ChecksumPresent: true, KeyPresent: true, Key: 1, SeqPresent: true}
	routing := gre.Fields{Protocol: gre.ProtoIPv4, RoutingPresent: true,
		Routing: []gre.SRE{{AddressFamily: gre.SREFamilyIP, Info: []byte{192, 0, 2, 1}}}}
	var back gre.Fields
	back.Routing = make([]gre.SRE, 0, 4)
	noVerify := gre.Decoder{NoVerifyChecksum: true}
	verify := gre.Decoder{}
	rfc1701 := gre.Decoder{Mode: gre.ModeRFC1701}
	ka, err := gre.AppendKeepalive(make([]byte, 0, 64), kaA, kaB, nil)
	require.NoError(t, err)
	kaBroadcast, err := gre.AppendKeepalive(nil, netip.MustParseAddr("255.255.255.255"), kaB, nil)
	require.NoError(t, err)
	appendBuf := make([]byte, 0, 2048)
	badCKS := append([]byte(nil), vectorCKS...)
	badCKS[len(badCKS)-1] ^= 1
	_, err = verify.Parse(badCKS)
	require.ErrorIs(t, err, gre.ErrChecksum)

	cases := map[string]func(){
		"parse":          func() { _, _ = gre.Parse(vectorCKS) },
		"parse-verify":   func() { _, _ = verify.Parse(vectorCKS) },
		"parse-noverify": func() { _, _ = noVerify.Parse(vectorCKS) },
		"parse-ipv6":     func() { _, _ = gre.Decoder{OverIPv6: true}.Parse(vectorCKS) },
		"parse-mode":     func() { _, _ = gre.Decoder{Mode: 3}.Parse(vectorCKS) },
		"parse-reserved": func() { _, _ = gre.Parse([]byte{0, 0x08, 8, 0}) },
		"parse-routing": func() {
			h, _ := rfc1701.Parse(vectorRouting)
			it := h.Routing()
			for it.Next() {
				_ = it.SRE()
			}
		},
		"parse-error":    func() { _, _ = gre.Parse(vectorCKS[:3]) },
		"parse-short-v4": func() { _, _ = gre.Parse(vectorPPTP[:8]) }, // under gre_rcv's 12 bytes
		"parse-keepalive-reply": func() {
			_, _ = gre.Parse([]byte{0, 0, 0, 0})
		},
		"parse-bad-csum": func() { _, _ = verify.Parse(badCKS) },
		"fields":         func() { h, _ := rfc1701.Parse(vectorRouting); h.Fields(&back) },
		"accessors": func() {
			h, _ := gre.Parse(vectorPPTP)
			_, _ = h.Key()
			_, _ = h.Seq()
			_, _ = h.Ack()
			_ = h.Payload()
			_ = h.CallID()
		},
		"encode":         func() { _, _ = cks.Encode(buf) },
		"encode-routing": func() { _, _ = routing.Encode(buf) },
		"encode-error":   func() { _, _ = cks.Encode(buf[:3]) },
		"append":         func() { _, _ = cks.Append(appendBuf[:0], buf[:1400]) },
		"keepalive-match": func() {
			_, _, _ = gre.KeepaliveMatcher{}.Match(ka, kaA, kaB)
		},
		"keepalive-miss": func() { _, _, _ = gre.KeepaliveMatcher{}.Match(ka, kaB, kaA) },
		"keepalive-refused": func() {
			_, _, _ = gre.KeepaliveMatcher{AnyAddress: true}.Match(kaBroadcast, kaA, kaB)
		},
		"zero-header": func() {
			var h gre.Header
			_, _ = h.Key()
			_ = h.Payload()
			h.Fields(&back)
		},
		"keepalive-append": func() {
			_, _ = gre.AppendKeepalive(appendBuf[:0], kaA, kaB, nil)
		},
	}
	for name, fn := range cases {
		t.Run(name, func(t *testing.T) {
			require.Zero(t, testing.AllocsPerRun(1000, fn))
		})
	}
}
