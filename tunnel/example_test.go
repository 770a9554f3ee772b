package tunnel_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"time"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/tunneltest"
)

// examplePing is an IPv4 UDP datagram 10.0.0.1 > 10.0.0.2, TTL 64, DF,
// carrying "ping": what a host behind the tunnel sends.
var examplePing = []byte{
	0x45, 0x02, 0x00, 0x20, // version 4, IHL 5, TOS 0x02, total length 32
	0x1c, 0x46, 0x40, 0x00, // ID, DF
	0x40, 0x11, 0x0a, 0x83, // TTL 64, UDP, checksum
	0x0a, 0x00, 0x00, 0x01, // 10.0.0.1
	0x0a, 0x00, 0x00, 0x02, // 10.0.0.2
	0x04, 0xd2, 0x16, 0x2e, 0x00, 0x0c, 0x00, 0x00, // UDP 1234 > 5678, length 12
	'p', 'i', 'n', 'g',
}

// Two engines, joined by an in-memory wire, each run one end of a GRE
// tunnel with key 42 (`ip tunnel add gre1 mode gre local 192.0.2.1 remote
// 198.51.100.2 key 42 ttl 64` and its mirror). A datagram that enters one
// end's overlay leaves the other's.
func ExampleEngine() {
	left := netip.MustParseAddr("192.0.2.1")
	right := netip.MustParseAddr("198.51.100.2")
	wire1, wire2 := tunneltest.NewPipe(tunneltest.PipeConfig{
		Framing: tunnel.FramingIP,
		AddrA:   netip.AddrPortFrom(left, 0),
		AddrB:   netip.AddrPortFrom(right, 0),
	})
	key := gre.Key(42)

	// end builds one engine with its underlay and its tunnel.
	end := func(w *tunneltest.Pipe, name string, local, remote netip.Addr) (*tunnel.Engine, *tunnel.Tunnel, *tunneltest.ChannelOverlay) {
		e := tunnel.NewEngine(tunnel.EngineConfig{})
		err := e.AddUnderlay(w, tunnel.UnderlayConfig{Name: "wire", Framing: tunnel.FramingIP, Local: []netip.Addr{local}})
		if err != nil {
			panic(err)
		}
		o := tunneltest.NewChannelOverlay(tunneltest.OverlayConfig{})
		t, err := e.Add(tunnel.Config{Name: name, Mode: tunnel.ModeGRE, Local: local, Remote: remote,
			IKey: tunnel.KeyOf(key), OKey: tunnel.KeyOf(key), TTL: 64}, o)
		if err != nil {
			panic(err)
		}
		return e, t, o
	}
	e1, t1, o1 := end(wire1, "gre1", left, right)
	defer e1.Close()
	e2, t2, o2 := end(wire2, "gre2", right, left)
	defer e2.Close()
	fmt.Println(t1)

	if err := o1.Inject(examplePing); err != nil {
		panic(err)
	}
	buf := make([]byte, 1500)
	n, ok := o2.Recv(buf, 5*time.Second)
	fmt.Println("received", n, "bytes, unchanged:", ok && bytes.Equal(buf[:n], examplePing))

	// The counters are updated right after each batch is written; wait
	// for them.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if t1.Stats().TxPackets == 1 && t2.Stats().RxPackets == 1 {
			break
		}
	}
	for _, t := range []*tunnel.Tunnel{t1, t2} {
		s := t.Stats()
		fmt.Printf("%s: rx %d packets %d bytes, tx %d packets %d bytes\n", t.Name(), s.RxPackets, s.RxBytes, s.TxPackets, s.TxBytes)
	}
	// Output:
	// gre1: gre/ip remote 198.51.100.2 local 192.0.2.1 ttl 64 key 42
	// received 32 bytes, unchanged: true
	// gre1: rx 0 packets 0 bytes, tx 1 packets 32 bytes
	// gre2: rx 1 packets 32 bytes, tx 0 packets 0 bytes
}

// A Config prints the way `ip tunnel show` prints a tunnel: "any" for a
// wildcard address, "ttl inherit" for TTL 0, one "key" when ikey and okey
// are equal.
func ExampleConfig_String() {
	k, k2 := gre.Key(5), gre.Key(6)
	for _, c := range []tunnel.Config{
		{Name: "gre1", Mode: tunnel.ModeGRE, Local: netip.MustParseAddr("192.0.2.1"), Remote: netip.MustParseAddr("198.51.100.2"),
			TTL: 255, IKey: tunnel.KeyOf(k), OKey: tunnel.KeyOf(k), ICsum: true, OCsum: true, ISeq: true, OSeq: true},
		{Name: "gre2", Mode: tunnel.ModeGRE, Remote: netip.MustParseAddr("198.51.100.2"), IKey: tunnel.KeyOf(k), OKey: tunnel.KeyOf(k2), InheritTOS: true, NoPMTUDisc: true},
		{Name: "tun0", Mode: tunnel.ModeIPIP, Local: netip.MustParseAddr("192.0.2.1")},
		{Name: "ip6gre1", Mode: tunnel.ModeIP6GRE, Local: netip.MustParseAddr("2001:db8::1"), Remote: netip.MustParseAddr("2001:db8::2"),
			TTL: 64, Link: "eth0", MTU: 1400},
		{Name: "gu0", Mode: tunnel.ModeGREInUDP, Remote: netip.MustParseAddr("2001:db8::2")},
		{Name: "gre0", Mode: tunnel.ModeGRE, Fallback: true},
	} {
		fmt.Println(c.String())
	}
	// Output:
	// gre1: gre/ip remote 198.51.100.2 local 192.0.2.1 ttl 255 key 5 icsum ocsum iseq oseq
	// gre2: gre/ip remote 198.51.100.2 local any ttl inherit tos inherit ikey 5 okey 6 nopmtudisc
	// tun0: ip/ip remote any local 192.0.2.1 ttl inherit
	// ip6gre1: gre/ipv6 remote 2001:db8::2 local 2001:db8::1 dev eth0 ttl 64 mtu 1400
	// gu0: gre-in-udp remote 2001:db8::2 local any dport 4754 ttl inherit
	// gre0: gre/ip remote any local any ttl inherit fallback
}

// ParseMode reads the mode names of `ip tunnel add ... mode M`; an unknown
// one is a *ConfigError wrapping ErrConfigMode.
func ExampleParseMode() {
	for _, s := range []string{"gre", "ip6gre", "gre-in-udp", "vxlan"} {
		m, err := tunnel.ParseMode(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s: mode %d\n", m, m)
	}
	// Output:
	// gre: mode 1
	// ip6gre: mode 7
	// gre-in-udp: mode 9
	// tunnel "": mode vxlan: unknown mode
}
