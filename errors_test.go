package ipencap_test

import (
	"errors"
	"io"
	"testing"

	"github.com/ipencap/ipencap"
	"github.com/stretchr/testify/assert"
)

func TestNew(t *testing.T) {
	e := ipencap.NewError("x: truncated", io.ErrUnexpectedEOF, ipencap.ErrFrame)
	assert.Equal(t, "x: truncated", e.Error())
	assert.ErrorIs(t, e, io.ErrUnexpectedEOF)
	assert.ErrorIs(t, e, ipencap.ErrFrame)
	assert.NotErrorIs(t, e, ipencap.ErrChecksum)
	assert.False(t, errors.Is(e, ipencap.NewError("x: truncated")), "a sentinel matches itself only")
}
