//go:build linux

package main

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/tunnel"
)

func TestParseFlagsModes(t *testing.T) {
	v4 := []string{"-local", "198.51.100.1", "-remote", "198.51.100.2"}
	v6 := []string{"-local", "2001:db8::1", "-remote", "2001:db8::2"}
	for _, tt := range []struct {
		mode string
		addr []string
		want tunnel.Mode
		show string // the start of `ip tunnel show`'s line
	}{
		{"gre", v4, tunnel.ModeGRE, "tun0: gre/ip remote 198.51.100.2 local 198.51.100.1 ttl inherit"},
		{"ipip", v4, tunnel.ModeIPIP, "tun0: ip/ip remote 198.51.100.2 local 198.51.100.1 ttl inherit"},
		{"sit", v4, tunnel.ModeSIT, "tun0: ipv6/ip remote 198.51.100.2 local 198.51.100.1 ttl inherit"},
		{"mobile", v4, tunnel.ModeMobile, "tun0: mobile/ip remote 198.51.100.2 local 198.51.100.1 ttl inherit"},
		{"ip6gre", v6, tunnel.ModeIP6GRE, "tun0: gre/ipv6 remote 2001:db8::2 local 2001:db8::1 ttl inherit"},
		{"ip6ip6", v6, tunnel.ModeIP6IP6, "tun0: ipv6/ipv6 remote 2001:db8::2 local 2001:db8::1 ttl inherit"},
		{"ipip6", v6, tunnel.ModeIPIP6, "tun0: ip/ipv6 remote 2001:db8::2 local 2001:db8::1 ttl inherit"},
		{"gre-in-udp", v4, tunnel.ModeGREInUDP, "tun0: gre-in-udp remote 198.51.100.2 local 198.51.100.1 dport 4754 ttl inherit"},
		{"gre-in-udp", v6, tunnel.ModeGREInUDP, "tun0: gre-in-udp remote 2001:db8::2 local 2001:db8::1 dport 4754 ttl inherit"},
	} {
		t.Run(tt.mode+"/"+tt.addr[1], func(t *testing.T) {
			o, err := parseFlags(append([]string{"-mode", tt.mode}, tt.addr...))
			require.NoError(t, err)
			assert.Equal(t, tt.want, o.cfg.Mode)
			assert.Equal(t, tt.show, o.cfg.String())
		})
	}
}

func TestParseFlagsOptions(t *testing.T) {
	key := tunnel.KeyOf
	base := []string{"-name", "gre1", "-local", "198.51.100.1", "-remote", "198.51.100.2"}
	for _, tt := range []struct {
		name string
		args []string
		want func(o *options) // edits the expected options from the base
	}{
		{"defaults", nil, func(o *options) {}},
		{"key sets both", []string{"-key", "5"}, func(o *options) { o.cfg.IKey, o.cfg.OKey = key(5), key(5) }},
		{"dotted key", []string{"-key", "10.0.0.1"}, func(o *options) { o.cfg.IKey, o.cfg.OKey = key(0x0a000001), key(0x0a000001) }},
		{"ikey okey", []string{"-ikey", "1", "-okey", "0x2"}, func(o *options) { o.cfg.IKey, o.cfg.OKey = key(1), key(2) }},
		{"csum sets both", []string{"-csum"}, func(o *options) { o.cfg.ICsum, o.cfg.OCsum = true, true }},
		{"icsum", []string{"-icsum"}, func(o *options) { o.cfg.ICsum = true }},
		{"ocsum", []string{"-ocsum"}, func(o *options) { o.cfg.OCsum = true }},
		{"seq sets both", []string{"-seq", "-reorder", "8"}, func(o *options) { o.cfg.ISeq, o.cfg.OSeq, o.cfg.Seq.Reorder = true, true, 8 }},
		{"iseq oseq", []string{"-iseq", "-oseq"}, func(o *options) { o.cfg.ISeq, o.cfg.OSeq = true, true }},
		{"ttl inherit", []string{"-ttl", "inherit"}, func(o *options) { o.cfg.TTL = 0 }},
		{"ttl 255", []string{"-ttl", "255"}, func(o *options) { o.cfg.TTL = 255 }},
		{"tos inherit", []string{"-tos", "inherit"}, func(o *options) { o.cfg.InheritTOS = true }},
		{"tos 0x10", []string{"-tos", "0x10"}, func(o *options) { o.cfg.TOS = 0x10 }},
		{"nopmtudisc", []string{"-nopmtudisc"}, func(o *options) { o.cfg.NoPMTUDisc = true }},
		{"dev mtu", []string{"-dev", "eth0", "-mtu", "1400"}, func(o *options) { o.cfg.Link, o.cfg.MTU = "eth0", 1400 }},
		{"mtu 68", []string{"-mtu", "68"}, func(o *options) { o.cfg.MTU = 68 }},
		{"mtu 65535", []string{"-mtu", "65535"}, func(o *options) { o.cfg.MTU = 65535 }},
		{"mtu 1280 sit", []string{"-mode", "sit", "-mtu", "1280"}, func(o *options) { o.cfg.Mode, o.cfg.MTU = tunnel.ModeSIT, 1280 }},
		{"mtu 68 ipip6", []string{"-mode", "ipip6", "-local", "2001:db8::1", "-remote", "2001:db8::2", "-mtu", "68"}, func(o *options) {
			o.cfg.Mode, o.cfg.MTU = tunnel.ModeIPIP6, 68
			o.cfg.Local, o.cfg.Remote = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
		}},
		{"name of 15 bytes", []string{"-name", "abcdefghijklmno"}, func(o *options) { o.cfg.Name = "abcdefghijklmno" }},
		{"name with dots and dashes", []string{"-name", "gre-1.v_2"}, func(o *options) { o.cfg.Name = "gre-1.v_2" }},
		{"dev of 15 bytes", []string{"-dev", "abcdefghijklmno"}, func(o *options) { o.cfg.Link = "abcdefghijklmno" }},
		{"addrs routes", []string{"-addr", "192.0.2.1/30", "-addr", "2001:db8:1::1/64", "-route", "203.0.113.0/24"}, func(o *options) {
			o.addrs = []netip.Prefix{netip.MustParsePrefix("192.0.2.1/30"), netip.MustParsePrefix("2001:db8:1::1/64")}
			o.routes = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}
		}},
		{"stats", []string{"-stats", "10s"}, func(o *options) { o.stats = 10 * time.Second }},
		{"gre-in-udp ports", []string{"-mode", "gre-in-udp", "-port", "4755", "-lport", "5000"}, func(o *options) {
			o.cfg.Mode, o.cfg.Port, o.lport = tunnel.ModeGREInUDP, 4755, 5000
		}},
		{"gre-in-udp default ports", []string{"-mode", "gre-in-udp"}, func(o *options) {
			o.cfg.Mode, o.cfg.Port, o.lport = tunnel.ModeGREInUDP, 4754, 4754
		}},
		{"any", []string{"-local", "any", "-remote", "any", "-allow-any-remote"}, func(o *options) { o.cfg.Local, o.cfg.Remote = netip.Addr{}, netip.Addr{} }},
		{"remote 0.0.0.0", []string{"-remote", "0.0.0.0", "-allow-any-remote"}, func(o *options) { o.cfg.Remote = netip.IPv4Unspecified() }},
		{"keepalive", []string{"-keepalive", "10s", "-keepalive-retries", "3"}, func(o *options) {
			o.cfg.Keepalive.Period, o.cfg.Keepalive.Retries = 10*time.Second, 3
		}},
		{"keepalive in seconds", []string{"-keepalive", "10"}, func(o *options) {
			o.cfg.Keepalive = tunnel.KeepaliveConfig{Period: 10 * time.Second, Retries: tunnel.DefaultKeepaliveRetries}
		}},
		{"keepalive 200ms", []string{"-keepalive", "200ms"}, func(o *options) {
			o.cfg.Keepalive = tunnel.KeepaliveConfig{Period: 200 * time.Millisecond, Retries: tunnel.DefaultKeepaliveRetries}
		}},
		{"keepalive off", []string{"-keepalive", "0"}, func(o *options) {}},
		{"reflect", []string{"-reflect"}, func(o *options) { o.cfg.Reflect.Enable = true }},
		{"reflect with remote any", []string{"-reflect", "-remote", "any", "-allow-any-remote"}, func(o *options) {
			o.cfg.Reflect.Enable, o.cfg.Reflect.AnySource, o.cfg.Remote = true, true, netip.Addr{}
		}},
		{"keepalive and reflect", []string{"-keepalive", "5s", "-reflect"}, func(o *options) {
			o.cfg.Keepalive, o.cfg.Reflect.Enable = tunnel.KeepaliveConfig{Period: 5 * time.Second, Retries: tunnel.DefaultKeepaliveRetries}, true
		}},
		{"log json", []string{"-log", "json"}, func(o *options) { o.log = "json" }},
		{"metrics", []string{"-metrics", "127.0.0.1:9108"}, func(o *options) { o.metrics = "127.0.0.1:9108" }},
		{"metrics any address", []string{"-metrics", ":9108"}, func(o *options) { o.metrics = ":9108" }},
		{"metrics IPv6", []string{"-metrics", "[::1]:9108"}, func(o *options) { o.metrics = "[::1]:9108" }},
		{"pmtu-expires", []string{"-pmtu-expires", "2s"}, func(o *options) { o.pmtuExp = 2 * time.Second }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := &options{cfg: tunnel.Config{Name: "gre1", Mode: tunnel.ModeGRE,
				Local: netip.MustParseAddr("198.51.100.1"), Remote: netip.MustParseAddr("198.51.100.2")}, log: "text", pmtuExp: tunnel.DefaultPathMTUExpiry}
			tt.want(want)
			got, err := parseFlags(append(append([]string(nil), base...), tt.args...))
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}
}

// badFlags is a command line that run must refuse with status 2 and the
// one-line message msg (a prefix of it).
type badFlags struct {
	name string
	args []string
	msg  string
}

// checkBadFlags checks each row: parseFlags refuses it, and run exits 2
// before it touches the system, with a one-line message and nothing on
// stdout.
func checkBadFlags(t *testing.T, rows []badFlags) {
	t.Helper()
	for _, tt := range rows {
		t.Run(tt.name, func(t *testing.T) {
			// run would set the tunnel up in the test's own network
			// namespace if the flags passed: stop here if they do.
			_, err := parseFlags(tt.args)
			require.Error(t, err, "parseFlags accepts %q", tt.args)
			var out, errb bytes.Buffer
			assert.Equal(t, exitUsage, run(tt.args, &out, &errb))
			assert.Empty(t, out.String())
			msg := errb.String()
			assert.True(t, strings.HasPrefix(msg, tt.msg), "message %q, want %q", msg, tt.msg)
			assert.Equal(t, 1, strings.Count(msg, "\n"), "one line: %q", msg)
		})
	}
}

// TestRunRemote checks that -remote is required and that remote any needs
// -allow-any-remote too: a tunnel that takes every host's packets is
// never the result of a flag left out.
func TestRunRemote(t *testing.T) {
	checkBadFlags(t, []badFlags{
		{"no remote", nil, `gretun: tunnel "tun0": remote: required: the peer's address, or any with -allow-any-remote`},
		{"no remote, the rest given", []string{"-name", "gre1", "-local", "198.51.100.1", "-key", "5", "-addr", "192.0.2.1/30"},
			`gretun: tunnel "gre1": remote: required: the peer's address, or any with -allow-any-remote`},
		{"empty remote", []string{"-remote", ""}, `gretun: tunnel "tun0": remote: required: the peer's address, or any with -allow-any-remote`},
		{"allow-any-remote alone", []string{"-allow-any-remote"}, `gretun: tunnel "tun0": remote: required`},
		{"remote any", []string{"-remote", "any"}, `gretun: tunnel "tun0": remote any: takes packets from every host: add -allow-any-remote to mean it`},
		{"remote 0.0.0.0", []string{"-remote", "0.0.0.0"}, `gretun: tunnel "tun0": remote 0.0.0.0: takes packets from every host: add -allow-any-remote to mean it`},
		{"remote ::", []string{"-mode", "ip6gre", "-remote", "::"}, `gretun: tunnel "tun0": remote ::: takes packets from every host: add -allow-any-remote to mean it`},
		{"remote any, local and key given", []string{"-local", "198.51.100.1", "-remote", "any", "-key", "5"}, `gretun: tunnel "tun0": remote any: takes packets from every host`},
		{"allow-any-remote=false", []string{"-remote", "any", "-allow-any-remote=false"}, `gretun: tunnel "tun0": remote any: takes packets from every host`},
		{"allow-any-remote with a remote", []string{"-remote", "198.51.100.2", "-allow-any-remote"}, `gretun: tunnel "tun0": allow-any-remote: only with -remote any`},
	})
}

// TestRunBadFlags checks that each bad flag ends the daemon before it
// touches the system, with status 2 and a one-line message. The arguments
// follow "-remote 198.51.100.2" (a later -remote wins), so that each row
// meets its own error rather than the missing -remote.
func TestRunBadFlags(t *testing.T) {
	rows := []badFlags{
		{"unknown mode", []string{"-mode", "vxlan"}, `gretun: tunnel "tun0": mode vxlan: unknown mode`},
		{"bad key", []string{"-key", "1.2.3"}, `gretun: tunnel "tun0": key 1.2.3: gre: ParseKey("1.2.3"): invalid GRE key`},
		{"bad ikey", []string{"-ikey", "x"}, `gretun: tunnel "tun0": ikey x: gre: ParseKey("x"): invalid GRE key`},
		{"key too big", []string{"-okey", "4294967296"}, `gretun: tunnel "tun0": okey 4294967296: gre: ParseKey("4294967296")`},
		{"bad local", []string{"-local", "198.51.100"}, `gretun: tunnel "tun0": local 198.51.100: ParseAddr("198.51.100"): IPv4 address too short`},
		{"bad remote", []string{"-remote", "host"}, `gretun: tunnel "tun0": remote host: ParseAddr("host")`},
		{"wrong family", []string{"-mode", "ip6gre", "-remote", "198.51.100.2"}, `gretun: tunnel "tun0": remote 198.51.100.2: address of the wrong family for the mode`},
		{"bad addr", []string{"-addr", "192.0.2.1"}, `gretun: invalid value "192.0.2.1" for flag -addr: netip.ParsePrefix("192.0.2.1"): no '/'`},
		{"bad route", []string{"-route", "203.0.113.0/33"}, `gretun: invalid value "203.0.113.0/33" for flag -route`},
		{"fixed ttl with nopmtudisc", []string{"-ttl", "64", "-nopmtudisc"}, `gretun: tunnel "tun0": ttl 64: outer: a fixed ttl needs path MTU discovery (use ttl inherit with nopmtudisc)`},
		{"pmtu-expires below a second", []string{"-pmtu-expires", "10ms"}, `gretun: tunnel "tun0": pmtu-expires 10ms: out of range`},
		{"ttl out of range", []string{"-ttl", "300"}, `gretun: tunnel "tun0": ttl 300: out of range`},
		{"tos", []string{"-tos", "0x1"}, `gretun: tunnel "tun0": tos 0x1:`},
		{"key on ipip", []string{"-mode", "ipip", "-key", "5"}, `gretun: tunnel "tun0": ikey 0.0.0.5: only GRE modes have keys, checksums and sequence numbers`},
		{"csum on sit", []string{"-mode", "sit", "-csum"}, `gretun: tunnel "tun0": icsum: only GRE modes have keys, checksums and sequence numbers`},
		{"reorder without iseq", []string{"-reorder", "4"}, `gretun: tunnel "tun0": reorder 4: out of range`},
		{"port on gre", []string{"-port", "4755"}, `gretun: tunnel "tun0": port 4755: only mode gre-in-udp has UDP ports`},
		{"lport 0", []string{"-mode", "gre-in-udp", "-lport", "0"}, `gretun: tunnel "tun0": lport 0: out of range`},
		{"mtu not a number", []string{"-mtu", "big"}, `gretun: invalid value "big" for flag -mtu: parse error`},
		{"unknown flag", []string{"-foo"}, `gretun: flag provided but not defined: -foo`},
		{"argument", []string{"extra"}, `gretun: unexpected argument "extra"`},
		{"empty name", []string{"-name", ""}, `gretun: tunnel "": name "": name empty or already in use`},
		// The device name, as the kernel's dev_valid_name checks it.
		{"name of 16 bytes", []string{"-name", "abcdefghijklmnop"}, `gretun: tunnel "abcdefghijklmnop": name "abcdefghijklmnop": not a device name: longer than 15 bytes (IFNAMSIZ-1)`},
		{"name of 8 runes, 16 bytes", []string{"-name", "éééééééé"}, `gretun: tunnel "éééééééé": name "éééééééé": not a device name: longer than 15 bytes (IFNAMSIZ-1)`},
		{"name with /", []string{"-name", "gre/1"}, `gretun: tunnel "gre/1": name "gre/1": not a device name: contains '/'`},
		{"name with :", []string{"-name", "gre:1"}, `gretun: tunnel "gre:1": name "gre:1": not a device name: contains ':'`},
		{"name with a space", []string{"-name", "gre 1"}, `gretun: tunnel "gre 1": name "gre 1": not a device name: contains ' '`},
		{"name with a tab", []string{"-name", "gre\t1"}, `gretun: tunnel "gre\t1": name "gre\t1": not a device name: contains '\t'`},
		{"name with a newline", []string{"-name", "gre1\n"}, `gretun: tunnel "gre1\n": name "gre1\n": not a device name: contains '\n'`},
		{"name with NUL", []string{"-name", "gre\x001"}, `gretun: tunnel "gre\x001": name "gre\x001": not a device name: contains '\x00'`},
		{"name pattern", []string{"-name", "gre%d"}, `gretun: tunnel "gre%d": name "gre%d": not a device name: contains '%'`},
		{"name .", []string{"-name", "."}, `gretun: tunnel ".": name ".": not a device name: . and .. are not allowed`},
		{"name ..", []string{"-name", ".."}, `gretun: tunnel "..": name "..": not a device name: . and .. are not allowed`},
		{"dev of 16 bytes", []string{"-dev", "abcdefghijklmnop"}, `gretun: tunnel "tun0": dev "abcdefghijklmnop": not a device name: longer than 15 bytes (IFNAMSIZ-1)`},
		{"dev with /", []string{"-dev", "../eth0"}, `gretun: tunnel "tun0": dev "../eth0": not a device name: contains '/'`},
		{"dev ..", []string{"-dev", ".."}, `gretun: tunnel "tun0": dev "..": not a device name: . and .. are not allowed`},
		// The MTU: 68 (RFC 791), 1280 for the modes that carry IPv6
		// alone (RFC 8200), at most 65535; 0 is the default, automatic.
		{"mtu 10", []string{"-mtu", "10"}, `gretun: tunnel "tun0": mtu 10: out of range: 0 (automatic) or 68 to 65535 for mode gre`},
		{"mtu 67", []string{"-mtu", "67"}, `gretun: tunnel "tun0": mtu 67: out of range: 0 (automatic) or 68 to 65535 for mode gre`},
		{"mtu -1", []string{"-mtu", "-1"}, `gretun: tunnel "tun0": mtu -1: out of range: 0 (automatic) or 68 to 65535 for mode gre`},
		{"mtu 65536", []string{"-mtu", "65536"}, `gretun: tunnel "tun0": mtu 65536: out of range: 0 (automatic) or 68 to 65535 for mode gre`},
		{"mtu 67 ipip", []string{"-mode", "ipip", "-mtu", "67"}, `gretun: tunnel "tun0": mtu 67: out of range: 0 (automatic) or 68 to 65535 for mode ipip`},
		{"mtu 1279 sit", []string{"-mode", "sit", "-mtu", "1279"}, `gretun: tunnel "tun0": mtu 1279: out of range: 0 (automatic) or 1280 to 65535 for mode sit`},
		{"mtu 1279 ip6ip6", []string{"-mode", "ip6ip6", "-remote", "2001:db8::2", "-mtu", "1279"}, `gretun: tunnel "tun0": mtu 1279: out of range: 0 (automatic) or 1280 to 65535 for mode ip6ip6`},
		{"mtu 10 gre-in-udp", []string{"-mode", "gre-in-udp", "-mtu", "10"}, `gretun: tunnel "tun0": mtu 10: out of range: 0 (automatic) or 68 to 65535 for mode gre-in-udp`},
		{"keepalive not a duration", []string{"-keepalive", "often"}, `gretun: invalid value "often" for flag -keepalive: not a duration (10s) or a number of seconds`},
		{"keepalive negative", []string{"-keepalive", "-1s"}, `gretun: invalid value "-1s" for flag -keepalive: negative`},
		{"keepalive too short", []string{"-keepalive", "1ms"}, `gretun: tunnel "tun0": keepalive 1ms: out of range`},
		{"keepalive on ipip", []string{"-mode", "ipip", "-keepalive", "10"}, `gretun: tunnel "tun0": keepalive 10s: keepalives and reflection need mode gre`},
		{"keepalive on ip6gre", []string{"-mode", "ip6gre", "-local", "2001:db8::1", "-remote", "2001:db8::2", "-keepalive", "10s"}, `gretun: tunnel "tun0": keepalive 10s: keepalives and reflection need mode gre`},
		{"keepalive without remote", []string{"-remote", "any", "-allow-any-remote", "-keepalive", "10s"}, `gretun: tunnel "tun0": keepalive 10s: keepalives and reflection need mode gre`},
		{"keepalive-retries 0", []string{"-keepalive-retries", "0"}, `gretun: tunnel "tun0": keepalive-retries 0: out of range`},
		{"keepalive-retries 256", []string{"-keepalive-retries", "256"}, `gretun: tunnel "tun0": keepalive-retries 256: out of range`},
		{"keepalive-retries not a number", []string{"-keepalive-retries", "five"}, `gretun: invalid value "five" for flag -keepalive-retries: parse error`},
		{"reflect on ipip", []string{"-mode", "ipip", "-reflect"}, `gretun: tunnel "tun0": reflect: keepalives and reflection need mode gre`},
		{"reflect with a value", []string{"-reflect=maybe"}, `gretun: invalid boolean value "maybe" for -reflect: parse error`},
		{"log format", []string{"-log", "xml"}, `gretun: log xml: want text or json`},
		{"metrics without port", []string{"-metrics", "127.0.0.1"}, `gretun: metrics 127.0.0.1: want host:port`},
		{"metrics port 0", []string{"-metrics", "127.0.0.1:0"}, `gretun: metrics 127.0.0.1:0: port out of range`},
		{"metrics port too big", []string{"-metrics", "127.0.0.1:70000"}, `gretun: metrics 127.0.0.1:70000: port out of range`},
		{"metrics port name", []string{"-metrics", "localhost:http"}, `gretun: metrics localhost:http: port out of range`},
	}
	for i := range rows {
		rows[i].args = append([]string{"-remote", "198.51.100.2"}, rows[i].args...)
	}
	checkBadFlags(t, rows)
}

func TestRunHelp(t *testing.T) {
	var out, errb bytes.Buffer
	assert.Equal(t, exitOK, run([]string{"-h"}, &out, &errb))
	assert.Contains(t, errb.String(), "usage: gretun -name NAME -mode MODE")
}
