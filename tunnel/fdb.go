package tunnel

import (
	"bytes"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// FDB defaults of a broadcast gretap tunnel, as a Linux bridge's.
const (
	// DefaultFDBAgeing is how long a learnt entry lives without a frame
	// from its MAC address (the bridge's ageing_time, 300 s).
	DefaultFDBAgeing = 300 * time.Second
	// DefaultFDBMax bounds the entries of one tunnel's table: frames from
	// further MAC addresses are delivered but not learnt (Stats.FDBFull).
	DefaultFDBMax = 4096
)

// FDBEntry is one learnt entry of a broadcast gretap tunnel's forwarding
// database ([Tunnel.FDB]), like a line of `bridge fdb show`.
type FDBEntry struct {
	// MAC is the inner (Ethernet) source address learnt.
	MAC net.HardwareAddr
	// Remote is the outer source address of the member it was seen
	// behind: frames to MAC go there, unicast.
	Remote netip.Addr
	// Age is the time since the last frame from MAC.
	Age time.Duration
}

// fdbEntry is a learnt MAC address; its member and age change in place.
type fdbEntry struct {
	peer peerCell     // the member's outer address
	seen atomic.Int64 // Unix nanoseconds of the last frame
}

// fdb is the forwarding database of a broadcast gretap tunnel. Entries
// live in a sync.Map (a concurrent hash trie): the send path reads without
// a lock, and adding or removing an address is O(1), where a copy-on-write
// map copied the whole table for each new address (148 KB at 4 096
// entries, 8–30 times the cost of a known frame, on the receive goroutine
// every tunnel shares). Expired entries go in a sweep, at most once per
// half ageing time; a full table refuses a new address in O(1), as a Linux
// bridge's fdb_max_learned and VXLAN's addrmax do; new addresses are
// learnt at most at learnRate per second.
type fdb struct {
	m         sync.Map // [6]byte → *fdbEntry
	n         atomic.Int64
	age       int64 // ageing time, nanoseconds
	max       int64
	noLearn   bool
	members   []netip.Addr // learn only from these outer sources; nil: any
	lim       *rate.Limiter
	nextSweep atomic.Int64 // Unix ns
	sweeping  sync.Mutex
}

// DefaultFDBLearnRate is how many new MAC addresses a broadcast gretap
// tunnel learns per second at most ([FDBConfig].LearnRate), with bursts of
// as many: a flood of frames from new source addresses (a MAC flooding
// attack) fills the table at that pace at most and costs the receive path
// a rate check per frame, not a table insertion.
const DefaultFDBLearnRate = 1000

func newFDB(c *Config) *fdb {
	fc := c.FDB
	f := &fdb{age: int64(fc.Ageing), max: int64(fc.Max), noLearn: fc.NoLearning, members: slices.Clone(fc.Members)}
	if f.age == 0 {
		f.age = int64(DefaultFDBAgeing)
	}
	if f.max == 0 {
		f.max = DefaultFDBMax
	}
	r := fc.LearnRate
	if r == 0 {
		r = DefaultFDBLearnRate
	}
	f.lim = rate.NewLimiter(rate.Limit(r), r)
	return f
}

// lookup returns the member behind the unicast MAC address mac, if it was
// seen within the ageing time. It does not allocate.
func (f *fdb) lookup(mac [6]byte, now int64) (netip.Addr, bool) {
	v, ok := f.m.Load(mac)
	if !ok {
		return netip.Addr{}, false
	}
	e := v.(*fdbEntry)
	if now-e.seen.Load() >= f.age {
		return netip.Addr{}, false
	}
	return e.peer.load().Addr(), true
}

// learnable reports whether src may stand behind a learnt address: one
// the tunnel may send to (mayBePeer: a spoofed source would make it send
// frames to itself), and one of FDB.Members when they are configured.
func (t *Tunnel) learnable(src netip.Addr) bool {
	if !t.mayBePeer(src) {
		return false
	}
	f := t.fdb
	return f.members == nil || slices.Contains(f.members, src)
}

// learn records that a frame from mac came from the member src at now.
// Refreshing a known address does not allocate; a new one allocates its
// entry.
func (t *Tunnel) learn(mac [6]byte, src netip.Addr, now int64) {
	f := t.fdb
	if f.noLearn || mac[0]&1 != 0 || mac == [6]byte{} {
		return // group or zero source addresses are never learnt, as a bridge
	}
	t.sweepFDB(now)
	v, known := f.m.Load(mac)
	if known && v.(*fdbEntry).peer.load().Addr() == src {
		v.(*fdbEntry).seen.Store(now) // src was checked when it was learnt (Members do not change)
		return
	}
	if !t.learnable(src) {
		t.stats.fdbRefused.Add(1)
		return
	}
	if known {
		t.refresh(v.(*fdbEntry), src, now)
		return
	}
	if f.n.Load() >= f.max {
		t.stats.fdbFull.Add(1)
		return
	}
	if !f.lim.AllowN(time.Unix(0, now), 1) {
		t.stats.fdbRefused.Add(1)
		return
	}
	e := &fdbEntry{}
	e.peer.store(netip.AddrPortFrom(src, 0))
	e.seen.Store(now)
	if v, loaded := f.m.LoadOrStore(mac, e); loaded { // learnt meanwhile
		t.refresh(v.(*fdbEntry), src, now)
		return
	}
	f.n.Add(1)
	t.stats.fdbLearned.Add(1)
}

// refresh records a frame from a learnt address, behind src at now.
func (t *Tunnel) refresh(e *fdbEntry, src netip.Addr, now int64) {
	e.seen.Store(now)
	if e.peer.load().Addr() != src {
		e.peer.store(netip.AddrPortFrom(src, 0))
		t.stats.fdbMoved.Add(1)
	}
}

// sweepFDB removes the expired entries, counting them, when a sweep is
// due: at most once per half ageing time, by one goroutine at a time (the
// others go on).
func (t *Tunnel) sweepFDB(now int64) {
	f := t.fdb
	next := f.nextSweep.Load()
	if now < next || !f.nextSweep.CompareAndSwap(next, now+f.age/2) {
		return
	}
	t.sweepFDBNow(now)
}

// sweepFDBNow removes the entries older than the ageing time.
func (t *Tunnel) sweepFDBNow(now int64) {
	f := t.fdb
	f.sweeping.Lock()
	defer f.sweeping.Unlock()
	f.m.Range(func(k, v any) bool {
		if now-v.(*fdbEntry).seen.Load() >= f.age && f.m.CompareAndDelete(k, v) {
			f.n.Add(-1)
			t.stats.fdbExpired.Add(1)
		}
		return true
	})
}

// FDB returns the forwarding database of a broadcast gretap tunnel (a
// ModeGRETap tunnel whose remote is a multicast group), sorted by MAC
// address, after removing the entries older than Config.FDB.Ageing
// (counted in Stats.FDBExpired): which member (outer address) each inner
// source MAC address was last seen behind, like `bridge fdb show`. It is
// nil for other tunnels.
func (t *Tunnel) FDB() []FDBEntry {
	f := t.fdb
	if f == nil {
		return nil
	}
	now := t.e.now().UnixNano()
	t.sweepFDBNow(now)
	var out []FDBEntry
	f.m.Range(func(k, v any) bool {
		mac, e := k.([6]byte), v.(*fdbEntry)
		out = append(out, FDBEntry{MAC: net.HardwareAddr(slices.Clone(mac[:])), Remote: e.peer.load().Addr(),
			Age: time.Duration(now - e.seen.Load())})
		return true
	})
	slices.SortFunc(out, func(a, b FDBEntry) int { return bytes.Compare(a.MAC, b.MAC) })
	return out
}
