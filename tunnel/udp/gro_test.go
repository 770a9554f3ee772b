//go:build linux

package udp_test

import (
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/tunnel/udp"
)

// groBurst sends, from a to b in one WriteBatch, two GSO messages: 20
// datagrams of 1400 bytes and one of 500, then 30 of 1200 and one of 100.
// b receives them as two coalesced messages.
func groBurst(t *testing.T, a, b *udp.Conn) [][]byte {
	t.Helper()
	if tx, _ := a.Offload(); !tx {
		testpkt.Missing(t, "UDP GSO (UDP_SEGMENT) in the kernel")
	}
	if _, rx := b.Offload(); !rx {
		testpkt.Missing(t, "UDP GRO in the kernel")
	}
	var pkts [][]byte
	for i, n := range append(append(append(fill(20, 1400), 500), fill(30, 1200)...), 100) {
		pkts = append(pkts, greFlow(1, uint32(i), n))
	}
	n, err := a.WriteBatch(pkts, repeat(b.LocalAddr(), len(pkts)), 0)
	require.NoError(t, err)
	require.Equal(t, len(pkts), n)
	require.Equal(t, uint64(2), a.Stats().TxMessages, "two GSO messages")
	return pkts
}

// readSmall reads from c with batch buffers of size bytes after the
// offset until it has n datagrams or, after that, 200 ms pass without one
// (at most 2 s in all).
func readSmall(t *testing.T, c *udp.Conn, batch, size, n int) [][]byte {
	t.Helper()
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, rxOffset+size)
	}
	sizes, peers := make([]int, batch), make([]netip.AddrPort, batch)
	type result struct {
		pkts [][]byte
		err  error
	}
	out := make(chan result, 1)
	go func() {
		var pkts [][]byte
		for {
			k, err := c.ReadBatch(bufs, sizes, peers, rxOffset)
			for i := range k {
				pkts = append(pkts, append([]byte(nil), bufs[i][rxOffset:rxOffset+sizes[i]]...))
			}
			if err != nil || len(pkts) >= n {
				out <- result{pkts, err}
				return
			}
		}
	}()
	deadline := time.After(2 * time.Second)
	for {
		select {
		case r := <-out:
			require.NoError(t, r.err)
			return r.pkts
		case <-deadline:
			_ = c.Close() // the reader returns what it has
			r := <-out
			return r.pkts
		}
	}
}

// TestGROSmallBuffers reads coalesced GRO messages with buffers of about
// an MTU, as a reader that does not expect coalescing has: a message does
// not fit, but its datagrams do, and all of them arrive, in order. A
// datagram larger than the reader's buffer is dropped alone and counted
// once in RxTrunc; the others of its message arrive.
func TestGROSmallBuffers(t *testing.T) {
	tests := []struct {
		bufLen, batch int
		drop          func(size int) bool // datagrams the buffers cannot hold
	}{
		{1500, 8, func(int) bool { return false }},
		{1500, 128, func(int) bool { return false }},
		{1450, 1, func(int) bool { return false }},
		{1000, 8, func(size int) bool { return size > 1000 }},
		{1000, 128, func(size int) bool { return size > 1000 }},
	}
	for _, tt := range tests {
		t.Run("buf"+strconv.Itoa(tt.bufLen)+"/batch"+strconv.Itoa(tt.batch), func(t *testing.T) {
			a, b := openFixed(t, lo4, 0), openFixed(t, lo4, tt.batch)
			pkts := groBurst(t, a, b)
			var want [][]byte
			var bytes uint64
			for _, p := range pkts {
				if !tt.drop(len(p)) {
					want = append(want, p)
					bytes += uint64(len(p))
				}
			}
			got := readSmall(t, b, tt.batch, tt.bufLen, len(want))
			st := b.Stats()
			assert.NotZero(t, st.RxGRO, "coalesced")
			assert.Equal(t, uint64(len(pkts)-len(want)), st.RxTrunc, "RxTrunc: one per datagram dropped")
			assert.Zero(t, st.RxDropped)
			assert.Equal(t, uint64(len(want)), st.RxPackets)
			assert.Equal(t, bytes, st.RxBytes)
			require.Equal(t, len(want), len(got), "datagrams read")
			assert.Equal(t, want, got)
		})
	}
}

// TestGROTruncated reads coalesced messages larger than the buffer they
// are read into, in the reader's buffers and in the Conn's: the whole
// datagrams at the front arrive, and each of the others is counted in
// RxTrunc. Loopback makes no message larger than 64 KiB, so the test
// lowers that limit to 8000 bytes (SetGROBuf).
func TestGROTruncated(t *testing.T) {
	const groBuf = 8000
	for _, tt := range []struct {
		name          string
		bufLen, batch int
	}{
		{"in place", 9000, 8},
		{"in place/batch128", 9000, 128},
		{"own buffers", 2000, 8},
		{"own buffers/batch128", 2000, 128},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, b := openFixed(t, lo4, 0), openFixed(t, lo4, tt.batch)
			udp.SetGROBuf(b, groBuf)
			pkts := groBurst(t, a, b)
			read := groBuf // what of a message is read
			if tt.bufLen >= groBuf {
				read = tt.bufLen
			}
			// The messages are pkts[0:21] (1400-byte segments) and
			// pkts[21:52] (1200).
			keep1, keep2 := read/1400, read/1200
			want := append(append([][]byte(nil), pkts[:keep1]...), pkts[21:21+keep2]...)
			got := readSmall(t, b, tt.batch, tt.bufLen, len(want))
			st := b.Stats()
			assert.Equal(t, uint64(2), st.RxGRO)
			assert.Equal(t, uint64(len(pkts)-len(want)), st.RxTrunc, "RxTrunc: one per datagram cut off")
			assert.Zero(t, st.RxDropped)
			assert.Equal(t, uint64(len(want)), st.RxPackets)
			assert.Equal(t, uint64(keep1*1400+keep2*1200), st.RxBytes)
			require.Equal(t, len(want), len(got), "datagrams read")
			assert.Equal(t, want, got)
		})
	}
}

// TestGROSmallBuffersAllocs: reading coalesced messages through the
// Conn's own buffers allocates nothing once they are there.
func TestGROSmallBuffersAllocs(t *testing.T) {
	a, b := openFixed(t, lo4, 0), openFixed(t, lo4, 0)
	if _, rx := b.Offload(); !rx {
		testpkt.Missing(t, "UDP GRO in the kernel")
	}
	out := make([][]byte, 40)
	for i := range out {
		out[i] = greFlow(1, uint32(i), 1400)
	}
	bufs := make([][]byte, b.BatchSize())
	for i := range bufs {
		bufs[i] = make([]byte, rxOffset+1500)
	}
	assert.Zero(t, roundTripAllocs(t, a, b, out, bufs))
	st := b.Stats()
	assert.NotZero(t, st.RxGRO)
	assert.Zero(t, st.RxTrunc+st.RxDropped)
}
