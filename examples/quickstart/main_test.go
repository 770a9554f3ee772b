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
	// Both ends received and sent three packets, without an error.
	lines := strings.Split(s, "\n")
	stats := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "    RX: ") || strings.HasPrefix(l, "    TX: ") {
			assert.True(t, strings.HasPrefix(strings.TrimSpace(lines[i+1]), "3 "), "counters: %q", lines[i+1])
			assert.Contains(t, lines[i+1], " 0 ", "no errors")
			stats++
		}
	}
	assert.Equal(t, 4, stats)
}
