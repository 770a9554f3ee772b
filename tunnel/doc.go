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
// One goroutine per underlay reads a batch and parses each outer header
// once (outer.Parse). The outer IP protocol picks the decapsulation from a
// table (GRE, IPIP/6in4/IP in IPv6, minimal encapsulation), which fills a
// descriptor, as Linux's protocol handlers fill a struct tnl_ptk_info: the
// demux class, the inner protocol type, key, sequence number, checksum
// state and the inner packet. The demux finds the tunnel from the
// descriptor and the addresses, and one function of the tunnel (Linux's
// ip_tunnel_rcv) runs its rules from the descriptor and the tunnel's
// options, whatever the mode, in this order, each drop counted once:
//
//   - checksum (GRE modes): as in Linux's ip_tunnel_rcv, a packet must carry
//     a checksum exactly when the tunnel has icsum, and a checksum that is
//     there must be right (RxCsumErrors);
//   - the inner packet: the GRE protocol type must match the inner IP
//     version (0x0800 carrying IPv6 is dropped), the mode must carry it
//     (ipip6 carries IPv4 only), its header must be whole and its TTL not 0
//     (RxFrameErrors);
//   - RFC 6040 decapsulation (for gretap, on the IP packet inside the
//     Ethernet frame, as Linux): outer CE over a Not-ECT inner packet is
//     dropped (RxFrameErrors), the "(!!!)" combinations are counted
//     (RxECNAlarms);
//   - sequence numbers (iseq): a packet without one, at or behind the last
//     delivered one, or a duplicate is dropped (RxOutOfSeq); with
//     Config.Seq.Reorder, packets ahead of a gap wait in a bounded buffer
//     (the engine owns their buffers until it delivers or drops them); with
//     Config.Seq.Resync, a run of drops restarts the window for a peer that
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
// carries it; picks the outer destination (the remote, or for NBMA and
// broadcast tunnels a neighbour entry or a learnt MAC address, below);
// refuses a dead loop (an inner destination equal to that outer
// destination, the route loop the BSDs' link1 flag guards against, or
// more than MaxNesting tunnel headers already inside); applies the MTU;
// encapsulates it in place with the mode's Encapsulator; and writes the
// batch to the underlay.
//
// MTU: the tunnel MTU is Config.MTU or the underlay MTU less the exact
// overhead (1476 for GRE over 1500), lowered by the underlay's path-MTU
// reports ([Engine.PathMTU]: only for a quoted packet the tunnel sent,
// floored, never raised by a report, expiring after ten minutes) or by
// [Tunnel.SetPathMTU]. A
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
// # Keepalives and the line protocol
//
// With Config.Keepalive.Period (ModeGRE, GRE over IPv4), a tunnel sends a
// Cisco-style keepalive every period: an IPv4 packet from the remote to
// this end, protocol 47, holding a GRE header of protocol 0 with the
// tunnel's ikey (and a checksum under icsum), built by
// [gre.AppendKeepalive] and sent through the tunnel's own encapsulation
// (okey, ocsum and oseq apply to the outer GRE header as to any packet)
// straight to the underlay, not through the overlay and not through the
// shaper. The far end decapsulates it and routes the inner packet back:
// the reply, a GRE packet of protocol 0 from the remote. A reply is
// recognised after the key (the lookup) and checksum checks and before
// the sequence check, since the peer reflects what this end built; it must
// come from the tunnel's remote, is counted in Stats.KeepaliveReplies and
// is not delivered. After Keepalive.Retries periods without a reply the
// line protocol goes down ([Tunnel.LineUp], EngineConfig.OnLineChange,
// Stats.LineChanges); a reply brings it back up. Keepalives keep flowing
// while it is down. The engine is not a router: a tunnel whose line is
// down still sends what its overlay gives it; the application uses LineUp
// to route around it, as a Cisco router withdraws the routes through a
// down tunnel. Each side's timer is its own ([DefaultKeepalive],
// [DefaultKeepaliveRetries]).
//
// The reflector (Config.Reflect.Enable) is the far end's part for a peer that
// sends keepalives: a decapsulated keepalive request — an inner IPv4
// packet of protocol 47 holding GRE of protocol 0 — is written straight
// back to the underlay towards its inner destination rather than to the
// overlay, once it has passed every check of the tunnel (sequence numbers
// included). Only requests from the tunnel's remote to its local address
// whose inner addresses are those swapped are reflected (Reflect.AnySource drops
// the first condition for tunnels with remote any), never to a broadcast,
// multicast, loopback, unspecified or link-local destination
// ([gre.Reflectable]), never with IP options, and at most [ReflectRate] a
// second (burst [ReflectBurst]) from each source, so that strangers
// cannot spend the remote's share; the others are dropped and counted in
// Stats.ReflectRefused. Reflected requests count in
// Stats.KeepalivesReflected.
//
// # Shaping
//
// Config.Shape's Rate, Burst and Limit shape what a tunnel sends
// like `tc qdisc add dev tunl0 root tbf rate 128Kbit burst 4K limit 10K`:
// a token bucket of Burst bytes refilled at Rate bits per second.
// It is a golang.org/x/time/rate Limiter with bytes as tokens, which is
// exactly a token bucket filter: AllowN takes a packet's bytes when they
// are there, ReserveN books them from the future and says how long the
// packet must wait, and a reservation that would wait too long is
// cancelled, giving its tokens back. A packet that must wait is copied into
// a pooled buffer and queued for the tunnel's shaper goroutine, which
// writes it when its reservation is due (packets behind it queue behind
// it, so order is kept). A packet that would wait longer than Limit
// bytes take at Rate (tbf's limit: the bytes that may wait for
// tokens), that is larger than the bucket, or that finds the queue full,
// is dropped and counted in Stats.TxShapedDrops (part of TxErrors); with
// Limit 0 nothing waits (a policer). The bytes counted are those of
// the outer packets handed to the underlay (Linux's tbf on tunl0 counts
// inner packets; the outer ones are what the uplink carries; for
// GRE-in-UDP, the UDP payload). Keepalives and reflected requests bypass
// the shaper. Shaping runs on the real clock.
//
// # Roaming
//
// With Config.Roam, the tunnel's remote follows its peer (GRE behind NAT,
// dynamic addresses): packets that pass all of the tunnel's checks — key,
// checksum, sequence number in the window — move the remote to their
// outer source address, and for GRE-in-UDP to their UDP source port; the
// next packet sent goes there ([Tunnel.Remote], Stats.RemoteChanges).
// Without iseq, three packets in a row must come from the new source; with
// iseq, the packet's sequence number must be at most 64 ahead of the last
// one delivered from the current peer (a stranger's own packets, which the
// window may deliver, do not move that mark). Keepalive requests the tunnel
// reflects and packets a shared overlay refuses teach nothing. Loopback, broadcast, multicast, unspecified and the
// tunnel's own addresses are never moved to (Stats.RoamRefused). The
// tunnel is entered in the demux table with remote any, so that packets
// from a new source still find it (a tunnel with the same local and key
// and a fixed remote takes the packets from that remote first).
//
// What this does not protect against: a GRE key is not authentication. It
// is sent in clear, and anyone who sees the traffic (or guesses the key)
// can send three packets, or one with a sequence number just past the
// last, and receive the tunnel's traffic. Sequence numbers do not stop a
// blind attacker with the key from disrupting the tunnel either: the RFC
// 2890 window accepts any number in the half ahead of the last one, so one
// such packet moves the window past the real peer, whose packets are then
// dropped as late. Roam is off by default; use it over an underlay that
// authenticates its peers, or only where that risk is accepted.
//
// # NBMA tunnels
//
// A tunnel with remote any (not a fallback) is NBMA (non-broadcast
// multi-access, as Linux's tunl0 or a GRE device without a remote): it
// receives from any source at its local address (lookup step 3) and sends
// each packet to the outer destination its neighbour table gives for the
// packet's inner destination ([Tunnel.AddNeighbor], [Tunnel.Neighbors]),
// the static entries of `ip neigh add 10.0.0.2 lladdr 198.51.100.2 dev
// gre1 nud permanent` or the gateways of `ip route add 10.0.0.0/24 via
// 198.51.100.2 dev tunl0 onlink`. The engine has no routing table, so the
// inner next hop is the packet's destination; entries are prefixes and the
// longest one that holds the destination wins, so a route via a next hop
// is one entry for the route's prefix. A packet without an entry is
// counted as TxNoRoute; one whose inner destination is the outer address
// of its own entry as TxDeadLoop. Each entry has its own Encapsulator
// (with oseq, its own sequence numbers); the table is copied on write and
// read without a lock or an allocation. A neighbour's path MTU is not
// tracked ([Engine.PathMTU] concerns Config.Remote).
//
// # Broadcast tunnels
//
// A tunnel whose remote is a multicast group is a broadcast tunnel, a
// virtual network of every tunnel sending to the group (broadcast GRE: `ip
// tunnel add Universe local 192.0.2.1 remote 233.252.0.1 ttl 16`). It
// sends to the group and receives what any member sends to the group
// (lookup step 3, whatever the source) and what members send to its own
// local address (an entry of local L and remote any: no other tunnel of
// the mode may have that local and key). Its own multicast, looped back
// by the underlay, is dropped and counted in Stats.RxLooped. An IP mode
// broadcast tunnel also takes neighbour entries: a packet with an entry
// goes unicast to it, the others to the group.
//
// A broadcast gretap tunnel is an Ethernet segment and learns like a
// bridge: the inner source MAC address of each frame that passes every
// check is recorded with the frame's outer source ([Tunnel.FDB],
// Stats.FDBLearned, FDBMoved); a frame to a unicast MAC address learnt
// within Config.FDB.Ageing ([DefaultFDBAgeing]) goes unicast to that
// member, broadcast, multicast and unknown destinations go to the group.
// Entries older than FDB.Ageing are ignored, and removed
// (Stats.FDBExpired) in a sweep at most once per half ageing time; at most
// Config.FDB.Max ([DefaultFDBMax]) are kept, and a full table refuses a
// new address in O(1) (Stats.FDBFull). New addresses are learnt at
// FDB.LearnRate per second at most ([DefaultFDBLearnRate]); FDB.NoLearning
// learns nothing; FDB.Members restricts learning to those outer sources
// (without them, any host that passes the tunnel's checks can move a
// learnt address to itself: a GRE key is no authentication). Loopback,
// unspecified, broadcast and the tunnel's own addresses are never learnt
// (Stats.FDBRefused). Neither refreshing an address nor the lookup
// allocates; a new address allocates its entry.
//
// The underlay must carry the group: a raw socket joined to it (and with
// a multicast TTL), or an in-memory segment in tests; the engine does not
// join groups.
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
