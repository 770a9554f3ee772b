package udp

import (
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// receiver is the receive state, allocated once and used under Conn.rmu.
type receiver struct {
	msgs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	oob   []byte // rxOOBLen bytes per message
	fn    func(fd uintptr) bool
	want  int // messages to read
	got   int // messages read
	errno unix.Errno

	// With two sockets: ReadBatch waits on the Conn's epoll instance,
	// and wait reads from either socket, starting with socks[next].
	socks  []*socket
	next   int
	waitFn func(fd uintptr) bool
	tryFn  func(fd uintptr)
	ready  bool  // tryFn read messages (or failed)
	err    error // a socket's Control failed: it is closed

	// Datagrams of a coalesced message that did not fit in the caller's
	// buffers: stash[off:end], seg bytes each, from peer.
	stash         []byte
	off, end, seg int
	peer          netip.AddrPort
}

func (r *receiver) init(batch int, gro bool, socks []*socket) {
	r.msgs = make([]mmsghdr, batch)
	r.iovs = make([]unix.Iovec, batch)
	r.names = make([]unix.RawSockaddrInet6, batch)
	r.oob = make([]byte, batch*rxOOBLen)
	for i := range r.msgs {
		h := &r.msgs[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
		h.Control = &r.oob[i*rxOOBLen]
	}
	if gro {
		r.stash = make([]byte, stashSize)
	}
	r.fn = r.recv
	r.socks = socks
	r.waitFn = r.wait
	r.tryFn = r.try
}

// recv is the RawConn.Read callback: one recvmmsg.
func (r *receiver) recv(fd uintptr) bool {
	for {
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.msgs[0])), uintptr(r.want), 0, 0, 0)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		r.got, r.errno = int(n), e
		return true
	}
}

// try is recv for RawConn.Control, which does not wait.
func (r *receiver) try(fd uintptr) { r.ready = r.recv(fd) }

// wait is the RawConn.Read callback of the epoll instance: one recvmmsg on
// each socket in turn, starting after the one that last had messages so
// that neither starves the other, until one has messages; false (wait
// for the epoll instance to turn readable) if neither has.
func (r *receiver) wait(uintptr) bool {
	for i := range r.socks {
		k := (r.next + i) % len(r.socks)
		r.ready = false
		if err := r.socks[k].rc.Control(r.tryFn); err != nil {
			r.err = err
			return true
		}
		if r.ready {
			r.next = (k + 1) % len(r.socks)
			return true
		}
	}
	return false
}

// ReadBatch reads up to len(bufs) datagrams (at most BatchSize):
// datagram i is bufs[i][offset:offset+sizes[i]] and peers[i] its source
// address and port. It blocks until one is there; bound to the wildcard,
// it reads from the IPv4 and the IPv6 socket in turn. A coalesced GRO
// message is split into its datagrams; those that do not fit are returned
// by the next call. A datagram from an IPv4-mapped IPv6 address is
// dropped and counted in Stats.RxMapped: the sockets are IPv6-only, so it
// is a native IPv6 packet that claims an IPv4 source. It returns
// [net.ErrClosed] once the Conn is closed.
func (c *Conn) ReadBatch(bufs [][]byte, sizes []int, peers []netip.AddrPort, offset int) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	b := min(len(bufs), len(sizes), len(peers), c.batch)
	if b == 0 {
		return 0, nil
	}
	r := &c.r
	if r.off < r.end {
		n, bytes := r.drain(bufs[:b], sizes, peers, offset)
		c.st.rxPackets.Add(uint64(n))
		c.st.rxBytes.Add(uint64(bytes))
		return n, nil
	}
	// With GRO every message may hold maxSegs datagrams, each needing a
	// buffer: read into the last buffers and split towards the front.
	want := b
	if c.gro {
		want = max(1, b/maxSegs)
	}
	base := b - want
	for j := range want {
		p := bufs[base+j][offset:]
		r.iovs[j].Base = unsafe.SliceData(p)
		r.iovs[j].SetLen(len(p))
		h := &r.msgs[j].hdr
		h.Namelen = unix.SizeofSockaddrInet6
		h.SetControllen(rxOOBLen)
		h.Flags = 0
		r.msgs[j].n = 0
	}
	r.want = want
	var err error
	if c.poll != nil {
		r.err = nil
		if err = c.prc.Read(r.waitFn); err == nil {
			err = r.err
		}
	} else {
		err = c.rx[0].rc.Read(r.fn)
	}
	defer clear(r.iovs[:want]) // do not keep the caller's buffers
	if err != nil {
		if c.closed.Load() {
			return 0, net.ErrClosed
		}
		return 0, err
	}
	if r.errno != 0 {
		return 0, syscallErr("recvmmsg", r.errno)
	}
	k := r.got
	n := 0
	var bytes, gro uint64
	for j := range k {
		m := &r.msgs[j]
		slot := base + j
		size := int(m.n)
		if m.hdr.Flags&unix.MSG_TRUNC != 0 {
			c.st.rxTrunc.Add(1)
			continue
		}
		seg := 0
		if c.gro {
			seg = groSize(r.oob[j*rxOOBLen : j*rxOOBLen+int(m.hdr.Controllen)])
		}
		peer, ok := getAddr(&r.names[j])
		if !ok {
			c.st.rxMapped.Add(uint64(datagrams(size, seg)))
			continue
		}
		src := bufs[slot][offset : offset+size]
		bytes += uint64(size)
		if seg <= 0 || size <= seg {
			if n != slot {
				copy(bufs[n][offset:], src)
			}
			sizes[n], peers[n] = size, peer
			n++
			continue
		}
		gro++
		// Datagram q goes to buffer n+q, which must not hold a message
		// still to be split.
		limit := b
		if j < k-1 {
			limit = slot + 1
		}
		segs := (size + seg - 1) / seg
		fit := min(segs, limit-n)
		if fit < segs {
			rest := src[fit*seg:]
			if r.off == r.end && len(rest) <= len(r.stash) {
				r.off, r.end, r.seg, r.peer = 0, copy(r.stash, rest), seg, peer
			} else {
				c.st.rxDropped.Add(uint64(segs - fit))
				bytes -= uint64(len(rest))
			}
		}
		// Datagram q of src moves to buffer n+q; the one that stays in
		// src's own buffer moves last, once the others are out.
		inPlace := -1
		for q := range fit {
			d := n + q
			if d == slot {
				inPlace = q
				continue
			}
			sizes[d] = copy(bufs[d][offset:], src[q*seg:min((q+1)*seg, size)])
			peers[d] = peer
		}
		if inPlace >= 0 {
			sizes[slot] = copy(bufs[slot][offset:], src[inPlace*seg:min((inPlace+1)*seg, size)])
			peers[slot] = peer
		}
		n += fit
	}
	st := &c.st
	st.rxCalls.Add(1)
	st.rxMessages.Add(uint64(k))
	st.rxGRO.Add(gro)
	st.rxPackets.Add(uint64(n))
	st.rxBytes.Add(bytes)
	return n, nil
}

// datagrams returns how many datagrams a message of size bytes holds: one,
// or with GRO segments of seg bytes, the last maybe shorter.
func datagrams(size, seg int) int {
	if seg <= 0 || size <= seg {
		return 1
	}
	return (size + seg - 1) / seg
}

// drain moves stashed datagrams to bufs.
func (r *receiver) drain(bufs [][]byte, sizes []int, peers []netip.AddrPort, offset int) (n, bytes int) {
	for n < len(bufs) && r.off < r.end {
		e := min(r.off+r.seg, r.end)
		sizes[n] = copy(bufs[n][offset:], r.stash[r.off:e])
		peers[n] = r.peer
		bytes += sizes[n]
		r.off = e
		n++
	}
	return n, bytes
}

// groSize returns the segment size of a UDP_GRO control message in oob,
// or 0.
func groSize(oob []byte) int {
	for len(oob) >= unix.SizeofCmsghdr {
		h, data, rest, err := unix.ParseOneSocketControlMessage(oob)
		if err != nil {
			return 0
		}
		if h.Level == unix.SOL_UDP && h.Type == unix.UDP_GRO && len(data) >= 4 {
			return int(*(*int32)(unsafe.Pointer(&data[0])))
		}
		oob = rest
	}
	return 0
}
