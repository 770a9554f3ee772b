package gre_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap"
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
	h, err := gre.Decoder{}.Parse(vectorCKS)
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
		{"version 2", gre.ModeLinux, []byte{0, 2, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0}, gre.ErrVersion},
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
	// s, recursion and reserved bits 8-12 (0x0800|0x0700|0x00f8): Linux
	// over IPv6 (gre_parse_header alone) ignores them all. 8 bytes of
	// payload make the 12 bytes gre_rcv pulls over IPv4.
	b := []byte{0x0f, 0xf8, 0x86, 0xdd, 0x60, 0, 0, 0, 0, 0, 0, 0}
	h, err := gre.Decoder{OverIPv6: true}.Parse(b)
	require.NoError(t, err)
	assert.Equal(t, uint8(7), h.Recursion())
	assert.Equal(t, uint8(31), h.Reserved())
	assert.True(t, h.StrictSourceRoute())
	_, ok := h.Ack()
	assert.False(t, ok, "0x0080 is a reserved bit in version 0, not A")
	assert.Equal(t, 4, h.Len())

	// Over IPv4 gre_rcv drops bits 9-12 first; s, recursion and bit 8 pass.
	_, err = gre.Parse(b)
	require.ErrorIs(t, err, gre.ErrReservedBits)
	h, err = gre.Parse([]byte{0x0f, 0x80, 0x86, 0xdd, 0x60, 0, 0, 0, 0, 0, 0, 0})
	require.NoError(t, err)
	assert.Equal(t, uint8(16), h.Reserved())

	// RFC 2784 ignores bits 6-12: the two low recursion bits and bits 8-12.
	h, err = gre.Decoder{Mode: gre.ModeRFC2784}.Parse([]byte{0x03, 0xf8, 0x86, 0xdd})
	require.NoError(t, err)
	assert.Equal(t, uint8(3), h.Recursion())
}

// TestLinuxFlagBits sets each flag bit 1-12 of a version 0 header alone
// (bit n is 0x8000>>n; bit 0 is C, checked below) and checks ModeLinux
// against the kernel: over IPv4 gre_rcv drops the packet unless
// data[1]&0x7f, bits 9-15, is 0 or 1, so bits 9-12 drop it; over IPv6
// only gre_parse_header runs, which drops R and any version but 0 and
// ignores the rest.
func TestLinuxFlagBits(t *testing.T) {
	tests := []struct {
		bit        int
		name       string
		v4, v6     error // nil: accepted
		wantHdrLen int
	}{
		{1, "R", gre.ErrReservedBits, gre.ErrReservedBits, 0},
		{2, "K", nil, nil, 8},
		{3, "S", nil, nil, 8},
		{4, "s", nil, nil, 4},
		{5, "recursion 4", nil, nil, 4},
		{6, "recursion 2", nil, nil, 4},
		{7, "recursion 1", nil, nil, 4},
		{8, "bit 8 (A in version 1)", nil, nil, 4},
		{9, "reserved bit 9", gre.ErrReservedBits, nil, 4},
		{10, "reserved bit 10", gre.ErrReservedBits, nil, 4},
		{11, "reserved bit 11", gre.ErrReservedBits, nil, 4},
		{12, "reserved bit 12", gre.ErrReservedBits, nil, 4},
	}
	for _, tt := range tests {
		w := uint16(0x8000) >> tt.bit
		// The header word, protocol IPv4, then 8 bytes that hold a key or
		// sequence number (or payload) whichever the bit asks for.
		b := []byte{byte(w >> 8), byte(w), 0x08, 0x00, 0, 0, 0, 1, 0x45, 0, 0, 0}
		for _, over := range []struct {
			name string
			v6   bool
			want error
		}{{"IPv4", false, tt.v4}, {"IPv6", true, tt.v6}} {
			t.Run(fmt.Sprintf("bit %d %s over %s", tt.bit, tt.name, over.name), func(t *testing.T) {
				h, err := gre.Decoder{OverIPv6: over.v6}.Parse(b)
				if over.want != nil {
					require.ErrorIs(t, err, over.want)
					return
				}
				require.NoError(t, err)
				assert.Equal(t, w, h.FlagsVersion())
				assert.Equal(t, tt.wantHdrLen, h.Len())
			})
		}
	}

	// Version 1 (PPTP) goes to pptp.c over IPv4; gre_parse_header, all
	// that IPv6 has, rejects every version but 0.
	_, err := gre.Parse(vectorPPTP)
	require.NoError(t, err)
	_, err = gre.Decoder{OverIPv6: true}.Parse(vectorPPTP)
	require.ErrorIs(t, err, gre.ErrVersion)
	v1 := append([]byte(nil), vectorPPTP...)
	v1[1] |= 0x08 // reserved bit 12 in version 1: data[1]&0x7f is 9
	_, err = gre.Parse(v1)
	require.ErrorIs(t, err, gre.ErrReservedBits)
	_, err = gre.Decoder{Mode: gre.ModeRFC1701}.Parse(v1)
	require.ErrorIs(t, err, gre.ErrPPTP)

	// Bit 0, C: the checksum is verified over both unless NoVerifyChecksum.
	bad := append([]byte(nil), vectorCKS...)
	bad[len(bad)-1] ^= 0x01
	for _, v6 := range []bool{false, true} {
		_, err := gre.Decoder{OverIPv6: v6}.Parse(vectorCKS)
		require.NoError(t, err, "good checksum, IPv6 %v", v6)
		_, err = gre.Decoder{OverIPv6: v6}.Parse(bad)
		require.ErrorIs(t, err, gre.ErrChecksum, "bad checksum, IPv6 %v", v6)
		h, err := gre.Decoder{OverIPv6: v6, NoVerifyChecksum: true}.Parse(bad)
		require.NoError(t, err, "bad checksum with NoVerifyChecksum, IPv6 %v", v6)
		assert.False(t, h.ChecksumValid())
	}
}

// TestLinuxPacketLength checks the length rule of each receive path of
// today's Linux (issue 15 item 16). Over IPv4, gre_rcv
// (net/ipv4/gre_demux.c) drops the packet unless 12 bytes of GRE packet,
// header and payload together, are there ("if (!pskb_may_pull(skb, 12))
// goto drop;"), before it reads the version, whatever the flags say. Over
// IPv6, ip6_gre's gre_rcv (net/ipv6/ip6_gre.c) calls gre_parse_header
// alone, which pulls the 4-byte base header and then the header its flags
// ask for, nothing more. The RFC modes have no such rule. Keepalive
// replies (protocol 0) are ModeLinux's one exception (see gre.ModeLinux).
func TestLinuxPacketLength(t *testing.T) {
	v4, v6 := gre.Decoder{}, gre.Decoder{OverIPv6: true}
	rfc2784, rfc1701 := gre.Decoder{Mode: gre.ModeRFC2784}, gre.Decoder{Mode: gre.ModeRFC1701}
	k8 := []byte{
		0x20, 0x00, 0x08, 0x00, // K, version 0, protocol IPv4
		0x00, 0x00, 0x00, 0x01, // key 1; no payload: 8 bytes in all
	}
	plain := func(n int) []byte { // a plain header and n-4 bytes of payload
		b := make([]byte, n)
		b[2] = 0x08
		return b
	}
	pptp8 := []byte{
		0x20, 0x01, 0x88, 0x0b, // K, version 1, protocol PPP
		0x00, 0x00, 0x12, 0x34, // payload length 0, call ID 0x1234
	}
	tests := []struct {
		name    string
		d       gre.Decoder
		b       []byte
		want    error // nil: accepted
		wantLen int   // header length when accepted
	}{
		{"K without payload, 8 bytes, over IPv4", v4, k8, gre.ErrTruncated, 0},
		{"K without payload, 8 bytes, over IPv6", v6, k8, nil, 8},
		{"K without payload, 8 bytes, RFC 2784", rfc2784, k8, nil, 8},
		{"K without payload, 8 bytes, RFC 1701", rfc1701, k8, nil, 8},
		{"K without payload, checksum not verified, over IPv4", gre.Decoder{NoVerifyChecksum: true}, k8, gre.ErrTruncated, 0},
		{"plain, 4 bytes, over IPv4", v4, plain(4), gre.ErrTruncated, 0},
		{"plain, 11 bytes, over IPv4", v4, plain(11), gre.ErrTruncated, 0},
		{"plain, 12 bytes, over IPv4", v4, plain(12), nil, 4},
		{"plain, 4 bytes, over IPv6", v6, plain(4), nil, 4},
		{"plain, 4 bytes, RFC 2784", rfc2784, plain(4), nil, 4},
		{"CKS without payload, 16 bytes, over IPv4", v4, vectorCKS[:16], gre.ErrChecksum, 0}, // long enough; the checksum covered the payload
		{"version 2, 8 bytes, over IPv4: the length is checked first", v4, []byte{0, 2, 8, 0, 0, 0, 0, 0}, gre.ErrTruncated, 0},
		{"version 2, 8 bytes, over IPv6", v6, []byte{0, 2, 8, 0, 0, 0, 0, 0}, gre.ErrVersion, 0},
		{"R, 8 bytes, over IPv4", v4, []byte{0x40, 0, 8, 0, 0, 0, 0, 0}, gre.ErrTruncated, 0},
		{"PPTP K only, 8 bytes, over IPv4", v4, pptp8, gre.ErrTruncated, 0},
		{"PPTP K only, 8 bytes, RFC 1701", rfc1701, pptp8, nil, 8},
		{"PPTP ack only, 12 bytes, over IPv4", v4, []byte{0x20, 0x81, 0x88, 0x0b, 0, 0, 0, 1, 0, 0, 0, 5}, nil, 12},
		// ModeLinux's one exception: keepalive replies (protocol 0), which
		// a Linux keepalive sender reads from a raw socket, not gre_rcv.
		{"keepalive reply, 4 bytes, over IPv4", v4, []byte{0, 0, 0, 0}, nil, 4},
		{"keyed keepalive reply, 8 bytes, over IPv4", v4, []byte{0x20, 0, 0, 0, 0, 0, 0, 5}, nil, 8},
		{"keepalive reply cut in its key, over IPv4", v4, []byte{0x20, 0, 0, 0, 0, 0}, gre.ErrTruncated, 0},
		{"keepalive reply of version 2, over IPv4", v4, []byte{0, 2, 0, 0}, gre.ErrVersion, 0},
		{"keepalive reply with reserved bit 9, over IPv4", v4, []byte{0, 0x40, 0, 0}, gre.ErrReservedBits, 0},
		{"keepalive reply, 3 bytes, over IPv4", v4, []byte{0, 0, 0}, gre.ErrTruncated, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := tt.d.Parse(tt.b)
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantLen, h.Len())
			assert.Len(t, h.Packet(), len(tt.b))
		})
	}
}

// TestLinuxPPTPBits sets each flag bit of a version 1 header with K (and
// protocol PPP) alone and checks ModeLinux over IPv4 against today's
// pptp_rcv (drivers/net/ppp/pptp.c), which drops the packet when the
// protocol is not PPP, C or R is set, K is clear, or any of GRE_FLAGS
// (include/uapi/linux/if_tunnel.h: 0x0078, bits 9-12) is set; it no longer
// looks at s or recursion control (bits 4-7). gre_rcv drops bits 9-12
// before pptp_rcv runs (data[1]&0x7f is not 1), so those get
// ErrReservedBits. ModeRFC1701 keeps RFC 2637 §4.1, whose s and recursion
// are zero.
func TestLinuxPPTPBits(t *testing.T) {
	tests := []struct {
		bit          int
		name         string
		linux, rfc   error // nil: accepted
		wantLinuxLen int
	}{
		{0, "C", gre.ErrPPTP, gre.ErrPPTP, 0},
		{1, "R", gre.ErrPPTP, gre.ErrPPTP, 0},
		{2, "K cleared", gre.ErrPPTP, gre.ErrPPTP, 0},
		{3, "S", nil, nil, 12},
		{4, "s", nil, gre.ErrPPTP, 8},
		{5, "recursion 4", nil, gre.ErrPPTP, 8},
		{6, "recursion 2", nil, gre.ErrPPTP, 8},
		{7, "recursion 1", nil, gre.ErrPPTP, 8},
		{8, "A", nil, nil, 12},
		{9, "reserved bit 9", gre.ErrReservedBits, gre.ErrPPTP, 0},
		{12, "reserved bit 12", gre.ErrReservedBits, gre.ErrPPTP, 0},
	}
	for _, tt := range tests {
		// K and version 1, protocol PPP, the key (payload length 4, call
		// ID 1), then 8 bytes for a sequence or acknowledgment number
		// (or payload) whichever the bit asks for.
		w := uint16(gre.FlagKey|1) ^ uint16(0x8000)>>tt.bit
		b := []byte{byte(w >> 8), byte(w), 0x88, 0x0b, 0, 4, 0, 1, 0, 0, 0, 1, 0xff, 0x03, 0x00, 0x21}
		for _, m := range []struct {
			name string
			d    gre.Decoder
			want error
		}{{"linux", gre.Decoder{}, tt.linux}, {"rfc1701", gre.Decoder{Mode: gre.ModeRFC1701}, tt.rfc}} {
			t.Run(fmt.Sprintf("bit %d %s %s", tt.bit, tt.name, m.name), func(t *testing.T) {
				h, err := m.d.Parse(b)
				if m.want != nil {
					require.ErrorIs(t, err, m.want)
					return
				}
				require.NoError(t, err)
				assert.Equal(t, w, h.FlagsVersion())
				assert.Equal(t, uint8(1), h.Version())
				if m.name == "linux" {
					assert.Equal(t, tt.wantLinuxLen, h.Len())
				}
			})
		}
	}

	// Every s and recursion value together, as today's Linux takes them,
	// with S and A: the header and accessors as for any PPTP header.
	b := append([]byte(nil), vectorPPTP...)
	b[0] |= 0x0f // s, recursion 7
	h, err := gre.Parse(b)
	require.NoError(t, err)
	assert.True(t, h.StrictSourceRoute())
	assert.Equal(t, uint8(7), h.Recursion())
	assert.Equal(t, 16, h.Len())
	ack, ok := h.Ack()
	assert.True(t, ok)
	assert.Equal(t, uint32(17), ack)
	assert.Equal(t, uint16(0x1234), h.CallID())
	_, err = gre.Decoder{OverIPv6: true}.Parse(b)
	require.ErrorIs(t, err, gre.ErrVersion, "ip6_gre has no version 1")
	_, err = gre.Decoder{Mode: gre.ModeRFC2784}.Parse(b)
	require.ErrorIs(t, err, gre.ErrVersion)
}

func TestUnknownModeFailsClosed(t *testing.T) {
	for _, m := range []gre.Mode{3, 4, 128, 255} {
		for _, b := range [][]byte{vectorCKS, vectorPPTP, vectorRouting, {0, 0, 8, 0}, nil} {
			for _, v6 := range []bool{false, true} {
				_, err := gre.Decoder{Mode: m, OverIPv6: v6, NoVerifyChecksum: true}.Parse(b)
				require.ErrorIs(t, err, gre.ErrMode, "mode %d, %x", m, b)
				require.ErrorIs(t, err, ipencap.ErrFrame)
			}
		}
		assert.Equal(t, fmt.Sprintf("mode(%04x)", uint8(m)), m.String())
	}
}

// callAccessors calls every exported method of h, those without arguments
// found by reflection (so a new accessor is covered the day it is added),
// plus Fields, and walks the SRE iterator to its end.
func callAccessors(t *testing.T, h gre.Header) {
	t.Helper()
	v := reflect.ValueOf(h)
	typ := v.Type()
	called := 0
	for i := range typ.NumMethod() {
		m := typ.Method(i)
		switch m.Type.NumIn() {
		case 1: // the receiver only
			v.Method(i).Call(nil)
			called++
		case 2:
			if m.Name == "Fields" {
				var f gre.Fields
				h.Fields(&f)
				called++
				continue
			}
			t.Fatalf("Header.%s takes an argument this test does not know", m.Name)
		}
	}
	require.Greater(t, called, 20, "accessors called")
	it := h.Routing()
	for it.Next() {
		_ = it.SRE()
	}
}

func TestZeroHeader(t *testing.T) {
	var h gre.Header
	require.NotPanics(t, func() { callAccessors(t, h) })
	assert.Zero(t, h.Len())
	assert.Zero(t, h.FlagsVersion())
	assert.Zero(t, h.Version())
	assert.Zero(t, h.Protocol())
	assert.Empty(t, h.Bytes())
	assert.Empty(t, h.Payload())
	assert.Empty(t, h.Packet())
	assert.False(t, h.ChecksumPresent())
	assert.False(t, h.ChecksumValid())
	assert.False(t, h.RoutingPresent())
	for _, get := range []func() (uint32, bool){
		func() (uint32, bool) { k, ok := h.Key(); return uint32(k), ok },
		h.Seq, h.Ack,
		func() (uint32, bool) { c, ok := h.Checksum(); return uint32(c), ok },
		func() (uint32, bool) { o, ok := h.Offset(); return uint32(o), ok },
	} {
		v, ok := get()
		assert.Zero(t, v)
		assert.False(t, ok)
	}
	it := h.Routing()
	assert.False(t, it.Next())
	f := gre.Fields{KeyPresent: true, Key: 9, Routing: make([]gre.SRE, 1, 2)}
	h.Fields(&f)
	assert.Equal(t, gre.Fields{Routing: f.Routing[:0]}, f)
	assert.False(t, gre.IsKeepalive(h), "the zero Header is not a parsed keepalive")
}

// TestHeaderAfterMutation changes the packet bytes after Parse, as a caller
// reusing its buffer might, and calls every accessor: they keep to the
// flags word Parse validated and never panic.
func TestHeaderAfterMutation(t *testing.T) {
	// The short packets are parsed as over IPv6, where Linux wants no
	// more than the header (over IPv4 gre_rcv wants 12 bytes).
	v6 := gre.Decoder{OverIPv6: true}
	inputs := []struct {
		name string
		d    gre.Decoder
		b    []byte
	}{
		{"plain", v6, []byte{0, 0, 8, 0}},
		{"plain with payload", v6, []byte{0, 0, 8, 0, 0x45, 0}},
		{"K", v6, []byte{0x20, 0, 8, 0, 0, 0, 0, 1}},
		{"CKS", gre.Decoder{}, vectorCKS},
		{"PPTP", gre.Decoder{}, vectorPPTP},
		{"routing", gre.Decoder{Mode: gre.ModeRFC1701}, vectorRouting},
	}
	mutations := []struct {
		name string
		fn   func(b []byte)
	}{
		{"every flag and version 1", func(b []byte) { b[0], b[1] = 0xff, 0x81 }},
		{"C R K S A", func(b []byte) { b[0], b[1] = 0xf0, 0x81 }},
		{"all ones", func(b []byte) {
			for i := range b {
				b[i] = 0xff
			}
		}},
		{"all zeros", func(b []byte) { clear(b) }},
		{"SRE length past the end", func(b []byte) {
			if len(b) > 11 {
				b[11] = 0xff
			}
		}},
	}
	for _, in := range inputs {
		for _, mu := range mutations {
			t.Run(in.name+"/"+mu.name, func(t *testing.T) {
				b := append([]byte(nil), in.b...)
				h, err := in.d.Parse(b)
				require.NoError(t, err)
				word := binary.BigEndian.Uint16(in.b)
				_, hadKey := h.Key()
				mu.fn(b)
				require.NotPanics(t, func() { callAccessors(t, h) })
				assert.Equal(t, word, h.FlagsVersion(), "the word Parse validated")
				_, hasKey := h.Key()
				assert.Equal(t, hadKey, hasKey, "K as validated")
				assert.Equal(t, len(in.b)-h.Len(), len(h.Payload()))
			})
		}
	}
}

func TestChecksumVerification(t *testing.T) {
	bad := append([]byte(nil), vectorCKS...)
	bad[len(bad)-1] ^= 0x01
	_, err := gre.Parse(bad)
	require.ErrorIs(t, err, gre.ErrChecksum, "verified by default")
	h, err := gre.Decoder{NoVerifyChecksum: true}.Parse(bad)
	require.NoError(t, err, "with NoVerifyChecksum a bad checksum parses")
	assert.False(t, h.ChecksumValid())

	h, err = gre.Parse([]byte{0, 0, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0})
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
