package gre_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"
	"unsafe"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/internal/testpkt"
)

// TestHeaderSize keeps Header within four machine words. The compiler keeps
// a struct of at most four fields and 4×8 bytes in registers (SSA) and
// returns it in registers; a bigger one is built on Parse's stack and copied
// out through memory, with loads that cannot be forwarded from the stores
// just made. An 8-byte header length (40 bytes in all) made decoding 2.5×
// slower (BenchmarkCompareGopacket/decode/ipencap, 18 → 50 ns/op).
func TestHeaderSize(t *testing.T) {
	const word = unsafe.Sizeof(uintptr(0))
	if word != 8 {
		t.Skipf("the limit is checked on 64-bit platforms; this one has %d-byte words", word)
	}
	if got := unsafe.Sizeof(gre.Header{}); got > 4*word {
		t.Errorf("unsafe.Sizeof(gre.Header{}) = %d, want at most %d: Parse no longer returns it in registers", got, 4*word)
	}
}

// inlinable are the functions of package gre that a per-packet path calls
// after Parse and that must stay inlinable: a call costs more than the
// accessor itself, and a caller that inlines them keeps the Header in
// registers. The names are those of the compiler's -m output.
var inlinable = []string{
	"Parse", // the package function: Decoder{}.Parse without a second call
	"Header.Ack",
	"Header.Bytes",
	"Header.CallID",
	"Header.Checksum",
	"Header.ChecksumPresent",
	"Header.FlagsVersion",
	"Header.Key",
	"Header.Len",
	"Header.Offset",
	"Header.Payload",
	"Header.PayloadLength",
	"Header.Protocol",
	"Header.RoutingPresent",
	"Header.Seq",
	"Header.Version",
	"IsKeepalive",
}

// TestInlining asks the compiler (go build -gcflags=-m, as net/netip's test
// of the same name does) which functions of this package it can inline and
// fails for each function of inlinable that it no longer can. Without the
// go tool it skips (fails under IPENCAP_STRICT=1).
func TestInlining(t *testing.T) {
	goTool := goToolPath()
	if goTool == "" {
		testpkt.Missing(t, "the go tool, which TestInlining runs to see what the compiler inlines, is neither in GOROOT/bin nor in PATH")
	}
	t.Parallel()
	// The package of this test, built with the go tool's default flags plus
	// -m; the go build cache replays the diagnostics when nothing changed.
	cmd := exec.Command(goTool, "build", "-gcflags=-m", ".")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	got := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m): can inline (\S+)`).FindAllSubmatch(out, -1) {
		got[string(m[1])] = true
	}
	if len(got) == 0 {
		t.Fatalf("%s reported no inlinable function; its output:\n%s", cmd, out)
	}
	for _, fn := range inlinable {
		if !got[fn] {
			t.Errorf("%s is no longer inlinable (go build -gcflags=-m=2 tells its cost)", fn)
		}
	}
}

// goToolPath returns the go command of the toolchain that built this test,
// else the one in PATH, else "".
func goToolPath() string {
	exe := "go"
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	if root := runtime.GOROOT(); root != "" {
		p := filepath.Join(root, "bin", exe)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return ""
}
