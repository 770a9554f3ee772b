package mobile_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/iphdr"
	"github.com/ipencap/ipencap/mobile"
	"github.com/ipencap/ipencap/outer"
)

func TestConfigValidate(t *testing.T) {
	v6 := netip.MustParseAddr("2001:db8::1")
	tests := []struct {
		name   string
		cfg    mobile.Config
		field  string
		value  string
		errMsg string
	}{
		{"valid", mobile.Config{Local: homeAg, Remote: careOf}, "", "", ""},
		{"local missing", mobile.Config{Remote: careOf}, "local", "(none)",
			"mobile: local (none): local and remote must be specified IPv4 addresses"},
		{"local unspecified", mobile.Config{Local: netip.IPv4Unspecified(), Remote: careOf}, "local", "0.0.0.0", ""},
		{"local IPv6", mobile.Config{Local: v6, Remote: careOf}, "local", "2001:db8::1", ""},
		{"local IPv4-mapped", mobile.Config{Local: netip.AddrFrom16(homeAg.As16()), Remote: careOf}, "local", "::ffff:192.0.2.1", ""},
		{"remote missing", mobile.Config{Local: homeAg}, "remote", "(none)", ""},
		{"remote unspecified", mobile.Config{Local: homeAg, Remote: netip.IPv4Unspecified()}, "remote", "0.0.0.0", ""},
		{"remote IPv6", mobile.Config{Local: homeAg, Remote: v6}, "remote", "2001:db8::1",
			"mobile: remote 2001:db8::1: local and remote must be specified IPv4 addresses"},
		{"remote IPv4-mapped", mobile.Config{Local: homeAg, Remote: netip.AddrFrom16(careOf.As16())}, "remote", "::ffff:198.51.100.7", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			e, err2 := mobile.NewEncapsulator(tt.cfg)
			if tt.field == "" {
				require.NoError(t, err)
				require.NoError(t, err2)
				assert.Equal(t, tt.cfg, e.Config())
				assert.Equal(t, mobile.MaxLen, e.Overhead())
				return
			}
			require.ErrorIs(t, err, mobile.ErrConfigAddr)
			var ce *mobile.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.field, ce.Field)
			assert.Equal(t, tt.value, ce.Value)
			if tt.errMsg != "" {
				assert.EqualError(t, err, tt.errMsg)
			}
			assert.Nil(t, e)
			assert.Equal(t, err, err2)
		})
	}
}

// TestEncapVector: a 40-byte datagram, encapsulated by its own source
// (S=0), compared byte for byte.
func TestEncapVector(t *testing.T) {
	b := datagram(12, 40, nil)
	payload := append([]byte(nil), b[32:]...)
	start, err := encS0.Encap(b, 12)
	require.NoError(t, err)
	require.Equal(t, 4, start)
	want := []byte{
		0x45, 0xb8, 0x00, 0x30, // version 4, IHL 5, TOS 0xb8, total length 48 (40 + 8)
		0x12, 0x34, 0x40, 0x00, // ID 0x1234, DF
		0x40, 0x37, 0x00, 0x00, // TTL 64, protocol 55, checksum (below)
		203, 0, 113, 10, // source: the original source
		198, 51, 100, 7, // destination: the tunnel exit
		17, 0x00, 0xb2, 0xea, // minimal header: UDP, S=0, checksum
		203, 0, 113, 20, // original destination
	}
	iphdr.IPv4(want).ComputeChecksum()
	assert.Equal(t, want, b[start:start+28])
	assert.Equal(t, payload, b[start+28:], "payload not moved")
}

func TestEncapDecap(t *testing.T) {
	for _, opts := range [][]byte{nil, optsNOP, optsRoute, bytes.Repeat([]byte{1}, 40)} {
		for _, e := range []*mobile.Encapsulator{encS0, encS1} {
			for _, n := range []int{20 + len(opts), 64, 1400} {
				withSrc := e == encS1
				name := fmt.Sprintf("options %d/S %v/%d bytes", len(opts), withSrc, n)
				t.Run(name, func(t *testing.T) {
					const headroom = 16
					b := datagram(headroom, n, opts)
					orig := append([]byte(nil), b[headroom:]...)
					hl := 20 + len(opts)
					payloadAt := &b[headroom+hl-1] // last header byte: the payload (possibly empty) follows

					start, err := e.Encap(b, headroom)
					require.NoError(t, err)
					mlen := 8
					if withSrc {
						mlen = 12
					}
					require.Equal(t, headroom-mlen, start)
					out := b[start:]
					require.Len(t, out, n+mlen)
					assert.Same(t, payloadAt, &b[start+hl+mlen-1], "the payload stays put")

					h, err := iphdr.CheckIPv4(out, true)
					require.NoError(t, err)
					assert.Equal(t, hl, h.HeaderLen())
					assert.Equal(t, opts, nilIfEmpty(h.Options()))
					assert.Equal(t, uint8(0xb8), h.TOS())
					assert.Equal(t, uint16(0x1234), h.ID())
					assert.Equal(t, uint16(iphdr.IPv4FlagDF), h.FlagsFragOff())
					assert.Equal(t, uint8(64), h.TTL(), "TTL untouched")
					assert.Equal(t, uint8(outer.ProtoMinimal), h.Protocol())
					assert.Equal(t, careOf, h.Dst())
					if withSrc {
						assert.Equal(t, homeAg, h.Src())
					} else {
						assert.Equal(t, origSrc, h.Src())
					}
					m, err := mobile.Parse(h.Payload())
					require.NoError(t, err)
					assert.Equal(t, outer.IPProto(17), m.Protocol())
					assert.Equal(t, origDst, m.Dst())
					src, ok := m.Src()
					assert.Equal(t, withSrc, ok)
					if withSrc {
						assert.Equal(t, origSrc, src)
					}
					assert.Equal(t, orig[hl:], m.Payload())

					outerSrc := h.Src() // h views out, which Decap rewrites
					p, o, err := decap(out)
					require.NoError(t, err)
					assert.Equal(t, orig, p)
					assert.Same(t, &b[headroom], &p[0], "decapsulated where it was before")
					assert.Equal(t, careOf, o.Dst, "the outer addresses stay readable in o")
					assert.Equal(t, outerSrc, o.Src)
				})
			}
		}
	}
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func TestEncapErrors(t *testing.T) {
	edit := func(f func(p []byte)) []byte { // a 60-byte datagram behind 12 bytes of headroom
		b := datagram(12, 60, nil)
		f(b[12:])
		return b
	}
	fixed := func(f func(p []byte)) []byte { // edited, checksum fixed
		return edit(func(p []byte) { f(p); iphdr.IPv4(p).ComputeChecksum() })
	}
	tests := []struct {
		name string
		b    []byte
		off  int
		e    *mobile.Encapsulator
		err  error
	}{
		{"negative offset", datagram(12, 60, nil), -1, encS1, mobile.ErrShortBuffer},
		{"offset past the end", datagram(12, 60, nil), 73, encS1, mobile.ErrShortBuffer},
		{"7 bytes of headroom", datagram(7, 60, nil), 7, encS0, mobile.ErrShortBuffer},
		{"11 bytes of headroom with S", datagram(11, 60, nil), 11, encS1, mobile.ErrShortBuffer},
		{"empty", make([]byte, 12), 12, encS1, mobile.ErrTruncated},
		{"19 bytes", datagram(12, 60, nil)[:31], 12, encS1, mobile.ErrTruncated},
		{"IPv6 datagram", edit(func(p []byte) { p[0] = 0x60 }), 12, encS1, mobile.ErrVersion},
		{"IHL 4", fixed(func(p []byte) { p[0] = 0x44 }), 12, encS1, mobile.ErrHeaderLen},
		{"IHL beyond the buffer", fixed(func(p []byte) { p[0] = 0x4f })[:12+59], 12, encS1, mobile.ErrTruncated},
		{"total length beyond the buffer", datagram(12, 60, nil)[:71], 12, encS1, mobile.ErrTruncated},
		{"total length short of the buffer", fixed(func(p []byte) { iphdr.IPv4(p).SetTotalLen(59) }), 12, encS1, mobile.ErrLength},
		{"bad checksum", edit(func(p []byte) { p[8]-- }), 12, encS1, mobile.ErrIPChecksum},
		{"MF", fixed(func(p []byte) { iphdr.IPv4(p).SetFlagsFragOff(iphdr.IPv4FlagMF) }), 12, encS1, mobile.ErrFragment},
		{"offset", fixed(func(p []byte) { iphdr.IPv4(p).SetFlagsFragOff(iphdr.IPv4FlagDF | 1) }), 12, encS1, mobile.ErrFragment},
		{"65535 bytes + 8", datagram(12, 65535-7, nil), 12, encS0, mobile.ErrTooLong},
		{"65535 bytes + 12", datagram(12, 65535-11, nil), 12, encS1, mobile.ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := append([]byte(nil), tt.b...)
			_, err := tt.e.Encap(tt.b, tt.off)
			require.ErrorIs(t, err, tt.err)
			assert.True(t, bytes.Equal(orig, tt.b), "buffer untouched on error")
		})
	}

	// The largest datagrams that fit.
	b := datagram(12, 65535-8, nil)
	start, err := encS0.Encap(b, 12)
	require.NoError(t, err)
	assert.Equal(t, 4, start)
	b = datagram(12, 65535-12, nil)
	start, err = encS1.Encap(b, 12)
	require.NoError(t, err)
	assert.Equal(t, 0, start)
	assert.Equal(t, careOf, iphdr.IPv4(b).Dst())
}

// TestEncapConcurrent: one Encapsulator shared by several goroutines, each
// with its own buffer (run with -race).
func TestEncapConcurrent(t *testing.T) {
	const workers, each = 8, 200
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := datagram(12, 100, optsNOP)
			orig := append([]byte(nil), b[12:]...)
			for range each {
				start, err := encS1.Encap(b, 12)
				if err != nil {
					errs[w] = err
					return
				}
				p, _, err := decap(b[start:])
				if err != nil || !bytes.Equal(p, orig) {
					errs[w] = errors.Join(err, errors.New("round trip changed the datagram"))
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
}
