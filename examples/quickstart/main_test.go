package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuickstart(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(&out, 3))
	s := out.String()
	for _, want := range []string{
		"gre-a: gre/ip remote 198.51.100.1 local 192.0.2.1 ttl 64 key 167772161 icsum ocsum iseq oseq (mtu 1464)",
		"wire: IP 192.0.2.1 > 198.51.100.1 ttl 64: GRE key 10.0.0.1 seq 2 csum",
		"(valid true), IPv4, 60 bytes inside",
		"wire: IP 198.51.100.1 > 192.0.2.1 ttl 64: GRE key 10.0.0.1 seq 2",
		"host B got 203.0.113.1 > 203.0.113.2: ICMP echo id 0x1701 seq 2, 32 bytes of data",
		"host A got 203.0.113.2 > 203.0.113.1: ICMP echo reply id 0x1701 seq 2, 32 bytes of data",
	} {
		assert.Contains(t, s, want)
	}
	// Both ends received and sent three packets, without an error, and
	// count the same bytes both ways: the three 60-byte inner packets, as
	// ip -s tunnel counts them (TX bytes are inner bytes too, not the
	// 96-byte outer packets).
	lines := strings.Split(s, "\n")
	stats := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "    RX: ") || strings.HasPrefix(l, "    TX: ") {
			f := strings.Fields(lines[i+1])
			require.Len(t, f, 6, "counters: %q", lines[i+1])
			assert.Equal(t, []string{"3", "180", "0"}, f[:3], "%s packets, bytes, errors", strings.TrimSpace(l)[:2])
			stats++
		}
	}
	assert.Equal(t, 4, stats)
}
