package tunnel_test

import (
	"net/netip"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/tunnel"
)

// TestAllocsFeatures: the per-packet paths allocate nothing with
// keepalives, reflection, shaping (packets sent at once and packets that
// wait for tokens) and roaming on.
func TestAllocsFeatures(t *testing.T) {
	k := gre.Key(9)
	data := func(name string, mode tunnel.Mode, edit func(c1, c2 *tunnel.Config)) {
		t.Run(name, func(t *testing.T) {
			p := newManualPair(t, mode, edit, false)
			in := inner4(64, 64, 0, false)
			dst := make([]byte, 70000)
			run := func() {
				if err := p.o1.Inject(in); err != nil {
					t.Fatal(err)
				}
				if _, ok := p.o2.Recv(dst, 2*time.Second); !ok {
					t.Fatal("lost")
				}
			}
			for range 100 {
				run()
			}
			require.Zero(t, testing.AllocsPerRun(500, run))
		})
	}
	data("keepalive-on", tunnel.ModeGRE, func(c1, c2 *tunnel.Config) {
		c1.Keepalive.Period, c2.Keepalive.Period, c1.Reflect.Enable, c2.Reflect.Enable = time.Second, time.Second, true, true
	})
	data("shaped-unlimited", tunnel.ModeGRE, func(c1, _ *tunnel.Config) {
		c1.Shape.Rate, c1.Shape.Burst, c1.Shape.Limit = 10_000_000_000, 1<<20, 1<<20
	})
	// 1 MB/s and a bucket of two packets: most packets wait for tokens in
	// the shaper's queue.
	data("shaped-waiting", tunnel.ModeGRE, func(c1, _ *tunnel.Config) {
		c1.Shape.Rate, c1.Shape.Burst, c1.Shape.Limit = 8_000_000, 200, 100_000
	})
	data("roam-udp", tunnel.ModeGREInUDP, func(c1, c2 *tunnel.Config) {
		c1.Roam, c2.Roam = true, true
	})
	data("roam-gre-key-seq", tunnel.ModeGRE, func(c1, c2 *tunnel.Config) {
		for _, c := range []*tunnel.Config{c1, c2} {
			c.Roam, c.IKey, c.OKey, c.ISeq, c.OSeq = true, tunnel.KeyOf(k), tunnel.KeyOf(k), true, true
		}
	})

	// A keepalive round trip: Tick, the far end reflects (in order, and
	// with reordering on), the reply is taken. The reflector's rate limit
	// is kept out of the way by a fake clock far apart for each packet.
	for _, reorder := range []int{0, 4} {
		t.Run("keepalive-reflect-reply/reorder="+strconv.Itoa(reorder), func(t *testing.T) {
			p := newManualPair(t, tunnel.ModeGRE, func(c1, c2 *tunnel.Config) {
				for _, c := range []*tunnel.Config{c1, c2} {
					c.IKey, c.OKey, c.ICsum, c.OCsum, c.ISeq, c.OSeq = tunnel.KeyOf(k), tunnel.KeyOf(k), true, true, true, true
				}
				c1.Keepalive.Period, c2.Reflect.Enable, c2.Seq.Reorder = time.Second, true, reorder
			}, false)
			n := uint64(0)
			run := func() {
				tunnel.Tick(p.t1)
				n++
				for p.t1.Stats().KeepaliveReplies < n {
					runtime.Gosched()
				}
			}
			for range 10 { // warm up within the reflector's burst
				run()
			}
			time.Sleep(time.Second) // refill the bucket: 10 more
			require.Zero(t, testing.AllocsPerRun(8, run))
		})
	}

	// Refused reflections (and the rate limiter's refusals) allocate
	// nothing either.
	t.Run("reflect-refused", func(t *testing.T) {
		p := newReflectRig(t, nil)
		req, _ := request(t, end2v4, end1v4, netip.MustParseAddr("224.0.0.5"))
		bufs, peers := [][]byte{req}, []netip.AddrPort{p.p2.Addr()}
		n := uint64(0)
		run := func() {
			if _, err := p.p2.WriteBatch(bufs, peers, 0); err != nil {
				t.Fatal(err)
			}
			n++
			for p.t1.Stats().ReflectRefused < n {
				runtime.Gosched()
			}
		}
		for range 100 {
			run()
		}
		require.Zero(t, testing.AllocsPerRun(500, run))
	})
}
