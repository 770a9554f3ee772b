package udp

import (
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// writer is the state of one WriteBatch, allocated once and reused; a Conn
// keeps one per concurrent WriteBatch.
type writer struct {
	c     *Conn
	msgs  []mmsghdr
	iovs  []unix.Iovec // one per packet, in send order
	names []unix.RawSockaddrInet6
	oob   []byte  // cmsgGSOSpace bytes per message
	first []int   // message m's first packet: index into order
	segs  []int   // message m's packets
	order []int32 // packet indexes grouped by socket
	sock  []uint8 // packet i's socket
	count [2*FlowSockets + 1]int
	fn    func(fd uintptr) bool
	// sendmmsg state: messages pos..nmsg-1 are to go
	pos, nmsg, calls int
	errno            unix.Errno
}

func (c *Conn) getWriter() *writer {
	c.wmu.Lock()
	if n := len(c.wfree); n > 0 {
		w := c.wfree[n-1]
		c.wfree[n-1] = nil
		c.wfree = c.wfree[:n-1]
		c.wmu.Unlock()
		return w
	}
	c.wmu.Unlock()
	b := c.batch
	w := &writer{c: c, msgs: make([]mmsghdr, b), iovs: make([]unix.Iovec, b),
		names: make([]unix.RawSockaddrInet6, b), oob: make([]byte, b*cmsgGSOSpace),
		first: make([]int, b), segs: make([]int, b), order: make([]int32, b), sock: make([]uint8, b)}
	w.fn = w.send
	return w
}

func (c *Conn) putWriter(w *writer) {
	c.wmu.Lock()
	c.wfree = append(c.wfree, w)
	c.wmu.Unlock()
}

// WriteBatch sends the datagrams bufs[i][offset:] to peers[i], in batches
// of BatchSize, and returns how many it sent and the first error. A packet
// that fails is skipped and the others are still sent, so the count need
// not be a prefix. Packets to one peer from one source port keep their
// order. It is safe for concurrent use and returns [net.ErrClosed] once
// the Conn is closed.
func (c *Conn) WriteBatch(bufs [][]byte, peers []netip.AddrPort, offset int) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	bufs = bufs[:min(len(bufs), len(peers))]
	if len(bufs) == 0 {
		return 0, nil
	}
	w := c.getWriter()
	defer c.putWriter(w)
	sent := 0
	var err error
	for start := 0; start < len(bufs); start += c.batch {
		end := min(start+c.batch, len(bufs))
		n, e := w.write(bufs[start:end], peers[start:end], offset)
		sent += n
		if e != nil && err == nil {
			err = e
		}
		if c.closed.Load() {
			break
		}
	}
	return sent, err
}

// write sends at most BatchSize packets.
func (w *writer) write(bufs [][]byte, peers []netip.AddrPort, offset int) (sent int, err error) {
	c := w.c
	n := len(bufs)
	ns := len(c.tx)
	if ns == 1 {
		for i := range n {
			w.order[i] = int32(i)
		}
		return w.sendSock(c.tx[0], bufs, peers, offset, 0, n)
	}
	// Group the packets by socket, keeping their order in a group: the
	// flow's port, from the socket of the peer's family (an IPv4 peer
	// only from an IPv4 socket).
	w.count = [2*FlowSockets + 1]int{}
	for i := range n {
		var s uint8
		if c.nflow > 1 {
			s = uint8(flowHash(bufs[i][offset:], c.seed) % uint64(c.nflow))
		}
		if c.split && !peers[i].Addr().Unmap().Is4() {
			s += uint8(c.nflow)
		}
		w.sock[i] = s
		w.count[s+1]++
	}
	for s := 1; s <= ns; s++ {
		w.count[s] += w.count[s-1]
	}
	for i := range n {
		s := w.sock[i]
		w.order[w.count[s]] = int32(i)
		w.count[s]++
	}
	lo := 0
	for s := range ns {
		hi := w.count[s]
		if hi > lo {
			k, e := w.sendSock(c.tx[s], bufs, peers, offset, lo, hi)
			sent += k
			if e != nil && err == nil {
				err = e
			}
		}
		lo = hi
	}
	return sent, err
}

// sendSock sends the packets order[lo:hi] from socket s.
func (w *writer) sendSock(s *socket, bufs [][]byte, peers []netip.AddrPort, offset, lo, hi int) (sent int, err error) {
	c := w.c
	gso := true
	nmsg := w.build(s, bufs, peers, offset, lo, hi, gso)
	defer clear(w.iovs[:hi-lo]) // do not keep the caller's buffers
	var bytes, msgs, gsoMsgs, failed uint64
	w.calls = 0
	for start := 0; start < nmsg; {
		w.pos, w.nmsg, w.errno = start, nmsg, 0
		if e := s.rc.Write(w.fn); e != nil {
			for m := start; m < nmsg; m++ {
				failed += uint64(w.segs[m])
			}
			err = e
			break
		}
		for m := start; m < w.pos; m++ {
			sent += w.segs[m]
			for o := w.first[m]; o < w.first[m]+w.segs[m]; o++ {
				bytes += uint64(len(bufs[w.order[o]]) - offset)
			}
			if w.segs[m] > 1 {
				gsoMsgs++
			}
		}
		msgs += uint64(w.pos - start)
		if w.errno == 0 {
			break
		}
		m := w.pos
		if w.segs[m] > 1 && gso {
			// The kernel refused the GSO message: send the rest one
			// datagram a message. EIO means the device cannot
			// checksum, which will not change.
			if w.errno == unix.EIO {
				s.gso.Store(false)
			}
			gso = false
			nmsg = w.build(s, bufs, peers, offset, w.first[m], hi, gso)
			start = 0
			continue
		}
		if err == nil {
			err = syscallErr("sendmmsg", w.errno)
		}
		failed += uint64(w.segs[m])
		start = m + 1
	}
	st := &c.st
	st.txPackets.Add(uint64(sent))
	st.txBytes.Add(bytes)
	st.txMessages.Add(msgs)
	st.txGSO.Add(gsoMsgs)
	st.txCalls.Add(uint64(w.calls))
	if failed > 0 {
		st.txErrors.Add(failed)
	}
	return sent, err
}

// build fills the messages for packets order[lo:hi] and returns their
// count. With gso, consecutive packets to one peer, all of the first's
// size but for a shorter last one, share a message with UDP_SEGMENT.
func (w *writer) build(s *socket, bufs [][]byte, peers []netip.AddrPort, offset, lo, hi int, gso bool) int {
	c := w.c
	gso = gso && s.gso.Load()
	m := -1
	var (
		cur                  netip.AddrPort
		seg, total, maxTotal int
		coalesce             bool
	)
	for o := lo; o < hi; o++ {
		i := w.order[o]
		p := bufs[i][offset:]
		peer := peers[i]
		iov := &w.iovs[o-lo]
		iov.Base = unsafe.SliceData(p)
		iov.SetLen(len(p))
		if coalesce && peer == cur && w.segs[m] < maxSegs && len(p) > 0 && len(p) <= seg && total+len(p) <= maxTotal {
			w.segs[m]++
			total += len(p)
			coalesce = len(p) == seg // a shorter datagram ends the message
			continue
		}
		if m >= 0 {
			w.finish(m, seg)
		}
		m++
		h := &w.msgs[m].hdr
		h.Iov = iov
		h.Name = (*byte)(unsafe.Pointer(&w.names[m]))
		h.Namelen = putAddr(s.v6, &w.names[m], peer)
		if h.Namelen == 0 {
			h.Name = nil // the kernel answers EDESTADDRREQ
		}
		w.first[m], w.segs[m] = o, 1
		cur, seg, total = peer, len(p), len(p)
		v4 := peer.Addr().Unmap().Is4()
		maxTotal = maxPayload6
		if v4 {
			maxTotal = maxPayload4
		}
		coalesce = gso && seg > 0 && !(v4 && c.zero4)
	}
	if m >= 0 {
		w.finish(m, seg)
	}
	return m + 1
}

// finish sets message m's iovec count and, if it holds more than one
// datagram, its UDP_SEGMENT control message.
func (w *writer) finish(m, seg int) {
	h := &w.msgs[m].hdr
	h.SetIovlen(w.segs[m])
	if w.segs[m] == 1 {
		h.Control = nil
		h.SetControllen(0)
		return
	}
	oob := w.oob[m*cmsgGSOSpace : (m+1)*cmsgGSOSpace]
	ch := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	ch.Level = unix.SOL_UDP
	ch.Type = unix.UDP_SEGMENT
	ch.SetLen(unix.CmsgLen(cmsgGSOLen))
	*(*uint16)(unsafe.Pointer(&oob[unix.CmsgLen(0)])) = uint16(seg)
	h.Control = &oob[0]
	h.SetControllen(cmsgGSOSpace)
}

// send is the RawConn.Write callback: sendmmsg until the messages are
// sent, one fails, or the socket buffer is full.
func (w *writer) send(fd uintptr) bool {
	for w.pos < w.nmsg {
		n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&w.msgs[w.pos])), uintptr(w.nmsg-w.pos), 0, 0, 0)
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		w.calls++
		if e != 0 {
			w.errno = e
			return true
		}
		w.pos += int(n)
	}
	return true
}
