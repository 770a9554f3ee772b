//go:build linux

package udp_test

import (
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkLoopback measures one sender's throughput to a reader over
// IPv4 loopback, in batches of 64 datagrams of one size (what a tunnel
// sends for a bulk flow), with the rate received and the share lost
// (the sender is not paced, so the receiver's socket buffer overflows).
// The wildcard sub-benchmarks bind the reader to the wildcard of both
// families, whose ReadBatch waits on its two sockets through an epoll
// instance.
func BenchmarkLoopback(b *testing.B) {
	for _, rxAddr := range []netip.Addr{lo4, netip.IPv6Unspecified()} {
		for _, size := range []int{100, 1400} {
			name := strconv.Itoa(size)
			if rxAddr.IsUnspecified() {
				name = "wildcard/" + name
			}
			b.Run(name, func(b *testing.B) { benchLoopback(b, rxAddr, size) })
		}
	}
}

func benchLoopback(b *testing.B, rxAddr netip.Addr, size int) {
	tx, rx := openFixed(b, lo4, 0), openFixed(b, rxAddr, 0)
	const batch = 64
	pkts := make([][]byte, batch)
	for i := range pkts {
		pkts[i] = greFlow(1, uint32(i), size)
	}
	peers := repeat(netip.AddrPortFrom(lo4, rx.LocalAddr().Port()), batch)
	var got atomic.Uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		bufs, sizes, ps := newBufs(rx.BatchSize())
		for {
			k, err := rx.ReadBatch(bufs, sizes, ps, rxOffset)
			if err != nil {
				return
			}
			got.Add(uint64(k))
		}
	}()
	b.ReportAllocs()
	b.SetBytes(int64(size * batch))
	start := time.Now()
	for b.Loop() {
		if _, err := tx.WriteBatch(pkts, peers, 0); err != nil {
			b.Fatal(err)
		}
	}
	el := time.Since(start)
	time.Sleep(20 * time.Millisecond)
	sent := uint64(b.N) * batch
	b.ReportMetric(float64(sent)/el.Seconds(), "tx-pkt/s")
	b.ReportMetric(float64(min(got.Load(), sent))/el.Seconds(), "rx-pkt/s")
	b.ReportMetric(float64(sent-min(got.Load(), sent))/float64(sent), "lost")
	_ = rx.Close()
	<-done
}
