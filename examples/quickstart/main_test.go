package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuickstart(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(&out))
	s := out.String()
	for _, want := range []string{
		"outer IPv4  192.0.2.1 > 198.51.100.1 proto GRE",
		"flags 0xb000 version 0 protocol IPv4",
		"(valid true) key 10.0.0.1 (167772161) seq 2",
		"ICMP echo id 0x1701 seq 2",
		"corrupted packet: gre: bad checksum - a checksum error: true",
	} {
		assert.Contains(t, s, want)
	}
}
