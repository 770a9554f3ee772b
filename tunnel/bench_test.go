package tunnel_test

import (
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/ipencap/ipencap/demux"
	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/outer"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/tunneltest"
)

// BenchmarkEngine measures one packet through the whole engine over the
// in-memory I/O — overlay read, checks, Encap, underlay write, the receive
// loop (outer.Parse, demux, checks), overlay write — with packets
// pipelined as a busy tunnel has them (a producer injects while the
// benchmark receives), and, as "codecs", the same codec work for the same
// packets in a plain loop (Encap, outer.Parse, gre parse, one demux lookup).
func BenchmarkEngine(b *testing.B) {
	k := gre.Key(9)
	kcs := func(c1, c2 *tunnel.Config) {
		for _, c := range []*tunnel.Config{c1, c2} {
			c.IKey, c.OKey, c.ICsum, c.OCsum, c.ISeq, c.OSeq = tunnel.KeyOf(k), tunnel.KeyOf(k), true, true, true, true
		}
	}
	for _, bb := range []struct {
		name string
		mode tunnel.Mode
		edit func(c1, c2 *tunnel.Config)
		size int
	}{
		{"gre-64", tunnel.ModeGRE, nil, 64},
		{"gre-1400", tunnel.ModeGRE, nil, 1400},
		{"gre-key-csum-seq-1400", tunnel.ModeGRE, kcs, 1400},
		{"ipip-64", tunnel.ModeIPIP, nil, 64},
		{"mobile-64", tunnel.ModeMobile, nil, 64},
	} {
		b.Run("inmem/"+bb.name, func(b *testing.B) {
			p := newPair(b, bb.mode, bb.edit, tunneltest.Impairment{}, false)
			pkt := inner4(bb.size, 64, 0, false)
			b.SetBytes(int64(bb.size))
			b.ReportAllocs()
			b.ResetTimer()
			pump(b, p.o1, p.o2, pkt)
			b.StopTimer()
			s := p.t2.Stats()
			b.ReportMetric(float64(p.t1.Stats().TxErrors+s.RxErrors+s.RxDropped), "drops")
		})
	}

	// The floor: the same in-memory I/O with a plain forwarder in place of
	// the engine (overlay read, pipe write, pipe read, overlay write, no
	// tunnel work at all), with the same goroutines and copies.
	b.Run("iofloor/64", func(b *testing.B) {
		o1 := tunneltest.NewChannelOverlay(tunneltest.OverlayConfig{})
		o2 := tunneltest.NewChannelOverlay(tunneltest.OverlayConfig{})
		p1, p2 := tunneltest.NewPipe(tunneltest.PipeConfig{AddrA: netip.AddrPortFrom(end1v4, 0), AddrB: netip.AddrPortFrom(end2v4, 0)})
		forward := func(read func(bufs [][]byte, sizes []int) (int, error), write func(bufs [][]byte) (int, error)) {
			bufs, sizes := make([][]byte, 64), make([]int, 64)
			for i := range bufs {
				bufs[i] = make([]byte, tunnel.Headroom+2048)
			}
			out := make([][]byte, 64)
			for {
				n, err := read(bufs, sizes)
				if err != nil {
					return
				}
				for i := range n {
					out[i] = bufs[i][:tunnel.Headroom+sizes[i]]
				}
				if _, err := write(out[:n]); err != nil {
					return
				}
			}
		}
		peers := make([]netip.AddrPort, 64)
		go forward(func(bufs [][]byte, sizes []int) (int, error) { return o1.Read(bufs, sizes, tunnel.Headroom) },
			func(bufs [][]byte) (int, error) { return p1.WriteBatch(bufs, peers[:len(bufs)], tunnel.Headroom) })
		go forward(func(bufs [][]byte, sizes []int) (int, error) {
			return p2.ReadBatch(bufs, sizes, peers, tunnel.Headroom)
		}, func(bufs [][]byte) (int, error) { return o2.Write(bufs, tunnel.Headroom) })
		defer func() { o1.Close(); o2.Close(); p1.Close(); p2.Close() }()
		b.SetBytes(64)
		b.ReportAllocs()
		pump(b, o1, o2, inner4(64, 64, 0, false))
	})

	b.Run("codecs/gre-64", func(b *testing.B) {
		e, err := gre.NewEncapsulator(gre.Config{Outer: &outer.Config{Local: end1v4, Remote: end2v4, TTL: 64}})
		if err != nil {
			b.Fatal(err)
		}
		tab := demux.New[int]()
		if err := tab.Add(demux.Entry[int]{ID: demux.ID{Class: demux.ClassGRE, Local: end2v4, Remote: end1v4}, Up: true, Value: 1}); err != nil {
			b.Fatal(err)
		}
		buf := append(make([]byte, tunnel.Headroom), inner4(64, 64, 0, false)...)
		b.SetBytes(64)
		b.ReportAllocs()
		for b.Loop() {
			start, err := e.Encap(buf, tunnel.Headroom)
			if err != nil {
				b.Fatal(err)
			}
			o, payload, err := outer.Parse(buf[start:])
			if err != nil {
				b.Fatal(err)
			}
			h, err := gre.Decoder{}.Parse(payload)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, ok := tab.Lookup(demux.Query{Class: demux.ClassGRE, Src: o.Src, Dst: o.Dst, Link: 1}); !ok || h.Len() != 4 {
				b.Fatal("lookup")
			}
		}
	})
}

// pump sends b.N copies of pkt into in and receives them from out,
// reporting packets per second.
func pump(b *testing.B, in, out *tunneltest.ChannelOverlay, pkt []byte) {
	pumpWith(b, func(pkts [][]byte) error { _, err := in.InjectBatch(pkts); return err }, out, pkt)
}

// pumpWith injects b.N copies of pkt with inject, in batches of 64 as a
// TUN device moves them, with at most window packets in flight (fewer
// than any queue on the way holds: the in-memory queues drop when full,
// as a NIC does), and receives them from out, reporting packets per
// second.
func pumpWith(b *testing.B, inject func(pkts [][]byte) error, out *tunneltest.ChannelOverlay, pkt []byte) {
	b.ResetTimer()
	const batch, window = 64, 512
	pkts := make([][]byte, batch)
	for i := range pkts {
		pkts[i] = pkt
	}
	dsts, sizes := make([][]byte, batch), make([]int, batch)
	for i := range dsts {
		dsts[i] = make([]byte, 2048)
	}
	credits := make(chan struct{}, window/batch)
	go func() {
		for left := b.N; left > 0; left -= batch {
			credits <- struct{}{}
			if err := inject(pkts[:min(batch, left)]); err != nil {
				return
			}
		}
	}()
	start := time.Now()
	for got, credited := 0, 0; got < b.N; {
		n := out.RecvBatch(dsts, sizes, 5*time.Second)
		if n == 0 {
			b.Fatal("packet lost")
		}
		got += n
		for ; credited+batch <= got || (got == b.N && credited < got); credited += batch {
			<-credits
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "pkt/s")
}

// BenchmarkReceive measures the engine's receive path alone, per packet:
// outer packets written to the underlay in batches of 64 (built once, as
// a peer would send them), through the receive loop (outer.Parse, the
// protocol's decapsulation, demux, the tunnel's checks) to the overlay
// write, at 64 and 1400 bytes of inner packet. "codecs" is the same codec
// work in a plain loop (outer.Parse, gre.Decoder.ParseOuter, Header.Inner,
// one demux lookup): the engine's cost is the difference. It guards the
// decode speed of the codecs as the engine uses them.
func BenchmarkReceive(b *testing.B) {
	for _, size := range []int{64, 1400} {
		name := "gre-" + strconv.Itoa(size)
		pkt := encapGRE(b, inner4(size, 64, 0, false))
		b.Run("inmem/"+name, func(b *testing.B) {
			p := newPair(b, tunnel.ModeGRE, nil, tunneltest.Impairment{}, true)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			pumpWire(b, p.p2, p.o1, pkt)
			b.StopTimer()
			s, es := p.t1.Stats(), p.e1.Stats()
			b.ReportMetric(float64(s.RxErrors+s.RxDropped+es.RxNoTunnel+es.RxFrameErrors), "drops")
		})
		b.Run("codecs/"+name, func(b *testing.B) {
			tab := demux.New[int]()
			if err := tab.Add(demux.Entry[int]{ID: demux.ID{Class: demux.ClassGRE, Local: end1v4, Remote: end2v4}, Up: true, Value: 1}); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				o, _, err := outer.Parse(pkt)
				if err != nil {
					b.Fatal(err)
				}
				h, err := gre.Decoder{NoVerifyChecksum: true}.ParseOuter(pkt, &o)
				if err != nil {
					b.Fatal(err)
				}
				inner, err := h.Inner()
				if err != nil || len(inner) != size {
					b.Fatal("inner", err)
				}
				if _, _, ok := tab.Lookup(demux.Query{Class: demux.ClassGRE, Src: o.Src, Dst: o.Dst, Link: 1}); !ok {
					b.Fatal("lookup")
				}
			}
		})
	}
}

// encapGRE returns inner in plain GRE from end2v4 to end1v4 (what end 1 of
// a pair receives).
func encapGRE(tb testing.TB, inner []byte) []byte {
	tb.Helper()
	e, err := gre.NewEncapsulator(gre.Config{Outer: &outer.Config{Local: end2v4, Remote: end1v4, TTL: 64}})
	if err != nil {
		tb.Fatal(err)
	}
	buf := append(make([]byte, e.Overhead()), inner...)
	start, err := e.Encap(buf, e.Overhead())
	if err != nil {
		tb.Fatal(err)
	}
	return buf[start:]
}

// pumpWire writes b.N copies of the outer packet pkt to the underlay end
// wire and receives the inner packets from out (see pumpWith).
func pumpWire(b *testing.B, wire *tunneltest.Pipe, out *tunneltest.ChannelOverlay, pkt []byte) {
	peers := make([]netip.AddrPort, 64)
	for i := range peers {
		peers[i] = wire.Addr()
	}
	pumpWith(b, func(pkts [][]byte) error { _, err := wire.WriteBatch(pkts, peers[:len(pkts)], 0); return err }, out, pkt)
}
