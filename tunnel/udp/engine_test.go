//go:build linux

package udp_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/tunneltest"
	"github.com/ipencap/ipencap/tunnel/udp"
)

// end is one side of an engine test: an engine whose underlay is a Conn.
type end struct {
	conn *udp.Conn
	e    *tunnel.Engine
	t    *tunnel.Tunnel
	o    *tunneltest.ChannelOverlay
}

// TestEngine runs a ModeGREInUDP tunnel with key, checksum and sequence
// numbers between two engines over loopback (127.0.0.1 and 127.0.0.2, on
// two different ports), from fixed and from per-flow source ports:
// packets injected on one side come out on the other.
func TestEngine(t *testing.T) {
	for _, perFlow := range []bool{false, true} {
		t.Run(map[bool]string{false: "fixed", true: "per-flow"}[perFlow], func(t *testing.T) {
			addr1, addr2 := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")
			var c1 *udp.Conn
			if perFlow {
				c1 = open(t, udp.Config{Local: netip.AddrPortFrom(addr1, 0)})
			} else {
				c1 = openFixed(t, addr1, 0)
			}
			c2 := openFixed(t, addr2, 0)
			require.NotEqual(t, c1.LocalAddr().Port(), c2.LocalAddr().Port())
			k := gre.Key(0x0a000001)
			mk := func(c *udp.Conn, local, remote netip.Addr, port uint16) *end {
				x := &end{conn: c, e: tunnel.NewEngine(tunnel.EngineConfig{})}
				t.Cleanup(func() { _ = x.e.Close() })
				require.NoError(t, x.e.AddUnderlay(c, tunnel.UnderlayConfig{Name: "udp", Framing: tunnel.FramingUDP,
					Local: []netip.Addr{local}}))
				x.o = tunneltest.NewChannelOverlay(tunneltest.OverlayConfig{})
				var err error
				x.t, err = x.e.Add(tunnel.Config{Name: "gu", Mode: tunnel.ModeGREInUDP, Local: local, Remote: remote,
					Port: port, TTL: 64, IKey: tunnel.KeyOf(k), OKey: tunnel.KeyOf(k), ICsum: true, OCsum: true, ISeq: true, OSeq: true}, x.o)
				require.NoError(t, err)
				return x
			}
			e1 := mk(c1, addr1, addr2, c2.LocalAddr().Port())
			e2 := mk(c2, addr2, addr1, c1.LocalAddr().Port())

			ins := [][]byte{
				testpkt.BuildIPv4(0, 60, testpkt.IPv4{TTL: 64}),
				testpkt.BuildIPv6(0, 100, testpkt.IPv6{HopLimit: 64}),
				testpkt.BuildIPv4(0, 1400, testpkt.IPv4{TTL: 7}),
			}
			buf := make([]byte, 70000)
			for _, in := range ins {
				require.NoError(t, e1.o.Inject(in))
				n, ok := e2.o.Recv(buf, 2*time.Second)
				require.True(t, ok, "1 -> 2: nothing within 2 s")
				assert.Equal(t, in, buf[:n], "1 -> 2")
				require.NoError(t, e2.o.Inject(in))
				n, ok = e1.o.Recv(buf, 2*time.Second)
				require.True(t, ok, "2 -> 1: nothing within 2 s")
				assert.Equal(t, in, buf[:n], "2 -> 1")
			}

			// A burst, in batches: with the sequence numbers checked, it
			// also shows that nothing is reordered.
			const burst = 200
			pkt := testpkt.BuildIPv4(0, 1000, testpkt.IPv4{TTL: 64})
			for range burst / 50 {
				pkts := make([][]byte, 50)
				for i := range pkts {
					pkts[i] = pkt
				}
				n, err := e1.o.InjectBatch(pkts)
				require.NoError(t, err)
				require.Equal(t, len(pkts), n)
				for range 50 {
					n, ok := e2.o.Recv(buf, 2*time.Second)
					require.True(t, ok, "burst: nothing within 2 s")
					require.Equal(t, pkt, buf[:n])
				}
			}
			total := uint64(len(ins) + burst)
			// Every counter moves after its write returns (the receivers'
			// after the overlay write), which can be after the peer or the
			// test got the packets.
			require.Eventually(t, func() bool {
				return e1.t.Stats().TxPackets == total && c1.Stats().TxPackets == total &&
					e2.t.Stats().TxPackets == uint64(len(ins)) &&
					e2.t.Stats().RxPackets == total && e1.t.Stats().RxPackets == uint64(len(ins))
			}, 2*time.Second, time.Millisecond)
			s1, s2 := e1.t.Stats(), e2.t.Stats()
			assert.Equal(t, total, s1.TxPackets)
			assert.Equal(t, total, s2.RxPackets)
			assert.Equal(t, uint64(len(ins)), s2.TxPackets)
			assert.Equal(t, uint64(len(ins)), s1.RxPackets)
			assert.Zero(t, s1.RxErrors+s1.TxErrors+s2.RxErrors+s2.TxErrors)
			assert.Zero(t, s2.RxOutOfSeq)
		})
	}
}
