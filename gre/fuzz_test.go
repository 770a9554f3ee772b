package gre_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"

	"github.com/ipencap/ipencap/gre"
)

// FuzzParse checks that no input makes Parse panic in any mode, that
// accessors agree with Fields, and that every header ModeRFC1701 accepts
// (with its checksum verified) re-encodes byte for byte:
// encode(decode(b)) == b.
func FuzzParse(f *testing.F) {
	f.Add(vectorCKS)                                                          // C K S over IPv4
	f.Add(vectorPPTP)                                                         // version 1, K S A
	f.Add(vectorRouting)                                                      // R s with an IP SRE
	f.Add([]byte{0, 0, 8, 0})                                                 // plain 4-byte header
	f.Add([]byte{0x80, 0})                                                    // C set, cut short (gopacket panics here)
	f.Add([]byte{0x40, 0, 8, 0, 0, 0, 0, 0, 0, 1, 0, 0})                      // R with an SRE of family 1, length 0, no NULL
	f.Add([]byte{0x40, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0})                      // R with only the NULL SRE
	f.Add([]byte{0x0f, 0xff, 0x86, 0xdd})                                     // every ignorable v0 bit set, plus version 7
	f.Add([]byte{0x20, 0x81, 0x88, 0x0b, 0, 0, 0, 1, 0, 0, 0, 5})             // PPTP ack only
	f.Add([]byte{0x30, 0x00, 0x65, 0x58, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff}) // gretap K S, seq 2^32-1
	f.Add([]byte{0x80, 0x00, 0x7f, 0xff, 0xff, 0xff, 0x00, 0x00})             // C, data sums to 0xffff: checksum 0xffff (-0) must re-encode as 0xffff, not 0x0000
	f.Add([]byte{0x00, 0x78, 0x08, 0x00})                                     // reserved bits 9-12: Linux drops over IPv4, ignores over IPv6
	f.Add([]byte{0x20, 0x00, 0x08, 0x00, 0, 0, 0, 1})                         // K, no payload: 8 bytes, short of gre_rcv's 12 over IPv4, enough over IPv6
	f.Add([]byte{0x00, 0x00, 0x00, 0x00})                                     // keepalive reply: ModeLinux's exception to the 12 bytes
	f.Add([]byte{0x2f, 0x81, 0x88, 0x0b, 0, 0, 0, 1, 0, 0, 0, 5})             // PPTP with s and recursion 7: today's pptp_rcv takes it, RFC 2637 does not
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, d := range []gre.Decoder{
			{Mode: gre.ModeLinux}, {Mode: gre.ModeLinux, OverIPv6: true},
			{Mode: gre.ModeRFC2784}, {Mode: gre.ModeRFC1701},
		} {
			mode := d.Mode
			// Checksums are checked in the round trip below; here a corrupt
			// one must not hide the other checks.
			d.NoVerifyChecksum = true
			h, err := d.Parse(b)
			if err != nil {
				if !errors.Is(err, gre.ErrTruncated) && !errors.Is(err, gre.ErrVersion) &&
					!errors.Is(err, gre.ErrReservedBits) && !errors.Is(err, gre.ErrPPTP) &&
					!errors.Is(err, gre.ErrRouting) {
					t.Fatalf("%v: unexpected error %v", mode, err)
				}
				continue
			}
			if h.Len() > len(b) || !bytes.Equal(h.Bytes(), b[:h.Len()]) || !bytes.Equal(h.Payload(), b[h.Len():]) {
				t.Fatalf("%v: header/payload split wrong", mode)
			}
			if mode == gre.ModeLinux && !d.OverIPv6 && len(b) < 12 && h.Protocol() != gre.ProtoKeepalive {
				t.Fatalf("linux over IPv4 accepted a %d-byte GRE packet; gre_rcv wants 12", len(b))
			}
			var fl gre.Fields
			h.Fields(&fl)
			if fl.Len() != h.Len() {
				t.Fatalf("%v: Fields.Len %d != Header.Len %d", mode, fl.Len(), h.Len())
			}
			if k, ok := h.Key(); ok != fl.KeyPresent || k != fl.Key {
				t.Fatalf("%v: Key accessor disagrees with Fields", mode)
			}
			if s, ok := h.Seq(); ok != fl.SeqPresent || s != fl.Seq {
				t.Fatalf("%v: Seq accessor disagrees with Fields", mode)
			}
			if binary.BigEndian.Uint16(b) != h.FlagsVersion() {
				t.Fatalf("%v: FlagsVersion", mode)
			}
			// With verification (the default) the verdict is ChecksumValid's.
			_, err = gre.Decoder{Mode: mode, OverIPv6: d.OverIPv6}.Parse(b)
			if wantErr := h.ChecksumPresent() && !h.ChecksumValid(); wantErr != errors.Is(err, gre.ErrChecksum) ||
				!wantErr && err != nil {
				t.Fatalf("%v: verifying Parse returned %v; C %v, checksum valid %v",
					mode, err, h.ChecksumPresent(), h.ChecksumValid())
			}
		}
		// encode(decode(b)) == b for what RFC 1701 mode accepts with a valid checksum.
		h, err := gre.Decoder{Mode: gre.ModeRFC1701}.Parse(b)
		if err != nil {
			return
		}
		var fl gre.Fields
		h.Fields(&fl)
		out := make([]byte, len(b))
		copy(out[h.Len():], h.Payload())
		n, err := fl.Encode(out)
		if err != nil {
			t.Fatalf("re-encode of an accepted header failed: %v (%+v)", err, fl)
		}
		if n != h.Len() || !bytes.Equal(out, b) {
			t.Fatalf("encode(decode(b)) != b\n b  = %x\nout = %x", b, out)
		}
	})
}

// FuzzEncode builds Fields from fuzz input and checks decode(encode(f)) == f
// for every Fields that Encode accepts, and that Append agrees with Encode.
func FuzzEncode(f *testing.F) {
	f.Add(uint16(0xb000), uint16(0x0800), uint32(1234), uint32(7), uint32(0), uint16(0), []byte{0xde, 0xad}, []byte(nil))
	f.Add(uint16(0x3081), uint16(0x880b), uint32(0x00041234), uint32(34), uint32(17), uint16(0), []byte{0xff, 0x03}, []byte(nil))
	f.Add(uint16(0x4800), uint16(0x0800), uint32(0), uint32(0), uint32(0), uint16(4), []byte{0x45}, []byte{192, 0, 2, 1})
	f.Add(uint16(0x0000), uint16(0x0000), uint32(0), uint32(0), uint32(0), uint16(0), []byte(nil), []byte(nil))
	f.Fuzz(func(t *testing.T, word, proto uint16, key, seq, ack uint32, offset uint16, payload, sreInfo []byte) {
		fl := gre.Fields{
			Version:           uint8(word & gre.VersionMask),
			Protocol:          gre.Protocol(proto),
			ChecksumPresent:   word&gre.FlagChecksum != 0,
			RoutingPresent:    word&gre.FlagRouting != 0,
			KeyPresent:        word&gre.FlagKey != 0,
			SeqPresent:        word&gre.FlagSeq != 0,
			AckPresent:        word&gre.FlagAck != 0,
			StrictSourceRoute: word&gre.FlagStrictRoute != 0,
			Recursion:         uint8(word & gre.RecursionMask >> 8),
		}
		if fl.ChecksumPresent || fl.RoutingPresent {
			fl.Offset = offset // on the wire only with C or R
		}
		if fl.Version == 1 {
			fl.Reserved = uint8(word & gre.ReservedMaskV1 >> 3)
		} else {
			fl.Reserved = uint8(word & 0x0078 >> 3)
		}
		if fl.KeyPresent {
			fl.Key = gre.Key(key)
		}
		if fl.SeqPresent {
			fl.Seq = seq
		}
		if fl.AckPresent {
			fl.Ack = ack
		}
		if fl.RoutingPresent && len(sreInfo) > 0 {
			if len(sreInfo) > 255 {
				sreInfo = sreInfo[:255]
			}
			fl.Routing = []gre.SRE{{AddressFamily: gre.SREFamilyIP, Offset: uint8(offset), Info: sreInfo}}
		}
		if fl.RoutingPresent && !fl.ChecksumPresent {
			fl.Checksum = ^offset
		}
		buf := make([]byte, fl.Len()+len(payload))
		copy(buf[fl.Len():], payload)
		n, err := fl.Encode(buf)
		if err != nil {
			if fl.Validate() == nil {
				t.Fatalf("Encode failed where Validate passed: %v", err)
			}
			return
		}
		h, err := gre.Decoder{Mode: gre.ModeRFC1701}.Parse(buf)
		if err != nil {
			t.Fatalf("decode of an encoded header failed: %v (%+v)", err, fl)
		}
		if h.Len() != n || !bytes.Equal(h.Payload(), payload) {
			t.Fatalf("length/payload changed")
		}
		var back gre.Fields
		h.Fields(&back)
		want := fl
		if want.ChecksumPresent {
			want.Checksum = back.Checksum
		}
		if !fieldsEqual(want, back) {
			t.Fatalf("decode(encode(f)) != f\n f   = %+v\nback = %+v", want, back)
		}
		app, err := fl.Append(nil, payload)
		if err != nil || !bytes.Equal(app, buf) {
			t.Fatalf("Append disagrees with Encode: %v", err)
		}
	})
}

func fieldsEqual(a, b gre.Fields) bool {
	ra, rb := a.Routing, b.Routing
	a.Routing, b.Routing = nil, nil
	if !reflect.DeepEqual(a, b) || len(ra) != len(rb) {
		return false
	}
	for i := range ra {
		if ra[i].AddressFamily != rb[i].AddressFamily || ra[i].Offset != rb[i].Offset || !bytes.Equal(ra[i].Info, rb[i].Info) {
			return false
		}
	}
	return true
}
