//go:build linux

package testpkt

import (
	"os/exec"
	"testing"
)

// Proc is a program a test runs inside a network namespace.
type Proc struct {
	// Cmd is the running command.
	Cmd *exec.Cmd
	// Stdout and Stderr collect its output.
	Stdout, Stderr SyncBuffer
	// Done is closed when it has exited; WaitErr is then Wait's result.
	Done    chan struct{}
	WaitErr error
}

// StartProc runs path with args inside ns. When the test ends the process
// is killed (by its PID) if it still runs, and, if the test failed, its
// output is logged under name.
func StartProc(tb testing.TB, ns *NS, name, path string, args ...string) *Proc {
	tb.Helper()
	p := &Proc{Cmd: exec.Command(path, args...), Done: make(chan struct{})}
	p.Cmd.Stdout, p.Cmd.Stderr = &p.Stdout, &p.Stderr
	ns.Start(tb, p.Cmd)
	go func() {
		p.WaitErr = p.Cmd.Wait()
		close(p.Done)
	}()
	tb.Cleanup(func() {
		select {
		case <-p.Done:
		default:
			p.Cmd.Process.Kill()
			<-p.Done
		}
		if tb.Failed() {
			tb.Logf("%s stdout:\n%s\n%s stderr:\n%s", name, p.Stdout.String(), name, p.Stderr.String())
		}
	})
	return p
}
