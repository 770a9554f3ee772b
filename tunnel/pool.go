package tunnel

import (
	"encoding/binary"
	"sync"
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
	// headroom are always there, and the first 4 bytes of a buffer stay
	// free for the engine's bookkeeping (see packetStart).
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

// bufferOf returns the buffer whose first byte is p[0]: p must be a slice
// of a whole buffer from its start (cap(p) == bufSize).
func bufferOf(p []byte) *buffer { return (*buffer)(p[:bufSize]) }

// setPacketStart records in the buffer's first bytes where the packet that
// p[:end] ends with starts; packetStart reads it back. The reorder buffer
// holds such whole-buffer slices, so a packet it gives back can be both
// written and returned to the pool.
func setPacketStart(b *buffer, start int) { binary.LittleEndian.PutUint32(b[0:4], uint32(start)) }

func packetStart(p []byte) int { return int(binary.LittleEndian.Uint32(p[0:4])) }
