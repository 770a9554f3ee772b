package main

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/tunnel"
)

// goodConfig is a valid file: two spokes, defaults, one override.
const goodConfig = `local: 198.51.100.1
mode: gre
defaults:
  ttl: 64
  csum: true
spokes:
  - name: branch1
    remote: 203.0.113.7
    key: 1001
    routes: [10.1.0.0/24, 2001:db8:1::/48]
  - name: branch2
    remote: 203.0.113.8
    ikey: 0.0.3.234
    okey: 7
    ttl: inherit
    seq: true
    routes: [10.2.0.0/24]
`

// TestParseConfig: a valid file gives one tunnel.Config per spoke, the
// defaults applied and overridden per spoke, the shared overlay and the
// routes set.
func TestParseConfig(t *testing.T) {
	hc, err := parseConfig("hub.yaml", []byte(goodConfig))
	require.NoError(t, err)
	assert.Equal(t, netip.MustParseAddr("198.51.100.1"), hc.Local)
	assert.Equal(t, tunnel.ModeGRE, hc.Mode)
	require.Len(t, hc.Spokes, 2)
	b1, b2 := hc.Spokes[0], hc.Spokes[1]
	assert.Equal(t, "branch1: gre/ip remote 203.0.113.7 local 198.51.100.1 ttl 64 key 1001 icsum ocsum", b1.String())
	assert.Equal(t, overlayName, b1.Overlay)
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.1.0.0/24"), netip.MustParsePrefix("2001:db8:1::/48")}, b1.Routes)
	assert.Equal(t, tunnel.KeyOf(1002), b2.IKey, "dotted quad")
	assert.Equal(t, tunnel.KeyOf(7), b2.OKey)
	assert.Zero(t, b2.TTL, "ttl inherit overrides the default")
	assert.True(t, b2.ICsum && b2.ISeq && b2.OSeq)

	hc, err = parseConfig("hub.yaml", []byte("local: 2001:db8::1\nmode: ip6ip6\nspokes: []\n"))
	require.NoError(t, err, "no spokes is a valid hub")
	assert.Empty(t, hc.Spokes)
}

// TestParseConfigErrors: every refusal is one line naming the file, the
// line, the spoke and the field, and why.
func TestParseConfigErrors(t *testing.T) {
	const head = "local: 198.51.100.1\nspokes:\n"
	spoke := func(name, remote, key, routes string) string {
		return "  - name: " + name + "\n    remote: " + remote + "\n    key: " + key + "\n    routes: [" + routes + "]\n"
	}
	s1 := spoke("s1", "203.0.113.1", "1", "10.1.0.0/24")
	for _, tt := range []struct {
		name, file string
		want       error
		msg        string // the whole message
	}{
		{"empty file", "", errEmptyConfig, "hub.yaml: empty file"},
		{"not yaml", "local: [", nil, "hub.yaml: yaml: line 1: did not find expected node content"},
		{"unknown key", head + s1 + "    colour: red\n", nil, "hub.yaml: line 7: field colour not found in type main.fileSpoke"},
		{"no local", "spokes: []\n", errRequired, "hub.yaml: local: required"},
		{"bad local", "local: 198.51.100\n", nil, `hub.yaml:1: local 198.51.100: ParseAddr("198.51.100"): IPv4 address too short`},
		{"multicast local", "local: 224.0.0.1\n", errNotUnicast, "hub.yaml:1: local 224.0.0.1: not a unicast address"},
		{"family", "local: 2001:db8::1\n", errFamily, "hub.yaml:1: local 2001:db8::1: not of the mode's outer family"},
		{"gretap", "local: 198.51.100.1\nmode: gretap\n", errBadMode, "hub.yaml:2: mode gretap: not a hub mode: gre, ipip, sit, mobile, ip6gre, ip6ip6 or ipip6"},
		{"gre-in-udp", "local: 198.51.100.1\nmode: gre-in-udp\n", errBadMode, ""},
		{"bad default", "local: 198.51.100.1\ndefaults:\n  ttl: 300\n", errRange, "hub.yaml:3: defaults: ttl 300: out of range: 1-255 or inherit"},
		{"no name", head + spoke("", "203.0.113.1", "1", "10.1.0.0/24"), errRequired, `hub.yaml:3: spoke "#1": name: required`},
		{"bad name", head + spoke("a b", "203.0.113.1", "1", "10.1.0.0/24"), errBadName, ""},
		{"duplicate name", head + s1 + spoke("s1", "203.0.113.2", "2", "10.2.0.0/24"), errDuplicate,
			`hub.yaml:7: spoke "s1": name: duplicate: spoke #1 (line 3) has it too`},
		{"no remote", head + "  - name: s1\n    routes: [10.1.0.0/24]\n", errRequired, `hub.yaml:3: spoke "s1": remote: required`},
		{"remote is local", head + spoke("s1", "198.51.100.1", "1", "10.1.0.0/24"), errNotUnicast, ""},
		{"remote family", head + spoke("s1", "2001:db8::2", "1", "10.1.0.0/24"), errFamily, ""},
		{"duplicate remote and key", head + s1 + spoke("s2", "203.0.113.1", "1", "10.2.0.0/24"), errDuplicate,
			`hub.yaml:8: spoke "s2": remote 203.0.113.1 ikey 1: duplicate: spoke "s1" (line 3) has the same remote and input key`},
		{"key and ikey", head + "  - name: s1\n    remote: 203.0.113.1\n    key: 1\n    ikey: 2\n    routes: [10.1.0.0/24]\n", errKeyBoth, ""},
		{"bad key", head + spoke("s1", "203.0.113.1", "x", "10.1.0.0/24"), nil, ""},
		{"key on ipip", "local: 198.51.100.1\nmode: ipip\nspokes:\n" + spoke("s1", "203.0.113.1", "1", "10.1.0.0/24"), errKeyNotGRE,
			`hub.yaml:6: spoke "s1": key 1: keys are for GRE modes only`},
		{"no routes", head + "  - name: s1\n    remote: 203.0.113.1\n", errRequired, `hub.yaml:3: spoke "s1": routes: required`},
		{"bad prefix", head + spoke("s1", "203.0.113.1", "1", "10.1.0.0"), errBadPrefix, `hub.yaml:6: spoke "s1": routes 10.1.0.0: not a prefix (ADDR/BITS)`},
		{"host bits", head + spoke("s1", "203.0.113.1", "1", "10.1.0.1/24"), errHostBits, `hub.yaml:6: spoke "s1": routes 10.1.0.1/24: host bits set: want 10.1.0.0/24`},
		{"same route twice", head + s1 + spoke("s2", "203.0.113.2", "2", "10.1.0.0/24"), errOverlap,
			`hub.yaml:10: spoke "s2": routes 10.1.0.0/24: overlaps 10.1.0.0/24 of spoke "s1" (line 6)`},
		{"nested routes", head + s1 + spoke("s2", "203.0.113.2", "2", "10.0.0.0/8"), errOverlap,
			`hub.yaml:10: spoke "s2": routes 10.0.0.0/8: overlaps 10.1.0.0/24 of spoke "s1" (line 6)`},
		{"overlap in one spoke", head + spoke("s1", "203.0.113.1", "1", "2001:db8::/32, 2001:db8:1::/48"), errOverlap, ""},
		{"engine's rule", head + "  - name: s1\n    remote: 203.0.113.1\n    nopmtudisc: true\n    ttl: 64\n    routes: [10.1.0.0/24]\n", nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig("hub.yaml", []byte(tt.file))
			require.Error(t, err)
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
			}
			if tt.msg != "" {
				assert.Equal(t, tt.msg, err.Error())
			}
			assert.NotContains(t, err.Error(), "\n", "one line")
		})
	}
}

// TestParseConfigScale: 100 000 spokes parse and validate (2 to 3 s on
// the 2-core machine, most of it YAML), and an overlap among 10 000 is found, with its
// line.
func TestParseConfigScale(t *testing.T) {
	file := func(n int, extra string) []byte {
		var b strings.Builder
		b.WriteString("local: 198.51.100.1\nspokes:\n")
		for i := 1; i <= n; i++ {
			b.WriteString(spokeYAML(i, spokeHost(i).String()))
		}
		b.WriteString(extra)
		return []byte(b.String())
	}
	start := time.Now()
	hc, err := parseConfig("big.yaml", file(100000, ""))
	require.NoError(t, err)
	assert.Len(t, hc.Spokes, 100000)
	t.Logf("100 000 spokes: %v", time.Since(start).Round(time.Millisecond))
	_, err = parseConfig("big.yaml", file(10000, spokeYAML(10001, "10.0.0.0/16")))
	require.ErrorIs(t, err, errOverlap)
	assert.Equal(t, `big.yaml:40006: spoke "spoke10001": routes 10.0.0.0/16: overlaps 10.0.0.1/32 of spoke "spoke1" (line 6)`, err.Error())
}
