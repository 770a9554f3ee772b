//go:build linux

package rawsock

import (
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ICMP types and codes of the path-MTU errors.
const (
	icmpDestUnreach   = 3 // RFC 792
	icmpFragNeeded    = 4 // code of icmpDestUnreach (RFC 1191)
	icmp6PacketTooBig = 2 // RFC 4443
)

// maxErrDrain bounds the error-queue messages one drain reads.
const maxErrDrain = 64

// quoteLen is how much of the quoted packet an error-queue read keeps:
// enough for an IPv6 header, a UDP header and a GRE header with checksum,
// key and sequence number (40 + 8 + 16), which is all the engine checks.
const quoteLen = 128

// pmtuEvent is one path-MTU report: the remote, the MTU and the start of
// the packet the error quoted (none for a local error).
type pmtuEvent struct {
	remote netip.Addr
	mtu    int
	local  bool
	n      int
	quote  [quoteLen]byte
}

// pmtuEvents collects the reports of one call, without allocating.
type pmtuEvents struct {
	ev [16]pmtuEvent
	n  int
}

// take returns a copy of the events, for reporting after the lock that
// guards e is released, and empties e; nil, without allocating, when
// there are none (the common case). Only a call that read ICMP errors
// allocates, once.
func (e *pmtuEvents) take() *pmtuEvents {
	if e.n == 0 {
		return nil
	}
	cp := new(pmtuEvents)
	*cp = *e
	e.n = 0
	return cp
}

// add records a report. Each keeps its quote, which the engine checks on
// its own, so reports are not merged. Reports beyond the array are
// dropped: the kernel reports again.
func (e *pmtuEvents) add(remote netip.Addr, mtu int, local bool, quote []byte) {
	if e.n < len(e.ev) {
		ev := &e.ev[e.n]
		ev.remote, ev.mtu, ev.local = remote, mtu, local
		ev.n = copy(ev.quote[:], quote)
		e.n++
	}
}

// errQueue is the memory that reads the error queue, guarded by
// Conn.emu.
type errQueue struct {
	msg  unix.Msghdr
	iov  unix.Iovec
	name unix.RawSockaddrInet6 // room for either family's address
	ctrl []byte
	data []byte
}

func (q *errQueue) init() {
	q.ctrl = alignedBytes(256)
	q.data = make([]byte, quoteLen) // the start of the quoted packet
	q.iov.Base = &q.data[0]
	q.iov.SetLen(len(q.data))
	q.msg.Name = (*byte)(unsafe.Pointer(&q.name))
	q.msg.Iov = &q.iov
	q.msg.SetIovlen(1)
	q.msg.Control = &q.ctrl[0]
}

// drainErrQueue reads the socket's error queue (IP_RECVERR,
// IPV6_RECVERR) and adds its path-MTU errors to ev: ICMP fragmentation
// needed, ICMPv6 packet too big, and local EMSGSIZE, each with the
// destination of the packet that caused it (the address recvmsg reports
// for an error-queue message) and the MTU in ee_info. It runs inside a
// RawConn callback, with the descriptor fd.
func (c *Conn) drainErrQueue(fd uintptr, ev *pmtuEvents) {
	c.emu.Lock()
	defer c.emu.Unlock()
	q := &c.errq
	for range maxErrDrain {
		q.msg.Namelen = unix.SizeofSockaddrInet6
		q.msg.SetControllen(len(q.ctrl))
		q.msg.Flags = 0
		r, _, e := unix.Syscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&q.msg)), unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return // EAGAIN: empty
		}
		ctrl := q.ctrl[:min(int(q.msg.Controllen), len(q.ctrl))]
		for off, ok := 0, true; ok; {
			var level, typ int32
			var data []byte
			level, typ, data, off, ok = nextCmsg(ctrl, off)
			if !ok || len(data) < int(unsafe.Sizeof(unix.SockExtendedErr{})) {
				continue
			}
			if !(level == unix.IPPROTO_IP && typ == unix.IP_RECVERR) && !(level == unix.IPPROTO_IPV6 && typ == unix.IPV6_RECVERR) {
				continue
			}
			ee := (*unix.SockExtendedErr)(unsafe.Pointer(&data[0]))
			if ee.Errno != uint32(unix.EMSGSIZE) || ee.Info == 0 {
				continue
			}
			local := false
			switch {
			case ee.Origin == unix.SO_EE_ORIGIN_ICMP && ee.Type == icmpDestUnreach && ee.Code == icmpFragNeeded:
			case ee.Origin == unix.SO_EE_ORIGIN_ICMP6 && ee.Type == icmp6PacketTooBig:
			case ee.Origin == unix.SO_EE_ORIGIN_LOCAL:
				local = true
			default:
				continue
			}
			if remote, ok := q.remote(); ok {
				// The message's data is the quoted packet from its IP
				// header (IP_HDRINCL: raw_err and rawv6_err pass the
				// quote from its start). With no handler the error is
				// only drained: nothing is kept, nothing allocated.
				if c.pmtu.Load() != nil {
					ev.add(remote, int(ee.Info), local, q.data[:min(int(r), len(q.data))])
				}
			}
		}
	}
}

// remote returns the address in q.name: the destination of the packet an
// error-queue message is about.
func (q *errQueue) remote() (netip.Addr, bool) {
	switch q.name.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&q.name))
		return netip.AddrFrom4(sa.Addr), true
	case unix.AF_INET6:
		return netip.AddrFrom16(q.name.Addr).Unmap(), true
	}
	return netip.Addr{}, false
}
