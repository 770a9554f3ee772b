package gre_test

import (
	"net/netip"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/outer"
)

// encapRecv is the receive path of a GRE tunnel: outer.Parse once, then
// the GRE header with checksum verification.
func encapRecv(t *testing.T, pkt []byte) (outer.Outer, gre.Header) {
	t.Helper()
	o, payload, err := outer.Parse(pkt)
	require.NoError(t, err)
	require.Equal(t, outer.ProtoGRE, o.Protocol)
	h, err := gre.Decoder{OverIPv6: o.Src.Is6()}.Parse(payload)
	require.NoError(t, err)
	return o, h
}

func TestEncapsulator(t *testing.T) {
	out4 := &outer.Config{Local: testpkt.Outer4Src, Remote: testpkt.Outer4Dst, TTL: 64}
	out6 := &outer.Config{Local: testpkt.Outer6Src, Remote: testpkt.Outer6Dst}
	tests := []struct {
		name     string
		cfg      gre.Config
		overhead int
	}{
		{"gre", gre.Config{Outer: out4}, 24},
		{"gre key", gre.Config{Outer: out4, KeyPresent: true, Key: 0x01020304}, 28},
		{"gre key csum seq", gre.Config{Outer: out4, KeyPresent: true, Key: 5, Checksum: true, Seq: true}, 36},
		{"ip6gre csum", gre.Config{Outer: out6, Checksum: true}, 48},
		{"no outer (gre-in-udp) seq", gre.Config{Seq: true}, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := gre.NewEncapsulator(tt.cfg)
			require.NoError(t, err)
			assert.Equal(t, tt.overhead, e.Overhead())
			for i, inner := range [][]byte{
				testpkt.BuildIPv4(e.Overhead(), 100, testpkt.IPv4{TTL: 9, TOS: 0x02}),
				testpkt.BuildIPv6(e.Overhead(), 100, testpkt.IPv6{HopLimit: 9}),
				testpkt.BuildIPv4(e.Overhead()+3, 1400, testpkt.IPv4{TTL: 9}),
			} {
				off := len(inner) - 100
				if i == 2 {
					off = len(inner) - 1400
				}
				want := append([]byte(nil), inner[off:]...)
				start, err := e.Encap(inner, off)
				require.NoError(t, err)
				assert.Equal(t, off-e.Overhead(), start)
				pkt := inner[start:]
				var payload []byte
				if tt.cfg.Outer != nil {
					o, h := encapRecv(t, pkt)
					assert.Equal(t, tt.cfg.Outer.Local, o.Src)
					assert.Equal(t, tt.cfg.Outer.Remote, o.Dst)
					if tt.cfg.Outer.TTL == 0 {
						assert.Equal(t, uint8(9), o.TTL, "ttl inherit")
					}
					payload = h.Payload()
					checkGRE(t, tt.cfg, h, want, uint32(i))
				} else {
					h, err := gre.Parse(pkt)
					require.NoError(t, err)
					payload = h.Payload()
					checkGRE(t, tt.cfg, h, want, uint32(i))
				}
				assert.Equal(t, want, payload)
			}
		})
	}
}

func checkGRE(t *testing.T, cfg gre.Config, h gre.Header, inner []byte, seq uint32) {
	t.Helper()
	wantProto := gre.ProtoIPv4
	if inner[0]>>4 == 6 {
		wantProto = gre.ProtoIPv6
	}
	assert.Equal(t, wantProto, h.Protocol())
	k, ok := h.Key()
	assert.Equal(t, cfg.KeyPresent, ok)
	assert.Equal(t, cfg.Key, k)
	s, ok := h.Seq()
	assert.Equal(t, cfg.Seq, ok)
	if ok {
		assert.Equal(t, seq, s, "sequence numbers count from 0")
	}
	assert.Equal(t, cfg.Checksum, h.ChecksumPresent())
	if cfg.Checksum {
		assert.True(t, h.ChecksumValid())
	}
}

// TestEncapsulatorGretap: a fixed protocol carries a non-IP payload (an
// Ethernet frame); the outer TTL falls back to outer.DefaultTTL.
func TestEncapsulatorGretap(t *testing.T) {
	e, err := gre.NewEncapsulator(gre.Config{Protocol: gre.ProtoTEB,
		Outer: &outer.Config{Local: testpkt.Outer4Src, Remote: testpkt.Outer4Dst}})
	require.NoError(t, err)
	frame := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xb5, 'h', 'i'}
	b := append(make([]byte, e.Overhead()), frame...)
	start, err := e.Encap(b, e.Overhead())
	require.NoError(t, err)
	o, h := encapRecv(t, b[start:])
	assert.Equal(t, gre.ProtoTEB, h.Protocol())
	assert.Equal(t, frame, h.Payload())
	assert.Equal(t, uint8(outer.DefaultTTL), o.TTL)
}

func TestEncapsulatorErrors(t *testing.T) {
	e, err := gre.NewEncapsulator(gre.Config{Outer: &outer.Config{Local: testpkt.Outer4Src, Remote: testpkt.Outer4Dst}})
	require.NoError(t, err)
	fixed4, err := gre.NewEncapsulator(gre.Config{Protocol: gre.ProtoIPv4})
	require.NoError(t, err)
	_, err = gre.NewEncapsulator(gre.Config{Outer: &outer.Config{Local: netip.IPv4Unspecified(), Remote: testpkt.Outer4Dst}})
	var ce *outer.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "local", ce.Field)

	v4 := testpkt.BuildIPv4(24, 60, testpkt.IPv4{TTL: 64})
	_, err = e.Encap(v4, 23)
	require.ErrorIs(t, err, gre.ErrShortBuffer)
	_, err = e.Encap(v4, len(v4)+1)
	require.ErrorIs(t, err, gre.ErrShortBuffer)
	_, err = e.Encap(testpkt.BuildIPv4(24, 60, testpkt.IPv4{TTL: 0}), 24)
	require.ErrorIs(t, err, outer.ErrInnerTTL)
	_, err = e.Encap(append(make([]byte, 24), 0x55, 0, 0, 0), 24)
	require.ErrorIs(t, err, outer.ErrInnerVersion, "not IP and no fixed protocol")
	v6 := testpkt.BuildIPv6(4, 60, testpkt.IPv6{HopLimit: 64})
	orig := append([]byte(nil), v6...)
	_, err = fixed4.Encap(v6, 4)
	require.ErrorIs(t, err, outer.ErrInnerVersion, "IPv6 under a fixed 0x0800")
	assert.Equal(t, orig, v6)
}

// TestEncapsulatorConcurrentSeq: concurrent senders never share a sequence
// number (run with -race).
func TestEncapsulatorConcurrentSeq(t *testing.T) {
	e, err := gre.NewEncapsulator(gre.Config{Seq: true})
	require.NoError(t, err)
	const workers, each = 4, 500
	got := make([][]uint32, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				b := testpkt.BuildIPv4(8, 40, testpkt.IPv4{TTL: 1})
				start, err := e.Encap(b, 8)
				if err != nil {
					t.Error(err)
					return
				}
				h, err := gre.Parse(b[start:])
				if err != nil {
					t.Error(err)
					return
				}
				s, _ := h.Seq()
				got[w] = append(got[w], s)
			}
		}()
	}
	wg.Wait()
	seen := map[uint32]bool{}
	for _, g := range got {
		for _, s := range g {
			assert.False(t, seen[s], "seq %d twice", s)
			seen[s] = true
		}
	}
	assert.Len(t, seen, workers*each)
}

func TestEncapsulatorAllocs(t *testing.T) {
	e, err := gre.NewEncapsulator(gre.Config{KeyPresent: true, Checksum: true, Seq: true,
		Outer: &outer.Config{Local: testpkt.Outer6Src, Remote: testpkt.Outer6Dst}})
	require.NoError(t, err)
	b := testpkt.BuildIPv4(e.Overhead(), 1400, testpkt.IPv4{TTL: 64})
	require.Zero(t, testing.AllocsPerRun(1000, func() { _, _ = e.Encap(b, e.Overhead()) }))
	require.Zero(t, testing.AllocsPerRun(1000, func() { _, _ = e.Encap(b, 3) }))
}
