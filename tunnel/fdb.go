package tunnel

import (
	"bytes"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
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

// fdb is the forwarding database of a broadcast gretap tunnel: a
// copy-on-write map, read without a lock by the send path and refreshed in
// place by the receive path; writers (a new address, the removal of
// expired ones) serialise on mu.
type fdb struct {
	mu  sync.Mutex
	cur atomic.Pointer[map[[6]byte]*fdbEntry]
	age int64 // ageing time, nanoseconds
	max int
}

func newFDB(c *Config) *fdb {
	f := &fdb{age: int64(c.FDB.Ageing), max: c.FDB.Max}
	if f.age == 0 {
		f.age = int64(DefaultFDBAgeing)
	}
	if f.max == 0 {
		f.max = DefaultFDBMax
	}
	m := map[[6]byte]*fdbEntry{}
	f.cur.Store(&m)
	return f
}

// lookup returns the member behind the unicast MAC address mac, if it was
// seen within the ageing time. It does not allocate.
func (f *fdb) lookup(mac [6]byte, now int64) (netip.Addr, bool) {
	e := (*f.cur.Load())[mac]
	if e == nil || now-e.seen.Load() >= f.age {
		return netip.Addr{}, false
	}
	return e.peer.load().Addr(), true
}

// learn records that a frame from mac came from the member src at now.
// Refreshing a known address does not allocate; a new one copies the map.
func (t *Tunnel) learn(mac [6]byte, src netip.Addr, now int64) {
	if mac[0]&1 != 0 || mac == [6]byte{} || !src.IsValid() || src.IsMulticast() || src.IsUnspecified() {
		return // group or zero source addresses are never learnt, as a bridge
	}
	f := t.fdb
	if e := (*f.cur.Load())[mac]; e != nil {
		t.refresh(e, src, now)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	old := *f.cur.Load()
	if e := old[mac]; e != nil { // learnt meanwhile
		t.refresh(e, src, now)
		return
	}
	m := t.fdbLive(old, now)
	if len(m) >= f.max {
		t.stats.fdbFull.Add(1)
		if len(m) != len(old) {
			f.cur.Store(&m)
		}
		return
	}
	e := &fdbEntry{}
	e.peer.store(netip.AddrPortFrom(src, 0))
	e.seen.Store(now)
	m[mac] = e
	f.cur.Store(&m)
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

// fdbLive returns a copy of old without its expired entries, counting
// them; t.fdb.mu is held.
func (t *Tunnel) fdbLive(old map[[6]byte]*fdbEntry, now int64) map[[6]byte]*fdbEntry {
	m := make(map[[6]byte]*fdbEntry, len(old)+1)
	for k, e := range old {
		if now-e.seen.Load() >= t.fdb.age {
			t.stats.fdbExpired.Add(1)
			continue
		}
		m[k] = e
	}
	return m
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
	f.mu.Lock()
	m := t.fdbLive(*f.cur.Load(), now)
	f.cur.Store(&m)
	f.mu.Unlock()
	out := make([]FDBEntry, 0, len(m))
	for k, e := range m {
		out = append(out, FDBEntry{MAC: net.HardwareAddr(slices.Clone(k[:])), Remote: e.peer.load().Addr(),
			Age: time.Duration(now - e.seen.Load())})
	}
	slices.SortFunc(out, func(a, b FDBEntry) int { return bytes.Compare(a.MAC, b.MAC) })
	return out
}
