package tunnel

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/ipencap/ipencap/checksum"
	"github.com/ipencap/ipencap/iphdr"
)

// peerCell holds a roaming tunnel's current peer without locks or
// allocation on either side: a sequence lock over atomic words. Readers
// retry while a write is under way; writers are serialised by mu.
type peerCell struct {
	mu     sync.Mutex
	seq    atomic.Uint64 // odd while a write is under way
	hi, lo atomic.Uint64 // the address, as 16 bytes
	meta   atomic.Uint64 // port | is4<<16
}

func (c *peerCell) store(ap netip.AddrPort) {
	c.mu.Lock()
	a := ap.Addr().As16()
	meta := uint64(ap.Port())
	if ap.Addr().Is4() {
		meta |= 1 << 16
	}
	c.seq.Add(1)
	c.hi.Store(binary.BigEndian.Uint64(a[:8]))
	c.lo.Store(binary.BigEndian.Uint64(a[8:]))
	c.meta.Store(meta)
	c.seq.Add(1)
	c.mu.Unlock()
}

func (c *peerCell) load() netip.AddrPort {
	for {
		s := c.seq.Load()
		if s&1 != 0 {
			continue
		}
		hi, lo, meta := c.hi.Load(), c.lo.Load(), c.meta.Load()
		if c.seq.Load() != s {
			continue
		}
		var a [16]byte
		binary.BigEndian.PutUint64(a[:8], hi)
		binary.BigEndian.PutUint64(a[8:], lo)
		addr := netip.AddrFrom16(a)
		if meta&(1<<16) != 0 {
			addr = addr.Unmap()
		}
		return netip.AddrPortFrom(addr, uint16(meta))
	}
}

// remote returns where the tunnel sends: the configured remote (and port),
// or for a roaming tunnel the peer it last heard from.
func (t *Tunnel) remote() netip.AddrPort {
	if t.cfg.Roam {
		return t.roamPeer.load()
	}
	return t.peer
}

// Remote returns where the tunnel sends to: Config.Remote (with the
// GRE-in-UDP destination port), or for a roaming tunnel the source of the
// last packet that passed every check. The port is 0 but for GRE-in-UDP.
func (t *Tunnel) Remote() netip.AddrPort { return t.remote() }

// Roaming bounds. A packet from a new source moves the tunnel only when it
// is likely the peer's, not a blind attacker's who knows the key:
//   - with iseq, its sequence number is at most roamSeqDistance ahead of
//     the last one delivered from the current peer (a blind guess hits
//     with probability 2^-25, where the window alone accepts half of all
//     numbers; a stranger's own packets, which the window may deliver,
//     do not move that mark, so a first lucky guess cannot make its
//     second packet near);
//   - without iseq, roamConfirm packets in a row came from that source.
const (
	roamSeqDistance = 64
	roamConfirm     = 3
)

// roamState is a roaming tunnel's candidate: the new source seen and how
// many packets in a row came from it; with iseq, the sequence number
// last delivered from the current peer (peerSeqSet: one was).
type roamState struct {
	mu         sync.Mutex
	cand       netip.AddrPort
	count      int
	peerSeq    uint32
	peerSeqSet bool
}

// mayBePeer reports whether the tunnel may send to a, as a roaming
// tunnel's new remote or a learnt gretap member: a unicast
// address of its outer family that is not loopback, unspecified,
// broadcast or its own (a spoofed packet from the host's own address made
// the tunnel send to itself).
func (t *Tunnel) mayBePeer(a netip.Addr) bool {
	return a.IsValid() && a.Is6() == t.outer6() && !a.IsMulticast() && !a.IsUnspecified() && !a.IsLoopback() &&
		!a.Is4In6() && a != t.local && !(a.Is4() && a.As4() == limitedBroadcast)
}

// roamTo moves a roaming tunnel to from, the source of a packet that
// passed every check, if the roaming rules allow it: with iseq its
// sequence number seq must be near the last one delivered from the
// current peer; without, roamConfirm packets in a row decide.
func (t *Tunnel) roamTo(from netip.AddrPort, seq uint32) {
	if !t.cfg.Roam {
		return
	}
	rs := &t.roam
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if t.roamPeer.load() == from {
		rs.count = 0
		// The window delivered it, so it is the peer's latest or near
		// it, and after a resync the peer's new numbering.
		rs.peerSeq, rs.peerSeqSet = seq, t.cfg.ISeq
		return
	}
	near := !t.cfg.ISeq || !rs.peerSeqSet || seq-rs.peerSeq <= roamSeqDistance
	if !t.mayBePeer(from.Addr()) || !near {
		t.stats.roamRefused.Add(1)
		return
	}
	if !t.cfg.ISeq {
		if rs.cand != from {
			rs.cand, rs.count = from, 0
		}
		if rs.count++; rs.count < roamConfirm {
			return
		}
	}
	rs.cand, rs.count = netip.AddrPort{}, 0
	rs.peerSeq, rs.peerSeqSet = seq, t.cfg.ISeq
	t.roamPeer.store(from)
	t.stats.remoteChanges.Add(1)
	if t.log != nil {
		t.log.Info("remote moved", "remote", from.String())
	}
}

// fixDst rewrites the outer destination of the outer packet p, which the
// tunnel's Encapsulator addressed to Config.Remote, when it goes elsewhere:
// a roaming tunnel's peer has moved, or a broadcast gretap tunnel sends a
// frame to the member its destination MAC address was learnt behind.
// GRE-in-UDP has no outer header here: the peer goes to the underlay with
// the packet.
func (t *Tunnel) fixDst(p []byte, peer netip.AddrPort) {
	if t.ul.framing != FramingIP || peer.Addr() == t.cfg.Remote || len(p) == 0 {
		return
	}
	switch p[0] >> 4 {
	case 4:
		if len(p) >= iphdr.IPv4MinLen && peer.Addr().Is4() {
			h := iphdr.IPv4(p)
			old, now := h.Dst4(), peer.Addr().As4()
			h.SetDst(peer.Addr())
			h.SetChecksum(checksum.Update32(h.Checksum(), binary.BigEndian.Uint32(old[:]), binary.BigEndian.Uint32(now[:])))
		}
	case 6:
		if len(p) >= iphdr.IPv6Len && peer.Addr().Is6() {
			iphdr.IPv6(p).SetDst(peer.Addr())
		}
	}
}
