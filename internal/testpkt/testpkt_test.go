package testpkt

import (
	"net/netip"
	"testing"

	"github.com/google/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/iphdr"
)

func TestWriteReadRawIP(t *testing.T) {
	p := make([]byte, 28)
	iphdr.IPv4(p).Encode(&iphdr.IPv4Fields{TotalLen: 28, TTL: 64, Protocol: 17,
		Src: netip.MustParseAddr("192.0.2.1"), Dst: netip.MustParseAddr("192.0.2.2")})
	path := WriteRawIP(t, [][]byte{p, p})
	frames := ReadFrames(t, path)
	require.Len(t, frames, 2)
	assert.Equal(t, 2, frames[1].Number)
	assert.Equal(t, layers.LinkTypeRaw, frames[0].Link)
	nl, ok := frames[0].NetworkLayer()
	require.True(t, ok)
	assert.Equal(t, p, nl)

	rows := Tshark(t, path, "ip", []string{"ip.src", "ip.dst", "ip.checksum.status"}, "-o", "ip.check_checksum:TRUE")
	require.Len(t, rows, 2)
	assert.Equal(t, []string{"192.0.2.1", "192.0.2.2", "1"}, rows[0])
}

func TestNetworkLayerEthernetVLAN(t *testing.T) {
	f := Frame{Link: layers.LinkTypeEthernet, Data: []byte{
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, // dst, src
		0x81, 0x00, 0x00, 0x05, // 802.1Q VLAN 5
		0x86, 0xdd, // IPv6
		0x60, 0, 0, 0,
	}}
	nl, ok := f.NetworkLayer()
	require.True(t, ok)
	assert.Equal(t, []byte{0x60, 0, 0, 0}, nl)
	f.Data[17] = 0x06 // ARP
	f.Data[16] = 0x08
	_, ok = f.NetworkLayer()
	assert.False(t, ok)
}

func TestReadPcapng(t *testing.T) {
	frames := ReadFrames(t, Pcap(t, "pcapplusplus__GrePackets.pcap"))
	assert.Len(t, frames, 7)
}
