//go:build race

package tundev_test

// raceEnabled: the race detector's instrumentation allocates inside the
// wireguard device's write path, so allocation counts are checked without it.
const raceEnabled = true
