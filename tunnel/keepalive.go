package tunnel

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/iphdr"
	"github.com/ipencap/ipencap/outer"
)

// keepalive is the keepalive state of a tunnel with Config.Keepalive.
type keepalive struct {
	mu      sync.Mutex // serialises ticks, replies and EngineConfig.OnLineChange
	period  time.Duration
	retries int
	misses  int        // periods since the last reply, at most retries
	fields  gre.Fields // the inner GRE header the reply carries
	pkt     [Headroom + iphdr.IPv4MinLen + 16]byte
	bufs    [1][]byte
	peers   [1]netip.AddrPort
}

func newKeepalive(c *Config) *keepalive {
	ka := &keepalive{period: c.Keepalive.Period, retries: c.Keepalive.Retries}
	if ka.retries == 0 {
		ka.retries = DefaultKeepaliveRetries
	}
	// The reply must pass this tunnel's receive checks: it carries the
	// ikey (so that the demux finds the tunnel) and a checksum when icsum
	// asks for one. It carries no sequence number: replies are recognised
	// before the sequence check.
	ka.fields.Protocol = gre.ProtoKeepalive
	ka.fields.KeyPresent, ka.fields.Key = c.IKey.Set, c.IKey.Value
	ka.fields.ChecksumPresent = c.ICsum
	return ka
}

// LineUp reports the tunnel's line protocol: false once Config.Keepalive.Period
// requests have gone Keepalive.Retries periods without a reply, true again
// when a reply arrives. A tunnel without keepalives is always up. The
// engine is not a router: a tunnel whose line is down still sends what its
// overlay gives it (and keeps sending keepalives); the application routes
// around it, as a Cisco router removes the routes through a down tunnel.
func (t *Tunnel) LineUp() bool { return !t.lineDown.Load() }

// tick runs one keepalive period of the tunnel, which the keepalive timer
// calls every Keepalive.Period: if
// Keepalive.Retries periods have passed without a reply the line goes down;
// then a keepalive request is sent. It does nothing on a tunnel without
// keepalives. tick is safe for concurrent use (the package's tests call it
// by hand).
func (t *Tunnel) tick() {
	ka := t.ka
	if ka == nil {
		return
	}
	ka.mu.Lock()
	defer ka.mu.Unlock()
	if ka.misses >= ka.retries {
		t.setLine(false)
	} else {
		ka.misses++
	}
	t.sendKeepalive(ka)
}

// sendKeepalive builds the request (the reply inside) and writes it to the
// underlay through the tunnel's own encapsulation; ka.mu is held.
func (t *Tunnel) sendKeepalive(ka *keepalive) {
	peer := t.remote()
	in, err := gre.AppendKeepalive(ka.pkt[Headroom:Headroom], t.local, peer.Addr(), &ka.fields)
	if err != nil {
		t.stats.txInvalid.Add(1)
		return
	}
	b := ka.pkt[:Headroom+len(in)]
	start, err := t.enc.Encap(b, Headroom)
	if err != nil {
		t.stats.txInvalid.Add(1)
		return
	}
	t.fixDst(b[start:], peer)
	ka.bufs[0], ka.peers[0] = b[start:], peer
	n, _ := t.ul.u.WriteBatch(ka.bufs[:], ka.peers[:], 0)
	ka.bufs[0] = nil
	if n == 1 {
		t.stats.kaSent.Add(1)
	} else {
		t.stats.txNoBufs.Add(1)
	}
}

// keepaliveReply takes a reply: the miss count restarts and the line comes
// up.
func (t *Tunnel) keepaliveReply() {
	t.stats.kaReplies.Add(1)
	ka := t.ka
	ka.mu.Lock()
	ka.misses = 0
	t.setLine(true)
	ka.mu.Unlock()
}

// setLine changes the line state, counts and reports it; t.ka.mu is held.
func (t *Tunnel) setLine(up bool) {
	if t.lineDown.Load() == !up {
		return
	}
	t.lineDown.Store(!up)
	t.stats.lineChanges.Add(1)
	if t.log != nil {
		// Down is a warning, up news; both with what the operator asks
		// next: where to, and how many keepalives went and came back.
		level, state := slog.LevelWarn, "down"
		if up {
			level, state = slog.LevelInfo, "up"
		}
		s := t.stats.snapshot()
		t.log.LogAttrs(context.Background(), level, "line protocol "+state,
			slog.String("remote", t.remote().Addr().String()),
			slog.Uint64("keepalives_sent", s.KeepalivesSent),
			slog.Uint64("keepalive_replies", s.KeepaliveReplies),
			slog.Uint64("line_changes", s.LineChanges))
	}
	if f := t.e.cfg.OnLineChange; f != nil {
		f(t, up)
	}
}

// keepaliveLoop calls tick every period until the tunnel stops.
func (t *Tunnel) keepaliveLoop() {
	tk := time.NewTicker(t.ka.period)
	defer tk.Stop()
	for {
		select {
		case <-t.done:
			return
		case <-tk.C:
			t.tick()
		}
	}
}

// reflector is the state of a tunnel with Config.Reflect.Enable. Its rate
// limits are per source: the tunnel's remote has a bucket of its own, and
// with Reflect.AnySource each other source has one too (up to
// reflectSources of them), so that no source can spend another's: 50
// strangers sharing one bucket left the real peer's requests unanswered.
type reflector struct {
	mu      sync.Mutex // one write at a time: several underlays may deliver
	peer    *rate.Limiter
	srcMu   sync.Mutex
	sources map[netip.Addr]*rate.Limiter // AnySource: one bucket per source
	swept   time.Time                    // the last sweep of a full table, at most one a second
	bufs    [1][]byte
	peers   [1]netip.AddrPort
}

// reflectSources bounds the sources a reflector keeps a bucket for; when
// the table is full, sources whose bucket has refilled (idle for a second)
// make room, and a new source finds none while every one of them is busy.
// A full table is swept at most once a second, so that a flood of new
// sources does not cost a scan of the table per packet.
const reflectSources = 1024

func newReflector(anySource bool) *reflector {
	rf := &reflector{peer: rate.NewLimiter(ReflectRate, ReflectBurst)}
	if anySource {
		rf.sources = map[netip.Addr]*rate.Limiter{}
	}
	return rf
}

// allow takes a token for a request from osrc: from the tunnel's remote,
// out of its own bucket; from another source (AnySource), out of that
// source's. Only requests that passed every check of the tunnel get here,
// so a new source's bucket (an allocation) is not made per packet of a
// flood from outside.
func (rf *reflector) allow(osrc netip.Addr, remote bool, now time.Time) bool {
	if remote {
		return rf.peer.AllowN(now, 1)
	}
	if rf.sources == nil {
		return false
	}
	rf.srcMu.Lock()
	defer rf.srcMu.Unlock()
	lim := rf.sources[osrc]
	if lim == nil {
		if len(rf.sources) >= reflectSources {
			if now.Sub(rf.swept) < time.Second {
				return false
			}
			rf.swept = now
			for a, l := range rf.sources {
				if l.TokensAt(now) >= ReflectBurst {
					delete(rf.sources, a)
				}
			}
			if len(rf.sources) >= reflectSources {
				return false
			}
		}
		lim = rate.NewLimiter(ReflectRate, ReflectBurst)
		rf.sources[osrc] = lim
	}
	return lim.AllowN(now, 1)
}

// keepaliveShaped reports whether the inner packet p looks like a keepalive
// request: IPv4, protocol 47, a GRE header of protocol 0 behind the IP
// header. Whether it may be reflected is decided by reflect.
func keepaliveShaped(p []byte) bool {
	if len(p) < iphdr.IPv4MinLen || p[0]>>4 != 4 || outer.IPProto(iphdr.IPv4(p).Protocol()) != outer.ProtoGRE {
		return false
	}
	hl := iphdr.IPv4(p).HeaderLen()
	return len(p) >= hl+4 && p[hl+2] == 0 && p[hl+3] == 0
}

// matcher accepts the vendor variants of a request; addresses are checked
// (the outer ones swapped) and Reflectable always applies.
var matcher = gre.KeepaliveMatcher{AllowKey: true, AllowChecksum: true, AllowSeq: true, AllowPadding: true}

// tryReflect reflects the inner packet p, which came from osrc to odst and
// passed every check of the tunnel, if it is a keepalive request and the
// tunnel has Reflect. It reports whether it took the packet (reflected or
// refused, and counted); p is no longer needed when it returns.
func (t *Tunnel) tryReflect(p []byte, osrc, odst netip.Addr, now time.Time) bool {
	rf := t.refl
	if rf == nil || !keepaliveShaped(p) {
		return false
	}
	// A request with IP options is refused: reflected as it is, its
	// options (a source route, a record route) would act on our behalf.
	fromPeer := osrc == t.remote().Addr() && odst == t.local
	reply, to, err := matcher.Match(p, osrc, odst)
	if err != nil || iphdr.IPv4(p).HeaderLen() != iphdr.IPv4MinLen || (!t.cfg.Reflect.AnySource && !fromPeer) || !rf.allow(osrc, fromPeer, now) {
		t.stats.reflRefused.Add(1)
		return true
	}
	rf.mu.Lock()
	rf.bufs[0], rf.peers[0] = reply, netip.AddrPortFrom(to, 0)
	n, _ := t.ul.u.WriteBatch(rf.bufs[:], rf.peers[:], 0)
	rf.bufs[0] = nil
	rf.mu.Unlock()
	if n == 1 {
		t.stats.reflected.Add(1)
	} else {
		t.stats.rxDropped.Add(1)
	}
	return true
}
