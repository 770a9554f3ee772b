package demux

import "errors"

// Errors returned by the writers ([Table.Add], [Table.Remove], [Table.SetUp],
// [Table.Replace]). They may be wrapped with a detail naming the entry; match
// them with [errors.Is]. [Table.Lookup] returns no errors.
var (
	// ErrExists means an entry with the same identity (class, local, remote,
	// key, link; or the class's fallback) is already in the table.
	ErrExists = errors.New("demux: entry exists")
	// ErrNotFound means no entry has the given identity.
	ErrNotFound = errors.New("demux: entry not found")
	// ErrInvalid means an entry or identity the table cannot hold: class 0,
	// local and remote of different address families, a link outside
	// 0..2³¹-1, a key value without HasKey, or a fallback entry with
	// addresses, a key or a link.
	ErrInvalid = errors.New("demux: invalid entry")
)
