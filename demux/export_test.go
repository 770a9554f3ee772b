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
