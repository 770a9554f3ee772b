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

	// With GRO, a receive reads messages into the caller's buffers if
	// each can hold groBuf bytes, a whole coalesced message; else into
	// own, groBuf bytes a message, allocated on first use.
	groBuf int
	own    []byte

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
	r.groBuf = maxGRO
	r.fn = r.recv
	r.socks = socks
	r.waitFn = r.wait
	r.tryFn = r.try
}

// recv is the RawConn.Read callback: one recvmmsg.
func (r *receiver) recv(fd uintptr) bool {
	for {
		// MSG_TRUNC: a message's length is its whole length, even if
		// only part of it fits in the buffer.
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.msgs[0])), uintptr(r.want), unix.MSG_TRUNC, 0, 0)
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
// it reads from the IPv4 and the IPv6 socket in turn.
//
// A coalesced GRO message is split into its datagrams; those that do not
// fit in bufs are returned by the next call. Buffers that cannot hold a
// whole coalesced message (64 KiB) are fine: the messages are then read
// into buffers of the Conn (allocated on the first such call, 64 KiB for
// every 64 buffers of BatchSize) and their datagrams copied out.
//
// Datagrams are dropped, each counted once in Stats, if they are larger
// than the buffer they would go to (RxTrunc; the others of a coalesced
// message arrive), if no buffer is left for them (RxDropped), or if their
// source is an IPv4-mapped IPv6 address (RxMapped): the sockets are
// IPv6-only, so that is a native IPv6 packet claiming an IPv4 source. It
// returns [net.ErrClosed] once the Conn is closed.
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
	for {
		// Read again when everything read was dropped.
		n, err := c.read(bufs[:b], sizes, peers, offset)
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// read is one ReadBatch: the stash, or one recvmmsg.
func (c *Conn) read(bufs [][]byte, sizes []int, peers []netip.AddrPort, offset int) (int, error) {
	b := len(bufs)
	r := &c.r
	st := &c.st
	if r.off < r.end {
		n, bytes, trunc := r.drain(bufs, sizes, peers, offset)
		st.rxPackets.Add(uint64(n))
		st.rxBytes.Add(uint64(bytes))
		if trunc > 0 {
			st.rxTrunc.Add(uint64(trunc))
		}
		return n, nil
	}
	// With GRO every message may hold maxSegs datagrams, each needing a
	// buffer: read into the last buffers and split towards the front,
	// or into the Conn's own buffers if the caller's are too small for
	// a coalesced message.
	want := b
	own := false
	if c.gro {
		want = max(1, b/maxSegs)
		for _, p := range bufs {
			if len(p)-offset < r.groBuf {
				own = true
				break
			}
		}
		if own && len(r.own) < want*r.groBuf {
			r.own = make([]byte, want*r.groBuf)
		}
	}
	base := b - want
	for j := range want {
		var p []byte
		if own {
			p = r.own[j*r.groBuf : (j+1)*r.groBuf]
		} else {
			p = bufs[base+j][offset:]
		}
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
	var bytes, gro, trunc, dropped, mapped uint64
	for j := range k {
		m := &r.msgs[j]
		slot := base + j
		var src []byte
		if own {
			src = r.own[j*r.groBuf : (j+1)*r.groBuf]
		} else {
			src = bufs[slot][offset:]
		}
		size := int(m.n) // the whole message (MSG_TRUNC), maybe more than src holds
		seg := 0
		if c.gro {
			seg = groSize(r.oob[j*rxOOBLen : j*rxOOBLen+int(m.hdr.Controllen)])
		}
		segs := datagrams(size, seg)
		peer, ok := getAddr(&r.names[j])
		if !ok {
			mapped += uint64(segs)
			continue
		}
		if segs == 1 {
			switch {
			case size > len(src): // MSG_TRUNC
				trunc++
				continue
			case !own && n == slot:
				sizes[n], peers[n] = size, peer
			case !put(bufs, sizes, peers, offset, n, src[:size], peer):
				trunc++
				continue
			}
			bytes += uint64(size)
			n++
			continue
		}
		gro++
		if size > len(src) {
			// Truncated: keep the whole datagrams that came.
			whole := len(src) / seg
			trunc += uint64(segs - whole)
			segs, size = whole, whole*seg
		}
		src = src[:size]
		if own {
			q := 0
			for ; q < segs && n < b; q++ {
				p := src[q*seg : min((q+1)*seg, size)]
				if !put(bufs, sizes, peers, offset, n, p, peer) {
					trunc++
					continue
				}
				bytes += uint64(len(p))
				n++
			}
			if q < segs {
				dropped += uint64(r.keep(src[q*seg:], seg, peer))
			}
			continue
		}
		// Datagram q goes to buffer n+q, which must not hold a message
		// still to be split. Each buffer holds groBuf bytes, so every
		// datagram fits.
		limit := b
		if j < k-1 {
			limit = slot + 1
		}
		fit := min(segs, limit-n)
		if fit < segs {
			dropped += uint64(r.keep(src[fit*seg:], seg, peer))
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
			bytes += uint64(sizes[d])
		}
		if inPlace >= 0 {
			sizes[slot] = copy(bufs[slot][offset:], src[inPlace*seg:min((inPlace+1)*seg, size)])
			peers[slot] = peer
			bytes += uint64(sizes[slot])
		}
		n += fit
	}
	st.rxCalls.Add(1)
	st.rxMessages.Add(uint64(k))
	st.rxGRO.Add(gro)
	st.rxPackets.Add(uint64(n))
	st.rxBytes.Add(bytes)
	if trunc > 0 {
		st.rxTrunc.Add(trunc)
	}
	if dropped > 0 {
		st.rxDropped.Add(dropped)
	}
	if mapped > 0 {
		st.rxMapped.Add(mapped)
	}
	return n, nil
}

// put copies datagram p from peer to buffer n, if it fits there.
func put(bufs [][]byte, sizes []int, peers []netip.AddrPort, offset, n int, p []byte, peer netip.AddrPort) bool {
	if len(p) > len(bufs[n])-offset {
		return false
	}
	sizes[n], peers[n] = copy(bufs[n][offset:], p), peer
	return true
}

// keep stashes rest, the datagrams of a coalesced message that found no
// buffer, for the next ReadBatch, and returns 0; if the stash is taken,
// it returns how many datagrams are dropped.
func (r *receiver) keep(rest []byte, seg int, peer netip.AddrPort) int {
	if r.off == r.end && len(rest) <= len(r.stash) {
		r.off, r.end, r.seg, r.peer = 0, copy(r.stash, rest), seg, peer
		return 0
	}
	return datagrams(len(rest), seg)
}

// datagrams returns how many datagrams a message of size bytes holds: one,
// or with GRO segments of seg bytes, the last maybe shorter.
func datagrams(size, seg int) int {
	if seg <= 0 || size <= seg {
		return 1
	}
	return (size + seg - 1) / seg
}

// drain moves stashed datagrams to bufs; those larger than their buffer
// are dropped (trunc).
func (r *receiver) drain(bufs [][]byte, sizes []int, peers []netip.AddrPort, offset int) (n, bytes, trunc int) {
	for n < len(bufs) && r.off < r.end {
		e := min(r.off+r.seg, r.end)
		p := r.stash[r.off:e]
		r.off = e
		if !put(bufs, sizes, peers, offset, n, p, r.peer) {
			trunc++
			continue
		}
		bytes += len(p)
		n++
	}
	return n, bytes, trunc
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
