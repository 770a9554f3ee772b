package tunneltest_test

import (
	"fmt"
	"net/netip"

	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/tunneltest"
)

// A pipe carries a packet from one end to the other, and the reader learns
// which end sent it.
func ExamplePipe() {
	a, b := tunneltest.NewPipe(tunneltest.PipeConfig{
		Framing: tunnel.FramingIP,
		AddrA:   netip.MustParseAddrPort("192.0.2.1:0"),
		AddrB:   netip.MustParseAddrPort("192.0.2.2:0"),
	})
	defer a.Close()
	defer b.Close()

	const headroom = 16
	pkt := append(make([]byte, headroom), "hello"...)
	if _, err := a.WriteBatch([][]byte{pkt}, []netip.AddrPort{b.Addr()}, headroom); err != nil {
		panic(err)
	}

	bufs := [][]byte{make([]byte, headroom+1500)}
	sizes := make([]int, 1)
	peers := make([]netip.AddrPort, 1)
	n, err := b.ReadBatch(bufs, sizes, peers, headroom)
	if err != nil {
		panic(err)
	}
	fmt.Println(n, string(bufs[0][headroom:headroom+sizes[0]]), peers[0].Addr())
	fmt.Printf("%+v\n", a.Stats())
	// Output:
	// 1 hello 192.0.2.1
	// {Sent:1 Received:0 Dropped:0 Lost:0 Duplicated:0 Reordered:0 Truncated:0}
}

// A test injects a packet for the engine to read, and receives what the
// engine writes back.
func ExampleChannelOverlay() {
	o := tunneltest.NewChannelOverlay(tunneltest.OverlayConfig{})
	defer o.Close()

	if err := o.Inject([]byte{0x45, 0, 0, 20}); err != nil {
		panic(err)
	}
	// The engine's side: read with headroom, write back.
	const offset = 32
	bufs := [][]byte{make([]byte, offset+1500)}
	sizes := make([]int, 1)
	n, _ := o.Read(bufs, sizes, offset)
	bufs[0] = bufs[0][:offset+sizes[0]]
	o.Write(bufs[:n], offset)

	dst := make([]byte, 1500)
	m, ok := o.Recv(dst, 0)
	fmt.Printf("% x %v %d\n", dst[:m], ok, o.Received())
	// Output:
	// 45 00 00 14 true 1
}
