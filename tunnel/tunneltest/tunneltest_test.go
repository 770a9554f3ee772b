package tunneltest

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/tunnel"
)

var (
	addrA = netip.MustParseAddrPort("192.0.2.1:0")
	addrB = netip.MustParseAddrPort("[2001:db8::2]:4754")
)

// waitTimeout bounds every wait for something that should happen at once.
const waitTimeout = 5 * time.Second

const offset = 16 // headroom used throughout

// packet returns a packet of n bytes at offset, numbered seq in its first
// 4 bytes (when it has room) and filled with a pattern after.
func packet(seq uint32, n int) []byte {
	b := make([]byte, offset+n)
	for i := range n {
		b[offset+i] = byte(int(seq) + i*7)
	}
	if n >= 4 {
		binary.BigEndian.PutUint32(b[offset:], seq)
	}
	return b
}

// readBufs returns k read buffers with room for size bytes past offset.
func readBufs(k, size int) ([][]byte, []int, []netip.AddrPort) {
	bufs := make([][]byte, k)
	for i := range bufs {
		bufs[i] = make([]byte, offset+size)
	}
	return bufs, make([]int, k), make([]netip.AddrPort, k)
}

// readAll reads from p until nothing is queued, with a batch of k, and
// returns the packets read (copies).
func readAll(t testing.TB, p *Pipe, k int) [][]byte {
	t.Helper()
	var got [][]byte
	bufs, sizes, peers := readBufs(k, 2048)
	for p.in.pending() > 0 {
		n, err := p.ReadBatch(bufs, sizes, peers, offset)
		require.NoError(t, err)
		for i := range n {
			got = append(got, bytes.Clone(bufs[i][offset:offset+sizes[i]]))
		}
	}
	return got
}

// pending returns how many packets are queued.
func (q *queue) pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

func seqOf(pkt []byte) uint32 { return binary.BigEndian.Uint32(pkt) }

func TestPipeOrderAndPeers(t *testing.T) {
	a, b := NewPipe(PipeConfig{AddrA: addrA, AddrB: addrB})
	defer a.Close()
	defer b.Close()

	var pkts [][]byte
	var dsts []netip.AddrPort
	for i := range 10 {
		pkts = append(pkts, packet(uint32(i), 100+i))
		dsts = append(dsts, addrB)
	}
	n, err := a.WriteBatch(pkts, dsts, offset)
	require.NoError(t, err)
	require.Equal(t, 10, n)
	assert.Equal(t, addrB, a.LastDest())

	bufs, sizes, peers := readBufs(16, 2048)
	n, err = b.ReadBatch(bufs, sizes, peers, offset)
	require.NoError(t, err)
	require.Equal(t, 10, n)
	for i := range n {
		assert.Equal(t, pkts[i][offset:], bufs[i][offset:offset+sizes[i]], "packet %d", i)
		assert.Equal(t, addrA, peers[i], "peer %d", i)
		assert.Equal(t, make([]byte, offset), bufs[i][:offset], "headroom %d untouched", i)
	}

	// The other way round, the peer is b's address.
	_, err = b.WriteBatch(pkts[:1], []netip.AddrPort{addrA}, offset)
	require.NoError(t, err)
	n, err = a.ReadBatch(bufs, sizes, peers, offset)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	assert.Equal(t, addrB, peers[0])
	assert.Equal(t, pkts[0][offset:], bufs[0][offset:offset+sizes[0]])

	assert.Equal(t, PipeStats{Sent: 10, Received: 1}, a.Stats())
	assert.Equal(t, PipeStats{Sent: 1, Received: 10}, b.Stats())
	assert.Equal(t, 64, a.BatchSize())
	assert.Equal(t, addrA, a.Addr())
	assert.Equal(t, addrB, b.Addr())
}

func TestPipeBatching(t *testing.T) {
	a, b := NewPipe(PipeConfig{Batch: 8})
	defer a.Close()
	defer b.Close()
	assert.Equal(t, 8, a.BatchSize())
	assert.Equal(t, 8, b.BatchSize())

	// Several writes queue up; reads take at most len(bufs) at a time, in
	// order.
	for i := range 5 {
		pkts := make([][]byte, 4)
		for j := range pkts {
			pkts[j] = packet(uint32(i*4+j), 64)
		}
		n, err := a.WriteBatch(pkts, nil, offset)
		require.NoError(t, err)
		require.Equal(t, 4, n)
	}
	bufs, sizes, peers := readBufs(8, 128)
	var seqs []uint32
	var batches []int
	for len(seqs) < 20 {
		n, err := b.ReadBatch(bufs, sizes, peers, offset)
		require.NoError(t, err)
		batches = append(batches, n)
		for i := range n {
			seqs = append(seqs, seqOf(bufs[i][offset:]))
		}
	}
	assert.Equal(t, []int{8, 8, 4}, batches)
	for i, s := range seqs {
		assert.Equal(t, uint32(i), s)
	}

	// sizes shorter than bufs limits the batch too.
	_, err := a.WriteBatch([][]byte{packet(0, 8), packet(1, 8)}, nil, offset)
	require.NoError(t, err)
	n, err := b.ReadBatch(bufs, sizes[:1], nil, offset)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

// The pipe carries bytes unchanged whatever the framing and size.
func TestPipeFraming(t *testing.T) {
	sizes := []int{0, 1, 20, 1500, 9000, DefaultMaxPacket}
	for _, framing := range []tunnel.Framing{tunnel.FramingIP, tunnel.FramingUDP} {
		t.Run(framing.String(), func(t *testing.T) {
			a, b := NewPipe(PipeConfig{Framing: framing, AddrA: addrA, AddrB: addrB})
			defer a.Close()
			defer b.Close()
			assert.Equal(t, framing, a.Framing())
			rng := rand.New(rand.NewPCG(1, 2))
			bufs, rsizes, peers := readBufs(1, DefaultMaxPacket)
			for _, size := range sizes {
				pkt := make([]byte, offset+size)
				for i := range pkt {
					pkt[i] = byte(rng.Uint32())
				}
				_, err := a.WriteBatch([][]byte{pkt}, []netip.AddrPort{addrB}, offset)
				require.NoError(t, err)
				n, err := b.ReadBatch(bufs, rsizes, peers, offset)
				require.NoError(t, err)
				require.Equal(t, 1, n)
				require.Equal(t, size, rsizes[0])
				require.True(t, bytes.Equal(pkt[offset:], bufs[0][offset:offset+rsizes[0]]), "size %d", size)
				assert.Equal(t, addrA, peers[0])
			}
			assert.Equal(t, PipeStats{Sent: uint64(len(sizes))}, a.Stats())
		})
	}
}

func TestPipeDrops(t *testing.T) {
	tests := []struct {
		name      string
		cfg       PipeConfig
		sizes     []int
		wantRead  int
		wantStats PipeStats
	}{
		{
			name:      "queue full",
			cfg:       PipeConfig{Queue: 4},
			sizes:     []int{10, 10, 10, 10, 10, 10, 10},
			wantRead:  4,
			wantStats: PipeStats{Sent: 7, Dropped: 3},
		},
		{
			name:      "too big",
			cfg:       PipeConfig{MaxPacket: 100},
			sizes:     []int{100, 101, 50, 1500},
			wantRead:  2,
			wantStats: PipeStats{Sent: 4, Dropped: 2},
		},
		{
			name:      "default max",
			cfg:       PipeConfig{},
			sizes:     []int{DefaultMaxPacket, DefaultMaxPacket + 1},
			wantRead:  1,
			wantStats: PipeStats{Sent: 2, Dropped: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := NewPipe(tt.cfg)
			defer a.Close()
			defer b.Close()
			var pkts [][]byte
			for i, size := range tt.sizes {
				pkts = append(pkts, packet(uint32(i), size))
			}
			// Queue-full drops are not errors: the write reports all.
			n, err := a.WriteBatch(pkts, nil, offset)
			require.NoError(t, err)
			require.Equal(t, len(pkts), n)
			assert.Equal(t, tt.wantStats, a.Stats())
			bufs, rsizes, peers := readBufs(len(pkts), DefaultMaxPacket+1)
			n, err = b.ReadBatch(bufs, rsizes, peers, offset)
			require.NoError(t, err)
			assert.Equal(t, tt.wantRead, n)
		})
	}
}

func TestPipeTruncate(t *testing.T) {
	a, b := NewPipe(PipeConfig{})
	defer a.Close()
	defer b.Close()
	pkt := packet(1, 100)
	_, err := a.WriteBatch([][]byte{pkt}, nil, offset)
	require.NoError(t, err)
	bufs, sizes, peers := readBufs(1, 60)
	n, err := b.ReadBatch(bufs, sizes, peers, offset)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	assert.Equal(t, 60, sizes[0])
	assert.Equal(t, pkt[offset:offset+60], bufs[0][offset:])
	assert.Equal(t, uint64(1), b.Stats().Truncated)
}

// readAsync starts a ReadBatch on p and returns the channel its result
// arrives on.
func readAsync(p *Pipe) <-chan error {
	done := make(chan error, 1)
	go func() {
		bufs, sizes, peers := readBufs(4, 128)
		_, err := p.ReadBatch(bufs, sizes, peers, offset)
		done <- err
	}()
	return done
}

func waitErr(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(waitTimeout):
		t.Fatal("blocked call did not return")
		return nil
	}
}

func TestPipeCloseWakesRead(t *testing.T) {
	for _, closeOwn := range []bool{true, false} {
		name := "other end"
		if closeOwn {
			name = "own end"
		}
		t.Run(name, func(t *testing.T) {
			a, b := NewPipe(PipeConfig{})
			done := readAsync(b)
			// The reader should block; give it a moment to get there (the
			// test passes either way).
			select {
			case err := <-done:
				t.Fatalf("ReadBatch returned early: %v", err)
			case <-time.After(10 * time.Millisecond):
			}
			if closeOwn {
				require.NoError(t, b.Close())
			} else {
				require.NoError(t, a.Close())
			}
			require.ErrorIs(t, waitErr(t, done), net.ErrClosed)
			a.Close()
			b.Close()
		})
	}
}

func TestPipeClose(t *testing.T) {
	a, b := NewPipe(PipeConfig{})
	pkts := [][]byte{packet(0, 10), packet(1, 10), packet(2, 10)}
	_, err := a.WriteBatch(pkts, nil, offset)
	require.NoError(t, err)
	_, err = b.WriteBatch(pkts, nil, offset)
	require.NoError(t, err)

	require.NoError(t, a.Close())
	require.NoError(t, a.Close(), "second Close")

	// a's own calls fail; what b sent it is discarded as dropped.
	n, err := a.WriteBatch(pkts, nil, offset)
	require.ErrorIs(t, err, net.ErrClosed)
	assert.Zero(t, n)
	bufs, sizes, peers := readBufs(8, 64)
	_, err = a.ReadBatch(bufs, sizes, peers, offset)
	require.ErrorIs(t, err, net.ErrClosed)

	// b drains what a sent before closing, then gets ErrClosed.
	n, err = b.ReadBatch(bufs, sizes, peers, offset)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	_, err = b.ReadBatch(bufs, sizes, peers, offset)
	require.ErrorIs(t, err, net.ErrClosed)

	// b's writes to the closed end are dropped and counted.
	n, err = b.WriteBatch(pkts[:2], nil, offset)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, PipeStats{Sent: 5, Received: 3, Dropped: 5}, b.Stats())
	assert.Equal(t, PipeStats{Sent: 3}, a.Stats())

	require.NoError(t, b.Close())
	n, err = b.WriteBatch(pkts, nil, offset)
	require.ErrorIs(t, err, net.ErrClosed)
	assert.Zero(t, n)
}

// runImpaired writes total numbered packets from a to b in batches of
// batch, reads them all, and returns the sequence numbers read.
func runImpaired(t *testing.T, im Impairment, total, batch int) (seqs []uint32, sa, sb PipeStats) {
	t.Helper()
	a, b := NewPipe(PipeConfig{Impair: im, Queue: 4 * batch})
	defer a.Close()
	defer b.Close()
	pkts := make([][]byte, batch)
	for i := range pkts {
		pkts[i] = packet(0, 64)
	}
	for sent := 0; sent < total; {
		k := min(batch, total-sent)
		for i := range k {
			binary.BigEndian.PutUint32(pkts[i][offset:], uint32(sent+i))
		}
		_, err := a.WriteBatch(pkts[:k], nil, offset)
		require.NoError(t, err)
		sent += k
		for _, p := range readAll(t, b, 16) {
			seqs = append(seqs, seqOf(p))
		}
	}
	return seqs, a.Stats(), b.Stats()
}

func TestImpairment(t *testing.T) {
	const total = 10000
	tests := []struct {
		name string
		im   Impairment
		// bounds on the counters, about ±5 standard deviations
		lost, dup, reorder [2]uint64
	}{
		{name: "none", im: Impairment{Seed: 1}},
		{name: "loss", im: Impairment{Loss: 0.1, Seed: 1}, lost: [2]uint64{850, 1150}},
		{name: "duplicate", im: Impairment{Duplicate: 0.05, Seed: 2}, dup: [2]uint64{390, 610}},
		{name: "reorder", im: Impairment{Reorder: 0.05, Seed: 3}, reorder: [2]uint64{350, 610}},
		{
			name:    "all",
			im:      Impairment{Loss: 0.2, Duplicate: 0.1, Reorder: 0.1, Seed: 4},
			lost:    [2]uint64{1800, 2200},
			dup:     [2]uint64{640, 960},
			reorder: [2]uint64{500, 900},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seqs, sa, sb := runImpaired(t, tt.im, total, 64)
			assert.Equal(t, uint64(total), sa.Sent)
			// Exact accounting: every copy is received, lost or dropped.
			assert.Equal(t, sa.Sent+sa.Duplicated, sb.Received+sa.Lost+sa.Dropped)
			assert.Equal(t, uint64(len(seqs)), sb.Received)
			assert.Zero(t, sa.Dropped)
			inRange := func(what string, got uint64, r [2]uint64) {
				assert.GreaterOrEqual(t, got, r[0], what)
				assert.LessOrEqual(t, got, r[1], what)
			}
			inRange("lost", sa.Lost, tt.lost)
			inRange("duplicated", sa.Duplicated, tt.dup)
			inRange("reordered", sa.Reordered, tt.reorder)

			// What arrives matches the counters.
			var back, dups uint64
			seen := make(map[uint32]bool)
			for i, s := range seqs {
				if seen[s] {
					dups++
				}
				seen[s] = true
				if i > 0 && s < seqs[i-1] {
					back++
				}
			}
			assert.Equal(t, uint64(total)-sa.Lost, uint64(len(seen)), "distinct packets")
			assert.Equal(t, sa.Duplicated, dups)
			assert.Equal(t, sa.Reordered, back, "each swap puts one packet behind")

			// The same seed gives the same run.
			seqs2, sa2, sb2 := runImpaired(t, tt.im, total, 64)
			assert.Equal(t, seqs, seqs2)
			assert.Equal(t, sa, sa2)
			assert.Equal(t, sb, sb2)
		})
	}
}

// A packet held back with nothing after it in the same call is not
// reordered.
func TestImpairmentReorderAlone(t *testing.T) {
	seqs, sa, _ := runImpaired(t, Impairment{Reorder: 1, Seed: 1}, 100, 1)
	assert.Zero(t, sa.Reordered)
	for i, s := range seqs {
		assert.Equal(t, uint32(i), s)
	}
	// With Reorder 1 and two packets a call, every pair is swapped.
	seqs, sa, _ = runImpaired(t, Impairment{Reorder: 1, Seed: 1}, 10, 2)
	assert.Equal(t, uint64(5), sa.Reordered)
	assert.Equal(t, []uint32{1, 0, 3, 2, 5, 4, 7, 6, 9, 8}, seqs)
}

func TestPipeAllocs(t *testing.T) {
	for _, im := range []Impairment{{}, {Loss: 0.01, Duplicate: 0.01, Reorder: 0.01, Seed: 1}} {
		a, b := NewPipe(PipeConfig{AddrA: addrA, AddrB: addrB, Impair: im})
		wbufs := [][]byte{packet(1, 1400), packet(2, 60), packet(3, 1500)}
		wpeers := []netip.AddrPort{addrB, addrB, addrB}
		bufs, sizes, peers := readBufs(8, 2048)
		allocs := testing.AllocsPerRun(1000, func() {
			if _, err := a.WriteBatch(wbufs, wpeers, offset); err != nil {
				t.Fatal(err)
			}
			for b.in.pending() > 0 {
				if _, err := b.ReadBatch(bufs, sizes, peers, offset); err != nil {
					t.Fatal(err)
				}
			}
		})
		assert.Zero(t, allocs, "impairment %+v", im)
		_ = a.Stats()
		a.Close()
		b.Close()
	}
}

func TestOverlay(t *testing.T) {
	o := NewChannelOverlay(OverlayConfig{})
	assert.Equal(t, 64, o.BatchSize())
	mtu, err := o.MTU()
	require.NoError(t, err)
	assert.Equal(t, 1500, mtu)

	o2 := NewChannelOverlay(OverlayConfig{Batch: 7, MTU: 9000})
	assert.Equal(t, 7, o2.BatchSize())
	mtu, _ = o2.MTU()
	assert.Equal(t, 9000, mtu)

	// Inject → Read, in order, batched, at offset; oversized allowed.
	var pkts [][]byte
	for i := range 5 {
		pkts = append(pkts, packet(uint32(i), 100*i+4)[offset:])
	}
	pkts = append(pkts, packet(5, 3000)[offset:])
	for _, p := range pkts {
		require.NoError(t, o.Inject(p))
	}
	bufs, sizes, _ := readBufs(4, 4000)
	var got [][]byte
	for len(got) < len(pkts) {
		n, err := o.Read(bufs, sizes, offset)
		require.NoError(t, err)
		require.LessOrEqual(t, n, 4)
		for i := range n {
			got = append(got, bytes.Clone(bufs[i][offset:offset+sizes[i]]))
		}
	}
	assert.Equal(t, pkts, got)
	require.ErrorIs(t, o.Inject(make([]byte, DefaultMaxPacket+1)), ErrTooLarge)

	// Write → Recv, in order.
	wbufs := make([][]byte, len(pkts))
	for i, p := range pkts {
		wbufs[i] = append(make([]byte, offset), p...)
	}
	n, err := o.Write(wbufs, offset)
	require.NoError(t, err)
	assert.Equal(t, len(wbufs), n)
	assert.Equal(t, uint64(len(wbufs)), o.Received())
	dst := make([]byte, 4000)
	for i, p := range pkts {
		n, ok := o.Recv(dst, waitTimeout)
		require.True(t, ok, "packet %d", i)
		assert.Equal(t, p, dst[:n])
	}
	// Nothing left: Recv times out.
	start := time.Now()
	_, ok := o.Recv(dst, 20*time.Millisecond)
	assert.False(t, ok)
	assert.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)
	_, ok = o.Recv(dst, 0)
	assert.False(t, ok)

	// A short dst truncates.
	_, err = o.Write(wbufs[5:], offset)
	require.NoError(t, err)
	n, ok = o.Recv(dst[:10], 0)
	require.True(t, ok)
	assert.Equal(t, pkts[5][:10], dst[:n])
	require.NoError(t, o.Close())
	require.NoError(t, o2.Close())
}

func TestOverlayRecvWakes(t *testing.T) {
	o := NewChannelOverlay(OverlayConfig{})
	defer o.Close()
	got := make(chan int, 1)
	go func() {
		dst := make([]byte, 100)
		n, ok := o.Recv(dst, waitTimeout)
		if !ok {
			n = -1
		}
		got <- n
	}()
	time.Sleep(5 * time.Millisecond)
	_, err := o.Write([][]byte{packet(1, 50)}, offset)
	require.NoError(t, err)
	select {
	case n := <-got:
		assert.Equal(t, 50, n)
	case <-time.After(waitTimeout):
		t.Fatal("Recv did not wake")
	}
}

func TestOverlayQueueFull(t *testing.T) {
	o := NewChannelOverlay(OverlayConfig{Queue: 2})
	defer o.Close()

	// Write drops what does not fit.
	n, err := o.Write([][]byte{packet(0, 8), packet(1, 8), packet(2, 8)}, offset)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	assert.Equal(t, uint64(3), o.Received())
	assert.Equal(t, uint64(1), o.Dropped())

	// Inject blocks until Read makes room.
	require.NoError(t, o.Inject([]byte{0}))
	require.NoError(t, o.Inject([]byte{1}))
	done := make(chan error, 1)
	go func() { done <- o.Inject([]byte{2}) }()
	select {
	case err := <-done:
		t.Fatalf("Inject did not block: %v", err)
	case <-time.After(10 * time.Millisecond):
	}
	bufs, sizes, _ := readBufs(1, 8)
	_, err = o.Read(bufs, sizes, offset)
	require.NoError(t, err)
	require.NoError(t, waitErr(t, done))
	var got []byte
	for range 2 {
		_, err = o.Read(bufs, sizes, offset)
		require.NoError(t, err)
		got = append(got, bufs[0][offset])
	}
	assert.Equal(t, []byte{1, 2}, got)
}

func TestOverlayClose(t *testing.T) {
	o := NewChannelOverlay(OverlayConfig{Queue: 1})
	readDone := make(chan error, 1)
	go func() {
		bufs, sizes, _ := readBufs(1, 8)
		_, err := o.Read(bufs, sizes, offset)
		readDone <- err
	}()
	_, err := o.Write([][]byte{packet(7, 8)}, offset)
	require.NoError(t, err)
	time.Sleep(5 * time.Millisecond)

	require.NoError(t, o.Close())
	require.ErrorIs(t, waitErr(t, readDone), net.ErrClosed)
	require.ErrorIs(t, o.Inject([]byte{1}), net.ErrClosed)
	_, err = o.Write([][]byte{packet(8, 8)}, offset)
	require.ErrorIs(t, err, net.ErrClosed)
	// What was written before Close can still be received, then Recv
	// returns at once.
	dst := make([]byte, 8)
	n, ok := o.Recv(dst, waitTimeout)
	require.True(t, ok)
	assert.Equal(t, uint32(7), seqOf(dst[:n]))
	start := time.Now()
	_, ok = o.Recv(dst, waitTimeout)
	assert.False(t, ok)
	assert.Less(t, time.Since(start), waitTimeout/2)

	// A blocked Inject wakes on Close.
	o = NewChannelOverlay(OverlayConfig{Queue: 1})
	require.NoError(t, o.Inject([]byte{1}))
	done := make(chan error, 1)
	go func() { done <- o.Inject([]byte{2}) }()
	time.Sleep(5 * time.Millisecond)
	require.NoError(t, o.Close())
	require.ErrorIs(t, waitErr(t, done), net.ErrClosed)
}

func TestOverlayAllocs(t *testing.T) {
	o := NewChannelOverlay(OverlayConfig{})
	defer o.Close()
	pkt := packet(1, 1400)
	bufs, sizes, _ := readBufs(8, 2048)
	dst := make([]byte, 2048)

	allocs := testing.AllocsPerRun(1000, func() {
		if err := o.Inject(pkt[offset:]); err != nil {
			t.Fatal(err)
		}
		if _, err := o.Read(bufs, sizes, offset); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs, "Inject+Read")

	wbufs := [][]byte{pkt, pkt}
	allocs = testing.AllocsPerRun(1000, func() {
		if _, err := o.Write(wbufs, offset); err != nil {
			t.Fatal(err)
		}
		for range wbufs {
			if _, ok := o.Recv(dst, time.Second); !ok {
				t.Fatal("Recv")
			}
		}
	})
	assert.Zero(t, allocs, "Write+Recv")

	// A Recv that waits for its timer allocates nothing either.
	allocs = testing.AllocsPerRun(10, func() {
		if _, ok := o.Recv(dst, time.Millisecond); ok {
			t.Fatal("Recv got a packet")
		}
	})
	assert.Zero(t, allocs, "Recv timeout")
}

// TestConcurrency runs writers, readers, closers and Stats together; run
// it with -race.
func TestConcurrency(t *testing.T) {
	const writers, perWriter = 4, 2001 // perWriter: a multiple of 3
	a, b := NewPipe(PipeConfig{
		Queue:  64,
		AddrA:  addrA,
		AddrB:  addrB,
		Impair: Impairment{Loss: 0.05, Duplicate: 0.05, Reorder: 0.05, Seed: 9},
	})
	o := NewChannelOverlay(OverlayConfig{Queue: 64})

	var wg sync.WaitGroup
	var received [2]uint64
	for r := range 2 { // two readers on b
		wg.Add(1)
		go func() {
			defer wg.Done()
			bufs, sizes, peers := readBufs(8, 128)
			for {
				n, err := b.ReadBatch(bufs, sizes, peers, offset)
				if err != nil {
					return
				}
				for i := range n {
					if peers[i] != addrA {
						t.Errorf("peer %v", peers[i])
					}
				}
				received[r] += uint64(n)
			}
		}()
	}
	var wwg sync.WaitGroup
	for w := range writers {
		wwg.Add(1)
		go func() {
			defer wwg.Done()
			pkts := [][]byte{packet(uint32(w), 100), packet(uint32(w), 100), packet(uint32(w), 100)}
			for i := 0; i < perWriter; i += len(pkts) {
				if _, err := a.WriteBatch(pkts, nil, offset); err != nil {
					t.Error(err)
					return
				}
				_ = a.Stats()
				_ = b.Stats()
			}
		}()
	}
	// The overlay: an injector, a reader that writes back, a receiver.
	wg.Add(3)
	go func() {
		defer wg.Done()
		for i := range perWriter {
			if o.Inject(packet(uint32(i), 60)[offset:]) != nil {
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		bufs, sizes, _ := readBufs(8, 128)
		for {
			n, err := o.Read(bufs, sizes, offset)
			if err != nil {
				return
			}
			for i := range n {
				bufs[i] = bufs[i][:offset+sizes[i]]
			}
			if _, err := o.Write(bufs[:n], offset); err != nil {
				return
			}
			for i := range bufs {
				bufs[i] = bufs[i][:cap(bufs[i])]
			}
		}
	}()
	stop := make(chan struct{})
	go func() {
		defer wg.Done()
		dst := make([]byte, 128)
		for {
			if _, ok := o.Recv(dst, 10*time.Millisecond); !ok {
				select {
				case <-stop:
					return
				default:
				}
			}
		}
	}()

	wwg.Wait()
	// Let the readers drain, then close; a closes first so that b drains.
	deadline := time.Now().Add(waitTimeout)
	for b.in.pending() > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	require.NoError(t, a.Close())
	require.NoError(t, b.Close())
	deadline = time.Now().Add(waitTimeout)
	for o.Received() < perWriter && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	require.NoError(t, o.Close())
	close(stop)
	wg.Wait()
	assert.Equal(t, uint64(perWriter), o.Received())

	sa, sb := a.Stats(), b.Stats()
	assert.Equal(t, uint64(writers*perWriter), sa.Sent)
	assert.Equal(t, received[0]+received[1], sb.Received)
	assert.Equal(t, sa.Sent+sa.Duplicated, sb.Received+sa.Lost+sa.Dropped)
}

// The engine's shape: readers block in another goroutine and wake for each
// packet. testing.AllocsPerRun counts mallocs in every goroutine.
func TestAllocsBlockedReaders(t *testing.T) {
	a, b := NewPipe(PipeConfig{})
	o := NewChannelOverlay(OverlayConfig{})
	ack := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // b → overlay, like the receive path
		defer wg.Done()
		bufs, sizes, peers := readBufs(8, 2048)
		for {
			n, err := b.ReadBatch(bufs, sizes, peers, offset)
			if err != nil {
				return
			}
			for i := range n {
				bufs[i] = bufs[i][:offset+sizes[i]]
			}
			if _, err := o.Write(bufs[:n], offset); err != nil {
				return
			}
			for i := range bufs {
				bufs[i] = bufs[i][:cap(bufs[i])]
			}
		}
	}()
	go func() { // the test side, waiting in Recv
		defer wg.Done()
		dst := make([]byte, 2048)
		for {
			if _, ok := o.Recv(dst, waitTimeout); !ok {
				return
			}
			ack <- struct{}{}
		}
	}()
	wbufs := [][]byte{packet(1, 1400)}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := a.WriteBatch(wbufs, nil, offset); err != nil {
			t.Fatal(err)
		}
		<-ack
	})
	assert.Zero(t, allocs)
	a.Close()
	b.Close()
	o.Close()
	wg.Wait()
}
