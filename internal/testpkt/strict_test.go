package testpkt

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeTB records a Skip or a Fatal instead of ending a real test; like the
// real ones, both end the calling goroutine.
type fakeTB struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Skipf(format string, args ...any) {
	f.skipped, f.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed, f.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fakeTB) Skip(args ...any)  { f.Skipf("%s", fmt.Sprint(args...)) }
func (f *fakeTB) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

// runFake calls fn with a fakeTB on its own goroutine and returns the
// fake once fn has returned or been ended by a Skip or Fatal.
func runFake(t *testing.T, fn func(tb testing.TB)) *fakeTB {
	t.Helper()
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f
}

func TestStrict(t *testing.T) {
	for v, want := range map[string]bool{"": false, "0": false, "false": false, "1": true, "true": true, "TRUE": true} {
		t.Setenv(StrictEnv, v)
		assert.Equal(t, want, Strict(), "%s=%q", StrictEnv, v)
	}
}

// TestMissing: Missing skips unless IPENCAP_STRICT=1, and the generic CI
// variable that downstream CI systems set does not make it fail.
func TestMissing(t *testing.T) {
	missing := func(tb testing.TB) { Missing(tb, "the frobnicator is not installed") }

	t.Setenv("CI", "true")
	t.Setenv(StrictEnv, "")
	f := runFake(t, missing)
	assert.True(t, f.skipped, "skips without %s, even with CI set", StrictEnv)
	assert.False(t, f.failed)
	assert.Contains(t, f.msg, "the frobnicator is not installed")
	assert.Contains(t, f.msg, StrictEnv+"=1")

	t.Setenv(StrictEnv, "0")
	f = runFake(t, missing)
	assert.True(t, f.skipped, "%s=0 skips", StrictEnv)

	t.Setenv("CI", "")
	t.Setenv(StrictEnv, "1")
	f = runFake(t, missing)
	assert.True(t, f.failed, "fails under %s=1", StrictEnv)
	assert.False(t, f.skipped)
	assert.Contains(t, f.msg, "the frobnicator is not installed")
}

func TestToolMissing(t *testing.T) {
	const tool = "ipencap-no-such-tool"
	t.Setenv(StrictEnv, "")
	f := runFake(t, func(tb testing.TB) { Tool(tb, tool) })
	assert.True(t, f.skipped)
	assert.Contains(t, f.msg, tool+" is not installed")

	t.Setenv(StrictEnv, "1")
	f = runFake(t, func(tb testing.TB) { Tool(tb, tool) })
	assert.True(t, f.failed)
}

// TestMissingHelperProcess is run by TestMissingSubprocess in a child test
// binary; on its own it does nothing.
func TestMissingHelperProcess(t *testing.T) {
	if os.Getenv("IPENCAP_TESTPKT_HELPER") != "1" {
		return // not a skip: strict CI runs should show none
	}
	Missing(t, "helper: the frobnicator is not installed")
	t.Log("helper: Missing returned")
}

// TestMissingSubprocess checks Missing with a real testing.T: a child test
// binary must report SKIP (exit 0) without IPENCAP_STRICT, also with CI
// set, and FAIL (exit non-zero) with IPENCAP_STRICT=1.
func TestMissingSubprocess(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the test binary again")
	}
	run := func(env ...string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissingHelperProcess$", "-test.v", "-test.count=1")
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, StrictEnv+"=") && !strings.HasPrefix(kv, "CI=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, "IPENCAP_TESTPKT_HELPER=1")
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	for _, env := range [][]string{nil, {"CI=true"}, {"CI=1", StrictEnv + "=0"}} {
		out, err := run(env...)
		require.NoError(t, err, "env %q:\n%s", env, out)
		assert.Contains(t, out, "--- SKIP: TestMissingHelperProcess", "env %q", env)
		assert.Contains(t, out, "skipping: helper: the frobnicator is not installed", "env %q", env)
		assert.NotContains(t, out, "Missing returned")
	}

	out, err := run(StrictEnv+"=1", "CI=true")
	require.Error(t, err, "must fail under %s=1:\n%s", StrictEnv, out)
	assert.Contains(t, out, "--- FAIL: TestMissingHelperProcess")
	assert.Contains(t, out, "helper: the frobnicator is not installed")
	assert.NotContains(t, out, "Missing returned")
}

func TestPcap(t *testing.T) {
	t.Setenv(StrictEnv, "")
	path := Pcap(t, "zeek__4in4.pcap")
	assert.True(t, filepath.IsAbs(path))
	assert.Equal(t, filepath.Join(RepoRoot(t), "testdata", "interop", "zeek__4in4.pcap"), path)
	assert.FileExists(t, path)

	// A capture left out for its licence skips, or fails under strict.
	require.NotEmpty(t, LeftOut)
	for name := range LeftOut {
		f := runFake(t, func(tb testing.TB) { Pcap(tb, name) })
		assert.True(t, f.skipped, name)
		assert.Contains(t, f.msg, name)
		assert.Contains(t, f.msg, "left out")
		assert.Contains(t, f.msg, "SOURCES.md")
		assert.NoFileExists(t, filepath.Join(InteropDir(t), name))
	}
	t.Setenv(StrictEnv, "1")
	for name := range LeftOut {
		f := runFake(t, func(tb testing.TB) { Pcap(tb, name) })
		assert.True(t, f.failed, name)
	}

	// Any other missing name is a mistake in the test: it fails at once.
	t.Setenv(StrictEnv, "")
	f := runFake(t, func(tb testing.TB) { Pcap(tb, "no-such-capture.pcap") })
	assert.True(t, f.failed)
	assert.Contains(t, f.msg, "no-such-capture.pcap")
}

// TestInteropSources checks testdata/interop against its SOURCES.md: every
// capture is listed with its size and the licence of its project, every
// listed capture is there, and the "Left out" list matches LeftOut.
func TestInteropSources(t *testing.T) {
	dir := InteropDir(t)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	onDisk := map[string]int64{}
	for _, e := range entries {
		if n := e.Name(); strings.HasSuffix(n, ".pcap") || strings.HasSuffix(n, ".pcapng") {
			info, err := e.Info()
			require.NoError(t, err)
			onDisk[n] = info.Size()
		}
	}
	require.NotEmpty(t, onDisk)

	f, err := os.Open(filepath.Join(dir, "SOURCES.md"))
	require.NoError(t, err)
	defer f.Close()
	listed := map[string]int64{}
	leftOut := map[string]bool{}
	inLeftOut := false
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			inLeftOut = strings.EqualFold(strings.TrimSpace(line[3:]), "left out")
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(line, "| ") {
			continue
		}
		name := strings.TrimSpace(cells[1])
		if !strings.HasSuffix(name, ".pcap") && !strings.HasSuffix(name, ".pcapng") {
			continue
		}
		if inLeftOut {
			leftOut[name] = true
			continue
		}
		size, err := strconv.ParseInt(strings.TrimSpace(cells[3]), 10, 64)
		require.NoError(t, err, "bytes column of %s", name)
		listed[name] = size
	}
	require.NoError(t, sc.Err())

	assert.Equal(t, onDisk, listed, "captures in testdata/interop and their sizes in SOURCES.md")
	assert.Equal(t, sortedKeys(LeftOut), sortedKeys(leftOut), "LeftOut and the Left out section of SOURCES.md")
	for name := range leftOut {
		assert.NotContains(t, onDisk, name, "left out but present")
	}

	// Each capture is named <project>__<upstream name>; each project has
	// its licence text in LICENSES/.
	licence := map[string]string{
		"tcpdump":      "tcpdump.txt",
		"zeek":         "zeek.txt",
		"suricata":     "suricata-verify.txt",
		"pcapplusplus": "PcapPlusPlus.txt",
	}
	for name := range onDisk {
		project, _, ok := strings.Cut(name, "__")
		require.True(t, ok, "%s: no <project>__ prefix", name)
		file, ok := licence[project]
		if assert.True(t, ok, "%s: no licence known for project %q", name, project) {
			assert.FileExists(t, filepath.Join(dir, "LICENSES", file))
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
