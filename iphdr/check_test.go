package iphdr

import (
	"encoding/binary"
	"math/rand"
	"net/netip"
	"testing"

	"github.com/ipencap/ipencap/checksum"
)

// checkIPv4Ref is CheckIPv4 as it was written before its fast path and its
// inlined checksum: one check after the other through the view's
// accessors, the checksum through package checksum.
func checkIPv4Ref(b []byte, verifyChecksum bool) (IPv4, error) {
	if len(b) < IPv4MinLen {
		return nil, ErrTruncated
	}
	h := IPv4(b)
	if h.Version() != 4 {
		return nil, ErrVersion
	}
	hl := h.HeaderLen()
	if hl < IPv4MinLen {
		return nil, ErrHeaderLen
	}
	if len(b) < hl {
		return nil, ErrTruncated
	}
	tl := int(h.TotalLen())
	if tl < hl {
		return nil, ErrHeaderLen
	}
	if len(b) < tl {
		return nil, ErrTruncated
	}
	if verifyChecksum && checksum.Sum(b[:hl], 0) != 0xffff {
		return nil, ErrChecksum
	}
	return h, nil
}

// TestCheckIPv4Reference compares CheckIPv4 with checkIPv4Ref on every
// first byte (version and IHL), every total length and buffer length up to
// 72 bytes, with and without checksum verification, the checksum field
// once random and once correct: same error, same view.
func TestCheckIPv4Reference(t *testing.T) {
	rng := rand.New(rand.NewSource(42))
	buf := make([]byte, 72)
	for vihl := 0; vihl < 256; vihl++ {
		for tl := 0; tl <= len(buf); tl++ {
			for n := 0; n <= len(buf); n++ {
				for _, fix := range []bool{false, true} {
					b := buf[:n]
					rng.Read(buf)
					buf[0] = byte(vihl)
					binary.BigEndian.PutUint16(buf[2:], uint16(tl))
					if hl := vihl & 0x0f * 4; fix && hl >= IPv4MinLen && hl <= n {
						buf[10], buf[11] = 0, 0
						binary.BigEndian.PutUint16(buf[10:], checksum.Checksum(buf[:hl]))
					}
					for _, verify := range []bool{false, true} {
						got, err := CheckIPv4(b, verify)
						want, wantErr := checkIPv4Ref(b, verify)
						if err != wantErr || len(got) != len(want) || (got == nil) != (want == nil) {
							t.Fatalf("CheckIPv4(% x, %v) = %d bytes, %v; want %d bytes, %v",
								b, verify, len(got), err, len(want), wantErr)
						}
					}
				}
			}
		}
	}
}

// TestHeaderSumValid checks headerSumValid against ChecksumValid (package
// checksum's RFC 1071 sum) on random headers of every IHL, with random and
// with correct checksum fields, and on the edge where the checksum field
// is 0xffff (a negative zero the sum must still accept).
func TestHeaderSumValid(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	b := make([]byte, IPv4MaxLen)
	for i := 0; i < 200000; i++ {
		hl := (5 + rng.Intn(11)) * 4
		h := IPv4(b[:hl])
		switch i % 4 {
		case 0: // random bytes
			rng.Read(h)
		case 1: // a correct checksum
			rng.Read(h)
			h[0] = 0x40 | byte(hl/4)
			h.ComputeChecksum()
		case 2: // a correct checksum, one bit off
			rng.Read(h)
			h[0] = 0x40 | byte(hl/4)
			h.ComputeChecksum()
			h[rng.Intn(hl)] ^= 1 << rng.Intn(8)
		case 3: // sparse bytes, so that sums of 0 and 0xffff come up
			clear(h)
			for j := 0; j < 3; j++ {
				h[rng.Intn(hl)] = []byte{0xff, 0x00, 0x01, 0xfe}[rng.Intn(4)]
			}
		}
		if got, want := headerSumValid(h), checksum.Sum(h, 0) == 0xffff; got != want {
			t.Fatalf("headerSumValid(% x) = %v, checksum.Sum says %v", []byte(h), got, want)
		}
	}
	// All ones: a sum of 0xffff in every fold.
	for hl := IPv4MinLen; hl <= IPv4MaxLen; hl += 4 {
		h := b[:hl]
		for j := range h {
			h[j] = 0xff
		}
		if got, want := headerSumValid(h), checksum.Sum(h, 0) == 0xffff; got != want {
			t.Fatalf("all ones, %d bytes: headerSumValid %v, checksum.Sum says %v", hl, got, want)
		}
		clear(h)
		if got, want := headerSumValid(h), checksum.Sum(h, 0) == 0xffff; got != want {
			t.Fatalf("all zeros, %d bytes: headerSumValid %v, checksum.Sum says %v", hl, got, want)
		}
	}
}

// BenchmarkCheckIPv4 times CheckIPv4 alone on a 20-byte header, with and
// without the header checksum, and on a header with options (no fast
// path). BenchmarkCompareGopacket in package gre calls it twice per packet.
func BenchmarkCheckIPv4(b *testing.B) {
	plain := append([]byte(nil), v4vector...)
	opts := make([]byte, 64)
	IPv4(opts).Encode(&IPv4Fields{TotalLen: 64, TTL: 1, Protocol: 47,
		Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.2")})
	opts[0] = 0x46 // IHL 6: 4 bytes of options (zeros: end of list)
	IPv4(opts).ComputeChecksum()
	for _, bc := range []struct {
		name   string
		b      []byte
		verify bool
	}{
		{"ihl5", plain, false},
		{"ihl5-verify", plain, true},
		{"ihl6-verify", opts, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := CheckIPv4(bc.b, bc.verify); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
