//go:build linux

package rawsock

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ipencap/ipencap/outer"
	"github.com/ipencap/ipencap/tunnel"
)

var (
	_ tunnel.Underlay        = (*Conn)(nil)
	_ tunnel.UnderlayFraming = (*Conn)(nil)
	_ tunnel.UnderlayAddrs   = (*Conn)(nil)
	_ tunnel.UnderlayPathMTU = (*Conn)(nil)
)

// Defaults of [Config].
const (
	// DefaultBatch is the BatchSize of a Conn whose Config.Batch is 0.
	DefaultBatch = 64
	// DefaultBufSize is the socket receive and send buffer of a Conn whose
	// Config.RcvBuf or Config.SndBuf is 0: 4 MiB.
	DefaultBufSize = 4 << 20
)

// ipv6HeaderLen is the IPv6 header ReadBatch rebuilds in front of what an
// IPv6 raw socket delivers.
const ipv6HeaderLen = 40

// ErrConfig is wrapped by the errors [Open] returns for a [Config] it
// refuses (before any socket is made).
var ErrConfig = errors.New("rawsock: invalid config")

// Config configures [Open].
type Config struct {
	// Proto is the IP protocol (IPv6 next header) the socket sends and
	// receives: [outer.ProtoIPIP] (4), [outer.ProtoIPv6] (41),
	// [outer.ProtoGRE] (47) or [outer.ProtoMinimal] (55).
	Proto outer.IPProto
	// IPv6 selects an IPv6 socket (outer IPv6 header); the default is
	// IPv4.
	IPv6 bool
	// Local, when valid, binds the socket to this address of the family
	// (the `local` of `ip tunnel`): only packets to it are received. An
	// IPv6 link-local address needs its zone.
	Local netip.Addr
	// Link, when set, binds the socket to this interface (SO_BINDTODEVICE,
	// the `dev` of `ip tunnel`): packets are received only from it and
	// sent only through it.
	Link string
	// Batch is the most packets ReadBatch and WriteBatch move in one
	// system call; 0 means [DefaultBatch].
	Batch int
	// RcvBuf and SndBuf are the socket buffer sizes; 0 means
	// [DefaultBufSize]. They are set with SO_RCVBUFFORCE / SO_SNDBUFFORCE
	// (which need CAP_NET_ADMIN and ignore net.core.rmem_max), falling back
	// to SO_RCVBUF / SO_SNDBUF, which the kernel caps.
	RcvBuf, SndBuf int
	// OnPathMTU, when set, is called when the kernel reports that an outer
	// packet was too big for the path: an ICMP "fragmentation needed" or
	// ICMPv6 "packet too big" with the MTU it carries and the start of the
	// packet it quotes, or a local EMSGSIZE with the device MTU and no
	// quote (see the package doc). Anyone can send such an ICMP error:
	// check the quote before believing it, as [tunnel.Engine.PathMTU]
	// does. An engine needs no OnPathMTU: [tunnel.Engine.AddUnderlay]
	// installs its own ([Conn.SetPathMTUHandler]), which replaces this
	// one. It is called by the goroutine in ReadBatch or WriteBatch,
	// without the Conn's locks held, so it delays that call: it should
	// return quickly, and must not keep the report's Quoted bytes. It must
	// be safe for concurrent use.
	OnPathMTU func(tunnel.PathMTUReport)
}

// Conn is a raw IP socket of one protocol and family, a
// [tunnel.Underlay] with [tunnel.FramingIP]. ReadBatch and WriteBatch are
// safe for concurrent use (each direction has its own lock; concurrent
// ReadBatch calls take turns, as do WriteBatch calls, which the engine's
// tunnels make from several goroutines).
type Conn struct {
	cfg    Config
	batch  int
	pc     net.PacketConn // owns the descriptor, registered with the poller
	rc     syscall.RawConn
	closed atomic.Bool
	pmtu   atomic.Pointer[func(tunnel.PathMTUReport)] // nil: no handler

	rmu   sync.Mutex
	rx    rxState
	rxFn  func(fd uintptr) bool // c.readFD, made once: no closure per call
	ctlFn func(fd uintptr)      // c.drainRx

	wmu  sync.Mutex
	tx   txState
	txFn func(fd uintptr) bool // c.writeFD

	emu  sync.Mutex // the error-queue buffers, used by both directions
	errq errQueue
}

// Open opens a raw socket as cfg says. It needs CAP_NET_RAW. The socket
// belongs to the network namespace of the calling thread.
func Open(cfg Config) (*Conn, error) {
	switch cfg.Proto {
	case outer.ProtoIPIP, outer.ProtoIPv6, outer.ProtoGRE, outer.ProtoMinimal:
	default:
		return nil, fmt.Errorf("%w: protocol %d: not 4, 41, 47 or 55", ErrConfig, cfg.Proto)
	}
	if cfg.Local.IsValid() {
		if cfg.Local.Is4In6() && !cfg.IPv6 {
			cfg.Local = cfg.Local.Unmap()
		}
		if cfg.Local.Is6() != cfg.IPv6 {
			return nil, fmt.Errorf("%w: local %s: not an address of the socket's family", ErrConfig, cfg.Local)
		}
	}
	if cfg.Batch < 0 || cfg.RcvBuf < 0 || cfg.SndBuf < 0 {
		return nil, fmt.Errorf("%w: negative batch or buffer size", ErrConfig)
	}
	if cfg.Batch == 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.RcvBuf == 0 {
		cfg.RcvBuf = DefaultBufSize
	}
	if cfg.SndBuf == 0 {
		cfg.SndBuf = DefaultBufSize
	}

	family := unix.AF_INET
	if cfg.IPv6 {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(cfg.Proto))
	if err != nil {
		return nil, fmt.Errorf("rawsock: %w", os.NewSyscallError("socket", err))
	}
	if err := setup(fd, &cfg); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("rawsock: %w", err)
	}
	// net.FilePacketConn registers a duplicate of fd with the runtime
	// poller (as a *net.IPConn); the original is closed.
	f := os.NewFile(uintptr(fd), "rawsock")
	pc, err := net.FilePacketConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("rawsock: %w", err)
	}
	sc, ok := pc.(syscall.Conn)
	if !ok {
		pc.Close()
		return nil, errors.New("rawsock: the socket is not a syscall.Conn")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("rawsock: %w", err)
	}
	c := &Conn{cfg: cfg, batch: cfg.Batch, pc: pc, rc: rc}
	c.SetPathMTUHandler(cfg.OnPathMTU)
	c.rx.init(cfg.Batch, cfg.IPv6)
	c.tx.init(cfg.Batch, cfg.IPv6)
	c.errq.init()
	c.rxFn = c.readFD
	c.txFn = c.writeFD
	c.ctlFn = c.drainRx
	return c, nil
}

// setup sets the socket options of cfg on fd and binds it.
func setup(fd int, cfg *Config) error {
	if cfg.IPv6 {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_HDRINCL, 1); err != nil {
			return os.NewSyscallError("setsockopt IPV6_HDRINCL (Linux ≥ 4.5)", err)
		}
		for _, o := range []struct {
			opt  int
			name string
		}{
			{unix.IPV6_RECVERR, "IPV6_RECVERR"},
			{unix.IPV6_RECVPKTINFO, "IPV6_RECVPKTINFO"},
			{unix.IPV6_RECVHOPLIMIT, "IPV6_RECVHOPLIMIT"},
			{unix.IPV6_RECVTCLASS, "IPV6_RECVTCLASS"},
			{ipv6FlowInfo, "IPV6_FLOWINFO"},
		} {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, o.opt, 1); err != nil {
				return os.NewSyscallError("setsockopt "+o.name, err)
			}
		}
	} else {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_HDRINCL, 1); err != nil {
			return os.NewSyscallError("setsockopt IP_HDRINCL", err)
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_RECVERR, 1); err != nil {
			return os.NewSyscallError("setsockopt IP_RECVERR", err)
		}
	}
	if err := setBuf(fd, unix.SO_RCVBUFFORCE, unix.SO_RCVBUF, cfg.RcvBuf); err != nil {
		return err
	}
	if err := setBuf(fd, unix.SO_SNDBUFFORCE, unix.SO_SNDBUF, cfg.SndBuf); err != nil {
		return err
	}
	if cfg.Link != "" {
		if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, cfg.Link); err != nil {
			return os.NewSyscallError("setsockopt SO_BINDTODEVICE "+strconv.Quote(cfg.Link), err)
		}
	}
	if cfg.Local.IsValid() {
		var sa unix.Sockaddr
		if cfg.IPv6 {
			sa6 := &unix.SockaddrInet6{Addr: cfg.Local.As16()}
			if z := cfg.Local.Zone(); z != "" {
				ifi, err := net.InterfaceByName(z)
				if err != nil {
					return err
				}
				sa6.ZoneId = uint32(ifi.Index)
			}
			sa = sa6
		} else {
			sa = &unix.SockaddrInet4{Addr: cfg.Local.As4()}
		}
		if err := unix.Bind(fd, sa); err != nil {
			return os.NewSyscallError("bind "+cfg.Local.String(), err)
		}
	}
	return nil
}

// setBuf sets a socket buffer size, with force (root) or else plain.
func setBuf(fd, force, plain, size int) error {
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, force, size) == nil {
		return nil
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, plain, size); err != nil {
		return os.NewSyscallError("setsockopt SO_RCVBUF/SO_SNDBUF", err)
	}
	return nil
}

// BatchSize returns Config.Batch (64 by default), the most packets one
// ReadBatch or WriteBatch call moves.
func (c *Conn) BatchSize() int { return c.batch }

// Close closes the socket. A blocked ReadBatch or WriteBatch returns, and
// later calls return [net.ErrClosed]. A second Close does nothing and
// returns nil, as every transport's.
func (c *Conn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	return c.pc.Close()
}

// Framing returns [tunnel.FramingIP]: a raw socket carries whole IP
// packets ([tunnel.UnderlayFraming]).
func (c *Conn) Framing() tunnel.Framing { return tunnel.FramingIP }

// LocalAddrs returns the address the socket is bound to (Config.Local),
// or nothing for an unbound socket ([tunnel.UnderlayAddrs]).
func (c *Conn) LocalAddrs() []netip.Addr {
	if !c.cfg.Local.IsValid() || c.cfg.Local.IsUnspecified() {
		return nil
	}
	return []netip.Addr{c.cfg.Local}
}

// SetPathMTUHandler makes h the receiver of the path MTUs the socket
// learns, in place of Config.OnPathMTU ([tunnel.UnderlayPathMTU]); nil
// turns reporting off. [tunnel.Engine.AddUnderlay] calls it with the
// engine's [tunnel.Engine.PathMTU].
func (c *Conn) SetPathMTUHandler(h func(tunnel.PathMTUReport)) {
	if h == nil {
		c.pmtu.Store(nil)
		return
	}
	c.pmtu.Store(&h)
}

// closedErr maps err to net.ErrClosed once the Conn is closed.
func (c *Conn) closedErr(err error) error {
	if c.closed.Load() || errors.Is(err, net.ErrClosed) {
		return net.ErrClosed
	}
	return err
}

// ReadBatch reads up to min(len(bufs), BatchSize()) packets, blocking until
// there is at least one. Packet i is bufs[i][offset:offset+sizes[i]], a
// whole IP packet, and peers[i] its source with port 0. An IPv4 packet is as
// the kernel received it (reassembled if it came in fragments), and its
// source is read from its header. An IPv6 packet is the payload the socket
// delivers, read at offset+40, behind a header ReadBatch writes at
// bufs[i][offset:offset+40] (see the package doc); an IPv6 Conn needs
// len(bufs[i]) > offset+40. A packet longer than the buffer is truncated
// (the engine drops it: its header says more).
//
// It returns [net.ErrClosed] once the Conn is closed. It does not allocate,
// except once in a call that read path-MTU errors while a path-MTU handler
// is set (their reports are copied out for the handler).
func (c *Conn) ReadBatch(bufs [][]byte, sizes []int, peers []netip.AddrPort, offset int) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	n := min(len(bufs), len(sizes), len(peers), c.batch)
	if n == 0 {
		return 0, nil
	}
	for {
		c.rmu.Lock()
		r := &c.rx
		r.prepare(bufs[:n], offset)
		err := c.rc.Read(c.rxFn)
		if err != nil && !c.closed.Load() && !errors.Is(err, net.ErrClosed) {
			// The poller fails a read when the socket reports
			// EPOLLERR alone (an error queued while the send buffer is
			// too full to be writable), until its next event: read the
			// queue outside the poller, then return the error.
			_ = c.rc.Control(c.ctlFn)
		}
		got, errno := r.got, r.errno
		if err == nil && errno != 0 {
			err = errno
		}
		for i := range got {
			sizes[i], peers[i] = r.packet(i, bufs[i], offset, c.cfg.Proto, c.cfg.Local)
		}
		r.release()
		ev := r.events.take()
		c.rmu.Unlock()
		c.report(ev)
		if got > 0 {
			return got, nil
		}
		if err != nil {
			return 0, c.closedErr(err)
		}
		// Only error-queue events: report them (done) and wait again.
	}
}

// readFD is the RawConn.Read callback: one recvmmsg, reading the error
// queue when the socket reports an error. It returns false to wait for the
// socket to become readable.
func (c *Conn) readFD(fd uintptr) bool {
	r := &c.rx
	for tries := 0; ; tries++ {
		got, errno := recvmmsg(fd, r.msgs[:r.n])
		switch errno {
		case 0:
			r.got = got
			return true
		case unix.EAGAIN:
			return false
		case unix.EINTR:
			continue
		}
		// A pending socket error (sk_err) is reported once by the next
		// receive: the kernel raises it with each ICMP error queued.
		c.drainErrQueue(fd, &r.events)
		if r.events.n > 0 {
			// Return to report them now rather than after the next
			// packet; ReadBatch calls again.
			return true
		}
		if tries >= 3 {
			r.errno = errno
			return true
		}
	}
}

// drainRx reads the error queue for ReadBatch (c.rmu held).
func (c *Conn) drainRx(fd uintptr) { c.drainErrQueue(fd, &c.rx.events) }

// WriteBatch sends each bufs[i][offset:], a whole IP packet of the Conn's
// family and protocol (outer header included), to peers[i]; a peer that is
// not an address of the family makes the packet go to the destination of
// its header. It returns how many it sent, in order, and the error of the
// first it did not send (EMSGSIZE for a packet larger than the device MTU,
// ENOBUFS when the device queue is full, ENETUNREACH…); it blocks while
// the socket buffer is full. More than BatchSize packets take several
// system calls.
//
// It returns [net.ErrClosed] once the Conn is closed. It does not
// allocate. It is safe for concurrent use.
func (c *Conn) WriteBatch(bufs [][]byte, peers []netip.AddrPort, offset int) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	total := min(len(bufs), len(peers))
	sent := 0
	var err error
	c.wmu.Lock()
	t := &c.tx
	for sent < total && err == nil {
		k := min(total-sent, c.batch)
		t.prepare(bufs[sent:sent+k], peers[sent:sent+k], offset)
		rerr := c.rc.Write(c.txFn)
		sent += t.sent
		switch {
		case rerr != nil:
			err = c.closedErr(rerr)
		case t.errno != 0:
			err = t.errno
		}
		t.release()
	}
	ev := t.events.take()
	c.wmu.Unlock()
	c.report(ev)
	return sent, err
}

// writeFD is the RawConn.Write callback: sendmmsg until every message is
// sent or one fails. It returns false to wait for the socket to become
// writable.
func (c *Conn) writeFD(fd uintptr) bool {
	t := &c.tx
	for t.sent < t.n {
		k, errno := sendmmsg(fd, t.msgs[t.sent:t.n])
		switch errno {
		case 0:
			t.sent += k
			continue
		case unix.EAGAIN:
			return false
		case unix.EINTR:
			continue
		case unix.EMSGSIZE:
			// The kernel queued a local error with the device MTU.
			c.drainErrQueue(fd, &t.events)
		}
		t.errno = errno
		return true
	}
	return true
}

// report calls the path-MTU handler for the events in ev (nil: none).
func (c *Conn) report(ev *pmtuEvents) {
	h := c.pmtu.Load()
	if h == nil || ev == nil {
		return
	}
	for i := range ev.ev[:ev.n] {
		e := &ev.ev[i]
		r := tunnel.PathMTUReport{Remote: e.remote, MTU: e.mtu}
		if !e.local {
			r.Quoted = e.quote[:e.n]
		}
		(*h)(r)
	}
}
