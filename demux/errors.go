package demux

import "errors"

// Errors returned by the writers ([Table.Add], [Table.Remove], [Table.SetUp],
// [Table.Replace]). They may be wrapped with a detail naming the entry; match
// them with [errors.Is]. [Table.Lookup] returns no errors.
var (
	// ErrExists means an entry with the same identity (class, family,
	// local, remote, key, link; or the fallback of the class and family)
	// is already in the table.
	ErrExists = errors.New("demux: entry exists")
	// ErrNotFound means no entry has the given identity.
	ErrNotFound = errors.New("demux: entry not found")
	// ErrInvalid means an entry or identity the table cannot hold: class 0,
	// no address family or an unknown one, local and remote of different
	// families, an IPv4-mapped IPv6 address, a link outside 0..2³¹-1, a key
	// value without HasKey, or a fallback entry with addresses, a key or a
	// link.
	ErrInvalid = errors.New("demux: invalid entry")
	// ErrTooMany means the entry would be the (MaxShared+1)-th to share
	// class, family, addresses and key with others, differing from them
	// only in Link (or, for group entries, in Local too). See [MaxShared].
	ErrTooMany = errors.New("demux: too many entries differing only in link")
)
