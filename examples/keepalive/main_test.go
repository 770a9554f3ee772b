//go:build linux

package main

import (
	"bytes"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/tunnel"
)

func TestRunBadFlags(t *testing.T) {
	base := []string{"-local", "198.51.100.1", "-remote", "198.51.100.2"}
	for _, tt := range []struct {
		name string
		args []string
		msg  string
	}{
		{"no local", []string{"-remote", "198.51.100.2"}, "keepalive: -local is required"},
		{"no remote", []string{"-local", "198.51.100.1"}, "keepalive: -remote is required"},
		{"bad local", []string{"-local", "198.51.100", "-remote", "198.51.100.2"}, `keepalive: -local 198.51.100: ParseAddr("198.51.100"): IPv4 address too short`},
		{"IPv6", []string{"-local", "2001:db8::1", "-remote", "198.51.100.2"}, "keepalive: -local 2001:db8::1: want a unicast IPv4 address"},
		{"broadcast", []string{"-local", "198.51.100.1", "-remote", "255.255.255.255"}, "keepalive: -remote 255.255.255.255: want a unicast IPv4 address"},
		{"bad key", append([]string{"-key", "x"}, base...), `keepalive: -key x: gre: ParseKey("x"): invalid GRE key`},
		{"bad period", append([]string{"-period", "often"}, base...), `keepalive: invalid value "often" for flag -period: not a duration (10s) or a number of seconds`},
		{"period too short", append([]string{"-period", "1ms"}, base...), "keepalive: -period 1ms: at least 10ms"},
		{"period 0", append([]string{"-period", "0"}, base...), "keepalive: -period 0s: at least 10ms"},
		{"retries 0", append([]string{"-retries", "0"}, base...), "keepalive: -retries 0: want 1 to 255"},
		{"retries 256", append([]string{"-retries", "256"}, base...), "keepalive: -retries 256: want 1 to 255"},
		{"argument", append(base, "extra"), `keepalive: unexpected argument "extra"`},
		{"unknown flag", []string{"-foo"}, "keepalive: flag provided but not defined: -foo"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			assert.Equal(t, exitUsage, run(tt.args, &out, &errb))
			assert.Empty(t, out.String())
			assert.Equal(t, tt.msg+"\n", errb.String())
		})
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-local", "198.51.100.1", "-remote", "198.51.100.2"})
	require.NoError(t, err)
	assert.Equal(t, 10*time.Second, o.period, "Cisco's default")
	assert.Equal(t, 5, o.retries)
	assert.False(t, o.key.Set)
	o, err = parseFlags([]string{"-local", "198.51.100.1", "-remote", "198.51.100.2", "-key", "7", "-period", "3", "-retries", "2"})
	require.NoError(t, err)
	assert.Equal(t, 3*time.Second, o.period, "seconds, as Cisco's keepalive 3 2")
	assert.Equal(t, 2, o.retries)
	assert.Equal(t, tunnel.KeyOf(7), o.key)
	o, err = parseFlags([]string{"-reflect", "-local", "198.51.100.2", "-remote", "198.51.100.1"})
	require.NoError(t, err)
	assert.True(t, o.reflect)
	assert.Zero(t, o.period, "a reflector does not monitor unless asked")
	o, err = parseFlags([]string{"-reflect", "-period", "1s", "-local", "198.51.100.2", "-remote", "198.51.100.1"})
	require.NoError(t, err)
	assert.Equal(t, time.Second, o.period)
}

func TestRunHelp(t *testing.T) {
	var out, errb bytes.Buffer
	assert.Equal(t, exitOK, run([]string{"-h"}, &out, &errb))
	assert.Contains(t, errb.String(), "usage: keepalive -local ADDR -remote ADDR")
}

func TestMain(m *testing.M) {
	code := m.Run()
	testpkt.RemoveBinaries()
	os.Exit(code)
}

// binary builds the program once per test run.
func binary(t *testing.T) string { return testpkt.Binary(t, "keepalive") }

// proc is a running keepalive.
type proc struct {
	*testpkt.Proc
	name string
}

// startProc runs keepalive in ns with args and waits for its first line;
// it is killed (by PID) when the test ends if it still runs.
func startProc(t *testing.T, ns *testpkt.NS, name string, args ...string) *proc {
	t.Helper()
	p := &proc{Proc: testpkt.StartProc(t, ns, name, binary(t), args...), name: name}
	p.waitLine(t, regexp.MustCompile(`(?m)^\S+ (monitoring|reflecting) `), 1)
	return p
}

// lineRE matches a timestamped line.
var lineRE = regexp.MustCompile(`(?m)^(\S+) (.*)$`)

// waitLine waits (at most 10 s) for the n-th line matching re and returns
// its time and text.
func (p *proc) waitLine(t *testing.T, re *regexp.Regexp, n int) (time.Time, string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		k := 0
		for _, m := range lineRE.FindAllStringSubmatch(p.Stdout.String(), -1) {
			if re.MatchString(m[0]) {
				if k++; k == n {
					ts, err := time.Parse(timeFormat, m[1])
					require.NoError(t, err, "time of %q", m[0])
					return ts, m[2]
				}
			}
		}
		select {
		case <-p.Done:
			t.Fatalf("%s exited (%v) before %d lines matching %v:\n%s%s", p.name, p.WaitErr, n, re, p.Stdout.String(), p.Stderr.String())
		default:
		}
		require.True(t, time.Now().Before(deadline), "%s printed no %d lines matching %v:\n%s", p.name, n, re, p.Stdout.String())
		time.Sleep(10 * time.Millisecond)
	}
}

// stop sends SIGTERM and checks the exit status and the last line.
func (p *proc) stop(t *testing.T) string {
	t.Helper()
	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.Done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not exit on SIGTERM", p.name)
	}
	require.NoError(t, p.WaitErr, "%s: %s", p.name, p.Stderr.String())
	assert.Empty(t, p.Stderr.String(), "%s stderr", p.name)
	lines := strings.Split(strings.TrimSpace(p.Stdout.String()), "\n")
	return lines[len(lines)-1]
}

// TestMonitorAndReflector runs the monitor in namespace A (keepalive every
// 200 ms, down after 3 periods without a reply, key 7) and the reflector
// in B: the monitor starts alone (line down after 3–4 periods), the
// reflector starts (up within a period), stops (down between 3 and 4
// periods after its SIGTERM), and starts again (up within a period).
func TestMonitorAndReflector(t *testing.T) {
	testpkt.NeedRoot(t, "raw sockets and network namespaces")
	const (
		period  = 200 * time.Millisecond
		retries = 3
		slack   = 500 * time.Millisecond // process start and exit, scheduling, -race
	)
	a, b := testpkt.NewPair(t, "va", []string{"198.51.100.1/24"}, "vb", []string{"198.51.100.2/24"})
	reflectorArgs := []string{"-reflect", "-local", "198.51.100.2", "-remote", "198.51.100.1", "-key", "7"}
	downRE := regexp.MustCompile(`^\S+ 198\.51\.100\.2 line protocol down \(sent \d+, replies \d+\)$`)
	upRE := regexp.MustCompile(`^\S+ 198\.51\.100\.2 line protocol up \(sent \d+, replies \d+\)$`)

	mon := startProc(t, a, "monitor", "-local", "198.51.100.1", "-remote", "198.51.100.2", "-key", "7",
		"-period", period.String(), "-retries", strconv.Itoa(retries))
	t0, first := mon.waitLine(t, regexp.MustCompile(`^\S+ monitoring `), 1)
	assert.Equal(t, "monitoring 198.51.100.2 from 198.51.100.1: keepalive 200ms, down after 3 periods without a reply", first)

	// Nobody answers: down after retries+1 periods from the start.
	ts, text := mon.waitLine(t, downRE, 1)
	d := ts.Sub(t0)
	t.Logf("no reflector: %q %v after the start", text, d)
	assert.GreaterOrEqual(t, d, retries*period, "not before %d periods", retries)
	assert.LessOrEqual(t, d, (retries+1)*period+slack)
	assert.Contains(t, text, "(sent 3, replies 0)", "a request every period, none answered")

	// The reflector starts: up at the next request.
	refl := startProc(t, b, "reflector", reflectorArgs...)
	t1 := time.Now()
	ts, text = mon.waitLine(t, upRE, 1)
	t.Logf("reflector started: %q %v later", text, ts.Sub(t1))
	assert.LessOrEqual(t, ts.Sub(t1), period+slack)

	// It stops: down within retries+1 periods of its SIGTERM.
	time.Sleep(2 * period) // a few replies
	t2 := time.Now()
	last := refl.stop(t)
	assert.Regexp(t, `^\S+ reflected [1-9]\d*, refused 0$`, last)
	ts, text = mon.waitLine(t, downRE, 2)
	d = ts.Sub(t2)
	t.Logf("reflector stopped: %q %v later", text, d)
	assert.GreaterOrEqual(t, d, retries*period-50*time.Millisecond, "not before %d periods without a reply", retries)
	assert.LessOrEqual(t, d, (retries+1)*period+slack, "within %d periods", retries+1)

	// It comes back: up again.
	startProc(t, b, "reflector again", reflectorArgs...)
	t3 := time.Now()
	ts, text = mon.waitLine(t, upRE, 2)
	t.Logf("reflector restarted: %q %v later", text, ts.Sub(t3))
	assert.LessOrEqual(t, ts.Sub(t3), period+slack)

	last = mon.stop(t)
	assert.Regexp(t, `^\S+ 198\.51\.100\.2 line protocol up: sent \d+, replies \d+, line changes 4$`, last)
	t.Logf("monitor stdout:\n%s", mon.Stdout.String())
	assert.NotContains(t, mon.Stdout.String(), "first reply", "the line went down before any reply")
}

// TestFirstReply: with the reflector already there, the monitor reports
// the first reply, and nothing else while it keeps answering.
func TestFirstReply(t *testing.T) {
	testpkt.NeedRoot(t, "raw sockets and network namespaces")
	a, b := testpkt.NewPair(t, "va", []string{"198.51.100.1/24"}, "vb", []string{"198.51.100.2/24"})
	startProc(t, b, "reflector", "-reflect", "-local", "198.51.100.2", "-remote", "198.51.100.1")
	mon := startProc(t, a, "monitor", "-local", "198.51.100.1", "-remote", "198.51.100.2", "-period", "100ms", "-retries", "2")
	t0, _ := mon.waitLine(t, regexp.MustCompile(`^\S+ monitoring `), 1)
	ts, text := mon.waitLine(t, regexp.MustCompile(`line protocol`), 1)
	assert.Equal(t, "198.51.100.2 line protocol up (first reply)", text)
	assert.Less(t, ts.Sub(t0), time.Second)
	time.Sleep(500 * time.Millisecond)
	last := mon.stop(t)
	assert.Regexp(t, `^\S+ 198\.51\.100\.2 line protocol up: sent \d+, replies \d+, line changes 0$`, last)
	assert.Equal(t, 1, strings.Count(mon.Stdout.String(), "line protocol up ("))
}
