//go:build linux

package tundev

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ipencap/ipencap/tunnel"
)

var _ tunnel.Overlay = (*TAP)(nil)

// TAP is an open TAP device: an Ethernet interface whose frames the
// program reads and writes, the overlay of a gretap tunnel (a TUN device
// carries IP packets; gretap carries Ethernet). Frames move one a call,
// without offloads (wireguard-go's tun, which Device wraps, makes TUN
// devices only); the device is opened with IFF_TAP|IFF_NO_PI on
// /dev/net/tun and configured through netlink like Device. Bridge it with
// `ip link set NAME master BRIDGE` to join a site's segment. All methods
// are safe for concurrent use.
type TAP struct {
	f     *os.File // non-blocking, so that the runtime's poller waits for it and Close wakes a Read
	name  string
	index int

	nlMu sync.Mutex
	nl   *netlink.Handle

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// OpenTAP creates a TAP device in the network namespace of the calling
// thread, sets its MTU (the most an Ethernet frame's payload may carry),
// brings it up and adds cfg's addresses and routes. Errors are [*Error]
// values; on error nothing is left behind.
func OpenTAP(cfg Config) (*TAP, error) {
	fail := func(op string, err error) (*TAP, error) { return nil, &Error{Name: cfg.Name, Op: op, Err: err} }
	mtu, op, err := cfg.check()
	if err != nil {
		return fail(op, err)
	}
	runtime.LockOSThread() // the device and the netlink socket belong to this thread's namespace
	defer runtime.UnlockOSThread()
	nl, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fail("netlink", err)
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		nl.Close()
		return fail("open /dev/net/tun", err)
	}
	ifr, err := unix.NewIfreq(cfg.Name)
	if err != nil {
		unix.Close(fd)
		nl.Close()
		return fail("name", err)
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		nl.Close()
		return fail("create", os.NewSyscallError("ioctl TUNSETIFF", err))
	}
	t := &TAP{f: os.NewFile(uintptr(fd), "/dev/net/tun"), name: ifr.Name(), nl: nl}
	if t.index, err = configureLink(nl, t.name, cfg, mtu, 0); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// Name returns the device's name.
func (t *TAP) Name() string { return t.name }

// Index returns the device's interface index.
func (t *TAP) Index() int { return t.index }

// HardwareAddr returns the device's MAC address, which the kernel chose.
func (t *TAP) HardwareAddr() (net.HardwareAddr, error) {
	t.nlMu.Lock()
	defer t.nlMu.Unlock()
	if t.closed.Load() {
		return nil, ErrClosed
	}
	l, err := t.nl.LinkByIndex(t.index)
	if err != nil {
		return nil, &Error{Name: t.name, Op: "find link", Err: err}
	}
	return l.Attrs().HardwareAddr, nil
}

// Read reads one Ethernet frame into bufs[0][offset:] and its length into
// sizes[0], blocking until there is one; after Close it returns
// [ErrClosed].
func (t *TAP) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	if len(bufs) == 0 {
		return 0, nil
	}
	n, err := t.f.Read(bufs[0][offset:])
	if err != nil {
		if t.closed.Load() || errors.Is(err, os.ErrClosed) {
			return 0, ErrClosed
		}
		return 0, &Error{Name: t.name, Op: "read", Err: err}
	}
	sizes[0] = n
	return 1, nil
}

// Write writes the frames bufs[i][offset:] and returns how many it wrote;
// after Close it returns [ErrClosed].
func (t *TAP) Write(bufs [][]byte, offset int) (int, error) {
	for i, b := range bufs {
		if _, err := t.f.Write(b[offset:]); err != nil {
			if t.closed.Load() || errors.Is(err, os.ErrClosed) {
				return i, ErrClosed
			}
			return i, &Error{Name: t.name, Op: "write", Err: err}
		}
	}
	return len(bufs), nil
}

// BatchSize is 1: a TAP device moves one frame a call.
func (t *TAP) BatchSize() int { return 1 }

// MTU returns the device's MTU.
func (t *TAP) MTU() (int, error) {
	t.nlMu.Lock()
	defer t.nlMu.Unlock()
	if t.closed.Load() {
		return 0, ErrClosed
	}
	l, err := t.nl.LinkByIndex(t.index)
	if err != nil {
		return 0, &Error{Name: t.name, Op: "find link", Err: err}
	}
	return l.Attrs().MTU, nil
}

// SetMTU sets the device's MTU (the tunnel's, once the engine knows it).
func (t *TAP) SetMTU(mtu int) error {
	t.nlMu.Lock()
	defer t.nlMu.Unlock()
	if t.closed.Load() {
		return ErrClosed
	}
	l, err := t.nl.LinkByIndex(t.index)
	if err == nil {
		err = t.nl.LinkSetMTU(l, mtu)
	}
	if err != nil {
		return &Error{Name: t.name, Op: fmt.Sprintf("set mtu %d", mtu), Err: err}
	}
	return nil
}

// Close closes the device: the kernel removes the interface. A blocked
// Read returns; later calls return [ErrClosed] (the netlink ones too: a
// closed netlink handle would fall back to the calling thread's namespace
// and whatever link has the index there now). A second Close does nothing
// and returns nil, as every transport's.
func (t *TAP) Close() error {
	first := false
	t.closeOnce.Do(func() {
		first = true
		t.closed.Store(true)
		t.closeErr = t.f.Close()
		t.nlMu.Lock()
		t.nl.Close()
		t.nlMu.Unlock()
	})
	if !first {
		return nil
	}
	return t.closeErr
}
