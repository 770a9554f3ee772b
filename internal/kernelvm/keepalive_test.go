//go:build linux

package kernelvm_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestKernelKeepalive sends gretun's GRE keepalives (every 100 ms) to a
// Linux GRE tunnel. A keepalive is an outer packet carrying an inner
// packet from the peer back to us: Linux decapsulates it and must route
// it back out of the tunnel. That takes forwarding, and also accept_local
// on the GRE device, where the inner packet comes in: its source is one of
// the VM's own addresses, which Linux otherwise drops as martian.
// accept_local on the underlay (eth0) does not do (the issue said it
// would), nor forwarding alone (README said so before).
func TestKernelKeepalive(t *testing.T) {
	e := theVM(t)
	for _, tt := range []struct {
		name        string
		forward     string // net.ipv4.ip_forward
		acceptLocal string // the device with net.ipv4.conf.DEV.accept_local=1
		replies     bool
	}{
		{"no-forwarding", "0", "", false},
		{"forwarding", "1", "", false},
		{"accept_local-tnl", "0", "tnl", false},
		{"forwarding+accept_local-eth0", "1", "eth0", false},
		{"forwarding+accept_local-tnl", "1", "tnl", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Cleanup(func() { e.vm.Run(5*time.Second, "sysctl -qw net.ipv4.ip_forward=0 net.ipv4.conf.eth0.accept_local=0") })
			p := e.newPair(t, kmodes[0], []string{"-keepalive", "100ms", "-keepalive-retries", "3"}, "")
			set := "sysctl -qw net.ipv4.ip_forward=" + tt.forward
			if tt.acceptLocal != "" {
				set += " net.ipv4.conf." + tt.acceptLocal + ".accept_local=1"
			}
			e.vmRun(t, 5*time.Second, set)
			k0 := e.kernelStats(t, "tnl")
			time.Sleep(1500 * time.Millisecond)
			s := p.g.stats(t)
			k1 := e.kernelStats(t, "tnl")
			sent, replies := s.num(t, "keepalives_sent"), s.num(t, "keepalive_replies")
			t.Logf("gretun: %v; Linux tnl RX %d TX %d packets", s.ext, k1["rx_packets"]-k0["rx_packets"], k1["tx_packets"]-k0["tx_packets"])
			require.GreaterOrEqual(t, sent, uint64(8), "keepalives sent in 1.5 s")
			if tt.replies {
				assert.GreaterOrEqual(t, replies+2, sent, "replies (two may be in flight)")
				assert.Equal(t, "up", s.ext["line_protocol"])
				assert.GreaterOrEqual(t, k1["rx_packets"]-k0["rx_packets"], uint64(8), "Linux decapsulated the keepalives")
			} else {
				assert.Zero(t, replies, "keepalive replies")
				assert.Equal(t, "down", s.ext["line_protocol"])
			}
			p.g.stop(t)
		})
	}
}
