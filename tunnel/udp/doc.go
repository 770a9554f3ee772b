// Package udp is the GRE-in-UDP transport of RFC 8086: a [tunnel.Underlay]
// with [tunnel.FramingUDP], whose packets are the UDP payloads (a GRE
// header and what follows) and whose peers are the remote addresses and
// UDP ports.
//
// # Sockets
//
// [Open] binds a UDP socket to Config.Local (port 4754, the GRE-in-UDP port,
// when the port is 0). It receives everything, and it sends when
// Config.SourcePort is that same port. Bound to the wildcard, it is two
// sockets on that port, as Linux's VXLAN binds: an IPv4 one and an IPv6
// one with IPV6_V6ONLY (see IPv4-mapped sources below); ReadBatch reads
// from both, and every packet leaves from the socket of its peer's
// family. The source port of a UDP datagram is the port its socket is
// bound to, so the other source port policies need more sockets (one per
// family for the wildcard, on one port):
//
//   - SourcePort 0 (the default): per-flow source ports, as RFC 8086 §3.2
//     asks so that ECMP routers spread the flows of one tunnel over paths.
//     Open binds a pool of [FlowSockets] send sockets to ports in the
//     dynamic range 49152–65535, and WriteBatch sends each packet from the
//     socket chosen by a hash of its inner flow (addresses, protocol and,
//     for TCP, UDP, UDP-Lite and SCTP, ports; through a GRE header with any
//     checksum, key and sequence number, and through an Ethernet header for
//     transparent Ethernet bridging). A flow thus keeps one source port,
//     and different flows spread over FlowSockets ports. The pool sockets
//     never receive: a one-instruction socket filter drops what arrives.
//     A raw UDP socket could choose any source port per packet, but it
//     needs CAP_NET_RAW, loses UDP GSO and GRO, and must compute the UDP
//     checksum itself.
//   - SourcePort p: every packet leaves from port p, which suits NAT
//     traversal. When p is the bound port, the receiving socket sends;
//     otherwise one extra send socket is bound to p.
//
// # IPv4-mapped sources
//
// A dual-stack socket (an IPv6 socket without IPV6_V6ONLY) reports an IPv4
// peer as its IPv4-mapped IPv6 address (::ffff:a.b.c.d), and it reports a
// native IPv6 packet whose source is that same mapped address the same
// way. Such packets have no business on the wire, but nothing stops a
// sender from forging one, and Linux delivers it to UDP: from 5.3 it
// dropped it on input, and 5.12 took that back for all but TCP SYNs
// (commit dcc32f4f183a, "ipv6: weaken the v4mapped source check"). Read
// from a dual-stack socket, it would pass for a datagram of the IPv4 peer
// a.b.c.d, past the engine's IPv4 filters. So the IPv6 sockets here are
// IPv6-only: IPv4 peers arrive on the IPv4 socket, an IPv4-mapped source
// can only be forged, and ReadBatch drops it and counts it in
// [Stats].RxMapped.
//
// # Batching and offloads
//
// Throughput is the point of this transport, so it moves packets in
// batches with recvmmsg and sendmmsg, and uses the kernel's UDP
// segmentation offloads where it has them (Linux 4.18 for UDP_SEGMENT, 5.0
// for UDP_GRO):
//
//   - On send, consecutive packets of one batch that go to one peer from
//     one socket, all of one size except possibly a smaller last one, are
//     sent as one message with a UDP_SEGMENT control message (UDP GSO): up
//     to 64 datagrams and 64 KiB. The message's iovec points at the
//     callers' buffers, so nothing is copied in user space. If the kernel
//     refuses a GSO message (EIO when the device cannot checksum, EINVAL or
//     EMSGSIZE when a segment exceeds the route's MTU), its packets are
//     sent again one by one; after EIO GSO stays off for that socket.
//     Over IPv4 with Config.ZeroChecksum4 the kernel refuses GSO outright,
//     so those packets are never coalesced.
//   - On receive, UDP_GRO lets the kernel deliver up to 64 datagrams of a
//     flow as one coalesced message, which ReadBatch splits into packets.
//     A coalesced message needs one buffer per datagram, so with GRO a
//     receive reads Batch/64 messages (at least 1) into the last buffers
//     and copies the datagrams to the front, as wireguard-go's StdNetBind
//     does; datagrams that still do not fit wait in a buffer of the Conn
//     for the next ReadBatch. A coalesced message is up to 64 KiB, so if
//     the reader's buffers are smaller (an MTU, say), the messages are
//     read into buffers of the Conn instead, allocated once, and the
//     datagrams copied out from there: the same one copy. Without GRO a
//     receive reads Batch messages in place. Nothing is lost silently: a
//     datagram that does not fit its buffer is dropped alone, and so is
//     each datagram cut off from a coalesced message larger than 64 KiB
//     (a device's gro_max_size can allow that, for BIG TCP); each is
//     counted once in [Stats].RxTrunc.
//
// Without the offloads it falls back to plain recvmmsg and sendmmsg.
// [Conn.Offload] reports what is in use and [Conn.Stats] counts packets,
// messages and system calls.
//
// # Why not wireguard-go's conn.StdNetBind
//
// golang.zx2c4.com/wireguard/conn.StdNetBind does batched UDP with GSO and
// GRO too, and this package follows its design, but it cannot be the
// underlay here: its receive allocates an Endpoint for every packet and
// goes through x/net's ReadBatch, which allocates the source address of
// every message; it binds only the wildcard address on one port for both
// families, with no SO_BINDTODEVICE or SO_NO_CHECK; it sends from that one
// port, which rules out per-flow source ports; and its GSO path copies
// every coalesced packet into the first packet's buffer. Conn is written
// on golang.org/x/sys/unix instead: the sockets are net.UDPConn for their
// integration with the runtime poller (a blocked ReadBatch returns when
// Close is called), and the messages, iovecs, addresses and control
// buffers are allocated once, so ReadBatch and WriteBatch do not allocate
// in steady state.
// StdNetBind reads its two sockets (one per family) from two goroutines,
// each with its own receive function; the Underlay has one ReadBatch, so
// with two sockets the Conn puts both in an epoll instance of its own,
// which the runtime poller watches like a socket: ReadBatch waits on it,
// then reads from the socket that has datagrams.
//
// # Limits
//
// Linux only: the sockets' batching and offloads are Linux's; elsewhere
// the package builds, but [Open] fails with [errors.ErrUnsupported].
// Peers' IPv6 zones (link-local scope IDs) are not reported, since naming
// the interface would allocate.
package udp
