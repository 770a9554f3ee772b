package gre

import (
	"encoding/binary"

	"github.com/ipencap/ipencap/checksum"
)

// Fields are the fields of a GRE header, for Encode and Append, and what
// Header.Fields fills in. Field names follow RFC 1701, RFC 2890 and, for
// version 1, RFC 2637.
type Fields struct {
	// Version is 0 (RFC 1701/2784) or 1 (PPTP's enhanced GRE).
	Version uint8
	// Protocol is the protocol type of the payload.
	Protocol Protocol
	// ChecksumPresent is the C bit: "the Checksum field is present and
	// contains valid information". Encode computes the checksum.
	ChecksumPresent bool
	// RoutingPresent is the R bit: the Offset and Routing fields are present.
	RoutingPresent bool
	// KeyPresent is the K bit: the Key field is present.
	KeyPresent bool
	// SeqPresent is the S bit: the Sequence Number field is present.
	SeqPresent bool
	// AckPresent is the A bit of version 1: the Acknowledgment Number is present.
	AckPresent bool
	// StrictSourceRoute is the s bit of RFC 1701.
	StrictSourceRoute bool
	// Recursion is the recursion control field of RFC 1701, 0–7.
	Recursion uint8
	// Reserved holds the reserved flag bits, shifted down: bits 8–12 in
	// version 0 (0–31), bits 9–12 in version 1 (which must be 0).
	Reserved uint8
	// Checksum is the Checksum field as received. Encode computes it when
	// ChecksumPresent, and writes this value unchanged when only
	// RoutingPresent puts the field on the wire (RFC 1701: it then
	// carries no checksum). With ChecksumPresent, Encode writes this value
	// only when it is the other form of the computed one: one's complement
	// arithmetic has two zeros, so when the covered data sums to 0xffff
	// both 0x0000 (what Encode computes) and 0xffff verify, and a header
	// received with 0xffff re-encodes with 0xffff.
	Checksum uint16
	// Offset is the Offset field, on the wire when C or R is set.
	Offset uint16
	// Key is the Key field (RFC 2890). In version 1 it holds PayloadLength
	// in its high half and CallID in its low half: see SetPPTP.
	Key Key
	// Seq is the Sequence Number field.
	Seq uint32
	// Ack is the Acknowledgment Number of version 1.
	Ack uint32
	// Routing lists the SREs, without the NULL SRE that Encode appends.
	Routing []SRE
}

// SetPPTP makes f a version 1 (PPTP) header for PPP payload: K set and the
// key built from the payload length and the peer's call ID.
func (f *Fields) SetPPTP(payloadLen, callID uint16) {
	f.Version = 1
	f.Protocol = ProtoPPP
	f.KeyPresent = true
	f.Key = Key(uint32(payloadLen)<<16 | uint32(callID))
}

// PPTP returns the payload length and call ID of a version 1 key.
func (f *Fields) PPTP() (payloadLen, callID uint16) {
	return uint16(f.Key >> 16), uint16(f.Key)
}

// Len returns the length of the header that Encode writes.
func (f *Fields) Len() int {
	n := MinLen
	if f.ChecksumPresent || f.RoutingPresent {
		n += 4
	}
	if f.KeyPresent {
		n += 4
	}
	if f.SeqPresent {
		n += 4
	}
	if f.AckPresent {
		n += 4
	}
	if f.RoutingPresent {
		for i := range f.Routing {
			n += 4 + len(f.Routing[i].Info)
		}
		n += 4
	}
	return n
}

// Validate reports whether Encode can write f: ErrVersion, ErrPPTP, ErrAck,
// ErrReservedBits or ErrRouting when it cannot. What Validate accepts,
// ModeRFC1701 parses back to the same Fields.
func (f *Fields) Validate() error {
	switch f.Version {
	case 0:
		if f.AckPresent {
			return ErrAck
		}
		if f.Reserved > ReservedMaskV0>>3 {
			return ErrReservedBits
		}
	case 1:
		if !f.KeyPresent || f.ChecksumPresent || f.RoutingPresent || f.StrictSourceRoute ||
			f.Recursion != 0 || f.Reserved != 0 || f.Protocol != ProtoPPP {
			return ErrPPTP
		}
	default:
		return ErrVersion
	}
	if f.Recursion > RecursionMask>>8 {
		return ErrReservedBits
	}
	if !f.RoutingPresent && len(f.Routing) > 0 {
		return ErrRouting
	}
	for i := range f.Routing {
		s := &f.Routing[i]
		if len(s.Info) > 255 || (s.AddressFamily == 0 && len(s.Info) == 0) {
			return ErrRouting
		}
	}
	return nil
}

// Encode writes the header into b[:f.Len()] and returns its length. The
// bytes of b after the header are the payload: with ChecksumPresent the
// checksum covers the header and all of b after it, so slice b to end
// where the payload ends. Encode fails with [ErrShortBuffer] (which
// matches [io.ErrShortBuffer]) when b is shorter than the header, or with
// Validate's error. Encode never allocates.
func (f *Fields) Encode(b []byte) (int, error) {
	if err := f.Validate(); err != nil {
		return 0, err
	}
	n := f.Len()
	if len(b) < n {
		return 0, ErrShortBuffer
	}
	w := uint16(f.Version) | uint16(f.Recursion)<<8
	if f.Version == 1 {
		w |= uint16(f.Reserved) << 3 & ReservedMaskV1
	} else {
		w |= uint16(f.Reserved) << 3 & ReservedMaskV0
	}
	o := MinLen
	if f.ChecksumPresent || f.RoutingPresent {
		if f.ChecksumPresent {
			w |= FlagChecksum
			binary.BigEndian.PutUint16(b[o:], 0)
		} else {
			binary.BigEndian.PutUint16(b[o:], f.Checksum)
		}
		if f.RoutingPresent {
			w |= FlagRouting
		}
		binary.BigEndian.PutUint16(b[o+2:], f.Offset)
		o += 4
	}
	if f.KeyPresent {
		w |= FlagKey
		binary.BigEndian.PutUint32(b[o:], uint32(f.Key))
		o += 4
	}
	if f.SeqPresent {
		w |= FlagSeq
		binary.BigEndian.PutUint32(b[o:], f.Seq)
		o += 4
	}
	if f.AckPresent {
		w |= FlagAck
		binary.BigEndian.PutUint32(b[o:], f.Ack)
		o += 4
	}
	if f.StrictSourceRoute {
		w |= FlagStrictRoute
	}
	if f.RoutingPresent {
		for i := range f.Routing {
			s := &f.Routing[i]
			binary.BigEndian.PutUint16(b[o:], s.AddressFamily)
			b[o+2] = s.Offset
			b[o+3] = byte(len(s.Info))
			copy(b[o+4:], s.Info)
			o += 4 + len(s.Info)
		}
		b[o], b[o+1], b[o+2], b[o+3] = 0, 0, 0, 0
	}
	binary.BigEndian.PutUint16(b, w)
	binary.BigEndian.PutUint16(b[2:], uint16(f.Protocol))
	if f.ChecksumPresent {
		c := checksum.Checksum(b)
		// RFC 1624 §3: 0x0000 and 0xffff are the two forms of zero in
		// one's complement, so when the data sums to 0xffff a checksum
		// field of either verifies. Keep the one f holds, so that what
		// Parse accepted re-encodes byte for byte.
		if (c == 0 || c == 0xffff) && f.Checksum == ^c {
			c = f.Checksum
		}
		binary.BigEndian.PutUint16(b[MinLen:], c)
	}
	return n, nil
}

// Append appends the header and then payload to dst and returns the
// extended slice, with the checksum computed over both when
// ChecksumPresent. It allocates only when dst lacks the capacity for both
// (the idiom of encoding/binary.AppendUint16 and cipher.AEAD.Seal).
func (f *Fields) Append(dst, payload []byte) ([]byte, error) {
	if err := f.Validate(); err != nil {
		return dst, err
	}
	n := f.Len()
	out, pkt := grow(dst, n+len(payload))
	copy(pkt[n:], payload)
	if _, err := f.Encode(pkt); err != nil {
		return dst, err
	}
	return out, nil
}

// grow extends dst by n bytes and returns the extended slice and its last n
// bytes, whose contents are unspecified. It allocates, and copies dst, only
// when cap(dst) is short, as append does; dst[:len(dst)] is never changed.
// It is the one helper behind every Append-style function of the package.
func grow(dst []byte, n int) (out, tail []byte) {
	total := len(dst) + n
	out = dst
	if cap(out) < total {
		out = make([]byte, len(dst), total)
		copy(out, dst)
	}
	out = out[:total]
	return out, out[len(dst):]
}
