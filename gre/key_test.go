package gre_test

import (
	"errors"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/gre"
)

func TestParseKey(t *testing.T) {
	tests := []struct {
		in   string
		want gre.Key
	}{
		{"0", 0},
		{"1", 1},
		{"4294967295", 0xffffffff},
		{"0x10", 16},
		{"0XfF", 255},
		{"010", 8}, // octal, as iproute2's strtoul with base 0
		{"0.0.0.1", 1},
		{"10.0.0.1", 0x0a000001},
		{"255.255.255.255", 0xffffffff},
		{"1.2.3.4", 0x01020304},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			k, err := gre.ParseKey(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, k)
		})
	}
	for _, bad := range []string{"", "x", "-1", "+1", "1_0", "0x", "4294967296", "1.2.3", "1.2.3.4.5",
		"256.0.0.0", "1..2.3", "a.b.c.d", "1.2.3.-4", "08", "0x1g"} {
		t.Run("bad "+bad, func(t *testing.T) {
			_, err := gre.ParseKey(bad)
			var ke *gre.KeyError
			require.ErrorAs(t, err, &ke)
			assert.Equal(t, bad, ke.Input)
			assert.Contains(t, err.Error(), "gre: ParseKey("+strconv.Quote(bad)+")")
		})
	}
	_, err := gre.ParseKey("4294967296")
	assert.True(t, errors.Is(err, strconv.ErrRange))
	_, err = gre.ParseKey("1.2.3")
	assert.True(t, errors.Is(err, gre.ErrKeySyntax))
}

func TestKeyText(t *testing.T) {
	assert.Equal(t, "0.0.0.1", gre.Key(1).String())
	assert.Equal(t, "10.0.0.1", gre.Key(0x0a000001).String())
	assert.Equal(t, "255.255.255.255", gre.Key(0xffffffff).String())
	for _, k := range []gre.Key{0, 1, 0xfde8, 0x02000000, 0xffffffff} {
		txt, err := k.MarshalText()
		require.NoError(t, err)
		var back gre.Key
		require.NoError(t, back.UnmarshalText(txt))
		assert.Equal(t, k, back)
	}
	var k gre.Key
	require.Error(t, k.UnmarshalText([]byte("nope")))
}
