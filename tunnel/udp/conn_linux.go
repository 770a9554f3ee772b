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
// [tunnel.FramingUDP]. ReadBatch and WriteBatch do not allocate. All
// methods are safe for concurrent use; concurrent ReadBatch calls take
// turns.
type Conn struct {
	batch int
	local netip.AddrPort
	v6    bool // the sockets are AF_INET6 (maybe dual-stack)
	zero4 bool // SO_NO_CHECK: no GSO to IPv4 peers
	seed  uint64

	rx    *socket   // the bound socket: receives, and sends if it is in tx
	tx    []*socket // send sockets: one, or FlowSockets for per-flow ports
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
	rxDropped                                                atomic.Uint64
}

// socket is one bound UDP socket.
type socket struct {
	conn *net.UDPConn
	rc   syscall.RawConn
	port uint16
	gso  atomic.Bool // UDP_SEGMENT works
}

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
	stashSize   = 1 << 16
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
	network, host := "udp", "::"
	if a := cfg.Local.Addr(); a.IsValid() {
		a = a.WithZone("")
		switch {
		case a.Is4() || a.Is4In6():
			network, host = "udp4", a.Unmap().String()
		case !a.IsUnspecified():
			network, host = "udp6", a.String()
		}
	}
	ok := false
	defer func() {
		if !ok {
			c.Close()
		}
	}()
	rx, err := c.listen(cfg, network, host, port, false)
	if err != nil {
		return nil, err
	}
	c.rx = rx
	if err := rx.rc.Control(func(fd uintptr) {
		sa, e := unix.Getsockname(int(fd))
		if e != nil {
			err = os.NewSyscallError("getsockname", e)
			return
		}
		switch sa := sa.(type) {
		case *unix.SockaddrInet4:
			c.local = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
		case *unix.SockaddrInet6:
			c.v6 = true
			c.local = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port))
		}
		if unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO, 1) == nil {
			v, e := unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO)
			c.gro = e == nil && v == 1
		}
	}); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	switch {
	case cfg.SourcePort == port:
		c.tx = []*socket{rx}
	case cfg.SourcePort != 0:
		s, err := c.listen(cfg, network, host, cfg.SourcePort, true)
		if err != nil {
			return nil, err
		}
		c.tx = []*socket{s}
	default:
		// Bind FlowSockets ports of the dynamic range, starting at a
		// random one and skipping those in use.
		const span = MaxFlowPort - MinFlowPort + 1
		start := rand.IntN(span)
		for i := 0; i < span && len(c.tx) < FlowSockets; i++ {
			p := uint16(MinFlowPort + (start+i)%span)
			s, err := c.listen(cfg, network, host, p, true)
			if errors.Is(err, syscall.EADDRINUSE) || errors.Is(err, syscall.EACCES) {
				continue
			}
			if err != nil {
				return nil, err
			}
			c.tx = append(c.tx, s)
		}
		if len(c.tx) == 0 {
			return nil, errors.New("udp: no free source port in " + strconv.Itoa(MinFlowPort) + "–" + strconv.Itoa(MaxFlowPort))
		}
	}
	c.r.init(c.batch, c.gro)
	ok = true
	return c, nil
}

// listen binds a UDP socket with cfg's options; a send-only socket drops
// whatever it receives.
func (c *Conn) listen(cfg Config, network, host string, port uint16, sendOnly bool) (*socket, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var err error
		cerr := rc.Control(func(fd uintptr) {
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
	pc, err := lc.ListenPacket(context.Background(), network, net.JoinHostPort(host, strconv.Itoa(int(port))))
	if err != nil {
		return nil, err
	}
	uc := pc.(*net.UDPConn)
	rc, err := uc.SyscallConn()
	if err != nil {
		uc.Close()
		return nil, err
	}
	s := &socket{conn: uc, rc: rc, port: port}
	s.gso.Store(true)
	cerr := rc.Control(func(fd uintptr) {
		if _, e := unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT); e != nil {
			s.gso.Store(false)
		}
	})
	if cerr != nil {
		s.gso.Store(false)
	}
	c.owned = append(c.owned, s)
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
// unmapped; the unspecified IPv6 address for a dual-stack socket).
func (c *Conn) LocalAddr() netip.AddrPort { return c.local }

// SourcePorts returns the UDP source ports the Conn sends from: one, or
// the FlowSockets ports of per-flow source ports.
func (c *Conn) SourcePorts() []uint16 {
	ports := make([]uint16, len(c.tx))
	for i, s := range c.tx {
		ports[i] = s.port
	}
	return ports
}

// Offload reports whether UDP GSO is in use on the send sockets (tx; it
// turns off for good if the kernel refuses it with EIO) and UDP GRO on
// the receiving socket (rx).
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
		RxDropped: s.rxDropped.Load(),
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
	for _, s := range c.owned {
		if e := s.conn.Close(); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// putAddr writes ap to sa as a sockaddr of the socket's family and returns
// its length, or 0 if the family does not fit.
func (c *Conn) putAddr(sa *unix.RawSockaddrInet6, ap netip.AddrPort) uint32 {
	a := ap.Addr()
	var port [2]byte
	binary.BigEndian.PutUint16(port[:], ap.Port())
	if c.v6 {
		*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.As16()}
		sa.Port = *(*uint16)(unsafe.Pointer(&port))
		return unix.SizeofSockaddrInet6
	}
	a = a.Unmap()
	if !a.Is4() {
		return 0
	}
	sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
	*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.As4()}
	sa4.Port = *(*uint16)(unsafe.Pointer(&port))
	return unix.SizeofSockaddrInet4
}

// getAddr reads a sockaddr written by the kernel.
func getAddr(sa *unix.RawSockaddrInet6) netip.AddrPort {
	switch sa.Family {
	case unix.AF_INET6:
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), binary.BigEndian.Uint16(p[:]))
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&sa4.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), binary.BigEndian.Uint16(p[:]))
	}
	return netip.AddrPort{}
}

func syscallErr(name string, e unix.Errno) error {
	if e == unix.EBADF {
		return net.ErrClosed
	}
	return os.NewSyscallError(name, e)
}
