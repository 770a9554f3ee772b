package testpkt

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var binaries struct {
	sync.Mutex
	dir   string
	built map[string]error
}

// Binary builds the main package in the test's working directory (the
// package under test) once per test process, as name, and returns its
// path. Call RemoveBinaries from TestMain to delete what was built.
func Binary(tb testing.TB, name string) string {
	tb.Helper()
	binaries.Lock()
	defer binaries.Unlock()
	if binaries.dir == "" {
		dir, err := os.MkdirTemp("", "ipencap-bin-")
		if err != nil {
			tb.Fatal(err)
		}
		binaries.dir, binaries.built = dir, map[string]error{}
	}
	path := filepath.Join(binaries.dir, name)
	err, done := binaries.built[name]
	if !done {
		if out, e := exec.Command("go", "build", "-o", path, ".").CombinedOutput(); e != nil {
			err = fmt.Errorf("go build: %v\n%s", e, out)
		}
		binaries.built[name] = err
	}
	if err != nil {
		tb.Fatal(err)
	}
	return path
}

// RemoveBinaries deletes the programs Binary built.
func RemoveBinaries() {
	binaries.Lock()
	defer binaries.Unlock()
	if binaries.dir != "" {
		os.RemoveAll(binaries.dir)
		binaries.dir, binaries.built = "", nil
	}
}
