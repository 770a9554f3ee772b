//go:build !race

package kernelvm_test

// raceEnabled is true under the race detector: the VM suite skips then
// (one run, in .ci/run's go test ./..., is enough).
const raceEnabled = false
