package tunnel

import (
	"net/netip"
	"testing"
)

// TestQueuePathMTUAllocs: handing a path-MTU report with a quote to the
// engine's path-MTU goroutine allocates nothing, whether queued or
// dropped (a flood of forged ICMP errors must not cost the heap).
func TestQueuePathMTUAllocs(t *testing.T) {
	e := NewEngine(EngineConfig{})
	defer e.Close()
	r := PathMTUReport{Remote: netip.MustParseAddr("198.51.100.2"), MTU: 1400, Quoted: make([]byte, 48)}
	if allocs := testing.AllocsPerRun(1000, func() { e.queuePathMTU(r) }); allocs != 0 {
		t.Errorf("queuePathMTU allocates %v times", allocs)
	}
}
