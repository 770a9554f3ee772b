//go:build linux

package tundev_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ipencap/ipencap/checksum"
	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/tundev"
)

var (
	self4  = netip.MustParsePrefix("192.0.2.1/30")
	peer4  = netip.MustParseAddr("192.0.2.2")
	self6  = netip.MustParsePrefix("2001:db8::1/64")
	peer6  = netip.MustParseAddr("2001:db8::2")
	extra4 = netip.MustParsePrefix("203.0.113.0/24")
)

// newNetns returns a new network namespace with its loopback up, deleted
// when the test ends.
func newNetns(t *testing.T) *testpkt.NS {
	t.Helper()
	testpkt.NeedRoot(t, "TUN devices and network namespaces")
	testpkt.NeedTUN(t)
	return testpkt.NewNS(t)
}

func open(t *testing.T, ns *testpkt.NS, cfg tundev.Config) *tundev.Device {
	t.Helper()
	var dev *tundev.Device
	var err error
	ns.Do(t, func() { dev, err = tundev.Open(cfg) })
	require.NoError(t, err)
	t.Cleanup(func() { dev.Close() })
	return dev
}

func TestOpenConfiguresLink(t *testing.T) {
	ns := newNetns(t)
	dev := open(t, ns, tundev.Config{Name: "tundev0", MTU: 1400,
		Addrs: []netip.Prefix{self4, self6}, Routes: []netip.Prefix{extra4}})
	assert.Equal(t, "tundev0", dev.Name())
	t.Logf("offloads: %v, batch size %d", dev.Offloads(), dev.BatchSize())
	if dev.Offloads().VnetHdr {
		assert.Equal(t, 128, dev.BatchSize())
		assert.True(t, dev.Offloads().TSO)
	} else {
		assert.Equal(t, 1, dev.BatchSize())
	}

	nl := ns.NL
	link, err := nl.LinkByName("tundev0")
	require.NoError(t, err)
	assert.Equal(t, dev.Index(), link.Attrs().Index)
	assert.NotZero(t, link.Attrs().Flags&net.FlagUp, "link is up")
	assert.Equal(t, 1400, link.Attrs().MTU)
	mtu, err := dev.MTU()
	require.NoError(t, err)
	assert.Equal(t, 1400, mtu)

	addrs, err := nl.AddrList(link, netlink.FAMILY_ALL)
	require.NoError(t, err)
	var got []string
	for _, a := range addrs {
		if !a.IP.IsLinkLocalUnicast() {
			got = append(got, a.IPNet.String())
		}
		if a.IP.Equal(self6.Addr().AsSlice()) {
			assert.NotZero(t, a.Flags&unix.IFA_F_NODAD, "IPv6 address without DAD")
		}
	}
	assert.ElementsMatch(t, []string{"192.0.2.1/30", "2001:db8::1/64"}, got)
	for _, dst := range []netip.Addr{peer4, netip.MustParseAddr("203.0.113.77"), peer6} {
		routes, err := nl.RouteGet(dst.AsSlice())
		require.NoError(t, err, dst)
		require.NotEmpty(t, routes, dst)
		assert.Equal(t, dev.Index(), routes[0].LinkIndex, "route to %v through the device", dst)
	}

	require.NoError(t, dev.SetMTU(1300))
	mtu, err = dev.MTU()
	require.NoError(t, err)
	assert.Equal(t, 1300, mtu)

	require.NoError(t, dev.Close())
	require.NoError(t, dev.Close(), "Close twice")
	_, err = nl.LinkByName("tundev0")
	var nf netlink.LinkNotFoundError
	assert.ErrorAs(t, err, &nf, "Close removes the device")
	_, err = dev.Write([][]byte{make([]byte, 64)}, 16)
	assert.ErrorIs(t, err, net.ErrClosed)
	_, err = dev.Read([][]byte{make([]byte, 2000)}, []int{0}, 80)
	assert.ErrorIs(t, err, net.ErrClosed)
}

func TestOpenErrors(t *testing.T) {
	ns := newNetns(t)
	for _, tt := range []struct {
		name string
		cfg  tundev.Config
		op   string
	}{
		{"mtu", tundev.Config{MTU: 20}, "mtu 20"},
		{"prefix", tundev.Config{Addrs: []netip.Prefix{{}}}, "prefix invalid Prefix"},
		{"ipv6 below 1280", tundev.Config{MTU: 1000, Addrs: []netip.Prefix{self6}}, "add address 2001:db8::1/64"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			ns.Do(t, func() { _, err = tundev.Open(tt.cfg) })
			var e *tundev.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tt.op, e.Op)
		})
	}
	// Nothing was left behind.
	nl := ns.NL
	links, err := nl.LinkList()
	require.NoError(t, err)
	for _, l := range links {
		assert.Equal(t, "lo", l.Attrs().Name)
	}
}

// udpPacket returns headroom bytes and an IP/UDP packet from src to dst
// with payload, with valid checksums, in a buffer of capacity capacity.
func udpPacket(src, dst netip.AddrPort, payload []byte, headroom, capacity int) []byte {
	n := 8 + len(payload)
	var b []byte
	if src.Addr().Is4() {
		b = testpkt.BuildIPv4(headroom, 20+n, testpkt.IPv4{Src: src.Addr(), Dst: dst.Addr(), TTL: 64, Protocol: 17})
	} else {
		b = testpkt.BuildIPv6(headroom, 40+n, testpkt.IPv6{Src: src.Addr(), Dst: dst.Addr(), HopLimit: 64, NextHeader: 17})
	}
	u := b[len(b)-n:]
	binary.BigEndian.PutUint16(u[0:], src.Port())
	binary.BigEndian.PutUint16(u[2:], dst.Port())
	binary.BigEndian.PutUint16(u[4:], uint16(n))
	binary.BigEndian.PutUint16(u[6:], 0)
	copy(u[8:], payload)
	s := checksum.Sum(src.Addr().AsSlice(), 0)
	s = checksum.Sum(dst.Addr().AsSlice(), s)
	s = checksum.Sum([]byte{0, 17, byte(n >> 8), byte(n)}, s)
	c := ^checksum.Sum(u, s)
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(u[6:], c)
	out := make([]byte, len(b), max(capacity, len(b)))
	copy(out, b)
	return out
}

func listenUDP(t *testing.T, ns *testpkt.NS, addr netip.AddrPort) *net.UDPConn {
	t.Helper()
	var c *net.UDPConn
	var err error
	ns.Do(t, func() { c, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr)) })
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func recvAll(t *testing.T, c *net.UDPConn, n int) [][]byte {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	var got [][]byte
	buf := make([]byte, 65536)
	for len(got) < n {
		k, _, err := c.ReadFromUDP(buf)
		require.NoError(t, err, "after %d of %d datagrams", len(got), n)
		got = append(got, bytes.Clone(buf[:k]))
	}
	return got
}

// TestWriteDelivers writes UDP packets into the device, as the engine
// writes decapsulated packets, and receives them on local sockets.
func TestWriteDelivers(t *testing.T) {
	ns := newNetns(t)
	dev := open(t, ns, tundev.Config{Name: "tundev1", MTU: 1400, Addrs: []netip.Prefix{self4, self6}})
	for _, tt := range []struct {
		name     string
		src, dst netip.AddrPort
	}{
		{"ipv4", netip.AddrPortFrom(peer4, 5000), netip.AddrPortFrom(self4.Addr(), 4000)},
		{"ipv6", netip.AddrPortFrom(peer6, 5000), netip.AddrPortFrom(self6.Addr(), 4000)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := listenUDP(t, ns, tt.dst)
			// One packet alone, then a batch of one flow, which the
			// device may coalesce (UDP GRO) into the first buffer's
			// spare capacity, as the engine's receive buffers have.
			n, err := dev.Write([][]byte{udpPacket(tt.src, tt.dst, []byte("single"), tunnel.OverlayOffset, 0)}, tunnel.OverlayOffset)
			require.NoError(t, err)
			assert.Equal(t, 1, n)
			assert.Equal(t, [][]byte{[]byte("single")}, recvAll(t, c, 1))

			const k = 8
			bufs := make([][]byte, k)
			want := make([][]byte, k)
			for i := range bufs {
				want[i] = bytes.Repeat([]byte{byte('a' + i)}, 1000)
				bufs[i] = udpPacket(tt.src, tt.dst, want[i], tunnel.OverlayOffset, 65536)
			}
			before := append([][]byte(nil), bufs...)
			n, err = dev.Write(bufs, tunnel.OverlayOffset)
			require.NoError(t, err)
			assert.Equal(t, k, n)
			for i := range bufs {
				assert.Same(t, &before[i][0], &bufs[i][0], "bufs[%d] is the caller's slice again", i)
				assert.Equal(t, len(before[i]), len(bufs[i]), "bufs[%d] keeps its length", i)
			}
			if dev.Offloads().USO {
				// The first buffer's IP header now says the coalesced
				// length: the batch went to the kernel as one write.
				h := bufs[0][tunnel.OverlayOffset:]
				l := int(binary.BigEndian.Uint16(h[2:]))
				if tt.src.Addr().Is6() {
					l = 40 + int(binary.BigEndian.Uint16(h[4:]))
				}
				assert.Greater(t, l, len(bufs[0])-tunnel.OverlayOffset, "UDP GRO coalesced the batch")
			}
			assert.Equal(t, want, recvAll(t, c, k))
		})
	}
}

// TestReadRouted sends datagrams that the kernel routes into the device
// (to a peer of the address's prefix, to an extra route, and one UDP GSO
// send of three segments) and reads them from the device.
func TestReadRouted(t *testing.T) {
	ns := newNetns(t)
	dev := open(t, ns, tundev.Config{Name: "tundev2", MTU: 1400,
		Addrs: []netip.Prefix{self4}, Routes: []netip.Prefix{extra4}})
	c := listenUDP(t, ns, netip.AddrPortFrom(self4.Addr(), 4001))

	type packet struct {
		dst     netip.AddrPort
		payload string
		batch   int // packets returned by the Read that returned this one
	}
	got := make(chan packet, 64)
	go func() {
		defer close(got)
		bufs := make([][]byte, dev.BatchSize())
		for i := range bufs {
			bufs[i] = make([]byte, tunnel.Headroom+65536)
		}
		sizes := make([]int, len(bufs))
		for {
			n, err := dev.Read(bufs, sizes, tunnel.Headroom)
			for i := range n {
				p := bufs[i][tunnel.Headroom : tunnel.Headroom+sizes[i]]
				if len(p) < 28 || p[0]>>4 != 4 || p[9] != 17 {
					continue // not IPv4/UDP
				}
				dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte(p[16:20])), binary.BigEndian.Uint16(p[22:24]))
				got <- packet{dst, string(p[28:]), n}
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
		}
	}()
	t.Cleanup(func() {
		dev.Close()
		for range got {
		}
	})
	next := func() packet {
		t.Helper()
		select {
		case p := <-got:
			return p
		case <-time.After(5 * time.Second):
			t.Fatal("timed out reading from the device")
			return packet{}
		}
	}

	for _, dst := range []netip.AddrPort{netip.AddrPortFrom(peer4, 9), netip.MustParseAddrPort("203.0.113.77:9")} {
		_, err := c.WriteToUDPAddrPort([]byte("to "+dst.String()), dst)
		require.NoError(t, err)
		p := next()
		assert.Equal(t, dst, p.dst)
		assert.Equal(t, "to "+dst.String(), p.payload)
	}

	// One send of 3×500 bytes with UDP_SEGMENT 500: with USO the device
	// gets one 1500-byte super-packet that Read splits, else three.
	msg := segmented(t, c)
	_, err := c.WriteToUDPAddrPort(msg, netip.AddrPortFrom(peer4, 10))
	require.NoError(t, err)
	for i := range 3 {
		p := next()
		assert.Equal(t, netip.AddrPortFrom(peer4, 10), p.dst)
		assert.Equal(t, string(msg[500*i:500*(i+1)]), p.payload, "segment %d", i)
		if dev.Offloads().USO {
			assert.Equal(t, 3, p.batch, "USO: one read returns the three segments")
		}
	}
}

// TestAllocs: a batch write into the device and a batch read from it
// allocate nothing in steady state (the sockets at the other end use the
// allocation-free netip calls).
func TestAllocs(t *testing.T) {
	ns := newNetns(t)
	dev := open(t, ns, tundev.Config{Name: "tundev9", MTU: 1400, Addrs: []netip.Prefix{self4}})
	src, dst := netip.AddrPortFrom(peer4, 5000), netip.AddrPortFrom(self4.Addr(), 4009)
	c := listenUDP(t, ns, dst)
	require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))

	// Write: the engine's decapsulated packets into the device, read back
	// on the local socket.
	const k = 4
	wbufs := make([][]byte, k)
	for i := range wbufs {
		wbufs[i] = udpPacket(src, dst, bytes.Repeat([]byte{byte(i)}, 100), tunnel.OverlayOffset, 65536)
	}
	orig := make([][]byte, k)
	for i := range orig {
		orig[i] = bytes.Clone(wbufs[i])
	}
	rbuf := make([]byte, 65536)
	write := func() {
		for i := range wbufs {
			copy(wbufs[i], orig[i]) // GRO may have rewritten the first header
		}
		if _, err := dev.Write(wbufs, tunnel.OverlayOffset); err != nil {
			t.Fatal(err)
		}
		for range k {
			if _, _, err := c.ReadFromUDPAddrPort(rbuf); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Read: a datagram the kernel routes into the device.
	bufs := make([][]byte, dev.BatchSize())
	for i := range bufs {
		bufs[i] = make([]byte, tunnel.Headroom+65536)
	}
	sizes := make([]int, len(bufs))
	payload := []byte("routed into the device")
	to := netip.AddrPortFrom(peer4, 9)
	read := func() {
		if _, err := c.WriteToUDPAddrPort(payload, to); err != nil {
			t.Fatal(err)
		}
		for {
			n, err := dev.Read(bufs, sizes, tunnel.Headroom)
			if err != nil {
				t.Fatal(err)
			}
			for i := range n {
				p := bufs[i][tunnel.Headroom : tunnel.Headroom+sizes[i]]
				if len(p) >= 28 && p[0]>>4 == 4 && p[9] == 17 && binary.BigEndian.Uint16(p[22:]) == 9 {
					return
				}
			}
		}
	}
	for range 20 {
		write()
		read()
	}
	if raceEnabled {
		t.Skip("allocation counts are checked without the race detector, whose instrumentation allocates")
	}
	assert.Zero(t, testing.AllocsPerRun(200, write), "Write")
	assert.Zero(t, testing.AllocsPerRun(200, read), "Read")
}

// segmented sets UDP_SEGMENT 500 on c (UDP GSO: one send leaves as
// segments of 500 bytes) and returns a 1500-byte message of three such
// segments, "xxx…", "yyy…", "zzz…".
func segmented(t *testing.T, c *net.UDPConn) []byte {
	t.Helper()
	raw, err := c.SyscallConn()
	require.NoError(t, err)
	var serr error
	require.NoError(t, raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT, 500)
	}))
	require.NoError(t, serr)
	var msg []byte
	for i := range 3 {
		msg = append(msg, bytes.Repeat([]byte{byte('x' + i)}, 500)...)
	}
	return msg
}
