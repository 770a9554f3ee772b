package tunnel

import (
	"net/netip"
	"testing"
	"time"
)

// TestReflectSweep: with the table of sources full and every bucket busy,
// a new source is refused, and the table is swept at most once a second
// (a flood of new sources must not cost a scan per packet); once sources
// have been idle for a second they make room.
func TestReflectSweep(t *testing.T) {
	rf := newReflector(true)
	now := time.Unix(1_000_000, 0)
	src := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, byte(100 + i>>8), byte(i)}) }
	for i := range reflectSources {
		if !rf.allow(src(i), false, now) {
			t.Fatalf("source %d refused with room in the table", i)
		}
	}
	if rf.allow(src(reflectSources), false, now) {
		t.Fatal("a new source allowed with every bucket busy")
	}
	if !rf.swept.Equal(now) {
		t.Fatal("a full table was not swept")
	}
	later := now.Add(500 * time.Millisecond)
	if rf.allow(src(reflectSources), false, later) || !rf.swept.Equal(now) {
		t.Fatal("swept again within a second")
	}
	idle := now.Add(2 * time.Second) // every bucket refilled
	if !rf.allow(src(reflectSources), false, idle) {
		t.Fatal("idle sources did not make room")
	}
	if len(rf.sources) != 1 {
		t.Errorf("%d sources kept after the sweep, want the new one alone", len(rf.sources))
	}
}
