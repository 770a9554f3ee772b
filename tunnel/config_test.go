package tunnel_test

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/outer"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/tunneltest"
)

// cfgKey returns key k, present, for Config.IKey and OKey.
func cfgKey(k uint32) tunnel.Key { return tunnel.KeyOf(gre.Key(k)) }

// TestValidate runs Config.Validate over one configuration per refusal
// (and a few accepted ones), checking the sentinel with errors.Is and the
// tunnel, option and value with errors.As.
func TestValidate(t *testing.T) {
	mapped4 := netip.MustParseAddr("::ffff:192.0.2.1")
	mapped4r := netip.MustParseAddr("::ffff:198.51.100.2")
	tests := []struct {
		name  string
		cfg   tunnel.Config
		err   error  // nil: accepted
		field string // ConfigError.Field
		value string // ConfigError.Value
	}{
		// Accepted.
		{name: "gre plain", cfg: tunnel.Config{Name: "gre1", Mode: tunnel.ModeGRE, Local: end1v4, Remote: end2v4}},
		{name: "gre every option", cfg: tunnel.Config{Name: "gre1", Mode: tunnel.ModeGRE, Local: end1v4, Remote: end2v4,
			IKey: cfgKey(5), OKey: cfgKey(6), ICsum: true, OCsum: true, ISeq: true, OSeq: true,
			Seq: tunnel.SeqConfig{Reorder: 8, ReorderWait: 50 * time.Millisecond, Resync: 3}, TTL: 255, TOS: 0x28, MTU: 1400, Link: "wire"}},
		{name: "wildcards", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeIPIP}},
		{name: "unspecified addresses", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeSIT, Local: netip.IPv4Unspecified(), Remote: netip.IPv4Unspecified()}},
		{name: "ip6gre v6", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeIP6GRE, Local: end1v6, Remote: end2v6, IKey: cfgKey(0)}},
		{name: "gretap over v6", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeGRETap, Local: end1v6, Remote: end2v6}},
		{name: "gretap over v4", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeGRETap, Local: end1v4, Remote: end2v4}},
		{name: "gre-in-udp over v6", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeGREInUDP, Remote: end2v6, Port: 4755}},
		{name: "nopmtudisc with ttl inherit", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, NoPMTUDisc: true, InheritTOS: true}},
		{name: "fallback", cfg: tunnel.Config{Name: "gre0", Mode: tunnel.ModeGRE, Fallback: true, OKey: cfgKey(1)}},
		{name: "reorder at the bound", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, ISeq: true, Seq: tunnel.SeqConfig{Reorder: gre.MaxReorderPackets, ReorderWait: gre.MaxReorderWait}}},
		{name: "mtu at the bound", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, MTU: 65535}},

		// Name and mode.
		{name: "empty name", cfg: tunnel.Config{Mode: tunnel.ModeGRE}, err: tunnel.ErrConfigName, field: "name", value: `""`},
		{name: "mode 0", cfg: tunnel.Config{Name: "t"}, err: tunnel.ErrConfigMode, field: "mode", value: "mode(0)"},
		{name: "mode out of range", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeGREInUDP + 1}, err: tunnel.ErrConfigMode, field: "mode", value: "mode(10)"},

		// Address families.
		{name: "gre local v6", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, Local: end1v6}, err: tunnel.ErrConfigAddr, field: "local", value: "2001:db8::1"},
		{name: "ipip remote v6", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeIPIP, Remote: end2v6}, err: tunnel.ErrConfigAddr, field: "remote", value: "2001:db8::2"},
		{name: "sit local ::", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeSIT, Local: netip.IPv6Unspecified()}, err: tunnel.ErrConfigAddr, field: "local", value: "::"},
		{name: "ip6ip6 local v4", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeIP6IP6, Local: end1v4}, err: tunnel.ErrConfigAddr, field: "local", value: "192.0.2.1"},
		{name: "ipip6 remote v4", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeIPIP6, Remote: end2v4}, err: tunnel.ErrConfigAddr, field: "remote", value: "198.51.100.2"},
		{name: "ip6gre local 0.0.0.0", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeIP6GRE, Local: netip.IPv4Unspecified()}, err: tunnel.ErrConfigAddr, field: "local", value: "0.0.0.0"},
		{name: "mobile over IPv6", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeMobile, Local: end1v6}, err: tunnel.ErrConfigAddr, field: "local", value: "2001:db8::1"},
		{name: "mobile remote v6", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeMobile, Local: end1v4, Remote: end2v6}, err: tunnel.ErrConfigAddr, field: "remote", value: "2001:db8::2"},
		{name: "gretap mixed families", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeGRETap, Local: end1v4, Remote: end2v6}, err: tunnel.ErrConfigAddr, field: "remote", value: "2001:db8::2"},
		{name: "gre-in-udp mixed families", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeGREInUDP, Local: end1v6, Remote: end2v4}, err: tunnel.ErrConfigAddr, field: "remote", value: "198.51.100.2"},
		{name: "gretap mixed with unspecified", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeGRETap, Local: netip.IPv6Unspecified(), Remote: end2v4}, err: tunnel.ErrConfigAddr, field: "remote", value: "198.51.100.2"},
		{name: "gretap local v4-mapped", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeGRETap, Local: mapped4}, err: tunnel.ErrConfigAddr, field: "local", value: "::ffff:192.0.2.1"},
		{name: "gre-in-udp remote v4-mapped", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeGREInUDP, Remote: mapped4r}, err: tunnel.ErrConfigAddr, field: "remote", value: "::ffff:198.51.100.2"},
		{name: "ip6gre remote v4-mapped", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeIP6GRE, Local: end1v6, Remote: mapped4r}, err: tunnel.ErrConfigAddr, field: "remote", value: "::ffff:198.51.100.2"},
		{name: "gre local v4-mapped", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, Local: mapped4}, err: tunnel.ErrConfigAddr, field: "local", value: "::ffff:192.0.2.1"},

		// GRE-only options.
		{name: "ikey on ipip", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeIPIP, IKey: cfgKey(5)}, err: tunnel.ErrConfigGREOnly, field: "ikey", value: "0.0.0.5"},
		{name: "okey on sit", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeSIT, OKey: cfgKey(0x0a000001)}, err: tunnel.ErrConfigGREOnly, field: "okey", value: "10.0.0.1"},
		{name: "icsum on ip6ip6", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeIP6IP6, ICsum: true}, err: tunnel.ErrConfigGREOnly, field: "icsum"},
		{name: "ocsum on ipip6", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeIPIP6, OCsum: true}, err: tunnel.ErrConfigGREOnly, field: "ocsum"},
		{name: "iseq on mobile", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeMobile, ISeq: true}, err: tunnel.ErrConfigGREOnly, field: "iseq"},
		{name: "oseq on ipip", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeIPIP, OSeq: true}, err: tunnel.ErrConfigGREOnly, field: "oseq"},

		// Ranges.
		{name: "reorder without iseq", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, Seq: tunnel.SeqConfig{Reorder: 8}}, err: tunnel.ErrConfigRange, field: "reorder", value: "8"},
		{name: "reorder negative", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, ISeq: true, Seq: tunnel.SeqConfig{Reorder: -1}}, err: tunnel.ErrConfigRange, field: "reorder", value: "-1"},
		{name: "reorder too deep", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, ISeq: true, Seq: tunnel.SeqConfig{Reorder: gre.MaxReorderPackets + 1}}, err: tunnel.ErrConfigRange, field: "reorder", value: "4097"},
		{name: "reorderwait negative", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, Seq: tunnel.SeqConfig{ReorderWait: -time.Millisecond}}, err: tunnel.ErrConfigRange, field: "reorderwait", value: "-1ms"},
		{name: "reorderwait too long", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, ISeq: true, Seq: tunnel.SeqConfig{Reorder: 1, ReorderWait: gre.MaxReorderWait + 1}}, err: tunnel.ErrConfigRange, field: "reorderwait", value: "1.000000001s"},
		{name: "seqresync without iseq", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, Seq: tunnel.SeqConfig{Resync: 3}}, err: tunnel.ErrConfigRange, field: "seqresync", value: "3"},
		{name: "seqresync negative", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, ISeq: true, Seq: tunnel.SeqConfig{Resync: -1}}, err: tunnel.ErrConfigRange, field: "seqresync", value: "-1"},
		{name: "ttl with nopmtudisc", cfg: tunnel.Config{Name: "gre1", Mode: tunnel.ModeGRE, TTL: 64, NoPMTUDisc: true}, err: outer.ErrConfigPMTUDisc, field: "ttl", value: "64"},
		{name: "tos with ECN bits", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, TOS: 0x29}, err: outer.ErrConfigTOS, field: "tos", value: "0x29"},
		{name: "tos with inherit", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, TOS: 0x28, InheritTOS: true}, err: outer.ErrConfigTOS, field: "tos", value: "0x28"},
		{name: "mtu negative", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, MTU: -1}, err: tunnel.ErrConfigMTU, field: "mtu", value: "-1"},
		{name: "mtu too large", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, MTU: 65536}, err: tunnel.ErrConfigMTU, field: "mtu", value: "65536"},

		// Fallback.
		{name: "fallback with local", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, Fallback: true, Local: end1v4}, err: tunnel.ErrConfigFallback, field: "fallback"},
		{name: "fallback with remote", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeIPIP, Fallback: true, Remote: end2v4}, err: tunnel.ErrConfigFallback, field: "fallback"},
		{name: "fallback with ikey", cfg: tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, Fallback: true, IKey: cfgKey(0)}, err: tunnel.ErrConfigFallback, field: "fallback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.err == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.err)
			var ce *tunnel.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.cfg.Name, ce.Tunnel)
			assert.Equal(t, tt.field, ce.Field)
			assert.Equal(t, tt.value, ce.Value)
			assert.Same(t, tt.err, ce.Unwrap(), "Unwrap returns the sentinel itself")
			for _, other := range []error{tunnel.ErrConfigMode, tunnel.ErrConfigName, tunnel.ErrConfigAddr,
				tunnel.ErrConfigGREOnly, tunnel.ErrConfigDuplicate, tunnel.ErrConfigRange, outer.ErrConfigPMTUDisc,
				tunnel.ErrConfigLink, tunnel.ErrConfigLocal, tunnel.ErrConfigFallback, tunnel.ErrConfigMTU} {
				if other != tt.err {
					assert.NotErrorIs(t, err, other)
				}
			}
		})
	}
}

// TestConfigErrorMessage pins the message format: tunnel, option, value,
// reason (the value is left out when there is none).
func TestConfigErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		cfg  tunnel.Config
		want string
	}{
		{"ttl with nopmtudisc", tunnel.Config{Name: "gre1", Mode: tunnel.ModeGRE, TTL: 64, NoPMTUDisc: true},
			`tunnel "gre1": ttl 64: outer: a fixed ttl needs path MTU discovery (use ttl inherit with nopmtudisc)`},
		{"empty name", tunnel.Config{Mode: tunnel.ModeGRE},
			`tunnel "": name "": name empty or already in use`},
		{"no value", tunnel.Config{Name: "tun0", Mode: tunnel.ModeIPIP, ICsum: true},
			`tunnel "tun0": icsum: only GRE modes have keys, checksums and sequence numbers`},
		{"address", tunnel.Config{Name: "m", Mode: tunnel.ModeMobile, Local: end1v6},
			`tunnel "m": local 2001:db8::1: address of the wrong family for the mode`},
		{"reorder", tunnel.Config{Name: "g", Mode: tunnel.ModeGRE, Seq: tunnel.SeqConfig{Reorder: 4}},
			`tunnel "g": reorder 4: out of range`},
		{"outer error", tunnel.Config{Name: "g", Mode: tunnel.ModeGRE, TOS: 1},
			`tunnel "g": tos 0x1: outer: tos must leave the ECN bits 0, and be 0 with inherit`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
		})
	}
}

// TestParseMode: every mode's name parses back to it, and an unknown name
// is a *ConfigError wrapping ErrConfigMode.
func TestParseMode(t *testing.T) {
	names := map[tunnel.Mode]string{
		tunnel.ModeGRE: "gre", tunnel.ModeGRETap: "gretap", tunnel.ModeIPIP: "ipip", tunnel.ModeSIT: "sit",
		tunnel.ModeIP6IP6: "ip6ip6", tunnel.ModeIPIP6: "ipip6", tunnel.ModeIP6GRE: "ip6gre",
		tunnel.ModeMobile: "mobile", tunnel.ModeGREInUDP: "gre-in-udp",
	}
	require.Len(t, allModes, len(names))
	for _, m := range allModes {
		t.Run(names[m], func(t *testing.T) {
			assert.Equal(t, names[m], m.String())
			got, err := tunnel.ParseMode(m.String())
			require.NoError(t, err)
			assert.Equal(t, m, got)
		})
	}
	assert.Equal(t, "mode(0)", tunnel.Mode(0).String())
	assert.Equal(t, "mode(10)", tunnel.Mode(10).String())
	assert.Equal(t, "mode(255)", tunnel.Mode(255).String())

	for _, s := range []string{"", "GRE", "vxlan", "mode(1)", " gre", "gre "} {
		t.Run("unknown "+s, func(t *testing.T) {
			m, err := tunnel.ParseMode(s)
			assert.Zero(t, m)
			require.ErrorIs(t, err, tunnel.ErrConfigMode)
			var ce *tunnel.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, "mode", ce.Field)
			assert.Equal(t, s, ce.Value)
		})
	}
	_, err := tunnel.ParseMode("vxlan")
	assert.EqualError(t, err, `tunnel "": mode vxlan: unknown mode`)
}

// TestConfigString pins Config.String, shaped like `ip tunnel show`.
func TestConfigString(t *testing.T) {
	tests := []struct {
		cfg  tunnel.Config
		want string
	}{
		{tunnel.Config{Name: "gre1", Mode: tunnel.ModeGRE, Local: end1v4, Remote: end2v4, TTL: 255,
			IKey: cfgKey(5), OKey: cfgKey(5), ICsum: true, OCsum: true, ISeq: true, OSeq: true},
			"gre1: gre/ip remote 198.51.100.2 local 192.0.2.1 ttl 255 key 5 icsum ocsum iseq oseq"},
		{tunnel.Config{Name: "tun0", Mode: tunnel.ModeIPIP, Local: end1v4},
			"tun0: ip/ip remote any local 192.0.2.1 ttl inherit"},
		{tunnel.Config{Name: "tun1", Mode: tunnel.ModeIPIP, Local: netip.IPv4Unspecified(), Remote: netip.IPv4Unspecified()},
			"tun1: ip/ip remote any local any ttl inherit"},
		{tunnel.Config{Name: "gre2", Mode: tunnel.ModeGRE, Remote: end2v4, TTL: 64, IKey: cfgKey(1), OKey: cfgKey(2)},
			"gre2: gre/ip remote 198.51.100.2 local any ttl 64 ikey 1 okey 2"},
		{tunnel.Config{Name: "gre3", Mode: tunnel.ModeGRE, IKey: cfgKey(0xffffffff)},
			"gre3: gre/ip remote any local any ttl inherit ikey 4294967295"},
		{tunnel.Config{Name: "gre4", Mode: tunnel.ModeGRE, OKey: cfgKey(0), OSeq: true},
			"gre4: gre/ip remote any local any ttl inherit okey 0 oseq"},
		{tunnel.Config{Name: "gre5", Mode: tunnel.ModeGRE, IKey: cfgKey(0), OKey: cfgKey(0)},
			"gre5: gre/ip remote any local any ttl inherit key 0"},
		{tunnel.Config{Name: "gre6", Mode: tunnel.ModeGRE, Local: end1v4, Remote: end2v4, InheritTOS: true, NoPMTUDisc: true},
			"gre6: gre/ip remote 198.51.100.2 local 192.0.2.1 ttl inherit tos inherit nopmtudisc"},
		{tunnel.Config{Name: "gre7", Mode: tunnel.ModeGRE, Local: end1v4, Remote: end2v4, TTL: 1, TOS: 0xb8},
			"gre7: gre/ip remote 198.51.100.2 local 192.0.2.1 ttl 1 tos 0xb8"},
		{tunnel.Config{Name: "sit1", Mode: tunnel.ModeSIT, Local: end1v4, Remote: end2v4, TTL: 64, Link: "eth0", MTU: 1400},
			"sit1: ipv6/ip remote 198.51.100.2 local 192.0.2.1 dev eth0 ttl 64 mtu 1400"},
		{tunnel.Config{Name: "ip6tnl1", Mode: tunnel.ModeIP6IP6, Local: end1v6, Remote: end2v6},
			"ip6tnl1: ipv6/ipv6 remote 2001:db8::2 local 2001:db8::1 ttl inherit"},
		{tunnel.Config{Name: "ip6tnl2", Mode: tunnel.ModeIPIP6, Local: end1v6, Remote: netip.IPv6Unspecified()},
			"ip6tnl2: ip/ipv6 remote any local 2001:db8::1 ttl inherit"},
		{tunnel.Config{Name: "ip6gre1", Mode: tunnel.ModeIP6GRE, Local: end1v6, Remote: end2v6, TTL: 64, IKey: cfgKey(7), OKey: cfgKey(7)},
			"ip6gre1: gre/ipv6 remote 2001:db8::2 local 2001:db8::1 ttl 64 key 7"},
		{tunnel.Config{Name: "mob0", Mode: tunnel.ModeMobile, Local: end1v4, Remote: end2v4},
			"mob0: mobile/ip remote 198.51.100.2 local 192.0.2.1 ttl inherit"},
		{tunnel.Config{Name: "tap0", Mode: tunnel.ModeGRETap, Local: end1v6, Remote: end2v6, TTL: 64},
			"tap0: gretap remote 2001:db8::2 local 2001:db8::1 ttl 64"},
		{tunnel.Config{Name: "gu0", Mode: tunnel.ModeGREInUDP, Remote: end2v4},
			"gu0: gre-in-udp remote 198.51.100.2 local any dport 4754 ttl inherit"},
		{tunnel.Config{Name: "gu1", Mode: tunnel.ModeGREInUDP, Local: end1v6, Remote: end2v6, Port: 4755, Link: "udp0", OKey: cfgKey(9)},
			"gu1: gre-in-udp remote 2001:db8::2 local 2001:db8::1 dev udp0 dport 4755 ttl inherit okey 9"},
		{tunnel.Config{Name: "gre0", Mode: tunnel.ModeGRE, Fallback: true},
			"gre0: gre/ip remote any local any ttl inherit fallback"},
		{tunnel.Config{Name: "odd", Mode: tunnel.Mode(42)},
			"odd: mode(42) remote any local any ttl inherit"},
	}
	for _, tt := range tests {
		t.Run(tt.cfg.Name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.cfg.String())
		})
	}
}

// cfgEngine returns an engine with the given underlays, each over its own
// tunneltest pipe (whose other end nobody uses), closed at the end of the
// test.
func cfgEngine(tb testing.TB, uls ...tunnel.UnderlayConfig) *tunnel.Engine {
	tb.Helper()
	e := tunnel.NewEngine(tunnel.EngineConfig{})
	tb.Cleanup(func() { _ = e.Close() })
	for _, u := range uls {
		a, _ := tunneltest.NewPipe(tunneltest.PipeConfig{Framing: u.Framing})
		require.NoError(tb, e.AddUnderlay(a, u))
	}
	return e
}

// ipWire and udpWire are the usual underlays of these tests.
var (
	ipWire  = tunnel.UnderlayConfig{Name: "wire", Framing: tunnel.FramingIP, Local: []netip.Addr{end1v4, end1v6}}
	udpWire = tunnel.UnderlayConfig{Name: "udp0", Framing: tunnel.FramingUDP, Local: []netip.Addr{end1v4, end1v6}}
)

func overlay() *tunneltest.ChannelOverlay {
	return tunneltest.NewChannelOverlay(tunneltest.OverlayConfig{})
}

// addErr adds cfg to e and returns the *ConfigError it fails with.
func addErr(t *testing.T, e *tunnel.Engine, cfg tunnel.Config, want error) *tunnel.ConfigError {
	t.Helper()
	tun, err := e.Add(cfg, overlay())
	require.ErrorIs(t, err, want)
	assert.Nil(t, tun)
	var ce *tunnel.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, cfg.Name, ce.Tunnel)
	if want != tunnel.ErrConfigName {
		_, ok := e.Get(cfg.Name)
		assert.False(t, ok, "a refused tunnel is not in the engine")
	}
	return ce
}

func mustAdd(t *testing.T, e *tunnel.Engine, cfg tunnel.Config) *tunnel.Tunnel {
	t.Helper()
	tun, err := e.Add(cfg, overlay())
	require.NoError(t, err)
	return tun
}

// TestAddValidates: Add refuses what Validate refuses, with the same error.
func TestAddValidates(t *testing.T) {
	e := cfgEngine(t, ipWire)
	cfg := tunnel.Config{Name: "gre1", Mode: tunnel.ModeGRE, TTL: 64, NoPMTUDisc: true}
	ce := addErr(t, e, cfg, outer.ErrConfigPMTUDisc)
	assert.Equal(t, cfg.Validate().Error(), ce.Error())
	addErr(t, e, tunnel.Config{Name: "ipip1", Mode: tunnel.ModeIPIP, IKey: cfgKey(5)}, tunnel.ErrConfigGREOnly)
	addErr(t, e, tunnel.Config{Name: "m", Mode: tunnel.ModeMobile, Local: end1v6}, tunnel.ErrConfigAddr)
	assert.Empty(t, e.List())
}

// TestAddDuplicate: the engine refuses a second tunnel of the same demux
// identity (mode, local, remote, ikey, link), naming the first in the
// message, and takes any that differs.
func TestAddDuplicate(t *testing.T) {
	base := tunnel.Config{Name: "a", Mode: tunnel.ModeGRE, Local: end1v4, Remote: end2v4, IKey: cfgKey(5), OKey: cfgKey(5)}
	tests := []struct {
		name string
		edit func(c *tunnel.Config) // applied to a copy of base named "b"
		err  error                  // nil: accepted
	}{
		{"same name", func(c *tunnel.Config) {
			c.Name = "a"
			c.Mode = tunnel.ModeIPIP
			c.IKey, c.OKey = tunnel.Key{}, tunnel.Key{}
		}, tunnel.ErrConfigName},
		{"same everything", func(*tunnel.Config) {}, tunnel.ErrConfigDuplicate},
		{"different okey only", func(c *tunnel.Config) { c.OKey = cfgKey(6) }, tunnel.ErrConfigDuplicate},
		{"different options only", func(c *tunnel.Config) { c.ICsum, c.ISeq, c.TTL, c.MTU = true, true, 9, 1400 }, tunnel.ErrConfigDuplicate},
		{"different ikey", func(c *tunnel.Config) { c.IKey = cfgKey(6) }, nil},
		{"no ikey", func(c *tunnel.Config) { c.IKey = tunnel.Key{} }, nil},
		{"ikey 0", func(c *tunnel.Config) { c.IKey = cfgKey(0) }, nil},
		{"other remote", func(c *tunnel.Config) { c.Remote = netip.MustParseAddr("198.51.100.3") }, nil},
		{"remote any", func(c *tunnel.Config) { c.Remote = netip.Addr{} }, nil},
		{"local any", func(c *tunnel.Config) { c.Local = netip.IPv4Unspecified() }, nil},
		{"bound to the link", func(c *tunnel.Config) { c.Link = "wire" }, nil},
		{"gretap", func(c *tunnel.Config) { c.Mode = tunnel.ModeGRETap }, nil},
		{"ipip", func(c *tunnel.Config) { c.Mode, c.IKey, c.OKey = tunnel.ModeIPIP, tunnel.Key{}, tunnel.Key{} }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := cfgEngine(t, ipWire)
			a := mustAdd(t, e, base)
			cfg := base
			cfg.Name = "b"
			tt.edit(&cfg)
			if tt.err == nil {
				b := mustAdd(t, e, cfg)
				assert.Equal(t, []*tunnel.Tunnel{a, b}, e.List())
				return
			}
			ce := addErr(t, e, cfg, tt.err)
			if tt.err == tunnel.ErrConfigDuplicate {
				assert.Contains(t, ce.Error(), `(tunnel "a")`, "the message names the other tunnel")
				assert.Equal(t, `tunnel "b": remote 198.51.100.2 (tunnel "a"): another tunnel has the same local, remote and key`, ce.Error())
			} else {
				assert.Equal(t, "name", ce.Field)
			}
			got, ok := e.Get("a")
			require.True(t, ok)
			assert.Same(t, a, got, "the first tunnel is untouched")
			assert.Equal(t, []*tunnel.Tunnel{a}, e.List())
		})
	}
}

// TestAddDuplicateSharedClass: ip6ip6 and ipip6 are one kind of tunnel on
// the receive side (Linux's ip6tnl; one demux class, the inner version
// told apart after the lookup), so they cannot share endpoints, while IPv4
// and IPv6 tunnels of the same class never collide.
func TestAddDuplicateSharedClass(t *testing.T) {
	e := cfgEngine(t, ipWire)
	mustAdd(t, e, tunnel.Config{Name: "x", Mode: tunnel.ModeIP6IP6, Local: end1v6, Remote: end2v6})
	ce := addErr(t, e, tunnel.Config{Name: "y", Mode: tunnel.ModeIPIP6, Local: end1v6, Remote: end2v6}, tunnel.ErrConfigDuplicate)
	assert.Contains(t, ce.Error(), `tunnel "x"`)
	mustAdd(t, e, tunnel.Config{Name: "z", Mode: tunnel.ModeIPIP6, Local: end1v6, Remote: netip.MustParseAddr("2001:db8::3")})

	mustAdd(t, e, tunnel.Config{Name: "g4", Mode: tunnel.ModeGRE})
	mustAdd(t, e, tunnel.Config{Name: "g6", Mode: tunnel.ModeIP6GRE})
	mustAdd(t, e, tunnel.Config{Name: "gu", Mode: tunnel.ModeGRETap})
}

// TestAddFallback: one fallback per mode and family; a second is refused.
func TestAddFallback(t *testing.T) {
	e := cfgEngine(t, ipWire)
	mustAdd(t, e, tunnel.Config{Name: "gre0", Mode: tunnel.ModeGRE, Fallback: true})
	mustAdd(t, e, tunnel.Config{Name: "ip6gre0", Mode: tunnel.ModeIP6GRE, Fallback: true})
	mustAdd(t, e, tunnel.Config{Name: "gretap0", Mode: tunnel.ModeGRETap, Fallback: true})
	mustAdd(t, e, tunnel.Config{Name: "tunl0", Mode: tunnel.ModeIPIP, Fallback: true})
	// A fallback does not conflict with an ordinary wildcard tunnel.
	mustAdd(t, e, tunnel.Config{Name: "any", Mode: tunnel.ModeGRE})

	_, err := e.Add(tunnel.Config{Name: "gre00", Mode: tunnel.ModeGRE, Fallback: true, TTL: 9}, overlay())
	require.Error(t, err, "a second fallback of a mode and family is refused")
	var ce *tunnel.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "gre00", ce.Tunnel)
	assert.Equal(t, "fallback", ce.Field)
	assert.ErrorIs(t, err, tunnel.ErrConfigFallback)
	_, ok := e.Get("gre00")
	assert.False(t, ok)
}

// TestAddLink: Link must name an underlay of the framing the mode needs.
func TestAddLink(t *testing.T) {
	tests := []struct {
		name  string
		uls   []tunnel.UnderlayConfig
		cfg   tunnel.Config
		value string // ConfigError.Value; "": accepted
	}{
		{"no such link", []tunnel.UnderlayConfig{ipWire},
			tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, Local: end1v4, Remote: end2v4, Link: "eth9"}, "eth9"},
		{"link of the wrong framing", []tunnel.UnderlayConfig{ipWire, udpWire},
			tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, Local: end1v4, Remote: end2v4, Link: "udp0"}, "udp0"},
		{"gre-in-udp on an ip link", []tunnel.UnderlayConfig{ipWire, udpWire},
			tunnel.Config{Name: "t", Mode: tunnel.ModeGREInUDP, Remote: end2v4, Link: "wire"}, "wire"},
		{"gre-in-udp with only an ip underlay", []tunnel.UnderlayConfig{ipWire},
			tunnel.Config{Name: "t", Mode: tunnel.ModeGREInUDP, Remote: end2v4}, "(udp)"},
		{"gre with only a udp underlay", []tunnel.UnderlayConfig{udpWire},
			tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, Remote: end2v4}, "(ip)"},
		{"no underlay at all", nil,
			tunnel.Config{Name: "t", Mode: tunnel.ModeIPIP}, "(ip)"},
		{"gre-in-udp on its link", []tunnel.UnderlayConfig{ipWire, udpWire},
			tunnel.Config{Name: "t", Mode: tunnel.ModeGREInUDP, Remote: end2v4, Link: "udp0"}, ""},
		{"gre on its link", []tunnel.UnderlayConfig{udpWire, ipWire},
			tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, Remote: end2v4, Link: "wire"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := cfgEngine(t, tt.uls...)
			if tt.value == "" {
				mustAdd(t, e, tt.cfg)
				return
			}
			ce := addErr(t, e, tt.cfg, tunnel.ErrConfigLink)
			assert.Equal(t, "dev", ce.Field)
			assert.Equal(t, tt.value, ce.Value)
		})
	}
}

// TestAddLocal: a tunnel that sends with local any needs an underlay
// address of its family; one that does not send (remote any) does not,
// nor does GRE-in-UDP, whose socket picks the source.
func TestAddLocal(t *testing.T) {
	bare := tunnel.UnderlayConfig{Name: "bare", Framing: tunnel.FramingIP}
	only4 := tunnel.UnderlayConfig{Name: "only4", Framing: tunnel.FramingIP, Local: []netip.Addr{end1v4}}
	bareUDP := tunnel.UnderlayConfig{Name: "bareudp", Framing: tunnel.FramingUDP}
	tests := []struct {
		name string
		ul   tunnel.UnderlayConfig
		cfg  tunnel.Config
		ok   bool
	}{
		{"gre local any", bare, tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, Remote: end2v4}, false},
		{"ipip local 0.0.0.0", bare, tunnel.Config{Name: "t", Mode: tunnel.ModeIPIP, Local: netip.IPv4Unspecified(), Remote: end2v4}, false},
		{"mobile local any", bare, tunnel.Config{Name: "t", Mode: tunnel.ModeMobile, Remote: end2v4}, false},
		{"ip6gre over an IPv4-only underlay", only4, tunnel.Config{Name: "t", Mode: tunnel.ModeIP6GRE, Remote: end2v6}, false},
		{"gretap v6 over an IPv4-only underlay", only4, tunnel.Config{Name: "t", Mode: tunnel.ModeGRETap, Remote: end2v6}, false},
		{"gre over an IPv4-only underlay", only4, tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, Remote: end2v4}, true},
		{"remote any too", bare, tunnel.Config{Name: "t", Mode: tunnel.ModeGRE}, true},
		{"explicit local", bare, tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, Local: end1v4, Remote: end2v4}, true},
		{"fallback", bare, tunnel.Config{Name: "t", Mode: tunnel.ModeSIT, Fallback: true}, true},
		{"gre-in-udp", bareUDP, tunnel.Config{Name: "t", Mode: tunnel.ModeGREInUDP, Remote: end2v4}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := cfgEngine(t, tt.ul)
			if tt.ok {
				mustAdd(t, e, tt.cfg)
				return
			}
			ce := addErr(t, e, tt.cfg, tunnel.ErrConfigLocal)
			assert.Equal(t, "local", ce.Field)
			assert.Equal(t, "any", ce.Value)
		})
	}
}

// TestAddMTU: the MTU, configured or derived from the underlay's, must be
// at least 68 (1280 for a tunnel carrying IPv6) and fit a 65535-byte
// packet with the overhead.
func TestAddMTU(t *testing.T) {
	small := tunnel.UnderlayConfig{Name: "small", Framing: tunnel.FramingIP, MTU: 1299, Local: []netip.Addr{end1v4}}
	tests := []struct {
		name string
		ul   tunnel.UnderlayConfig
		cfg  tunnel.Config
		ok   bool
	}{
		{"gre 68", ipWire, tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, Remote: end2v4, MTU: 68}, true},
		{"gre 67", ipWire, tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, Remote: end2v4, MTU: 67}, false},
		{"sit 1279", ipWire, tunnel.Config{Name: "t", Mode: tunnel.ModeSIT, Remote: end2v4, MTU: 1279}, false},
		{"sit over a 1299 underlay", small, tunnel.Config{Name: "t", Mode: tunnel.ModeSIT, Remote: end2v4}, false},
		{"ipip over a 1299 underlay", small, tunnel.Config{Name: "t", Mode: tunnel.ModeIPIP, Remote: end2v4}, true},
		{"gre 65535", ipWire, tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, Remote: end2v4, MTU: 65535}, false},
		{"gre 65511", ipWire, tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, Remote: end2v4, MTU: 65511}, true},
		{"gre 65512", ipWire, tunnel.Config{Name: "t", Mode: tunnel.ModeGRE, Remote: end2v4, MTU: 65512}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := cfgEngine(t, tt.ul)
			if tt.ok {
				tun := mustAdd(t, e, tt.cfg)
				if tt.cfg.MTU != 0 {
					assert.Equal(t, tt.cfg.MTU, tun.MTU())
				}
				return
			}
			ce := addErr(t, e, tt.cfg, tunnel.ErrConfigMTU)
			assert.Equal(t, "mtu", ce.Field)
		})
	}
}

// TestAddEncapError: nopmtudisc over an IPv6 outer header (which has no DF
// bit) is refused, by Validate and so by Add, wrapping outer's error.
func TestAddEncapError(t *testing.T) {
	e := cfgEngine(t, ipWire)
	cfg := tunnel.Config{Name: "t", Mode: tunnel.ModeIP6GRE, Local: end1v6, Remote: end2v6, NoPMTUDisc: true}
	require.ErrorIs(t, cfg.Validate(), outer.ErrConfigNoPMTUDisc6)
	_, err := e.Add(cfg, overlay())
	require.ErrorIs(t, err, outer.ErrConfigNoPMTUDisc6)
	var ce *tunnel.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "t", ce.Tunnel)
}

// TestGetListRemove: Get and List see what Add added and Remove removed;
// Remove closes the overlay and frees the identity for a new tunnel.
func TestGetListRemove(t *testing.T) {
	e := cfgEngine(t, ipWire)
	assert.Empty(t, e.List())
	_, ok := e.Get("a")
	assert.False(t, ok)

	cfgs := []tunnel.Config{
		{Name: "c", Mode: tunnel.ModeIPIP, Local: end1v4, Remote: end2v4, TTL: 64},
		{Name: "a", Mode: tunnel.ModeGRE, Local: end1v4, Remote: end2v4, IKey: cfgKey(1), OKey: cfgKey(1)},
		{Name: "b", Mode: tunnel.ModeIP6GRE, Local: end1v6, Remote: end2v6},
	}
	byName := map[string]*tunnel.Tunnel{}
	overlays := map[string]*tunneltest.ChannelOverlay{}
	for _, c := range cfgs {
		o := overlay()
		tun, err := e.Add(c, o)
		require.NoError(t, err)
		assert.Equal(t, c.Name, tun.Name())
		assert.Equal(t, c, tun.Config())
		assert.Equal(t, c.String(), tun.String())
		byName[c.Name], overlays[c.Name] = tun, o
	}
	for name, tun := range byName {
		got, ok := e.Get(name)
		require.True(t, ok)
		assert.Same(t, tun, got)
	}
	assert.Equal(t, []*tunnel.Tunnel{byName["a"], byName["b"], byName["c"]}, e.List(), "sorted by name")

	require.NoError(t, e.Remove("b"))
	_, ok = e.Get("b")
	assert.False(t, ok)
	assert.Equal(t, []*tunnel.Tunnel{byName["a"], byName["c"]}, e.List())
	assert.ErrorIs(t, overlays["b"].Inject([]byte{0x60}), net.ErrClosed, "Remove closes the overlay")

	err := e.Remove("b")
	require.Error(t, err, "removing twice")
	assert.Contains(t, err.Error(), `"b"`)
	require.Error(t, e.Remove("nosuch"))
	require.Error(t, e.Remove(""))

	// The identity and the name are free again.
	b2 := mustAdd(t, e, cfgs[2])
	got, ok := e.Get("b")
	require.True(t, ok)
	assert.Same(t, b2, got)
	assert.NotSame(t, byName["b"], b2)
}

// TestClosed: after Close the engine refuses everything with ErrClosed,
// and Close is idempotent.
func TestClosed(t *testing.T) {
	e := cfgEngine(t, ipWire)
	o := overlay()
	mustAdd(t, e, tunnel.Config{Name: "a", Mode: tunnel.ModeGRE, Local: end1v4, Remote: end2v4})
	eo, err := e.Add(tunnel.Config{Name: "b", Mode: tunnel.ModeIPIP}, o)
	require.NoError(t, err)
	require.NotNil(t, eo)

	require.NoError(t, e.Close())
	require.NoError(t, e.Close(), "Close twice")
	assert.Empty(t, e.List(), "Close removes every tunnel")
	assert.ErrorIs(t, o.Inject([]byte{0x45}), net.ErrClosed, "Close closes the overlays")

	tun, err := e.Add(tunnel.Config{Name: "c", Mode: tunnel.ModeGRE, Local: end1v4, Remote: end2v4}, overlay())
	assert.Nil(t, tun)
	require.ErrorIs(t, err, tunnel.ErrClosed)
	assert.False(t, errors.As(err, new(*tunnel.ConfigError)), "ErrClosed is not a configuration error")

	a, _ := tunneltest.NewPipe(tunneltest.PipeConfig{})
	require.ErrorIs(t, e.AddUnderlay(a, tunnel.UnderlayConfig{Name: "late"}), tunnel.ErrClosed)
	require.Error(t, e.Remove("a"))
}

// TestAddUnderlay: underlay names are unique and MTUs in range.
func TestAddUnderlay(t *testing.T) {
	e := cfgEngine(t, ipWire)
	a, _ := tunneltest.NewPipe(tunneltest.PipeConfig{})
	require.ErrorIs(t, e.AddUnderlay(a, tunnel.UnderlayConfig{Name: "wire"}), tunnel.ErrUnderlayExists, "duplicate name")
	require.ErrorIs(t, e.AddUnderlay(a, tunnel.UnderlayConfig{Name: "big", MTU: tunnel.MaxPacket + 1}), tunnel.ErrUnderlay)
	require.ErrorIs(t, e.AddUnderlay(a, tunnel.UnderlayConfig{Name: "neg", MTU: -1}), tunnel.ErrUnderlay)
	require.NoError(t, a.Close())
	// An unnamed underlay gets a name of its own.
	b, _ := tunneltest.NewPipe(tunneltest.PipeConfig{Framing: tunnel.FramingUDP})
	require.NoError(t, e.AddUnderlay(b, tunnel.UnderlayConfig{}))
	// A framing that contradicts what the underlay says of itself is refused.
	c, _ := tunneltest.NewPipe(tunneltest.PipeConfig{Framing: tunnel.FramingIP})
	require.ErrorIs(t, e.AddUnderlay(c, tunnel.UnderlayConfig{Name: "c", Framing: tunnel.FramingUDP}), tunnel.ErrUnderlay)
	require.NoError(t, c.Close())
	mustAdd(t, e, tunnel.Config{Name: "gu", Mode: tunnel.ModeGREInUDP, Remote: end2v4, Link: "underlay1"})
}
