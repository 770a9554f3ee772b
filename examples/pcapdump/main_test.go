package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/mobile"
	"github.com/ipencap/ipencap/outer"
)

// interopDir finds testdata/interop by walking up to the module root.
func interopDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	require.NoError(tb, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "testdata", "interop")
		}
		parent := filepath.Dir(dir)
		require.NotEqual(tb, parent, dir, "go.mod not found above the test directory")
		dir = parent
	}
}

// captures lists the interop captures.
func captures(tb testing.TB) []string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(interopDir(tb), "*.pcap*"))
	require.NoError(tb, err)
	require.NotEmpty(tb, files)
	return files
}

// dumpBytes runs dump over a capture held in memory and returns every frame
// (as with -all).
func dumpBytes(tb testing.TB, name string, data []byte) ([]*Result, stats, error) {
	tb.Helper()
	var res []*Result
	var st stats
	err := dump(name, bytes.NewReader(data), options{All: true}, &st, func(r *Result) { res = append(res, r) })
	return res, st, err
}

func dumpFileT(t *testing.T, base string) []*Result {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(interopDir(t), base))
	require.NoError(t, err)
	res, _, err := dumpBytes(t, base, data)
	require.NoError(t, err)
	return res
}

// line is the line pcapdump prints for a frame.
func line(r *Result) string { return r.Line }

// expectedTunnel decodes a frame with gopacket, independently of pcapdump,
// and returns the name pcapdump must use for its outermost encapsulation,
// or "" if gopacket finds none.
func expectedTunnel(data []byte, lt layers.LinkType) (tunnel, token string) {
	pkt := gopacket.NewPacket(data, lt, gopacket.Lazy)
	for _, l := range pkt.Layers() {
		var proto layers.IPProtocol
		var v6 bool
		switch l := l.(type) {
		case *layers.IPv4:
			proto = l.Protocol
		case *layers.IPv6:
			proto, v6 = l.NextHeader, true
		case *layers.IPv6HopByHop:
			proto, v6 = l.NextHeader, true
		case *layers.IPv6Destination:
			proto, v6 = l.NextHeader, true
		case *layers.UDP:
			if l.DstPort == 4754 {
				return "GRE-in-UDP", "GRE"
			}
			continue
		default:
			continue
		}
		outerV := "4"
		if v6 {
			outerV = "6"
		}
		switch proto {
		case layers.IPProtocolGRE:
			return "GRE", "GRE"
		case layers.IPProtocolIPv4:
			return "4in" + outerV, "4in" + outerV
		case layers.IPProtocolIPv6:
			return "6in" + outerV, "6in" + outerV
		case 55:
			return "MOBILE", "MOBILE"
		}
	}
	return "", ""
}

// readWithGopacket reads a capture with pcapgo alone, for the cross-check.
func readWithGopacket(t *testing.T, data []byte) (frames [][]byte, lt layers.LinkType) {
	t.Helper()
	type reader interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	var r reader
	if binary.LittleEndian.Uint32(data) == magicPcapng {
		nr, err := pcapgo.NewNgReader(bytes.NewReader(data), pcapgo.DefaultNgReaderOptions)
		require.NoError(t, err)
		r, lt = nr, nr.LinkType()
	} else {
		pr, err := pcapgo.NewReader(bytes.NewReader(data))
		require.NoError(t, err)
		r, lt = pr, pr.LinkType()
	}
	for {
		b, _, err := r.ReadPacketData()
		if err == io.EOF {
			return frames, lt
		}
		require.NoError(t, err)
		frames = append(frames, b)
	}
}

// TestInterop decodes every frame of every interop capture: no panic, and
// each frame that gopacket says carries GRE, IP in IP, minimal
// encapsulation or GRE-in-UDP gets a line naming that encapsulation and
// never "unknown".
func TestInterop(t *testing.T) {
	total := 0
	for _, path := range captures(t) {
		base := filepath.Base(path)
		t.Run(base, func(t *testing.T) {
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			res, st, err := dumpBytes(t, base, data)
			require.NoError(t, err)
			frames, lt := readWithGopacket(t, data)
			require.Len(t, res, len(frames), "frames read")
			assert.Equal(t, len(frames), st.Frames)
			tunnelled := 0
			for i, r := range res {
				assert.Equal(t, i+1, r.Frame)
				tunnel, token := expectedTunnel(frames[i], lt)
				if tunnel == "" {
					continue
				}
				tunnelled++
				assert.Contains(t, line(r), token, "frame %d", r.Frame)
				assert.Contains(t, r.Tunnels, tunnel, "frame %d: %s", r.Frame, line(r))
				assert.NotContains(t, strings.ToLower(line(r)), "unknown", "frame %d", r.Frame)
			}
			assert.LessOrEqual(t, tunnelled, st.Tunnelled)
			total += tunnelled
		})
	}
	assert.Greater(t, total, 2000, "tunnelled frames checked")
}

// TestGolden checks lines of a few captures field by field.
func TestGolden(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		frame int
		want  []string // substrings of the line, in order
		exact string   // the whole line, if set
		tuns  []string
	}{
		{
			name: "plain GRE", file: "zeek__gre-sample.pcap", frame: 1,
			exact: "172.27.1.66 > 66.59.109.137: GRE | IPv4 66.59.111.190 > 172.28.2.3 ICMP echo request id 52072 seq 256",
			tuns:  []string{"GRE"},
		},
		{
			// tcpdump: GREv1, call 0, seq 0, length 52: LCP, Conf-Request (0x01)
			name: "PPTP", file: "tcpdump__pptp.pcap", frame: 16,
			exact: "10.1.1.11 > 10.1.1.10: GRE v1 call 0 len 48 seq 0 PPP LCP Conf-Request",
			tuns:  []string{"GRE"},
		},
		{
			name: "PPTP seq and ack (pcapng)", file: "pcapplusplus__GrePackets.pcap", frame: 1,
			want: []string{"GRE v1 call 6 ", " seq 34 ack 17 ", "PPP CCP"},
		},
		{
			name: "PPTP ack only", file: "pcapplusplus__GrePackets.pcap", frame: 2,
			exact: "192.168.2.65 > 192.168.2.254: GRE v1 call 6 len 0 ack 26",
		},
		{
			// TShark: checksum 0x77ff [correct]
			name: "checksum", file: "pcapplusplus__GrePackets.pcap", frame: 4,
			want: []string{"GRE csum 0x77ff ok | IPv4 127.0.0.1 > 127.0.0.1 ICMP echo reply"},
		},
		{
			name: "checksum and keepalive", file: "pcapplusplus__GrePackets.pcap", frame: 3,
			want: []string{"GRE csum 0x77ff ok | IPv4", "GRE keepalive reply"},
		},
		{
			name: "4in6 then PPTP", file: "pcapplusplus__GrePackets.pcap", frame: 6,
			want: []string{": 4in6 | IPv4 192.52.166.154 > 16.0.0.200 GRE v1 call 17 len 178 seq 539320 PPP | IPv4 8.8.8.8 > 172.16.44.3 UDP 53 > 40768"},
			tuns: []string{"4in6", "GRE"},
		},
		{
			name: "GRE within GRE", file: "zeek__gre-within-gre.pcap", frame: 1,
			exact: "72.205.54.70 > 86.106.164.150: GRE | IPv4 10.10.11.2 > 10.10.13.2 GRE | IPv4 10.10.25.1 > 192.168.1.2 ICMP echo request id 23 seq 7666",
			tuns:  []string{"GRE"},
		},
		{
			name: "GRE in UDP", file: "zeek__gre-over-udp-4754.pcap", frame: 1,
			exact: "192.168.0.107 > 192.168.5.1: UDP 50343 > 4754 GRE | IPv4 172.17.0.2 > 1.1.1.1 UDP 51714 > 53",
			tuns:  []string{"GRE-in-UDP"},
		},
		{
			// TShark: erspan.spanid 1, erspan.vlan 101
			name: "ERSPAN II", file: "tcpdump__erspan-type-ii-2.pcap", frame: 1,
			want: []string{"GRE seq 1086760 ERSPAN II session 1 vlan 101 | Ether 00:00:0c:07:ac:fe > 01:00:5e:00:00:02 | IPv4 10.200.101.2 > 224.0.0.2 UDP 1985 > 1985"},
		},
		{
			// TShark: erspan.spanid 0, vlan 10, direction 1 (egress)
			name: "ERSPAN III", file: "zeek__gre-erspan3-dot1q.pcap", frame: 2,
			want: []string{"GRE ERSPAN III session 0 vlan 10 egress | Ether 00:50:56:8b:6d:c7 > 00:ae:cd:00:0c:f1 vlan 10 | IPv4 172.31.10.2 > 172.31.10.31 ICMP echo reply"},
		},
		{
			name: "ERSPAN I", file: "tcpdump__erspan-type-i-1.pcap", frame: 1,
			want: []string{"GRE ERSPAN I | Ether", "vlan 101 | IPv4 10.52.128.233 > 10.52.128.234 ICMP echo request"},
		},
		{
			name: "gretap with key", file: "zeek__gretap-key-erspan.pcap", frame: 2,
			want: []string{"GRE key 2.0.0.0 (33554432) TEB | Ether 00:50:56:82:08:d1 > 00:50:56:82:2b:52 | IPv4 192.168.69.2 > 192.168.69.10 ICMP echo reply"},
		},
		{
			name: "6in4", file: "zeek__6in4.pcap", frame: 1,
			exact: "1.2.3.4 > 5.6.7.8: 6in4 | IPv6 dead::beef > cafe::babe UDP 30000 > 13000",
			tuns:  []string{"6in4"},
		},
		{
			name: "6in6in6", file: "zeek__6in6in6.pcap", frame: 1,
			want: []string{": 6in6 | IPv6 babe::beef > dead::babe 6in6 | IPv6 dead::beef > cafe::babe UDP"},
		},
		{
			name: "4in4", file: "zeek__4in4.pcap", frame: 1,
			exact: "1.2.3.4 > 5.6.7.8: 4in4 | IPv4 10.0.0.1 > 10.0.0.2 UDP 30000 > 13000",
		},
		{
			name: "wrong inner version", file: "suricata__wrong-version-ipv4-ipv6.pcap", frame: 1,
			want: []string{": 4in6 [ipip: inner IP version does not match the outer protocol]"},
		},
		{
			name: "NHRP with key over 802.1Q", file: "tcpdump__NHRP_registration.pcap", frame: 2,
			exact: "169.254.100.5 > 169.254.100.1: GRE key 0.0.0.2 (2) NHRP registration reply",
		},
		{
			name: "NHRP pcapng", file: "tcpdump__nhrp.pcapng", frame: 1,
			want: []string{"100.1.2.27 > 100.1.0.14: GRE NHRP registration request"},
		},
		{
			name: "keepalive through Cisco MetaData", file: "tcpdump__various_gre.pcap", frame: 11,
			exact: "10.172.64.7 > 10.172.64.6: GRE key 0.0.0.40 (40) CMD sgt 0 | IPv4 10.172.64.6 > 10.172.64.7 GRE key 0.0.0.40 (40) keepalive reply",
		},
		{
			name: "WCCP", file: "tcpdump__wccp_redirect_gre.pcap", frame: 1,
			want: []string{"GRE WCCP redirect service 89 | IPv4 10.254.127.195 > 10.254.108.228 TCP 1291 > 445"},
		},
		{
			name: "Linux SLL", file: "tcpdump__isis-infinite-loop.pcap", frame: 1,
			exact: "253.120.2.55 > 192.168.1.1: GRE OSI",
		},
		{
			name: "raw IPv6, destination options", file: "tcpdump__erspan-type-iii-pb-1.pcap", frame: 1,
			want: []string{": GRE [outer: truncated outer header]"},
		},
		{
			name: "truncated GRE", file: "suricata__decode-too-small.pcap", frame: 4,
			exact: "1.1.1.1 > 2.2.2.2: GRE [gre: truncated header]",
		},
		{
			name: "outer fragment", file: "suricata__security-8550.pcap", frame: 2,
			exact: "10.85.50.1 > 10.85.50.2: GRE frag id 34128 offset 16 [outer: outer packet is a fragment]",
		},
		{
			name: "vendor protocol", file: "zeek__gre-aruba-ccmp.pcap", frame: 1,
			exact: "10.226.22.9 > 10.102.16.111: GRE Aruba",
		},
	}
	cache := map[string][]*Result{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, ok := cache[tt.file]
			if !ok {
				res = dumpFileT(t, tt.file)
				cache[tt.file] = res
			}
			require.GreaterOrEqual(t, len(res), tt.frame)
			r := res[tt.frame-1]
			require.Equal(t, tt.frame, r.Frame)
			got := line(r)
			if tt.exact != "" {
				assert.Equal(t, tt.exact, got)
			}
			rest := got
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if !assert.GreaterOrEqual(t, i, 0, "%q not in %q", w, got) {
					break
				}
				rest = rest[i+len(w):]
			}
			if tt.tuns != nil {
				assert.Equal(t, tt.tuns, r.Tunnels)
			}
		})
	}
}

// ipv4 builds an IPv4 packet with a valid header checksum.
func ipv4(src, dst string, proto uint8, payload []byte) []byte {
	b := make([]byte, 20+len(payload))
	b[0], b[8], b[9] = 0x45, 64, proto
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	binary.BigEndian.PutUint16(b[4:], 0x1234)
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xFFFF {
		sum = sum>>16 + sum&0xFFFF
	}
	binary.BigEndian.PutUint16(b[10:], ^uint16(sum))
	copy(b[20:], payload)
	return b
}

// udp builds a UDP header and payload (checksum 0).
func udp(sport, dport uint16, payload []byte) []byte {
	b := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint16(b[4:], uint16(len(b)))
	copy(b[8:], payload)
	return b
}

// writePcap writes frames into a pcap file of link type lt, which may be
// above 255 (gopacket's LinkType is 8 bits, so the header is written here).
func writePcap(t *testing.T, lt uint32, frames ...[]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], magicPcapMicro)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], lt)
	buf.Write(hdr)
	w := pcapgo.NewWriter(&buf)
	ts := time.Date(2024, 1, 2, 3, 4, 5, 6000, time.UTC)
	for i, f := range frames {
		ci := gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * time.Second), CaptureLength: len(f), Length: len(f)}
		require.NoError(t, w.WritePacket(ci, f))
	}
	return buf.Bytes()
}

// TestMinimal builds minimal encapsulation with mobile.Encapsulator (no
// interop capture has IP protocol 55) and dumps it.
func TestMinimal(t *testing.T) {
	enc, err := mobile.NewEncapsulator(mobile.Config{Local: netip.MustParseAddr("192.0.2.99"), Remote: netip.MustParseAddr("203.0.113.5")})
	require.NoError(t, err)
	build := func(src string) []byte {
		dg := ipv4(src, "198.51.100.7", 17, udp(1234, 53, []byte("query")))
		b := make([]byte, enc.Overhead()+len(dg))
		copy(b[enc.Overhead():], dg)
		start, err := enc.Encap(b, enc.Overhead())
		require.NoError(t, err)
		return b[start:]
	}
	withSrc := build("192.0.2.1")   // another host's datagram: S = 1
	ownSrc := build("192.0.2.99")   // the encapsulator's own: S = 0
	corrupt := bytes.Clone(withSrc) // minimal header checksum broken
	corrupt[20+2] ^= 0xFF
	data := writePcap(t, linkRaw, withSrc, ownSrc, corrupt)

	res, st, err := dumpBytes(t, "minimal.pcap", data)
	require.NoError(t, err)
	require.Len(t, res, 3)
	assert.Equal(t, "192.0.2.99 > 203.0.113.5: MOBILE orig 192.0.2.1 > 198.51.100.7 proto UDP | IPv4 192.0.2.1 > 198.51.100.7 (restored) UDP 1234 > 53", res[0].Line)
	assert.Equal(t, "192.0.2.99 > 203.0.113.5: MOBILE orig 192.0.2.99 > 198.51.100.7 proto UDP | IPv4 192.0.2.99 > 198.51.100.7 (restored) UDP 1234 > 53", res[1].Line)
	assert.Equal(t, "192.0.2.99 > 203.0.113.5: MOBILE [mobile: bad minimal forwarding header checksum]", res[2].Line)
	assert.Equal(t, []string{"MOBILE"}, res[0].Tunnels)
	assert.Equal(t, 3, st.Encaps["MOBILE"])
	assert.Equal(t, 1, st.Errors)
	assert.Equal(t, "03:04:05.000006", res[0].Time)

	// The same frames behind Ethernet with QinQ tags, a test of the link layer.
	eth := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xA8, 0, 100, 0x81, 0x00, 0, 200, 0x08, 0x00}
	res, _, err = dumpBytes(t, "qinq.pcap", writePcap(t, linkEthernet, append(bytes.Clone(eth), withSrc...)))
	require.NoError(t, err)
	require.Len(t, res, 1)
	assert.Contains(t, res[0].Line, "192.0.2.99 > 203.0.113.5: MOBILE orig 192.0.2.1")
	protos := []string{}
	for _, l := range res[0].Layers {
		protos = append(protos, l.Proto)
	}
	assert.Equal(t, []string{"Ethernet", "802.1ad", "802.1Q", "IPv4", "MOBILE", "IPv4", "UDP"}, protos)
}

// TestGREOptions builds GRE with checksum, key and sequence number, and
// one whose checksum is broken, with gre.Encapsulator.
func TestGREOptions(t *testing.T) {
	enc, err := gre.NewEncapsulator(gre.Config{
		Outer:      &outer.Config{Local: netip.MustParseAddr("10.0.0.1"), Remote: netip.MustParseAddr("10.0.0.2"), TTL: 64},
		KeyPresent: true, Key: 5, Checksum: true, Seq: true,
	})
	require.NoError(t, err)
	inner := ipv4("203.0.113.1", "203.0.113.2", 1, []byte{8, 0, 0, 0, 0, 1, 0, 3})
	b := make([]byte, enc.Overhead()+len(inner))
	copy(b[enc.Overhead():], inner)
	start, err := enc.Encap(b, enc.Overhead())
	require.NoError(t, err)
	good := bytes.Clone(b[start:])
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 0x55 // payload changed: GRE checksum no longer matches

	res, st, err := dumpBytes(t, "gre.pcap", writePcap(t, linkIPv4, good, bad))
	require.NoError(t, err)
	require.Len(t, res, 2)
	sum := binary.BigEndian.Uint16(good[24:26])
	assert.Regexp(t, `^10\.0\.0\.1 > 10\.0\.0\.2: GRE csum 0x[0-9a-f]{4} ok key 0\.0\.0\.5 \(5\) seq 0 \| IPv4 203\.0\.113\.1 > 203\.0\.113\.2 ICMP echo request id 1 seq 3$`, res[0].Line)
	assert.Contains(t, res[1].Line, "GRE csum 0x")
	assert.Contains(t, res[1].Line, " bad key 0.0.0.5 (5) seq 0 |")
	assert.Empty(t, res[1].Errors, "a bad GRE checksum is shown, not an error")
	assert.Equal(t, 2, st.Encaps["GRE"])
	g := res[0].Layers[1]
	require.Equal(t, "GRE", g.Proto)
	assert.Equal(t, sum, g.Fields["checksum"])
	assert.Equal(t, true, g.Fields["checksum_ok"])
	assert.Equal(t, uint32(5), g.Fields["key"])
	assert.Equal(t, "0.0.0.5", g.Fields["key_dotted"])
}

// TestLinkTypes puts one IPIP packet behind each link layer pcapdump strips.
func TestLinkTypes(t *testing.T) {
	pkt := ipv4("192.0.2.1", "192.0.2.2", 4, ipv4("10.1.1.1", "10.2.2.2", 17, udp(7, 9, nil)))
	want := "192.0.2.1 > 192.0.2.2: 4in4 | IPv4 10.1.1.1 > 10.2.2.2 UDP 7 > 9"
	sll := []byte{0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00}
	sll2 := []byte{0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0}
	tests := []struct {
		name string
		lt   uint32
		hdr  []byte
	}{
		{"raw 101", linkRaw, nil},
		{"raw 12", linkRawBSD, nil},
		{"IPv4 228", linkIPv4, nil},
		{"null", linkNull, []byte{2, 0, 0, 0}},
		{"loop", linkLoop, []byte{0, 0, 0, 2}},
		{"SLL", linkSLL, sll},
		{"SLL2", linkSLL2, sll2},
		{"Ethernet", linkEthernet, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00}},
		{"FCS bits in the link type", 0x10000000 | linkEthernet, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _, err := dumpBytes(t, "x.pcap", writePcap(t, tt.lt, append(bytes.Clone(tt.hdr), pkt...)))
			require.NoError(t, err)
			require.Len(t, res, 1)
			assert.Equal(t, want, res[0].Line)
			assert.Empty(t, res[0].Errors)
		})
	}

	t.Run("SLL2 in pcapng", func(t *testing.T) {
		var buf bytes.Buffer
		w, err := pcapgo.NewNgWriter(&buf, layers.LinkTypeEthernet)
		require.NoError(t, err)
		f := append(bytes.Clone(sll2), pkt...)
		require.NoError(t, w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(1, 0), CaptureLength: len(f), Length: len(f)}, f))
		require.NoError(t, w.Flush())
		b := buf.Bytes()
		// The interface description block follows the section header:
		// set its link type to 276, which layers.LinkType cannot hold.
		shb := binary.LittleEndian.Uint32(b[4:8])
		require.Equal(t, uint32(ngIDB), binary.LittleEndian.Uint32(b[shb:]))
		binary.LittleEndian.PutUint16(b[shb+8:], linkSLL2)
		res, _, err := dumpBytes(t, "sll2.pcapng", b)
		require.NoError(t, err)
		require.Len(t, res, 1)
		assert.Equal(t, want, res[0].Line)
	})

	t.Run("gzip", func(t *testing.T) {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		_, err := zw.Write(writePcap(t, linkRaw, pkt))
		require.NoError(t, err)
		require.NoError(t, zw.Close())
		res, _, err := dumpBytes(t, "x.pcap.gz", z.Bytes())
		require.NoError(t, err)
		require.Len(t, res, 1)
		assert.Equal(t, want, res[0].Line)
	})

	t.Run("unsupported", func(t *testing.T) {
		res, _, err := dumpBytes(t, "x.pcap", writePcap(t, 147, pkt))
		require.NoError(t, err)
		require.Len(t, res, 1)
		assert.Equal(t, "link type 147 [link type 147 not supported]", res[0].Line)
	})
}

// TestRun runs the command: text and -json output, and the exit status.
func TestRun(t *testing.T) {
	dir := interopDir(t)
	sample := filepath.Join(dir, "zeek__gre-sample.pcap")

	t.Run("text", func(t *testing.T) {
		var out, errb bytes.Buffer
		require.Equal(t, 0, run([]string{sample}, &out, &errb), errb.String())
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		require.Len(t, lines, 42) // 40 frames and the summary
		assert.Equal(t, "1 00:06:08.793044 172.27.1.66 > 66.59.109.137: GRE | IPv4 66.59.111.190 > 172.28.2.3 ICMP echo request id 52072 seq 256", lines[0])
		assert.Equal(t, "summary: 1 files (0 unreadable), 40 frames read, 40 tunnelled, 40 printed, 0 with errors, 0 stopped at a fragment", lines[40])
		assert.Equal(t, "summary: tunnelled frames by encapsulation: GRE 40", lines[41])
		assert.Empty(t, errb.String())
	})

	t.Run("skips frames without a tunnel", func(t *testing.T) {
		var out, all bytes.Buffer
		pptp := filepath.Join(dir, "tcpdump__pptp.pcap")
		require.Equal(t, 0, run([]string{pptp}, &out, io.Discard))
		require.Equal(t, 0, run([]string{"-all", pptp}, &all, io.Discard))
		assert.Equal(t, 1+2, strings.Count(out.String(), "\n"))
		assert.Equal(t, 23+2, strings.Count(all.String(), "\n"))
		assert.Contains(t, all.String(), "1 08:56:35.148077 10.1.1.11 > 10.1.1.10: TCP 3025 > 1723 [S]\n")
	})

	t.Run("json", func(t *testing.T) {
		var out, errb bytes.Buffer
		files := []string{sample, filepath.Join(dir, "pcapplusplus__GrePackets.pcap")}
		require.Equal(t, 0, run(append([]string{"-json"}, files...), &out, &errb))
		dec := json.NewDecoder(&out)
		n := 0
		for {
			var r Result
			err := dec.Decode(&r)
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			n++
			assert.NotEmpty(t, r.Layers)
			assert.NotEmpty(t, r.Line)
			assert.NotEmpty(t, r.File)
			_, err = time.Parse(time.RFC3339Nano, r.Time)
			assert.NoError(t, err)
		}
		assert.Equal(t, 40+7, n)
		assert.Contains(t, errb.String(), "summary: 2 files (0 unreadable), 47 frames read")
	})

	t.Run("json fields", func(t *testing.T) {
		var out bytes.Buffer
		require.Equal(t, 0, run([]string{"-json", filepath.Join(dir, "pcapplusplus__GrePackets.pcap")}, &out, io.Discard))
		var first map[string]any
		require.NoError(t, json.NewDecoder(&out).Decode(&first))
		ls := first["layers"].([]any)
		var g map[string]any
		for _, l := range ls {
			if l.(map[string]any)["proto"] == "GRE" {
				g = l.(map[string]any)["fields"].(map[string]any)
				break
			}
		}
		require.NotNil(t, g)
		assert.Equal(t, float64(1), g["version"])
		assert.Equal(t, float64(34), g["seq"])
		assert.Equal(t, float64(17), g["ack"])
		assert.Equal(t, float64(6), g["call_id"])
	})

	bad := func(t *testing.T, data []byte, want string) {
		t.Helper()
		name := filepath.Join(t.TempDir(), "bad.pcap")
		require.NoError(t, os.WriteFile(name, data, 0o600))
		var out, errb bytes.Buffer
		assert.Equal(t, 1, run([]string{name}, &out, &errb))
		assert.Equal(t, "pcapdump: "+name+": "+want+"\n", errb.String())
		assert.Contains(t, out.String(), "(1 unreadable)")
	}
	raw, err := os.ReadFile(sample)
	require.NoError(t, err)
	ng, err := os.ReadFile(filepath.Join(dir, "tcpdump__nhrp.pcapng"))
	require.NoError(t, err)
	t.Run("truncated pcap header", func(t *testing.T) { bad(t, raw[:10], "truncated pcap file header: unexpected EOF") })
	t.Run("garbage", func(t *testing.T) {
		bad(t, []byte("this is not a capture file\n"), "not a pcap or pcapng file: magic 74686973")
	})
	t.Run("empty", func(t *testing.T) { bad(t, nil, "empty file") })
	t.Run("truncated record", func(t *testing.T) {
		bad(t, raw[:250], "after frame 1: truncated capture: unexpected EOF")
	})
	t.Run("bad pcap version", func(t *testing.T) {
		b := bytes.Clone(raw[:100])
		b[4] = 9
		bad(t, b, "pcap: Unknown major version 9")
	})
	t.Run("truncated pcapng block", func(t *testing.T) {
		bad(t, ng[:500], "after frame 1: pcapng: malformed pcapng: block 4: truncated block (length 196)")
	})
	t.Run("missing file", func(t *testing.T) {
		var errb bytes.Buffer
		assert.Equal(t, 1, run([]string{filepath.Join(t.TempDir(), "nope.pcap")}, io.Discard, &errb))
		assert.Contains(t, errb.String(), "no such file or directory")
	})
	t.Run("directory", func(t *testing.T) {
		var errb bytes.Buffer
		assert.Equal(t, 1, run([]string{t.TempDir(), sample}, io.Discard, &errb))
		assert.Contains(t, errb.String(), ": is a directory\n")
	})
	t.Run("usage", func(t *testing.T) {
		var errb bytes.Buffer
		assert.Equal(t, 2, run(nil, io.Discard, &errb))
		assert.Contains(t, errb.String(), "usage: pcapdump [-json] [-all] FILE...")
	})
}

// gzipLayers compresses b n times over: n nested gzip layers.
func gzipLayers(t testing.TB, b []byte, n int) []byte {
	t.Helper()
	for range n {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		_, err := zw.Write(b)
		require.NoError(t, err)
		require.NoError(t, zw.Close())
		b = z.Bytes()
	}
	return b
}

// TestNestedGzip checks that pcapdump opens one gzip layer and no more: a
// gzip inside the gzip makes the file unreadable, with an error, and is
// not decompressed further. Each layer it opened cost a decompressor and
// its buffers (2 000 layers in a 56 KB file took 214 MB of heap); 100
// layers must cost what 2 do.
func TestNestedGzip(t *testing.T) {
	pcap := writePcap(t, linkRaw, ipv4("192.0.2.1", "192.0.2.2", 47, []byte{0, 0, 0x08, 0x00}))
	runFile := func(t *testing.T, data []byte) (status int, stdout, stderr, name string) {
		t.Helper()
		name = filepath.Join(t.TempDir(), "nested.pcap.gz")
		require.NoError(t, os.WriteFile(name, data, 0o600))
		var out, errb bytes.Buffer
		status = run([]string{name}, &out, &errb)
		return status, out.String(), errb.String(), name
	}

	t.Run("one layer", func(t *testing.T) {
		status, out, errb, _ := runFile(t, gzipLayers(t, pcap, 1))
		assert.Equal(t, 0, status, errb)
		assert.Empty(t, errb)
		assert.Contains(t, out, "summary: 1 files (0 unreadable), 1 frames read, 1 tunnelled")
	})
	for _, n := range []int{2, 3, 100} {
		t.Run(fmt.Sprintf("%d layers", n), func(t *testing.T) {
			status, out, errb, name := runFile(t, gzipLayers(t, pcap, n))
			assert.Equal(t, 1, status)
			assert.Equal(t, "pcapdump: "+name+": gzip inside gzip: not decompressed further\n", errb)
			assert.Contains(t, out, "summary: 1 files (1 unreadable), 0 frames read")
		})
	}
	t.Run("dump", func(t *testing.T) {
		res, st, err := dumpBytes(t, "x.pcap.gz.gz", gzipLayers(t, pcap, 2))
		require.ErrorIs(t, err, errGzipNested)
		var ce *captureError
		require.ErrorAs(t, err, &ce)
		assert.Zero(t, ce.Frames)
		assert.Empty(t, res)
		assert.Equal(t, stats{Files: 1, BadFiles: 1, Encaps: map[string]int{}}, st)
	})

	t.Run("memory", func(t *testing.T) {
		// Bytes allocated by one dump, the mean of a few (TotalAlloc only
		// grows, whatever the GC does meanwhile).
		alloc := func(data []byte) uint64 {
			dumpOnce := func() {
				var st stats
				_ = dump("x", bytes.NewReader(data), options{}, &st, func(*Result) {})
			}
			dumpOnce() // warm up: the decompressor's one-time tables
			const runs = 5
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range runs {
				dumpOnce()
			}
			runtime.ReadMemStats(&after)
			return (after.TotalAlloc - before.TotalAlloc) / runs
		}
		two, hundred := alloc(gzipLayers(t, pcap, 2)), alloc(gzipLayers(t, pcap, 100))
		t.Logf("allocated per dump: 2 layers %d bytes, 100 layers %d bytes", two, hundred)
		// One decompressor and two 64 KiB read buffers: about 180 KB.
		// Opening every layer cost about 110 KB a layer, 11 MB here.
		assert.Less(t, hundred, uint64(1<<20), "100 layers")
		assert.Less(t, hundred, 2*two, "100 layers cost what 2 do")
	})
}

// TestRandomNoPanic mutates real captures at random and dumps them: nothing
// may panic, and there is no recover on this path (main's is not called).
func TestRandomNoPanic(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var seeds [][]byte
	for _, path := range captures(t) {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		if len(b) > 4096 {
			b = b[:4096]
		}
		seeds = append(seeds, b)
	}
	for i := 0; i < 3000; i++ {
		b := bytes.Clone(seeds[rng.Intn(len(seeds))])
		for n := rng.Intn(8) + 1; n > 0; n-- {
			b[rng.Intn(len(b))] = byte(rng.Intn(256))
		}
		if rng.Intn(4) == 0 {
			b = b[:rng.Intn(len(b))]
		}
		fuzzOne(b)
	}
	for i := 0; i < 2000; i++ {
		b := make([]byte, rng.Intn(200))
		rng.Read(b)
		fuzzOne(b)
	}
}

// fuzzOne dumps b as a capture file and decodes it as a frame of each
// link type.
func fuzzOne(b []byte) {
	var st stats
	_ = dump("fuzz", bytes.NewReader(b), options{All: true}, &st, func(r *Result) { _ = r.Line })
	for _, lt := range []uint16{linkEthernet, linkRaw, linkSLL, linkSLL2, linkNull} {
		_ = decodeFrame(lt, b)
	}
}

// FuzzPcap feeds random bytes to pcapdump as a pcap or pcapng file, and
// as a frame, and checks that nothing panics.
func FuzzPcap(f *testing.F) {
	dir := interopDir(f)
	seed := func(file string, n int) {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			f.Fatal(err)
		}
		if len(b) > n {
			b = b[:n]
		}
		f.Add(b)
	}
	seed("zeek__gre-sample.pcap", 300)                            // pcap, Ethernet, plain GRE: 2 whole frames
	seed("tcpdump__pptp.pcap", 2464)                              // pcap (big-endian), GRE v1 and PPP behind TCP
	seed("pcapplusplus__GrePackets.pcap", 600)                    // pcapng: GRE v1 seq+ack, checksum, keepalive
	seed("tcpdump__nhrp.pcapng", 400)                             // pcapng from Windows, with options
	seed("zeek__6in4.pcap", 300)                                  // 6in4, one frame
	seed("zeek__gre-within-gre.pcap", 400)                        // GRE in GRE
	seed("zeek__gre-over-udp-4754.pcap", 300)                     // GRE in UDP
	seed("tcpdump__erspan-type-ii-2.pcap", 300)                   // ERSPAN II
	seed("zeek__gre-erspan3-dot1q.pcap", 300)                     // ERSPAN III with 802.1Q
	seed("tcpdump__erspan-type-iii-pb-1.pcap", 300)               // LINKTYPE_RAW, IPv6 destination options
	seed("tcpdump__isis-infinite-loop.pcap", 300)                 // Linux SLL
	seed("tcpdump__gre-heapoverflow-2.pcap", 300)                 // fuzzer-made GRE with routing
	seed("zeek__mpls-6in6-6in6-4in6-invalid-version-4.pcap", 300) // MPLS, bad inner version
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzOne(b)
	})
}

// TestNgGuard feeds pcapng files that make pcapgo's NgReader divide by
// zero or allocate gigabytes; ngGuard must refuse them with an error.
func TestNgGuard(t *testing.T) {
	build := func(t *testing.T) (b []byte, idb, epb uint32) {
		var buf bytes.Buffer
		w, err := pcapgo.NewNgWriterInterface(&buf, pcapgo.NgInterface{LinkType: layers.LinkTypeRaw, TimestampResolution: 9}, pcapgo.NgWriterOptions{})
		require.NoError(t, err)
		pkt := ipv4("192.0.2.1", "192.0.2.2", 47, []byte{0, 0, 0x08, 0x00})
		require.NoError(t, w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(1, 0), CaptureLength: len(pkt), Length: len(pkt), InterfaceIndex: 0}, pkt))
		require.NoError(t, w.Flush())
		b = buf.Bytes()
		idb = binary.LittleEndian.Uint32(b[4:8])
		epb = idb + binary.LittleEndian.Uint32(b[idb+4:])
		require.Equal(t, uint32(ngEPB), binary.LittleEndian.Uint32(b[epb:]))
		return b, idb, epb
	}
	b, _, _ := build(t)
	res, _, err := dumpBytes(t, "ok.pcapng", b)
	require.NoError(t, err)
	require.Len(t, res, 1)
	assert.Equal(t, "192.0.2.1 > 192.0.2.2: GRE | IP [outer: truncated outer header]", res[0].Line)

	t.Run("timestamp resolution", func(t *testing.T) {
		b, idb, _ := build(t)
		i := bytes.Index(b[idb:], []byte{9, 0, 1, 0, 9}) // if_tsresol, length 1, 10^-9
		require.Positive(t, i)
		b[int(idb)+i+4] = 0xC0 // 2^-64: pcapgo's divisor becomes 0
		assert.Panics(t, func() { _, _ = readWithGopacket(t, b) }, "pcapgo alone")
		_, _, err := dumpBytes(t, "x.pcapng", b)
		assert.EqualError(t, err, "pcapng: malformed pcapng: block 2: timestamp resolution 0xc0 out of range")
	})
	t.Run("captured length", func(t *testing.T) {
		b, _, epb := build(t)
		binary.LittleEndian.PutUint32(b[epb+20:], 0x7FFFFFF0) // pcapgo would allocate 2 GB
		_, _, err := dumpBytes(t, "x.pcapng", b)
		assert.EqualError(t, err, "pcapng: malformed pcapng: block 3: captured length exceeds the packet block")
	})
	t.Run("block length", func(t *testing.T) {
		b, _, epb := build(t)
		binary.LittleEndian.PutUint32(b[epb+4:], 0xFFFFFFF0)
		_, _, err := dumpBytes(t, "x.pcapng", b)
		assert.EqualError(t, err, "pcapng: malformed pcapng: block 3: bad block length 4294967280")
	})
}
