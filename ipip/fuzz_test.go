package ipip_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/ipencap/ipencap/iphdr"
	"github.com/ipencap/ipencap/ipip"
	"github.com/ipencap/ipencap/outer"
)

// FuzzDecap feeds arbitrary bytes to Parse and Decap. Neither may panic,
// every error must be one of the package's sentinels, and what they return
// must lie inside the input. Whatever Decap accepts is re-encapsulated with
// the outer fields it reported and decapsulated again: the inner packet
// and the outer fields must come back unchanged (and with no ECN alarm:
// RFC 6040 normal-mode encapsulation followed by decapsulation is the
// identity).
func FuzzDecap(f *testing.F) {
	for _, kind := range tunnelKinds {
		f.Add(tunnelPacket(f, kind, 60)) // 4in4, 6in4, 4in6, 6in6 as Encap builds them
	}
	ce := tunnelPacket(f, tunnelKinds[0], 60)
	setOuterECN(ce, outer.CE)
	f.Add(ce)                                                                        // outer CE over Not-ECT: ErrECNDrop
	f.Add(withExt(f, extHopByHop, extEncapLimit))                                    // 6in6 behind hop-by-hop and encapsulation limit
	f.Add(withExt(f, extDiscard))                                                    // option that must not be skipped
	f.Add(withExt(f, extFragment))                                                   // IPv6 fragment header
	f.Add([]byte{0x4f, 0, 0, 0x3c})                                                  // IHL 15 in a 4-byte buffer
	f.Add([]byte{0x60, 0, 0, 0, 0xff, 0xff, 0x29, 0x40})                             // IPv6 payload length 65535 in 8 bytes
	f.Add(append([]byte{0x45, 0, 0, 20, 0, 0, 0x20, 0, 64, 4}, make([]byte, 10)...)) // MF set, bad checksum
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := append([]byte(nil), b...)
		o, payload, err := outer.Parse(b)
		if !bytes.Equal(orig, b) {
			t.Fatal("Parse modified its input")
		}
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("Parse: unexpected error %v", err)
			}
		} else if o.HeaderLen+len(payload) > len(b) || !bytes.Equal(payload, b[o.HeaderLen:o.HeaderLen+len(payload)]) {
			t.Fatalf("Parse: payload not at HeaderLen %d", o.HeaderLen)
		}

		inner, o2, err2 := decap(b)
		if err != nil && !errors.Is(err2, err) {
			t.Fatalf("Parse said %v, Decap %v", err, err2)
		}
		if err2 != nil {
			if !isSentinel(err2) {
				t.Fatalf("Decap: unexpected error %v", err2)
			}
			if !bytes.Equal(orig, b) {
				t.Fatal("Decap modified its input and failed")
			}
			return
		}
		o2.ECNAlarm = false
		if o2 != o {
			t.Fatalf("Decap outer %+v, Parse %+v", o2, o)
		}
		if len(inner) == 0 || len(inner) > len(payload) || &inner[0] != &payload[0] {
			t.Fatal("Decap: inner is not a prefix of the payload")
		}

		// Re-encapsulate with the fields Decap reported.
		if o.Src.Is4In6() || o.Dst.Is4In6() || o.Src.Is4() != o.Dst.Is4() || o.Src.IsUnspecified() || o.Dst.IsUnspecified() {
			return // Config refuses IPv4-mapped and unspecified outer addresses
		}
		cfg := ipip.Config{Local: o.Src, Remote: o.Dst, TTL: o.TTL, TOS: o.TOS &^ 3}
		e, err := ipip.NewEncapsulator(cfg)
		if err != nil {
			t.Fatalf("NewEncapsulator(%+v): %v", cfg, err)
		}
		buf := make([]byte, e.Overhead()+len(inner))
		copy(buf[e.Overhead():], inner)
		start, err := e.Encap(buf, e.Overhead())
		if err != nil {
			t.Fatalf("re-encapsulating what Decap accepted: %v", err)
		}
		inner3, o3, err := decap(buf[start:])
		if err != nil {
			t.Fatalf("decapsulating the re-encapsulated packet: %v", err)
		}
		if !bytes.Equal(inner3, inner) {
			t.Fatalf("inner changed:\n%x\n%x", inner, inner3)
		}
		want := outer.Outer{Src: o.Src, Dst: o.Dst, TTL: o.TTL, TOS: o.TOS&^3 | uint8(outer.EncapECN(outer.ECNOf(innerTOS(inner)))),
			Protocol: o.Protocol, HeaderLen: e.Overhead(), Len: e.Overhead() + len(inner)}
		if o.TTL == 0 {
			want.TTL = innerTTL(inner)
		}
		if o3 != want {
			t.Fatalf("outer %+v, want %+v", o3, want)
		}
	})
}

// FuzzEncapDecap builds a valid inner packet from the fuzzer's bytes in
// each of the four combinations (kind&3: 4in4, 6in4, 4in6, 6in6), with the
// TTL, TOS, DF and ECN options drawn from cfg, and checks that
// decapsulate(encapsulate(p)) == p byte for byte, and that the outer
// header follows the configured rules.
func FuzzEncapDecap(f *testing.F) {
	f.Add(uint8(0), uint32(0), packet4(0, 60, 64, 0, true))                    // 4in4, defaults
	f.Add(uint8(1), uint32(0x03ff_40b8), packet6(0, 60, 1, 0xb8|3))            // 6in4, ttl 64 fixed, tos 0xb8, inner CE
	f.Add(uint8(2), uint32(0x0100_0002), packet4(0, 1400, 255, 0xb8|1, false)) // 4in6, inherit tos, inner ECT(1)
	f.Add(uint8(3), uint32(0x0c00_0000), packet6(0, 41, 9, 2))                 // 6in6, ECN compat, one payload byte
	f.Add(uint8(0), uint32(0x0200_0000), packet4(0, 24, 1, 0, true))           // 4in4, nopmtudisc, inner DF
	f.Add(uint8(2), uint32(0), append([]byte{0x4f}, make([]byte, 59)...))      // 4in6, inner IHL 15 (40 bytes of options)
	f.Add(uint8(0), uint32(0), []byte{0x45})                                   // 4in4, a 1-byte input padded to a header
	f.Fuzz(func(t *testing.T, kind uint8, cfgBits uint32, raw []byte) {
		k := tunnelKinds[kind&3]
		p := validInner(k.proto, raw)
		if p == nil {
			return
		}
		cfg := ipip.Config{Local: k.local, Remote: k.remote,
			TTL:        uint8(cfgBits),
			TOS:        uint8(cfgBits>>8) &^ 3,
			InheritTOS: cfgBits&(1<<24) != 0,
			NoPMTUDisc: cfgBits&(1<<25) != 0 && k.local.Is4(),
			ECN:        outer.ECNMode(cfgBits >> 26 & 1),
		}
		if cfg.InheritTOS {
			cfg.TOS = 0
		}
		if cfg.NoPMTUDisc {
			cfg.TTL = 0
		}
		e, err := ipip.NewEncapsulator(cfg)
		if err != nil {
			t.Fatalf("config %+v: %v", cfg, err)
		}
		in, err := outer.InnerOf(p)
		if err != nil {
			t.Fatalf("InnerOf on a valid packet: %v", err)
		}
		const headroom = 48
		buf := make([]byte, headroom+len(p))
		copy(buf[headroom:], p)
		start, err := e.Encap(buf, headroom)
		if len(p) > 0xffff-e.Overhead() && e.Overhead() == outer.IPv4HeaderLen {
			if !errors.Is(err, outer.ErrTooLong) {
				t.Fatalf("%d-byte inner over IPv4: %v", len(p), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Encap: %v", err)
		}
		if start != headroom-e.Overhead() {
			t.Fatalf("start %d", start)
		}
		hdr := append([]byte(nil), buf[start:start+e.Overhead()]...)
		inner, o, err := decap(buf[start:])
		if err != nil {
			t.Fatalf("Decap: %v", err)
		}
		if !bytes.Equal(inner, p) {
			t.Fatalf("decap(encap(p)) != p:\n%x\n%x", p, inner)
		}
		if o.ECNAlarm {
			t.Fatal("ECN alarm on our own packet")
		}

		// The outer header rules.
		wantTTL := cfg.TTL
		if wantTTL == 0 {
			wantTTL = in.TTL
		}
		wantTOS := cfg.TOS
		if cfg.InheritTOS {
			wantTOS = in.TOS &^ 3
		}
		if cfg.ECN == outer.ECNNormal {
			wantTOS |= uint8(outer.EncapECN(outer.ECNOf(in.TOS)))
		}
		want := outer.Outer{Src: k.local, Dst: k.remote, TTL: wantTTL, TOS: wantTOS, Protocol: k.proto, HeaderLen: e.Overhead(), Len: len(buf) - start}
		if o != want {
			t.Fatalf("outer %+v, want %+v", o, want)
		}
		if k.local.Is4() {
			h := iphdr.IPv4(hdr)
			if h.DF() != (!cfg.NoPMTUDisc || in.DF) || h.IsFragment() || h.ID() == 0 {
				t.Fatalf("outer flags %#04x, ID %d", h.FlagsFragOff(), h.ID())
			}
		}
	})
}

// validInner turns raw into a valid inner packet for proto: the version
// nibble, IHL, lengths and a nonzero TTL are fixed up; every other byte
// (options, checksum, fragment fields, addresses, payload) is the
// fuzzer's. It returns nil when raw is too long.
func validInner(proto outer.IPProto, raw []byte) []byte {
	if len(raw) > 0xffff-iphdr.IPv6Len {
		return nil
	}
	if proto == outer.ProtoIPIP {
		p := append([]byte(nil), raw...)
		if len(p) < iphdr.IPv4MinLen {
			p = append(p, make([]byte, iphdr.IPv4MinLen-len(p))...)
		}
		ihl := max(int(p[0]&0x0f), 5)
		ihl = min(ihl, len(p)/4)
		p[0] = 0x40 | byte(ihl)
		binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
		if p[8] == 0 {
			p[8] = 1
		}
		return p
	}
	p := append([]byte(nil), raw...)
	if len(p) < iphdr.IPv6Len {
		p = append(p, make([]byte, iphdr.IPv6Len-len(p))...)
	}
	p[0] = 0x60 | p[0]&0x0f
	binary.BigEndian.PutUint16(p[4:], uint16(len(p)-iphdr.IPv6Len))
	if p[7] == 0 {
		p[7] = 1
	}
	return p
}

func innerTTL(p []byte) uint8 {
	if p[0]>>4 == 6 {
		return iphdr.IPv6(p).HopLimit()
	}
	return iphdr.IPv4(p).TTL()
}

func isSentinel(err error) bool {
	for _, s := range []error{outer.ErrTruncated, outer.ErrVersion, outer.ErrHeaderLen, outer.ErrChecksum, outer.ErrFragment,
		outer.ErrOption, ipip.ErrProtocol, outer.ErrInnerTruncated, ipip.ErrVersionMismatch, outer.ErrInnerHeaderLen,
		outer.ErrInnerTTL, outer.ErrECNDrop, outer.ErrMappedAddr} {
		if err == s {
			return true
		}
	}
	return false
}
