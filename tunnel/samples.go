package tunnel

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/outer"
)

// NoTunnelSample is a received packet that no tunnel took (counted in
// EngineStats.RxNoTunnel), kept for diagnosis: a peer configured with the
// wrong key or address shows here.
type NoTunnelSample struct {
	// Time is when it was read.
	Time time.Time
	// Underlay is the name of the underlay it came from.
	Underlay string
	// Src and Dst are its outer source and destination.
	Src, Dst netip.Addr
	// Protocol is its outer IP protocol (GRE for GRE-in-UDP too).
	Protocol outer.IPProto
	// Key is its GRE key, if HasKey.
	Key    gre.Key
	HasKey bool
}

// Sampling of packets that reach no tunnel: at most noTunnelRate a second
// are kept (a flood costs a rate check per packet), the last
// noTunnelSamples of them.
const (
	noTunnelRate    = 10
	noTunnelSamples = 16
)

// noTunnelLog is the engine's ring of samples.
type noTunnelLog struct {
	lim  *rate.Limiter
	mu   sync.Mutex
	ring [noTunnelSamples]NoTunnelSample
	n    int // samples ever kept
}

func newNoTunnelLog() *noTunnelLog {
	return &noTunnelLog{lim: rate.NewLimiter(noTunnelRate, noTunnelRate)}
}

// add keeps s if the rate allows it.
func (l *noTunnelLog) add(s *NoTunnelSample) {
	if !l.lim.AllowN(s.Time, 1) {
		return
	}
	l.mu.Lock()
	l.ring[l.n%noTunnelSamples] = *s
	l.n++
	l.mu.Unlock()
}

// NoTunnelSamples returns the last packets no tunnel took (at most 16,
// oldest first), sampled at most 10 a second: their outer addresses,
// protocol and key.
func (e *Engine) NoTunnelSamples() []NoTunnelSample {
	l := e.noTunnel
	l.mu.Lock()
	defer l.mu.Unlock()
	k := min(l.n, noTunnelSamples)
	out := make([]NoTunnelSample, 0, k)
	for i := l.n - k; i < l.n; i++ {
		out = append(out, l.ring[i%noTunnelSamples])
	}
	return out
}
