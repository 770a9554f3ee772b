package mobile_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/internal/checksum"
	"github.com/ipencap/ipencap/internal/iphdr"
	"github.com/ipencap/ipencap/mobile"
)

// TestEncapsulateVector: a 40-byte datagram, encapsulated by its own
// source (S=0), compared byte for byte.
func TestEncapsulateVector(t *testing.T) {
	b := datagram(12, 40, nil)
	payload := append([]byte(nil), b[32:]...)
	start, err := mobile.Encapsulate(b, 12, careOf, netip.Addr{})
	require.NoError(t, err)
	require.Equal(t, 4, start)
	want := []byte{
		0x45, 0xb8, 0x00, 0x30, // version 4, IHL 5, TOS 0xb8, total length 48 (40 + 8)
		0x12, 0x34, 0x40, 0x00, // ID 0x1234, DF
		0x40, 0x37, 0x00, 0x00, // TTL 64, protocol 55, checksum (below)
		203, 0, 113, 10, // source: the original source
		198, 51, 100, 7, // destination: the tunnel exit
		17, 0x00, 0xb2, 0xea, // minimal header: UDP, S=0, checksum
		203, 0, 113, 20, // original destination
	}
	iphdr.IPv4(want).ComputeChecksum()
	assert.Equal(t, want, b[start:start+28])
	assert.Equal(t, payload, b[start+28:], "payload not moved")
}

func TestEncapsulateDecapsulate(t *testing.T) {
	for _, opts := range [][]byte{nil, optsNOP, optsRoute, bytes.Repeat([]byte{1}, 40)} {
		for _, enc := range []netip.Addr{{}, origSrc, homeAg} {
			for _, n := range []int{20 + len(opts), 64, 1400} {
				withSrc := enc == homeAg
				name := fmt.Sprintf("options %d/S %v/encapsulator %v/%d bytes", len(opts), withSrc, enc, n)
				t.Run(name, func(t *testing.T) {
					const headroom = 16
					b := datagram(headroom, n, opts)
					orig := append([]byte(nil), b[headroom:]...)
					hl := 20 + len(opts)
					payloadAt := &b[headroom+hl-1] // last header byte: the payload (possibly empty) follows

					start, err := mobile.Encapsulate(b, headroom, careOf, enc)
					require.NoError(t, err)
					mlen := 8
					if withSrc {
						mlen = 12
					}
					require.Equal(t, headroom-mlen, start)
					out := b[start:]
					require.Len(t, out, n+mlen)
					assert.Same(t, payloadAt, &b[start+hl+mlen-1], "the payload stays put")

					h, err := iphdr.CheckIPv4(out, true)
					require.NoError(t, err)
					assert.Equal(t, hl, h.HeaderLen())
					assert.Equal(t, opts, nilIfEmpty(h.Options()))
					assert.Equal(t, uint8(0xb8), h.TOS())
					assert.Equal(t, uint16(0x1234), h.ID())
					assert.Equal(t, uint16(iphdr.IPv4FlagDF), h.FlagsFragOff())
					assert.Equal(t, uint8(64), h.TTL(), "TTL untouched")
					assert.Equal(t, mobile.ProtoMinimal, h.Protocol())
					assert.Equal(t, careOf, h.Dst())
					if withSrc {
						assert.Equal(t, homeAg, h.Src())
					} else {
						assert.Equal(t, origSrc, h.Src())
					}
					m, err := mobile.Parse(h.Payload())
					require.NoError(t, err)
					assert.Equal(t, uint8(17), m.Protocol())
					assert.Equal(t, origDst, m.Dst())
					src, ok := m.Src()
					assert.Equal(t, withSrc, ok)
					if withSrc {
						assert.Equal(t, origSrc, src)
					}
					assert.Equal(t, orig[hl:], m.Payload())

					p, err := mobile.Decapsulate(out)
					require.NoError(t, err)
					assert.Equal(t, orig, p)
					assert.Same(t, &b[headroom], &p[0], "decapsulated where it was before")
				})
			}
		}
	}
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func TestEncapsulateErrors(t *testing.T) {
	edit := func(f func(p []byte)) []byte { // a 60-byte datagram behind 12 bytes of headroom
		b := datagram(12, 60, nil)
		f(b[12:])
		return b
	}
	fixed := func(f func(p []byte)) []byte { // edited, checksum fixed
		return edit(func(p []byte) { f(p); iphdr.IPv4(p).ComputeChecksum() })
	}
	v6 := netip.MustParseAddr("2001:db8::1")
	tests := []struct {
		name      string
		b         []byte
		off       int
		exit, enc netip.Addr
		err       error
	}{
		{"negative offset", datagram(12, 60, nil), -1, careOf, homeAg, mobile.ErrShortBuffer},
		{"offset past the end", datagram(12, 60, nil), 73, careOf, homeAg, mobile.ErrShortBuffer},
		{"7 bytes of headroom", datagram(7, 60, nil), 7, careOf, netip.Addr{}, mobile.ErrShortBuffer},
		{"11 bytes of headroom with S", datagram(11, 60, nil), 11, careOf, homeAg, mobile.ErrShortBuffer},
		{"exit not set", datagram(12, 60, nil), 12, netip.Addr{}, homeAg, mobile.ErrAddr},
		{"exit IPv6", datagram(12, 60, nil), 12, v6, homeAg, mobile.ErrAddr},
		{"encapsulator IPv6", datagram(12, 60, nil), 12, careOf, v6, mobile.ErrAddr},
		{"empty", make([]byte, 12), 12, careOf, homeAg, mobile.ErrTruncated},
		{"19 bytes", datagram(12, 60, nil)[:31], 12, careOf, homeAg, mobile.ErrTruncated},
		{"IPv6 datagram", edit(func(p []byte) { p[0] = 0x60 }), 12, careOf, homeAg, mobile.ErrVersion},
		{"IHL 4", fixed(func(p []byte) { p[0] = 0x44 }), 12, careOf, homeAg, mobile.ErrHeaderLen},
		{"IHL beyond the buffer", fixed(func(p []byte) { p[0] = 0x4f })[:12+59], 12, careOf, homeAg, mobile.ErrTruncated},
		{"total length beyond the buffer", datagram(12, 60, nil)[:71], 12, careOf, homeAg, mobile.ErrTruncated},
		{"total length short of the buffer", fixed(func(p []byte) { iphdr.IPv4(p).SetTotalLen(59) }), 12, careOf, homeAg, mobile.ErrLength},
		{"bad checksum", edit(func(p []byte) { p[8]-- }), 12, careOf, homeAg, mobile.ErrIPChecksum},
		{"MF", fixed(func(p []byte) { iphdr.IPv4(p).SetFlagsFragOff(iphdr.IPv4FlagMF) }), 12, careOf, homeAg, mobile.ErrFragment},
		{"offset", fixed(func(p []byte) { iphdr.IPv4(p).SetFlagsFragOff(iphdr.IPv4FlagDF | 1) }), 12, careOf, homeAg, mobile.ErrFragment},
		{"65535 bytes + 8", datagram(12, 65535-7, nil), 12, careOf, netip.Addr{}, mobile.ErrTooLong},
		{"65535 bytes + 12", datagram(12, 65535-11, nil), 12, careOf, homeAg, mobile.ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := append([]byte(nil), tt.b...)
			_, err := mobile.Encapsulate(tt.b, tt.off, tt.exit, tt.enc)
			require.ErrorIs(t, err, tt.err)
			assert.True(t, bytes.Equal(orig, tt.b), "buffer untouched on error")
		})
	}

	// The largest datagrams that fit; IPv4-mapped exit and encapsulator.
	b := datagram(12, 65535-8, nil)
	start, err := mobile.Encapsulate(b, 12, careOf, netip.Addr{})
	require.NoError(t, err)
	assert.Equal(t, 4, start)
	b = datagram(12, 65535-12, nil)
	start, err = mobile.Encapsulate(b, 12, netip.AddrFrom16(careOf.As16()), netip.AddrFrom16(homeAg.As16()))
	require.NoError(t, err)
	assert.Equal(t, 0, start)
	assert.Equal(t, careOf, iphdr.IPv4(b).Dst())
}

func TestDecapsulateErrors(t *testing.T) {
	enc := func(withSrc bool) []byte {
		b := datagram(12, 60, optsNOP)
		e := netip.Addr{}
		if withSrc {
			e = homeAg
		}
		start, err := mobile.Encapsulate(b, 12, careOf, e)
		require.NoError(t, err)
		return b[start:]
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
		{"empty", nil, mobile.ErrTruncated},
		{"IPv4 header cut", enc(false)[:23], mobile.ErrTruncated},
		{"version 6", fixed(false, func(p []byte) { p[0] = 0x65 }), mobile.ErrVersion},
		{"IHL 4", fixed(false, func(p []byte) { p[0] = 0x44 }), mobile.ErrHeaderLen},
		{"total length beyond the buffer", enc(false)[:67], mobile.ErrTruncated},
		{"bad IPv4 checksum", func() []byte { p := enc(false); p[8]--; return p }(), mobile.ErrIPChecksum},
		{"protocol 4", fixed(false, func(p []byte) { p[9] = 4 }), mobile.ErrProtocol},
		{"MF", fixed(false, func(p []byte) { p[6] |= 0x20 }), mobile.ErrFragment},
		{"offset", fixed(false, func(p []byte) { p[7] = 1 }), mobile.ErrFragment},
		{"minimal header cut (7 bytes)", fixed(false, func(p []byte) { iphdr.IPv4(p).SetTotalLen(24 + 7) }), mobile.ErrTruncated},
		{"minimal header cut (S, 11 bytes)", fixed(true, func(p []byte) { iphdr.IPv4(p).SetTotalLen(24 + 11) }), mobile.ErrTruncated},
		{"reserved bit", fixed(false, func(p []byte) { p[25] |= 0x02; p[27] -= 0x02 }), mobile.ErrReservedBits},
		{"minimal header checksum", fixed(true, func(p []byte) { p[24+11]++ }), mobile.ErrChecksum},
		{"S cleared", fixed(true, func(p []byte) { p[25] = 0 }), mobile.ErrChecksum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := append([]byte(nil), tt.b...)
			p, err := mobile.Decapsulate(tt.b)
			require.ErrorIs(t, err, tt.err)
			assert.Nil(t, p)
			assert.True(t, bytes.Equal(orig, tt.b), "buffer untouched on error")
		})
	}
}

// TestDecapsulatePadding: bytes after the total length (Ethernet padding)
// are left out of the result and untouched.
func TestDecapsulatePadding(t *testing.T) {
	b := datagram(12, 24, optsNOP) // header with options and no payload
	orig := append([]byte(nil), b[12:]...)
	start, err := mobile.Encapsulate(b, 12, careOf, homeAg)
	require.NoError(t, err)
	padded := append(append([]byte(nil), b[start:]...), 0, 0, 0, 0, 0, 0)
	p, err := mobile.Decapsulate(padded)
	require.NoError(t, err)
	assert.Equal(t, orig, p)
	assert.Equal(t, []byte{0, 0, 0, 0, 0, 0}, padded[12+len(p):])
}

// TestChecksumMinusZero pins down the one case where Decapsulate does not
// give back the original bytes: a header checksum of 0xffff, the "-0"
// form that only an incremental update produces (RFC 1624 §3). It is
// valid, and comes back as the equivalent 0x0000 that RFC 1071 computes.
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

	start, err := mobile.Encapsulate(b, 12, careOf, homeAg)
	require.NoError(t, err)
	p, err := mobile.Decapsulate(b[start:])
	require.NoError(t, err)
	assert.Equal(t, uint16(0x0000), iphdr.IPv4(p).Checksum())
	iphdr.IPv4(p).SetChecksum(0xffff)
	assert.Equal(t, orig, p, "identical but for the form of zero")
}
