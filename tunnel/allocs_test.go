package tunnel_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/tunneltest"
)

// TestAllocs: a packet through the whole path (overlay read, checks, Encap,
// underlay write, underlay read, outer.Parse, demux, the tunnel's checks,
// overlay write) allocates nothing in any goroutine: testing.AllocsPerRun
// counts every malloc of the process. The reorder buffer and the ICMP path
// are included.
func TestAllocs(t *testing.T) {
	k := gre.Key(9)
	all := func(c1, c2 *tunnel.Config) {
		for _, c := range []*tunnel.Config{c1, c2} {
			c.IKey, c.OKey, c.ICsum, c.OCsum, c.ISeq, c.OSeq, c.Seq.Reorder = tunnel.KeyOf(k), tunnel.KeyOf(k), true, true, true, true, 16
		}
	}
	tests := []struct {
		name string
		mode tunnel.Mode
		edit func(c1, c2 *tunnel.Config)
		pkt  []byte
		back bool // the answer comes back on overlay 1 (ICMP)
	}{
		{"gre", tunnel.ModeGRE, nil, inner4(64, 64, 0, false), false},
		{"gre-key-csum-seq-reorder", tunnel.ModeGRE, all, inner4(1400, 64, 0, false), false},
		{"ip6gre-ipv6", tunnel.ModeIP6GRE, nil, inner6(1400, 64, 0), false},
		{"ipip", tunnel.ModeIPIP, nil, inner4(64, 64, 0, false), false},
		{"mobile", tunnel.ModeMobile, nil, inner4(64, 64, 0, false), false},
		{"gre-in-udp", tunnel.ModeGREInUDP, nil, inner4(64, 64, 0, false), false},
		{"icmp-frag-needed", tunnel.ModeGRE, nil, inner4(1477, 64, 0, true), true},
		{"icmpv6-too-big", tunnel.ModeIP6GRE, nil, inner6(1457, 64, 0), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPair(t, tt.mode, tt.edit, tunneltest.Impairment{}, false)
			dst := make([]byte, 70000)
			from := p.o2
			if tt.back {
				from = p.o1
			}
			run := func() {
				if err := p.o1.Inject(tt.pkt); err != nil {
					t.Fatal(err)
				}
				if _, ok := from.Recv(dst, 2*time.Second); !ok {
					t.Fatal("lost")
				}
			}
			for range 100 { // warm up the pools and batch slices
				run()
			}
			require.Zero(t, testing.AllocsPerRun(500, run))
		})
	}
}

// TestNoLeak: Close returns only when every goroutine of the engine has
// returned.
func TestNoLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	p := newPair(t, tunnel.ModeGRE, func(c1, c2 *tunnel.Config) { c1.ISeq, c1.Seq.Reorder = true, 4 }, tunneltest.Impairment{}, false)
	require.NoError(t, p.o1.Inject(inner4(64, 64, 0, false)))
	recv(t, p.o2)
	require.NoError(t, p.e1.Close())
	require.NoError(t, p.e2.Close())
	eventually(t, func() bool { return runtime.NumGoroutine() <= before }, "goroutines back to where they were")
}
