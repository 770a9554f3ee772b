package tunnel_test

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/tunnel"
)

// brokenUnderlay is an Underlay whose reads fail until it is closed.
type brokenUnderlay struct {
	reads  atomic.Int64
	closed chan struct{}
	once   sync.Once
}

var errBroken = errors.New("broken socket")

func (u *brokenUnderlay) ReadBatch([][]byte, []int, []netip.AddrPort, int) (int, error) {
	select {
	case <-u.closed:
		return 0, net.ErrClosed
	default:
	}
	u.reads.Add(1)
	return 0, errBroken
}

func (u *brokenUnderlay) WriteBatch(bufs [][]byte, _ []netip.AddrPort, _ int) (int, error) {
	return len(bufs), nil
}
func (u *brokenUnderlay) BatchSize() int { return 1 }
func (u *brokenUnderlay) Close() error {
	u.once.Do(func() { close(u.closed) })
	return nil
}

// TestFailingUnderlayBacksOff: an underlay whose every read fails is read
// with a backoff (1 ms doubling to 1 s) and logged at most once per 10 s,
// with the count of failures kept quiet, instead of once per millisecond
// forever. A minute of fake time (synctest) takes about 70 reads and 6 log
// lines; before, it took 60 000 of each.
func TestFailingUnderlayBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs testpkt.SyncBuffer
		e := tunnel.NewEngine(tunnel.EngineConfig{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		u := &brokenUnderlay{closed: make(chan struct{})}
		require.NoError(t, e.AddUnderlay(u, tunnel.UnderlayConfig{Name: "bad"}))
		time.Sleep(time.Minute)
		synctest.Wait()
		require.NoError(t, e.Close())
		reads := u.reads.Load()
		lines := strings.Count(logs.String(), "underlay read failed")
		t.Logf("a minute: %d reads, %d log lines", reads, lines)
		// 1+2+...+512 ms is about 1 s in 10 reads, then one a second.
		assert.LessOrEqual(t, reads, int64(75))
		assert.GreaterOrEqual(t, reads, int64(60))
		assert.LessOrEqual(t, lines, 7)
		assert.GreaterOrEqual(t, lines, 6)
		assert.Contains(t, logs.String(), "suppressed=")
		assert.Contains(t, logs.String(), "underlay=bad")
	})
}
