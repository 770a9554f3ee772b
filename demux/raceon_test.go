//go:build race

package demux_test

// raceEnabled is true when the race detector runs: the scale tests shrink.
const raceEnabled = true
