package tunnel

import (
	"sync"
	"unsafe"
)

// Buffer layout. Every packet the engine handles sits in a pooled buffer of
// bufSize bytes: outer packets read from an underlay at rxOffset, inner
// packets read from an overlay at Headroom.
const (
	// Headroom is the offset at which the engine reads inner packets from
	// an Overlay: room for the largest tunnel header (an IPv6 outer header,
	// a GRE header with checksum, key and sequence number: 56 bytes) and
	// for ICMP errors built in front of a quoted packet (48), with room to
	// spare.
	Headroom = 80
	// OverlayOffset is the offset Overlay.Write is given: the bytes in
	// front of each packet that the Overlay may use (a virtio-net header
	// needs 10).
	OverlayOffset = 16
	// rxOffset is where outer packets are read; inner packets then start
	// at least 4 bytes (a GRE header) further, so OverlayOffset bytes of
	// headroom are always there.
	rxOffset = 24
	// MaxPacket is the largest packet the engine carries: 65535 bytes, the
	// most an IPv4 total length or IPv6 payload length can say.
	MaxPacket = 65535
	bufSize   = Headroom + MaxPacket + 1
)

// buffer is one packet buffer.
type buffer [bufSize]byte

var bufPool = sync.Pool{New: func() any { return new(buffer) }}

// getBuf returns a buffer from the pool. Getting a pointer from a
// sync.Pool does not allocate once the pool holds buffers.
func getBuf() *buffer { return bufPool.Get().(*buffer) }

// putBuf returns b to the pool.
func putBuf(b *buffer) { bufPool.Put(b) }

// bufferOf returns the buffer that p lies in: p must be a slice of a
// pooled buffer that reaches its end (cap(p) counts to the end of the
// buffer), as every slice the engine takes of one does (b[i:j] keeps the
// capacity to the end). It steps back from p's first byte by what lies in
// front of it, inside the same allocation, so a packet handed around as a
// slice (a reorder buffer holds the bytes the overlay is given) finds its
// buffer again without bookkeeping in the packet bytes. It panics if
// cap(p) exceeds a buffer, which no slice of one can.
func bufferOf(p []byte) *buffer {
	front := bufSize - cap(p)
	if front < 0 || cap(p) == 0 {
		panic("tunnel: bufferOf: not a slice of a pooled buffer")
	}
	return (*buffer)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(p[:cap(p)])), -front))
}

// Held packets. A packet the engine keeps beyond a batch (one waiting in a
// reorder buffer or a shaping queue) is copied into a buffer of its size
// class, so that it does not pin a 64 KiB receive buffer: heldSmall bytes
// for what fits (a packet of a usual MTU, with the headers in front of
// it), a whole buffer for the rest (GSO super-packets).
const heldSmall = 2048

// smallBuffer is a buffer of the small class.
type smallBuffer [heldSmall]byte

var smallPool = sync.Pool{New: func() any { return new(smallBuffer) }}

// holdCopy copies buf[:end] (a pooled buffer's start: the packet and what
// lies in front of it, the outer header included) into a buffer of its
// size class, and returns the copy's [lo:end], a slice that reaches the end
// of its buffer. The engine gives it back with release.
func holdCopy(buf []byte, lo, end int) []byte {
	if end <= heldSmall {
		nb := smallPool.Get().(*smallBuffer)
		copy(nb[:end], buf[:end])
		return nb[lo:end:heldSmall]
	}
	nb := getBuf()
	copy(nb[:end], buf[:end])
	return nb[lo:end:bufSize]
}

// holdBytes copies p alone into a buffer of its size class and returns
// the copy, which reaches the end of its buffer; release gives it back.
func holdBytes(p []byte) []byte {
	if len(p) <= heldSmall {
		nb := smallPool.Get().(*smallBuffer)
		return nb[:copy(nb[:], p):heldSmall]
	}
	nb := getBuf()
	return nb[:copy(nb[:], p):bufSize]
}

// wholeOf returns the whole buffer p lies in, of either class: p must be a
// slice that reaches the end of its buffer, which its capacity then tells
// apart (a small buffer holds at most heldSmall bytes; a slice of a whole
// buffer starts in its first bytes, so its capacity is far larger).
func wholeOf(p []byte) []byte {
	size := bufSize
	if cap(p) <= heldSmall {
		size = heldSmall
	}
	front := size - cap(p)
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(p[:cap(p)])), -front)), size)
}

// release gives the buffer of p back to its class's pool.
func release(p []byte) {
	w := wholeOf(p)
	if len(w) == heldSmall {
		smallPool.Put((*smallBuffer)(w))
		return
	}
	putBuf((*buffer)(w))
}
