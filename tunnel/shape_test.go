package tunnel_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/tunnel"
)

// TestShape: a tunnel shaped to 1 Mbit/s with a 4 KB burst and a 10 KB
// limit (`tbf rate 1Mbit burst 4K limit 10K`), offered 10 Mbit/s for 3 s,
// moves 1 Mbit/s ± 10 %; the excess is dropped and counted in
// TxShapedDrops, and every packet is accounted for.
func TestShape(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 3 s of real time")
	}
	const rateBits = 1_000_000
	p := newManualPair(t, tunnel.ModeGRE, func(c1, _ *tunnel.Config) {
		c1.Shape.Rate, c1.Shape.Burst, c1.Shape.Limit = rateBits, 4096, 10240
	}, true)
	go drainWire(p)
	in := inner4(1000, 64, 0, false)
	outLen := uint64(len(in) + p.t1.Overhead())
	const period = 10 * time.Millisecond
	perTick := int(10*rateBits/8*period.Seconds()/float64(outLen)) + 1 // 10× the rate
	start := time.Now()
	end := start.Add(3 * time.Second)
	injected := uint64(0)
	for next := start; time.Now().Before(end); next = next.Add(period) {
		for range perTick {
			require.NoError(t, p.o1.Inject(in))
			injected++
		}
		time.Sleep(time.Until(next.Add(period)))
	}
	elapsed := time.Since(start)
	// Count after every packet is sent or dropped: the bytes are those the
	// token bucket let through (reserved at enqueue time), whatever the
	// scheduler did to the goroutine that writes them out.
	var s tunnel.Stats
	eventually(t, func() bool {
		s = p.t1.Stats()
		return s.TxPackets+s.TxErrors == injected
	}, "every packet sent or dropped")
	want := rateBits / 8 * elapsed.Seconds()
	t.Logf("%v: offered %d B, sent %d B (want %.0f), shaped drops %d", elapsed, injected*outLen, s.TxBytes, want, s.TxShapedDrops)
	assert.InDelta(t, want, float64(s.TxBytes), want/10)
	assert.NotZero(t, s.TxShapedDrops)
	assert.Equal(t, s.TxShapedDrops, s.TxErrors)
}

// TestShapePolicer: without a limit nothing waits, and a packet larger
// than the bucket never goes.
func TestShapePolicer(t *testing.T) {
	p := newManualPair(t, tunnel.ModeGRE, func(c1, _ *tunnel.Config) {
		c1.Shape.Rate, c1.Shape.Burst = 8000, 3000 // 1000 B/s
	}, true)
	go drainWire(p)
	for range 5 {
		require.NoError(t, p.o1.Inject(inner4(1000, 64, 0, false)))
	}
	require.NoError(t, p.o1.Inject(inner4(1400, 64, 0, false))) // > the tokens left; and:
	q := newManualPair(t, tunnel.ModeGRE, func(c1, _ *tunnel.Config) {
		c1.Shape.Rate, c1.Shape.Burst, c1.Shape.Limit = 8_000_000, 500, 100_000
	}, true)
	require.NoError(t, q.o1.Inject(inner4(1000, 64, 0, false))) // larger than the bucket
	eventually(t, func() bool {
		s := p.t1.Stats()
		return s.TxPackets+s.TxErrors == 6 && q.t1.Stats().TxErrors == 1
	}, "accounted")
	s := p.t1.Stats()
	assert.Equal(t, uint64(2), s.TxPackets, "the burst holds two")
	assert.Equal(t, uint64(4), s.TxShapedDrops)
	assert.Equal(t, uint64(1), q.t1.Stats().TxShapedDrops)
}

// TestShapeConfig: burst and limit need a rate.
func TestShapeConfig(t *testing.T) {
	for _, c := range []tunnel.Config{
		{Name: "a", Mode: tunnel.ModeGRE, Shape: tunnel.ShapeConfig{Burst: 10}},
		{Name: "b", Mode: tunnel.ModeGRE, Shape: tunnel.ShapeConfig{Limit: 10}},
		{Name: "c", Mode: tunnel.ModeGRE, Shape: tunnel.ShapeConfig{Rate: 1, Burst: -1}},
	} {
		require.ErrorIs(t, c.Validate(), tunnel.ErrConfigRange, c.Name)
	}
}

// drainWire reads what end 1 sends off the raw end 2 until it closes.
func drainWire(p *pair) {
	bufs := make([][]byte, 64)
	for i := range bufs {
		bufs[i] = make([]byte, 2000)
	}
	sizes := make([]int, 64)
	peers := make([]netip.AddrPort, 64)
	for {
		if _, err := p.p2.ReadBatch(bufs, sizes, peers, 0); err != nil {
			return
		}
	}
}
