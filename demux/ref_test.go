package demux_test

import (
	"errors"
	"math"
	"net/netip"

	"github.com/ipencap/ipencap/demux"
)

// refTable is the reference: a list of entries in insertion order, scanned
// linearly with the rules of the package documentation written as directly
// as possible. It shares no code with the table.
type refTable struct {
	entries  []demux.Entry[int]
	fallback map[refFallback]demux.Entry[int]
	misses   map[demux.Class]uint64
}

// refFallback names a fallback entry: one per class and family.
type refFallback struct {
	c demux.Class
	f demux.Family
}

func newRef() *refTable {
	return &refTable{fallback: map[refFallback]demux.Entry[int]{}, misses: map[demux.Class]uint64{}}
}

func refWild(a netip.Addr) bool { return !a.IsValid() || a.IsUnspecified() }

func refNorm(a netip.Addr) netip.Addr {
	a = a.WithZone("")
	if refWild(a) {
		return netip.Addr{}
	}
	return a
}

// refFamily is the family of an address as written: IPv4 only for a 4-byte
// address, IPv6 for a 16-byte one (IPv4-mapped too), none for the zero
// Addr.
func refFamily(a netip.Addr) demux.Family {
	switch a.BitLen() {
	case 32:
		return demux.IPv4
	case 128:
		return demux.IPv6
	}
	return 0
}

var errRefInvalid = demux.ErrInvalid

// refNormID validates id: its family is the one that Family and the
// addresses (wildcards spelled 0.0.0.0 or :: too) all name, and there must
// be exactly one; no address may be IPv4-mapped.
func refNormID(id demux.ID) (demux.ID, error) {
	fams := map[demux.Family]bool{}
	for _, f := range []demux.Family{id.Family, refFamily(id.Local), refFamily(id.Remote)} {
		if f != 0 {
			fams[f] = true
		}
	}
	for f := range fams {
		id.Family = f
	}
	mapped := id.Local.Is4In6() || id.Remote.Is4In6()
	id.Local, id.Remote = refNorm(id.Local), refNorm(id.Remote)
	switch {
	case id.Class == 0, len(fams) != 1, mapped:
		return id, errRefInvalid
	case id.Family != demux.IPv4 && id.Family != demux.IPv6:
		return id, errRefInvalid
	case id.Fallback && (id.Local.IsValid() || id.Remote.IsValid() || id.HasKey || id.Key != 0 || id.Link != 0):
		return id, errRefInvalid
	case id.Fallback:
		return id, nil
	case !id.HasKey && id.Key != 0, id.Link < 0, id.Link > math.MaxInt32:
		return id, errRefInvalid
	}
	return id, nil
}

func refEntry(id demux.ID, up bool, v int) demux.Entry[int] {
	return demux.Entry[int]{ID: id, Up: up, Value: v}
}

func (r *refTable) index(id demux.ID) int {
	for i, e := range r.entries {
		if e.ID == id {
			return i
		}
	}
	return -1
}

// refShareKey is what entries that differ only in Link (or, for group
// entries, in Local too) have in common: id without them. MaxShared caps
// the entries of one share key.
func refShareKey(id demux.ID) demux.ID {
	id.Link = 0
	if id.Remote.IsMulticast() {
		id.Local = netip.Addr{}
	}
	return id
}

// shared counts the entries other than the i-th with the share key of id.
func (r *refTable) shared(id demux.ID, i int) int {
	n := 0
	for j, e := range r.entries {
		if j != i && refShareKey(e.ID) == refShareKey(id) {
			n++
		}
	}
	return n
}

func (r *refTable) Len() int { return len(r.entries) + len(r.fallback) }

func (r *refTable) Add(e demux.Entry[int]) error {
	id, err := refNormID(e.ID)
	if err != nil {
		return err
	}
	if id.Fallback {
		if _, ok := r.fallback[refFallback{id.Class, id.Family}]; ok {
			return demux.ErrExists
		}
		r.fallback[refFallback{id.Class, id.Family}] = refEntry(id, e.Up, e.Value)
		return nil
	}
	if r.index(id) >= 0 {
		return demux.ErrExists
	}
	if r.shared(id, -1) >= demux.MaxShared {
		return demux.ErrTooMany
	}
	r.entries = append(r.entries, refEntry(id, e.Up, e.Value))
	return nil
}

func (r *refTable) Remove(id demux.ID) error {
	id, err := refNormID(id)
	if err != nil {
		return err
	}
	if id.Fallback {
		if _, ok := r.fallback[refFallback{id.Class, id.Family}]; !ok {
			return demux.ErrNotFound
		}
		delete(r.fallback, refFallback{id.Class, id.Family})
		return nil
	}
	i := r.index(id)
	if i < 0 {
		return demux.ErrNotFound
	}
	r.entries = append(r.entries[:i], r.entries[i+1:]...)
	return nil
}

func (r *refTable) SetUp(id demux.ID, up bool) error {
	id, err := refNormID(id)
	if err != nil {
		return err
	}
	if id.Fallback {
		e, ok := r.fallback[refFallback{id.Class, id.Family}]
		if !ok {
			return demux.ErrNotFound
		}
		e.Up = up
		r.fallback[refFallback{id.Class, id.Family}] = e
		return nil
	}
	i := r.index(id)
	if i < 0 {
		return demux.ErrNotFound
	}
	r.entries[i].Up = up
	return nil
}

// Replace puts e at old's position in the insertion order.
func (r *refTable) Replace(old demux.ID, e demux.Entry[int]) error {
	old, err := refNormID(old)
	if err != nil {
		return err
	}
	id, err := refNormID(e.ID)
	if err != nil {
		return err
	}
	ne := refEntry(id, e.Up, e.Value)
	if old.Fallback {
		of := refFallback{old.Class, old.Family}
		if _, ok := r.fallback[of]; !ok {
			return demux.ErrNotFound
		}
		if id != old {
			if err := r.Add(ne); err != nil {
				return err
			}
		}
		delete(r.fallback, of)
		if id == old {
			r.fallback[of] = ne
		}
		return nil
	}
	i := r.index(old)
	if i < 0 {
		return demux.ErrNotFound
	}
	if id.Fallback {
		if err := r.Add(ne); err != nil {
			return err
		}
		r.entries = append(r.entries[:i], r.entries[i+1:]...)
		return nil
	}
	if id != old && r.index(id) >= 0 {
		return demux.ErrExists
	}
	if r.shared(id, i) >= demux.MaxShared {
		return demux.ErrTooMany
	}
	r.entries[i] = ne
	return nil
}

// refKeyOK is the key rule: a keyed entry takes only its key, a keyless one
// only packets without a key.
func refKeyOK(e demux.Entry[int], q demux.Query) bool {
	if e.HasKey != q.HasKey {
		return false
	}
	return !e.HasKey || e.Key == q.Key
}

// refQueryFamily is the family of q: that of its addresses as written, 0
// if it has none or two.
func refQueryFamily(q demux.Query) demux.Family {
	fs, fd := refFamily(q.Src), refFamily(q.Dst)
	switch {
	case fs == 0:
		return fd
	case fd == 0 || fd == fs:
		return fs
	}
	return 0
}

// refAt reports whether e matches q at step s, ignoring the UP state.
func refAt(e demux.Entry[int], q demux.Query, s demux.Step) bool {
	return e.Family == refQueryFamily(q) && refAtAnyFamily(e, q, s)
}

// refAtAnyFamily is refAt without the family rule: the addresses compared
// in their 16-byte form, as the table did before it had that rule.
func refAtAnyFamily(e demux.Entry[int], q demux.Query, s demux.Step) bool {
	if e.Class != q.Class || !refKeyOK(e, q) {
		return false
	}
	as16 := func(a netip.Addr) netip.Addr {
		if !a.IsValid() {
			return a
		}
		return netip.AddrFrom16(a.As16())
	}
	group := e.Remote.IsMulticast()
	e.Local, e.Remote = as16(e.Local), as16(e.Remote)
	src, dst := as16(refNorm(q.Src)), as16(refNorm(q.Dst))
	switch s {
	case demux.StepExact:
		return !group && src.IsValid() && dst.IsValid() && e.Local == dst && e.Remote == src
	case demux.StepRemote:
		return !group && !e.Local.IsValid() && src.IsValid() && e.Remote == src
	case demux.StepLocal:
		if group {
			return dst.IsValid() && e.Remote == dst
		}
		return dst.IsValid() && e.Local == dst && !e.Remote.IsValid()
	case demux.StepWildcardKey:
		return !group && !e.Local.IsValid() && !e.Remote.IsValid()
	}
	return false
}

// refWhy says which interesting cases a lookup went through, to check that
// the random tests reach them all.
type refWhy struct {
	downSkipped    bool // a down entry would have matched
	boundWon       bool // returned an entry bound to the ingress link
	boundLater     bool // ... from a step after an unbound candidate's
	boundElsewhere bool // returned an entry bound to another link
	tie            bool // several entries matched at the returned step
	key0Keyless    bool // packet with key 0 present, keyless entry at same addresses
	group          bool // returned a group entry
	otherFamily    bool // an UP entry of another family would have matched
}

func (r *refTable) Lookup(q demux.Query) (demux.Entry[int], demux.Step, bool, refWhy) {
	var why refWhy
	cand, candStep := -1, demux.StepNone
	for s := demux.StepExact; s <= demux.StepWildcardKey; s++ {
		n := 0
		for i, e := range r.entries {
			if e.Up && e.Family != refQueryFamily(q) && refAtAnyFamily(e, q, s) {
				why.otherFamily = true
			}
			if q.HasKey && q.Key == 0 && !e.HasKey {
				ke := e
				ke.HasKey = true
				if refAt(ke, q, s) {
					why.key0Keyless = true
				}
			}
			if !refAt(e, q, s) {
				continue
			}
			if !e.Up {
				why.downSkipped = true
				continue
			}
			n++
			if e.Link != 0 && e.Link == q.Link {
				why.boundWon, why.boundLater = true, cand >= 0
				why.group = e.Remote.IsMulticast()
				why.tie = n > 1 || r.more(q, s, i)
				return e, s, true, why
			}
			if cand < 0 {
				cand, candStep = i, s
			}
		}
	}
	if cand >= 0 {
		e := r.entries[cand]
		why.boundElsewhere = e.Link != 0
		why.group = e.Remote.IsMulticast()
		why.tie = r.more(q, candStep, cand)
		return e, candStep, true, why
	}
	if f := refQueryFamily(q); f != 0 {
		if e, ok := r.fallback[refFallback{q.Class, f}]; ok && e.Up {
			return e, demux.StepFallback, true, why
		}
	}
	r.misses[q.Class]++
	return demux.Entry[int]{}, demux.StepNone, false, why
}

// more reports whether an UP entry after i also matches q at step s.
func (r *refTable) more(q demux.Query, s demux.Step, i int) bool {
	for _, e := range r.entries[i+1:] {
		if e.Up && refAt(e, q, s) {
			return true
		}
	}
	return false
}

// errKind maps an error to the sentinel it matches, for comparing the
// table's wrapped errors with the reference's bare ones.
func errKind(err error) error {
	for _, s := range []error{demux.ErrExists, demux.ErrNotFound, demux.ErrInvalid, demux.ErrTooMany} {
		if errors.Is(err, s) {
			return s
		}
	}
	return err
}
