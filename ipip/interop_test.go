package ipip_test

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/google/gopacket/layers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/iphdr"
	"github.com/ipencap/ipencap/ipip"
	"github.com/ipencap/ipencap/outer"
)

// interopInner returns headroom bytes and a valid inner packet for tshark:
// IPv4 or IPv6 with a UDP header whose length field is right.
func interopInner(kind tunnelKind, headroom, n int, tos uint8) []byte {
	b := kind.inner(headroom, n, 64, tos)
	p := b[headroom:]
	udp := p[20:]
	if p[0]>>4 == 6 {
		udp = p[40:]
	}
	binary.BigEndian.PutUint16(udp[0:], 5000)
	binary.BigEndian.PutUint16(udp[2:], 5001)
	binary.BigEndian.PutUint16(udp[4:], uint16(len(udp)))
	binary.BigEndian.PutUint16(udp[6:], 0)
	if p[0]>>4 == 4 {
		iphdr.IPv4(p).ComputeChecksum()
	}
	return b
}

// TestTsharkDissectsOurPackets writes the packets Encap builds in all four
// combinations to a pcap and checks that tshark finds the same outer and
// inner addresses, the protocol numbers, TTL, DF, ECN, and a good outer
// IPv4 header checksum (verification switched on with ip.check_checksum).
func TestTsharkDissectsOurPackets(t *testing.T) {
	var pkts [][]byte
	for _, kind := range tunnelKinds {
		e, err := ipip.NewEncapsulator(ipip.Config{Local: kind.local, Remote: kind.remote, TTL: 200})
		require.NoError(t, err)
		b := interopInner(kind, e.Overhead(), 100, 0x03) // inner CE
		start, err := e.Encap(b, e.Overhead())
		require.NoError(t, err)
		pkts = append(pkts, b[start:])
	}
	path := testpkt.WriteRawIP(t, pkts)
	rows := testpkt.Tshark(t, path, "", []string{
		"ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.proto", "ipv6.nxt", "ip.ttl", "ipv6.hlim",
		"ip.flags.df", "ip.checksum.status", "ip.dsfield.ecn", "ipv6.tclass.ecn", "_ws.malformed",
	}, "-o", "ip.check_checksum:TRUE")
	// Outer first, comma-separated; ECN 2 = ECT(0) outside, 3 = CE inside.
	want := [][]string{
		{"192.0.2.1,203.0.113.10", "198.51.100.7,203.0.113.20", "", "", "4,17", "", "200,64", "",
			"1,0", "1,1", "2,3", "", ""},
		{"192.0.2.1", "198.51.100.7", "2001:db8:1::10", "2001:db8:1::20", "41", "17", "200", "64",
			"1", "1", "2", "3", ""},
		{"203.0.113.10", "203.0.113.20", "2001:db8::1", "2001:db8::7", "17", "4", "64", "200",
			"0", "1", "3", "2", ""},
		{"", "", "2001:db8::1,2001:db8:1::10", "2001:db8::7,2001:db8:1::20", "", "41,17", "", "200,64",
			"", "", "", "2,3", ""},
	}
	assert.Equal(t, want, rows)
}

// interopCaptures are the third-party captures with IP-in-IP tunnels
// (testdata/interop/SOURCES.md; nDPI's 4in4tunnel.pcap is left out there
// for its licence, and three other 4in4 captures cover the same case).
var interopCaptures = []string{
	"zeek__4in4.pcap",
	"zeek__4in6.pcap",
	"zeek__6in4.pcap",
	"zeek__6in6.pcap",
	"zeek__6in6in6.pcap",
	"zeek__ping6-in-ipv4.pcap",
	"suricata__ip_in_ip.pcap",
	"suricata__ipv4_over_ipv4.pcap",
	"suricata__ipv6_over_ipv4.pcap",
	"suricata__ipv4_over_ipv6.pcap",
	"suricata__ipv6_over_ipv6.pcap",
	"pcapplusplus__IPv4-encapsulated-IPv6.pcap",
}

// addrChain is what a frame's nested IP headers hold, in tshark's field
// order: each list outer first.
type addrChain struct{ src4, dst4, src6, dst6 []string }

func (c *addrChain) add(b []byte) {
	if b[0]>>4 == 4 {
		h := iphdr.IPv4(b)
		c.src4, c.dst4 = append(c.src4, h.Src().String()), append(c.dst4, h.Dst().String())
		return
	}
	h := iphdr.IPv6(b)
	c.src6, c.dst6 = append(c.src6, h.Src().String()), append(c.dst6, h.Dst().String())
}

func (c *addrChain) row() []string {
	j := func(l []string) string { return strings.Join(l, ",") }
	return []string{j(c.src4), j(c.dst4), j(c.src6), j(c.dst6)}
}

// TestInteropCaptures decapsulates every frame of the real captures, level
// by level as long as the inner packet is itself a tunnel, and compares the
// addresses of every IP header with tshark's dissection of the same file.
func TestInteropCaptures(t *testing.T) {
	for _, name := range interopCaptures {
		t.Run(name, func(t *testing.T) {
			path := testpkt.Pcap(t, name)
			rows := testpkt.Tshark(t, path, "", []string{"frame.number", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst"})
			frames := testpkt.ReadFrames(t, path)
			require.Len(t, rows, len(frames))
			decapped := 0
			for i, fr := range frames {
				nl, ok := fr.NetworkLayer()
				// All frames of these captures are Ethernet (some with
				// 802.1Q tags) carrying IP; a frame NetworkLayer cannot
				// handle would be skipped here, but none is.
				require.True(t, ok, "frame %d", fr.Number)
				b := append([]byte(nil), nl...)
				var chain addrChain
				for depth := 0; ; depth++ {
					require.Less(t, depth, 4)
					inner, o, err := decap(b)
					if depth > 0 && err == ipip.ErrProtocol {
						break // b is the innermost packet, not a tunnel
					}
					require.NoError(t, err, "frame %d depth %d", fr.Number, depth)
					assert.False(t, o.ECNAlarm)
					chain.add(b)
					b = inner
					decapped++
				}
				chain.add(b)
				assert.Equal(t, rows[i], append([]string{fmt.Sprint(fr.Number)}, chain.row()...), "frame %d", fr.Number)
			}
			assert.NotZero(t, decapped)
		})
	}
}

// mplsNetworkLayer returns the IP packet after an Ethernet header and an
// MPLS label stack: testpkt's NetworkLayer does not handle MPLS.
func mplsNetworkLayer(t *testing.T, fr testpkt.Frame) []byte {
	d := fr.Data
	require.Equal(t, layers.LinkTypeEthernet, fr.Link)
	require.Equal(t, uint16(0x8847), binary.BigEndian.Uint16(d[12:]))
	d = d[14:]
	for {
		require.GreaterOrEqual(t, len(d), 4)
		bottom := d[2]&1 != 0
		d = d[4:]
		if bottom {
			return d
		}
	}
}

// TestInteropNegatives: captures crafted to be invalid must be refused.
func TestInteropNegatives(t *testing.T) {
	// IPv4-in-IPv6 and IPv6-in-IPv6 whose inner version nibble was edited;
	// tshark: "Bogus IP version", "Bogus IPv6 version".
	for _, name := range []string{"suricata__wrong-version-ipv4-ipv6.pcap", "suricata__wrong-version-ipv6-ipv6.pcap"} {
		t.Run(name, func(t *testing.T) {
			frames := testpkt.ReadFrames(t, testpkt.Pcap(t, name))
			require.Len(t, frames, 1)
			nl, ok := frames[0].NetworkLayer()
			require.True(t, ok)
			_, o, err := decap(append([]byte(nil), nl...))
			require.ErrorIs(t, err, ipip.ErrVersionMismatch)
			assert.Equal(t, "2001:db8:85a3::8a2e:370:7334", o.Src.String(), "outer fields come back with the error")
		})
	}

	// MPLS, then IPv6 carrying IPv6 (payload length 44) whose own payload
	// length (30) runs past the outer payload, then an "IPv4" header with
	// version nibble 12. tshark: "IPv6 payload length exceeds framing
	// length", "Bogus IP version". Decap stops at the first fault; a
	// lenient reader that lets the second IPv6 header run to the end of
	// the frame (as tshark does) meets the bad version, which Decap refuses
	// too.
	t.Run("zeek__mpls-6in6-6in6-4in6-invalid-version-4.pcap", func(t *testing.T) {
		frames := testpkt.ReadFrames(t, testpkt.Pcap(t, "zeek__mpls-6in6-6in6-4in6-invalid-version-4.pcap"))
		require.Len(t, frames, 1)
		_, ok := frames[0].NetworkLayer()
		require.False(t, ok, "testpkt learned MPLS: use NetworkLayer here")
		b := append([]byte(nil), mplsNetworkLayer(t, frames[0])...)
		_, o, err := decap(b)
		require.ErrorIs(t, err, outer.ErrInnerTruncated)
		assert.Equal(t, "b100:7265::6904:2aff", o.Src.String())
		assert.Equal(t, outer.ProtoIPv6, o.Protocol)

		_, o, err = decap(b[o.HeaderLen:])
		require.ErrorIs(t, err, ipip.ErrVersionMismatch)
		assert.Equal(t, "ff00:0:6929::6904:ff:3bbf", o.Src.String())
		assert.Equal(t, outer.ProtoIPIP, o.Protocol)
	})
}
