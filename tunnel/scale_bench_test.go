package tunnel_test

import (
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/tunneltest"
)

// scaleRoute is the inner prefix of tunnel n of a scale rig: a /32 in
// 10.0.0.0/8 (the rig is in memory; no packet leaves the process).
func scaleRoute(n int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}), 32)
}

// scaleRig is an engine with n GRE tunnels (keys 1..n, all to end2v4) on
// one shared overlay, each routing one /32, fed and read through the
// underlay's far end.
type scaleRig struct {
	e       *tunnel.Engine
	wire    *tunneltest.Pipe
	o       *tunneltest.ChannelOverlay
	perTun  float64 // heap bytes per tunnel
	addCost float64 // ns per Add
}

func newScaleRig(b *testing.B, n int) *scaleRig {
	b.Helper()
	a, w := tunneltest.NewPipe(tunneltest.PipeConfig{AddrA: netip.AddrPortFrom(end1v4, 0), AddrB: netip.AddrPortFrom(end2v4, 0)})
	r := &scaleRig{e: tunnel.NewEngine(tunnel.EngineConfig{}), wire: w, o: tunneltest.NewChannelOverlay(tunneltest.OverlayConfig{})}
	b.Cleanup(func() { _ = r.e.Close(); _ = w.Close() })
	if err := r.e.AddUnderlay(a, tunnel.UnderlayConfig{Name: "wire", Local: []netip.Addr{end1v4}}); err != nil {
		b.Fatal(err)
	}
	if err := r.e.AddOverlay(r.o, tunnel.OverlayConfig{Name: "hub0"}); err != nil {
		b.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	for i := 1; i <= n; i++ {
		_, err := r.e.Add(tunnel.Config{Name: "t" + strconv.Itoa(i), Mode: tunnel.ModeGRE, Local: end1v4, Remote: end2v4, TTL: 64,
			IKey: tunnel.KeyOf(gre.Key(i)), OKey: tunnel.KeyOf(gre.Key(i)), Overlay: "hub0", Routes: []netip.Prefix{scaleRoute(i)}}, nil)
		if err != nil {
			b.Fatal(err)
		}
	}
	r.addCost = float64(time.Since(start).Nanoseconds()) / float64(n)
	runtime.GC()
	runtime.ReadMemStats(&after)
	r.perTun = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
	return r
}

// BenchmarkEngineScale measures one packet through the engine with many
// tunnels on one shared overlay, a random tunnel per packet: receive
// (outer packets from the wire, through the demux lookup and the
// tunnel's checks, into the overlay) and send (inner packets from the
// overlay, through the route lookup and Encap, to the wire), at 64 and
// 1400 bytes, reporting heap bytes per tunnel, ns per Add and the
// goroutines beside ns/op. The million-tunnel rows take a while to set
// up: go test -run '^$' -bench EngineScale -benchtime 2000000x.
func BenchmarkEngineScale(b *testing.B) {
	for _, dir := range []string{"receive", "send"} {
		for _, size := range []int{64, 1400} {
			for _, n := range []int{1, 1000, 100000, 1000000} {
				b.Run(dir+"/"+strconv.Itoa(size)+"/tunnels="+strconv.Itoa(n), func(b *testing.B) {
					r := newScaleRig(b, n)
					// Packets for random tunnels, built once.
					rng := rand.New(rand.NewPCG(1, uint64(n)))
					pkts := make([][]byte, 4096)
					for i := range pkts {
						k := 1 + rng.IntN(n)
						dst := scaleRoute(k).Addr()
						if dir == "receive" {
							inner := testpkt.BuildIPv4(0, size, testpkt.IPv4{TTL: 64, Src: dst, Dst: testpkt.Inner4Dst})
							pkts[i] = seedGRE(b, end2v4, end1v4, gre.Config{KeyPresent: true, Key: gre.Key(k)}, inner)
						} else {
							pkts[i] = testpkt.BuildIPv4(0, size, testpkt.IPv4{TTL: 64, Dst: dst})
						}
					}
					b.SetBytes(int64(size))
					b.ReportAllocs()
					if dir == "receive" {
						pumpWireMany(b, r.wire, r.o, pkts)
					} else {
						pumpToWire(b, r.o, r.wire, pkts)
					}
					b.StopTimer()
					b.ReportMetric(r.perTun, "B/tunnel")
					b.ReportMetric(r.addCost, "ns/add")
					b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
				})
			}
		}
	}
}

// pumpWireMany is pumpWire with packets taken in turn from pkts.
func pumpWireMany(b *testing.B, wire *tunneltest.Pipe, out *tunneltest.ChannelOverlay, pkts [][]byte) {
	peers := make([]netip.AddrPort, 64)
	for i := range peers {
		peers[i] = wire.Addr()
	}
	next := 0
	batch := make([][]byte, 64)
	pumpWith(b, func(p [][]byte) error {
		for i := range p {
			batch[i] = pkts[next%len(pkts)]
			next++
		}
		_, err := wire.WriteBatch(batch[:len(p)], peers[:len(p)], 0)
		return err
	}, out, pkts[0])
}

// pumpToWire injects b.N inner packets, taken in turn from pkts, into the
// overlay in and reads the outer packets from the underlay end wire, with
// the flow control of pumpWith.
func pumpToWire(b *testing.B, in *tunneltest.ChannelOverlay, wire *tunneltest.Pipe, pkts [][]byte) {
	b.ResetTimer()
	const batch, window = 64, 512
	bufs := make([][]byte, batch)
	next := 0
	dsts, sizes, peers := make([][]byte, batch), make([]int, batch), make([]netip.AddrPort, batch)
	for i := range dsts {
		dsts[i] = make([]byte, 2048)
	}
	credits := make(chan struct{}, window/batch)
	go func() {
		for left := b.N; left > 0; left -= batch {
			credits <- struct{}{}
			k := min(batch, left)
			for i := range k {
				bufs[i] = pkts[next%len(pkts)]
				next++
			}
			if _, err := in.InjectBatch(bufs[:k]); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	for got, credited := 0, 0; got < b.N; {
		n, err := wire.ReadBatch(dsts, sizes, peers, 0)
		if err != nil || n == 0 {
			b.Fatal("packet lost", err)
		}
		got += n
		for ; credited+batch <= got || (got == b.N && credited < got); credited += batch {
			<-credits
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "pkt/s")
}
