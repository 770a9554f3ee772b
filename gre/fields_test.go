package gre_test

import (
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap"
	"github.com/ipencap/ipencap/gre"
)

func TestEncodeVectors(t *testing.T) {
	tests := []struct {
		name string
		f    gre.Fields
		want []byte // header and payload
	}{
		{"CKS", gre.Fields{Protocol: gre.ProtoIPv4, ChecksumPresent: true, KeyPresent: true, Key: 1234,
			SeqPresent: true, Seq: 7}, vectorCKS},
		{"PPTP", func() gre.Fields {
			var f gre.Fields
			f.SetPPTP(4, 0x1234)
			f.SeqPresent, f.Seq = true, 34
			f.AckPresent, f.Ack = true, 17
			return f
		}(), vectorPPTP},
		{"routing", gre.Fields{Protocol: gre.ProtoIPv4, RoutingPresent: true, StrictSourceRoute: true,
			Checksum: 0x1234, Offset: 4,
			Routing: []gre.SRE{{AddressFamily: gre.SREFamilyIP, Offset: 4, Info: []byte{192, 0, 2, 1, 192, 0, 2, 2}}}},
			vectorRouting},
		{"plain", gre.Fields{Protocol: gre.ProtoIPv6}, []byte{0, 0, 0x86, 0xdd}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := tt.f.Len()
			b := make([]byte, len(tt.want))
			copy(b[n:], tt.want[n:])
			got, err := tt.f.Encode(b)
			require.NoError(t, err)
			assert.Equal(t, n, got)
			assert.Equal(t, tt.want, b)

			// Append gives the same bytes, into fresh or reused storage.
			out, err := tt.f.Append(nil, tt.want[n:])
			require.NoError(t, err)
			assert.Equal(t, tt.want, out)
			prefix := []byte{9, 9}
			out, err = tt.f.Append(prefix, tt.want[n:])
			require.NoError(t, err)
			assert.Equal(t, append([]byte{9, 9}, tt.want...), out)

			// decode(encode(f)) == f
			h, err := gre.Decoder{Mode: gre.ModeRFC1701}.Parse(b)
			require.NoError(t, err)
			var back gre.Fields
			h.Fields(&back)
			want := tt.f
			if want.ChecksumPresent {
				want.Checksum = back.Checksum // an output of Encode
			}
			assert.Equal(t, want, back)
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		name string
		f    gre.Fields
		want error
	}{
		{"version 2", gre.Fields{Version: 2}, gre.ErrVersion},
		{"ack in version 0", gre.Fields{AckPresent: true}, gre.ErrAck},
		{"recursion 8", gre.Fields{Recursion: 8}, gre.ErrReservedBits},
		{"reserved 32", gre.Fields{Reserved: 32}, gre.ErrReservedBits},
		{"v1 without key", gre.Fields{Version: 1, Protocol: gre.ProtoPPP}, gre.ErrPPTP},
		{"v1 with checksum", gre.Fields{Version: 1, Protocol: gre.ProtoPPP, KeyPresent: true, ChecksumPresent: true}, gre.ErrPPTP},
		{"v1 IPv4", gre.Fields{Version: 1, Protocol: gre.ProtoIPv4, KeyPresent: true}, gre.ErrPPTP},
		{"v1 reserved", gre.Fields{Version: 1, Protocol: gre.ProtoPPP, KeyPresent: true, Reserved: 1}, gre.ErrPPTP},
		{"SREs without R", gre.Fields{Routing: []gre.SRE{{AddressFamily: 1}}}, gre.ErrRouting},
		{"SRE that reads as NULL", gre.Fields{RoutingPresent: true, Routing: []gre.SRE{{}}}, gre.ErrRouting},
		{"SRE info over 255", gre.Fields{RoutingPresent: true, Routing: []gre.SRE{{AddressFamily: 1, Info: make([]byte, 256)}}}, gre.ErrRouting},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.f.Encode(make([]byte, 1024))
			require.ErrorIs(t, err, tt.want)
			out, err := tt.f.Append([]byte{1}, nil)
			require.ErrorIs(t, err, tt.want)
			assert.Equal(t, []byte{1}, out, "Append returns dst unchanged on error")
		})
	}
	f := gre.Fields{KeyPresent: true}
	_, err := f.Encode(make([]byte, 7))
	require.ErrorIs(t, err, io.ErrShortBuffer)
	require.ErrorIs(t, err, gre.ErrShortBuffer)
	require.ErrorIs(t, err, ipencap.ErrFrame, "a short buffer is of kind ErrFrame")
}

func TestFieldsReset(t *testing.T) {
	// A Fields reused for a plainer header keeps nothing of the last one.
	h, err := gre.Decoder{Mode: gre.ModeRFC1701}.Parse(vectorRouting)
	require.NoError(t, err)
	var f gre.Fields
	h.Fields(&f)
	require.Len(t, f.Routing, 1)
	h, err = gre.Parse([]byte{0, 0, 8, 0, 0x45, 0, 0, 8, 0, 0, 0, 0}) // 12 bytes, as gre_rcv wants over IPv4
	require.NoError(t, err)
	h.Fields(&f)
	assert.Equal(t, gre.Fields{Protocol: gre.ProtoIPv4, Routing: f.Routing[:0]}, f)
	assert.Equal(t, 1, cap(f.Routing), "routing storage reused")
}

func TestPPTPAccessors(t *testing.T) {
	var f gre.Fields
	f.SetPPTP(1400, 77)
	l, id := f.PPTP()
	assert.Equal(t, uint16(1400), l)
	assert.Equal(t, uint16(77), id)
	assert.Equal(t, gre.Key(1400<<16|77), f.Key)
}

// TestEncodeChecksumNegativeZero: when the data under the checksum sums to
// 0xffff, both zeros of one's complement, 0x0000 and 0xffff, verify.
// Whichever was received must come back from decode, Fields, Encode.
func TestEncodeChecksumNegativeZero(t *testing.T) {
	for _, in := range [][]byte{
		{
			0x80, 0x00, 0x7f, 0xff, // C, version 0, protocol 0x7fff: 0x8000+0x7fff = 0xffff
			0xff, 0xff, 0x00, 0x00, // checksum 0xffff (negative zero), offset 0
		},
		{
			0x80, 0x00, 0x7f, 0xff, // the same header
			0x00, 0x00, 0x00, 0x00, // checksum 0x0000, as Encode computes it
		},
		{
			0xa0, 0x00, 0x08, 0x00, // C K, protocol IPv4
			0xff, 0xff, 0x00, 0x00, // checksum 0xffff, offset 0
			0x00, 0x00, 0x00, 0x00, // key 0
			0x1f, 0xff, 0x38, 0x00, // payload: 0xa000+0x0800+0x1fff+0x3800 = 0xffff
		},
	} {
		h, err := gre.Decoder{Mode: gre.ModeRFC1701}.Parse(in)
		require.NoError(t, err, "%x verifies", in)
		var f gre.Fields
		h.Fields(&f)
		out := make([]byte, len(in))
		copy(out[h.Len():], h.Payload())
		_, err = f.Encode(out)
		require.NoError(t, err)
		assert.Equal(t, in, out, "decode, Fields, Encode of %x", in)
	}

	// Any other stale value in Fields.Checksum is replaced by the computed one.
	f := gre.Fields{Protocol: 0x7fff, ChecksumPresent: true, Checksum: 0x1234}
	out, err := f.Append(nil, nil)
	require.NoError(t, err)
	assert.Equal(t, []byte{0x80, 0x00, 0x7f, 0xff, 0x00, 0x00, 0x00, 0x00}, out)
	f = gre.Fields{Protocol: gre.ProtoIPv4, ChecksumPresent: true, Checksum: 0xffff}
	out, err = f.Append(nil, nil)
	require.NoError(t, err)
	assert.Equal(t, []byte{0x80, 0x00, 0x08, 0x00, 0x77, 0xff, 0x00, 0x00}, out, "0xffff kept only where it verifies")
}

// TestAppendGrowsOnlyWhenShort checks the append idiom that Append and
// AppendKeepalive share: reuse dst's capacity when it suffices, else
// allocate, and never touch dst's bytes.
func TestAppendGrowsOnlyWhenShort(t *testing.T) {
	f := gre.Fields{Protocol: gre.ProtoIPv4, KeyPresent: true, Key: 7}
	dst := make([]byte, 2, 64)
	dst[0], dst[1] = 0xaa, 0xbb
	out, err := f.Append(dst, []byte{1, 2})
	require.NoError(t, err)
	assert.Same(t, &dst[0], &out[0], "capacity reused")
	assert.Equal(t, []byte{0xaa, 0xbb, 0x20, 0, 8, 0, 0, 0, 0, 7, 1, 2}, out)

	short := []byte{0xaa, 0xbb}
	out, err = f.Append(short[:2:2], []byte{1, 2})
	require.NoError(t, err)
	assert.NotSame(t, &short[0], &out[0], "grown into new storage")
	assert.Equal(t, []byte{0xaa, 0xbb, 0x20, 0, 8, 0, 0, 0, 0, 7, 1, 2}, out)

	ka, err := gre.AppendKeepalive(dst[:2], kaA, kaB, nil)
	require.NoError(t, err)
	assert.Same(t, &dst[0], &ka[0], "AppendKeepalive reuses capacity too")
	assert.Equal(t, []byte{0xaa, 0xbb}, ka[:2])
	assert.Len(t, ka, 2+24)
}
