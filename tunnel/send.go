package tunnel

import (
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/netip"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/iphdr"
	"github.com/ipencap/ipencap/outer"
)

// sender is the state of one send goroutine: the reader of a tunnel's own
// overlay, or of a shared overlay whose packets it routes to tunnels.
type sender struct {
	e     *Engine
	over  Overlay                // the overlay read; ICMP errors go back to it
	route func(p []byte) *Tunnel // shared overlay: the tunnel of inner packet p (nil: none)
	log   *slog.Logger
	done  <-chan struct{}
	t     *Tunnel   // the tunnel of the packet being sent
	ul    *underlay // the underlay of the batch in out
	bufs  [][]byte  // overlay reads, whole buffers
	sizes []int
	out   [][]byte // outer packets to write
	peers []netip.AddrPort
	lens  []int          // the inner length of each, what TxBytes counts
	tuns  []*Tunnel      // the tunnel of each
	owned []*buffer      // buffers of fragments, returned after the write
	icmp  [][]byte       // ICMP errors to write back to the overlay
	icmpT []*Tunnel      // the tunnel of each
	peer  netip.AddrPort // where the packet being sent goes
	enc   encapsulator   // what encapsulates it: t.enc, or its neighbour's
	now   int64          // the batch's time for the FDB (Unix ns), 0 until needed
}

// sendLoop reads the tunnel's own overlay until the tunnel stops.
func (t *Tunnel) sendLoop() {
	(&sender{e: t.e, over: t.over, t: t, log: t.log, done: t.done}).run()
}

// run reads batches from s.over, takes each packet through its tunnel's
// send rules and writes the outer packets, until the overlay is closed or
// s.done.
func (s *sender) run() {
	n := max(s.over.BatchSize(), 1)
	s.bufs, s.sizes = make([][]byte, n), make([]int, n)
	s.out, s.peers = make([][]byte, 0, n+maxFragments), make([]netip.AddrPort, 0, n+maxFragments)
	s.lens, s.tuns = make([]int, 0, n+maxFragments), make([]*Tunnel, 0, n+maxFragments)
	s.owned, s.icmp, s.icmpT = make([]*buffer, 0, maxFragments), make([][]byte, 0, n), make([]*Tunnel, 0, n)
	for i := range s.bufs {
		s.bufs[i] = getBuf()[:]
	}
	defer func() {
		for _, b := range s.bufs {
			putBuf(bufferOf(b))
		}
	}()
	var fails failures
	for {
		k, err := s.over.Read(s.bufs, s.sizes, Headroom)
		s.now = 0
		for i := range k {
			b, size := s.bufs[i], min(s.sizes[i], len(s.bufs[i])-Headroom)
			if s.route != nil {
				if s.t = s.route(b[Headroom : Headroom+size]); s.t == nil {
					s.e.stats.txNoTunnel.Add(1)
					continue
				}
			}
			s.send(b, size)
		}
		s.flush()
		if err == nil {
			fails.ok()
			continue
		}
		select {
		case <-s.done:
			return
		default:
		}
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if !fails.wait(s.log, "overlay read failed", err, s.done) {
			return
		}
	}
}

// flush writes the batch of outer packets to the underlay and the ICMP
// errors to the overlay, counts them, and returns the fragments' buffers.
func (s *sender) flush() {
	s.flushOut()
	for i, b := range s.owned {
		putBuf(b)
		s.owned[i] = nil
	}
	s.owned = s.owned[:0]
	if len(s.icmp) > 0 {
		n, _ := s.over.Write(s.icmp, OverlayOffset)
		for _, t := range s.icmpT[:min(max(n, 0), len(s.icmp))] {
			t.stats.txICMP.Add(1)
		}
		clear(s.icmp)
		clear(s.icmpT)
		s.icmp, s.icmpT = s.icmp[:0], s.icmpT[:0]
	}
}

// flushOut writes the batch of outer packets to the underlay and counts
// what it accepted, per tunnel: counters move after the write, so they
// never go down. TxBytes counts inner bytes, as `ip -s tunnel` does
// (Linux's iptunnel_xmit counts skb->len less the inner network offset).
// The fragments' buffers stay owned (the shaper flushes in the middle of
// a fragmented packet).
func (s *sender) flushOut() {
	if len(s.out) == 0 {
		return
	}
	n, _ := s.ul.u.WriteBatch(s.out, s.peers, 0)
	n = min(max(n, 0), len(s.out))
	// One atomic add per run of packets of one tunnel: a tunnel's own
	// overlay makes one run of the whole batch.
	for i := 0; i < n; {
		t, j, bytes := s.tuns[i], i, uint64(0)
		for ; j < n && s.tuns[j] == t; j++ {
			bytes += uint64(s.lens[j])
		}
		t.stats.txBytes.Add(bytes) // bytes first: who sees the packets sees their bytes
		t.stats.txPackets.Add(uint64(j - i))
		i = j
	}
	for _, t := range s.tuns[n:] {
		t.stats.txNoBufs.Add(1)
	}
	clear(s.out)
	clear(s.tuns)
	s.out, s.peers, s.lens, s.tuns = s.out[:0], s.peers[:0], s.lens[:0], s.tuns[:0]
}

// queue adds the outer packet p, which carries an inner packet of inner
// bytes, to the batch, writing the batch first when it is full or goes to
// another underlay, after the shaper let it through.
func (s *sender) queue(p []byte, inner int) {
	t := s.t
	if t.shape != nil && !s.shape(p, inner) {
		return
	}
	if len(s.out) == cap(s.out) || (s.ul != t.ul && len(s.out) > 0) {
		s.flushOut()
	}
	s.ul = t.ul
	s.out = append(s.out, p)
	s.peers = append(s.peers, s.peer)
	s.lens = append(s.lens, inner)
	s.tuns = append(s.tuns, t)
}

// send takes the inner packet b[Headroom:Headroom+size] through the send
// rules and queues the outer packet.
func (s *sender) send(b []byte, size int) {
	t := s.t
	st := &t.stats
	nbma := !t.neigh.empty()
	if t.enc == nil && !nbma {
		st.txNoRoute.Add(1)
		return
	}
	p := b[Headroom : Headroom+size]
	mtu := t.MTU()
	if t.row.carries == carriesEthernet {
		if size < gre.EthernetMinLen {
			st.txInvalid.Add(1)
			return
		}
		if size-gre.EthernetMinLen > mtu {
			st.txTooBig.Add(1)
			return
		}
		if nestingFrom(p, layerEthernet, t.e.cfg.MaxNesting, t.port) > t.e.cfg.MaxNesting {
			st.txDeadLoop.Add(1)
			return
		}
		s.enc, s.peer = t.enc, t.remote()
		if t.fdb != nil && p[0]&1 == 0 { // a unicast destination MAC address
			if a, ok := t.fdb.lookup([6]byte(p[:6]), s.clock()); ok {
				s.peer = netip.AddrPortFrom(a, 0)
			}
		}
		s.encap(b, size)
		return
	}
	if size == 0 {
		st.txInvalid.Add(1)
		return
	}
	v := p[0] >> 4
	if (v != 4 && v != 6) || (v == 4 && t.row.carries&carriesIPv4 == 0) || (v == 6 && t.row.carries&carriesIPv6 == 0) {
		st.txInvalid.Add(1)
		return
	}
	var dst netip.Addr
	if v == 4 {
		if size < iphdr.IPv4MinLen {
			st.txInvalid.Add(1)
			return
		}
		dst = iphdr.IPv4(p).Dst()
	} else {
		if size < iphdr.IPv6Len {
			st.txInvalid.Add(1)
			return
		}
		dst = iphdr.IPv6(p).Dst()
	}
	s.enc, s.peer = t.enc, t.remote()
	if nbma {
		if n := t.neigh.lookup(dst); n != nil {
			s.enc, s.peer = n.enc, n.Outer
		}
	}
	if s.enc == nil {
		st.txNoRoute.Add(1) // NBMA: no neighbour entry
		return
	}
	if dst == s.peer.Addr() || nesting(p, t.e.cfg.MaxNesting, t.port) > t.e.cfg.MaxNesting {
		st.txDeadLoop.Add(1)
		return
	}
	if size > mtu {
		if v == 6 && mtu < 1280 {
			mtu = 1280 // IPv6 never goes below 1280 (RFC 8200 §5); the underlay must cope
		}
		if size > mtu {
			if v == 4 && !iphdr.IPv4(p).DF() {
				s.fragment(b, size, mtu)
				return
			}
			st.txTooBig.Add(1)
			s.tooBig(b, size, mtu)
			return
		}
	}
	s.encap(b, size)
}

// encap encapsulates b[Headroom:Headroom+size] in place and queues it.
func (s *sender) encap(b []byte, size int) {
	start, err := s.enc.Encap(b[:Headroom+size], Headroom)
	if err != nil {
		s.t.stats.txInvalid.Add(1)
		return
	}
	if s.enc == s.t.enc {
		s.t.fixDst(b[start:Headroom+size], s.peer) // a neighbour's Encapsulator addresses its packets itself
	}
	s.queue(b[start:Headroom+size], size)
}

// clock returns the time of the batch being sent, read once per batch.
func (s *sender) clock() int64 {
	if s.now == 0 {
		s.now = s.t.e.now().UnixNano()
	}
	return s.now
}

// What nesting is looking at.
const (
	layerIP = iota
	layerEthernet
	layerGRE
)

// nesting returns how many tunnel headers the IP packet p starts with (IPIP,
// 6in4, IP in IPv6, minimal encapsulation, GRE, GRE-in-UDP to port or to
// 4754), looking through the IP or Ethernet frame each GRE header
// announces, and counting at most limit+1.
func nesting(p []byte, limit int, port uint16) int { return nestingFrom(p, layerIP, limit, port) }

// nestingFrom is nesting for p starting with a header of kind layer (an
// Ethernet frame for gretap).
func nestingFrom(p []byte, layer, limit int, port uint16) int {
	n := 0
	for n <= limit {
		switch layer {
		case layerEthernet:
			q := ethernetIP(p)
			if q == nil {
				return n
			}
			layer, p = layerIP, q
		case layerGRE:
			if len(p) < gre.MinLen {
				return n
			}
			w := binary.BigEndian.Uint16(p)
			l := gre.MinLen
			for _, f := range [...]uint16{gre.FlagChecksum | gre.FlagRouting, gre.FlagKey, gre.FlagSeq} {
				if w&f != 0 {
					l += 4
				}
			}
			if w&gre.VersionMask != 0 || len(p) < l {
				return n
			}
			switch gre.Protocol(binary.BigEndian.Uint16(p[2:])) {
			case gre.ProtoIPv4, gre.ProtoIPv6:
				layer = layerIP
			case gre.ProtoTEB:
				layer = layerEthernet
			default:
				return n
			}
			p = p[l:]
		default:
			var proto outer.IPProto
			switch p0 := firstByte(p); p0 >> 4 {
			case 4:
				if len(p) < iphdr.IPv4MinLen {
					return n
				}
				hl := iphdr.IPv4(p).HeaderLen()
				if hl < iphdr.IPv4MinLen || len(p) < hl {
					return n
				}
				proto, p = outer.IPProto(p[9]), p[hl:]
			case 6:
				if len(p) < iphdr.IPv6Len {
					return n
				}
				proto, p = outer.IPProto(p[6]), p[iphdr.IPv6Len:]
			default:
				return n
			}
			switch proto {
			case outer.ProtoIPIP, outer.ProtoIPv6:
				n++
			case outer.ProtoMinimal:
				return n + 1 // what follows is a payload, not an IP header
			case outer.ProtoGRE:
				n++
				layer = layerGRE
			case outer.ProtoUDP:
				// GRE-in-UDP (RFC 8086): the destination port says it.
				if len(p) < udpHeaderLen {
					return n
				}
				if dp := binary.BigEndian.Uint16(p[2:]); dp != DefaultGREInUDPPort && dp != port {
					return n
				}
				n++
				layer, p = layerGRE, p[udpHeaderLen:]
			default:
				return n
			}
		}
	}
	return n
}

// firstByte returns p[0], or 0 for an empty p.
func firstByte(p []byte) byte {
	if len(p) == 0 {
		return 0
	}
	return p[0]
}

// maxFragments bounds the fragments one packet is cut into; a packet that
// would need more (a huge packet over a tiny MTU) is counted as TxTooBig.
const maxFragments = 64

// fragment cuts the IPv4 packet b[Headroom:Headroom+size], which has DF
// clear and is larger than mtu, into fragments of at most mtu bytes before
// encapsulation (RFC 791 §3.2; RFC 4459 §3 prefers inner fragmentation: the
// tunnel's outer packets stay whole and the inner destination reassembles),
// and encapsulates and queues each. The first fragment stays in b; the
// others are copied into pooled buffers. The first fragment keeps every
// option; the others carry only the options whose copied flag is set (RFC
// 791 §3.1, as Linux's ip_options_fragment), so their header may be
// shorter.
func (s *sender) fragment(b []byte, size, mtu int) {
	st := &s.t.stats
	p := b[Headroom : Headroom+size]
	h := iphdr.IPv4(p)
	hl := h.HeaderLen()
	chunk := (mtu - hl) &^ 7
	if hl < iphdr.IPv4MinLen || size < hl || int(h.TotalLen()) != size || chunk < 8 {
		st.txInvalid.Add(1)
		return
	}
	n := (size - hl + chunk - 1) / chunk
	if n > maxFragments {
		st.txTooBig.Add(1)
		return
	}
	if len(s.out)+n > cap(s.out) || len(s.owned)+n > cap(s.owned) {
		s.flush()
	}
	st.txFrag.Add(1)
	ff := h.FlagsFragOff()
	off0, mf0 := ff&iphdr.IPv4OffsetMask, ff&iphdr.IPv4FlagMF
	first := len(s.owned)
	var later [iphdr.IPv4MaxLen]byte // the header of the later fragments
	copy(later[:], p[:iphdr.IPv4MinLen])
	hl2 := iphdr.IPv4MinLen + copiedOptions(later[iphdr.IPv4MinLen:], p[iphdr.IPv4MinLen:hl])
	later[0] = later[0]&0xf0 | byte(hl2/4)
	for k := 1; k < n; k++ {
		nb := getBuf()
		lo, hi := hl+k*chunk, min(hl+(k+1)*chunk, size)
		q := nb[Headroom : Headroom+hl2+hi-lo]
		copy(q, later[:hl2])
		copy(q[hl2:], p[lo:hi])
		fh := iphdr.IPv4(q)
		fh.SetTotalLen(uint16(len(q)))
		mf := mf0
		if k < n-1 {
			mf = iphdr.IPv4FlagMF
		}
		fh.SetFlagsFragOff(mf | (off0 + uint16(k*chunk/8)))
		fh.ComputeChecksum()
		s.owned = append(s.owned, nb)
	}
	h.SetTotalLen(uint16(hl + chunk))
	h.SetFlagsFragOff(iphdr.IPv4FlagMF | off0)
	h.ComputeChecksum()
	s.encap(b, hl+chunk)
	for i, nb := range s.owned[first:] {
		k := i + 1
		s.encap(nb[:], min(hl+(k+1)*chunk, size)-(hl+k*chunk)+hl2)
	}
}

// copiedOptions writes to dst the IPv4 options of opts whose copied flag
// (the top bit of the option type) is set, padded with end-of-list bytes
// to a multiple of 4, and returns their length. A malformed option ends
// the list, as it ends the receiver's parse.
func copiedOptions(dst, opts []byte) int {
	n := 0
	for i := 0; i < len(opts); {
		typ := opts[i]
		switch typ {
		case ipOptEnd:
			i = len(opts)
			continue
		case ipOptNOP:
			i++ // not copied
			continue
		}
		if i+1 >= len(opts) || opts[i+1] < 2 || i+int(opts[i+1]) > len(opts) {
			break
		}
		l := int(opts[i+1])
		if typ&ipOptCopied != 0 {
			n += copy(dst[n:], opts[i:i+l])
		}
		i += l
	}
	for n%4 != 0 {
		dst[n] = ipOptEnd
		n++
	}
	return n
}

// IPv4 option types (RFC 791 §3.1).
const (
	ipOptEnd    = 0    // end of option list
	ipOptNOP    = 1    // no operation
	ipOptCopied = 0x80 // the copied flag: the option goes into every fragment
)
