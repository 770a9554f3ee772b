//go:build linux

package rawsock_test

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/tunnel/rawsock"
)

// ns is a network namespace made by a test (internal/testpkt: NewNS, Veth,
// Up, WaitUp, Route, Sysctl, Do), named testpkt.NSPrefix and a number so
// that `ip netns list` shows whose it is; t.Cleanup deletes it.
type ns struct{ *testpkt.NS }

// needRoot skips (fails under IPENCAP_STRICT=1) without root.
func needRoot(tb testing.TB) {
	tb.Helper()
	testpkt.NeedRoot(tb, "rawsock tests (network namespaces, veth pairs, raw sockets)")
}

// newNS makes a network namespace, deleted by t.Cleanup.
func newNS(tb testing.TB) *ns {
	tb.Helper()
	needRoot(tb)
	return &ns{testpkt.NewNS(tb)}
}

// open opens a Conn inside n, closed by t.Cleanup.
func (n *ns) open(tb testing.TB, cfg rawsock.Config) *rawsock.Conn {
	tb.Helper()
	var c *rawsock.Conn
	var err error
	n.Do(tb, func() { c, err = rawsock.Open(cfg) })
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// The addresses of the two-namespace setup.
var (
	addrA4 = netip.MustParseAddr("198.51.100.1")
	addrB4 = netip.MustParseAddr("198.51.100.2")
	addrA6 = netip.MustParseAddr("2001:db8::1")
	addrB6 = netip.MustParseAddr("2001:db8::2")
)

// newPair makes namespaces a and b joined by a veth pair, with
// 198.51.100.1/24 and 2001:db8::1/64 in a, 198.51.100.2/24 and
// 2001:db8::2/64 in b.
func newPair(tb testing.TB) (a, b *ns) {
	tb.Helper()
	needRoot(tb)
	na, nb := testpkt.NewPair(tb, "rs-a", []string{"198.51.100.1/24", "2001:db8::1/64"},
		"rs-b", []string{"198.51.100.2/24", "2001:db8::2/64"})
	return &ns{na}, &ns{nb}
}

// received is what readN collected.
type received struct {
	pkts  [][]byte
	peers []netip.AddrPort
	calls int
}

// rxOffset is the offset the engine reads at.
const rxOffset = 24

// readN reads n packets from c, with batches of batch buffers of the
// engine's size, failing after timeout (and closing c to stop the reader).
func readN(tb testing.TB, c *rawsock.Conn, n, batch int, timeout time.Duration) received {
	tb.Helper()
	done := make(chan error, 1)
	var r received
	go func() {
		bufs := make([][]byte, batch)
		for i := range bufs {
			bufs[i] = make([]byte, 65600)
		}
		sizes := make([]int, batch)
		peers := make([]netip.AddrPort, batch)
		for len(r.pkts) < n {
			k, err := c.ReadBatch(bufs, sizes, peers, rxOffset)
			r.calls++
			for i := range k {
				r.pkts = append(r.pkts, append([]byte(nil), bufs[i][rxOffset:rxOffset+sizes[i]]...))
				r.peers = append(r.peers, peers[i])
			}
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		require.NoError(tb, err)
	case <-time.After(timeout):
		_ = c.Close()
		<-done
		tb.Fatalf("received %d of %d packets within %v", len(r.pkts), n, timeout)
	}
	return r
}

// errClosed reports whether err is net.ErrClosed.
func errClosed(err error) bool { return errors.Is(err, net.ErrClosed) }
