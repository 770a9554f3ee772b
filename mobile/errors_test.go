package mobile_test

import (
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ipencap/ipencap"
	"github.com/ipencap/ipencap/mobile"
)

// sentinels are the package's per-packet errors.
var sentinels = []error{mobile.ErrTruncated, mobile.ErrVersion, mobile.ErrHeaderLen, mobile.ErrIPChecksum,
	mobile.ErrLength, mobile.ErrFragment, mobile.ErrTooLong, mobile.ErrShortBuffer, mobile.ErrProtocol,
	mobile.ErrReservedBits, mobile.ErrChecksum, mobile.ErrAddr}

// TestErrorKinds: every per-packet sentinel of the package matches exactly
// one kind of package ipencap, the one its doc names.
func TestErrorKinds(t *testing.T) {
	kinds := []error{ipencap.ErrFrame, ipencap.ErrChecksum, ipencap.ErrProtocol, ipencap.ErrSequence}
	for _, err := range sentinels {
		n := 0
		for _, k := range kinds {
			if errors.Is(err, k) {
				n++
			}
		}
		assert.Equal(t, 1, n, "%v matches %d kinds", err, n)
	}
	assert.ErrorIs(t, mobile.ErrChecksum, ipencap.ErrChecksum)
	assert.ErrorIs(t, mobile.ErrIPChecksum, ipencap.ErrChecksum)
	assert.ErrorIs(t, mobile.ErrProtocol, ipencap.ErrProtocol)
	assert.ErrorIs(t, mobile.ErrTruncated, io.ErrUnexpectedEOF)
	assert.ErrorIs(t, mobile.ErrShortBuffer, io.ErrShortBuffer)
	for i, a := range sentinels {
		for _, b := range sentinels[i+1:] {
			assert.NotErrorIs(t, a, b, "sentinels are distinct")
		}
	}
}
