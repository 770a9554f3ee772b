// Command gretun is a user-space tunnel daemon: one tunnel, configured
// like `ip tunnel add`, between a TUN device and a raw IP socket (or a UDP
// socket for GRE-in-UDP), run by the ipencap engine. It needs root
// (CAP_NET_ADMIN for the TUN device, CAP_NET_RAW for the raw socket), and
// the kernel needs no tunnel module. Linux only: the TUN device, the raw
// socket and rtnetlink are Linux's; built for another system, gretun says
// so on stderr and exits with status 1.
//
//	gretun -name NAME -mode MODE -local ADDR -remote ADDR
//	       [-allow-any-remote] [-ikey K] [-okey K] [-key K]
//	       [-icsum] [-ocsum] [-csum]
//	       [-iseq] [-oseq] [-seq] [-reorder N] [-ttl N|inherit]
//	       [-tos 0xNN|inherit] [-nopmtudisc] [-dev LINK] [-mtu N]
//	       [-addr PREFIX]... [-route PREFIX]... [-port N] [-lport N]
//	       [-keepalive PERIOD] [-keepalive-retries N] [-reflect]
//	       [-stats INTERVAL] [-metrics ADDR:PORT] [-log text|json] [-pmtu-expires D]
//
// The modes are those of `ip tunnel`: gre, ipip, sit and mobile (over
// IPv4), ip6gre, ip6ip6 and ipip6 (over IPv6), gre-in-udp (RFC 8086, over
// either, to UDP port -port from -lport), and gretap (Ethernet over GRE,
// over either), whose overlay is a TAP device instead of a TUN device:
// bridge it (`ip link set NAME master br0`) to join two sites' segments.
// Its MTU, as Linux's gretap device's, leaves room for the inner Ethernet
// header (1462 over 1500).
//
// Two hosts, here two network namespaces joined by a veth pair:
//
//	ip netns add a; ip netns add b
//	ip link add va netns a type veth peer name vb netns b
//	ip -n a addr add 198.51.100.1/24 dev va; ip -n a link set va up
//	ip -n b addr add 198.51.100.2/24 dev vb; ip -n b link set vb up
//	ip netns exec a gretun -name gre1 -mode gre -local 198.51.100.1 \
//	    -remote 198.51.100.2 -key 5 -csum -seq -addr 192.0.2.1/30 &
//	ip netns exec b gretun -name gre1 -mode gre -local 198.51.100.2 \
//	    -remote 198.51.100.1 -key 5 -csum -seq -addr 192.0.2.2/30 &
//	ip netns exec a ping 192.0.2.2
//
// -remote is required: the tunnel takes packets from that address alone.
// -remote any takes them from every host and has no peer to send to, a
// receive-only sink; it needs -allow-any-remote as well, so that nobody
// runs one by leaving -remote out. -local may be left out (or be any):
// outer packets then leave from the route's source address, and the
// socket takes packets sent to any address of the host.
//
// A GRE tunnel without an input key (-key or -ikey) tells its packets
// from anyone else's by the outer source address alone, which any host
// can forge. When it takes packets on a public address (-local, or with
// local any one of the host's addresses, that is not private, loopback
// or link-local), gretun logs a warning at start:
//
//	time=2026-06-01T10:00:00.000Z level=WARN msg="keyless GRE tunnel on a public address: any host can inject packets; set -key" tunnel=gre1 local=198.51.100.1
//
// At start gretun prints the tunnel as `ip tunnel show` does:
//
//	gre1: gre/ip remote 198.51.100.2 local 198.51.100.1 ttl inherit key 5 icsum ocsum iseq oseq
//
// It prints the counters with the names of `ip -s tunnel show` (and a
// third line with the ones iproute2 folds into Errors, and the engine's
// count of packets no tunnel took) on SIGUSR1, every -stats interval, and
// once more when it exits. SIGINT or SIGTERM closes the tunnel, removes
// the device and exits with status 0. A bad flag is reported in one line
// on stderr, with exit status 2, before gretun touches the system: among
// them an -mtu out of range and a -name or -dev the kernel would refuse as
// a device name (more than 15 bytes, "." or "..", or a '/', ':', '%' or
// space in it). A failure to set up is reported with status 1.
//
// -keepalive sends Cisco-style GRE keepalives every PERIOD (10s, or 10
// for seconds as on a Cisco tunnel interface; 0, the default, is off)
// and runs the line protocol: down after -keepalive-retries periods (5)
// without a reply, up at the next reply. The far end needs no keepalive
// support: a Cisco router answers by routing the request's inner packet
// back, and so does a Linux host behind gretun with net.ipv4.ip_forward=1
// and net.ipv4.conf.all.accept_local=1 (the inner packet comes out of its
// TUN device with its own address as source). -reflect makes the engine
// answer instead, with no help from the host (with remote any, any peer,
// back to the request's source only). Mode gre only. Line protocol changes are logged:
//
//	time=2026-06-01T10:00:03.412Z level=WARN msg="line protocol down" tunnel=gre1 remote=198.51.100.2 keepalives_sent=9 keepalive_replies=5 line_changes=1
//
// Logs (the engine's events, line protocol changes, errors) go to stderr
// through log/slog, as text or, with -log json, as JSON lines.
//
// -metrics serves the counters of every tunnel, the line protocol
// (ipencap_tunnel_line_up) and the engine's counters at
// http://ADDR:PORT/metrics in the Prometheus text format, read when
// scraped: ipencap_tunnel_rx_packets_total{tunnel="gre1"},
// ipencap_tunnel_tx_dead_loop_total and so on, named after the columns of
// `ip -s tunnel show`. Give it a loopback or management address: it has
// no authentication.
//
// The TUN device gets the tunnel's MTU: -mtu (68 to 65535, and at least
// 1280 for sit and ip6ip6, which carry IPv6 alone), or the underlay MTU
// (of -dev, else of the route to -remote, else 1500) less the exact
// overhead of the mode and options. With local any, outer packets leave from the
// route's source address. When the kernel reports a smaller path MTU
// towards the remote, the tunnel MTU drops and the engine answers larger
// packets with ICMP "fragmentation needed" or "packet too big"; the
// device keeps its MTU.
package main
