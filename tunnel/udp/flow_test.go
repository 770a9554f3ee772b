package udp

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/internal/testpkt"
)

// greIn returns a GRE header with the given flags (fields zero) in front
// of inner.
func greIn(flags, proto uint16, inner []byte) []byte {
	hl := 4
	for _, f := range []uint16{gre.FlagChecksum, gre.FlagKey, gre.FlagSeq} {
		if flags&f != 0 {
			hl += 4
		}
	}
	p := make([]byte, hl, hl+len(inner))
	binary.BigEndian.PutUint16(p, flags)
	binary.BigEndian.PutUint16(p[2:], proto)
	return append(p, inner...)
}

func udp4(sport uint16, frag uint16, fill byte) []byte {
	p := testpkt.BuildIPv4(0, 100, testpkt.IPv4{})
	binary.BigEndian.PutUint16(p[6:], frag)
	binary.BigEndian.PutUint16(p[20:], sport)
	for i := 28; i < len(p); i++ {
		p[i] = fill
	}
	return p
}

func udp6(sport uint16, nh uint8, label uint32) []byte {
	p := testpkt.BuildIPv6(0, 100, testpkt.IPv6{NextHeader: nh, FlowLabel: label})
	binary.BigEndian.PutUint16(p[40:], sport)
	return p
}

func TestFlowHash(t *testing.T) {
	const seed = 1
	h := func(p []byte) uint64 { return flowHash(p, seed) }
	eth := func(vlan bool, ip []byte) []byte {
		f := make([]byte, 12, 80)
		if vlan {
			f = append(f, 0x81, 0x00, 0, 5)
		}
		return append(append(f, 0x08, 0x00), ip...)
	}
	tests := []struct {
		name string
		a, b []byte
		same bool
	}{
		{"payload does not matter", greIn(0, etherIPv4, udp4(1, 0, 1)), greIn(0, etherIPv4, udp4(1, 0, 2)), true},
		{"GRE fields do not move the inner flow", greIn(0xb000, etherIPv4, udp4(1, 0, 1)), greIn(0xb000, etherIPv4, udp4(1, 0, 1)), true},
		{"ports make flows", greIn(0, etherIPv4, udp4(1, 0, 1)), greIn(0, etherIPv4, udp4(2, 0, 1)), false},
		{"ports behind C K S", greIn(0xb000, etherIPv4, udp4(1, 0, 1)), greIn(0xb000, etherIPv4, udp4(2, 0, 1)), false},
		{"fragments hash without ports", greIn(0, etherIPv4, udp4(1, 0x2000, 1)), greIn(0, etherIPv4, udp4(2, 0x0010, 1)), true},
		{"IPv6 ports", greIn(0, etherIPv6, udp6(1, 17, 5)), greIn(0, etherIPv6, udp6(2, 17, 5)), false},
		{"IPv6 without ports: flow label", greIn(0, etherIPv6, udp6(1, 50, 5)), greIn(0, etherIPv6, udp6(1, 50, 6)), false},
		{"IPv6 without ports ignores payload", greIn(0, etherIPv6, udp6(1, 50, 5)), greIn(0, etherIPv6, udp6(2, 50, 5)), true},
		{"Ethernet", greIn(0, etherTEB, eth(false, udp4(1, 0, 1))), greIn(0, etherTEB, eth(false, udp4(2, 0, 1))), false},
		{"Ethernet with VLAN", greIn(0, etherTEB, eth(true, udp4(1, 0, 1))), greIn(0, etherTEB, eth(true, udp4(2, 0, 1))), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.same {
				assert.Equal(t, h(tt.a), h(tt.b))
			} else {
				assert.NotEqual(t, h(tt.a), h(tt.b))
			}
		})
	}
	// Truncated packets neither panic nor allocate.
	p := greIn(0xb000, etherTEB, eth(true, udp4(1, 0, 1)))
	for n := range len(p) {
		_ = h(p[:n])
	}
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = h(p) }))
}

func FuzzFlowHash(f *testing.F) {
	f.Add([]byte{0, 0, 8, 0})                            // GRE, IPv4, nothing behind
	f.Add(greIn(0xb000, etherIPv4, udp4(1, 0, 1)))       // C K S, IPv4 UDP
	f.Add(greIn(0, etherIPv6, udp6(1, 6, 1)))            // IPv6 TCP
	f.Add(greIn(0x2000, etherTEB, make([]byte, 18)))     // TEB, short frame
	f.Add([]byte{0x40, 0x01, 0x88, 0xbe, 1, 2, 3, 4, 5}) // version 1
	f.Fuzz(func(t *testing.T, p []byte) {
		if flowHash(p, 7) != flowHash(append([]byte(nil), p...), 7) {
			t.Fatal("not a function of the bytes")
		}
	})
}
