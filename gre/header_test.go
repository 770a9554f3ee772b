package gre_test

import (
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/gre"
)

// GRE with checksum, key and sequence over a 4-byte payload, written one
// header word per line.
var vectorCKS = []byte{
	0xb0, 0x00, 0x08, 0x00, // C K S, version 0, protocol IPv4
	0x00, 0x00, 0x00, 0x00, // checksum (filled by init), offset 0
	0x00, 0x00, 0x04, 0xd2, // key 1234
	0x00, 0x00, 0x00, 0x07, // sequence 7
	0xde, 0xad, 0xbe, 0xef, // payload
}

// PPTP enhanced GRE (version 1): K S A, payload length 4, call ID 0x1234,
// sequence 34, acknowledgment 17.
var vectorPPTP = []byte{
	0x30, 0x81, 0x88, 0x0b, // K S, A, version 1, protocol PPP
	0x00, 0x04, 0x12, 0x34, // payload length 4, call ID 0x1234
	0x00, 0x00, 0x00, 0x22, // sequence 34
	0x00, 0x00, 0x00, 0x11, // acknowledgment 17
	0xff, 0x03, 0x00, 0x21, // PPP
}

// RFC 1701 routing: R, offset 4, one IP SRE with two addresses, NULL SRE.
var vectorRouting = []byte{
	0x48, 0x00, 0x08, 0x00, // R s, recursion 0, version 0, protocol IPv4
	0x12, 0x34, 0x00, 0x04, // checksum field (no C: carries no checksum), offset 4
	0x08, 0x00, 0x04, 0x08, // SRE: family IP, SRE offset 4, length 8
	0xc0, 0x00, 0x02, 0x01, // 192.0.2.1
	0xc0, 0x00, 0x02, 0x02, // 192.0.2.2
	0x00, 0x00, 0x00, 0x00, // NULL SRE
	0x45, // payload
}

func init() {
	// The checksum of vectorCKS: RFC 1071 over header and payload.
	var s uint32
	for i := 0; i < len(vectorCKS); i += 2 {
		s += uint32(vectorCKS[i])<<8 | uint32(vectorCKS[i+1])
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	c := ^uint16(s)
	vectorCKS[4], vectorCKS[5] = byte(c>>8), byte(c)
}

func TestParseCKS(t *testing.T) {
	h, err := gre.Decoder{VerifyChecksum: true}.Parse(vectorCKS)
	require.NoError(t, err)
	assert.Equal(t, uint8(0), h.Version())
	assert.Equal(t, gre.ProtoIPv4, h.Protocol())
	assert.Equal(t, 16, h.Len())
	assert.Equal(t, []byte{0xde, 0xad, 0xbe, 0xef}, h.Payload())
	assert.Equal(t, vectorCKS[:16], h.Bytes())
	assert.True(t, h.ChecksumPresent())
	assert.True(t, h.ChecksumValid())
	sum, ok := h.Checksum()
	assert.True(t, ok)
	assert.Equal(t, uint16(vectorCKS[4])<<8|uint16(vectorCKS[5]), sum)
	off, ok := h.Offset()
	assert.True(t, ok)
	assert.Zero(t, off)
	k, ok := h.Key()
	assert.True(t, ok)
	assert.Equal(t, gre.Key(1234), k)
	seq, ok := h.Seq()
	assert.True(t, ok)
	assert.Equal(t, uint32(7), seq)
	_, ok = h.Ack()
	assert.False(t, ok)
	it := h.Routing()
	assert.False(t, it.Next())
}

func TestParsePPTP(t *testing.T) {
	h, err := gre.Parse(vectorPPTP)
	require.NoError(t, err)
	assert.Equal(t, uint8(1), h.Version())
	assert.Equal(t, gre.ProtoPPP, h.Protocol())
	assert.Equal(t, uint16(4), h.PayloadLength())
	assert.Equal(t, uint16(0x1234), h.CallID())
	seq, ok := h.Seq()
	assert.True(t, ok)
	assert.Equal(t, uint32(34), seq)
	ack, ok := h.Ack()
	assert.True(t, ok)
	assert.Equal(t, uint32(17), ack)
	assert.Equal(t, 16, h.Len())
	assert.Len(t, h.Payload(), 4)
	_, ok = h.Checksum()
	assert.False(t, ok)

	// Ack-only packet (no S, no payload), as PPTP sends to acknowledge.
	ackOnly := []byte{0x20, 0x81, 0x88, 0x0b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05}
	h, err = gre.Parse(ackOnly)
	require.NoError(t, err)
	ack, ok = h.Ack()
	assert.True(t, ok)
	assert.Equal(t, uint32(5), ack)
	_, ok = h.Seq()
	assert.False(t, ok)
	assert.Empty(t, h.Payload())
}

func TestParseRouting(t *testing.T) {
	_, err := gre.Parse(vectorRouting)
	require.ErrorIs(t, err, gre.ErrReservedBits, "Linux rejects R")
	_, err = gre.Decoder{Mode: gre.ModeRFC2784}.Parse(vectorRouting)
	require.ErrorIs(t, err, gre.ErrReservedBits)

	h, err := gre.Decoder{Mode: gre.ModeRFC1701}.Parse(vectorRouting)
	require.NoError(t, err)
	assert.True(t, h.RoutingPresent())
	assert.True(t, h.StrictSourceRoute())
	assert.Equal(t, 24, h.Len())
	assert.Equal(t, []byte{0x45}, h.Payload())
	_, ok := h.Checksum()
	assert.False(t, ok, "R without C: the field is present but is no checksum")
	off, ok := h.Offset()
	assert.True(t, ok)
	assert.Equal(t, uint16(4), off)
	it := h.Routing()
	require.True(t, it.Next())
	sre := it.SRE()
	assert.Equal(t, uint16(gre.SREFamilyIP), sre.AddressFamily)
	assert.Equal(t, uint8(4), sre.Offset)
	assert.Equal(t, []byte{192, 0, 2, 1, 192, 0, 2, 2}, sre.Info)
	assert.False(t, it.Next())

	var f gre.Fields
	h.Fields(&f)
	assert.Equal(t, uint16(0x1234), f.Checksum)
	b := make([]byte, len(vectorRouting))
	copy(b[f.Len():], h.Payload())
	n, err := f.Encode(b)
	require.NoError(t, err)
	assert.Equal(t, 24, n)
	assert.Equal(t, vectorRouting, b)
}

func TestParseErrors(t *testing.T) {
	mod := func(src []byte, f func(b []byte)) []byte {
		b := append([]byte(nil), src...)
		f(b)
		return b
	}
	tests := []struct {
		name string
		mode gre.Mode
		b    []byte
		want error
	}{
		{"empty", gre.ModeLinux, nil, gre.ErrTruncated},
		{"3 bytes", gre.ModeLinux, []byte{0, 0, 8}, gre.ErrTruncated},
		{"C without room for checksum", gre.ModeLinux, []byte{0x80, 0, 8, 0, 0, 0}, gre.ErrTruncated},
		{"CKS cut in the sequence", gre.ModeLinux, vectorCKS[:14], gre.ErrTruncated},
		{"version 2", gre.ModeLinux, []byte{0, 2, 8, 0}, gre.ErrVersion},
		{"version 7", gre.ModeRFC1701, []byte{0, 7, 8, 0}, gre.ErrVersion},
		{"version 1 in RFC 2784 mode", gre.ModeRFC2784, vectorPPTP, gre.ErrVersion},
		{"R in Linux mode", gre.ModeLinux, vectorRouting, gre.ErrReservedBits},
		{"s in RFC 2784 mode", gre.ModeRFC2784, []byte{0x08, 0, 8, 0}, gre.ErrReservedBits},
		{"recursion MSB in RFC 2784 mode", gre.ModeRFC2784, []byte{0x04, 0, 8, 0}, gre.ErrReservedBits},
		{"v1 without K", gre.ModeLinux, mod(vectorPPTP, func(b []byte) { b[0] = 0x10 }), gre.ErrPPTP},
		{"v1 with C", gre.ModeLinux, mod(vectorPPTP, func(b []byte) { b[0] |= 0x80 }), gre.ErrPPTP},
		{"v1 with recursion", gre.ModeRFC1701, mod(vectorPPTP, func(b []byte) { b[0] |= 0x01 }), gre.ErrPPTP},
		{"v1 with reserved flag", gre.ModeRFC1701, mod(vectorPPTP, func(b []byte) { b[1] |= 0x08 }), gre.ErrPPTP},
		{"v1 protocol IPv4", gre.ModeLinux, mod(vectorPPTP, func(b []byte) { b[2], b[3] = 8, 0 }), gre.ErrPPTP},
		{"v1 cut in the ack", gre.ModeLinux, vectorPPTP[:14], gre.ErrTruncated},
		{"routing cut in an SRE", gre.ModeRFC1701, vectorRouting[:17], gre.ErrTruncated},
		{"routing without NULL SRE", gre.ModeRFC1701, vectorRouting[:20], gre.ErrTruncated},
		{"NULL SRE with an offset", gre.ModeRFC1701, mod(vectorRouting, func(b []byte) { b[22] = 1 }), gre.ErrRouting},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := gre.Decoder{Mode: tt.mode}.Parse(tt.b)
			require.ErrorIs(t, err, tt.want)
		})
	}
	_, err := gre.Parse(nil)
	assert.True(t, errors.Is(err, io.ErrUnexpectedEOF), "ErrTruncated matches io.ErrUnexpectedEOF")
}

func TestModesIgnoreBits(t *testing.T) {
	// s, recursion and reserved bits 8-12 (0x0800|0x0700|0x00f8): Linux ignores them all.
	b := []byte{0x0f, 0xf8, 0x86, 0xdd}
	h, err := gre.Parse(b)
	require.NoError(t, err)
	assert.Equal(t, uint8(7), h.Recursion())
	assert.Equal(t, uint8(31), h.Reserved())
	assert.True(t, h.StrictSourceRoute())
	_, ok := h.Ack()
	assert.False(t, ok, "0x0080 is a reserved bit in version 0, not A")
	assert.Equal(t, 4, h.Len())

	// RFC 2784 ignores bits 6-12: the two low recursion bits and bits 8-12.
	h, err = gre.Decoder{Mode: gre.ModeRFC2784}.Parse([]byte{0x03, 0xf8, 0x86, 0xdd})
	require.NoError(t, err)
	assert.Equal(t, uint8(3), h.Recursion())
}

func TestChecksumVerification(t *testing.T) {
	bad := append([]byte(nil), vectorCKS...)
	bad[len(bad)-1] ^= 0x01
	_, err := gre.Decoder{VerifyChecksum: true}.Parse(bad)
	require.ErrorIs(t, err, gre.ErrChecksum)
	h, err := gre.Parse(bad)
	require.NoError(t, err, "without VerifyChecksum a bad checksum parses")
	assert.False(t, h.ChecksumValid())

	h, err = gre.Parse([]byte{0, 0, 8, 0, 1})
	require.NoError(t, err)
	assert.False(t, h.ChecksumValid(), "no C bit: nothing to be valid")
}

func TestModeString(t *testing.T) {
	assert.Equal(t, "linux", gre.ModeLinux.String())
	assert.Equal(t, "rfc2784", gre.ModeRFC2784.String())
	assert.Equal(t, "rfc1701", gre.ModeRFC1701.String())
	assert.Equal(t, "IPv4", gre.ProtoIPv4.String())
	assert.Equal(t, "TEB", gre.ProtoTEB.String())
	assert.Equal(t, "0x8300", gre.Protocol(0x8300).String())
}
