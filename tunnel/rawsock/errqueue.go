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

// pmtuEvent is one path-MTU report for Config.OnPathMTU.
type pmtuEvent struct {
	remote netip.Addr
	mtu    int
}

// pmtuEvents collects the reports of one call, without allocating.
type pmtuEvents struct {
	ev [16]pmtuEvent
	n  int
}

// add records mtu for remote, keeping the smallest per remote. Reports
// beyond the array are dropped: the kernel reports again.
func (e *pmtuEvents) add(remote netip.Addr, mtu int) {
	for i := range e.ev[:e.n] {
		if e.ev[i].remote == remote {
			e.ev[i].mtu = min(e.ev[i].mtu, mtu)
			return
		}
	}
	if e.n < len(e.ev) {
		e.ev[e.n] = pmtuEvent{remote, mtu}
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
	q.data = make([]byte, 128) // the start of the quoted packet, unused
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
		_, _, e := unix.Syscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&q.msg)), unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
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
			switch {
			case ee.Origin == unix.SO_EE_ORIGIN_ICMP && ee.Type == icmpDestUnreach && ee.Code == icmpFragNeeded:
			case ee.Origin == unix.SO_EE_ORIGIN_ICMP6 && ee.Type == icmp6PacketTooBig:
			case ee.Origin == unix.SO_EE_ORIGIN_LOCAL:
			default:
				continue
			}
			if remote, ok := q.remote(); ok {
				ev.add(remote, int(ee.Info))
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
