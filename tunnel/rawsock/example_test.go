//go:build linux

package rawsock_test

import (
	"log"
	"net/netip"

	"github.com/ipencap/ipencap/outer"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/rawsock"
	"github.com/ipencap/ipencap/tunnel/tunneltest"
)

// A GRE tunnel over a raw IPv4 socket: the engine writes the outer
// headers, the socket carries them, and path-MTU reports go back to the
// engine. It needs root, so it only compiles here.
func Example() {
	local := netip.MustParseAddr("192.0.2.1")
	remote := netip.MustParseAddr("198.51.100.2")

	e := tunnel.NewEngine(tunnel.EngineConfig{})
	defer e.Close()
	// The engine takes the socket's path-MTU reports itself (and checks
	// each ICMP error's quote against what the tunnel sent).
	conn, err := rawsock.Open(rawsock.Config{Proto: outer.ProtoGRE, Local: local})
	if err != nil {
		log.Fatal(err)
	}
	// The engine closes conn when it closes.
	if err := e.AddUnderlay(conn, tunnel.UnderlayConfig{Name: "eth0"}); err != nil {
		log.Fatal(err)
	}
	// A TUN device would be the overlay; here, an in-memory one.
	over := tunneltest.NewChannelOverlay(tunneltest.OverlayConfig{})
	if _, err := e.Add(tunnel.Config{Name: "gre1", Mode: tunnel.ModeGRE, Local: local, Remote: remote, TTL: 64}, over); err != nil {
		log.Fatal(err)
	}
}
