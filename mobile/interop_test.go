package mobile_test

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/mobile"
	"github.com/ipencap/ipencap/outer"
)

// interopPackets returns minimal-encapsulation packets for the dissectors:
// S=0 without options, S=1 with NOP options, S=1 with a record-route
// option, and (last) an S=0 packet whose minimal header checksum was
// spoiled, to show that the dissectors check it.
func interopPackets(t *testing.T) [][]byte {
	var pkts [][]byte
	for _, c := range []struct {
		opts []byte
		e    *mobile.Encapsulator
	}{{nil, encS0}, {optsNOP, encS1}, {optsRoute, encS1}} {
		pkts = append(pkts, encapsulated(t, c.e, 60, c.opts))
	}
	bad := append([]byte(nil), pkts[0]...)
	bad[20+3]++ // minimal header checksum
	return append(pkts, bad)
}

// TestTcpdumpMinimal has tcpdump -v print our packets. tcpdump 4.99 has a
// dissector for IP protocol 55 (print-mobile.c) that prints the original
// destination, the original source when S is set, the original protocol,
// and "(bad checksum N)" when the minimal header's checksum is wrong; -v
// also checks the IPv4 header checksum ("bad cksum"). Its lines look like:
//
//	IP (tos 0xb8, ttl 64, id 4660, offset 0, flags [DF], proto Mobile IP (55), length 68)
//	    203.0.113.10 > 198.51.100.7: mobile: [] > 203.0.113.20 (oproto=17)
//	IP (tos 0xb8, ttl 64, id 4660, offset 0, flags [DF], proto Mobile IP (55), length 72, options (NOP,NOP,NOP,EOL))
//	    192.0.2.1 > 198.51.100.7: mobile: [S] 203.0.113.10 > 203.0.113.20 (oproto=17)
func TestTcpdumpMinimal(t *testing.T) {
	path := testpkt.WriteRawIP(t, interopPackets(t))
	out := testpkt.Tcpdump(t, path, "-v")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	require.Len(t, lines, 8, out)
	want := []struct{ ip, mobile string }{
		{"IP (tos 0xb8, ttl 64, id 4660, offset 0, flags [DF], proto Mobile IP (55), length 68)",
			"203.0.113.10 > 198.51.100.7: mobile: [] > 203.0.113.20 (oproto=17)"},
		{"IP (tos 0xb8, ttl 64, id 4660, offset 0, flags [DF], proto Mobile IP (55), length 72, options (NOP,NOP,NOP,EOL))",
			"192.0.2.1 > 198.51.100.7: mobile: [S] 203.0.113.10 > 203.0.113.20 (oproto=17)"},
		{"IP (tos 0xb8, ttl 64, id 4660, offset 0, flags [DF], proto Mobile IP (55), length 72, options (RR 0.0.0.0 0.0.0.0,EOL))",
			"192.0.2.1 > 198.51.100.7: mobile: [S] 203.0.113.10 > 203.0.113.20 (oproto=17)"},
		{"IP (tos 0xb8, ttl 64, id 4660, offset 0, flags [DF], proto Mobile IP (55), length 68)",
			"203.0.113.10 > 198.51.100.7: mobile: [] > 203.0.113.20 (oproto=17) (bad checksum "},
	}
	for i, w := range want {
		// Each packet is a timestamp line and an indented line.
		ipLine, mLine := lines[2*i], strings.TrimSpace(lines[2*i+1])
		assert.True(t, strings.HasSuffix(ipLine, " "+w.ip), "packet %d: %q", i, ipLine)
		assert.NotContains(t, ipLine+mLine, "bad cksum", "packet %d: IPv4 header checksum", i)
		if i < 3 {
			assert.Equal(t, w.mobile, mLine, "packet %d", i)
		} else {
			assert.True(t, strings.HasPrefix(mLine, w.mobile), "packet %d: %q", i, mLine)
		}
	}
}

// TestTsharkMinimal: tshark has no protocol 55 dissector, so it shows the
// minimal header and payload as data; it still checks the outer IPv4
// header (checksum good, addresses), and the data bytes parse as the
// minimal header we wrote.
func TestTsharkMinimal(t *testing.T) {
	pkts := interopPackets(t)[:3]
	path := testpkt.WriteRawIP(t, pkts)
	rows := testpkt.Tshark(t, path, "", []string{"ip.proto", "ip.src", "ip.dst", "ip.checksum.status", "ip.ttl", "data.data"},
		"-o", "ip.check_checksum:TRUE")
	require.Len(t, rows, 3)
	for i, row := range rows {
		assert.Equal(t, []string{"55", []string{"203.0.113.10", "192.0.2.1", "192.0.2.1"}[i], "198.51.100.7", "1", "64"}, row[:5], "packet %d", i)
		data, err := hex.DecodeString(strings.ReplaceAll(row[5], ":", ""))
		require.NoError(t, err)
		h, err := mobile.Parse(data)
		require.NoError(t, err)
		assert.Equal(t, origDst, h.Dst())
		src, ok := h.Src()
		assert.Equal(t, i > 0, ok)
		if ok {
			assert.Equal(t, origSrc, src)
		}
		assert.Equal(t, outer.IPProto(17), h.Protocol())
	}
}
