//go:build linux

package udp

// SetGROBuf sets how large a reader's buffers must be for c to read GRO
// messages into them, and how large c's own buffers are otherwise (64 KiB,
// the largest coalesced message, unless set). Call it before ReadBatch.
// Tests shrink it to get coalesced messages larger than the buffer they
// are read into, which a device with a gro_max_size above 64 KiB (BIG
// TCP) can deliver but loopback cannot.
func SetGROBuf(c *Conn, n int) { c.r.groBuf = n }
