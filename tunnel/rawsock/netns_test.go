//go:build linux

package rawsock_test

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/tunnel/rawsock"
)

// Every namespace the tests make is named nsPrefix + pid + "-" + n, so
// that `ip netns list` shows whose it is; t.Cleanup deletes it.
var (
	nsPrefix = fmt.Sprintf("ipenc-rs-%d-", os.Getpid())
	nsSeq    atomic.Int32
)

// ns is a network namespace made by a test.
type ns struct {
	name string
	h    netns.NsHandle
	nl   *netlink.Handle
}

// needRoot skips (fails under IPENCAP_STRICT=1) without root.
func needRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		testpkt.Missing(tb, "rawsock tests need root (network namespaces, veth pairs, raw sockets)")
	}
}

// newNS makes a named network namespace, deleted by t.Cleanup.
func newNS(tb testing.TB) *ns {
	tb.Helper()
	needRoot(tb)
	name := fmt.Sprintf("%s%d", nsPrefix, nsSeq.Add(1))
	h, err := func() (netns.NsHandle, error) {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			return netns.None(), err
		}
		defer orig.Close()
		h, nerr := netns.NewNamed(name)
		if err := netns.Set(orig); err != nil {
			// The thread is stuck in the new namespace: keep it locked,
			// so that it dies with this goroutine.
			panic("rawsock test: cannot return to the original namespace: " + err.Error())
		}
		runtime.UnlockOSThread()
		return h, nerr
	}()
	if err != nil {
		testpkt.Missing(tb, "cannot create a network namespace: "+err.Error())
	}
	n := &ns{name: name, h: h}
	tb.Cleanup(func() {
		if n.nl != nil {
			n.nl.Close()
		}
		h.Close()
		if err := netns.DeleteNamed(name); err != nil {
			tb.Errorf("deleting namespace %s: %v", name, err)
		}
	})
	n.nl, err = netlink.NewHandleAt(h)
	require.NoError(tb, err)
	lo, err := n.nl.LinkByName("lo")
	require.NoError(tb, err)
	require.NoError(tb, n.nl.LinkSetUp(lo))
	return n
}

// do runs fn on a thread inside n, as a socket made there belongs to n
// for its life.
func (n *ns) do(tb testing.TB, fn func()) {
	tb.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	require.NoError(tb, err)
	defer orig.Close()
	require.NoError(tb, netns.Set(n.h))
	defer func() {
		if err := netns.Set(orig); err != nil {
			panic("rawsock test: cannot return to the original namespace: " + err.Error())
		}
		runtime.UnlockOSThread()
	}()
	fn()
}

// sysctl writes a /proc/sys/net value inside n.
func (n *ns) sysctl(tb testing.TB, path, value string) {
	tb.Helper()
	var err error
	n.do(tb, func() { err = os.WriteFile("/proc/sys/net/"+path, []byte(value), 0) })
	require.NoError(tb, err, "sysctl %s in %s", path, n.name)
}

// veth joins a and b with a veth pair, ifa in a and ifb in b, both with
// MTU mtu (0: the default 1500).
func veth(tb testing.TB, a *ns, ifa string, b *ns, ifb string, mtu int) {
	tb.Helper()
	v := netlink.NewVeth(netlink.LinkAttrs{Name: ifa, MTU: mtu})
	v.PeerName = ifb
	v.PeerNamespace = netlink.NsFd(int(b.h))
	v.PeerMTU = uint32(mtu)
	require.NoError(tb, a.nl.LinkAdd(v))
}

// up gives ifname in n the addresses (IPv6 ones without duplicate address
// detection, so they are usable at once) and sets it up.
func (n *ns) up(tb testing.TB, ifname string, prefixes ...string) {
	tb.Helper()
	l, err := n.nl.LinkByName(ifname)
	require.NoError(tb, err)
	for _, p := range prefixes {
		a, err := netlink.ParseAddr(p)
		require.NoError(tb, err)
		if a.IP.To4() == nil {
			a.Flags = unix.IFA_F_NODAD
		}
		require.NoError(tb, n.nl.AddrAdd(l, a), "%s %s", ifname, p)
	}
	require.NoError(tb, n.nl.LinkSetUp(l))
}

// waitUp waits (at most 5 s) until ifname in n is operationally up:
// until then (the kernel's link watcher acts on the carrier with a
// delay) the device has no queue and drops what is sent.
func (n *ns) waitUp(tb testing.TB, ifname string) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, err := n.nl.LinkByName(ifname)
		require.NoError(tb, err)
		if l.Attrs().OperState == netlink.OperUp {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s in %s not up after 5 s: %v", ifname, n.name, l.Attrs().OperState)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// route adds a route to prefix via gw in n.
func (n *ns) route(tb testing.TB, prefix, gw string) {
	tb.Helper()
	_, dst, err := net.ParseCIDR(prefix)
	require.NoError(tb, err)
	require.NoError(tb, n.nl.RouteAdd(&netlink.Route{Dst: dst, Gw: net.ParseIP(gw)}))
}

// open opens a Conn inside n, closed by t.Cleanup.
func (n *ns) open(tb testing.TB, cfg rawsock.Config) *rawsock.Conn {
	tb.Helper()
	var c *rawsock.Conn
	var err error
	n.do(tb, func() { c, err = rawsock.Open(cfg) })
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// The addresses of the two-namespace setup.
var (
	addrA4 = netip.MustParseAddr("198.51.100.1")
	addrB4 = netip.MustParseAddr("198.51.100.2")
	addrA6 = netip.MustParseAddr("2001:db8::1")
	addrB6 = netip.MustParseAddr("2001:db8::2")
)

// newPair makes namespaces a and b joined by a veth pair, with
// 198.51.100.1/24 and 2001:db8::1/64 in a, 198.51.100.2/24 and
// 2001:db8::2/64 in b.
func newPair(tb testing.TB) (a, b *ns) {
	tb.Helper()
	a, b = newNS(tb), newNS(tb)
	veth(tb, a, "rs-a", b, "rs-b", 0)
	a.up(tb, "rs-a", "198.51.100.1/24", "2001:db8::1/64")
	b.up(tb, "rs-b", "198.51.100.2/24", "2001:db8::2/64")
	a.waitUp(tb, "rs-a")
	b.waitUp(tb, "rs-b")
	return a, b
}

// received is what readN collected.
type received struct {
	pkts  [][]byte
	peers []netip.AddrPort
	calls int
}

// rxOffset is the offset the engine reads at.
const rxOffset = 24

// readN reads n packets from c, with batches of batch buffers of the
// engine's size, failing after timeout (and closing c to stop the reader).
func readN(tb testing.TB, c *rawsock.Conn, n, batch int, timeout time.Duration) received {
	tb.Helper()
	done := make(chan error, 1)
	var r received
	go func() {
		bufs := make([][]byte, batch)
		for i := range bufs {
			bufs[i] = make([]byte, 65600)
		}
		sizes := make([]int, batch)
		peers := make([]netip.AddrPort, batch)
		for len(r.pkts) < n {
			k, err := c.ReadBatch(bufs, sizes, peers, rxOffset)
			r.calls++
			for i := range k {
				r.pkts = append(r.pkts, append([]byte(nil), bufs[i][rxOffset:rxOffset+sizes[i]]...))
				r.peers = append(r.peers, peers[i])
			}
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		require.NoError(tb, err)
	case <-time.After(timeout):
		_ = c.Close()
		<-done
		tb.Fatalf("received %d of %d packets within %v", len(r.pkts), n, timeout)
	}
	return r
}

// errClosed reports whether err is net.ErrClosed.
func errClosed(err error) bool { return errors.Is(err, net.ErrClosed) }
