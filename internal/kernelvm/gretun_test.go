//go:build linux

package kernelvm_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/internal/testpkt"
)

// daemon is a gretun process in the host namespace.
type daemon struct {
	*testpkt.Proc
	start string // its first line
}

// startGretun runs gretun in e.ns with args and waits for its first line;
// the process is killed (by PID) when the test ends if it still runs.
func (e *env) startGretun(t *testing.T, args ...string) *daemon {
	t.Helper()
	d := &daemon{Proc: testpkt.StartProc(t, e.ns, "gretun", e.gretun, args...)}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if out := d.Stdout.String(); strings.Contains(out, "\n") {
			d.start = out[:strings.IndexByte(out, '\n')]
			return d
		}
		select {
		case <-d.Done:
			t.Fatalf("gretun exited at start: %v\n%s", d.WaitErr, d.Stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		require.True(t, time.Now().Before(deadline), "gretun did not start: %s", d.Stderr.String())
	}
}

// gstats is what gretun prints on SIGUSR1: the RX and TX lines of `ip -s
// tunnel show`, and name=value pairs of the third and fourth lines.
type gstats struct {
	rx, tx []uint64 // RX: packets bytes errors csumerrs outofseq mcasts; TX: packets bytes errors deadloop noroute nobufs
	ext    map[string]string
}

var gstatsRE = regexp.MustCompile(`(?m)^    RX: Packets.*\n +([0-9 ]+)\n    TX: Packets.*\n +([0-9 ]+)\n    (rx_frame .*)\n((?:    line_protocol .*\n)?)`)

// stats asks gretun for its counters (SIGUSR1) and returns them.
func (d *daemon) stats(t *testing.T) gstats {
	t.Helper()
	before := len(gstatsRE.FindAllString(d.Stdout.String(), -1))
	require.NoError(t, d.Cmd.Process.Signal(syscall.SIGUSR1))
	deadline := time.Now().Add(5 * time.Second)
	var m [][]string
	for {
		m = gstatsRE.FindAllStringSubmatch(d.Stdout.String(), -1)
		if len(m) > before {
			break
		}
		require.True(t, time.Now().Before(deadline), "gretun printed no statistics: %s", d.Stdout.String())
		time.Sleep(10 * time.Millisecond)
	}
	last := m[len(m)-1]
	s := gstats{rx: nums(t, last[1]), tx: nums(t, last[2]), ext: map[string]string{}}
	for _, l := range []string{last[3], last[4]} {
		f := strings.Fields(l)
		for i := 0; i+1 < len(f); i += 2 {
			s.ext[f[i]] = f[i+1]
		}
	}
	return s
}

// num returns the counter name of the third or fourth line.
func (s gstats) num(t *testing.T, name string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(s.ext[name], 10, 64)
	require.NoError(t, err, "counter %s in %v", name, s.ext)
	return v
}

func nums(t *testing.T, s string) []uint64 {
	t.Helper()
	var v []uint64
	for _, f := range strings.Fields(s) {
		n, err := strconv.ParseUint(f, 10, 64)
		require.NoError(t, err)
		v = append(v, n)
	}
	require.Len(t, v, 6, "counters %q", s)
	return v
}

// stop ends gretun with SIGTERM and checks that it exits with status 0.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, d.Cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-d.Done:
	case <-time.After(10 * time.Second):
		t.Fatal("gretun did not exit on SIGTERM")
	}
	require.NoError(t, d.WaitErr, "gretun: %s", d.Stderr.String())
}

// vmRun runs script in the VM, failing the test on a status other than 0.
func (e *env) vmRun(t *testing.T, timeout time.Duration, script string) string {
	t.Helper()
	out, err := e.vm.Run(timeout, script)
	require.NoError(t, err, "in the VM:\n%s", script)
	return out
}

// kstats is a network device's counters in the VM, from
// /sys/class/net/DEV/statistics.
type kstats map[string]uint64

var kstatNames = []string{"rx_packets", "rx_bytes", "rx_errors", "rx_crc_errors", "rx_frame_errors", "rx_dropped",
	"tx_packets", "tx_bytes", "tx_errors", "tx_dropped"}

func (e *env) kernelStats(t *testing.T, dev string) kstats {
	t.Helper()
	var sb strings.Builder
	for _, n := range kstatNames {
		fmt.Fprintf(&sb, "echo %s $(cat /sys/class/net/%s/statistics/%s)\n", n, dev, n)
	}
	out := e.vmRun(t, 5*time.Second, sb.String())
	s := kstats{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(l, " ")
		n, err := strconv.ParseUint(v, 10, 64)
		require.NoError(t, err, "%s in the VM: %q", dev, l)
		s[k] = n
	}
	return s
}

// hostPing runs iputils ping in the host namespace and returns its
// output and error.
func (e *env) hostPing(t *testing.T, dst netip.Addr, args ...string) (string, error) {
	t.Helper()
	ping := testpkt.NetTool(t, "ping")
	a := []string{"-n", "-W", "2"}
	if dst.Is6() {
		a = append(a, "-6")
	}
	return e.ns.Run(t, 20*time.Second, ping, append(append(a, args...), dst.String())...)
}

// stream returns size bytes of a deterministic pseudo-random stream.
func stream(size int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte([]byte("ipencap kernel VM stream, seed 1"))), size)
}

// tcpToVM sends size bytes from the host namespace to port in the VM
// (busybox nc listening there) and checks their SHA-256 in the VM.
func (e *env) tcpToVM(t *testing.T, dst netip.Addr, port int, size int64) {
	t.Helper()
	h := sha256.New()
	io.Copy(h, stream(size))
	want := hex.EncodeToString(h.Sum(nil))
	e.vmRun(t, 5*time.Second, fmt.Sprintf(
		"rm -f /tmp/sum; (timeout 60 nc -l -p %d | sha256sum >/tmp/sum.part; mv /tmp/sum.part /tmp/sum) >/dev/null 2>&1 &", port))
	deadline := time.Now().Add(60 * time.Second)
	var c net.Conn
	var err error
	for {
		e.ns.Do(t, func() { c, err = net.DialTimeout("tcp", netip.AddrPortFrom(dst, uint16(port)).String(), 5*time.Second) })
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // nc is not listening yet
	}
	require.NoError(t, err)
	c.SetDeadline(deadline)
	n, err := io.Copy(c, stream(size))
	require.NoError(t, err, "sending, after %d bytes", n)
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	var got string
	for time.Now().Before(deadline) {
		got = strings.TrimSpace(e.vmRun(t, 5*time.Second, "cat /tmp/sum 2>/dev/null || true"))
		if got != "" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.Close()
	require.Equal(t, want+"  -", got, "SHA-256 of the %d bytes the VM received", size)
}

// tcpFromVM sends size bytes of /dev/urandom from the VM to port in the
// host namespace (busybox nc) and checks their SHA-256 in the host.
func (e *env) tcpFromVM(t *testing.T, listen netip.Addr, port int, size int64) {
	t.Helper()
	var ln *net.TCPListener
	var err error
	e.ns.Do(t, func() {
		ln, err = net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(listen, uint16(port))))
	})
	require.NoError(t, err)
	defer ln.Close()
	ln.SetDeadline(time.Now().Add(60 * time.Second))
	type result struct {
		sum string
		n   int64
		err error
	}
	got := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- result{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		h := sha256.New()
		n, err := io.Copy(h, c)
		got <- result{hex.EncodeToString(h.Sum(nil)), n, err}
	}()
	out := e.vmRun(t, 90*time.Second, fmt.Sprintf(
		"head -c %d /dev/urandom >/tmp/data && sha256sum </tmp/data && timeout 60 nc %s %d </tmp/data; rm -f /tmp/data",
		size, listen, port))
	want, _, _ := strings.Cut(strings.TrimSpace(out), " ")
	r := <-got
	require.NoError(t, r.err)
	require.Equal(t, size, r.n, "bytes from the VM")
	require.Equal(t, want, r.sum, "SHA-256 of the bytes from the VM")
}
