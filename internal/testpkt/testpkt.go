// Package testpkt holds helpers for tests: the third-party captures in
// testdata/interop, pcap files in and out, and the tshark and tcpdump
// command-line dissectors.
//
// Helpers that need something the machine may lack (tshark, tcpdump, root,
// a capture that could not be redistributed) skip the test with a message
// naming what is missing, so a lone clone still tests green. With the
// environment variable IPENCAP_STRICT=1 they fail instead: the project's CI
// (.ci/run) sets it, because it installs everything and a skip there would
// hide a broken setup. The generic CI variable is deliberately ignored:
// downstream CI systems set it without installing our tools.
package testpkt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// StrictEnv is the environment variable that turns skips into failures.
const StrictEnv = "IPENCAP_STRICT"

// Strict reports whether IPENCAP_STRICT is set to a true value ("1", "true";
// anything strconv.ParseBool accepts as true): then what Missing reports
// fails the test instead of skipping it.
func Strict() bool {
	v, err := strconv.ParseBool(os.Getenv(StrictEnv))
	return err == nil && v
}

// Missing skips tb because what is missing, or fails it under Strict.
func Missing(tb testing.TB, what string) {
	tb.Helper()
	if Strict() {
		tb.Fatalf("%s (required: %s=1 is set)", what, StrictEnv)
	}
	tb.Skipf("skipping: %s (%s=1 makes this a failure)", what, StrictEnv)
}

// LeftOut lists the captures of the reference collection that are not in
// testdata/interop because their licence does not allow redistribution
// with this BSD-3-Clause project, with the reason. It must match the
// "Left out" section of testdata/interop/SOURCES.md (a test checks).
var LeftOut = map[string]string{
	"ndpi__4in4tunnel.pcap": "nDPI test capture under LGPL-3.0, not redistributable under BSD-3-Clause",
}

// RepoRoot returns the absolute path of the repository root: the nearest
// directory at or above the working directory (a package directory under
// go test) that holds go.mod, falling back to this source file's location.
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	if dir, err := os.Getwd(); err == nil {
		for {
			if isModuleRoot(dir) {
				return dir
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		if dir := filepath.Join(filepath.Dir(file), "..", ".."); isModuleRoot(dir) {
			return filepath.Clean(dir)
		}
	}
	tb.Fatal("testpkt: cannot find the repository root (the go.mod of " + modulePath + ")")
	return ""
}

// modulePath is the module whose root RepoRoot looks for.
const modulePath = "github.com/ipencap/ipencap"

func isModuleRoot(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" && strings.Trim(f[1], `"`) == modulePath {
			return true
		}
	}
	return false
}

// InteropDir returns the absolute path of testdata/interop, the directory
// of third-party captures (with SOURCES.md and LICENSES/).
func InteropDir(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(RepoRoot(tb), "testdata", "interop")
}

// Pcap returns the path of the capture name in testdata/interop. A capture
// in LeftOut skips the test (fails it under Strict); any other name that is
// not there fails it.
func Pcap(tb testing.TB, name string) string {
	tb.Helper()
	if why, ok := LeftOut[name]; ok {
		Missing(tb, "capture "+name+" was left out of testdata/interop: "+why+" (see testdata/interop/SOURCES.md)")
	}
	path := filepath.Join(InteropDir(tb), name)
	if _, err := os.Stat(path); err != nil {
		tb.Fatalf("testpkt: capture %s: %v (testdata/interop/SOURCES.md lists the captures)", name, err)
	}
	return path
}

// Tool returns the path of a command-line tool, or skips (fails under
// Strict) where it is not installed.
func Tool(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(tb, name+" is not installed (Debian package: "+debianPackage(name)+")")
	}
	return p
}

func debianPackage(tool string) string {
	if tool == "tshark" {
		return "tshark"
	}
	return tool
}

// WriteRawIP writes packets that each start with an IPv4 or IPv6 header to
// a new pcap file (link type RAW) in a temporary directory and returns its path.
func WriteRawIP(tb testing.TB, packets [][]byte) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "packets.pcap")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeRaw); err != nil {
		tb.Fatal(err)
	}
	ts := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	for i, p := range packets {
		ci := gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(p), Length: len(p)}
		if err := w.WritePacket(ci, p); err != nil {
			tb.Fatal(err)
		}
	}
	return path
}

// Frame is one captured frame with its link type.
type Frame struct {
	// Number is the 1-based frame number, as tshark counts.
	Number int
	// Link is the link type of the capture.
	Link layers.LinkType
	// Data is the captured bytes.
	Data []byte
}

// ReadFrames reads every frame of a pcap or pcapng file.
func ReadFrames(tb testing.TB, path string) []Frame {
	tb.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var frames []Frame
	if len(raw) >= 4 && binary.LittleEndian.Uint32(raw) == 0x0a0d0d0a {
		r, err := pcapgo.NewNgReader(bytes.NewReader(raw), pcapgo.DefaultNgReaderOptions)
		if err != nil {
			tb.Fatal(err)
		}
		for n := 1; ; n++ {
			data, ci, err := r.ReadPacketData()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				tb.Fatal(err)
			}
			link := r.LinkType()
			if ci.InterfaceIndex >= 0 && ci.InterfaceIndex < r.NInterfaces() {
				if intf, err := r.Interface(ci.InterfaceIndex); err == nil {
					link = intf.LinkType
				}
			}
			frames = append(frames, Frame{Number: n, Link: link, Data: data})
		}
		return frames
	}
	r, err := pcapgo.NewReader(bytes.NewReader(raw))
	if err != nil {
		tb.Fatal(err)
	}
	for n := 1; ; n++ {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		frames = append(frames, Frame{Number: n, Link: r.LinkType(), Data: data})
	}
	return frames
}

// NetworkLayer returns the bytes of f from its first IPv4 or IPv6 header on,
// after the link header (Ethernet with any 802.1Q/802.1ad tags, Linux SLL,
// BSD loopback or raw IP), or ok == false for anything else (ARP, say).
func (f Frame) NetworkLayer() (b []byte, ok bool) {
	d := f.Data
	var etype uint16
	switch f.Link {
	case layers.LinkTypeRaw, 12, 14: // LINKTYPE_RAW and the DLT_RAW values some systems write
		return d, len(d) > 0
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		if len(d) < 4 {
			return nil, false
		}
		return d[4:], true
	case layers.LinkTypeLinuxSLL:
		if len(d) < 16 {
			return nil, false
		}
		etype, d = binary.BigEndian.Uint16(d[14:]), d[16:]
	case layers.LinkTypeEthernet:
		if len(d) < 14 {
			return nil, false
		}
		etype, d = binary.BigEndian.Uint16(d[12:]), d[14:]
	default:
		return nil, false
	}
	for etype == 0x8100 || etype == 0x88a8 {
		if len(d) < 4 {
			return nil, false
		}
		etype, d = binary.BigEndian.Uint16(d[2:]), d[4:]
	}
	if etype != 0x0800 && etype != 0x86dd {
		return nil, false
	}
	return d, true
}

// Tshark runs tshark over a capture file and returns, for each frame that
// passes the display filter (empty for all), the values of the fields, in
// order; several occurrences of one field come comma-separated, outer first.
// Extra arguments (preferences such as "-o", "ip.check_checksum:TRUE") go
// before the field list.
func Tshark(tb testing.TB, path, filter string, fields []string, extra ...string) [][]string {
	tb.Helper()
	bin := Tool(tb, "tshark")
	args := []string{"-n", "-r", path}
	if filter != "" {
		args = append(args, "-Y", filter)
	}
	args = append(args, extra...)
	args = append(args, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,", "-E", "separator=/t")
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+tb.TempDir()) // keep tshark's profile out of $HOME
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var rows [][]string
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if line == "" {
			continue
		}
		rows = append(rows, strings.Split(line, "\t"))
	}
	return rows
}

// Tcpdump runs tcpdump -r over a capture file with the given extra
// arguments (-n and -r are added) and returns its standard output.
func Tcpdump(tb testing.TB, path string, args ...string) string {
	tb.Helper()
	bin := Tool(tb, "tcpdump")
	all := append([]string{"-n", "-r", path}, args...)
	cmd := exec.Command(bin, all...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("tcpdump %s: %v\n%s", strings.Join(all, " "), err, stderr.String())
	}
	return string(out)
}
