//go:build linux

package testpkt

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Network namespaces for tests that need a network: each test makes its
// own, joins them with veth pairs and runs sockets and processes inside
// them, so that no packet reaches the host's network.

// NSPrefix starts the name of every namespace NewNS makes: "ipencap-test-",
// the test process's PID and "-", so that `ip netns list` shows whose a
// namespace is. The sequence number of the namespace follows.
var NSPrefix = nsPrefixBase + strconv.Itoa(os.Getpid()) + "-"

// nsPrefixBase is NSPrefix without the PID: what the sweep of namespaces
// left by killed test processes looks for.
const nsPrefixBase = "ipencap-test-"

// NetnsDir is where named network namespaces are mounted (as iproute2 and
// package netns do): `nsenter --net=NetnsDir/NAME` enters one.
const NetnsDir = "/run/netns"

var (
	nsSeq   atomic.Int32
	nsSweep sync.Once
)

// NeedRoot skips tb (fails it under Strict) unless the process runs as
// root; why says what for.
func NeedRoot(tb testing.TB, why string) {
	tb.Helper()
	if os.Geteuid() != 0 {
		Missing(tb, "root (CAP_NET_ADMIN, CAP_NET_RAW) for "+why)
	}
}

// NeedTUN skips tb (fails it under Strict) without /dev/net/tun.
func NeedTUN(tb testing.TB) {
	tb.Helper()
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		Missing(tb, "/dev/net/tun: "+err.Error())
	}
}

// netTools names the Debian packages of the network tools the tests run.
var netTools = map[string]string{"ping": "iputils-ping", "ip": "iproute2", "nsenter": "util-linux"}

// NetTool is Tool for ping, ip and nsenter, naming their Debian packages
// (iputils-ping, iproute2, util-linux) in the message.
func NetTool(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		pkg := netTools[name]
		if pkg == "" {
			pkg = debianPackage(name)
		}
		Missing(tb, name+" is not installed (Debian package: "+pkg+")")
	}
	return p
}

// NS is a named network namespace made by NewNS, with a netlink handle
// inside it.
type NS struct {
	Name   string
	Handle netns.NsHandle
	NL     *netlink.Handle
}

// NewNS makes a network namespace named NSPrefix and a sequence number,
// with its loopback up. t.Cleanup deletes it (register what runs inside it
// after NewNS, so that it is cleaned up first). It needs root: without,
// it skips (fails under Strict).
func NewNS(tb testing.TB) *NS {
	tb.Helper()
	NeedRoot(tb, "network namespaces")
	nsSweep.Do(sweepStale)
	name := NSPrefix + strconv.Itoa(int(nsSeq.Add(1)))
	h, err := func() (netns.NsHandle, error) {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			return netns.None(), err
		}
		defer orig.Close()
		h, nerr := netns.NewNamed(name) // switches this thread
		if err := netns.Set(orig); err != nil {
			// The thread is stuck in the new namespace: keep it locked,
			// so that it dies with this goroutine.
			panic("testpkt: cannot return to the original network namespace: " + err.Error())
		}
		runtime.UnlockOSThread()
		return h, nerr
	}()
	if err != nil {
		_ = os.Remove(filepath.Join(NetnsDir, name)) // NewNamed may leave the file behind
		Missing(tb, "cannot create a network namespace: "+err.Error())
	}
	n := &NS{Name: name, Handle: h}
	tb.Cleanup(func() {
		if n.NL != nil {
			n.NL.Close()
		}
		h.Close()
		if err := netns.DeleteNamed(name); err != nil {
			tb.Errorf("testpkt: deleting network namespace %s: %v", name, err)
		}
	})
	n.NL, err = netlink.NewHandleAt(h)
	if err != nil {
		tb.Fatalf("testpkt: netlink in %s: %v", name, err)
	}
	n.SetUp(tb, "lo")
	return n
}

// sweepStale deletes the namespaces a test process that no longer runs
// left behind (it was killed before its cleanup): names with
// nsPrefixBase, a PID that has no /proc entry, and a dash.
func sweepStale() {
	ents, err := os.ReadDir(NetnsDir)
	if err != nil {
		return
	}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), nsPrefixBase)
		if !ok {
			continue
		}
		pid, _, ok := strings.Cut(rest, "-")
		if !ok {
			continue
		}
		if _, err := strconv.Atoi(pid); err != nil {
			continue
		}
		if _, err := os.Stat("/proc/" + pid); err == nil {
			continue // still running (or the PID was reused: leave it)
		}
		_ = netns.DeleteNamed(e.Name())
	}
}

// Path returns the namespace's mount point, for `nsenter --net=PATH`.
func (n *NS) Path() string { return filepath.Join(NetnsDir, n.Name) }

// Do runs fn on an OS thread switched into n: sockets fn creates belong to
// n for their life, and processes it starts run in n. fn may call
// tb.FailNow: the thread returns to its namespace all the same.
func (n *NS) Do(tb testing.TB, fn func()) {
	tb.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		tb.Fatalf("testpkt: current network namespace: %v", err)
	}
	defer orig.Close()
	if err := netns.Set(n.Handle); err != nil {
		runtime.UnlockOSThread()
		tb.Fatalf("testpkt: entering %s: %v", n.Name, err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			// Leave the thread locked: it ends with the goroutine
			// instead of serving others from the wrong namespace.
			panic("testpkt: cannot return to the original network namespace: " + err.Error())
		}
		runtime.UnlockOSThread()
	}()
	fn()
}

// DialContext dials addr inside n, for an http.Transport or a
// net.Dialer's user: each connection is dialled from a goroutine locked to
// an OS thread switched into n, a thread that ends with the goroutine (it
// is never unlocked), while the socket stays in n for its life.
func (n *NS) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := netns.Set(n.Handle); err != nil {
			ch <- result{nil, err}
			return
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

// Sysctl writes value to a network sysctl of n: key is a path under
// /proc/sys ("net/ipv4/ip_forward") or in sysctl's dotted form
// ("net.ipv4.ip_forward").
func (n *NS) Sysctl(tb testing.TB, key, value string) {
	tb.Helper()
	if !strings.Contains(key, "/") {
		key = strings.ReplaceAll(key, ".", "/")
	}
	var err error
	n.Do(tb, func() { err = os.WriteFile("/proc/sys/"+key, []byte(value), 0) })
	if err != nil {
		tb.Fatalf("testpkt: sysctl %s=%s in %s: %v", key, value, n.Name, err)
	}
}

// Veth joins a and b with a veth pair, ifa in a and ifb in b, both with
// MTU mtu (0: the default, 1500). The links are down and have no address:
// see Up.
func Veth(tb testing.TB, a *NS, ifa string, b *NS, ifb string, mtu int) {
	tb.Helper()
	v := netlink.NewVeth(netlink.LinkAttrs{Name: ifa, MTU: mtu})
	v.PeerName = ifb
	v.PeerNamespace = netlink.NsFd(int(b.Handle))
	v.PeerMTU = uint32(mtu)
	if err := a.NL.LinkAdd(v); err != nil {
		tb.Fatalf("testpkt: veth %s (%s) - %s (%s): %v", ifa, a.Name, ifb, b.Name, err)
	}
}

// AddAddr gives ifname in n the addresses with their prefix lengths
// ("198.51.100.1/24"); IPv6 ones without duplicate address detection
// (IFA_F_NODAD), so that they are usable at once.
func (n *NS) AddAddr(tb testing.TB, ifname string, prefixes ...string) {
	tb.Helper()
	l := n.link(tb, ifname)
	for _, s := range prefixes {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			tb.Fatalf("testpkt: address %q: %v", s, err)
		}
		a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
		if p.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD
		}
		if err := n.NL.AddrAdd(l, a); err != nil {
			tb.Fatalf("testpkt: %s: add %s in %s: %v", ifname, s, n.Name, err)
		}
	}
}

// SetUp sets ifname in n administratively up.
func (n *NS) SetUp(tb testing.TB, ifname string) {
	tb.Helper()
	if err := n.NL.LinkSetUp(n.link(tb, ifname)); err != nil {
		tb.Fatalf("testpkt: %s up in %s: %v", ifname, n.Name, err)
	}
}

// Up gives ifname in n the addresses (as AddAddr) and sets it up.
func (n *NS) Up(tb testing.TB, ifname string, prefixes ...string) {
	tb.Helper()
	n.AddAddr(tb, ifname, prefixes...)
	n.SetUp(tb, ifname)
}

// WaitUp waits (at most 5 s) until ifname in n is operationally up: until
// then (the kernel's link watcher acts on the carrier with a delay) a veth
// has no queue and drops what is sent.
func (n *NS) WaitUp(tb testing.TB, ifname string) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l := n.link(tb, ifname)
		if l.Attrs().OperState == netlink.OperUp {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("testpkt: %s in %s not up after 5 s: %v", ifname, n.Name, l.Attrs().OperState)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Route adds a route to prefix ("203.0.113.0/24") via the gateway gw in n.
func (n *NS) Route(tb testing.TB, prefix, gw string) {
	tb.Helper()
	_, dst, err := net.ParseCIDR(prefix)
	if err != nil {
		tb.Fatalf("testpkt: route %q: %v", prefix, err)
	}
	g := net.ParseIP(gw)
	if g == nil {
		tb.Fatalf("testpkt: gateway %q is not an address", gw)
	}
	if err := n.NL.RouteAdd(&netlink.Route{Dst: dst, Gw: g}); err != nil {
		tb.Fatalf("testpkt: route %s via %s in %s: %v", prefix, gw, n.Name, err)
	}
}

func (n *NS) link(tb testing.TB, ifname string) netlink.Link {
	tb.Helper()
	l, err := n.NL.LinkByName(ifname)
	if err != nil {
		tb.Fatalf("testpkt: link %s in %s: %v", ifname, n.Name, err)
	}
	return l
}

// NewPair makes two namespaces joined by a veth pair, ifa in a with the
// addresses addrsA and ifb in b with addrsB, both up and operationally up.
func NewPair(tb testing.TB, ifa string, addrsA []string, ifb string, addrsB []string) (a, b *NS) {
	tb.Helper()
	a, b = NewNS(tb), NewNS(tb)
	Veth(tb, a, ifa, b, ifb, 0)
	a.Up(tb, ifa, addrsA...)
	b.Up(tb, ifb, addrsB...)
	a.WaitUp(tb, ifa)
	b.WaitUp(tb, ifb)
	return a, b
}

// Start starts cmd inside n: the child inherits the namespace of the
// thread that forks it. The caller waits for it, and kills it (by
// cmd.Process) in a t.Cleanup registered after NewNS, so that it ends
// before its namespace is deleted; Run does all that for a short command.
func (n *NS) Start(tb testing.TB, cmd *exec.Cmd) {
	tb.Helper()
	var err error
	n.Do(tb, func() { err = cmd.Start() })
	if err != nil {
		tb.Fatalf("testpkt: starting %s in %s: %v", cmd.Path, n.Name, err)
	}
}

// Run runs the command name with args inside n, killing it (its PID)
// after timeout, and returns its combined output and its error.
func (n *NS) Run(tb testing.TB, timeout time.Duration, name string, args ...string) (string, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = time.Second
	var err error
	n.Do(tb, func() { err = cmd.Start() })
	if err != nil {
		return "", fmt.Errorf("starting %s in %s: %w", name, n.Name, err)
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s %s: killed after %v: %w", name, strings.Join(args, " "), timeout, err)
	}
	return out.String(), err
}
