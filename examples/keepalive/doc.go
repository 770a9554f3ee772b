// Command keepalive watches a GRE peer with Cisco-style keepalives, or
// answers a peer's keepalives, from user space: a raw IP socket of
// protocol 47 and an ipencap engine with one GRE tunnel and no overlay (the
// tunnel carries nothing else; what arrives besides keepalives is
// discarded). It needs root (CAP_NET_RAW) and no tunnel module. Linux
// only: the raw socket transport is Linux's; built for another system,
// keepalive says so on stderr and exits with status 1.
//
//	keepalive -local ADDR -remote ADDR [-key K] [-period 10s] [-retries 5]
//	keepalive -reflect -local ADDR -remote ADDR [-key K] [-period D]
//
// Monitoring, it sends a request every -period through a GRE tunnel from
// -local to -remote (IPv4, key -key if the peer's tunnel has one). The
// request holds the reply, a GRE packet from the peer back to us, which
// the peer decapsulates and routes back: a Cisco router, Linux ip_gre
// with forwarding on and accept_local=1 on its GRE device (the reply's
// source is Linux's own address: martian without it), or this program
// with -reflect. The line protocol
// goes down after -retries periods without a reply and up at the next
// reply; keepalive prints each change on stdout with its time:
//
//	2026-06-01T10:00:00.000Z monitoring 198.51.100.2 from 198.51.100.1: keepalive 10s, down after 5 periods without a reply
//	2026-06-01T10:00:00.002Z 198.51.100.2 line protocol up (first reply)
//	2026-06-01T10:04:40.006Z 198.51.100.2 line protocol down (sent 29, replies 24)
//	2026-06-01T10:05:10.003Z 198.51.100.2 line protocol up (sent 33, replies 25)
//
// With -reflect it is the peer instead: it answers the requests that
// -remote sends to -local (the reply goes back only to -remote, at most 10
// a second), and with -period it also monitors -remote. SIGINT or SIGTERM
// ends it with status 0, after a last line with the counters. A bad flag
// is reported in one line on stderr with status 2; a failure to set up,
// with status 1.
//
// A raw socket receives a copy of every GRE packet to -local: running it
// beside a kernel GRE tunnel between the same addresses works (both see
// the replies; the kernel tunnel's own keepalives, if any, are unaffected),
// but keepalive -reflect beside Linux ip_gre would answer a request twice.
package main
