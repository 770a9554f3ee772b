//go:build linux

package kernelvm_test

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/internal/testpkt"
)

// echoGRE returns a GRE packet with a checksum (correct, or off by one
// when bad) and key key (none if 0) around an ICMP echo request from src
// to dst.
func echoGRE(t *testing.T, src, dst netip.Addr, key uint32, seq int, bad bool) []byte {
	t.Helper()
	m := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: 0x4b56, Seq: seq, Data: []byte("ipencap kernel VM")}}
	body, err := m.Marshal(nil)
	require.NoError(t, err)
	inner := testpkt.BuildIPv4(0, 20+len(body), testpkt.IPv4{Src: src, Dst: dst, TTL: 64, Protocol: 1})
	copy(inner[20:], body)
	f := gre.Fields{Protocol: gre.ProtoIPv4, ChecksumPresent: true, KeyPresent: key != 0, Key: gre.Key(key)}
	b, err := f.Append(nil, inner)
	require.NoError(t, err)
	if bad {
		b[4]++ // the checksum field
	}
	return b
}

// sendToVM sends a GRE packet from the host's outer address to the VM's.
func (e *env) sendToVM(t *testing.T, pkt []byte) {
	t.Helper()
	var c net.PacketConn
	var err error
	e.ns.Do(t, func() { c, err = net.ListenPacket("ip4:47", host4) })
	require.NoError(t, err)
	defer c.Close()
	_, err = c.WriteTo(pkt, &net.IPAddr{IP: net.ParseIP(vm4)})
	require.NoError(t, err)
}

// sendToGretun sends a GRE packet to the host's outer address with the
// VM's as source (IP_HDRINCL, over the host namespace's loopback), as if
// the VM had sent it.
func (e *env) sendToGretun(t *testing.T, pkt []byte) {
	t.Helper()
	var pc net.PacketConn
	var err error
	e.ns.Do(t, func() { pc, err = net.ListenPacket("ip4:47", "0.0.0.0") })
	require.NoError(t, err)
	defer pc.Close()
	rc, err := ipv4.NewRawConn(pc)
	require.NoError(t, err)
	h := &ipv4.Header{Version: 4, Len: 20, TotalLen: 20 + len(pkt), TTL: 64, Protocol: 47,
		Src: net.ParseIP(vm4), Dst: net.ParseIP(host4)}
	require.NoError(t, rc.WriteTo(h, pkt, nil))
}

// snmp returns a counter of the VM's /proc/net/snmp ("Icmp", "OutDestUnreachs").
func (e *env) snmp(t *testing.T, proto, name string) uint64 {
	t.Helper()
	out := e.vmRun(t, 5*time.Second, "grep '^"+proto+":' /proc/net/snmp")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2, "%s", out)
	names, vals := strings.Fields(lines[0]), strings.Fields(lines[1])
	for i, n := range names {
		if n == name {
			v, err := strconv.ParseUint(vals[i], 10, 64)
			require.NoError(t, err)
			return v
		}
	}
	t.Fatalf("no %s %s in %s", proto, name, out)
	return 0
}

// waitGretun asks gretun for its counters until cond holds (5 s).
func (p *tunnelPair) waitGretun(t *testing.T, cond func(gstats) bool) gstats {
	t.Helper()
	var s gstats
	for range 50 {
		if s = p.g.stats(t); cond(s) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return s
}

// TestKernelDrops sends each side packets it must drop and checks that it
// does and counts them: GRE checksums that are wrong, present where the
// tunnel takes none or missing where it needs them, and keys that do not
// match. A packet that is right (the same, with the checksum correct) goes
// first, so that a drop is the checksum's doing and not the path's.
func TestKernelDrops(t *testing.T) {
	e := theVM(t)
	in1, in2 := hostIn4.Addr(), vmIn4.Addr()

	t.Run("bad-checksum", func(t *testing.T) {
		m := kmode{name: "gre-csum", gretun: []string{"-mode", "gre", "-csum"}, linux: "gre local {L} remote {R} csum", mtu: 1472, csum: true}
		p := e.newPair(t, m, nil, "")
		e.hostPing(t, in2, "-c", "1") // the first packets through: ARP and routes settle

		// Into the VM: the good packet is answered (gretun receives the
		// echo reply), the bad one is not, and Linux counts nothing for
		// it on the device: gre_parse_header drops a wrong checksum
		// before the tunnel is looked up.
		k0, g0 := e.kernelStats(t, "tnl"), p.g.stats(t)
		e.sendToVM(t, echoGRE(t, in1, in2, 0, 1, false))
		g1 := p.waitGretun(t, func(s gstats) bool { return s.rx[0] > g0.rx[0] })
		k1 := e.kernelStats(t, "tnl")
		require.Equal(t, g0.rx[0]+1, g1.rx[0], "the VM answered the good packet")
		require.Equal(t, k0["rx_packets"]+1, k1["rx_packets"], "Linux received the good packet")
		e.sendToVM(t, echoGRE(t, in1, in2, 0, 2, true))
		time.Sleep(500 * time.Millisecond)
		k2, g2 := e.kernelStats(t, "tnl"), p.g.stats(t)
		assert.Equal(t, g1.rx[0], g2.rx[0], "the VM did not answer the packet with a bad checksum")
		assert.Equal(t, k1["rx_packets"], k2["rx_packets"], "Linux dropped the packet with a bad checksum")
		assert.Equal(t, k1["rx_crc_errors"], k2["rx_crc_errors"], "Linux counts no bad checksum value on the device")
		t.Logf("Linux tnl after a bad checksum: %v", k2)

		// Into gretun: the good one is taken, the bad one counted.
		e.sendToGretun(t, echoGRE(t, in2, in1, 0, 3, false))
		g3 := p.waitGretun(t, func(s gstats) bool { return s.rx[0] > g2.rx[0] })
		require.Equal(t, g2.rx[0]+1, g3.rx[0], "gretun took the good packet")
		e.sendToGretun(t, echoGRE(t, in2, in1, 0, 4, true))
		g4 := p.waitGretun(t, func(s gstats) bool { return s.rx[3] > g3.rx[3] })
		assert.Equal(t, g3.rx[0], g4.rx[0], "gretun dropped the packet with a bad checksum")
		assert.Equal(t, g3.rx[3]+1, g4.rx[3], "gretun CsumErrs")
		assert.Equal(t, g3.rx[2]+1, g4.rx[2], "gretun RX Errors")
		p.g.stop(t)
	})

	t.Run("checksum-flag-mismatch", func(t *testing.T) {
		// gretun sends and requires checksums, Linux neither: each drops
		// the other's packets, Linux in rx_crc_errors (ip_tunnel_rcv
		// refuses a C bit that differs from its icsum either way).
		m := kmode{name: "gre", gretun: []string{"-mode", "gre", "-csum"}, linux: "gre local {L} remote {R}", mtu: 1472}
		p := e.newPair(t, m, nil, "")
		k0, g0 := e.kernelStats(t, "tnl"), p.g.stats(t)
		out, err := e.hostPing(t, in2, "-c", "3", "-i", "0.2", "-W", "1")
		require.Error(t, err, "%s", out)
		out, err = e.vm.Run(20*time.Second, "ping -i 0.2 -c 3 -W 1 "+in1.String())
		require.Error(t, err, "%s", out)
		g1 := p.waitGretun(t, func(s gstats) bool { return s.rx[3] >= g0.rx[3]+3 })
		k1 := e.kernelStats(t, "tnl")
		t.Logf("gretun RX %v TX %v; Linux %v", g1.rx, g1.tx, k1)
		assert.Equal(t, uint64(3), k1["rx_crc_errors"]-k0["rx_crc_errors"], "Linux rx_crc_errors")
		assert.Equal(t, uint64(3), k1["rx_errors"]-k0["rx_errors"], "Linux rx_errors")
		assert.Equal(t, k0["rx_packets"], k1["rx_packets"], "Linux RX packets")
		assert.Equal(t, uint64(3), g1.rx[3]-g0.rx[3], "gretun CsumErrs")
		assert.Equal(t, g0.rx[0], g1.rx[0], "gretun RX packets")
		p.g.stop(t)
	})

	t.Run("key-mismatch", func(t *testing.T) {
		// gretun key 5, Linux key 6: neither tunnel takes the other's
		// packets. gretun counts them in no_tunnel; Linux, which finds
		// no tunnel for key 5, answers each with ICMP port unreachable
		// (gre_rcv) and counts that, not the drop, in /proc/net/snmp.
		m := kmode{name: "gre", gretun: []string{"-mode", "gre", "-key", "5"}, linux: "gre local {L} remote {R} key 6", mtu: 1472}
		p := e.newPair(t, m, nil, "")
		k0, g0 := e.kernelStats(t, "tnl"), p.g.stats(t)
		u0 := e.snmp(t, "Icmp", "OutDestUnreachs")
		out, err := e.hostPing(t, in2, "-c", "3", "-i", "0.2", "-W", "1")
		require.Error(t, err, "%s", out)
		out, err = e.vm.Run(20*time.Second, "ping -i 0.2 -c 3 -W 1 "+in1.String())
		require.Error(t, err, "%s", out)
		g1 := p.waitGretun(t, func(s gstats) bool { return s.num(t, "no_tunnel") >= g0.num(t, "no_tunnel")+3 })
		k1 := e.kernelStats(t, "tnl")
		u1 := e.snmp(t, "Icmp", "OutDestUnreachs")
		t.Logf("gretun RX %v TX %v %v; Linux %v", g1.rx, g1.tx, g1.ext, k1)
		assert.Equal(t, uint64(3), g1.num(t, "no_tunnel")-g0.num(t, "no_tunnel"), "gretun no_tunnel")
		assert.Equal(t, g0.rx[0], g1.rx[0], "gretun RX packets")
		assert.Equal(t, uint64(3), g1.tx[0]-g0.tx[0], "gretun TX packets")
		assert.Equal(t, k0["rx_packets"], k1["rx_packets"], "Linux RX packets")
		assert.Equal(t, uint64(3), k1["tx_packets"]-k0["tx_packets"], "Linux TX packets")
		assert.Equal(t, uint64(3), u1-u0, "Linux ICMP destination unreachable sent")
		p.g.stop(t)
	})
}
