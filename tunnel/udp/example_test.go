package udp_test

import (
	"log"
	"net/netip"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/tunneltest"
	"github.com/ipencap/ipencap/tunnel/udp"
)

// Example runs a GRE-in-UDP tunnel: a Conn bound to port 4754 is the
// engine's underlay, and packets leave from per-flow source ports.
func Example() {
	local := netip.MustParseAddr("192.0.2.1")
	conn, err := udp.Open(udp.Config{Local: netip.AddrPortFrom(local, udp.Port)})
	if err != nil {
		log.Fatal(err)
	}
	e := tunnel.NewEngine(tunnel.EngineConfig{})
	defer e.Close() // closes conn too
	if err := e.AddUnderlay(conn, tunnel.UnderlayConfig{Name: "udp", Framing: tunnel.FramingUDP,
		Local: []netip.Addr{local}}); err != nil {
		log.Fatal(err)
	}
	key := gre.Key(7)
	over := tunneltest.NewChannelOverlay(tunneltest.OverlayConfig{}) // a TUN device in real use
	if _, err := e.Add(tunnel.Config{Name: "gu0", Mode: tunnel.ModeGREInUDP,
		Local: local, Remote: netip.MustParseAddr("198.51.100.7"),
		IKey: tunnel.KeyOf(key), OKey: tunnel.KeyOf(key), ICsum: true, OCsum: true}, over); err != nil {
		log.Fatal(err)
	}
	tx, rx := conn.Offload()
	log.Printf("bound %v, GSO %v, GRO %v", conn.LocalAddr(), tx, rx)
}
