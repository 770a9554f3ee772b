package udp

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ipencap/ipencap/tunnel"
)

var (
	_ tunnel.Underlay        = (*Conn)(nil)
	_ tunnel.UnderlayFraming = (*Conn)(nil)
	_ tunnel.UnderlayAddrs   = (*Conn)(nil)
)

// Conn is a GRE-in-UDP underlay: a [tunnel.Underlay] with
// [tunnel.FramingUDP]. ReadBatch and WriteBatch do not allocate in steady
// state (with GRO and buffers smaller than a coalesced message, the first
// ReadBatch, or one with a larger batch, allocates the Conn's own receive
// buffers once). All
// methods are safe for concurrent use; concurrent ReadBatch calls take
// turns.
type Conn struct {
	batch int
	local netip.AddrPort
	zero4 bool // SO_NO_CHECK: no GSO to IPv4 peers
	seed  uint64

	// rx are the bound sockets, which receive (and send if they are in
	// tx): one, or for the wildcard an IPv4 and an IPv6-only one.
	rx []*socket
	// poll, with two rx sockets, is an epoll instance that holds both,
	// registered with the runtime's poller: ReadBatch waits on it.
	poll *os.File
	prc  syscall.RawConn
	// tx are the send sockets: nflow of each family the Conn has, the
	// IPv4 ones first; split says there are both.
	tx    []*socket
	nflow int // 1, or the ports of per-flow source ports
	split bool
	owned []*socket // every socket, for Close
	gro   bool

	closed atomic.Bool

	rmu sync.Mutex // the receive state
	r   receiver

	wmu   sync.Mutex
	wfree []*writer // idle send states, one per concurrent WriteBatch

	st counters
}

type counters struct {
	txPackets, txBytes, txMessages, txGSO, txCalls, txErrors atomic.Uint64
	rxPackets, rxBytes, rxMessages, rxGRO, rxCalls, rxTrunc  atomic.Uint64
	rxDropped, rxMapped                                      atomic.Uint64
}

// socket is one bound UDP socket.
type socket struct {
	conn *net.UDPConn
	rc   syscall.RawConn
	port uint16
	v6   bool        // AF_INET6, IPV6_V6ONLY
	gso  atomic.Bool // UDP_SEGMENT works
}

// bind is the network and host of a socket to bind.
type bind struct{ network, host string }

// mmsghdr is struct mmsghdr of sendmmsg(2) and recvmmsg(2).
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
	_   [unsafe.Sizeof(uintptr(0)) - 4]byte
}

const (
	cmsgGSOLen = 2 // UDP_SEGMENT carries a u16
	rxOOBLen   = 64
	maxSegs    = 64 // UDP_MAX_SEGMENTS and UDP_GRO_CNT_MAX
	// Largest UDP payloads of one datagram or GSO message.
	maxPayload4 = 1<<16 - 1 - 20 - 8
	maxPayload6 = 1<<16 - 1 - 8
	// maxGRO is the largest coalesced message: UDP GRO and GSO stop at
	// 64 KiB (unless a device's gro_max_size is raised for BIG TCP; a
	// larger message is cut off and counted, see ReadBatch).
	maxGRO    = maxPayload6
	stashSize = 1 << 16
)

var cmsgGSOSpace = unix.CmsgSpace(cmsgGSOLen)

// Open opens a GRE-in-UDP underlay as cfg says. The Conn's peers are
// remote addresses with their UDP ports; a remote sends to the bound port.
func Open(cfg Config) (*Conn, error) {
	if cfg.Batch < 0 || cfg.Batch > MaxBatch {
		return nil, errors.New("udp: batch " + strconv.Itoa(cfg.Batch) + ": out of range 0–" + strconv.Itoa(MaxBatch))
	}
	c := &Conn{batch: cfg.Batch, zero4: cfg.ZeroChecksum4, seed: rand.Uint64()}
	if c.batch == 0 {
		c.batch = DefaultBatch
	}
	port := cfg.Local.Port()
	if port == 0 {
		port = Port
	}
	// The wildcard is one socket per family, the IPv6 one IPV6_V6ONLY,
	// as Linux's VXLAN binds: then an IPv4 peer can only come in on the
	// IPv4 socket, and an IPv4-mapped source on the IPv6 one is a native
	// IPv6 packet that forged it (see ReadBatch).
	binds := []bind{{"udp4", "0.0.0.0"}, {"udp6", "::"}}
	if a := cfg.Local.Addr(); a.IsValid() {
		a = a.WithZone("")
		switch {
		case a.Is4() || a.Is4In6():
			binds = []bind{{"udp4", a.Unmap().String()}}
		case !a.IsUnspecified():
			binds = []bind{{"udp6", a.String()}}
		}
	}
	ok := false
	defer func() {
		if !ok {
			c.Close()
		}
	}()
	for _, b := range binds {
		s, err := c.listen(cfg, b, port, false)
		if err != nil && len(binds) == 2 && b.network == "udp6" && errors.Is(err, syscall.EAFNOSUPPORT) {
			// No IPv6 in this kernel: the IPv4 wildcard alone, as Go's
			// net binds "udp" then.
			binds = binds[:1]
			break
		}
		if err != nil {
			return nil, err
		}
		c.rx = append(c.rx, s)
		c.owned = append(c.owned, s)
	}
	c.split = len(binds) == 2
	// The local address is the last socket's: the IPv6 wildcard for
	// both families.
	gro := true
	for _, s := range c.rx {
		var err error
		if cerr := s.rc.Control(func(fd uintptr) {
			sa, e := unix.Getsockname(int(fd))
			if e != nil {
				err = os.NewSyscallError("getsockname", e)
				return
			}
			switch sa := sa.(type) {
			case *unix.SockaddrInet4:
				c.local = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
			case *unix.SockaddrInet6:
				c.local = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
			}
			v, e := 0, unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO, 1)
			if e == nil {
				v, e = unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO)
			}
			gro = gro && e == nil && v == 1
		}); cerr != nil {
			return nil, cerr
		}
		if err != nil {
			return nil, err
		}
	}
	if !gro && len(c.rx) > 1 {
		// GRO on one socket and not the other: off on both, since a
		// receive reads either.
		for _, s := range c.rx {
			_ = s.rc.Control(func(fd uintptr) { _ = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO, 0) })
		}
	}
	c.gro = gro
	if len(c.rx) > 1 {
		if err := c.openPoll(); err != nil {
			return nil, err
		}
	}
	c.nflow = 1
	switch {
	case cfg.SourcePort == port:
		c.tx = c.rx
	case cfg.SourcePort != 0:
		ss, err := c.listenAll(cfg, binds, cfg.SourcePort)
		if err != nil {
			return nil, err
		}
		c.tx = ss
	default:
		// Bind FlowSockets ports of the dynamic range, starting at a
		// random one and skipping those in use (in either family).
		const span = MaxFlowPort - MinFlowPort + 1
		start := rand.IntN(span)
		var tx [2][]*socket
		for i := 0; i < span && len(tx[0]) < FlowSockets; i++ {
			p := uint16(MinFlowPort + (start+i)%span)
			ss, err := c.listenAll(cfg, binds, p)
			if errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, syscall.EACCES) {
				continue
			}
			if err != nil {
				return nil, err
			}
			for f, s := range ss {
				tx[f] = append(tx[f], s)
			}
		}
		if len(tx[0]) == 0 {
			return nil, errors.New("udp: no free source port in " + strconv.Itoa(MinFlowPort) + "–" + strconv.Itoa(MaxFlowPort))
		}
		c.tx = append(tx[0], tx[1]...)
		c.nflow = len(tx[0])
	}
	c.r.init(c.batch, c.gro, c.rx)
	ok = true
	return c, nil
}

// listenAll binds a send socket to port for each of binds, or none: on an
// error it closes those it bound.
func (c *Conn) listenAll(cfg Config, binds []bind, port uint16) ([]*socket, error) {
	ss := make([]*socket, 0, len(binds))
	for _, b := range binds {
		s, err := c.listen(cfg, b, port, true)
		if err != nil {
			for _, s := range ss {
				s.conn.Close()
			}
			return nil, err
		}
		ss = append(ss, s)
	}
	c.owned = append(c.owned, ss...)
	return ss, nil
}

// openPoll makes the epoll instance that holds the rx sockets (level
// triggered, for EPOLLIN) and hands it to the runtime's poller through
// an os.File: it turns readable when either socket is, and Close wakes a
// ReadBatch waiting on it.
func (c *Conn) openPoll() error {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("epoll_create1", err)
	}
	for _, s := range c.rx {
		var e error
		if err := s.rc.Control(func(sfd uintptr) {
			e = unix.EpollCtl(fd, unix.EPOLL_CTL_ADD, int(sfd), &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(sfd)})
		}); err != nil {
			e = err
		}
		if e != nil {
			unix.Close(fd)
			return os.NewSyscallError("epoll_ctl", e)
		}
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return os.NewSyscallError("fcntl", err)
	}
	c.poll = os.NewFile(uintptr(fd), "udp-epoll") // non-blocking: the runtime polls it
	c.prc, err = c.poll.SyscallConn()
	return err
}

// listen binds a UDP socket with cfg's options; a send-only socket drops
// whatever it receives.
func (c *Conn) listen(cfg Config, b bind, port uint16, sendOnly bool) (*socket, error) {
	v6 := b.network == "udp6"
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var err error
		cerr := rc.Control(func(fd uintptr) {
			if v6 {
				// Go's net sets it for "udp6" too; the Conn's check of
				// IPv4-mapped sources depends on it.
				if e := unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); e != nil {
					err = os.NewSyscallError("setsockopt IPV6_V6ONLY", e)
					return
				}
			}
			if cfg.Link != "" {
				if e := unix.BindToDevice(int(fd), cfg.Link); e != nil {
					err = os.NewSyscallError("setsockopt SO_BINDTODEVICE", e)
					return
				}
			}
			for _, b := range [...]struct{ force, plain, size int }{
				{unix.SO_RCVBUFFORCE, unix.SO_RCVBUF, cfg.RcvBuf}, {unix.SO_SNDBUFFORCE, unix.SO_SNDBUF, cfg.SndBuf}} {
				size := b.size
				if size <= 0 {
					size = DefaultBufSize
				}
				if sendOnly && b.force == unix.SO_RCVBUFFORCE {
					continue // it drops all it receives
				}
				if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, b.force, size) != nil {
					if e := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, b.plain, size); e != nil {
						err = os.NewSyscallError("setsockopt SO_RCVBUF/SO_SNDBUF", e)
						return
					}
				}
			}
			if cfg.ZeroChecksum4 {
				if e := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_NO_CHECK, 1); e != nil {
					err = os.NewSyscallError("setsockopt SO_NO_CHECK", e)
					return
				}
			}
			if sendOnly {
				drop := unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: 0}
				prog := unix.SockFprog{Len: 1, Filter: &drop}
				if e := unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog); e != nil {
					err = os.NewSyscallError("setsockopt SO_ATTACH_FILTER", e)
					return
				}
			}
		})
		if cerr != nil {
			return cerr
		}
		return err
	}}
	pc, err := lc.ListenPacket(context.Background(), b.network, net.JoinHostPort(b.host, strconv.Itoa(int(port))))
	if err != nil {
		return nil, err
	}
	uc := pc.(*net.UDPConn)
	rc, err := uc.SyscallConn()
	if err != nil {
		uc.Close()
		return nil, err
	}
	s := &socket{conn: uc, rc: rc, port: port, v6: v6}
	s.gso.Store(true)
	cerr := rc.Control(func(fd uintptr) {
		if _, e := unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT); e != nil {
			s.gso.Store(false)
		}
	})
	if cerr != nil {
		s.gso.Store(false)
	}
	return s, nil
}

// Framing returns [tunnel.FramingUDP]: the socket owns the IP and UDP
// headers, and each packet is a GRE header and what follows
// ([tunnel.UnderlayFraming]).
func (c *Conn) Framing() tunnel.Framing { return tunnel.FramingUDP }

// LocalAddrs returns the address the socket is bound to, or nothing for
// a wildcard bind ([tunnel.UnderlayAddrs]).
func (c *Conn) LocalAddrs() []netip.Addr {
	if a := c.local.Addr(); a.IsValid() && !a.IsUnspecified() {
		return []netip.Addr{a.Unmap()}
	}
	return nil
}

// LocalAddr returns the bound address and port (an IPv4-mapped address
// unmapped; the unspecified IPv6 address for the wildcard of both
// families).
func (c *Conn) LocalAddr() netip.AddrPort { return c.local }

// SourcePorts returns the UDP source ports the Conn sends from: one, or
// the FlowSockets ports of per-flow source ports (each bound in both
// families for the wildcard).
func (c *Conn) SourcePorts() []uint16 {
	ports := make([]uint16, c.nflow)
	for i, s := range c.tx[:c.nflow] {
		ports[i] = s.port
	}
	return ports
}

// Offload reports whether UDP GSO is in use on the send sockets (tx; it
// turns off for good if the kernel refuses it with EIO) and UDP GRO on
// the receiving sockets (rx).
func (c *Conn) Offload() (tx, rx bool) {
	tx = len(c.tx) > 0
	for _, s := range c.tx {
		tx = tx && s.gso.Load()
	}
	return tx, c.gro
}

// BatchSize returns Config.Batch (DefaultBatch if it was 0).
func (c *Conn) BatchSize() int { return c.batch }

// Stats returns the Conn's counters.
func (c *Conn) Stats() Stats {
	s := &c.st
	return Stats{
		TxPackets: s.txPackets.Load(), TxBytes: s.txBytes.Load(), TxMessages: s.txMessages.Load(),
		TxGSO: s.txGSO.Load(), TxCalls: s.txCalls.Load(), TxErrors: s.txErrors.Load(),
		RxPackets: s.rxPackets.Load(), RxBytes: s.rxBytes.Load(), RxMessages: s.rxMessages.Load(),
		RxGRO: s.rxGRO.Load(), RxCalls: s.rxCalls.Load(), RxTrunc: s.rxTrunc.Load(),
		RxDropped: s.rxDropped.Load(), RxMapped: s.rxMapped.Load(),
	}
}

// Close closes the sockets. A blocked ReadBatch or WriteBatch returns,
// and later calls return [net.ErrClosed]. A second Close does nothing and
// returns nil, as every transport's.
func (c *Conn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	var err error
	if c.poll != nil {
		err = c.poll.Close()
	}
	for _, s := range c.owned {
		if e := s.conn.Close(); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// putAddr writes ap to sa as a sockaddr of the family of the socket (v6:
// IPv6-only) and returns its length, or 0 if the family does not fit.
func putAddr(v6 bool, sa *unix.RawSockaddrInet6, ap netip.AddrPort) uint32 {
	a := ap.Addr().Unmap()
	var port [2]byte
	binary.BigEndian.PutUint16(port[:], ap.Port())
	if v6 {
		if !a.Is6() {
			return 0
		}
		*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.As16()}
		sa.Port = *(*uint16)(unsafe.Pointer(&port))
		return unix.SizeofSockaddrInet6
	}
	if !a.Is4() {
		return 0
	}
	sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
	*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.As4()}
	sa4.Port = *(*uint16)(unsafe.Pointer(&port))
	return unix.SizeofSockaddrInet4
}

// getAddr reads a sockaddr written by the kernel. It reports false for
// an IPv4-mapped IPv6 address: the sockets are IPv6-only, so that is the
// source of a native IPv6 packet, which no IPv4 peer sends.
func getAddr(sa *unix.RawSockaddrInet6) (netip.AddrPort, bool) {
	switch sa.Family {
	case unix.AF_INET6:
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		a := netip.AddrFrom16(sa.Addr)
		return netip.AddrPortFrom(a, binary.BigEndian.Uint16(p[:])), !a.Is4In6()
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&sa4.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), binary.BigEndian.Uint16(p[:])), true
	}
	return netip.AddrPort{}, true
}

func syscallErr(name string, e unix.Errno) error {
	if e == unix.EBADF {
		return net.ErrClosed
	}
	return os.NewSyscallError(name, e)
}
