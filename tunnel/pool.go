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
