//go:build !linux

package main

import (
	"fmt"
	"os"
)

// main says that hub runs only on Linux, and exits with status 1.
func main() {
	fmt.Fprintln(os.Stderr, "hub: Linux only")
	os.Exit(1)
}
