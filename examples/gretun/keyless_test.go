//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/examples/internal/exampleutil"
	"github.com/ipencap/ipencap/tunnel"
)

// TestWarnKeyless checks which tunnels get the keyless warning at start:
// GRE modes without an input key that take packets on a public address
// (neither private, loopback nor link-local; documentation addresses count
// as public). The warning is one record at level Warn.
func TestWarnKeyless(t *testing.T) {
	addrs := func(s ...string) []netip.Addr {
		var a []netip.Addr
		for _, v := range s {
			a = append(a, netip.MustParseAddr(v))
		}
		return a
	}
	key := tunnel.KeyOf(5)
	for _, tt := range []struct {
		name  string
		cfg   tunnel.Config
		addrs []netip.Addr // the addresses the tunnel takes packets on
		local string       // the address in the warning, "" for none
	}{
		{"gre public", tunnel.Config{Mode: tunnel.ModeGRE}, addrs("198.51.100.1"), "198.51.100.1"},
		{"gre public, okey alone", tunnel.Config{Mode: tunnel.ModeGRE, OKey: key}, addrs("203.0.113.7"), "203.0.113.7"},
		{"gre public, ikey", tunnel.Config{Mode: tunnel.ModeGRE, IKey: key}, addrs("198.51.100.1"), ""},
		{"gre public, key", tunnel.Config{Mode: tunnel.ModeGRE, IKey: key, OKey: key}, addrs("198.51.100.1"), ""},
		{"gre 10/8", tunnel.Config{Mode: tunnel.ModeGRE}, addrs("10.1.2.3"), ""},
		{"gre 172.16/12", tunnel.Config{Mode: tunnel.ModeGRE}, addrs("172.31.0.1"), ""},
		{"gre 192.168/16", tunnel.Config{Mode: tunnel.ModeGRE}, addrs("192.168.0.1"), ""},
		{"gre loopback", tunnel.Config{Mode: tunnel.ModeGRE}, addrs("127.0.0.1"), ""},
		{"gre link-local", tunnel.Config{Mode: tunnel.ModeGRE}, addrs("169.254.0.1"), ""},
		{"gre IPv4-mapped", tunnel.Config{Mode: tunnel.ModeGRE}, addrs("::ffff:198.51.100.1"), "198.51.100.1"},
		{"gre local any, address unknown", tunnel.Config{Mode: tunnel.ModeGRE}, []netip.Addr{{}}, "any"},
		{"gre local any, every host address", tunnel.Config{Mode: tunnel.ModeGRE}, addrs("127.0.0.1", "10.0.0.1", "198.51.100.1"), "198.51.100.1"},
		{"gre local any, private host", tunnel.Config{Mode: tunnel.ModeGRE}, addrs("127.0.0.1", "192.168.1.2"), ""},
		{"gre unspecified", tunnel.Config{Mode: tunnel.ModeGRE}, addrs("0.0.0.0"), "any"},
		{"ip6gre public", tunnel.Config{Mode: tunnel.ModeIP6GRE}, addrs("2001:db8::1"), "2001:db8::1"},
		{"ip6gre ULA", tunnel.Config{Mode: tunnel.ModeIP6GRE}, addrs("fd00::1"), ""},
		{"ip6gre link-local", tunnel.Config{Mode: tunnel.ModeIP6GRE}, addrs("fe80::1"), ""},
		{"gre-in-udp public", tunnel.Config{Mode: tunnel.ModeGREInUDP}, addrs("198.51.100.1"), "198.51.100.1"},
		{"gre-in-udp public, key", tunnel.Config{Mode: tunnel.ModeGREInUDP, IKey: key}, addrs("198.51.100.1"), ""},
		{"ipip public", tunnel.Config{Mode: tunnel.ModeIPIP}, addrs("198.51.100.1"), ""},
		{"sit public", tunnel.Config{Mode: tunnel.ModeSIT}, addrs("198.51.100.1"), ""},
		{"mobile public", tunnel.Config{Mode: tunnel.ModeMobile}, addrs("198.51.100.1"), ""},
		{"ip6ip6 public", tunnel.Config{Mode: tunnel.ModeIP6IP6}, addrs("2001:db8::1"), ""},
		{"ipip6 public", tunnel.Config{Mode: tunnel.ModeIPIP6}, addrs("2001:db8::1"), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			c := tt.cfg
			c.Name = "gre1"
			warnKeyless(exampleutil.NewLogger("json", &buf, slog.LevelInfo), &c, tt.addrs)
			if tt.local == "" {
				assert.Empty(t, buf.String())
				return
			}
			out := buf.String()
			require.Equal(t, 1, strings.Count(out, "\n"), "one line: %q", out)
			var r map[string]any
			require.NoError(t, json.Unmarshal(buf.Bytes(), &r))
			assert.Equal(t, slog.LevelWarn.String(), r["level"])
			assert.Equal(t, "keyless GRE tunnel on a public address: any host can inject packets; set -key", r["msg"])
			assert.Equal(t, "gre1", r["tunnel"])
			assert.Equal(t, tt.local, r["local"])
		})
	}
}
