//go:build linux

package tundev

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/ipencap/ipencap/tunnel"
)

// Both the wrapped device and the Device are Overlays.
var (
	_ tunnel.Overlay = tun.Device(nil)
	_ tunnel.Overlay = (*Device)(nil)
)

// VirtioNetHdrLen is the size of the virtio-net header that precedes each
// packet on a TUN file descriptor with IFF_VNET_HDR: Write needs at least
// this offset when [Offloads.VnetHdr] is on.
const VirtioNetHdrLen = 10

// DefaultMTU is the MTU of a device opened with Config.MTU 0.
const DefaultMTU = 1500

// Config describes the TUN device to [Open].
type Config struct {
	// Name is the interface name (at most 15 bytes); empty lets the kernel
	// choose one ("tun0", "tun1", ...).
	Name string
	// MTU is the interface MTU; 0 means [DefaultMTU]. A device with IPv6
	// addresses needs at least 1280.
	MTU int
	// Addrs are the inner addresses with their prefix length, such as
	// 192.0.2.1/30 or 2001:db8::1/64: the kernel adds the route to the
	// prefix (the peers) through the device. IPv6 addresses are added
	// without duplicate address detection (IFA_F_NODAD), so they are
	// usable at once.
	Addrs []netip.Prefix
	// Routes are extra prefixes routed through the device, like
	// `ip route add PREFIX dev NAME`.
	Routes []netip.Prefix
}

// Offloads says which TUN offloads wireguard-go turned on (see the
// package documentation).
type Offloads struct {
	// VnetHdr is IFF_VNET_HDR: a virtio-net header precedes each packet on
	// the file descriptor, and Read and Write move batches (BatchSize 128).
	VnetHdr bool
	// TSO is TUN_F_CSUM|TSO4|TSO6: the kernel may hand over TCP segments
	// up to 64 KiB, which Read splits; Write coalesces TCP segments.
	TSO bool
	// USO is TUN_F_USO4|USO6 (Linux 6.2 and later): the same for UDP.
	USO bool
}

// String returns the offloads that are on, as "vnet_hdr tso uso", or
// "none".
func (o Offloads) String() string {
	var w []string
	for _, f := range []struct {
		on   bool
		name string
	}{{o.VnetHdr, "vnet_hdr"}, {o.TSO, "tso"}, {o.USO, "uso"}} {
		if f.on {
			w = append(w, f.name)
		}
	}
	if len(w) == 0 {
		return "none"
	}
	return strings.Join(w, " ")
}

// ErrClosed is returned by the methods of a closed Device; it wraps
// [net.ErrClosed], as [tunnel.Overlay] asks.
var ErrClosed = fmt.Errorf("tundev: device closed: %w", net.ErrClosed)

// Error is a failure to create or configure a device: the device, what
// was being done, and why.
type Error struct {
	// Name is the device name (Config.Name when the device was not
	// created).
	Name string
	// Op is what failed: "create", "add address 192.0.2.1/30", "set mtu
	// 1476", ...
	Op string
	// Err is the underlying error (a syscall.Errno from the kernel, most
	// often).
	Err error
}

// Error returns a message such as `tundev tun0: add address
// 192.0.2.1/30: file exists`.
func (e *Error) Error() string {
	return "tundev " + e.Name + ": " + e.Op + ": " + e.Err.Error()
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// Device is an open TUN device. It is a [tunnel.Overlay]: Read, Write,
// BatchSize, MTU and Close are those of the wrapped wireguard-go device,
// with Read counting a super-packet cut short instead of failing, and
// Write keeping the caller's slices intact and reporting packets rather
// than bytes. All methods are safe for concurrent use.
type Device struct {
	dev      tun.Device
	name     string
	index    int
	offloads Offloads

	nlMu sync.Mutex      // guards nl
	nl   *netlink.Handle // rtnetlink in the device's namespace

	wMu   sync.Mutex // guards saved
	saved [][]byte   // the caller's bufs during a Write

	tooManySegments atomic.Uint64 // Stats.TooManySegments

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
	events    chan struct{} // closed when wireguard-go's event channel is
}

// check validates cfg before anything is created, for Open and OpenTAP,
// and returns the MTU to set (DefaultMTU for 0), or the failing operation
// and its error.
func (cfg *Config) check() (mtu int, op string, err error) {
	mtu = cfg.MTU
	if mtu == 0 {
		mtu = DefaultMTU
	}
	if mtu < 68 || mtu > 65535 {
		return 0, fmt.Sprintf("mtu %d", cfg.MTU), errors.New("out of range 68–65535")
	}
	for _, ps := range [][]netip.Prefix{cfg.Addrs, cfg.Routes} {
		for _, p := range ps {
			if !p.IsValid() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
				return 0, "prefix " + p.String(), errors.New("invalid prefix")
			}
		}
	}
	return mtu, "", nil
}

// Open creates a TUN device in the network namespace of the calling
// thread, sets its MTU, brings it up, and adds its addresses and routes.
// Errors are [*Error] values; on error nothing is left behind.
func Open(cfg Config) (*Device, error) {
	fail := func(op string, err error) (*Device, error) {
		return nil, &Error{Name: cfg.Name, Op: op, Err: err}
	}
	mtu, op, err := cfg.check()
	if err != nil {
		return fail(op, err)
	}
	// The TUN device, the netlink socket and the ioctl sockets wireguard-go
	// opens all belong to the namespace of the thread that creates them:
	// keep this goroutine on one thread until they exist.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	nl, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return fail("netlink", err)
	}
	dev, err := tun.CreateTUN(cfg.Name, mtu)
	if err != nil {
		nl.Close()
		return fail("create", err)
	}
	name, err := dev.Name()
	if err != nil {
		dev.Close()
		nl.Close()
		return fail("create", err)
	}
	d := &Device{dev: dev, name: name, nl: nl, offloads: offloadsOf(dev), events: make(chan struct{})}
	go d.drainEvents()
	if err := d.configure(cfg, mtu); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// offloadsOf reads what wireguard-go's NativeTun turned on. It records
// the outcome of its TUNSETOFFLOAD calls in unexported fields only;
// reading them (never writing) is the one way to learn it without
// repeating the ioctls. If the fields are renamed, it falls back to the
// batch size, which NativeTun sets above 1 exactly when the virtio-net
// header is on (and TSO with it: CreateTUN fails otherwise).
func offloadsOf(dev tun.Device) Offloads {
	var o Offloads
	o.VnetHdr = dev.BatchSize() > 1
	if v := reflect.ValueOf(dev); v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct {
		if f := v.Elem().FieldByName("vnetHdr"); f.IsValid() && f.Kind() == reflect.Bool {
			o.VnetHdr = f.Bool()
		}
		if f := v.Elem().FieldByName("udpGSO"); f.IsValid() && f.Kind() == reflect.Bool {
			o.USO = f.Bool()
		}
	}
	o.TSO = o.VnetHdr
	o.USO = o.USO && o.VnetHdr
	return o
}

// drainEvents reads wireguard-go's device events (up, down, MTU change),
// which nobody else reads: its listeners block once the channel's buffer
// of 5 is full, and would then never see Close. The channel is closed
// when they have stopped.
func (d *Device) drainEvents() {
	defer close(d.events)
	for range d.dev.Events() {
	}
}

func (d *Device) configure(cfg Config, mtu int) error {
	index, err := configureLink(d.nl, d.name, cfg, mtu, d.dev.BatchSize())
	d.index = index
	return err
}

// configureLink sets the MTU of the link name (and, when segs > 0, its
// gso_max_segs), brings it up, and adds cfg's addresses and routes,
// through nl; it returns the link's index.
func configureLink(nl *netlink.Handle, name string, cfg Config, mtu, segs int) (int, error) {
	fail := func(op string, err error) (int, error) { return 0, &Error{Name: name, Op: op, Err: err} }
	link, err := nl.LinkByName(name)
	if err != nil {
		return fail("find link", err)
	}
	index := link.Attrs().Index
	if err := nl.LinkSetMTU(link, mtu); err != nil {
		return fail(fmt.Sprintf("set mtu %d", mtu), err)
	}
	// No super-packet of more segments than a Read can return (package
	// documentation, "Super-packets of more than BatchSize segments"); set
	// before the link is up, so that no socket routes through the device
	// with the kernel's default of 65535.
	if segs > 0 {
		if err := nl.LinkSetGSOMaxSegs(link, segs); err != nil {
			return fail(fmt.Sprintf("set gso_max_segs %d", segs), err)
		}
	}
	// Up first: an IPv6 address added while the link is down turns
	// tentative (IFA_F_NODAD or not) until the link is up.
	if err := nl.LinkSetUp(link); err != nil {
		return fail("set up", err)
	}
	for _, p := range cfg.Addrs {
		a := &netlink.Addr{IPNet: ipNet(p, false)}
		if p.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD
		}
		if err := nl.AddrAdd(link, a); err != nil {
			return fail("add address "+p.String(), err)
		}
	}
	// Even without DAD, the kernel installs an IPv6 address's local route
	// from a work queue (addrconf_dad_work → addrconf_dad_completed), a
	// moment after the address is added; packets to the address are
	// dropped until then (Ip6InAddrErrors). Wait for it.
	for _, p := range cfg.Addrs {
		if p.Addr().Is6() {
			if err := waitLocal(nl, p.Addr()); err != nil {
				return fail("add address "+p.String(), err)
			}
		}
	}
	for _, p := range cfg.Routes {
		r := &netlink.Route{LinkIndex: index, Dst: ipNet(p, true)}
		if p.Addr().Is4() {
			r.Scope = netlink.SCOPE_LINK // as `ip route add PREFIX dev NAME`
		}
		if err := nl.RouteAdd(r); err != nil {
			return fail("add route "+p.String(), err)
		}
	}
	return index, nil
}

// errNoLocalRoute means that an address's local route did not appear.
var errNoLocalRoute = errors.New("the local route of the address did not appear")

// waitLocal waits (at most 2 s) until addr's local route is in place.
func waitLocal(nl *netlink.Handle, addr netip.Addr) error {
	for deadline := time.Now().Add(2 * time.Second); ; {
		rs, err := nl.RouteGet(addr.AsSlice())
		if err == nil && len(rs) > 0 && rs[0].Type == unix.RTN_LOCAL {
			return nil
		}
		if time.Now().After(deadline) {
			return errNoLocalRoute
		}
		time.Sleep(time.Millisecond)
	}
}

// ipNet converts p, with its host bits or masked.
func ipNet(p netip.Prefix, masked bool) *net.IPNet {
	if masked {
		p = p.Masked()
	}
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// Name returns the interface name.
func (d *Device) Name() string { return d.name }

// Index returns the interface index.
func (d *Device) Index() int { return d.index }

// Offloads returns the offloads that are on.
func (d *Device) Offloads() Offloads { return d.offloads }

// Read reads a batch of packets the kernel routed into the device; packet
// i is bufs[i][offset:offset+sizes[i]]. It blocks until it has at least
// one packet. With offloads on, one TCP or UDP super-packet is split into
// segments, one per buffer: up to 64 KiB of payload in segments of the
// MSS, at most BatchSize of them, since Open sets the device's
// gso_max_segs to BatchSize (47 buffers of a 1400-byte MTU; BatchSize for
// a peer with an MSS below 512 bytes).
//
// A super-packet with more segments than len(bufs) (Read given fewer
// buffers than BatchSize, or gso_max_segs raised since Open) is cut
// short: Read returns the segments that wireguard-go kept and no error,
// drops the rest (TCP sends them again) and counts it in
// [Stats.TooManySegments]; with nothing kept, it reads on.
// [tun.ErrTooManySegments] never reaches the caller, whose loop would
// take it for a failing device and back off.
func (d *Device) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	for {
		n, err := d.dev.Read(bufs, sizes, offset)
		if errors.Is(err, tun.ErrTooManySegments) {
			d.tooManySegments.Add(1)
			if n <= 0 {
				continue
			}
			return n, nil
		}
		if err != nil && (d.closed.Load() || errors.Is(err, os.ErrClosed)) {
			err = ErrClosed
		}
		return n, err
	}
}

// Stats are a Device's counters since Open.
type Stats struct {
	// TooManySegments counts the TCP and UDP super-packets that Read cut
	// short because they had more segments than its bufs (wireguard-go's
	// [tun.ErrTooManySegments]): each lost at least one segment, and
	// wireguard-go does not say how many. With gso_max_segs at BatchSize
	// and Read given BatchSize buffers, it stays 0.
	TooManySegments uint64
}

// Stats returns the Device's counters.
func (d *Device) Stats() Stats {
	return Stats{TooManySegments: d.tooManySegments.Load()}
}

// Write writes the packets bufs[i][offset:] to the kernel. With offloads
// on, offset must be at least [VirtioNetHdrLen] and the bytes in front of
// it are overwritten; consecutive segments of a TCP or UDP flow are
// coalesced into the first one's spare capacity (up to cap(bufs[i])), so
// after the call the contents of the buffers are undefined, but the
// slices in bufs are the caller's again.
//
// It returns len(bufs) when every write succeeded. The wrapped Write only
// reports bytes and joins the errors of its writes, so when one fails it
// cannot say which packets went through: Write then returns 0 if no byte
// was written and len(bufs)-1 otherwise (one packet failed), and the
// error.
func (d *Device) Write(bufs [][]byte, offset int) (int, error) {
	if len(bufs) == 0 {
		return 0, nil
	}
	if d.closed.Load() {
		return 0, ErrClosed
	}
	d.wMu.Lock()
	d.saved = append(d.saved[:0], bufs...)
	total, err := d.dev.Write(bufs, offset)
	copy(bufs, d.saved)
	clear(d.saved)
	d.wMu.Unlock()
	switch {
	case err == nil:
		return len(bufs), nil
	case d.closed.Load() || errors.Is(err, os.ErrClosed):
		err = ErrClosed
	}
	if total <= 0 {
		return 0, err
	}
	return len(bufs) - 1, err
}

// BatchSize returns the most packets Read and Write move in one call: 128
// with offloads on, 1 without.
func (d *Device) BatchSize() int { return d.dev.BatchSize() }

// MTU returns the interface MTU, read over netlink from the device's
// namespace (whatever the calling thread's).
func (d *Device) MTU() (int, error) {
	d.nlMu.Lock()
	defer d.nlMu.Unlock()
	if d.closed.Load() {
		return 0, ErrClosed
	}
	link, err := d.nl.LinkByIndex(d.index)
	if err != nil {
		return 0, &Error{Name: d.name, Op: "get mtu", Err: err}
	}
	return link.Attrs().MTU, nil
}

// SetMTU sets the interface MTU, like `ip link set NAME mtu N`.
func (d *Device) SetMTU(mtu int) error {
	d.nlMu.Lock()
	defer d.nlMu.Unlock()
	if d.closed.Load() {
		return ErrClosed
	}
	link, err := d.nl.LinkByIndex(d.index)
	if err == nil {
		err = d.nl.LinkSetMTU(link, mtu)
	}
	if err != nil {
		return &Error{Name: d.name, Op: fmt.Sprintf("set mtu %d", mtu), Err: err}
	}
	return nil
}

// Close closes the device: the kernel removes the interface with its
// addresses and routes. Blocked and later Reads and Writes return
// [ErrClosed]. Close waits (at most a few seconds) for wireguard-go's
// listener goroutines to stop. A second Close does nothing and returns
// nil, as every transport's.
func (d *Device) Close() error {
	first := false
	d.closeOnce.Do(func() {
		first = true
		d.closed.Store(true)
		d.closeErr = d.dev.Close()
		select {
		case <-d.events:
		case <-time.After(5 * time.Second):
		}
		d.nlMu.Lock()
		d.nl.Close()
		d.nlMu.Unlock()
	})
	if !first {
		return nil
	}
	return d.closeErr
}
