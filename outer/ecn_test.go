package outer_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/iphdr"
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

func TestEncapECN(t *testing.T) {
	assert.Equal(t, outer.NotECT, outer.EncapECN(outer.NotECT))
	assert.Equal(t, outer.ECT0, outer.EncapECN(outer.ECT0))
	assert.Equal(t, outer.ECT1, outer.EncapECN(outer.ECT1))
	assert.Equal(t, outer.ECT0, outer.EncapECN(outer.CE), "CE becomes ECT(0) on the outer header")
}

func TestApplyECN(t *testing.T) {
	// An IPv4 packet with inner ECT(0); outer CE marks it CE.
	b := packet4(0, 40, 64, 0x02, true)
	alarm, err := outer.ApplyECN(b, outer.CE)
	require.NoError(t, err)
	assert.False(t, alarm)
	assert.Equal(t, uint8(0x03), iphdr.IPv4(b).TOS())
	assert.True(t, iphdr.IPv4(b).ChecksumValid())

	// Not-ECT under CE: dropped, packet untouched.
	b = packet4(0, 40, 64, 0x00, true)
	orig := append([]byte(nil), b...)
	alarm, err = outer.ApplyECN(b, outer.CE)
	require.ErrorIs(t, err, outer.ErrECNDrop)
	assert.True(t, alarm)
	assert.Equal(t, orig, b)

	// IPv6: ECT(0) under ECT(1) becomes ECT(1), flow label kept.
	b = packet6(0, 48, 64, 0xb8|0x02)
	_, err = outer.ApplyECN(b, outer.ECT1)
	require.NoError(t, err)
	assert.Equal(t, uint8(0xb8|0x01), iphdr.IPv6(b).TrafficClass())
	assert.Equal(t, uint32(0x12345), iphdr.IPv6(b).FlowLabel())

	_, err = outer.ApplyECN(nil, outer.CE)
	require.ErrorIs(t, err, outer.ErrInnerTruncated)
	_, err = outer.ApplyECN(b[:39], outer.CE)
	require.ErrorIs(t, err, outer.ErrInnerTruncated)
	_, err = outer.ApplyECN([]byte{0x45, 0, 0}, outer.CE)
	require.ErrorIs(t, err, outer.ErrInnerTruncated)
	_, err = outer.ApplyECN(make([]byte, 40), outer.CE)
	require.ErrorIs(t, err, outer.ErrInnerVersion)
}

func TestStrings(t *testing.T) {
	assert.Equal(t, "Not-ECT", outer.NotECT.String())
	assert.Equal(t, "ECT(1)", outer.ECT1.String())
	assert.Equal(t, "ECT(0)", outer.ECT0.String())
	assert.Equal(t, "CE", outer.CE.String())
	assert.Equal(t, "ECN(invalid)", outer.ECN(4).String())
	assert.Equal(t, "normal", outer.ECNNormal.String())
	assert.Equal(t, "compat", outer.ECNCompat.String())
	assert.Equal(t, "ECNMode(invalid)", outer.ECNMode(2).String())
	assert.Equal(t, "forward", outer.ECNForward.String())
	assert.Equal(t, "alarm", outer.ECNAlarm.String())
	assert.Equal(t, "drop", outer.ECNDrop.String())
	assert.Equal(t, "ECNVerdict(invalid)", outer.ECNVerdict(3).String())
}
