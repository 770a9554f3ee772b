package iphdr

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A captured IPv4 header: 192.0.2.1 > 198.51.100.2, proto 47, TTL 255, DF, ID 0x1234.
var v4vector = []byte{
	0x45, 0xb8, 0x00, 0x1c, // version 4, IHL 5, TOS 0xb8 (EF), total length 28
	0x12, 0x34, 0x40, 0x00, // ID 0x1234, DF, offset 0
	0xff, 0x2f, 0x7c, 0x8f, // TTL 255, protocol 47, checksum 0x7c8f
	0xc0, 0x00, 0x02, 0x01, // 192.0.2.1
	0xc6, 0x33, 0x64, 0x02, // 198.51.100.2
	0, 0, 0, 0, 0, 0, 0, 0, // payload
	0xee, 0xee, // link padding beyond total length
}

func TestIPv4EncodeAndRead(t *testing.T) {
	b := make([]byte, len(v4vector))
	copy(b[20:], v4vector[20:])
	f := IPv4Fields{TOS: 0xb8, TotalLen: 28, ID: 0x1234, FlagsFragOff: IPv4FlagDF, TTL: 255, Protocol: 47,
		Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("198.51.100.2")}
	IPv4(b).Encode(&f)
	assert.Equal(t, v4vector, b)

	h, err := CheckIPv4(b, true)
	require.NoError(t, err)
	assert.Equal(t, uint8(4), h.Version())
	assert.Equal(t, 20, h.HeaderLen())
	assert.Equal(t, uint8(0xb8), h.TOS())
	assert.Equal(t, uint16(28), h.TotalLen())
	assert.Equal(t, uint16(0x1234), h.ID())
	assert.True(t, h.DF())
	assert.False(t, h.MF())
	assert.False(t, h.IsFragment())
	assert.Equal(t, uint16(0), h.FragOff())
	assert.Equal(t, uint8(255), h.TTL())
	assert.Equal(t, uint8(47), h.Protocol())
	assert.Equal(t, f.Src, h.Src())
	assert.Equal(t, f.Dst, h.Dst())
	assert.Equal(t, [4]byte{192, 0, 2, 1}, h.Src4())
	assert.Equal(t, [4]byte{198, 51, 100, 2}, h.Dst4())
	assert.Len(t, h.Payload(), 8)
	assert.Empty(t, h.Options())
	assert.True(t, h.ChecksumValid())
}

func TestIPv4Setters(t *testing.T) {
	b := make([]byte, 24)
	h := IPv4(b)
	h.SetVersionIHL(24)
	h.SetTOS(3)
	h.SetTotalLen(24)
	h.SetID(7)
	h.SetFlagsFragOff(IPv4FlagMF | 5)
	h.SetTTL(9)
	h.SetProtocol(4)
	h.SetSrc(netip.MustParseAddr("203.0.113.9"))
	h.SetDst(netip.MustParseAddr("203.0.113.10"))
	copy(h.Options(), []byte{1, 1, 1, 0}) // NOP NOP NOP EOL
	h.ComputeChecksum()
	_, err := CheckIPv4(b, true)
	require.NoError(t, err)
	assert.Equal(t, 24, h.HeaderLen())
	assert.True(t, h.IsFragment())
	assert.Equal(t, uint16(5), h.FragOff())
	assert.Equal(t, []byte{1, 1, 1, 0}, h.Options())
	h.SetTTL(8)
	_, err = CheckIPv4(b, true)
	require.ErrorIs(t, err, ErrChecksum)
	_, err = CheckIPv4(b, false)
	require.NoError(t, err)
}

func TestCheckIPv4Errors(t *testing.T) {
	good := v4vector
	mod := func(f func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		f(b)
		return b
	}
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"19 bytes", good[:19], ErrTruncated},
		{"version 6", mod(func(b []byte) { b[0] = 0x65 }), ErrVersion},
		{"IHL 4", mod(func(b []byte) { b[0] = 0x44 }), ErrHeaderLen},
		{"IHL beyond buffer", mod(func(b []byte) { b[0] = 0x4f }), ErrTruncated},
		{"total length below header", mod(func(b []byte) { b[3] = 19 }), ErrHeaderLen},
		{"total length beyond buffer", mod(func(b []byte) { b[3] = 200 }), ErrTruncated},
		{"bad checksum", mod(func(b []byte) { b[11] ^= 1 }), ErrChecksum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CheckIPv4(tt.b, true)
			require.ErrorIs(t, err, tt.want)
		})
	}
}

func TestIPv6(t *testing.T) {
	b := make([]byte, IPv6Len+8+3)
	f := IPv6Fields{TrafficClass: 0xb9, FlowLabel: 0xabcde, PayloadLen: 8, NextHeader: 41, HopLimit: 64,
		Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2")}
	IPv6(b).Encode(&f)
	assert.Equal(t, []byte{0x6b, 0x9a, 0xbc, 0xde, 0x00, 0x08, 41, 64}, b[:8])
	h, err := CheckIPv6(b)
	require.NoError(t, err)
	assert.Equal(t, uint8(6), h.Version())
	assert.Equal(t, uint8(0xb9), h.TrafficClass())
	assert.Equal(t, uint32(0xabcde), h.FlowLabel())
	assert.Equal(t, uint16(8), h.PayloadLen())
	assert.Equal(t, uint8(41), h.NextHeader())
	assert.Equal(t, uint8(64), h.HopLimit())
	assert.Equal(t, f.Src, h.Src())
	assert.Equal(t, f.Dst, h.Dst())
	assert.Len(t, h.Payload(), 8)
	h.SetTrafficClass(0x02)
	assert.Equal(t, uint8(0x02), h.TrafficClass())
	assert.Equal(t, uint32(0xabcde), h.FlowLabel())
	assert.Equal(t, uint8(6), h.Version())
	h.SetHopLimit(1)
	h.SetNextHeader(4)
	assert.Equal(t, uint8(1), h.HopLimit())
	assert.Equal(t, uint8(4), h.NextHeader())

	_, err = CheckIPv6(b[:39])
	require.ErrorIs(t, err, ErrTruncated)
	h.SetPayloadLen(12)
	_, err = CheckIPv6(b)
	require.ErrorIs(t, err, ErrTruncated)
	b[0] = 0x45
	_, err = CheckIPv6(b)
	require.ErrorIs(t, err, ErrVersion)
}

func TestAllocs(t *testing.T) {
	b4 := append([]byte(nil), v4vector...)
	b6 := make([]byte, IPv6Len)
	f4 := IPv4Fields{TotalLen: 20, TTL: 1, Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.2")}
	f6 := IPv6Fields{Src: netip.MustParseAddr("2001:db8::1"), Dst: netip.MustParseAddr("2001:db8::2")}
	var sink netip.Addr
	n := testing.AllocsPerRun(1000, func() {
		h, _ := CheckIPv4(b4, true)
		sink = h.Src()
		sink = h.Dst()
		_, _ = CheckIPv4(b4[:3], true) // error path
		h6 := IPv6(b6)
		h6.Encode(&f6)
		sink = h6.Src()
		_, _ = CheckIPv6(b6)
		IPv4(make4(b4)).Encode(&f4)
	})
	_ = sink
	require.Zero(t, n)
}

func make4(b []byte) []byte { return b[:20:20] }
