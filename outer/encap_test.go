package outer_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/outer"
)

// TestPrependGRE shows the GRE use: an explicit protocol, a payload that
// is not an IP packet, and the inner fields passed separately.
func TestPrependGRE(t *testing.T) {
	e, err := outer.NewEncapsulator(outer.Config{Local: outer4Src, Remote: outer4Dst, InheritTOS: true})
	require.NoError(t, err)

	// gretap: the payload is a GRE header and an Ethernet frame; ttl
	// inherit falls back to DefaultTTL, the TOS to 0.
	b := make([]byte, 20+4+60)
	copy(b[20:], []byte{0x00, 0x00, 0x65, 0x58})
	start, err := e.Prepend(b, 20, outer.ProtoGRE, outer.Inner{})
	require.NoError(t, err)
	o, payload, err := outer.Parse(b[start:])
	require.NoError(t, err)
	assert.Equal(t, outer.ProtoGRE, o.Protocol)
	assert.Equal(t, uint8(outer.DefaultTTL), o.TTL)
	assert.Equal(t, uint8(0), o.TOS)
	assert.Equal(t, b[20:], payload)

	// GRE carrying IPv4: the inner fields come from the packet behind the
	// 4-byte GRE header.
	b = packet4(24, 60, 12, 0xb8|3, false)
	copy(b[20:], []byte{0x00, 0x00, 0x08, 0x00})
	in, err := outer.InnerOf(b[24:])
	require.NoError(t, err)
	assert.Equal(t, outer.Inner{Version: 4, TTL: 12, TOS: 0xb8 | 3}, in)
	start, err = e.Prepend(b, 20, outer.ProtoGRE, in)
	require.NoError(t, err)
	o, _, err = outer.Parse(b[start:])
	require.NoError(t, err)
	assert.Equal(t, uint8(12), o.TTL)
	assert.Equal(t, uint8(0xb8|2), o.TOS)

	_, err = e.Prepend(b, 20, outer.ProtoGRE, outer.Inner{Version: 4, TTL: 0})
	require.ErrorIs(t, err, outer.ErrInnerTTL)
}

// TestPrependTooLong: the largest outer packets, and one byte more.
func TestPrependTooLong(t *testing.T) {
	e4, err := outer.NewEncapsulator(outer.Config{Local: outer4Src, Remote: outer4Dst, TTL: 64})
	require.NoError(t, err)
	e6, err := outer.NewEncapsulator(outer.Config{Local: outer6Src, Remote: outer6Dst, TTL: 64})
	require.NoError(t, err)
	// IPv6 outer over a payload of more than 65535 bytes (only Prepend
	// can be given one: no inner IP packet is that long).
	_, err = e6.Prepend(make([]byte, 40+65536), 40, outer.ProtoGRE, outer.Inner{})
	require.ErrorIs(t, err, outer.ErrTooLong)
	start, err := e6.Prepend(make([]byte, 40+65535), 40, outer.ProtoGRE, outer.Inner{})
	require.NoError(t, err)
	assert.Zero(t, start)
	// The largest IPv4 outer packet.
	start, err = e4.Prepend(make([]byte, 65535), 20, outer.ProtoGRE, outer.Inner{})
	require.NoError(t, err)
	assert.Zero(t, start)
	_, err = e4.Prepend(make([]byte, 65536), 20, outer.ProtoGRE, outer.Inner{})
	require.ErrorIs(t, err, outer.ErrTooLong)
}

func TestConfigValidate(t *testing.T) {
	ok := outer.Config{Local: outer4Src, Remote: outer4Dst}
	ok6 := outer.Config{Local: outer6Src, Remote: outer6Dst}
	with := func(c outer.Config, f func(*outer.Config)) outer.Config { f(&c); return c }
	tests := []struct {
		name  string
		cfg   outer.Config
		err   error
		field string
		msg   string
	}{
		{"ipv4 defaults", ok, nil, "", ""},
		{"ipv6 defaults", ok6, nil, "", ""},
		{"all set", with(ok, func(c *outer.Config) { c.TTL = 255; c.TOS = 0xfc; c.ECN = outer.ECNCompat }), nil, "", ""},
		{"inherit + nopmtudisc", with(ok, func(c *outer.Config) { c.NoPMTUDisc = true; c.InheritTOS = true }), nil, "", ""},
		{"flow label", with(ok6, func(c *outer.Config) { c.FlowLabel = 0xfffff }), nil, "", ""},
		{"no local", outer.Config{Remote: outer4Dst}, outer.ErrConfigAddr, "local", "outer: local (none): local and remote must be specified addresses of one family"},
		{"unspecified local", outer.Config{Local: netip.IPv4Unspecified(), Remote: outer4Dst}, outer.ErrConfigAddr, "local", "outer: local 0.0.0.0: local and remote must be specified addresses of one family"},
		{"unspecified remote", outer.Config{Local: outer6Src, Remote: netip.IPv6Unspecified()}, outer.ErrConfigAddr, "remote", ""},
		{"multicast remote (broadcast GRE)", outer.Config{Local: outer4Src, Remote: netip.MustParseAddr("239.1.1.1")}, nil, "", ""},
		{"no remote", outer.Config{Local: outer4Src}, outer.ErrConfigAddr, "remote", ""},
		{"mixed families", outer.Config{Local: outer4Src, Remote: outer6Dst}, outer.ErrConfigAddr, "remote", ""},
		{"mapped local", outer.Config{Local: netip.AddrFrom16(outer4Src.As16()), Remote: outer6Dst}, outer.ErrConfigAddr, "local", ""},
		{"mapped remote", outer.Config{Local: outer6Src, Remote: netip.AddrFrom16(outer4Dst.As16())}, outer.ErrConfigAddr, "remote", ""},
		{"fixed ttl + nopmtudisc", with(ok, func(c *outer.Config) { c.TTL = 64; c.NoPMTUDisc = true }), outer.ErrConfigPMTUDisc, "ttl",
			"outer: ttl 64: a fixed ttl needs path MTU discovery (use ttl inherit with nopmtudisc)"},
		{"nopmtudisc over ipv6", with(ok6, func(c *outer.Config) { c.NoPMTUDisc = true }), outer.ErrConfigNoPMTUDisc6, "nopmtudisc", ""},
		{"tos with ECN bits", with(ok, func(c *outer.Config) { c.TOS = 0xb9 }), outer.ErrConfigTOS, "tos", "outer: tos 0xb9: tos must leave the ECN bits 0, and be 0 with inherit"},
		{"tos with inherit", with(ok, func(c *outer.Config) { c.TOS = 0xb8; c.InheritTOS = true }), outer.ErrConfigTOS, "tos", ""},
		{"flow label too wide", with(ok6, func(c *outer.Config) { c.FlowLabel = 0x100000 }), outer.ErrConfigFlowLabel, "flowlabel", ""},
		{"flow label over ipv4", with(ok, func(c *outer.Config) { c.FlowLabel = 1 }), outer.ErrConfigFlowLabel, "flowlabel", ""},
		{"ECN mode", with(ok, func(c *outer.Config) { c.ECN = 7 }), outer.ErrConfigECNMode, "ecn", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			_, nerr := outer.NewEncapsulator(tt.cfg)
			if tt.err == nil {
				require.NoError(t, err)
				require.NoError(t, nerr)
				return
			}
			require.ErrorIs(t, err, tt.err)
			require.ErrorIs(t, nerr, tt.err)
			var ce *outer.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.field, ce.Field)
			if tt.msg != "" {
				assert.Equal(t, tt.msg, err.Error())
			}
		})
	}
	e, err := outer.NewEncapsulator(ok6)
	require.NoError(t, err)
	assert.Equal(t, ok6, e.Config())
}
