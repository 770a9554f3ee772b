package tunnel

import "sync/atomic"

// Stats are one tunnel's counters, named after what `ip -s tunnel show`
// prints (RX: Packets Bytes Errors CsumErrs OutOfSeq Mcasts; TX: Packets
// Bytes Errors DeadLoop NoRoute NoBufs) plus the split that iproute2 folds
// into Errors. Every packet the tunnel is given is counted once: received
// ones as RxPackets, KeepaliveReplies, KeepalivesReflected or in one Rx drop
// counter (RxErrors, RxDropped and RxLooped), sent ones as TxPackets or in one Tx
// drop counter (TxErrors). Keepalive requests the tunnel makes itself are
// counted in KeepalivesSent only (or TxNoBufs when the underlay refuses
// one).
type Stats struct {
	// RxPackets and RxBytes count inner packets delivered to the overlay,
	// and their bytes. They (and TxPackets, TxBytes, TxICMP) move after
	// the write that delivered them, so a counter never goes down (a
	// Prometheus counter that decreases reads as a reset); a packet seen
	// coming out may be counted a moment later.
	RxPackets, RxBytes uint64
	// RxErrors is the sum of RxCsumErrors, RxOutOfSeq, RxFrameErrors,
	// ReflectRefused and RxSourceRefused.
	RxErrors uint64
	// RxCsumErrors counts packets with a wrong GRE checksum, or without one
	// when icsum asks for it, or with one when it does not (as Linux).
	RxCsumErrors uint64
	// RxOutOfSeq counts packets at or behind the last delivered sequence
	// number, duplicates, and packets without one when iseq asks for it.
	RxOutOfSeq uint64
	// RxSourceRefused counts packets of a tunnel on a shared overlay whose
	// inner source its Routes do not hold (Config.Routes: as wireguard's
	// AllowedIPs, what a tunnel may send into the overlay as well as what
	// it is sent); they are dropped.
	RxSourceRefused uint64
	// RxFrameErrors counts packets whose inner packet is malformed or does
	// not fit the GRE protocol type or the mode, and RFC 6040 ECN drops
	// (outer CE over a Not-ECT inner packet).
	RxFrameErrors uint64
	// RxDropped counts packets that passed every check but could not be
	// written to the overlay (it refused them, or was closed while they
	// waited in the reorder buffer).
	RxDropped uint64
	// RxMulticast counts delivered packets whose outer destination was a
	// multicast group (Mcasts).
	RxMulticast uint64
	// RxECNAlarms counts delivered packets with an inner/outer ECN
	// combination that RFC 6040 marks as worth logging; they are not
	// drops.
	RxECNAlarms uint64
	// RxLooped counts packets a broadcast tunnel (multicast remote)
	// received from its own local address: its own multicast, looped back
	// by the underlay (IP_MULTICAST_LOOP). They are dropped, as Linux
	// drops the multicast a GRE tunnel sent itself, and are not errors.
	RxLooped uint64

	// TxPackets counts outer packets the underlay accepted; TxBytes the
	// inner bytes they carried, as `ip -s tunnel` counts them (Linux's
	// iptunnel_xmit), so that one end's TxBytes and the other's RxBytes
	// agree for the same traffic.
	TxPackets, TxBytes uint64
	// TxErrors is the sum of TxDeadLoop, TxNoRoute, TxNoBufs, TxTooBig,
	// TxInvalid and TxShapedDrops.
	TxErrors uint64
	// TxDeadLoop counts packets whose inner destination is the tunnel's own
	// remote, or the outer address its neighbour entry sends it to (they
	// would loop through the tunnel: the BSDs' link1 guard),
	// and packets nested deeper than MaxNesting tunnel headers.
	TxDeadLoop uint64
	// TxNoRoute counts packets the tunnel has nowhere to send: an NBMA
	// tunnel (remote any) without a neighbour entry for the packet's
	// destination ([Tunnel.AddNeighbor]), or a fallback tunnel.
	TxNoRoute uint64
	// TxNoBufs counts packets the underlay did not accept.
	TxNoBufs uint64
	// TxTooBig counts packets larger than the tunnel MTU that may not be
	// fragmented (IPv4 with DF, every IPv6 packet); each is answered with
	// ICMP "fragmentation needed" or ICMPv6 "packet too big" (counted in
	// TxICMP).
	TxTooBig uint64
	// TxInvalid counts inner packets that are malformed, not of the mode's
	// protocol, or that the Encapsulator refused.
	TxInvalid uint64
	// TxICMP counts ICMP errors the tunnel wrote back to its overlay.
	TxICMP uint64
	// TxFragmented counts IPv4 packets without DF, larger than the tunnel
	// MTU, that were fragmented before encapsulation (each fragment is then
	// counted in TxPackets).
	TxFragmented uint64
	// TxShapedDrops counts outer packets the shaper dropped (Config.Shape):
	// larger than the bucket, or that would have waited longer than
	// Shape.Limit allows.
	TxShapedDrops uint64

	// KeepalivesSent counts keepalive requests the underlay accepted.
	KeepalivesSent uint64
	// KeepaliveReplies counts keepalive replies received from the remote
	// (GRE protocol 0 packets that passed the key and checksum checks);
	// they are consumed, not delivered.
	KeepaliveReplies uint64
	// LineChanges counts line protocol transitions, up to down and back.
	LineChanges uint64
	// KeepalivesReflected counts peers' keepalive requests written back to
	// the underlay (Config.Reflect.Enable).
	KeepalivesReflected uint64
	// ReflectRefused counts keepalive requests not reflected: unknown
	// source, a destination [gre.Reflectable] refuses, a malformed request,
	// or over the rate limit. They are dropped.
	ReflectRefused uint64
	// RemoteChanges counts the times a roaming tunnel's remote moved
	// (Config.Roam); RoamRefused the packets from a new source that did
	// not move it (not a unicast address, loopback, the tunnel's own; with
	// iseq a sequence number too far ahead). The packets are delivered.
	RemoteChanges, RoamRefused uint64

	// FDBLearned counts MAC addresses a broadcast gretap tunnel learnt
	// ([Tunnel.FDB]); FDBExpired those removed after Config.FDB.Ageing
	// without a frame; FDBMoved the times a learnt address was seen
	// behind another member; FDBFull the frames whose new source address
	// was not learnt because the table held Config.FDB.Max entries (the
	// frames themselves are delivered). These count entries, not packets.
	FDBLearned, FDBExpired, FDBMoved, FDBFull uint64
	// FDBRefused counts frames whose source address was not learnt
	// because their outer source may not stand behind one (not unicast,
	// loopback, the tunnel's own address, not one of FDB.Members) or over
	// FDB.LearnRate. The frames themselves are delivered.
	FDBRefused uint64
}

// counters is the live, atomic form of Stats.
type counters struct {
	rxPackets, rxBytes, rxCsum, rxSeq, rxFrame, rxDropped, rxMcast, rxECN                    atomic.Uint64
	txPackets, txBytes, txDeadLoop, txNoRoute, txNoBufs, txTooBig, txInvalid, txICMP, txFrag atomic.Uint64
	txShaped, kaSent, kaReplies, lineChanges, reflected, reflRefused, remoteChanges          atomic.Uint64
	roamRefused                                                                              atomic.Uint64
	rxLooped, fdbLearned, fdbExpired, fdbMoved, fdbFull, fdbRefused, rxSource                atomic.Uint64
}

func (c *counters) snapshot() Stats {
	s := Stats{
		RxPackets: c.rxPackets.Load(), RxBytes: c.rxBytes.Load(),
		RxCsumErrors: c.rxCsum.Load(), RxOutOfSeq: c.rxSeq.Load(), RxFrameErrors: c.rxFrame.Load(),
		RxDropped: c.rxDropped.Load(), RxSourceRefused: c.rxSource.Load(), RxMulticast: c.rxMcast.Load(), RxECNAlarms: c.rxECN.Load(),
		TxPackets: c.txPackets.Load(), TxBytes: c.txBytes.Load(),
		TxDeadLoop: c.txDeadLoop.Load(), TxNoRoute: c.txNoRoute.Load(), TxNoBufs: c.txNoBufs.Load(),
		TxTooBig: c.txTooBig.Load(), TxInvalid: c.txInvalid.Load(), TxICMP: c.txICMP.Load(), TxFragmented: c.txFrag.Load(),
		TxShapedDrops: c.txShaped.Load(), KeepalivesSent: c.kaSent.Load(), KeepaliveReplies: c.kaReplies.Load(),
		LineChanges: c.lineChanges.Load(), KeepalivesReflected: c.reflected.Load(), ReflectRefused: c.reflRefused.Load(),
		RemoteChanges: c.remoteChanges.Load(), RoamRefused: c.roamRefused.Load(), RxLooped: c.rxLooped.Load(),
		FDBLearned: c.fdbLearned.Load(), FDBExpired: c.fdbExpired.Load(), FDBMoved: c.fdbMoved.Load(), FDBFull: c.fdbFull.Load(), FDBRefused: c.fdbRefused.Load(),
	}
	s.RxErrors = s.RxCsumErrors + s.RxOutOfSeq + s.RxFrameErrors + s.ReflectRefused + s.RxSourceRefused
	s.TxErrors = s.TxDeadLoop + s.TxNoRoute + s.TxNoBufs + s.TxTooBig + s.TxInvalid + s.TxShapedDrops
	return s
}

// EngineStats are the engine's own counters: received packets that reached
// no tunnel. With every tunnel's [Stats], they account for every packet the
// underlays delivered.
type EngineStats struct {
	// RxPackets counts packets read from the underlays.
	RxPackets uint64
	// RxNoTunnel counts packets no tunnel took: no match for their
	// addresses and key, or a match that was down; a sample of them is
	// kept ([Engine.NoTunnelSamples]).
	RxNoTunnel uint64
	// RxFrameErrors counts packets whose outer or GRE header is malformed
	// (truncated, wrong version, reserved bits, fragments, IPv4-mapped
	// addresses in an IPv6 header...), before any tunnel is known.
	RxFrameErrors uint64
	// RxCsumErrors counts packets with a wrong outer IPv4 header checksum.
	RxCsumErrors uint64
	// RxUnknownProto counts packets of an IP protocol no mode carries.
	RxUnknownProto uint64
	// TxNoTunnel counts packets read from a shared overlay
	// ([Engine.AddOverlay]) that no tunnel's routes hold.
	TxNoTunnel uint64
	// PathMTULowered counts path-MTU reports that lowered at least one
	// tunnel's MTU ([Engine.PathMTU]); PathMTURefused those refused: no
	// tunnel sent the quoted packet (a forged or stale ICMP error), or an
	// IPv6 MTU below 1280.
	PathMTULowered, PathMTURefused uint64
}

type engineCounters struct {
	rxPackets, rxNoTunnel, rxFrame, rxCsum, rxProto atomic.Uint64
	pmtuLowered, pmtuRefused, txNoTunnel            atomic.Uint64
}

func (c *engineCounters) snapshot() EngineStats {
	return EngineStats{RxPackets: c.rxPackets.Load(), RxNoTunnel: c.rxNoTunnel.Load(),
		RxFrameErrors: c.rxFrame.Load(), RxCsumErrors: c.rxCsum.Load(), RxUnknownProto: c.rxProto.Load(),
		PathMTULowered: c.pmtuLowered.Load(), PathMTURefused: c.pmtuRefused.Load(), TxNoTunnel: c.txNoTunnel.Load()}
}
