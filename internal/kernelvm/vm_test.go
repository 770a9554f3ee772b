//go:build linux

package kernelvm_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/ipencap/ipencap/internal/kernelvm"
	"github.com/ipencap/ipencap/internal/testpkt"
)

// The underlay between the host side (namespace K, TAP device ktap) and
// the VM (eth0).
const (
	hostTap = "ktap"
	vmMAC   = "52:54:00:00:02:02"
	host4   = "198.51.100.1"
	vm4     = "198.51.100.2"
	host6   = "2001:db8:100::1"
	vm6     = "2001:db8:100::2"
)

// env is what every Kernel test shares: one VM, the namespace its TAP
// device is in, gretun.
type env struct {
	vm      *kernelvm.VM
	ns      *testpkt.NS
	gretun  string
	dir     string
	release string // the kernel's
}

var (
	shared struct {
		once    sync.Once
		env     *env
		err     error
		missing bool // err is a missing prerequisite: skip (fail under strict)
		cleanup []func()
	}
)

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(shared.cleanup) - 1; i >= 0; i-- {
		shared.cleanup[i]()
	}
	os.Exit(code)
}

// theVM returns the shared VM, booting it on the first call. Without root,
// qemu or the packages it skips (fails under IPENCAP_STRICT); under the
// race detector it skips: the suite runs once in .ci/run, without it.
func theVM(t *testing.T) *env {
	t.Helper()
	if raceEnabled {
		t.Skip("skipping: the kernel VM suite runs without the race detector (go test -run Kernel ./internal/kernelvm)")
	}
	testpkt.NeedRoot(t, "network namespaces, TAP devices and TUN devices")
	testpkt.NeedTUN(t)
	shared.once.Do(func() { shared.env, shared.err = setup() })
	if shared.err != nil {
		if shared.missing {
			testpkt.Missing(t, shared.err.Error())
		}
		t.Fatal(shared.err)
	}
	return shared.env
}

func setup() (*env, error) {
	e := &env{}
	cleanup := func(f func()) { shared.cleanup = append(shared.cleanup, f) }
	miss := func(err error) (*env, error) {
		if _, ok := err.(*kernelvm.MissingError); ok {
			shared.missing = true
		}
		return nil, err
	}
	cache, err := kernelvm.CacheDir()
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	root, err := kernelvm.Fetch(cache)
	if err != nil {
		return miss(err)
	}
	fetched := time.Since(t0)
	e.release = root.Release
	if e.dir, err = os.MkdirTemp("", "ipencap-kernelvm-"); err != nil {
		return nil, err
	}
	cleanup(func() { os.RemoveAll(e.dir) })

	e.gretun = filepath.Join(e.dir, "gretun")
	if out, err := exec.Command("go", "build", "-o", e.gretun, "github.com/ipencap/ipencap/examples/gretun").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build gretun: %v\n%s", err, out)
	}

	if e.ns, err = newNS(cleanup); err != nil {
		return nil, err
	}
	vm, err := kernelvm.Boot(kernelvm.Config{Root: root, Netns: e.ns.Path(), Tap: hostTap, MAC: vmMAC, Dir: e.dir})
	if err != nil {
		return miss(err)
	}
	cleanup(func() { vm.Close() })
	e.vm = vm
	fmt.Fprintf(os.Stderr, "kernelvm: Linux %s on %s: packages in %v, boot in %v\n", root.Release, vm.Accel, fetched.Round(time.Millisecond), vm.BootTime.Round(time.Millisecond))
	if vm.Fallback != nil {
		fmt.Fprintf(os.Stderr, "kernelvm: %v\n", firstLine(vm.Fallback.Error()))
	}

	l, err := e.ns.NL.LinkByName(hostTap)
	if err != nil {
		return nil, fmt.Errorf("%s in %s: %w", hostTap, e.ns.Name, err)
	}
	for _, a := range []string{host4 + "/24", host6 + "/64"} {
		addr, _ := netlink.ParseAddr(a)
		addr.Flags = unix.IFA_F_NODAD
		if err := e.ns.NL.AddrAdd(l, addr); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", hostTap, a, err)
		}
	}
	if err := e.ns.NL.LinkSetUp(l); err != nil {
		return nil, err
	}
	if _, err := vm.Run(10*time.Second, `
ip addr add `+vm4+`/24 dev eth0
ip addr add `+vm6+`/64 dev eth0 nodad
ip link set eth0 up
# GRO off: Linux to Linux GRE-in-UDP stalls with it on in this VM.
ethtool -K eth0 gro off
`); err != nil {
		return nil, err
	}
	return e, nil
}

// newNS makes the namespace of the host side, named as testpkt names its
// own (so that its sweep removes one a killed run left), with lo up.
func newNS(cleanup func(func())) (*testpkt.NS, error) {
	name := testpkt.NSPrefix + "kvm"
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	h, nerr := netns.NewNamed(name)
	if err := netns.Set(orig); err != nil {
		panic("cannot return to the original network namespace: " + err.Error())
	}
	orig.Close()
	runtime.UnlockOSThread()
	if nerr != nil {
		return nil, fmt.Errorf("namespace %s: %w", name, nerr)
	}
	ns := &testpkt.NS{Name: name, Handle: h}
	cleanup(func() {
		if ns.NL != nil {
			ns.NL.Close()
		}
		h.Close()
		netns.DeleteNamed(name)
	})
	if ns.NL, err = netlink.NewHandleAt(h); err != nil {
		return nil, err
	}
	lo, err := ns.NL.LinkByName("lo")
	if err == nil {
		err = ns.NL.LinkSetUp(lo)
	}
	return ns, err
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// TestKernelBoot checks the VM itself: its kernel is the package's, ip is
// iproute2's, every module of kernelvm.Modules is loaded, eth0 has GRO off
// and reaches the host side.
func TestKernelBoot(t *testing.T) {
	e := theVM(t)
	out, err := e.vm.Run(10*time.Second, "uname -r; ip -V; cat /proc/modules; ethtool -k eth0 | grep generic-receive-offload; ping -c 1 -W 2 "+host4)
	require.NoError(t, err, "%s", out)
	t.Logf("%s on %s, booted in %v:\n%s", e.release, e.vm.Accel, e.vm.BootTime, out)
	assert.True(t, strings.HasPrefix(out, e.release+"\n"), "uname -r")
	assert.Contains(t, out, "iproute2")
	for _, m := range kernelvm.Modules {
		assert.Regexp(t, "(?m)^"+m+" ", out, "module %s loaded", m)
	}
	assert.Contains(t, out, "generic-receive-offload: off")
	assert.Contains(t, out, "1 packets received")
}
