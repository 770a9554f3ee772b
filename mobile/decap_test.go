package mobile_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/checksum"
	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/iphdr"
	"github.com/ipencap/ipencap/mobile"
	"github.com/ipencap/ipencap/outer"
)

// TestDecapErrors runs the receive path (outer.Parse, then Decap) on
// damaged tunnel packets: the outer IPv4 header's errors come from
// outer.Parse, the minimal header's from Decap.
func TestDecapErrors(t *testing.T) {
	enc := func(withSrc bool) []byte {
		e := encS0
		if withSrc {
			e = encS1
		}
		return encapsulated(t, e, 60, optsNOP)
	}
	fixed := func(withSrc bool, f func(p []byte)) []byte { // outer edited, checksum fixed
		p := enc(withSrc)
		f(p)
		iphdr.IPv4(p).ComputeChecksum()
		return p
	}
	tests := []struct {
		name string
		b    []byte
		err  error
	}{
		{"empty", nil, outer.ErrTruncated},
		{"IPv4 header cut", enc(false)[:23], outer.ErrTruncated},
		{"version 5", fixed(false, func(p []byte) { p[0] = 0x55 }), outer.ErrVersion},
		{"IHL 4", fixed(false, func(p []byte) { p[0] = 0x44 }), outer.ErrHeaderLen},
		{"total length beyond the buffer", enc(false)[:67], outer.ErrTruncated},
		{"bad IPv4 checksum", func() []byte { p := enc(false); p[8]--; return p }(), outer.ErrChecksum},
		{"protocol 4", fixed(false, func(p []byte) { p[9] = 4 }), mobile.ErrProtocol},
		{"MF", fixed(false, func(p []byte) { p[6] |= 0x20 }), outer.ErrFragment},
		{"offset", fixed(false, func(p []byte) { p[7] = 1 }), outer.ErrFragment},
		{"minimal header cut (7 bytes)", fixed(false, func(p []byte) { iphdr.IPv4(p).SetTotalLen(24 + 7) }), mobile.ErrTruncated},
		{"minimal header cut (S, 11 bytes)", fixed(true, func(p []byte) { iphdr.IPv4(p).SetTotalLen(24 + 11) }), mobile.ErrTruncated},
		{"reserved bit", fixed(false, func(p []byte) { p[25] |= 0x02; p[27] -= 0x02 }), mobile.ErrReservedBits},
		{"minimal header checksum", fixed(true, func(p []byte) { p[24+11]++ }), mobile.ErrChecksum},
		{"S cleared", fixed(true, func(p []byte) { p[25] = 0 }), mobile.ErrChecksum},
		{"protocol 55 over IPv6", testpkt.BuildIPv6(0, 60, testpkt.IPv6{HopLimit: 64, NextHeader: 55}), mobile.ErrProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := append([]byte(nil), tt.b...)
			p, _, err := decap(tt.b)
			require.ErrorIs(t, err, tt.err)
			assert.Nil(t, p)
			assert.True(t, bytes.Equal(orig, tt.b), "buffer untouched on error")
		})
	}
}

// TestDecapOuterMismatch: Decap trusts o for what outer.Parse checked, but
// an o that does not fit b (a caller's bug) gets an error, not a panic.
func TestDecapOuterMismatch(t *testing.T) {
	pkt := encapsulated(t, encS1, 60, nil)
	good, _, err := outer.Parse(pkt)
	require.NoError(t, err)
	tests := []struct {
		name string
		edit func(o *outer.Outer)
		b    []byte
		err  error
	}{
		{"zero Outer", func(o *outer.Outer) { *o = outer.Outer{} }, pkt, mobile.ErrProtocol},
		{"IPv6 addresses", func(o *outer.Outer) { o.Src, o.Dst = testpkt.Outer6Src, testpkt.Outer6Dst }, pkt, mobile.ErrProtocol},
		{"protocol 4", func(o *outer.Outer) { o.Protocol = outer.ProtoIPIP }, pkt, mobile.ErrProtocol},
		{"Len past the buffer", func(o *outer.Outer) { o.Len = len(pkt) + 1 }, pkt, mobile.ErrTruncated},
		{"buffer shorter than Len", func(*outer.Outer) {}, pkt[:len(pkt)-1], mobile.ErrTruncated},
		{"HeaderLen past Len", func(o *outer.Outer) { o.HeaderLen = o.Len + 4 }, pkt, mobile.ErrTruncated},
		{"HeaderLen below 20", func(o *outer.Outer) { o.HeaderLen = 12 }, pkt, mobile.ErrTruncated},
		{"negative HeaderLen", func(o *outer.Outer) { o.HeaderLen = -1 }, pkt, mobile.ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good
			tt.edit(&o)
			orig := append([]byte(nil), tt.b...)
			p, err := mobile.Decap(tt.b, &o)
			require.ErrorIs(t, err, tt.err)
			assert.Nil(t, p)
			assert.Equal(t, orig, tt.b)
		})
	}
}

// TestDecapKeepsOuter: Decap overwrites the outer addresses in b but does
// not touch o, which keeps them for the tunnel lookup and counters.
func TestDecapKeepsOuter(t *testing.T) {
	pkt := encapsulated(t, encS1, 60, nil)
	o, _, err := outer.Parse(pkt)
	require.NoError(t, err)
	before := o
	p, err := mobile.Decap(pkt, &o)
	require.NoError(t, err)
	assert.Equal(t, before, o)
	assert.Equal(t, homeAg, o.Src)
	assert.Equal(t, careOf, o.Dst)
	assert.Equal(t, origSrc, iphdr.IPv4(p).Src())
	assert.Equal(t, origDst, iphdr.IPv4(p).Dst())
}

// TestDecapPadding: bytes after the total length (Ethernet padding) are
// left out of the result and untouched.
func TestDecapPadding(t *testing.T) {
	b := datagram(12, 24, optsNOP) // header with options and no payload
	orig := append([]byte(nil), b[12:]...)
	start, err := encS1.Encap(b, 12)
	require.NoError(t, err)
	padded := append(append([]byte(nil), b[start:]...), 0, 0, 0, 0, 0, 0)
	p, _, err := decap(padded)
	require.NoError(t, err)
	assert.Equal(t, orig, p)
	assert.Equal(t, []byte{0, 0, 0, 0, 0, 0}, padded[12+len(p):])
}

// TestChecksumMinusZero pins down the one case where Decap does not give
// back the original bytes: a header checksum of 0xffff, the "-0" form that
// only an incremental update produces (RFC 1624 §3). It is valid, and
// comes back as the equivalent 0x0000 that RFC 1071 computes.
func TestChecksumMinusZero(t *testing.T) {
	b := datagram(12, 40, nil)
	h := iphdr.IPv4(b[12:])
	// Choose the ID so that the header sums to -0 with a zero checksum
	// field; then both 0x0000 and 0xffff are valid checksums.
	h.SetID(0)
	h.SetChecksum(0)
	h.SetID(^checksum.Sum(h[:20], 0))
	require.Equal(t, uint16(0xffff), checksum.Sum(h[:20], 0))
	h.SetChecksum(0xffff)
	require.True(t, h.ChecksumValid())
	orig := append([]byte(nil), b[12:]...)

	start, err := encS1.Encap(b, 12)
	require.NoError(t, err)
	p, _, err := decap(b[start:])
	require.NoError(t, err)
	assert.Equal(t, uint16(0x0000), iphdr.IPv4(p).Checksum())
	iphdr.IPv4(p).SetChecksum(0xffff)
	assert.Equal(t, orig, p, "identical but for the form of zero")
}
