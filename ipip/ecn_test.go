package ipip_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/internal/iphdr"
	"github.com/ipencap/ipencap/ipip"
)

// rfc6040 is the RFC 6040 decapsulation table, one row per combination,
// written out cell by cell (SPEC §2.2) rather than computed.
var rfc6040 = []struct {
	inner, outer ipip.ECN
	want         ipip.ECN
	verdict      ipip.ECNVerdict
}{
	{ipip.NotECT, ipip.NotECT, ipip.NotECT, ipip.ECNForward},
	{ipip.NotECT, ipip.ECT0, ipip.NotECT, ipip.ECNAlarm},
	{ipip.NotECT, ipip.ECT1, ipip.NotECT, ipip.ECNAlarm},
	{ipip.NotECT, ipip.CE, 0, ipip.ECNDrop},
	{ipip.ECT0, ipip.NotECT, ipip.ECT0, ipip.ECNForward},
	{ipip.ECT0, ipip.ECT0, ipip.ECT0, ipip.ECNForward},
	{ipip.ECT0, ipip.ECT1, ipip.ECT1, ipip.ECNForward},
	{ipip.ECT0, ipip.CE, ipip.CE, ipip.ECNForward},
	{ipip.ECT1, ipip.NotECT, ipip.ECT1, ipip.ECNForward},
	{ipip.ECT1, ipip.ECT0, ipip.ECT1, ipip.ECNForward},
	{ipip.ECT1, ipip.ECT1, ipip.ECT1, ipip.ECNForward},
	{ipip.ECT1, ipip.CE, ipip.CE, ipip.ECNForward},
	{ipip.CE, ipip.NotECT, ipip.CE, ipip.ECNForward},
	{ipip.CE, ipip.ECT0, ipip.CE, ipip.ECNForward},
	{ipip.CE, ipip.ECT1, ipip.CE, ipip.ECNAlarm},
	{ipip.CE, ipip.CE, ipip.CE, ipip.ECNForward},
}

func TestDecapECNTable(t *testing.T) {
	require.Len(t, rfc6040, 16)
	for _, tt := range rfc6040 {
		t.Run(fmt.Sprintf("inner %v outer %v", tt.inner, tt.outer), func(t *testing.T) {
			got, v := ipip.DecapECN(tt.inner, tt.outer)
			assert.Equal(t, tt.verdict, v)
			if v != ipip.ECNDrop {
				assert.Equal(t, tt.want, got)
			}
		})
	}
}

// TestDecapECNPackets runs the 16 combinations through Decap over all four
// tunnel kinds: the inner ECN that comes out, the alarm flag, the drop
// error, an untouched DSCP and (IPv4) a still-valid inner checksum.
func TestDecapECNPackets(t *testing.T) {
	for _, kind := range tunnelKinds {
		for _, tt := range rfc6040 {
			t.Run(fmt.Sprintf("%s/inner %v outer %v", kind.name, tt.inner, tt.outer), func(t *testing.T) {
				const dscp = 0x28 << 2 // AF11 in the inner header
				e, err := ipip.NewEncapsulator(ipip.Config{Local: kind.local, Remote: kind.remote, TTL: 64,
					TOS: 0xb8, ECN: ipip.ECNCompat})
				require.NoError(t, err)
				b := kind.inner(e.HeaderLen(), 100, 9, dscp|uint8(tt.inner))
				start, err := e.Encap(b, e.HeaderLen())
				require.NoError(t, err)
				pkt := b[start:]
				setOuterECN(pkt, tt.outer)

				inner, o, err := ipip.Decap(pkt)
				assert.Equal(t, tt.verdict != ipip.ECNForward, o.ECNAlarm)
				assert.Equal(t, tt.outer, o.ECN())
				if tt.verdict == ipip.ECNDrop {
					require.ErrorIs(t, err, ipip.ErrECNDrop)
					assert.Nil(t, inner)
					assert.Equal(t, kind.remote, o.Dst, "outer fields come back with the drop")
					return
				}
				require.NoError(t, err)
				tc := innerTOS(inner)
				assert.Equal(t, tt.want, ipip.ECNOf(tc))
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
func setOuterECN(pkt []byte, e ipip.ECN) {
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

func TestEncapECN(t *testing.T) {
	assert.Equal(t, ipip.NotECT, ipip.EncapECN(ipip.NotECT))
	assert.Equal(t, ipip.ECT0, ipip.EncapECN(ipip.ECT0))
	assert.Equal(t, ipip.ECT1, ipip.EncapECN(ipip.ECT1))
	assert.Equal(t, ipip.ECT0, ipip.EncapECN(ipip.CE), "CE becomes ECT(0) on the outer header")
}

func TestApplyECN(t *testing.T) {
	// An IPv4 packet with inner ECT(0); outer CE marks it CE.
	b := packet4(0, 40, 64, 0x02, true)
	alarm, err := ipip.ApplyECN(b, ipip.CE)
	require.NoError(t, err)
	assert.False(t, alarm)
	assert.Equal(t, uint8(0x03), iphdr.IPv4(b).TOS())
	assert.True(t, iphdr.IPv4(b).ChecksumValid())

	// Not-ECT under CE: dropped, packet untouched.
	b = packet4(0, 40, 64, 0x00, true)
	orig := append([]byte(nil), b...)
	alarm, err = ipip.ApplyECN(b, ipip.CE)
	require.ErrorIs(t, err, ipip.ErrECNDrop)
	assert.True(t, alarm)
	assert.Equal(t, orig, b)

	// IPv6: ECT(0) under ECT(1) becomes ECT(1), flow label kept.
	b = packet6(0, 48, 64, 0xb8|0x02)
	_, err = ipip.ApplyECN(b, ipip.ECT1)
	require.NoError(t, err)
	assert.Equal(t, uint8(0xb8|0x01), iphdr.IPv6(b).TrafficClass())
	assert.Equal(t, uint32(0x12345), iphdr.IPv6(b).FlowLabel())

	_, err = ipip.ApplyECN(nil, ipip.CE)
	require.ErrorIs(t, err, ipip.ErrInnerTruncated)
	_, err = ipip.ApplyECN(b[:39], ipip.CE)
	require.ErrorIs(t, err, ipip.ErrInnerTruncated)
	_, err = ipip.ApplyECN([]byte{0x45, 0, 0}, ipip.CE)
	require.ErrorIs(t, err, ipip.ErrInnerTruncated)
	_, err = ipip.ApplyECN(make([]byte, 40), ipip.CE)
	require.ErrorIs(t, err, ipip.ErrInnerVersion)
}

func TestStrings(t *testing.T) {
	assert.Equal(t, "Not-ECT", ipip.NotECT.String())
	assert.Equal(t, "ECT(1)", ipip.ECT1.String())
	assert.Equal(t, "ECT(0)", ipip.ECT0.String())
	assert.Equal(t, "CE", ipip.CE.String())
	assert.Equal(t, "ECN(invalid)", ipip.ECN(4).String())
	assert.Equal(t, "normal", ipip.ECNNormal.String())
	assert.Equal(t, "compat", ipip.ECNCompat.String())
	assert.Equal(t, "ECNMode(invalid)", ipip.ECNMode(2).String())
	assert.Equal(t, "forward", ipip.ECNForward.String())
	assert.Equal(t, "alarm", ipip.ECNAlarm.String())
	assert.Equal(t, "drop", ipip.ECNDrop.String())
	assert.Equal(t, "ECNVerdict(invalid)", ipip.ECNVerdict(3).String())
}
