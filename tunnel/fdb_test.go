package tunnel_test

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/tunneltest"
)

// newTapRig is end 1 of a pair with a broadcast gretap tunnel (remote the
// group) configured by fdb, fed raw outer packets through end 2.
func newTapRig(tb testing.TB, fdb tunnel.FDBConfig) *pair {
	tb.Helper()
	return newPair(tb, tunnel.ModeGRETap, func(c1, _ *tunnel.Config) {
		c1.Remote, c1.FDB = group, fdb
	}, tunneltest.Impairment{}, true)
}

// tapFrom is a gretap packet from the outer source src to end 1 (unicast
// to its address) carrying a frame from the MAC address mac.
func tapFrom(tb testing.TB, src netip.Addr, mac [6]byte) []byte {
	tb.Helper()
	return seedGRE(tb, src, end1v4, gre.Config{Protocol: gre.ProtoTEB}, frame(bcast, mac, 60))
}

// macN is a unicast MAC address numbered n.
func macN(n int) [6]byte { return [6]byte{2, 0, 0, byte(n >> 16), byte(n >> 8), byte(n)} }

// TestFDBFullRefusesInO1: a full table refuses a new address without
// copying anything (it copied the whole table per new address: 148 KB at
// 4 096 entries), and the frames are still delivered.
func TestFDBFullRefusesInO1(t *testing.T) {
	const max = 16
	p := newTapRig(t, tunnel.FDBConfig{Max: max, LearnRate: 1 << 20})
	for i := range max {
		inject(t, p, tapFrom(t, end2v4, macN(i)))
		recv(t, p.o1)
	}
	require.Len(t, p.t1.FDB(), max)
	pkts := make([][]byte, 101)
	for i := range pkts {
		pkts[i] = tapFrom(t, end2v4, macN(1000+i))
	}
	peers := []netip.AddrPort{p.p2.Addr()}
	dst := make([]byte, 2048)
	i := 0
	run := func() {
		if _, err := p.p2.WriteBatch(pkts[i:i+1], peers, 0); err != nil {
			t.Fatal(err)
		}
		i++
		if _, ok := p.o1.Recv(dst, 2*time.Second); !ok {
			t.Fatal("lost")
		}
	}
	require.Zero(t, testing.AllocsPerRun(100, run))
	eventually(t, func() bool { return p.t1.Stats().RxPackets == max+101 }, "every frame counted")
	s := p.t1.Stats()
	assert.Equal(t, uint64(101), s.FDBFull)
	assert.Equal(t, uint64(max), s.FDBLearned)
	assert.Equal(t, uint64(max+101), s.RxPackets, "the frames are delivered")
}

// TestFDBMembers: with Members, an address is learnt behind a member only:
// a host that can reach the tunnel's address but is no member cannot move
// a learnt address to itself (and receive its traffic) with one frame.
func TestFDBMembers(t *testing.T) {
	p := newTapRig(t, tunnel.FDBConfig{Members: []netip.Addr{end2v4}})
	mac := macN(1)
	inject(t, p, tapFrom(t, end2v4, mac))
	recv(t, p.o1)
	inject(t, p, tapFrom(t, stranger4, mac))
	recv(t, p.o1) // delivered, but not learnt
	assert.Equal(t, fdbOf(mac, end2v4), withoutAge(p.t1.FDB()))
	s := p.t1.Stats()
	assert.Equal(t, uint64(1), s.FDBRefused)
	assert.Zero(t, s.FDBMoved)

	// Without Members, the same frame moves it (a GRE key is no
	// authentication): the reason Members exist.
	q := newTapRig(t, tunnel.FDBConfig{})
	inject(t, q, tapFrom(t, end2v4, mac), tapFrom(t, stranger4, mac))
	recv(t, q.o1)
	recv(t, q.o1)
	assert.Equal(t, fdbOf(mac, stranger4), withoutAge(q.t1.FDB()))
}

// TestFDBNotLearnable: sources that must never stand behind an address
// (loopback, the unspecified and broadcast addresses) are refused.
func TestFDBNotLearnable(t *testing.T) {
	p := newTapRig(t, tunnel.FDBConfig{})
	for i, src := range []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("255.255.255.255")} {
		inject(t, p, tapFrom(t, src, macN(i)))
	}
	eventually(t, func() bool { return p.t1.Stats().RxPackets == 2 }, "both delivered")
	assert.Equal(t, uint64(2), p.t1.Stats().FDBRefused)
	assert.Empty(t, p.t1.FDB())
}

// TestFDBLearnRate: a flood of frames from new addresses is learnt at
// LearnRate per second at most (synctest: the clock stands still until
// the test sleeps).
func TestFDBLearnRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newTapRig(t, tunnel.FDBConfig{LearnRate: 5})
		for i := range 20 {
			inject(t, p, tapFrom(t, end2v4, macN(i)))
		}
		synctest.Wait()
		s := p.t1.Stats()
		assert.Equal(t, uint64(5), s.FDBLearned)
		assert.Equal(t, uint64(15), s.FDBRefused)
		assert.Equal(t, uint64(20), s.RxPackets, "the frames are delivered")
		time.Sleep(time.Second)
		for i := 20; i < 40; i++ {
			inject(t, p, tapFrom(t, end2v4, macN(i)))
		}
		synctest.Wait()
		assert.Equal(t, uint64(10), p.t1.Stats().FDBLearned, "five more a second later")
	})
}

// TestFDBNoLearning: with learning off nothing is learnt.
func TestFDBNoLearning(t *testing.T) {
	p := newTapRig(t, tunnel.FDBConfig{NoLearning: true})
	inject(t, p, tapFrom(t, end2v4, macN(1)))
	recv(t, p.o1)
	assert.Empty(t, p.t1.FDB())
	assert.Zero(t, p.t1.Stats().FDBLearned)
}

// TestFDBSweep: expired entries go in a sweep, not one by one.
func TestFDBSweep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newTapRig(t, tunnel.FDBConfig{Ageing: time.Minute})
		for i := range 10 {
			inject(t, p, tapFrom(t, end2v4, macN(i)))
		}
		synctest.Wait()
		time.Sleep(2 * time.Minute)
		inject(t, p, tapFrom(t, end2v4, macN(100)))
		synctest.Wait()
		s := p.t1.Stats()
		assert.Equal(t, uint64(10), s.FDBExpired, "the sweep on the next frame removed the ten")
		assert.Len(t, p.t1.FDB(), 1)
	})
}

// TestFDBConfigCopied: Config.FDB.Members is copied by Add: changing the
// caller's slice afterwards changes nothing.
func TestFDBConfigCopied(t *testing.T) {
	members := []netip.Addr{end2v4}
	p := newTapRig(t, tunnel.FDBConfig{Members: members})
	members[0] = stranger4
	assert.Equal(t, []netip.Addr{end2v4}, p.t1.Config().FDB.Members)
	p.t1.Config().FDB.Members[0] = stranger4
	assert.Equal(t, []netip.Addr{end2v4}, p.t1.Config().FDB.Members, "Config returns a copy")
}
