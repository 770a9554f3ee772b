package gre

import (
	"encoding/binary"
	"math"

	"github.com/ipencap/ipencap/checksum"
)

// Bits of the first 16-bit word of a GRE header (RFC 1701 §2, RFC 2637 §4.1).
const (
	// FlagChecksum (C) says the Checksum field is present and valid.
	FlagChecksum = 0x8000
	// FlagRouting (R) says the Offset and Routing fields are present (RFC 1701).
	FlagRouting = 0x4000
	// FlagKey (K) says the Key field is present (RFC 2890).
	FlagKey = 0x2000
	// FlagSeq (S) says the Sequence Number field is present (RFC 2890).
	FlagSeq = 0x1000
	// FlagStrictRoute (s) asks for strict source routing (RFC 1701).
	FlagStrictRoute = 0x0800
	// RecursionMask covers the recursion control field (RFC 1701), 3 bits.
	RecursionMask = 0x0700
	// FlagAck (A) says an Acknowledgment Number is present; version 1 only.
	FlagAck = 0x0080
	// ReservedMaskV0 covers the flag bits 8–12 of version 0, reserved by RFC 1701.
	ReservedMaskV0 = 0x00F8
	// ReservedMaskV1 covers the flag bits 9–12 of version 1, reserved by RFC 2637.
	ReservedMaskV1 = 0x0078
	// VersionMask covers the version number, 3 bits.
	VersionMask = 0x0007
)

// Header sizes.
const (
	// MinLen is the length of a GRE header with no optional field.
	MinLen = 4
	// MaxLen is the longest GRE header without routing: checksum, key,
	// sequence and acknowledgment all present (version 1 cannot carry C,
	// so 16 is the most in practice; 20 bounds both versions).
	MaxLen = 20
)

// linuxMinPacketV4 is the shortest GRE packet, header and payload
// together, that Linux takes over IPv4: gre_rcv (net/ipv4/gre_demux.c)
// starts with "if (!pskb_may_pull(skb, 12)) goto drop;", before it reads
// the version, whatever the flags. ip6_gre has no such rule. ModeLinux
// makes one exception, for keepalive replies (see [ModeLinux]).
const linuxMinPacketV4 = 12

// Mode selects which headers a Decoder accepts.
type Mode uint8

const (
	// ModeLinux, the zero Mode, accepts what today's Linux kernel accepts.
	// Over IPv6 (Decoder.OverIPv6) that is what gre_parse_header
	// (net/ipv4/gre_demux.c), called by ip6_gre's gre_rcv
	// (net/ipv6/ip6_gre.c), accepts: version 0 only, with any of C, K and
	// S; s, recursion control and flag bits 8–12 ignored (kept in Fields
	// so that they round-trip); R rejected with [ErrReservedBits];
	// versions 1–7 rejected with [ErrVersion]; the packet need only hold
	// the header its flags ask for. Over IPv4 the packet first passes
	// gre_rcv (net/ipv4/gre_demux.c), which drops it unless 12 bytes of GRE
	// packet, header and payload together, are there ("if
	// (!pskb_may_pull(skb, 12)) goto drop;", whatever the flags: a shorter
	// one fails with [ErrTruncated], before any other check), then reads
	// the version as the low 7 bits of the second byte (bits 9–15, A
	// excluded: "ver = skb->data[1] & 0x7f") and drops it unless that is 0
	// or 1, so any of the reserved flag bits 9–12 (0x0078) set is rejected
	// too, with [ErrReservedBits]; only bit 8 (0x0080) is ignored in
	// version 0. Version 1 then follows today's pptp_rcv
	// (drivers/net/ppp/pptp.c; see [ErrPPTP]), which ignores s and
	// recursion control (such a header parses, but its Fields do not
	// encode: Fields.Validate keeps RFC 2637's zeros), and version 0 the
	// rules above.
	//
	// One exception to gre_rcv's 12 bytes: a packet of protocol 0
	// ([ProtoKeepalive]) needs only its header. That is a Cisco keepalive
	// reply, 4 bytes of GRE (8 with a key), which the kernel drops because
	// it sends no keepalives; a Linux program that does (as package tunnel
	// does) reads the replies from a raw socket, which gets its copy of
	// every protocol 47 packet before gre_rcv runs (raw_local_deliver,
	// called first by ip_protocol_deliver_rcu in net/ipv4/ip_input.c). A
	// receiver counts such a packet as a reply or drops it; protocol 0
	// carries no data to deliver.
	ModeLinux Mode = iota
	// ModeRFC2784 accepts what an RFC 2784 receiver with the RFC 2890
	// extensions accepts: version 0 only; C, K and S; a packet with any of
	// bits 1, 4 or 5 set (R, s and the top recursion bit, the bits 1–5 of
	// RFC 2784 §2.3 less K and S, which RFC 2890 defines) is rejected with
	// [ErrReservedBits]; bits 6–12 are ignored.
	ModeRFC2784
	// ModeRFC1701 accepts every RFC 1701 header: version 0 with C, R
	// (Offset and the SRE list), K, S, s, recursion control and reserved
	// flags, plus version 1 under the PPTP rules of RFC 2637 §4.1 (s and
	// recursion control zero, unlike ModeLinux). Re-encoding a header
	// decoded in this mode reproduces it byte for byte.
	ModeRFC1701
)

// String returns the mode's name.
func (m Mode) String() string {
	switch m {
	case ModeLinux:
		return "linux"
	case ModeRFC2784:
		return "rfc2784"
	case ModeRFC1701:
		return "rfc1701"
	}
	return "mode(" + hex4(uint16(m)) + ")"
}

// Decoder parses GRE headers with options. The zero Decoder is ModeLinux
// over IPv4 with checksum verification, the same as the package function
// Parse.
type Decoder struct {
	// Mode selects which headers are accepted. A Mode other than the three
	// defined makes every Parse fail with [ErrMode].
	Mode Mode
	// OverIPv6 says the GRE packet arrived in IPv6 (next header 47) rather
	// than in IPv4. Linux takes different paths for the two, so it changes
	// what ModeLinux accepts (see [ModeLinux]); the RFC modes ignore it.
	OverIPv6 bool
	// NoVerifyChecksum turns off checksum verification. By default Parse
	// verifies the checksum of every header whose C bit is set and fails
	// with [ErrChecksum] when it is wrong, as Linux does (it drops such a
	// packet and counts it). Set it in capture tools that show corrupted
	// packets too, or to time parsing alone; [Header.ChecksumValid] still
	// tells the verdict.
	NoVerifyChecksum bool
}

// Header is a validated view of a GRE packet: the header and, behind it, the
// payload. Parse returns it. The flags and version word and the protocol
// type are kept in the Header as Parse validated them; the optional fields
// (checksum, offset, key, sequence and acknowledgment numbers, SREs) are
// read from the packet bytes when asked for, at the offsets that word
// gives. Changing the packet bytes after Parse changes what those accessors
// return but cannot make any of them panic.
//
// The zero Header is an empty view, not a parsed header: Len is 0, every
// accessor returns zero values, false or an empty slice, the iterator
// yields nothing, and none of them panics.
//
// Layout (RFC 1701 §2; RFC 2637 §4.1 for version 1):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|C|R|K|S|s|Recur|A| Flags | Ver |         Protocol Type         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|      Checksum (optional)      |       Offset (optional)       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         Key (optional)                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Sequence Number (optional)                 |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Acknowledgment Number (optional, version 1 only)      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         Routing (optional)                    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type Header struct {
	// Four fields in 32 bytes: the compiler keeps a struct of at most four
	// fields and four words in registers (SSA) and returns it in
	// registers. A bigger one (n as an int made it 40 bytes) Parse builds
	// on its stack and copies out with overlapping 16-byte moves that
	// cannot be forwarded from the field stores, which tripled the cost
	// of Parse. TestHeaderSize keeps it within 32 bytes.
	b     []byte   // the whole GRE packet
	n     uint32   // header length, routing included; len(b) >= n
	w     uint16   // the flags and version word as Parse validated it
	proto Protocol // the protocol type as Parse read it
}

// Parse parses the GRE header at the start of b with Decoder{}: ModeLinux,
// over IPv4, checksum verified when C is set. b holds the GRE packet, the
// IP payload: header and payload. Parse never allocates.
func Parse(b []byte) (Header, error) {
	return Decoder{}.Parse(b)
}

// Parse validates the GRE header at the start of b (which holds the header
// and the payload) under d's mode and returns a view of it. Unless
// d.NoVerifyChecksum is set it also verifies the checksum when C is set.
// Parse never allocates; errors are package sentinels: [ErrMode],
// [ErrTruncated], [ErrVersion], [ErrReservedBits], [ErrPPTP], [ErrRouting]
// or [ErrChecksum].
func (d Decoder) Parse(b []byte) (Header, error) {
	// The fast path takes the headers every mode accepts the same way:
	// version 0, no routing, none of the flag bits the mode rejects. For
	// them the header length follows from C, K and S alone (optLen), and
	// what remains to check is the length and the checksum. Everything
	// else (an unknown mode, a short buffer, version 1, R, rejected bits)
	// falls through to the full validation below, in the same function so
	// that those headers pay no extra call. TestParseFastPath checks Parse
	// against the code without the fast path on every flags word.
	//
	// ModeLinux over IPv4 takes the fast path from 12 bytes on (gre_rcv's
	// rule, see linuxMinPacketV4): the length the entry test compares
	// with comes from the mode, with the flag bits it rejects, so the rule
	// costs no test of the mode of its own.
	if minPacket, rejectV0 := d.rules(); len(b) >= minPacket && d.Mode <= ModeRFC1701 {
		w := binary.BigEndian.Uint16(b[:2])
		if w&(VersionMask|FlagRouting|rejectV0) == 0 {
			n := uint32(optLen[w>>12])
			if uint(len(b)) < uint(n) {
				return Header{}, ErrTruncated
			}
			if w&FlagChecksum != 0 && !d.NoVerifyChecksum && checksum.Sum(b, 0) != 0xffff {
				return Header{}, ErrChecksum
			}
			return Header{b: b, n: n, w: w, proto: Protocol(binary.BigEndian.Uint16(b[2:4]))}, nil
		}
	}
	// Every header: each check in turn, in the order that decides which
	// error a header with several faults gets.
	if d.Mode > ModeRFC1701 {
		return Header{}, ErrMode
	}
	// gre_rcv (net/ipv4/gre_demux.c) drops a GRE-over-IPv4 packet
	// shorter than 12 bytes, then one whose bits 9–15 do not read as
	// version 0 or 1: bits 9–12 must be clear in both versions. ip6_gre
	// goes straight to gre_parse_header instead.
	linuxV4 := d.Mode == ModeLinux && !d.OverIPv6
	// MinLen, and in ModeLinux over IPv4 the 12 bytes of GRE packet that
	// gre_rcv pulls before it looks at anything else, but for a keepalive
	// reply (see ModeLinux).
	if len(b) < MinLen ||
		linuxV4 && len(b) < linuxMinPacketV4 && Protocol(binary.BigEndian.Uint16(b[2:])) != ProtoKeepalive {
		return Header{}, ErrTruncated
	}
	w := binary.BigEndian.Uint16(b)
	n := MinLen
	switch w & VersionMask {
	case 0:
		switch d.Mode {
		case ModeLinux:
			if w&FlagRouting != 0 || linuxV4 && w&ReservedMaskV1 != 0 {
				return Header{}, ErrReservedBits
			}
		case ModeRFC2784:
			if w&(FlagRouting|FlagStrictRoute|0x0400) != 0 {
				return Header{}, ErrReservedBits
			}
		}
	case 1:
		// gre_parse_header rejects every version but 0, so Linux takes
		// version 1 (PPTP) over IPv4 only.
		if d.Mode == ModeRFC2784 || d.Mode == ModeLinux && d.OverIPv6 {
			return Header{}, ErrVersion
		}
		if linuxV4 && w&ReservedMaskV1 != 0 {
			return Header{}, ErrReservedBits
		}
		// Today's pptp_rcv (drivers/net/ppp/pptp.c) drops a packet whose
		// protocol is not GRE_PROTO_PPP, with GRE_IS_CSUM or
		// GRE_IS_ROUTING, without GRE_IS_KEY, or with "flags & GRE_FLAGS"
		// (include/uapi/linux/if_tunnel.h: 0x0078, bits 9–12, which
		// gre_rcv has already refused). It no longer tests s and
		// recursion control; RFC 2637 §4.1, ModeRFC1701's rule, sets them
		// to zero.
		must := uint16(FlagChecksum | FlagRouting | FlagKey | ReservedMaskV1)
		if d.Mode != ModeLinux {
			must |= FlagStrictRoute | RecursionMask
		}
		if w&must != FlagKey || Protocol(binary.BigEndian.Uint16(b[2:])) != ProtoPPP {
			return Header{}, ErrPPTP
		}
		if w&FlagAck != 0 {
			n += 4
		}
	default:
		return Header{}, ErrVersion
	}
	if w&(FlagChecksum|FlagRouting) != 0 {
		n += 4
	}
	if w&FlagKey != 0 {
		n += 4
	}
	if w&FlagSeq != 0 {
		n += 4
	}
	if len(b) < n {
		return Header{}, ErrTruncated
	}
	if w&FlagRouting != 0 {
		// SREs until the NULL SRE: address family 0 and length 0
		// (RFC 1701 §2.1.7). Each step consumes at least 4 bytes.
		for {
			if len(b) < n+4 {
				return Header{}, ErrTruncated
			}
			af := binary.BigEndian.Uint16(b[n:])
			l := int(b[n+3])
			if af == 0 && l == 0 {
				// The NULL SRE; its offset byte has no meaning, and one
				// that is not zero marks a corrupt routing field.
				if b[n+2] != 0 {
					return Header{}, ErrRouting
				}
				n += 4
				break
			}
			n += 4 + l
			if len(b) < n {
				return Header{}, ErrTruncated
			}
		}
		if uint64(n) > math.MaxUint32 {
			// Past what Header.n holds, and past any IP packet: an IPv6
			// jumbogram carries at most 2^32-1 bytes.
			return Header{}, ErrRouting
		}
	}
	h := Header{b: b, n: uint32(n), w: w, proto: Protocol(binary.BigEndian.Uint16(b[2:]))}
	if !d.NoVerifyChecksum && w&FlagChecksum != 0 && !h.checksumValid() {
		return Header{}, ErrChecksum
	}
	return h, nil
}

// optLen is the length of a version 0 header without routing, indexed by
// the top 4 bits of the flags word (C R K S): 4, plus 4 for the checksum
// and offset word (C or R), 4 for the key (K), 4 for the sequence number
// (S).
var optLen = [16]uint8{
	4, 8, 8, 12, // C=0 R=0: -, S, K, KS
	8, 12, 12, 16, // C=0 R=1
	8, 12, 12, 16, // C=1 R=0
	8, 12, 12, 16, // C=1 R=1
}

// rules returns what the fast path of Parse asks of a packet in d's mode
// beyond what every mode asks, as the full validation does: minPacket,
// the shortest GRE packet (header and payload), linuxMinPacketV4 in
// ModeLinux over IPv4 (gre_rcv's 12 bytes; the full validation excepts
// keepalive replies, which the fast path leaves to it) and MinLen
// otherwise; and rejectV0, the flag bits besides R rejected in a version
// 0 header: bits 9–12 in ModeLinux over IPv4, s and the top recursion bit
// in ModeRFC2784. One function for both, so that the fast path tests the
// mode once.
func (d Decoder) rules() (minPacket int, rejectV0 uint16) {
	switch {
	case d.Mode == ModeLinux && !d.OverIPv6:
		return linuxMinPacketV4, ReservedMaskV1
	case d.Mode == ModeRFC2784:
		return MinLen, FlagStrictRoute | 0x0400
	}
	return MinLen, 0
}

// FlagsVersion returns the first 16 bits of the header as Parse read them.
func (h Header) FlagsVersion() uint16 { return h.w }

// Version returns the version number: 0 (RFC 1701/2784) or 1 (PPTP).
func (h Header) Version() uint8 { return uint8(h.w & VersionMask) }

// Protocol returns the protocol type of the payload.
func (h Header) Protocol() Protocol { return h.proto }

// Len returns the length of the header, routing included.
func (h Header) Len() int { return int(h.n) }

// Bytes returns the header bytes (a sub-slice of the parsed buffer).
func (h Header) Bytes() []byte { return h.b[:h.n] }

// Payload returns what follows the header (a sub-slice, never a copy).
func (h Header) Payload() []byte { return h.b[h.n:] }

// Packet returns the whole GRE packet given to Parse: header and payload.
func (h Header) Packet() []byte { return h.b }

// ChecksumPresent reports whether the C bit is set.
func (h Header) ChecksumPresent() bool { return h.w&FlagChecksum != 0 }

// RoutingPresent reports whether the R bit is set.
func (h Header) RoutingPresent() bool { return h.w&FlagRouting != 0 }

// StrictSourceRoute reports whether the s bit is set (RFC 1701).
func (h Header) StrictSourceRoute() bool { return h.w&FlagStrictRoute != 0 }

// Recursion returns the recursion control field (RFC 1701), 0–7.
func (h Header) Recursion() uint8 { return uint8(h.w & RecursionMask >> 8) }

// Reserved returns the reserved flag bits shifted down: bits 8–12 of
// version 0 (0–31), or bits 9–12 of version 1 (always 0 once parsed).
func (h Header) Reserved() uint8 {
	w := h.w
	if w&VersionMask == 1 {
		return uint8(w & ReservedMaskV1 >> 3)
	}
	return uint8(w & ReservedMaskV0 >> 3)
}

// Checksum returns the Checksum field and whether C is set. When only R is
// set the field is present but holds no checksum: ok is false and the
// value is in Fields.Checksum.
func (h Header) Checksum() (sum uint16, ok bool) {
	if h.w&FlagChecksum == 0 {
		return 0, false
	}
	return binary.BigEndian.Uint16(h.b[4:]), true
}

// Offset returns the Offset field (RFC 1701) and whether it is present
// (C or R set). RFC 1701 gives it meaning only when R is set: the byte
// offset from the start of the Routing field to the active SRE.
func (h Header) Offset() (off uint16, ok bool) {
	if h.w&(FlagChecksum|FlagRouting) == 0 {
		return 0, false
	}
	return binary.BigEndian.Uint16(h.b[6:]), true
}

func (h Header) keyOff() int {
	if h.w&(FlagChecksum|FlagRouting) != 0 {
		return 8
	}
	return 4
}

func (h Header) seqOff() int {
	o := h.keyOff()
	if h.w&FlagKey != 0 {
		o += 4
	}
	return o
}

func (h Header) ackOff() int {
	o := h.seqOff()
	if h.w&FlagSeq != 0 {
		o += 4
	}
	return o
}

func (h Header) routingOff() int {
	o := h.ackOff()
	if h.w&(FlagAck|VersionMask) == FlagAck|1 {
		o += 4
	}
	return o
}

// Key returns the Key field and whether K is set. In version 1 the key
// holds the payload length and call ID: see PayloadLength and CallID.
func (h Header) Key() (k Key, ok bool) {
	if h.w&FlagKey == 0 {
		return 0, false
	}
	return Key(binary.BigEndian.Uint32(h.b[h.keyOff():])), true
}

// Seq returns the Sequence Number field and whether S is set.
func (h Header) Seq() (seq uint32, ok bool) {
	if h.w&FlagSeq == 0 {
		return 0, false
	}
	return binary.BigEndian.Uint32(h.b[h.seqOff():]), true
}

// Ack returns the Acknowledgment Number (version 1) and whether A is set.
// In version 0 the A bit position is a reserved flag and Ack reports false.
func (h Header) Ack() (ack uint32, ok bool) {
	if h.w&(FlagAck|VersionMask) != FlagAck|1 {
		return 0, false
	}
	return binary.BigEndian.Uint32(h.b[h.ackOff():]), true
}

// PayloadLength returns, for version 1, the payload length from the high
// half of the key: the size of the payload without the GRE header.
func (h Header) PayloadLength() uint16 {
	k, _ := h.Key()
	return uint16(k >> 16)
}

// CallID returns, for version 1, the peer's call ID from the low half of
// the key.
func (h Header) CallID() uint16 {
	k, _ := h.Key()
	return uint16(k)
}

// Routing returns an iterator over the SREs of the routing field, without
// the NULL SRE that ends it. It yields nothing when R is clear.
func (h Header) Routing() SREIter {
	if !h.RoutingPresent() {
		return SREIter{}
	}
	return SREIter{b: h.b[h.routingOff():h.n]}
}

// ChecksumValid reports whether the checksum over the header and payload
// is correct; it is false when C is clear.
func (h Header) ChecksumValid() bool {
	return h.w&FlagChecksum != 0 && h.checksumValid()
}

// checksumValid: the one's complement sum over header and payload, the
// Checksum field included, is all ones (RFC 2784 §2.5, RFC 1071).
func (h Header) checksumValid() bool {
	return checksum.Sum(h.b, 0) == 0xffff
}

// Fields copies the header into f, resetting every field and reusing
// f.Routing's storage; SRE information stays a sub-slice of the packet.
// It allocates only when f.Routing lacks capacity for the SREs.
func (h Header) Fields(f *Fields) {
	w := h.w
	routing := f.Routing[:0]
	*f = Fields{
		Version:           uint8(w & VersionMask),
		Protocol:          h.Protocol(),
		ChecksumPresent:   w&FlagChecksum != 0,
		RoutingPresent:    w&FlagRouting != 0,
		KeyPresent:        w&FlagKey != 0,
		SeqPresent:        w&FlagSeq != 0,
		StrictSourceRoute: w&FlagStrictRoute != 0,
		Recursion:         h.Recursion(),
		Reserved:          h.Reserved(),
	}
	if w&(FlagChecksum|FlagRouting) != 0 {
		f.Checksum = binary.BigEndian.Uint16(h.b[4:])
		f.Offset = binary.BigEndian.Uint16(h.b[6:])
	}
	f.Key, _ = h.Key()
	f.Seq, _ = h.Seq()
	f.Ack, f.AckPresent = h.Ack()
	if f.RoutingPresent {
		it := h.Routing()
		for it.Next() {
			routing = append(routing, it.SRE())
		}
	}
	f.Routing = routing
}
