package tunnel

import (
	"log/slog"
	"time"
)

// Backoff of a loop whose reads keep failing: it sleeps failMinDelay after
// the first failure, twice as long after each further one, at most
// failMaxDelay, and logs at most one line per failLogEvery.
const (
	failMinDelay = time.Millisecond
	failMaxDelay = time.Second
	failLogEvery = 10 * time.Second
)

// failures is the backoff and log rate limit of one read loop (an
// underlay's receive goroutine, a tunnel's send goroutine). A failing
// socket must neither spin nor flood the log: before, a broken underlay
// logged one warning per millisecond, forever.
type failures struct {
	delay  time.Duration // the next sleep; 0 after a success
	logged time.Time     // when the last line was logged
	muted  int           // failures not logged since then
}

// ok resets the backoff after a read that succeeded.
func (f *failures) ok() { f.delay = 0 }

// wait logs err through log (nil: silent), at most one line per
// failLogEvery with the count of failures it kept quiet about, then sleeps
// the backoff delay. It returns false if done was closed first (done may
// be nil).
func (f *failures) wait(log *slog.Logger, msg string, err error, done <-chan struct{}) bool {
	f.delay = min(max(f.delay*2, failMinDelay), failMaxDelay)
	if now := time.Now(); log != nil {
		if f.logged.IsZero() || now.Sub(f.logged) >= failLogEvery {
			log.Warn(msg, "err", err, "suppressed", f.muted, "retry_in", f.delay.String())
			f.logged, f.muted = now, 0
		} else {
			f.muted++
		}
	}
	tm := time.NewTimer(f.delay)
	defer tm.Stop()
	select {
	case <-done:
		return false
	case <-tm.C:
		return true
	}
}
