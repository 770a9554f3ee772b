// Package demux finds the tunnel that receives a packet: the receive-side
// lookup of the Linux IP tunnel driver (net/ipv4/ip_tunnel.c,
// ip_tunnel_lookup), for millions of tunnels, without locks on the read side.
//
// A [Table] holds [Entry] values: an identity ([ID]: a protocol [Class],
// an address [Family], a local and a remote address (either may be the
// wildcard), an optional input key, an optional underlay link), an UP flag
// and a value of the caller's type V (the tunnel engine stores its
// *Tunnel). [Table.Lookup] takes a [Query], the outer source S,
// destination D, key and ingress link of a received packet, and tries these
// steps in order:
//
//  1. StepExact: local == D and remote == S;
//  2. StepRemote: remote == S, local wildcard;
//  3. StepLocal: local == D, remote wildcard; or an entry whose remote is
//     the multicast group D (broadcast GRE), whatever its local;
//  4. StepWildcardKey: local and remote wildcard, the key equal;
//  5. StepFallback: the fallback entry of the class and of the packet's
//     family (like gre0 for IPv4, ip6gre0 for IPv6), if UP.
//
// As in Linux, which keeps IPv4 and IPv6 tunnels in separate tables, an
// entry matches only packets of its family, at every step: an IPv4 entry
// never receives an IPv6 packet, not even one whose addresses are the
// IPv4-mapped forms (::ffff:a.b.c.d) of its own, and a wildcard entry is
// the wildcard of one family. A query's family is that of its addresses; a
// query with none, or with one of each family, matches nothing.
//
// At steps 1 to 4 a keyed entry matches only packets carrying its key and a
// keyless entry only packets without a key: a packet with key 0 does not
// match a keyless entry. Entries that are down never match. Within a step an
// entry bound to the packet's ingress link wins at once; otherwise the first
// match (in the order entries were added) is kept as a candidate while later
// steps look for a bound one, and the first candidate found is returned
// after the steps: binding is a preference, not a filter. A miss is counted
// per class ([Table.Misses]). At most [MaxShared] entries may differ only in
// their link, so that finding the bound one stays cheap.
//
// # Concurrency and cost
//
// Lookups take no lock, never allocate and never return an entry that was
// removed (or set down) before they began. Writers ([Table.Add],
// [Table.Remove], [Table.SetUp], [Table.Replace]) serialize on a mutex. The
// table is split into 256 shards, each an open-addressing hash table with
// linear probing over slots of one cache line, kept in chunks of eight slots:
// adding an entry writes a never-used slot in place (its meta word last),
// and changing or removing one copies its 512-byte chunk and publishes the
// copy with an atomic store, so a write costs microseconds at any size and
// building a table of a million entries takes about a second. A shard that
// fills up is rebuilt and published whole.
//
// On a large table a lookup costs one cache miss, the slot at its home
// position (most entries sit there; shards are at most 5/8 full). Entries
// that differ only in their link share a probe sequence, which MaxShared
// keeps short. When packets arrive in batches, [Table.LookupBatch] touches
// the slots of the whole batch first so that the CPU waits for those misses
// together.
package demux
