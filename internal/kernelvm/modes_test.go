//go:build linux

package kernelvm_test

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/internal/testpkt"
)

// Inner addresses: the host's gretun side, the VM's kernel side.
var (
	hostIn4, vmIn4 = netip.MustParsePrefix("192.0.2.1/30"), netip.MustParsePrefix("192.0.2.2/30")
	hostIn6, vmIn6 = netip.MustParsePrefix("2001:db8:2::1/64"), netip.MustParsePrefix("2001:db8:2::2/64")
)

// kmode is one tunnel mode: gretun's flags and the same tunnel made by
// Linux in the VM.
type kmode struct {
	name   string
	gretun []string // -mode and its options
	linux  string   // after "ip link add tnl type"; {L} {R} are the VM's and the host's outer addresses
	pre    string   // VM commands before the link is made
	post   string   // VM commands after it is deleted
	outer6 bool
	inner6 bool
	mtu    int // the tunnel MTU both sides must agree on
	// linuxMTU is Linux's tunnel MTU where it differs from gretun's.
	linuxMTU int
	// csum: GRE checksums from the VM. Linux leaves the GRE checksum to
	// the device when it can (gre_build_header: CHECKSUM_PARTIAL, csum_start
	// at the GRE header), virtio-net takes it (NETIF_F_HW_CSUM), and
	// through qemu and the TAP device's vnet header the packet reaches the
	// host still partial: gretun's raw socket reads checksum 0 and counts
	// a checksum error, where the kernel's own GRE would trust
	// CHECKSUM_PARTIAL. A real NIC fills the checksum in; the VM is told
	// to compute it itself (ethtool -K eth0 tx off) for these modes.
	csum bool
}

// kmodes is every mode gretun has that Linux has too (mobile, RFC 2004,
// is not in Linux). Linux's ip6 tunnels get encaplimit none but in the
// -encaplimit rows: by default they add a Destination Options header
// with a Tunnel Encapsulation Limit option (RFC 2473, limit 4), 8 bytes
// that gretun does not send and takes 8 bytes off their MTU. gretun
// receives such packets (the host's kernel skips the option before the
// raw socket), so that only the MTUs differ.
var kmodes = []kmode{
	{name: "gre", gretun: []string{"-mode", "gre"}, linux: "gre local {L} remote {R}", mtu: 1476},
	{name: "gre-key", gretun: []string{"-mode", "gre", "-key", "5"}, linux: "gre local {L} remote {R} key 5", mtu: 1472},
	{name: "gre-csum", gretun: []string{"-mode", "gre", "-csum"}, linux: "gre local {L} remote {R} csum", mtu: 1472, csum: true},
	{name: "gre-seq", gretun: []string{"-mode", "gre", "-seq"}, linux: "gre local {L} remote {R} seq", mtu: 1472},
	{name: "gre-key-csum-seq", gretun: []string{"-mode", "gre", "-key", "5", "-csum", "-seq"},
		linux: "gre local {L} remote {R} key 5 csum seq", mtu: 1464, csum: true},
	// Asymmetric: each side's input flags are the other's output flags
	// (the VM sends no checksums here, so TX offload stays on).
	{name: "gre-ikey-okey", gretun: []string{"-mode", "gre", "-ikey", "1.2.3.4", "-okey", "1.2.3.5", "-ocsum", "-iseq"},
		linux: "gre local {L} remote {R} ikey 1.2.3.5 okey 1.2.3.4 icsum oseq", mtu: 1468},
	{name: "ipip", gretun: []string{"-mode", "ipip"}, linux: "ipip local {L} remote {R}", mtu: 1480},
	{name: "sit", gretun: []string{"-mode", "sit"}, linux: "sit local {L} remote {R}", inner6: true, mtu: 1480},
	{name: "ip6ip6", gretun: []string{"-mode", "ip6ip6"}, linux: "ip6tnl mode ip6ip6 local {L} remote {R} encaplimit none",
		outer6: true, inner6: true, mtu: 1460},
	{name: "ipip6", gretun: []string{"-mode", "ipip6"}, linux: "ip6tnl mode ipip6 local {L} remote {R} encaplimit none",
		outer6: true, mtu: 1460},
	{name: "ip6gre", gretun: []string{"-mode", "ip6gre", "-key", "7"}, linux: "ip6gre local {L} remote {R} key 7 encaplimit none",
		outer6: true, mtu: 1452},
	{name: "ip6ip6-encaplimit", gretun: []string{"-mode", "ip6ip6"}, linux: "ip6tnl mode ip6ip6 local {L} remote {R}",
		outer6: true, inner6: true, mtu: 1460, linuxMTU: 1452},
	{name: "ip6gre-encaplimit", gretun: []string{"-mode", "ip6gre"}, linux: "ip6gre local {L} remote {R}",
		outer6: true, mtu: 1456, linuxMTU: 1448},
	{name: "gre-in-udp", gretun: []string{"-mode", "gre-in-udp"},
		pre:   "ip fou add port 4754 ipproto 47",
		linux: "gre local {L} remote {R} encap fou encap-sport 4754 encap-dport 4754",
		post:  "ip fou del port 4754", mtu: 1468},
	{name: "gre-in-udp6", gretun: []string{"-mode", "gre-in-udp"},
		pre:   "ip fou add port 4754 ipproto 47 -6",
		linux: "ip6gre local {L} remote {R} encap fou encap-sport 4754 encap-dport 4754 encaplimit none",
		post:  "ip fou del port 4754 -6", outer6: true, mtu: 1448},
}

// tunnelPair is a gretun tunnel in the host namespace and the same tunnel
// in the VM, both named tnl.
type tunnelPair struct {
	e              *env
	m              kmode
	g              *daemon
	hostIn, vmIn   netip.Prefix
	hostOut, vmOut string
}

// newPair starts gretun with m's flags and extra and makes the Linux
// tunnel with m's options and linuxExtra; both go when the test ends.
func (e *env) newPair(t *testing.T, m kmode, extra []string, linuxExtra string) *tunnelPair {
	t.Helper()
	p := &tunnelPair{e: e, m: m, hostIn: hostIn4, vmIn: vmIn4, hostOut: host4, vmOut: vm4}
	if m.inner6 {
		p.hostIn, p.vmIn = hostIn6, vmIn6
	}
	if m.outer6 {
		p.hostOut, p.vmOut = host6, vm6
	}
	// An IPv4-only tunnel gets no IPv6 (no link-local address, no MLD or
	// router solicitations to count): on both sides, for the devices made
	// from now on.
	dis := "1"
	if m.inner6 {
		dis = "0"
	}
	e.ns.Sysctl(t, "net.ipv6.conf.default.disable_ipv6", dis)
	if m.csum {
		e.vmRun(t, 5*time.Second, "ethtool -K eth0 tx off >/dev/null")
		t.Cleanup(func() { e.vm.Run(5*time.Second, "ethtool -K eth0 tx on >/dev/null") })
	}
	linux := strings.NewReplacer("{L}", p.vmOut, "{R}", p.hostOut).Replace(m.linux)
	t.Cleanup(func() {
		e.vm.Run(10*time.Second, "ip link del tnl 2>/dev/null; "+m.post+" 2>/dev/null; true")
	})
	e.vmRun(t, 10*time.Second, fmt.Sprintf(`set -e
sysctl -qw net.ipv6.conf.default.disable_ipv6=%s
%s
ip link add tnl type %s %s
ip addr add %s dev tnl
ip link set tnl up`, dis, m.pre, linux, linuxExtra, p.vmIn))
	args := append([]string{"-name", "tnl", "-local", p.hostOut, "-remote", p.vmOut, "-addr", p.hostIn.String()}, m.gretun...)
	p.g = e.startGretun(t, append(args, extra...)...)
	t.Logf("gretun: %s", p.g.start)
	t.Logf("linux: ip link add tnl type %s %s", linux, linuxExtra)
	return p
}

var vmMTURE = regexp.MustCompile(`\bmtu (\d+)`)

// TestKernelModes runs each mode between gretun and Linux: the same MTU
// on both sides; ping both ways; a DF ping at the tunnel MTU passes and
// one a byte larger gets ICMP fragmentation needed (packet too big) with
// the tunnel MTU from gretun; 3000-byte pings (fragmented inside) both
// ways; TCP both ways with the SHA-256 checked on the receiving side; and
// the packet and byte counters of one side equal to the other's for the
// same pings, with no errors.
func TestKernelModes(t *testing.T) {
	e := theVM(t)
	for _, m := range kmodes {
		t.Run(m.name, func(t *testing.T) {
			t0 := time.Now()
			p := e.newPair(t, m, nil, "")
			hostMTU := 0
			if l, err := e.ns.NL.LinkByName("tnl"); assert.NoError(t, err) {
				hostMTU = l.Attrs().MTU
			}
			out := e.vmRun(t, 5*time.Second, "ip -d link show tnl")
			mm := vmMTURE.FindStringSubmatch(out)
			require.NotNil(t, mm, "%s", out)
			vmMTU, _ := strconv.Atoi(mm[1])
			assert.Equal(t, m.mtu, hostMTU, "gretun's tunnel MTU")
			wantVM := m.mtu
			if m.linuxMTU != 0 {
				wantVM = m.linuxMTU
				require.Contains(t, out, "encaplimit 4", "Linux's default")
			}
			assert.Equal(t, wantVM, vmMTU, "Linux's tunnel MTU:\n%s", out)

			// Ping both ways.
			out, err := e.hostPing(t, p.vmIn.Addr(), "-c", "3", "-i", "0.2")
			require.NoError(t, err, "ping from the host:\n%s", out)
			out = e.vmRun(t, 20*time.Second, fmt.Sprintf("ping -A -c 3 -W 2 %s", p.hostIn.Addr()))
			require.Contains(t, out, "3 packets received", "ping from the VM")

			// DF at the tunnel MTU passes; one byte more is refused by
			// gretun with ICMP carrying the MTU. The host's route gets
			// MTU 1500, so that its kernel hands gretun the large packet
			// instead of refusing it at the TUN device's MTU.
			hdr := 28
			if m.inner6 {
				hdr = 48
			}
			out, err = e.hostPing(t, p.vmIn.Addr(), "-c", "2", "-i", "0.2", "-M", "do", "-s", strconv.Itoa(m.mtu-hdr))
			require.NoError(t, err, "DF ping of %d bytes:\n%s", m.mtu, out)
			ipArgs := []string{"route", "replace", p.vmIn.Addr().String(), "dev", "tnl", "mtu", "1500"}
			if m.inner6 {
				ipArgs = append([]string{"-6"}, ipArgs...)
			}
			out, err = e.ns.Run(t, 5*time.Second, testpkt.NetTool(t, "ip"), ipArgs...)
			require.NoError(t, err, "ip %v: %s", ipArgs, out)
			out, err = e.hostPing(t, p.vmIn.Addr(), "-c", "1", "-M", "do", "-s", strconv.Itoa(m.mtu+1-hdr))
			require.Error(t, err, "DF ping of %d bytes passed:\n%s", m.mtu+1, out)
			want := fmt.Sprintf("Frag needed and DF set (mtu = %d)", m.mtu)
			if m.inner6 {
				want = fmt.Sprintf("Packet too big: mtu=%d", m.mtu)
			}
			assert.Contains(t, out, want, "DF ping of %d bytes", m.mtu+1)
			assert.NotZero(t, p.g.stats(t).num(t, "tx_toobig"), "gretun counted the packet too big")

			// Fragmented inside the tunnel: 3000-byte pings.
			out, err = e.hostPing(t, p.vmIn.Addr(), "-c", "2", "-i", "0.2", "-s", "3000")
			require.NoError(t, err, "3000-byte ping from the host:\n%s", out)
			out = e.vmRun(t, 20*time.Second, fmt.Sprintf("ping -A -c 2 -W 2 -s 3000 %s", p.hostIn.Addr()))
			require.Contains(t, out, "2 packets received", "3000-byte ping from the VM")

			// TCP both ways.
			t1 := time.Now()
			e.tcpToVM(t, p.vmIn.Addr(), 7000, 4<<20)
			e.tcpFromVM(t, p.hostIn.Addr(), 7001, 2<<20)
			t.Logf("TCP 4 MiB to and 2 MiB from the VM in %v", time.Since(t1))

			// Counters: the same pings counted by both sides.
			p.compareCounters(t)
			p.g.stop(t)
			t.Logf("%s in %v", m.name, time.Since(t0))
		})
	}
}

// compareCounters sends 5 pings each way and checks that gretun's TX
// packets and bytes equal the Linux tunnel's RX and the other way round
// (both count inner packets, as iptunnel_xmit does); and that neither
// counted an error. Pings, because Linux counts a GSO packet (TCP) once
// in tx_packets where gretun counts each segment it sends.
func (p *tunnelPair) compareCounters(t *testing.T) {
	t.Helper()
	e := p.e
	settle := func() (gstats, kstats) {
		// The engine counts a batch after the write returns: wait until
		// two readings agree.
		var g gstats
		var k kstats
		for range 20 {
			g, k = p.g.stats(t), e.kernelStats(t, "tnl")
			g2, k2 := p.g.stats(t), e.kernelStats(t, "tnl")
			if fmt.Sprint(g.rx, g.tx) == fmt.Sprint(g2.rx, g2.tx) && fmt.Sprint(k) == fmt.Sprint(k2) {
				return g, k
			}
			time.Sleep(100 * time.Millisecond)
		}
		return g, k
	}
	g0, k0 := settle()
	out, err := e.hostPing(t, p.vmIn.Addr(), "-c", "5", "-i", "0.1", "-s", "300")
	require.NoError(t, err, "%s", out)
	e.vmRun(t, 20*time.Second, fmt.Sprintf("ping -A -c 5 -s 700 %s >/dev/null", p.hostIn.Addr()))
	g1, k1 := settle()
	d := func(a, b uint64) uint64 { return b - a }
	t.Logf("gretun RX %v TX %v; linux %v", g1.rx, g1.tx, k1)
	// At least: an IPv6 tunnel carries the kernels' own chatter too (MLD
	// reports, router solicitations), which both sides count alike.
	assert.GreaterOrEqual(t, d(g0.tx[0], g1.tx[0]), uint64(10), "gretun TX packets: 5 requests, 5 replies")
	assert.GreaterOrEqual(t, d(g0.rx[0], g1.rx[0]), uint64(10), "gretun RX packets: 5 replies, 5 requests")
	assert.Equal(t, d(g0.tx[0], g1.tx[0]), d(k0["rx_packets"], k1["rx_packets"]), "gretun TX packets = Linux RX packets")
	assert.Equal(t, d(g0.tx[1], g1.tx[1]), d(k0["rx_bytes"], k1["rx_bytes"]), "gretun TX bytes = Linux RX bytes")
	assert.Equal(t, d(k0["tx_packets"], k1["tx_packets"]), d(g0.rx[0], g1.rx[0]), "Linux TX packets = gretun RX packets")
	assert.Equal(t, d(k0["tx_bytes"], k1["tx_bytes"]), d(g0.rx[1], g1.rx[1]), "Linux TX bytes = gretun RX bytes")
	// gretun counts the packet too big of the DF test in TX errors, as
	// Linux does (ip_tunnel_xmit's tx_error).
	assert.Zero(t, g1.rx[2], "gretun RX errors: %v", g1.rx)
	assert.Equal(t, g1.num(t, "tx_toobig"), g1.tx[2], "gretun TX errors: %v, all of them packets too big", g1.tx)
	assert.Zero(t, k1["rx_errors"]+k1["tx_errors"]+k1["rx_dropped"]+k1["tx_dropped"], "Linux errors: %v", k1)
}
