package demux

// Test hooks, compiled only into the test binary.

// ShardOf returns the shard that holds the entry with identity id.
func ShardOf[V any](t *Table[V], id ID) int {
	id, err := id.normalize()
	if err != nil || id.Fallback {
		return -1
	}
	var zero V
	rec := record(id, false, zero)
	return int(t.hash(&rec) >> (64 - shardBits))
}

// ShardSlots returns the number of slots of shard i (0 if it was never
// used).
func ShardSlots[V any](t *Table[V], i int) int {
	if sh := t.shards[i].Load(); sh != nil {
		return sh.slots()
	}
	return 0
}

// ProbeLen returns how many slots a lookup for the index key of id reads
// from its home slot to the never-used slot that ends the probe sequence:
// the most a probe of that key reads (-1 if id is invalid or a fallback).
func ProbeLen[V any](t *Table[V], id ID) int {
	id, err := id.normalize()
	if err != nil || id.Fallback {
		return -1
	}
	var zero V
	rec := record(id, false, zero)
	h := t.hash(&rec)
	sh := t.shards[h>>(64-shardBits)].Load()
	if sh == nil {
		return 1
	}
	n := 1
	for p := h & sh.mask; sh.at(p).loadMeta() != 0; p = (p + 1) & sh.mask {
		n++
	}
	return n
}
