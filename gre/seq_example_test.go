package gre_test

import (
	"fmt"
	"math"
	"time"

	"github.com/ipencap/ipencap/gre"
)

// A sender numbers packets with a SeqCounter; a receiver without a reorder
// buffer drops whatever arrives at or behind the last packet it delivered.
func ExampleSeqWindow() {
	var tx gre.SeqCounter
	sent := []uint32{tx.Next(), tx.Next(), tx.Next(), tx.Next()}
	fmt.Println("sent:", sent)

	var w gre.SeqWindow
	w.SetLast(math.MaxUint32) // RFC 2890's initial state: expect 0 first
	for _, seq := range []uint32{0, 2, 1, 3, 3} {
		fmt.Printf("%d: %v\n", seq, w.Check(seq))
	}
	fmt.Println("dropped:", w.Dropped(), "skipped:", w.Skipped())
	// Output:
	// sent: [0 1 2 3]
	// 0: true
	// 2: true
	// 1: false
	// 3: true
	// 3: false
	// dropped: 2 skipped: 1
}

// A Reorder puts packets back in order across the 2^32 wrap, and releases
// past a gap once a packet has waited maxWait. The clock here is fake.
func ExampleReorder() {
	r, err := gre.NewReorder(gre.DefaultReorderPackets, 10*time.Millisecond)
	if err != nil {
		fmt.Println(err)
		return
	}
	t0 := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	ready := make([]gre.Ready, 0, gre.DefaultReorderPackets+1) // room enough: Push never allocates
	show := func(rs []gre.Ready) {
		for _, p := range rs {
			fmt.Printf("deliver %#x %q\n", p.Seq, p.Pkt)
		}
	}

	ready, _ = r.Push(ready[:0], 0xfffffffe, []byte("a"), t0)
	show(ready)
	ready, _ = r.Push(ready[:0], 0, []byte("c"), t0) // ahead of a gap: waits
	show(ready)
	ready, _ = r.Push(ready[:0], 0xffffffff, []byte("b"), t0)
	show(ready)
	ready, _ = r.Push(ready[:0], 2, []byte("e"), t0.Add(time.Millisecond)) // 1 is missing
	show(ready)

	next, _ := r.Deadline()
	fmt.Println("waiting:", r.Len(), "flush at", next.Sub(t0))
	show(r.Flush(ready[:0], next)) // 1 never came
	ready, _ = r.Push(ready[:0], 1, []byte("d"), next)
	show(ready)

	st := r.Stats()
	fmt.Printf("delivered %d, late %d, timeout %d, skipped %d\n", st.Delivered, st.Late, st.Timeout, st.Skipped)
	// Output:
	// deliver 0xfffffffe "a"
	// deliver 0xffffffff "b"
	// deliver 0x0 "c"
	// waiting: 1 flush at 11ms
	// deliver 0x2 "e"
	// delivered 4, late 1, timeout 1, skipped 1
}
