package mobile_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/mobile"
	"github.com/ipencap/ipencap/outer"
)

// Minimal forwarding headers as tcpdump -v prints them:
// "mobile: [] > 203.0.113.20 (oproto=17)" and
// "mobile: [S] 203.0.113.10 > 203.0.113.20 (oproto=17)".
var (
	vectorS0 = []byte{
		17, 0x00, 0xb2, 0xea, // protocol UDP, S=0, checksum
		203, 0, 113, 20, // original destination
	}
	vectorS1 = []byte{
		17, 0x80, 0x76, 0x5f, // protocol UDP, S=1, checksum
		203, 0, 113, 20, // original destination
		203, 0, 113, 10, // original source
	}
)

func TestParse(t *testing.T) {
	h, err := mobile.Parse(append(append([]byte(nil), vectorS0...), 0xaa, 0xbb))
	require.NoError(t, err)
	assert.Equal(t, outer.IPProto(17), h.Protocol())
	assert.False(t, h.SourcePresent())
	assert.Equal(t, uint16(0xb2ea), h.Checksum())
	assert.Equal(t, origDst, h.Dst())
	src, ok := h.Src()
	assert.False(t, ok)
	assert.False(t, src.IsValid())
	assert.Equal(t, 8, h.Len())
	assert.Equal(t, vectorS0, h.Bytes())
	assert.Equal(t, []byte{0xaa, 0xbb}, h.Payload())

	h, err = mobile.Parse(vectorS1)
	require.NoError(t, err)
	assert.True(t, h.SourcePresent())
	src, ok = h.Src()
	assert.True(t, ok)
	assert.Equal(t, origSrc, src)
	assert.Equal(t, 12, h.Len())
	assert.Empty(t, h.Payload())
	var f mobile.Fields
	h.Fields(&f)
	assert.Equal(t, mobile.Fields{Protocol: 17, Dst: origDst, Src: origSrc}, f)

	var zero mobile.Header
	assert.Zero(t, zero.Len())
	assert.Zero(t, zero.Protocol())
	assert.Zero(t, zero.Checksum())
	assert.False(t, zero.Dst().IsValid())
	assert.False(t, zero.SourcePresent())
	_, ok = zero.Src()
	assert.False(t, ok)
	zero.Fields(&f)
	assert.Equal(t, mobile.Fields{}, f)
	assert.Empty(t, zero.Bytes())
	assert.Empty(t, zero.Payload())
}

func TestParseErrors(t *testing.T) {
	edit := func(v []byte, f func(b []byte)) []byte {
		b := append([]byte(nil), v...)
		f(b)
		return b
	}
	tests := []struct {
		name string
		b    []byte
		err  error
	}{
		{"empty", nil, mobile.ErrTruncated},
		{"7 bytes", vectorS0[:7], mobile.ErrTruncated},
		{"S set, 8 bytes", vectorS1[:8], mobile.ErrTruncated},
		{"S set, 11 bytes", vectorS1[:11], mobile.ErrTruncated},
		// The checksum is fixed up by hand for the flipped bit (a bit of
		// the second byte is worth 1 in the checksummed word).
		{"reserved bit 0x01", edit(vectorS0, func(b []byte) { b[1] |= 0x01; b[3]-- }), mobile.ErrReservedBits},
		{"reserved bit 0x40", edit(vectorS0, func(b []byte) { b[1] |= 0x40; b[3] -= 0x40 }), mobile.ErrReservedBits},
		{"bad checksum", edit(vectorS0, func(b []byte) { b[3]++ }), mobile.ErrChecksum},
		{"S flipped on: checksum no longer matches", edit(vectorS0, func(b []byte) { b[1] = 0x80 })[:8], mobile.ErrTruncated},
		{"S flipped off: checksum over 8 bytes", edit(vectorS1, func(b []byte) { b[1] = 0 }), mobile.ErrChecksum},
		{"original source changed", edit(vectorS1, func(b []byte) { b[11]++ }), mobile.ErrChecksum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mobile.Parse(tt.b)
			require.ErrorIs(t, err, tt.err)
		})
	}
}

func TestFieldsEncode(t *testing.T) {
	b := make([]byte, 12)
	f := mobile.Fields{Protocol: 17, Dst: origDst}
	assert.Equal(t, 8, f.Len())
	n, err := f.Encode(b)
	require.NoError(t, err)
	assert.Equal(t, vectorS0, b[:n])

	f.Src = origSrc
	assert.Equal(t, 12, f.Len())
	n, err = f.Encode(b)
	require.NoError(t, err)
	assert.Equal(t, vectorS1, b[:n])

	// IPv4-mapped addresses count as IPv4.
	f = mobile.Fields{Protocol: 17, Dst: netip.AddrFrom16(origDst.As16()), Src: netip.AddrFrom16(origSrc.As16())}
	n, err = f.Encode(b)
	require.NoError(t, err)
	assert.Equal(t, vectorS1, b[:n])

	_, err = f.Encode(b[:11])
	require.ErrorIs(t, err, mobile.ErrShortBuffer)
	_, err = (&mobile.Fields{Protocol: 17}).Encode(b)
	require.ErrorIs(t, err, mobile.ErrAddr)
	_, err = (&mobile.Fields{Dst: netip.MustParseAddr("2001:db8::1")}).Encode(b)
	require.ErrorIs(t, err, mobile.ErrAddr)
	_, err = (&mobile.Fields{Dst: origDst, Src: netip.MustParseAddr("2001:db8::1")}).Encode(b)
	require.ErrorIs(t, err, mobile.ErrAddr)
}

// TestHeaderMutatedBuffer: a Header keeps the length and S flag Parse saw,
// so its accessors stay in bounds when the caller sets or clears S in the
// buffer afterwards (or scribbles over it in any other way).
func TestHeaderMutatedBuffer(t *testing.T) {
	for _, tt := range []struct {
		name string
		v    []byte
		flip byte // the new second byte
	}{
		{"S set after Parse of an 8-byte header", vectorS0, 0x80},
		{"S cleared after Parse of a 12-byte header", vectorS1, 0x00},
		{"every bit set after Parse of an 8-byte header", vectorS0, 0xff},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := append([]byte(nil), tt.v...)
			h, err := mobile.Parse(b)
			require.NoError(t, err)
			n, s := h.Len(), h.SourcePresent()
			b[1] = tt.flip
			require.NotPanics(t, func() {
				assert.Equal(t, n, h.Len())
				assert.Equal(t, s, h.SourcePresent())
				_ = h.Protocol()
				_ = h.Checksum()
				_ = h.Dst()
				_, ok := h.Src()
				assert.Equal(t, s, ok)
				assert.Len(t, h.Bytes(), n)
				assert.Empty(t, h.Payload())
				var f mobile.Fields
				h.Fields(&f)
				assert.Equal(t, n, f.Len())
			})
		})
	}
}
