// Package tunneltest provides in-memory implementations of [tunnel.Underlay]
// and [tunnel.Overlay] for tests, examples and benchmarks of the tunnel
// engine, in the manner of wireguard-go's tun/tuntest and conn/bindtest.
//
// [NewPipe] returns the two ends of a wire: what one end writes with
// WriteBatch the other reads with ReadBatch, optionally impaired by loss,
// duplication and reordering ([Impairment]) with a fixed seed, so that
// accounting tests are reproducible. [NewChannelOverlay] returns the inner
// side: a test injects packets for the engine to read and receives the
// packets the engine writes.
//
// Both keep their packets in a bounded set of preallocated slots whose
// buffers are reused (and grown only when a larger packet comes), so that in
// steady state moving a packet allocates nothing: the engine's
// zero-allocation tests can run across the whole path. Queues never grow:
// a packet that finds its queue full is dropped and counted, as a NIC queue
// would drop it. Everything is safe for concurrent use.
package tunneltest
