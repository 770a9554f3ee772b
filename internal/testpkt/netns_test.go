//go:build linux

package testpkt

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// TestNetns builds two namespaces joined by a veth pair and checks what
// each helper did: the names, the addresses, a UDP datagram across the
// pair from sockets made with Do, a sysctl, a route, a command run inside,
// and that cleanup deletes the namespaces.
func TestNetns(t *testing.T) {
	NeedRoot(t, "network namespaces")
	var names []string
	t.Run("pair", func(t *testing.T) {
		a, b := NewPair(t, "tp-a", []string{"198.51.100.1/24", "2001:db8:100::1/64"},
			"tp-b", []string{"198.51.100.2/24", "2001:db8:100::2/64"})
		names = []string{a.Name, b.Name}
		for _, n := range []*NS{a, b} {
			if !strings.HasPrefix(n.Name, NSPrefix) {
				t.Errorf("name %q lacks the prefix %q", n.Name, NSPrefix)
			}
			if _, err := os.Stat(n.Path()); err != nil {
				t.Errorf("namespace not mounted: %v", err)
			}
		}
		if a.Name == b.Name {
			t.Fatalf("two namespaces named %s", a.Name)
		}
		l, err := a.NL.LinkByName("tp-a")
		if err != nil {
			t.Fatal(err)
		}
		addrs, err := a.NL.AddrList(l, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ad := range addrs {
			if !ad.IP.IsLinkLocalUnicast() {
				got = append(got, ad.IPNet.String())
			}
		}
		if strings.Join(got, " ") != "198.51.100.1/24 2001:db8:100::1/64" {
			t.Errorf("addresses of tp-a: %v", got)
		}

		for _, tt := range []struct{ src, dst string }{
			{"198.51.100.1", "198.51.100.2:7000"}, {"2001:db8:100::1", "[2001:db8:100::2]:7000"},
		} {
			dst := tt.dst
			ap := netip.MustParseAddrPort(dst)
			var rc, sc *net.UDPConn
			b.Do(t, func() { rc, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap)) })
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			a.Do(t, func() { sc, err = net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(ap)) })
			if err != nil {
				t.Fatal(err)
			}
			defer sc.Close()
			if _, err := sc.Write([]byte("hello " + dst)); err != nil {
				t.Fatal(err)
			}
			rc.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 100)
			k, from, err := rc.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatalf("%s: %v", dst, err)
			}
			if string(buf[:k]) != "hello "+dst || from.Addr().String() != tt.src {
				t.Errorf("%s: got %q from %v", dst, buf[:k], from)
			}
		}

		a.Sysctl(t, "net.ipv4.ip_forward", "1")
		a.Do(t, func() {
			v, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
			if err != nil || strings.TrimSpace(string(v)) != "1" {
				t.Errorf("ip_forward in a: %q %v", v, err)
			}
		})
		b.Sysctl(t, "net/ipv4/ip_forward", "0")

		a.Route(t, "203.0.113.0/24", "198.51.100.2")
		routes, err := a.NL.RouteGet(net.ParseIP("203.0.113.9"))
		if err != nil || len(routes) == 0 || !routes[0].Gw.Equal(net.ParseIP("198.51.100.2")) {
			t.Errorf("route to 203.0.113.9 in a: %v %v", routes, err)
		}

		// A command run inside sees the namespace's links only.
		out, err := a.Run(t, 5*time.Second, "cat", "/proc/net/dev")
		if err != nil {
			t.Fatalf("cat: %v\n%s", err, out)
		}
		if !strings.Contains(out, "tp-a:") || strings.Contains(out, "tp-b:") {
			t.Errorf("/proc/net/dev in a:\n%s", out)
		}
		if _, err := a.Run(t, 100*time.Millisecond, "sleep", "10"); err == nil || !strings.Contains(err.Error(), "killed after") {
			t.Errorf("Run past its timeout: %v", err)
		}
	})
	for _, name := range names {
		if _, err := os.Stat(filepath.Join(NetnsDir, name)); !os.IsNotExist(err) {
			t.Errorf("namespace %s still there after the test: %v", name, err)
		}
	}
}

// TestSweepStale leaves a namespace named as by a process that has exited
// and checks that the sweep deletes it, and only it.
func TestSweepStale(t *testing.T) {
	NeedRoot(t, "network namespaces")
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid
	if _, err := os.Stat("/proc/" + strconv.Itoa(dead)); err == nil {
		t.Skip("the PID of an exited process was reused at once")
	}
	stale := nsPrefixBase + strconv.Itoa(dead) + "-1"
	func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		orig, err := netns.Get()
		if err != nil {
			t.Fatal(err)
		}
		defer orig.Close()
		h, err := netns.NewNamed(stale)
		if serr := netns.Set(orig); serr != nil {
			panic(serr)
		}
		if err != nil {
			t.Fatal(err)
		}
		h.Close()
	}()
	t.Cleanup(func() { _ = netns.DeleteNamed(stale) })
	live := NewNS(t)
	sweepStale()
	if _, err := os.Stat(filepath.Join(NetnsDir, stale)); !os.IsNotExist(err) {
		t.Errorf("stale namespace %s not swept: %v", stale, err)
	}
	if _, err := os.Stat(live.Path()); err != nil {
		t.Errorf("the sweep deleted a live namespace: %v", err)
	}
}
