// Command hub is a GRE (or IPIP) hub in user space: one TUN device and
// one raw IP socket serving many spokes, each a tunnel of the ipencap
// engine on the device as a shared overlay, configured from a YAML file.
// The host routes each spoke's inner prefixes into the device; the engine
// sends what comes out of it to the spoke whose routes hold the
// destination, and takes from a spoke only packets whose source its routes
// hold (as wireguard's AllowedIPs). Linux only, as root (CAP_NET_ADMIN
// for the device and its routes, CAP_NET_RAW for the socket); the kernel
// needs no tunnel module. Built for another system, hub says so on stderr
// and exits with status 1.
//
//	hub -config FILE [-name NAME] [-addr PREFIX]... [-metrics ADDR:PORT] [-aggregate] [-log text|json]
//
// The file:
//
//	local: 198.51.100.1        # the hub's outer address (required)
//	mode: gre                  # gre (default), ipip, sit, mobile, ip6gre, ip6ip6 or ipip6
//	defaults:                  # options of every spoke, each overridable per spoke
//	  ttl: 64                  # 1-255 or inherit (the default)
//	  tos: inherit             # hex (0x10) or inherit; default 0
//	  csum: true               # icsum and ocsum (or each alone)
//	  seq: false               # iseq and oseq (or each alone)
//	  nopmtudisc: false        # needs ttl inherit
//	spokes:
//	  - name: branch1          # unique: 1-64 letters, digits, '.', '_', '-'
//	    remote: 203.0.113.7    # the spoke's outer address (required)
//	    key: 1001              # ikey and okey, a number or a dotted quad; or ikey and okey
//	    routes: [10.1.0.0/24, 2001:db8:1::/48]   # at least one
//	  - name: branch2
//	    remote: 203.0.113.8
//	    key: 1002
//	    ttl: 255
//	    routes: [10.2.0.0/24]
//
// Every setting is checked before hub touches the system: a bad file
// exits with status 2 and one line that says where and why,
//
//	hub: hub.yaml:18: spoke "branch2": routes 10.1.0.0/16: overlaps 10.1.0.0/24 of spoke "branch1" (line 12)
//
// Refused: unknown keys, a missing local, remote or routes, duplicate
// names, two spokes with the same remote and input key (the engine could
// not tell their packets apart), keys on a mode without them, a prefix
// with host bits set, and overlapping routes, nested ones included (the
// engine would send to the longer prefix; a hub file that means that is
// more likely a typo).
//
// At start hub creates the device (-name, hub0 by default) with the
// addresses -addr gives and a route for every spoke's prefixes, gives it
// the smallest MTU of the spokes, adds the spokes and prints one line:
//
//	hub0: 10000 spokes, gre local 198.51.100.1
//
// SIGHUP reads the file again and applies the difference: spokes whose
// every setting is the same stay as they are (the same tunnel, its
// counters, its packets in flight); removed spokes are removed with their
// device routes; new ones are added; changed ones are removed and added
// again. A file that does not validate, or that changes local or mode
// (those of the socket), is refused with one log line and the running
// configuration stays. Each reload logs what it did:
//
//	level=INFO msg=reloaded added=1 removed=1 changed=0 unchanged=9999 routes_added=1 routes_deleted=1 names="+branch10001 -branch2"
//
// SIGUSR1 prints a line of counters per spoke, or with -aggregate their
// sums and the number of spokes, then the engine's line (packets that
// reached no spoke either way):
//
//	spoke branch1 rx_packets 5 rx_bytes 420 rx_errors 0 rx_source_refused 0 rx_dropped 0 tx_packets 5 tx_bytes 420 tx_errors 0 tx_no_bufs 0
//	engine rx_packets 5 rx_no_tunnel 0 rx_frame_errors 0 rx_csum_errors 0 tx_no_tunnel 2 pathmtu_lowered 0 pathmtu_refused 0
//
// SIGINT or SIGTERM closes the engine, removes the device with its routes
// and exits with status 0.
//
// -metrics serves Prometheus metrics: per spoke
// (ipencap_tunnel_rx_packets_total{tunnel="branch1"} and the other
// counters of gretun, with rx_source_refused_total), or with -aggregate
// their sums over every spoke, removed ones included so that no sum goes
// down (ipencap_tunnels_rx_packets_total): 19 series per spoke at 100 000
// spokes is 1.9 million series, where -aggregate keeps 18. Beside
// them: the engine's counters (ipencap_engine_rx_no_tunnel_total,
// ipencap_engine_tx_no_tunnel_total, ipencap_engine_pathmtu_lowered_total
// ...), ipencap_hub_tunnels, ipencap_hub_reloads_total and
// ipencap_hub_reload_failures_total. Give it a loopback or management
// address: it has no authentication.
package main
