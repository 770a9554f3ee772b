//go:build linux

package rawsock

import (
	"encoding/binary"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ipencap/ipencap/outer"
)

// ipv6FlowInfo is IPV6_FLOWINFO (linux/in6.h), which golang.org/x/sys
// lacks: set on a socket, recvmsg reports the traffic class and flow label
// of each packet (when not both zero) in a control message of that type.
const ipv6FlowInfo = 11

// rxCtrlLen is the control buffer of one received IPv6 message: room for
// IPV6_PKTINFO (40), IPV6_HOPLIMIT (24), IPV6_TCLASS (24) and
// IPV6_FLOWINFO (24).
const rxCtrlLen = 128

// recvmmsg and sendmmsg are the system calls on msgs, never blocking.
func recvmmsg(fd uintptr, msgs []unix.Mmsghdr) (int, syscall.Errno) {
	r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), unix.MSG_DONTWAIT, 0, 0)
	return int(r), e
}

func sendmmsg(fd uintptr, msgs []unix.Mmsghdr) (int, syscall.Errno) {
	r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), unix.MSG_DONTWAIT, 0, 0)
	return int(r), e
}

// alignedBytes returns n bytes of memory aligned for control messages.
func alignedBytes(n int) []byte {
	w := make([]uint64, (n+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), n)
}

// nextCmsg returns the control message at ctrl[off:] and the offset of the
// next one; ok is false at the end (or at a malformed one).
func nextCmsg(ctrl []byte, off int) (level, typ int32, data []byte, next int, ok bool) {
	if off+unix.SizeofCmsghdr > len(ctrl) {
		return 0, 0, nil, 0, false
	}
	h := (*unix.Cmsghdr)(unsafe.Pointer(&ctrl[off]))
	l := int(h.Len)
	if l < unix.SizeofCmsghdr || off+l > len(ctrl) {
		return 0, 0, nil, 0, false
	}
	next = off + unix.CmsgSpace(l-unix.SizeofCmsghdr)
	return h.Level, h.Type, ctrl[off+unix.SizeofCmsghdr : off+l], next, true
}

// rxState is ReadBatch's per-Conn memory, guarded by Conn.rmu.
type rxState struct {
	v6     bool
	msgs   []unix.Mmsghdr
	iovs   []unix.Iovec
	names  []unix.RawSockaddrInet6 // IPv6: the sources
	ctrl   []byte                  // IPv6: rxCtrlLen bytes per message
	n, got int
	errno  syscall.Errno
	events pmtuEvents
}

func (r *rxState) init(batch int, v6 bool) {
	r.v6 = v6
	r.msgs = make([]unix.Mmsghdr, batch)
	r.iovs = make([]unix.Iovec, batch)
	if v6 {
		r.names = make([]unix.RawSockaddrInet6, batch)
		r.ctrl = alignedBytes(batch * rxCtrlLen)
	}
	for i := range r.msgs {
		h := &r.msgs[i].Hdr
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
		if v6 {
			h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
			h.Control = &r.ctrl[i*rxCtrlLen]
		}
	}
}

// prepare points the messages at bufs (IPv6: 40 bytes past offset).
func (r *rxState) prepare(bufs [][]byte, offset int) {
	r.n, r.got, r.errno = len(bufs), 0, 0
	start := offset
	if r.v6 {
		start += ipv6HeaderLen
	}
	for i, b := range bufs {
		iov := &r.iovs[i]
		if start < len(b) {
			iov.Base = &b[start]
			iov.SetLen(len(b) - start)
		} else {
			iov.Base = nil
			iov.SetLen(0)
		}
		m := &r.msgs[i]
		m.Len = 0
		m.Hdr.Flags = 0
		if r.v6 {
			m.Hdr.Namelen = unix.SizeofSockaddrInet6
			m.Hdr.SetControllen(rxCtrlLen)
		}
	}
}

// release forgets the buffers of the last call.
func (r *rxState) release() {
	for i := range r.n {
		r.iovs[i].Base = nil
	}
}

// packet completes received message i in b[offset:] and returns its size
// and source.
func (r *rxState) packet(i int, b []byte, offset int, proto outer.IPProto, local netip.Addr) (int, netip.AddrPort) {
	m := &r.msgs[i]
	n := int(m.Len)
	if !r.v6 {
		var src netip.Addr
		if n >= 20 {
			src = netip.AddrFrom4([4]byte(b[offset+12 : offset+16]))
		}
		return n, netip.AddrPortFrom(src, 0)
	}
	if len(b) < offset+ipv6HeaderLen {
		return 0, netip.AddrPort{}
	}
	var (
		dst         [16]byte
		haveDst     bool
		hop, tclass uint8
		flow        uint32
	)
	ctrl := r.ctrl[i*rxCtrlLen : i*rxCtrlLen+min(int(m.Hdr.Controllen), rxCtrlLen)]
	for off, ok := 0, true; ok; {
		var level, typ int32
		var data []byte
		level, typ, data, off, ok = nextCmsg(ctrl, off)
		if !ok || level != unix.IPPROTO_IPV6 || len(data) < 4 {
			continue
		}
		switch typ {
		case unix.IPV6_PKTINFO:
			if len(data) >= 16 {
				dst, haveDst = [16]byte(data[:16]), true
			}
		case unix.IPV6_HOPLIMIT:
			hop = uint8(binary.NativeEndian.Uint32(data))
		case unix.IPV6_TCLASS:
			tclass = uint8(binary.NativeEndian.Uint32(data))
		case ipv6FlowInfo:
			flow = binary.BigEndian.Uint32(data) & 0xfffff
		}
	}
	if !haveDst && local.IsValid() {
		dst = local.As16()
	}
	h := b[offset : offset+ipv6HeaderLen]
	binary.BigEndian.PutUint32(h[0:4], 6<<28|uint32(tclass)<<20|flow)
	binary.BigEndian.PutUint16(h[4:6], uint16(min(n, 0xffff)))
	h[6] = uint8(proto)
	h[7] = hop
	src := r.names[i].Addr
	copy(h[8:24], src[:])
	copy(h[24:40], dst[:])
	return ipv6HeaderLen + n, netip.AddrPortFrom(netip.AddrFrom16(src), 0)
}

// txState is WriteBatch's per-Conn memory, guarded by Conn.wmu.
type txState struct {
	v6      bool
	msgs    []unix.Mmsghdr
	iovs    []unix.Iovec
	names4  []unix.RawSockaddrInet4
	names6  []unix.RawSockaddrInet6
	n, sent int
	errno   syscall.Errno
	events  pmtuEvents
}

func (t *txState) init(batch int, v6 bool) {
	t.v6 = v6
	t.msgs = make([]unix.Mmsghdr, batch)
	t.iovs = make([]unix.Iovec, batch)
	if v6 {
		t.names6 = make([]unix.RawSockaddrInet6, batch)
	} else {
		t.names4 = make([]unix.RawSockaddrInet4, batch)
	}
	for i := range t.msgs {
		h := &t.msgs[i].Hdr
		h.Iov = &t.iovs[i]
		h.SetIovlen(1)
		if v6 {
			t.names6[i].Family = unix.AF_INET6
			h.Name = (*byte)(unsafe.Pointer(&t.names6[i]))
			h.Namelen = unix.SizeofSockaddrInet6
		} else {
			t.names4[i].Family = unix.AF_INET
			h.Name = (*byte)(unsafe.Pointer(&t.names4[i]))
			h.Namelen = unix.SizeofSockaddrInet4
		}
	}
}

// prepare points the messages at bufs[i][offset:] and their destinations.
func (t *txState) prepare(bufs [][]byte, peers []netip.AddrPort, offset int) {
	t.n, t.sent, t.errno = len(bufs), 0, 0
	for i, b := range bufs {
		var p []byte
		if offset < len(b) {
			p = b[offset:]
		}
		iov := &t.iovs[i]
		iov.Base = nil
		if len(p) > 0 {
			iov.Base = &p[0]
		}
		iov.SetLen(len(p))
		t.msgs[i].Len = 0
		dst := peers[i].Addr()
		if t.v6 {
			if !dst.Is6() && len(p) >= ipv6HeaderLen {
				dst = netip.AddrFrom16([16]byte(p[24:40]))
			}
			t.names6[i].Addr = dst.As16()
			continue
		}
		dst = dst.Unmap()
		var a [4]byte
		if dst.Is4() {
			a = dst.As4()
		} else if len(p) >= 20 {
			a = [4]byte(p[16:20])
		}
		t.names4[i].Addr = a
	}
}

// release forgets the buffers of the last call.
func (t *txState) release() {
	for i := range t.n {
		t.iovs[i].Base = nil
	}
}
