package tunnel

import (
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/ipencap/ipencap"
	"github.com/ipencap/ipencap/demux"
	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/ipip"
	"github.com/ipencap/ipencap/mobile"
	"github.com/ipencap/ipencap/outer"
)

// The receive path, as Linux splits it: each IP protocol's decapsulation
// parses its own header into a descriptor (Linux's struct tnl_ptk_info),
// the demux finds the tunnel, and one function of the tunnel
// (Tunnel.receive, Linux's ip_tunnel_rcv) runs the checks from the
// descriptor and the tunnel's options, whatever the mode.

// rxDesc is what a protocol's decapsulation learnt from one packet.
type rxDesc struct {
	class demux.Class
	// proto names the inner packet: the GRE protocol type, or for IPIP
	// and minimal encapsulation the EtherType of the inner IP version.
	proto       gre.Protocol
	key, seq    uint32
	hasKey      bool
	hasSeq      bool
	csumPresent bool
	csumValid   bool
	// ecn: the outer header is not the inner one, so RFC 6040 applies
	// (not for minimal encapsulation, nor GRE-in-UDP, whose socket keeps
	// the outer header); for Ethernet, to the IP packet in the frame.
	ecn   bool
	inner []byte
	// err is a malformed inner packet: counted by the tunnel, once known,
	// as a frame error.
	err error
}

// rxProto is how the engine decapsulates one IP protocol: the demux class
// of its packets over IPv4 and over IPv6 (0: not carried over that
// family) and the function that fills the descriptor. A decap error is a
// malformed tunnel header, counted by the engine before any tunnel is
// known.
type rxProto struct {
	class [2]demux.Class
	decap func(d *rxDesc, pkt []byte, o *outer.Outer) error
}

// rxProtos is the receive table of FramingIP, indexed by IP protocol; the
// classes come from the mode table. rxUDP is the one of FramingUDP.
var (
	rxProtos [256]rxProto
	rxUDP    = rxProto{class: [2]demux.Class{classGREInUDP, classGREInUDP}, decap: decapGRE}
)

func init() {
	decaps := map[outer.IPProto]func(*rxDesc, []byte, *outer.Outer) error{
		outer.ProtoGRE: decapGRE, outer.ProtoIPIP: decapIPIP, outer.ProtoIPv6: decapIPIP, outer.ProtoMinimal: decapMobile,
	}
	for m := range modes {
		row := &modes[m]
		if row.name == "" || row.framing != FramingIP || row.carries == carriesEthernet {
			continue // gretap shares GRE's entry; decapGRE picks its class
		}
		p := &rxProtos[row.proto]
		p.decap = decaps[row.proto]
		for fam := range 2 {
			if row.family == 0 || row.family == 4+2*fam {
				p.class[fam] = row.class
			}
		}
	}
}

// family is the index of the outer family in rxProto.class.
func family(a netip.Addr) int {
	if a.Is6() {
		return 1
	}
	return 0
}

// decapGRE parses a GRE header (over IP or in UDP) and checks the inner
// packet as its protocol type says.
func decapGRE(d *rxDesc, pkt []byte, o *outer.Outer) error {
	h, err := gre.Decoder{NoVerifyChecksum: true}.ParseOuter(pkt, o)
	if err != nil {
		return err
	}
	d.proto = h.Protocol()
	if d.proto == gre.ProtoTEB && d.class == demux.ClassGRE {
		d.class = demux.ClassGRETap
	}
	if k, ok := h.Key(); ok {
		d.key, d.hasKey = uint32(k), true
	}
	d.seq, d.hasSeq = h.Seq()
	d.csumPresent = h.ChecksumPresent()
	d.csumValid = d.csumPresent && h.ChecksumValid()
	d.inner, d.err = h.Inner()
	return nil
}

// decapIPIP checks the inner packet of IPIP, 6in4 and IP in IPv6.
func decapIPIP(d *rxDesc, pkt []byte, o *outer.Outer) error {
	d.proto = gre.ProtoIPv4
	if o.Protocol == outer.ProtoIPv6 {
		d.proto = gre.ProtoIPv6
	}
	d.inner, d.err = ipip.Check(pkt, o)
	return nil
}

// decapMobile restores the original datagram of minimal encapsulation in
// place; its one IP header is both outer and inner, so RFC 6040 does not
// apply.
func decapMobile(d *rxDesc, pkt []byte, o *outer.Outer) error {
	d.proto, d.ecn = gre.ProtoIPv4, false
	d.inner, d.err = mobile.Decap(pkt, o)
	return nil
}

// receiver is the state of one underlay's receive goroutine.
type receiver struct {
	e     *Engine
	ul    *underlay
	bufs  [][]byte
	sizes []int
	peers []netip.AddrPort
	pend  []pending
	npend int
	now   time.Time
	// The packet being handled: its outer header and descriptor live
	// here, not on the stack, because the protocol's decap is called
	// through the table and would make them escape.
	o outer.Outer
	d rxDesc
}

func (e *Engine) receiveLoop(ul *underlay) {
	n := max(ul.u.BatchSize(), 1)
	r := &receiver{e: e, ul: ul, bufs: make([][]byte, n), sizes: make([]int, n), peers: make([]netip.AddrPort, n)}
	for i := range r.bufs {
		r.bufs[i] = getBuf()[:]
	}
	defer func() {
		for _, b := range r.bufs {
			putBuf(bufferOf(b))
		}
	}()
	var fails failures
	for {
		k, err := ul.u.ReadBatch(r.bufs, r.sizes, r.peers, rxOffset)
		if k > 0 {
			e.stats.rxPackets.Add(uint64(k))
			r.now = time.Time{}
			for i := range k {
				r.handle(i)
			}
			for i := range r.npend {
				r.pend[i].flush()
				r.pend[i].over = nil
			}
			r.npend = 0
		}
		if err == nil {
			fails.ok()
			continue
		}
		if errors.Is(err, net.ErrClosed) || e.isClosed() {
			return
		}
		if !fails.wait(ul.log, "underlay read failed", err, e.done) {
			return
		}
	}
}

// pendingFor returns the batch of tunnel t's overlay in this round: one
// batch per overlay, whichever tunnels deliver into it (a shared overlay
// gets one write per receive batch, not one per tunnel).
func (r *receiver) pendingFor(t *Tunnel) *pending {
	for i := range r.npend {
		if r.pend[i].over == t.over {
			return &r.pend[i]
		}
	}
	if r.npend == len(r.pend) {
		r.pend = append(r.pend, pending{})
	}
	p := &r.pend[r.npend]
	r.npend++
	p.over = t.over
	return p
}

func (r *receiver) clock() time.Time {
	if r.now.IsZero() {
		r.now = r.e.now()
	}
	return r.now
}

// handle takes packet i of the batch through the outer header, the
// protocol's decapsulation, the lookup and the tunnel's checks.
func (r *receiver) handle(i int) {
	e := r.e
	b := r.bufs[i]
	size := min(r.sizes[i], len(b)-rxOffset)
	pkt := b[rxOffset : rxOffset+size]
	o := &r.o
	var p *rxProto
	if r.ul.framing == FramingIP {
		var err error
		*o, _, err = outer.Parse(pkt)
		if err != nil {
			if errors.Is(err, ipencap.ErrChecksum) {
				e.stats.rxCsum.Add(1)
			} else {
				e.stats.rxFrame.Add(1)
			}
			return
		}
		p = &rxProtos[o.Protocol]
	} else {
		// The socket has taken the IP and UDP headers: the datagram is
		// the GRE packet, from the peer to our address of its family.
		peer := r.peers[i].Addr().Unmap()
		*o = outer.Outer{Src: peer, Dst: r.ul.localFor(peer.Is6()), Protocol: outer.ProtoGRE, Len: size}
		p = &rxUDP
	}
	d := &r.d
	*d = rxDesc{class: p.class[family(o.Src)], ecn: r.ul.framing == FramingIP}
	if d.class == 0 {
		e.stats.rxProto.Add(1) // a protocol no mode carries over this family
		return
	}
	if err := p.decap(d, pkt, o); err != nil {
		e.stats.rxFrame.Add(1)
		return
	}
	t, _, ok := e.table.Lookup(demux.Query{Class: d.class, Src: o.Src, Dst: o.Dst, Link: r.ul.link, HasKey: d.hasKey, Key: d.key})
	if !ok {
		e.stats.rxNoTunnel.Add(1)
		e.noTunnel.add(&NoTunnelSample{Time: r.clock(), Underlay: r.ul.cfg.Name, Src: o.Src, Dst: o.Dst,
			Protocol: o.Protocol, Key: gre.Key(d.key), HasKey: d.hasKey})
		return
	}
	t.receive(r, i, o, d)
	d.inner = nil
}

// errMode is an inner packet that the tunnel's mode does not carry; it is
// counted as a frame error.
var errMode = errors.New("tunnel: inner packet does not fit the mode")

// receive runs the tunnel's checks on packet i of r's batch, described by
// o and d, and queues it for the overlay. Every rule reads the descriptor
// and the tunnel's options; none asks for the mode.
func (t *Tunnel) receive(r *receiver, i int, o *outer.Outer, d *rxDesc) {
	st := &t.stats
	if t.group && o.Src == t.local {
		st.rxLooped.Add(1) // our own multicast, looped back
		return
	}
	// Checksum, as Linux: present if and only if icsum, and valid.
	if d.csumPresent != t.icsum || (d.csumPresent && !d.csumValid) {
		st.rxCsum.Add(1)
		return
	}
	if t.ka != nil && d.proto == gre.ProtoKeepalive && o.Src == t.remote().Addr() {
		// A reply to our keepalive: the peer reflected what we built, so
		// it is recognised before the sequence check. The key was checked
		// by the lookup, the checksum above.
		t.keepaliveReply()
		return
	}
	err := d.err
	if err == nil && carriesOf(d.proto)&t.row.carries == 0 {
		err = errMode // ipip6 carries IPv4 only, gretap Ethernet only...
	}
	if err != nil {
		st.rxFrame.Add(1)
		return
	}
	inner := d.inner
	if ip := inner; d.ecn {
		if d.proto == gre.ProtoTEB {
			ip = ethernetIP(inner) // as Linux's ip_tunnel_rcv, after eth_type_trans
		}
		if ip != nil {
			alarm, err := outer.ApplyECN(ip, o.ECN())
			if err != nil {
				st.rxFrame.Add(1)
				return
			}
			if alarm {
				st.rxECN.Add(1)
			}
		}
	}
	if o.Dst.IsMulticast() {
		st.rxMcast.Add(1)
	}
	b := r.bufs[i]
	start := cap(b) - cap(inner) // inner is a sub-slice of b
	w := b[start-OverlayOffset : start+len(inner)]
	var from netip.AddrPort
	if t.roams {
		from = netip.AddrPortFrom(o.Src, 0)
		if r.ul.framing == FramingUDP {
			from = netip.AddrPortFrom(o.Src, r.peers[i].Port())
		}
	}
	var mac [6]byte // the source MAC address a broadcast gretap tunnel learns
	if t.fdb != nil {
		mac = [6]byte(inner[6:12])
	}
	if t.seq != nil {
		if !d.hasSeq {
			st.rxSeq.Add(1)
			return
		}
		if t.seq.reorder != nil {
			if t.seq.push(r, i, d.seq, w) {
				t.accepted(r, from, d.seq, mac, o.Src)
			}
			return
		}
		if !t.seq.check(d.seq) {
			return // counted by check
		}
	}
	if t.refl != nil && t.tryReflect(inner, o.Src, o.Dst, r.clock()) {
		return // a keepalive request (any source's, with AnySource) teaches nothing
	}
	if t.shared != nil && !t.shared.allows(t, inner) {
		st.rxSource.Add(1)
		return
	}
	t.accepted(r, from, d.seq, mac, o.Src)
	r.pendingFor(t).add(t, w, false)
}

// accepted is what a packet that passed every check of the tunnel teaches
// it: a roaming tunnel may move to its source (seq: its sequence number,
// with iseq), a broadcast gretap tunnel learns its
// source MAC address.
func (t *Tunnel) accepted(r *receiver, from netip.AddrPort, seq uint32, mac [6]byte, src netip.Addr) {
	t.roamTo(from, seq)
	if t.fdb != nil {
		t.learn(mac, src, r.clock().UnixNano())
	}
}

// pending is what one overlay is to be given in one batch: the packets to
// write (each with OverlayOffset bytes in front), the tunnel each came
// through, and the pooled buffers to return after the write.
type pending struct {
	over  Overlay
	bufs  [][]byte
	tuns  []*Tunnel
	owned [][]byte // held copies to release after the write
}

// add queues w, which tunnel t received; owned, when true, says w is a
// held copy, released after the write.
func (p *pending) add(t *Tunnel, w []byte, owned bool) {
	p.bufs = append(p.bufs, w)
	p.tuns = append(p.tuns, t)
	if owned {
		p.owned = append(p.owned, w)
	}
}

// flush writes the pending packets to the overlay and counts what it
// wrote, per tunnel: counters move after the write, so they never go down.
func (p *pending) flush() {
	if len(p.bufs) > 0 {
		n, _ := p.over.Write(p.bufs, OverlayOffset)
		n = min(max(n, 0), len(p.bufs))
		for i := 0; i < n; { // one atomic add per run of one tunnel's packets
			t, j, bytes := p.tuns[i], i, uint64(0)
			for ; j < n && p.tuns[j] == t; j++ {
				bytes += uint64(len(p.bufs[j]) - OverlayOffset)
			}
			t.stats.rxBytes.Add(bytes) // bytes first: who sees the packets sees their bytes
			t.stats.rxPackets.Add(uint64(j - i))
			i = j
		}
		for _, t := range p.tuns[n:] {
			t.stats.rxDropped.Add(1)
		}
		clear(p.bufs)
		clear(p.tuns)
		p.bufs, p.tuns = p.bufs[:0], p.tuns[:0]
	}
	for _, b := range p.owned {
		release(b)
	}
	clear(p.owned)
	p.owned = p.owned[:0]
}
