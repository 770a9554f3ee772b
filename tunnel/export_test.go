package tunnel

import "time"

// Test seams, compiled only into the package's tests (not API).

// NewEngineForTest returns NewEngine(cfg) whose clock is now (nil:
// time.Now) and which, with manualTicks, starts no keepalive timers: the
// test calls Tick.
func NewEngineForTest(cfg EngineConfig, now func() time.Time, manualTicks bool) *Engine {
	e := NewEngine(cfg)
	if now != nil {
		e.now = now
	}
	e.manualTicks = manualTicks
	return e
}

// Tick runs one keepalive period of t, as its timer would.
func Tick(t *Tunnel) { t.tick() }

// HeldBytes returns the bytes t's reorder buffer holds.
func HeldBytes(t *Tunnel) int {
	t.seq.mu.Lock()
	defer t.seq.mu.Unlock()
	return t.seq.held
}
