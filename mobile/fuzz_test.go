package mobile_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/ipencap/ipencap/checksum"
	"github.com/ipencap/ipencap/iphdr"
	"github.com/ipencap/ipencap/mobile"
	"github.com/ipencap/ipencap/outer"
)

// FuzzParse: Parse never panics, its accessors agree with its input, and
// whatever it accepts re-encodes to the same bytes (the checksum may come
// back in its other form of zero, so it is only checked to be valid).
func FuzzParse(f *testing.F) {
	f.Add(vectorS0)                                       // S=0 as Encap writes it
	f.Add(vectorS1)                                       // S=1
	f.Add(vectorS1[:8])                                   // S=1 but only 8 bytes
	f.Add([]byte{17, 0x7f, 0, 0, 0, 0, 0, 0})             // every reserved bit
	f.Add([]byte{0, 0, 0xff, 0xff, 0, 0, 0, 0})           // all zero but the checksum: valid
	f.Add(append(append([]byte(nil), vectorS0...), 1, 2)) // with a payload
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := mobile.Parse(b)
		if err != nil {
			if err != mobile.ErrTruncated && err != mobile.ErrReservedBits && err != mobile.ErrChecksum {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		n := h.Len()
		if n != 8 && n != 12 || n > len(b) || !bytes.Equal(h.Bytes(), b[:n]) || !bytes.Equal(h.Payload(), b[n:]) {
			t.Fatalf("Len %d, header/payload split wrong", n)
		}
		if h.SourcePresent() != (b[1]&0x80 != 0) || uint8(h.Protocol()) != b[0] || h.Checksum() != binary.BigEndian.Uint16(b[2:]) {
			t.Fatal("accessors disagree with the bytes")
		}
		var fl mobile.Fields
		h.Fields(&fl)
		if fl.Len() != n {
			t.Fatalf("Fields.Len %d != Len %d", fl.Len(), n)
		}
		out := make([]byte, 12)
		m, err := fl.Encode(out)
		if err != nil || m != n {
			t.Fatalf("Encode: %d, %v", m, err)
		}
		if !bytes.Equal(out[:2], b[:2]) || !bytes.Equal(out[4:n], b[4:n]) || checksum.Sum(out[:n], 0) != 0xffff {
			t.Fatalf("re-encoded %x, parsed %x", out[:n], b[:n])
		}
		h2, err := mobile.Parse(out[:n])
		if err != nil {
			t.Fatalf("re-encoded header refused: %v", err)
		}
		var fl2 mobile.Fields
		h2.Fields(&fl2)
		if fl2 != fl {
			t.Fatalf("fields %+v, then %+v", fl, fl2)
		}
	})
}

// FuzzDecap feeds arbitrary bytes to the receive path, outer.Parse and
// then Decap: neither may panic, each must return a sentinel error and
// leave b alone, or Decap a datagram inside b. What Decap accepts is
// encapsulated again by an Encapsulator from the encapsulator to the
// tunnel exit that the input showed, and decapsulated again: the datagram
// must come back unchanged; and when the input was in the form Encap
// writes (S set only if the outer source differs from the original one),
// the re-encapsulated bytes equal the input but for the checksums' form of
// zero. With fix set, the harness first writes correct checksums into
// whatever IPv4 and minimal headers the bytes hold, so that the fuzzer
// reaches the accepting paths, which random checksums almost never do.
func FuzzDecap(f *testing.F) {
	for _, e := range []*mobile.Encapsulator{encS0, encS1} {
		f.Add(encapsulated(f, e, 60, optsNOP), false) // S=0 and S=1 with options, as Encap writes them
	}
	f.Add(datagram(0, 40, nil), false)                                                       // protocol 17: ErrProtocol
	f.Add([]byte{0x45, 0, 0, 28, 0, 0, 0, 0, 64, 55, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}, true)    // total length past the end
	f.Add([]byte{0x4f, 0, 0, 20, 0, 0, 0, 0, 64, 55, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0}, true) // IHL 15 in 21 bytes
	f.Add(append([]byte{0x45, 0, 0, 32, 0, 0, 0, 0, 64, 55, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8,    // protocol 55, checksums
		17, 0x80, 0, 0, 9, 9, 9, 9}, 1, 2, 3, 4), true) // to be fixed: S=1 with source 1.2.3.4 as the outer one
	f.Fuzz(func(t *testing.T, b []byte, fix bool) {
		if fix {
			fixChecksums(b)
		}
		orig := append([]byte(nil), b...)
		p, o, err := decap(b)
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("unexpected error %v", err)
			}
			if !bytes.Equal(orig, b) {
				t.Fatal("the receive path modified b and failed")
			}
			return
		}
		oh := iphdr.IPv4(orig)
		if !o.Src.Is4() || o.HeaderLen != oh.HeaderLen() || o.Len != int(oh.TotalLen()) || o.Src != oh.Src() || o.Dst != oh.Dst() {
			t.Fatalf("o %+v does not describe the outer header it came from", o)
		}
		m, err := mobile.Parse(orig[oh.HeaderLen():oh.TotalLen()])
		if err != nil {
			t.Fatalf("Decap accepted a minimal header Parse refuses: %v", err)
		}
		n := m.Len()
		if len(p) == 0 || &p[0] != &b[n] || len(p) != int(oh.TotalLen())-n {
			t.Fatal("result is not b[n:total length]")
		}
		h, err := iphdr.CheckIPv4(p, true)
		if err != nil || int(h.TotalLen()) != len(p) {
			t.Fatalf("decapsulated datagram invalid: %v", err)
		}
		if h.TTL() != oh.TTL() || h.ID() != oh.ID() || h.TOS() != oh.TOS() || h.FlagsFragOff() != oh.FlagsFragOff() ||
			!bytes.Equal(h.Options(), oh.Options()) || h.Protocol() != uint8(m.Protocol()) || h.Dst() != m.Dst() {
			t.Fatal("decapsulation changed a field it must keep or restore")
		}

		// The encapsulator was the outer source when S is set, the
		// original source (the same address) when it is not.
		cfg := mobile.Config{Local: o.Src, Remote: o.Dst}
		e, err := mobile.NewEncapsulator(cfg)
		if err != nil {
			if !errors.Is(err, mobile.ErrConfigAddr) || !(o.Src.IsUnspecified() || o.Dst.IsUnspecified()) {
				t.Fatalf("NewEncapsulator(%+v): %v", cfg, err)
			}
			return // 0.0.0.0 on the wire, but refused in a Config
		}
		dgram := append([]byte(nil), p...)
		buf := make([]byte, e.Overhead()+len(p))
		copy(buf[e.Overhead():], p)
		start, err := e.Encap(buf, e.Overhead())
		if err != nil {
			t.Fatalf("re-encapsulating a decapsulated datagram: %v", err)
		}
		canonical := !m.SourcePresent() || oh.Src() != h.Src()
		if canonical {
			got, want := buf[start:], orig[:oh.TotalLen()]
			hl := oh.HeaderLen()
			if len(got) != len(want) || !bytes.Equal(got[:10], want[:10]) || !bytes.Equal(got[12:hl+2], want[12:hl+2]) ||
				!bytes.Equal(got[hl+4:], want[hl+4:]) {
				t.Fatalf("re-encapsulated\n%x\ninput\n%x", got, want)
			}
		}
		p2, o2, err := decap(buf[start:])
		if err != nil {
			t.Fatalf("decapsulating the re-encapsulated datagram: %v", err)
		}
		if !bytes.Equal(p2, dgram) {
			t.Fatalf("datagram changed:\n%x\n%x", dgram, p2)
		}
		if o2.Dst != o.Dst || (canonical && o2.Src != o.Src) {
			t.Fatalf("outer addresses %v > %v, then %v > %v", o.Src, o.Dst, o2.Src, o2.Dst)
		}
	})
}

// FuzzEncap builds a valid IPv4 datagram from the fuzzer's bytes (version,
// IHL, total length and checksum fixed up, fragmentation cleared; options,
// TOS, ID, DF, TTL, protocol, addresses and payload are the fuzzer's) and
// checks that the receive path (outer.Parse, Decap) gives back exactly
// what Encap was given, with S=0 (Local is the original source) and S=1
// (another Local), and that the encapsulated datagram is what RFC 2004
// describes. Mode 0 and 1 both make Local the datagram's source (they were
// "no encapsulator" and "encapsulator = source" before Config made Local
// mandatory); mode 2 takes it from encB.
func FuzzEncap(f *testing.F) {
	f.Add(datagram(0, 60, nil), uint8(0), []byte{198, 51, 100, 7}, []byte{})                   // S=0
	f.Add(datagram(0, 60, optsNOP), uint8(1), []byte{198, 51, 100, 7}, []byte{})               // S=0, encapsulator = source
	f.Add(datagram(0, 60, optsRoute), uint8(2), []byte{198, 51, 100, 7}, []byte{192, 0, 2, 1}) // S=1, record-route option
	f.Add(datagram(0, 20, nil), uint8(2), []byte{0, 0, 0, 0}, []byte{255, 255, 255, 255})      // header only, exit 0.0.0.0: Config refuses it
	f.Add([]byte{0x4f}, uint8(2), []byte{}, []byte{1})                                         // IHL 15 asked of a 1-byte input
	f.Fuzz(func(t *testing.T, raw []byte, mode uint8, exitB, encB []byte) {
		p := validDatagram(raw)
		if p == nil {
			return
		}
		h := iphdr.IPv4(p)
		cfg := mobile.Config{Local: h.Src(), Remote: netip.AddrFrom4(addr4(exitB))}
		if mode%3 == 2 {
			cfg.Local = netip.AddrFrom4(addr4(encB))
		}
		e, err := mobile.NewEncapsulator(cfg)
		if err != nil {
			var ce *mobile.ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, mobile.ErrConfigAddr) ||
				!(cfg.Local.IsUnspecified() || cfg.Remote.IsUnspecified()) {
				t.Fatalf("NewEncapsulator(%+v): %v", cfg, err)
			}
			return
		}
		withSrc := cfg.Local != h.Src()
		n := 8
		if withSrc {
			n = 12
		}
		buf := make([]byte, e.Overhead()+len(p))
		copy(buf[e.Overhead():], p)
		start, err := e.Encap(buf, e.Overhead())
		if len(p)+n > 0xffff {
			if !errors.Is(err, mobile.ErrTooLong) {
				t.Fatalf("%d bytes + %d: %v", len(p), n, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Encap: %v", err)
		}
		if start != e.Overhead()-n {
			t.Fatalf("start %d", start)
		}
		o, payload, err := outer.Parse(buf[start:])
		if err != nil {
			t.Fatalf("encapsulated header: %v", err)
		}
		oh := iphdr.IPv4(buf[start:])
		hl := h.HeaderLen()
		wantSrc := h.Src()
		if withSrc {
			wantSrc = cfg.Local
		}
		if o.Protocol != outer.ProtoMinimal || o.Dst != cfg.Remote || o.Src != wantSrc || o.Len != len(p)+n ||
			o.HeaderLen != hl || o.TTL != h.TTL() || o.TOS != h.TOS() || oh.ID() != h.ID() ||
			oh.FlagsFragOff() != h.FlagsFragOff() || !bytes.Equal(oh.Options(), h.Options()) {
			t.Fatal("encapsulated IPv4 header wrong")
		}
		m, err := mobile.Parse(payload)
		if err != nil {
			t.Fatalf("minimal header: %v", err)
		}
		src, ok := m.Src()
		if uint8(m.Protocol()) != h.Protocol() || m.Dst() != h.Dst() || ok != withSrc || (ok && src != h.Src()) ||
			!bytes.Equal(m.Payload(), p[hl:]) {
			t.Fatal("minimal header wrong")
		}
		got, err := mobile.Decap(buf[start:], &o)
		if err != nil {
			t.Fatalf("Decap: %v", err)
		}
		if !bytes.Equal(got, p) {
			t.Fatalf("decap(encap(p)) != p\n%x\n%x", p, got)
		}
	})
}

// fixChecksums writes correct checksums into the IPv4 header at the start
// of b and into the minimal header after it, as far as b holds them.
func fixChecksums(b []byte) {
	if len(b) < iphdr.IPv4MinLen {
		return
	}
	h := iphdr.IPv4(b)
	hl := h.HeaderLen()
	if hl < iphdr.IPv4MinLen || hl > len(b) {
		return
	}
	m := b[hl:]
	n := 8
	if len(m) > 1 && m[1]&0x80 != 0 {
		n = 12
	}
	if len(m) < n {
		return
	}
	m[2], m[3] = 0, 0
	binary.BigEndian.PutUint16(m[2:], checksum.Checksum(m[:n]))
	h.ComputeChecksum()
}

// validDatagram turns raw into a valid, unfragmented IPv4 datagram (nil
// when raw is too long for one).
func validDatagram(raw []byte) []byte {
	if len(raw) > 0xffff {
		return nil
	}
	p := append([]byte(nil), raw...)
	if len(p) < iphdr.IPv4MinLen {
		p = append(p, make([]byte, iphdr.IPv4MinLen-len(p))...)
	}
	ihl := min(max(int(p[0]&0x0f), 5), len(p)/4)
	h := iphdr.IPv4(p)
	h.SetVersionIHL(ihl * 4)
	h.SetTotalLen(uint16(len(p)))
	h.SetFlagsFragOff(h.FlagsFragOff() &^ (iphdr.IPv4FlagMF | iphdr.IPv4OffsetMask))
	h.ComputeChecksum()
	return p
}

func addr4(b []byte) [4]byte {
	var a [4]byte
	copy(a[:], b)
	return a
}

func isSentinel(err error) bool {
	for _, s := range []error{mobile.ErrTruncated, mobile.ErrProtocol, mobile.ErrReservedBits, mobile.ErrChecksum,
		outer.ErrTruncated, outer.ErrVersion, outer.ErrHeaderLen, outer.ErrChecksum, outer.ErrFragment,
		outer.ErrOption, outer.ErrMappedAddr} {
		if err == s {
			return true
		}
	}
	return false
}
