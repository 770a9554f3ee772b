package ipip_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/iphdr"
	"github.com/ipencap/ipencap/ipip"
	"github.com/ipencap/ipencap/outer"
)

func TestDecapECNTable(t *testing.T) {
	require.Len(t, testpkt.RFC6040, 16)
	for _, tt := range testpkt.RFC6040 {
		t.Run(fmt.Sprintf("inner %v outer %v", tt.Inner, tt.Outer), func(t *testing.T) {
			got, v := outer.DecapECN(tt.Inner, tt.Outer)
			assert.Equal(t, tt.Verdict, v)
			if v != outer.ECNDrop {
				assert.Equal(t, tt.Want, got)
			}
		})
	}
}

// TestDecapECNPackets runs the 16 combinations through Decap over all four
// tunnel kinds: the inner ECN that comes out, the alarm flag, the drop
// error, an untouched DSCP and (IPv4) a still-valid inner checksum.
func TestDecapECNPackets(t *testing.T) {
	for _, kind := range tunnelKinds {
		for _, tt := range testpkt.RFC6040 {
			t.Run(fmt.Sprintf("%s/inner %v outer %v", kind.name, tt.Inner, tt.Outer), func(t *testing.T) {
				const dscp = 0x28 << 2 // AF11 in the inner header
				e, err := ipip.NewEncapsulator(ipip.Config{Local: kind.local, Remote: kind.remote, TTL: 64,
					TOS: 0xb8, ECN: outer.ECNCompat})
				require.NoError(t, err)
				b := kind.inner(e.Overhead(), 100, 9, dscp|uint8(tt.Inner))
				start, err := e.Encap(b, e.Overhead())
				require.NoError(t, err)
				pkt := b[start:]
				setOuterECN(pkt, tt.Outer)

				inner, o, err := decap(pkt)
				assert.Equal(t, tt.Verdict != outer.ECNForward, o.ECNAlarm)
				assert.Equal(t, tt.Outer, o.ECN())
				if tt.Verdict == outer.ECNDrop {
					require.ErrorIs(t, err, outer.ErrECNDrop)
					assert.Nil(t, inner)
					assert.Equal(t, kind.remote, o.Dst, "outer fields come back with the drop")
					return
				}
				require.NoError(t, err)
				tc := innerTOS(inner)
				assert.Equal(t, tt.Want, outer.ECNOf(tc))
				assert.Equal(t, uint8(dscp), tc&^3)
				if inner[0]>>4 == 4 {
					assert.True(t, iphdr.IPv4(inner).ChecksumValid(), "inner checksum after the ECN rewrite")
				}
			})
		}
	}
}

// setOuterECN overwrites the ECN bits of the outer header of pkt (fixing
// the IPv4 checksum).
func setOuterECN(pkt []byte, e outer.ECN) {
	if pkt[0]>>4 == 6 {
		h := iphdr.IPv6(pkt)
		h.SetTrafficClass(h.TrafficClass()&^3 | uint8(e))
		return
	}
	h := iphdr.IPv4(pkt)
	h.SetTOS(h.TOS()&^3 | uint8(e))
	h.ComputeChecksum()
}

func innerTOS(p []byte) uint8 {
	if p[0]>>4 == 6 {
		return iphdr.IPv6(p).TrafficClass()
	}
	return iphdr.IPv4(p).TOS()
}
