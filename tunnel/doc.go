// Package tunnel is the tunnel engine: it runs GRE (RFC 2784, 2890), GRE
// over IPv6, Ethernet over GRE (gretap), IPIP (RFC 2003), 6in4 (RFC 4213),
// IP in IPv6 (RFC 2473), minimal encapsulation (RFC 2004) and GRE-in-UDP
// (RFC 8086) tunnels in user space, over pluggable, batched packet I/O.
//
// An [Engine] owns underlays ([Underlay]: where outer packets go, a raw IP
// socket, a UDP socket, or the in-memory pipe of package tunneltest),
// tunnels ([Tunnel], each with its [Overlay]: where inner packets come from
// and go to, a TUN device or an in-memory queue) and the demux table that
// maps each received packet to its tunnel by the 4-step lookup of Linux's
// ip_tunnel.c (package demux). Tunnels are configured like `ip tunnel add`
// ([Config]) and count like `ip -s tunnel show` ([Stats]).
//
// # Receive path
//
// One goroutine per underlay reads a batch, parses each outer header once
// (outer.Parse), parses the GRE header for its key, looks the tunnel up and
// runs the tunnel's rules in this order, each drop counted once:
//
//   - checksum (GRE modes): as in Linux's ip_tunnel_rcv, a packet must carry
//     a checksum exactly when the tunnel has icsum, and a checksum that is
//     there must be right (RxCsumErrors);
//   - the inner packet: the GRE protocol type must match the inner IP
//     version (0x0800 carrying IPv6 is dropped), the mode must carry it
//     (ipip6 carries IPv4 only), its header must be whole and its TTL not 0
//     (RxFrameErrors);
//   - RFC 6040 decapsulation: outer CE over a Not-ECT inner packet is
//     dropped (RxFrameErrors), the "(!!!)" combinations are counted
//     (RxECNAlarms);
//   - sequence numbers (iseq): a packet without one, at or behind the last
//     delivered one, or a duplicate is dropped (RxOutOfSeq); with
//     Config.Reorder, packets ahead of a gap wait in a bounded buffer (the
//     engine owns their buffers until it delivers or drops them); with
//     Config.SeqResync, a run of drops restarts the window for a peer that
//     restarted;
//   - delivery: the inner packets of a batch are written to each tunnel's
//     overlay in one call, from where they lie in the receive buffer.
//
// Packets no tunnel takes, and those whose outer or GRE header is
// malformed, are counted in [EngineStats].
//
// # Send path
//
// One goroutine per tunnel reads a batch of inner packets from its overlay,
// Headroom bytes into each buffer, and for each: checks that the mode
// carries it; refuses a dead loop (an inner destination equal to the
// tunnel's own remote, the route loop the BSDs' link1 flag guards against,
// or more than MaxNesting tunnel headers already inside); applies the MTU;
// encapsulates it in place with the mode's Encapsulator; and writes the
// batch to the underlay.
//
// MTU: the tunnel MTU is Config.MTU or the underlay MTU less the exact
// overhead (1476 for GRE over 1500), lowered by [Tunnel.SetPathMTU]. A
// larger IPv4 packet with DF set, or a larger IPv6 packet, is answered with
// ICMP "fragmentation needed" (RFC 1191) or ICMPv6 "packet too big" (RFC
// 8201) carrying the tunnel MTU, written back to the overlay towards the
// packet's source; its source address is the packet's destination, since
// the sender matches such errors by the quoted header. A larger IPv4
// packet without DF is fragmented before encapsulation (RFC 4459 §3:
// inner fragmentation keeps the tunnel's outer packets whole, and the
// inner destination reassembles), as a router in front of the tunnel
// would. Linux instead encapsulates it whole and lets the outer IP layer
// fragment the outer packet when its DF is clear.
//
// # Fallback tunnels
//
// A tunnel with Config.Fallback is its mode's fallback, like Linux's gre0
// and tunl0: it receives what no other tunnel of the mode takes. It is off
// by default because turning it on lets any host that reaches the underlay
// put packets into the fallback's overlay, whatever its address or key.
//
// Nothing on the per-packet paths allocates (see the AllocsPerRun tests),
// buffers come from a pool, and every method is safe for concurrent use.
package tunnel
