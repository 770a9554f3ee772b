package gre

import (
	"encoding/binary"
	"math"
	"math/rand"
	"testing"

	"github.com/ipencap/ipencap/checksum"
)

// TestParseFastPath checks that Decoder.Parse, whose fast path handles the
// common headers, returns what parseRef (Parse without the fast path)
// returns for every flags and version word, every decoder (the three modes
// and an unknown one, over IPv4 and IPv6, checksum verified or not),
// buffers of 0 to 24 bytes and one of 64, each with a wrong and a right
// checksum: the same error, and the same Header.
func TestParseFastPath(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	buf := make([]byte, 64)
	lengths := []int{0, 3, 4, 7, 8, 11, 12, 15, 16, 19, 20, 24, 64}
	var decoders []Decoder
	for _, m := range []Mode{ModeLinux, ModeRFC2784, ModeRFC1701, ModeRFC1701 + 1} {
		for _, v6 := range []bool{false, true} {
			for _, nv := range []bool{false, true} {
				decoders = append(decoders, Decoder{Mode: m, OverIPv6: v6, NoVerifyChecksum: nv})
			}
		}
	}
	for w := 0; w <= 0xffff; w++ {
		for _, n := range lengths {
			for _, fix := range []bool{false, true} {
				rng.Read(buf)
				binary.BigEndian.PutUint16(buf, uint16(w))
				if w&7 == 1 {
					binary.BigEndian.PutUint16(buf[2:], uint16(ProtoPPP)) // PPTP passes further
				}
				b := buf[:n]
				if fix && n >= 6 {
					b[4], b[5] = 0, 0
					binary.BigEndian.PutUint16(b[4:], checksum.Checksum(b))
				}
				for _, d := range decoders {
					got, err := d.Parse(b)
					want, wantErr := parseRef(d, b)
					if err != wantErr || got.n != want.n || got.w != want.w || got.proto != want.proto ||
						len(got.b) != len(want.b) || (got.b == nil) != (want.b == nil) {
						t.Fatalf("%+v.Parse(% x) = {n %d w %#04x proto %#04x len %d}, %v; parse: {n %d w %#04x proto %#04x len %d}, %v",
							d, b, got.n, got.w, got.proto, len(got.b), err, want.n, want.w, want.proto, len(want.b), wantErr)
					}
				}
			}
		}
	}
}

// parseRef is Decoder.Parse as it was before its fast path (commit
// d154c3f): the full validation alone, with the rules of today's Linux
// that issue 15 item 16 added (gre_rcv's 12 bytes over IPv4, but for
// keepalive replies; pptp_rcv ignoring s and recursion control).
func parseRef(d Decoder, b []byte) (Header, error) {
	if d.Mode > ModeRFC1701 {
		return Header{}, ErrMode
	}
	if len(b) < MinLen || d.Mode == ModeLinux && !d.OverIPv6 && len(b) < 12 && b[2]|b[3] != 0 {
		return Header{}, ErrTruncated
	}
	w := binary.BigEndian.Uint16(b)
	n := MinLen
	// gre_rcv (net/ipv4/gre_demux.c) drops a GRE-over-IPv4 packet whose
	// bits 9–15 do not read as version 0 or 1: bits 9–12 must be clear in
	// both versions. ip6_gre goes straight to gre_parse_header instead.
	linuxV4 := d.Mode == ModeLinux && !d.OverIPv6
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
		ignored := uint16(0)
		if d.Mode == ModeLinux {
			ignored = FlagStrictRoute | RecursionMask
		}
		if w&^ignored&(FlagChecksum|FlagRouting|FlagKey|FlagStrictRoute|RecursionMask|ReservedMaskV1) != FlagKey ||
			Protocol(binary.BigEndian.Uint16(b[2:])) != ProtoPPP {
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
