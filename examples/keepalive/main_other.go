//go:build !linux

package main

import (
	"fmt"
	"os"
)

// main says that keepalive runs only on Linux, and exits with status 1.
func main() {
	fmt.Fprintln(os.Stderr, "keepalive: Linux only")
	os.Exit(1)
}
