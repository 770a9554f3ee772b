package ipip_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/iphdr"
	"github.com/ipencap/ipencap/ipip"
	"github.com/ipencap/ipencap/outer"
)

// tunnelKind is one of the four outer/inner combinations.
type tunnelKind struct {
	name          string
	local, remote netip.Addr
	proto         outer.IPProto
	// inner returns headroom bytes and an inner packet of n bytes with
	// the given TTL and TOS (DF clear).
	inner func(headroom, n int, ttl, tos uint8) []byte
}

func inner4(headroom, n int, ttl, tos uint8) []byte { return packet4(headroom, n, ttl, tos, false) }

var tunnelKinds = []tunnelKind{
	{"4in4", outer4Src, outer4Dst, outer.ProtoIPIP, inner4},
	{"6in4", outer4Src, outer4Dst, outer.ProtoIPv6, packet6},
	{"4in6", outer6Src, outer6Dst, outer.ProtoIPIP, inner4},
	{"6in6", outer6Src, outer6Dst, outer.ProtoIPv6, packet6},
}

// TestEncapVector4in4 checks the outer header byte for byte. The ID comes
// from a counter with a random start, so it is read back, checked to be
// nonzero, and zeroed (with the checksum fixed) before the comparison.
func TestEncapVector4in4(t *testing.T) {
	e, err := ipip.NewEncapsulator(ipip.Config{Local: outer4Src, Remote: outer4Dst, TTL: 64})
	require.NoError(t, err)
	b := packet4(20, 40, 9, 0x00, false)
	inner := append([]byte(nil), b[20:]...)
	start, err := e.Encap(b, 20)
	require.NoError(t, err)
	require.Equal(t, 0, start)
	h := iphdr.IPv4(b)
	assert.True(t, h.ChecksumValid())
	assert.NotZero(t, h.ID())
	h.SetID(0)
	h.ComputeChecksum()
	assert.Equal(t, []byte{
		0x45, 0x00, 0x00, 0x3c, // version 4, IHL 5, TOS 0, total length 60
		0x00, 0x00, 0x40, 0x00, // ID (zeroed here), DF, offset 0
		0x40, 0x04, 0x4e, 0x82, // TTL 64, protocol 4, checksum (for ID 0)
		0xc0, 0x00, 0x02, 0x01, // 192.0.2.1
		0xc6, 0x33, 0x64, 0x07, // 198.51.100.7
	}, b[:20])
	assert.Equal(t, inner, b[20:], "inner packet untouched")
}

func TestEncapVector6in6(t *testing.T) {
	e, err := ipip.NewEncapsulator(ipip.Config{Local: outer6Src, Remote: outer6Dst, TTL: 255, TOS: 0xb8,
		FlowLabel: 0xabcde})
	require.NoError(t, err)
	b := packet6(40, 48, 9, 0x01) // inner ECT(1)
	start, err := e.Encap(b, 40)
	require.NoError(t, err)
	require.Equal(t, 0, start)
	assert.Equal(t, []byte{
		0x6b, 0x9a, 0xbc, 0xde, // version 6, traffic class 0xb9 (EF + ECT(1)), flow label 0xabcde
		0x00, 0x30, 0x29, 0xff, // payload length 48, next header 41, hop limit 255
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // 2001:db8::1
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07, // 2001:db8::7
	}, b[:40])
}

// TestEncapDecapKinds encapsulates and decapsulates in all four
// combinations, for several sizes and headroom larger than needed.
func TestEncapDecapKinds(t *testing.T) {
	for _, kind := range tunnelKinds {
		for _, n := range []int{48, 64, 1400} {
			t.Run(fmt.Sprintf("%s/%d", kind.name, n), func(t *testing.T) {
				e, err := ipip.NewEncapsulator(ipip.Config{Local: kind.local, Remote: kind.remote})
				require.NoError(t, err)
				const headroom = 64
				b := kind.inner(headroom, n, 33, 0x20)
				orig := append([]byte(nil), b[headroom:]...)
				start, err := e.Encap(b, headroom)
				require.NoError(t, err)
				assert.Equal(t, headroom-e.Overhead(), start)

				inner, o, err := decap(b[start:])
				require.NoError(t, err)
				assert.Equal(t, orig, inner)
				assert.Equal(t, &b[headroom], &inner[0], "inner is a sub-slice, not a copy")
				assert.Equal(t, outer.Outer{Src: kind.local, Dst: kind.remote, TTL: 33, TOS: 0x00,
					Protocol: kind.proto, HeaderLen: e.Overhead(), Len: len(b) - start}, o)
			})
		}
	}
}

// TestEncapRules covers the TTL, TOS, ECN and DF rules.
func TestEncapRules(t *testing.T) {
	type want struct {
		ttl, tos uint8
		df       bool
	}
	tests := []struct {
		name string
		cfg  ipip.Config
		v6   bool // inner IPv6 instead of IPv4
		ttl  uint8
		tos  uint8
		df   bool
		want want
	}{
		{name: "defaults: ttl inherit, tos 0, DF forced", ttl: 17, tos: 0xb8, want: want{17, 0x00, true}},
		{name: "inherit ttl 1 passes 1 on (the OSPF trap)", ttl: 1, want: want{1, 0, true}},
		{name: "fixed ttl", cfg: ipip.Config{TTL: 255}, ttl: 1, want: want{255, 0, true}},
		{name: "fixed tos", cfg: ipip.Config{TOS: 0x28}, ttl: 5, tos: 0xb8, want: want{5, 0x28, true}},
		{name: "inherit tos", cfg: ipip.Config{InheritTOS: true}, ttl: 5, tos: 0xb8, want: want{5, 0xb8, true}},
		{name: "inherit tos ipv6", cfg: ipip.Config{InheritTOS: true}, v6: true, ttl: 5, tos: 0x48, want: want{5, 0x48, true}},
		{name: "ECN ECT(0) copied", cfg: ipip.Config{TOS: 0x28}, ttl: 5, tos: 0xb8 | 2, want: want{5, 0x28 | 2, true}},
		{name: "ECN ECT(1) copied", cfg: ipip.Config{InheritTOS: true}, ttl: 5, tos: 0xb8 | 1, want: want{5, 0xb8 | 1, true}},
		{name: "ECN CE becomes ECT(0)", cfg: ipip.Config{InheritTOS: true}, ttl: 5, tos: 0xb8 | 3, want: want{5, 0xb8 | 2, true}},
		{name: "ECN CE becomes ECT(0) ipv6", v6: true, ttl: 5, tos: 3, want: want{5, 2, true}},
		{name: "ECN compat sends Not-ECT", cfg: ipip.Config{InheritTOS: true, ECN: outer.ECNCompat}, ttl: 5, tos: 0xb8 | 3,
			want: want{5, 0xb8, true}},
		{name: "pmtudisc forces DF over inner DF clear", ttl: 5, df: false, want: want{5, 0, true}},
		{name: "nopmtudisc copies inner DF set", cfg: ipip.Config{NoPMTUDisc: true}, ttl: 5, df: true, want: want{5, 0, true}},
		{name: "nopmtudisc copies inner DF clear", cfg: ipip.Config{NoPMTUDisc: true}, ttl: 5, df: false, want: want{5, 0, false}},
		{name: "nopmtudisc clears DF for ipv6 inner", cfg: ipip.Config{NoPMTUDisc: true}, v6: true, ttl: 5, want: want{5, 0, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Local, cfg.Remote = outer4Src, outer4Dst
			e, err := ipip.NewEncapsulator(cfg)
			require.NoError(t, err)
			var b []byte
			if tt.v6 {
				b = packet6(20, 60, tt.ttl, tt.tos)
			} else {
				b = packet4(20, 60, tt.ttl, tt.tos, tt.df)
			}
			start, err := e.Encap(b, 20)
			require.NoError(t, err)
			h := iphdr.IPv4(b[start:])
			assert.Equal(t, tt.want, want{h.TTL(), h.TOS(), h.DF()})
			assert.False(t, h.IsFragment())
			assert.True(t, h.ChecksumValid())

			if tt.v6 || tt.cfg.NoPMTUDisc {
				return
			}
			// The same rules over an IPv6 outer header (no DF there).
			cfg.Local, cfg.Remote = outer6Src, outer6Dst
			e, err = ipip.NewEncapsulator(cfg)
			require.NoError(t, err)
			b = packet4(40, 60, tt.ttl, tt.tos, tt.df)
			start, err = e.Encap(b, 40)
			require.NoError(t, err)
			h6 := iphdr.IPv6(b[start:])
			assert.Equal(t, tt.want.ttl, h6.HopLimit())
			assert.Equal(t, tt.want.tos, h6.TrafficClass())
		})
	}
}

func TestEncapErrors(t *testing.T) {
	e4, err := ipip.NewEncapsulator(ipip.Config{Local: outer4Src, Remote: outer4Dst, TTL: 64})
	require.NoError(t, err)
	e6, err := ipip.NewEncapsulator(ipip.Config{Local: outer6Src, Remote: outer6Dst, TTL: 64})
	require.NoError(t, err)

	mutate := func(f func(p []byte)) []byte {
		b := packet4(40, 60, 64, 0, false)
		f(b[40:])
		return b
	}
	tests := []struct {
		name string
		e    *ipip.Encapsulator
		b    []byte
		off  int
		err  error
	}{
		{"no headroom", e4, packet4(19, 60, 64, 0, false), 19, outer.ErrShortBuffer},
		{"no headroom ipv6", e6, packet4(39, 60, 64, 0, false), 39, outer.ErrShortBuffer},
		{"negative offset", e4, packet4(0, 60, 64, 0, false), -1, outer.ErrShortBuffer},
		{"offset past the end", e4, packet4(20, 60, 64, 0, false), 81, outer.ErrShortBuffer},
		{"empty inner", e4, make([]byte, 20), 20, outer.ErrInnerTruncated},
		{"inner shorter than its header", e4, packet4(40, 60, 64, 0, false)[:50], 40, outer.ErrInnerTruncated},
		{"inner shorter than its total length", e4, packet4(40, 60, 64, 0, false)[:99], 40, outer.ErrInnerTruncated},
		{"inner longer than its total length", e4, append(packet4(40, 60, 64, 0, false), 0), 40, outer.ErrInnerLength},
		{"ipv6 inner longer than its payload length", e4, append(packet6(40, 60, 64, 0), 0), 40, outer.ErrInnerLength},
		{"ipv6 inner truncated", e4, packet6(40, 60, 64, 0)[:99], 40, outer.ErrInnerTruncated},
		{"inner version 5", e4, mutate(func(p []byte) { p[0] = 0x55 }), 40, outer.ErrInnerVersion},
		{"inner IHL 4", e4, mutate(func(p []byte) { p[0] = 0x44 }), 40, outer.ErrInnerHeaderLen},
		{"inner total length below IHL", e4, mutate(func(p []byte) { iphdr.IPv4(p).SetTotalLen(19) }), 40, outer.ErrInnerHeaderLen},
		{"inner TTL 0", e4, packet4(40, 60, 0, 0, false), 40, outer.ErrInnerTTL},
		{"inner hop limit 0", e6, packet6(40, 60, 0, 0), 40, outer.ErrInnerTTL},
		{"ipv4 outer over 65535", e4, packet6(20, 65535-20+1, 64, 0), 20, outer.ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := append([]byte(nil), tt.b...)
			_, err := tt.e.Encap(tt.b, tt.off)
			require.ErrorIs(t, err, tt.err)
			assert.True(t, bytes.Equal(orig, tt.b), "buffer untouched on error")
		})
	}

}

// TestIDCounter checks that IDs run on by one and that concurrent senders
// never share one (run it with -race).
func TestIDCounter(t *testing.T) {
	e, err := ipip.NewEncapsulator(ipip.Config{Local: outer4Src, Remote: outer4Dst, TTL: 64})
	require.NoError(t, err)
	id := func() uint16 {
		b := packet4(20, 40, 64, 0, false)
		_, err := e.Encap(b, 20)
		require.NoError(t, err)
		return iphdr.IPv4(b).ID()
	}
	first := id()
	second := id()
	if first != 0xffff {
		assert.Equal(t, first+1, second)
	} else {
		assert.Equal(t, uint16(1), second, "0 is skipped")
	}

	const workers, each = 8, 1000
	ids := make([][]uint16, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := packet4(20, 40, 64, 0, false)
			for range each {
				if _, err := e.Encap(b, 20); err != nil {
					t.Error(err)
					return
				}
				ids[w] = append(ids[w], iphdr.IPv4(b).ID())
			}
		}()
	}
	wg.Wait()
	seen := make(map[uint16]bool, workers*each)
	for _, l := range ids {
		for _, id := range l {
			assert.NotZero(t, id)
			assert.False(t, seen[id], "ID %d used twice", id)
			seen[id] = true
		}
	}
	assert.Len(t, seen, workers*each)
}

// TestEncapChecksum compares the checksum Encap derives from its template
// with a full RFC 1071 computation, over every TTL, many TOS values and
// IDs (the counter runs on through the loop), and both DF settings.
func TestEncapChecksum(t *testing.T) {
	for _, nopmtu := range []bool{false, true} {
		e, err := ipip.NewEncapsulator(ipip.Config{Local: outer4Src, Remote: outer4Dst, InheritTOS: true, NoPMTUDisc: nopmtu})
		require.NoError(t, err)
		for ttl := 1; ttl < 256; ttl++ {
			for tos := 0; tos < 256; tos += 5 {
				b := packet4(20, 20+ttl, uint8(ttl), uint8(tos), tos&1 != 0)
				_, err := e.Encap(b, 20)
				require.NoError(t, err)
				got := iphdr.IPv4(b).Checksum()
				iphdr.IPv4(b).ComputeChecksum()
				require.Equal(t, iphdr.IPv4(b).Checksum(), got, "ttl %d tos %#x", ttl, tos)
			}
		}
	}
}
