package tunnel

import (
	"net/netip"
	"testing"

	"github.com/ipencap/ipencap/demux"
	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/outer"
)

// discard is an Underlay and an Overlay that takes every write and has
// nothing to read: the engine's own work, without I/O.
type discard struct{ done chan struct{} }

func (d *discard) Read([][]byte, []int, int) (int, error) { <-d.done; return 0, errClosedForTest }
func (d *discard) ReadBatch([][]byte, []int, []netip.AddrPort, int) (int, error) {
	<-d.done
	return 0, errClosedForTest
}
func (d *discard) Write(bufs [][]byte, _ int) (int, error) { return len(bufs), nil }
func (d *discard) WriteBatch(bufs [][]byte, _ []netip.AddrPort, _ int) (int, error) {
	return len(bufs), nil
}
func (d *discard) BatchSize() int    { return 64 }
func (d *discard) MTU() (int, error) { return 1500, nil }
func (d *discard) Close() error {
	select {
	case <-d.done:
	default:
		close(d.done)
	}
	return nil
}

var errClosedForTest = ErrClosed

// BenchmarkEngineDirect measures the engine's own work per packet, with no
// I/O at all (no goroutine handoff, no queue, no copy into or out of a
// transport): receive, a batch of 64 outer GRE packets through handle
// (outer.Parse, the protocol's decapsulation, the demux lookup, the
// tunnel's rules) and the batch write to an overlay that takes it; send, a
// batch of 64 inner packets through send (rules, Encap in place) and the
// batch write to an underlay that takes it. codecs is the same codec work
// alone (Encap, outer.Parse, the GRE parse, one demux lookup), as in
// BenchmarkEngine: the ratio is the engine's own cost.
func BenchmarkEngineDirect(b *testing.B) {
	local, remote := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.2")
	for _, size := range []int{64, 1400} {
		name := "gre-" + itoa(size)
		b.Run("receive/"+name, func(b *testing.B) {
			e, t := directRig(b, local, remote)
			enc, err := gre.NewEncapsulator(gre.Config{Outer: &outer.Config{Local: remote, Remote: local, TTL: 64}})
			if err != nil {
				b.Fatal(err)
			}
			inner := testpkt.BuildIPv4(0, size, testpkt.IPv4{TTL: 64})
			const batch = 64
			r := &receiver{e: e, ul: t.ul, bufs: make([][]byte, batch), sizes: make([]int, batch), peers: make([]netip.AddrPort, batch)}
			for i := range r.bufs {
				buf := getBuf()[:]
				off := rxOffset + enc.Overhead()
				copy(buf[off:], inner)
				start, err := enc.Encap(buf[:off+size], off)
				if err != nil || start != rxOffset {
					b.Fatal(err, start)
				}
				r.bufs[i], r.sizes[i] = buf, enc.Overhead()+size
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				r.handle(n % batch)
				if n++; n%batch == 0 {
					for i := range r.npend {
						r.pend[i].flush()
						r.pend[i].over = nil
					}
					r.npend = 0
				}
			}
			if t.stats.rxPackets.Load()+uint64(n%batch) != uint64(n) {
				b.Fatalf("%d packets, %d delivered", n, t.stats.rxPackets.Load())
			}
		})
		b.Run("send/"+name, func(b *testing.B) {
			e, t := directRig(b, local, remote)
			_ = e
			inner := testpkt.BuildIPv4(0, size, testpkt.IPv4{TTL: 64})
			s := &sender{e: t.e, over: t.over, t: t}
			const batch = 64
			s.out, s.peers = make([][]byte, 0, batch), make([]netip.AddrPort, 0, batch)
			s.lens, s.tuns = make([]int, 0, batch), make([]*Tunnel, 0, batch)
			bufs := make([][]byte, batch)
			for i := range bufs {
				bufs[i] = getBuf()[:]
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				buf := bufs[n%batch]
				copy(buf[Headroom:], inner) // Encap wrote into the headroom only; the inner header stays
				s.send(buf, size)
				if n++; n%batch == 0 {
					s.flush()
				}
			}
			s.flush()
			if t.stats.txPackets.Load() != uint64(n) {
				b.Fatalf("%d packets, %d sent", n, t.stats.txPackets.Load())
			}
		})
	}
	b.Run("codecs/gre-64", func(b *testing.B) {
		enc, err := gre.NewEncapsulator(gre.Config{Outer: &outer.Config{Local: remote, Remote: local, TTL: 64}})
		if err != nil {
			b.Fatal(err)
		}
		tab := demux.New[int]()
		if err := tab.Add(demux.Entry[int]{ID: demux.ID{Class: demux.ClassGRE, Local: local, Remote: remote}, Up: true, Value: 1}); err != nil {
			b.Fatal(err)
		}
		buf := append(make([]byte, Headroom), testpkt.BuildIPv4(0, 64, testpkt.IPv4{TTL: 64})...)
		b.SetBytes(64)
		b.ReportAllocs()
		for b.Loop() {
			start, err := enc.Encap(buf, Headroom)
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

// directRig is an engine with one plain GRE tunnel from local to remote
// over discarding I/O.
func directRig(b *testing.B, local, remote netip.Addr) (*Engine, *Tunnel) {
	e := NewEngine(EngineConfig{})
	b.Cleanup(func() { _ = e.Close() })
	if err := e.AddUnderlay(&discard{done: make(chan struct{})}, UnderlayConfig{Name: "wire", Local: []netip.Addr{local}}); err != nil {
		b.Fatal(err)
	}
	t, err := e.Add(Config{Name: "gre1", Mode: ModeGRE, Local: local, Remote: remote, TTL: 64}, &discard{done: make(chan struct{})})
	if err != nil {
		b.Fatal(err)
	}
	return e, t
}

func itoa(n int) string {
	if n == 64 {
		return "64"
	}
	return "1400"
}
