package gre

import (
	"encoding/binary"

	"github.com/ipencap/ipencap/checksum"
	"github.com/ipencap/ipencap/outer"
)

// Config is the send side of one GRE tunnel, the words of `ip tunnel add
// NAME mode {gre,ip6gre,gretap} local S remote D [okey K] [ocsum] [oseq]
// [ttl N|inherit] [tos T|inherit] [nopmtudisc]`. The receive-side words
// (ikey, icsum, iseq) belong to the receiver: see [Decoder], [SeqWindow]
// and [Reorder].
type Config struct {
	// Outer configures the outer IPv4 or IPv6 header (local, remote, ttl,
	// tos, nopmtudisc). Nil writes no outer header: for GRE-in-UDP (RFC
	// 8086), where the UDP socket adds the IP and UDP headers, or for a raw
	// socket where the kernel writes the IP header.
	Outer *outer.Config
	// KeyPresent sends Key in every packet (okey): the K bit and the Key
	// field of RFC 2890.
	KeyPresent bool
	// Key is the key sent when KeyPresent.
	Key Key
	// Checksum sends the GRE checksum over header and payload (ocsum): the
	// C bit of RFC 2784.
	Checksum bool
	// Seq numbers the packets (oseq): the S bit of RFC 2890, counting from
	// 0 and wrapping.
	Seq bool
	// Protocol fixes the protocol type, e.g. [ProtoTEB] for gretap
	// (Ethernet over GRE) or [ProtoMPLS]. The zero value picks [ProtoIPv4]
	// or [ProtoIPv6] from each inner packet's IP version. With a fixed
	// [ProtoIPv4] or [ProtoIPv6] the inner packet must be of that version.
	Protocol Protocol
}

// Encapsulator encapsulates the packets of one GRE tunnel: the GRE header
// from a template checked once at [NewEncapsulator] (version 0; okey, ocsum
// and oseq as configured), then the outer header, if any. It is safe for
// concurrent use: the sequence counter is atomic and nothing else changes.
type Encapsulator struct {
	// What Encap reads for every packet comes first, the configuration
	// last: a tunnel out of the cache costs as few cache lines as can be.
	outer  *outer.Encapsulator // nil: no outer header
	hdrLen int                 // GRE header length
	seqOff int                 // offset of the sequence number, if cfg.Seq
	seq    SeqCounter
	tmpl   [16]byte // the GRE header but the protocol (when picked per packet), checksum and sequence number
	cfg    Config
}

// NewEncapsulator checks cfg and returns an Encapsulator for it. Errors
// come from [outer.Config.Validate] (a [*outer.ConfigError]).
func NewEncapsulator(cfg Config) (*Encapsulator, error) {
	e := &Encapsulator{cfg: cfg}
	if cfg.Outer != nil {
		o, err := outer.NewEncapsulator(*cfg.Outer)
		if err != nil {
			return nil, err
		}
		e.outer = o
		c := *cfg.Outer
		e.cfg.Outer = &c // a copy: later changes to the caller's Config do not leak in
	}
	f := Fields{Protocol: cfg.Protocol, ChecksumPresent: cfg.Checksum, KeyPresent: cfg.KeyPresent,
		Key: cfg.Key, SeqPresent: cfg.Seq}
	n, err := f.Encode(e.tmpl[:])
	if err != nil {
		return nil, err // cannot happen for a version 0 header without routing
	}
	e.hdrLen = n
	e.seqOff = n - 4
	if cfg.Checksum {
		e.tmpl[4], e.tmpl[5] = 0, 0 // Encode summed the template: Encap sums each packet
	}
	return e, nil
}

// Config returns the configuration e was made with.
func (e *Encapsulator) Config() Config { return e.cfg }

// NextSeq returns the sequence number the next packet will carry (oseq):
// the numbers sent so far are those before it. A receiver of ICMP errors
// checks a quoted sequence number against it (only a recent one can be
// ours). NextSeq never allocates.
func (e *Encapsulator) NextSeq() uint32 { return e.seq.next.Load() }

// Overhead returns the number of bytes Encap writes in front of the inner
// packet, the headroom to read inner packets at: the GRE header (4 bytes,
// plus 4 for each of ocsum, okey and oseq) and the outer header (20 for
// IPv4, 40 for IPv6, 0 without one).
func (e *Encapsulator) Overhead() int {
	if e.outer == nil {
		return e.hdrLen
	}
	return e.hdrLen + e.outer.Overhead()
}

// Encap encapsulates the packet b[off:] in place: it writes the GRE header
// into the bytes in front of it and the outer header in front of that, and
// returns where the tunnel packet starts, so that it is b[start:] (start is
// off - Overhead()). Nothing is copied and Encap never allocates.
//
// Unless Config.Protocol fixes a non-IP protocol, the inner packet must be
// an IPv4 or IPv6 packet that fills b[off:] exactly; it is checked by
// [outer.InnerOf], and its TTL, TOS and DF feed the outer header rules
// ([outer.Encapsulator.Prepend]). The protocol type is 0x0800 or 0x86DD
// from its version. The sequence number is the next of the Encapsulator's
// counter; the checksum covers the GRE header and all of b[off:].
//
// Errors: [ErrShortBuffer] (off smaller than Overhead or past the end),
// those of [outer.InnerOf] ([outer.ErrInnerVersion] also when the inner
// version does not match a fixed IP protocol), and those of Prepend
// ([outer.ErrTooLong]). On error the inner packet is left as it was (the
// headroom may have been written), and a sequence number may have been
// used up.
func (e *Encapsulator) Encap(b []byte, off int) (start int, err error) {
	if off < e.Overhead() || off > len(b) {
		return 0, ErrShortBuffer
	}
	proto := e.cfg.Protocol
	var in outer.Inner
	if proto == 0 || proto == ProtoIPv4 || proto == ProtoIPv6 {
		in, err = outer.InnerOf(b[off:])
		if err != nil {
			return 0, err
		}
		want := ProtoIPv4
		if in.Version == 6 {
			want = ProtoIPv6
		}
		if proto != 0 && proto != want {
			return 0, outer.ErrInnerVersion
		}
		proto = want
	}
	if e.outer == nil && len(b)-off > 0xffff-e.hdrLen {
		// No outer header to refuse it: keep GRE-in-UDP within one datagram.
		return 0, outer.ErrTooLong
	}
	s := off - e.hdrLen
	h := b[s:off:off]
	copy(h, e.tmpl[:e.hdrLen])
	binary.BigEndian.PutUint16(h[2:], uint16(proto))
	if e.cfg.Seq {
		binary.BigEndian.PutUint32(h[e.seqOff:], e.seq.Next())
	}
	if e.cfg.Checksum {
		binary.BigEndian.PutUint16(h[4:], checksum.Checksum(b[s:]))
	}
	if e.outer == nil {
		return s, nil
	}
	return e.outer.Prepend(b, s, outer.ProtoGRE, in)
}
