// Package rawsock is a [tunnel.Underlay] over a raw IP socket (Linux): the
// transport of the IP-level modes, GRE (IP protocol 47, RFC 2784 and
// RFC 2890), IPIP (4, RFC 2003), 6in4 / IPv6 in IP (41, RFC 4213 and
// RFC 2473) and minimal encapsulation (55, RFC 2004), over IPv4 (RFC 791) or
// IPv6 (RFC 8200). Its packets are whole IP packets, outer header included,
// in both directions ([tunnel.FramingIP]): the engine writes the outer
// header, and parses the one it receives.
//
// Linux only: its code (raw sockets with IP_HDRINCL, recvmmsg, sendmmsg,
// the socket error queue) is built for Linux alone; elsewhere the package
// is empty.
//
// A [Conn] is one socket of one protocol and family, opened with [Open]. It
// needs CAP_NET_RAW (root). Nothing in the kernel has to know about the
// tunnel: no ip_gre, ipip or sit module, no tunnel device. A packet of the
// socket's protocol that the kernel would otherwise answer with an ICMP
// "protocol unreachable" is taken by the socket instead.
//
// # Sending: the header is ours (IP_HDRINCL, IPV6_HDRINCL)
//
// The socket sends the engine's packets as they are. The consequences:
//   - The kernel checks a packet only against the MTU of the outgoing
//     device (a larger one fails with EMSGSIZE), not against the path MTU
//     it may have learnt, and it never fragments: the engine's outer
//     header decides DF, and the engine's own path-MTU logic
//     ([tunnel.Tunnel.SetPathMTU]) decides what fits.
//   - IPv4: the kernel always fills in the total length and the header
//     checksum, and fills in the source address and the identification only
//     where they are zero (ip(7)). The engine's headers carry all of them,
//     so they go out unchanged.
//   - IPv6 (IPV6_HDRINCL, Linux ≥ 4.5): the header goes out as written.
//   - The destination of the route lookup is peers[i] (the tunnel's
//     remote); the header's destination should be the same.
//
// # Receiving IPv6: the header is rebuilt
//
// A raw IPv4 socket delivers the IPv4 header, and ReadBatch passes it on
// unchanged; the peer address is taken from it. A raw IPv6 socket
// delivers only what follows the last extension header, so ReadBatch
// reads the payload at offset+40 and writes a 40-byte IPv6 header in front
// of it from what recvmsg reports: version 6, the traffic class and flow
// label (IPV6_RECVTCLASS, IPV6_FLOWINFO), the payload length (the bytes
// read), next header = the socket's protocol, the hop limit
// (IPV6_RECVHOPLIMIT), the source (the sender's address) and the
// destination (IPV6_RECVPKTINFO). outer.Parse reads it like any other.
// What is lost: the extension headers (hop-by-hop and destination
// options, such as the RFC 2473 tunnel encapsulation limit, routing and
// fragment headers; a fragmented packet arrives reassembled, its payload
// length counting the whole), and the zone of a link-local source (the
// peer carries none). The source comes from recvmsg's address, which
// costs nothing extra here: the address buffers are the Conn's.
//
// # Path MTU
//
// The socket sets IP_RECVERR / IPV6_RECVERR, so the kernel queues the
// ICMP errors about the packets it sent (matched on protocol and
// addresses, which works with IP_HDRINCL: the quoted header is ours) and
// its own local errors on the socket's error queue. The queue is read
// (MSG_ERRQUEUE) when a receive reports a socket error, which the kernel
// raises with each ICMP error and which wakes a blocked ReadBatch, and when
// a send fails with EMSGSIZE. For every
//   - ICMP "fragmentation needed" (type 3 code 4, RFC 1191),
//   - ICMPv6 "packet too big" (type 2, RFC 8201), and
//   - local EMSGSIZE (a packet larger than the device MTU)
//
// the path-MTU handler (the engine's, [Conn.SetPathMTUHandler], or
// [Config.OnPathMTU]) is called with the original destination of the
// packet (the quoted header's), the MTU the error carries and, for an ICMP
// error, the start of the quoted packet (the error queue's data: with
// IP_HDRINCL the kernel passes the quote from its IP header), which the
// engine checks against what the tunnel sent before it believes the error. Other errors
// (unreachables, time exceeded) are read and dropped. IP_MTU is not
// queried: it needs a connected socket, and the local error already
// carries the device MTU. The errors are seen only while something reads
// the Conn (the engine always does) or sends on it.
//
// # Batching and allocation
//
// ReadBatch and WriteBatch call recvmmsg and sendmmsg through the runtime
// poller (a blocked ReadBatch parks its goroutine, not a thread; Close
// wakes it). Their message headers, I/O vectors, addresses and control
// buffers are allocated once per Conn: in steady state neither allocates.
// An error return may allocate (a *net.OpError from the poller), and so
// does, once, a call that read path-MTU errors while a path-MTU handler is
// set (the reports are copied out of the Conn's lock for the handler).
package rawsock
