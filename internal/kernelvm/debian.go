//go:build linux

package kernelvm

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// CacheEnv is the environment variable that names the cache directory;
// without it the cache is ipencap-kernelvm under os.UserCacheDir.
const CacheEnv = "IPENCAP_KERNELVM_CACHE"

// KernelMeta is the Debian package whose dependency names the kernel
// package that Fetch takes.
const KernelMeta = "linux-image-amd64"

// Userland is the Debian packages Fetch unpacks besides the kernel: the
// shell and tools of the initramfs, and the libraries iproute2's ip and
// ethtool link (Debian 12's names; Build checks every library is there).
var Userland = []string{
	"busybox-static", "iproute2", "ethtool",
	"libc6", "libbpf1", "libelf1", "libmnl0", "libbsd0", "libcap2", "zlib1g", "libmd0",
}

// MissingError is a prerequisite that is not there: a program (qemu,
// apt-get) or a package the registry did not give. Tests skip on it
// (fail under IPENCAP_STRICT); other errors of Fetch and Boot are failures.
type MissingError struct {
	What string
	Err  error
}

func (e *MissingError) Error() string {
	if e.Err == nil {
		return "kernelvm: missing " + e.What
	}
	return "kernelvm: missing " + e.What + ": " + e.Err.Error()
}

func (e *MissingError) Unwrap() error { return e.Err }

// CacheDir returns the cache directory: $IPENCAP_KERNELVM_CACHE, else
// ipencap-kernelvm in the user's cache directory.
func CacheDir() (string, error) {
	if d := os.Getenv(CacheEnv); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("kernelvm: no cache directory (set %s): %w", CacheEnv, err)
	}
	return filepath.Join(d, "ipencap-kernelvm"), nil
}

// Root is the unpacked packages: a directory tree as dpkg-deb -x leaves
// it, and the kernel's release ("6.1.0-57-amd64").
type Root struct {
	Dir     string
	Release string
}

// Kernel returns the path of the kernel image.
func (r *Root) Kernel() string { return filepath.Join(r.Dir, "boot", "vmlinuz-"+r.Release) }

// stampName is the file in a complete cache: the kernel release, then
// the packages, one a line.
const stampName = "kernelvm-packages"

// Fetch returns the packages unpacked in cache. The first call downloads
// them (apt-get download, which needs the package lists of `apt-get
// update`) and unpacks them (dpkg-deb -x); later calls find them there and
// run neither, so that a second run needs no network.
func Fetch(cache string) (*Root, error) {
	root := filepath.Join(cache, "root")
	if b, err := os.ReadFile(filepath.Join(root, stampName)); err == nil {
		release, rest, _ := strings.Cut(string(b), "\n")
		if release != "" && rest == strings.Join(Userland, "\n")+"\n" {
			r := &Root{Dir: root, Release: release}
			if _, err := os.Stat(r.Kernel()); err == nil {
				return r, nil
			}
		}
	}
	for _, tool := range []string{"apt-get", "apt-cache", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, &MissingError{What: tool + " (a Debian system) to fetch the kernel package", Err: err}
		}
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, fmt.Errorf("kernelvm: %w", err)
	}
	kpkg, err := kernelPackage()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(cache, "fetch-")
	if err != nil {
		return nil, fmt.Errorf("kernelvm: %w", err)
	}
	defer os.RemoveAll(tmp)
	debs := filepath.Join(tmp, "debs")
	unpacked := filepath.Join(tmp, "root")
	if err := os.MkdirAll(debs, 0o755); err != nil {
		return nil, fmt.Errorf("kernelvm: %w", err)
	}
	pkgs := append([]string{kpkg}, Userland...)
	dl := exec.Command("apt-get", append([]string{"download", "-q", "-o", "APT::Sandbox::User=root"}, pkgs...)...)
	dl.Dir = debs
	if out, err := dl.CombinedOutput(); err != nil {
		return nil, &MissingError{What: "Debian packages " + strings.Join(pkgs, " ") +
			" (apt-get download; run apt-get update first)", Err: fmt.Errorf("%v\n%s", err, out)}
	}
	files, err := filepath.Glob(filepath.Join(debs, "*.deb"))
	if err != nil || len(files) != len(pkgs) {
		return nil, fmt.Errorf("kernelvm: apt-get download gave %d files for %d packages", len(files), len(pkgs))
	}
	for _, f := range files {
		if out, err := exec.Command("dpkg-deb", "-x", f, unpacked).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("kernelvm: dpkg-deb -x %s: %v\n%s", filepath.Base(f), err, out)
		}
	}
	release := strings.TrimPrefix(kpkg, "linux-image-")
	if _, err := os.Stat(filepath.Join(unpacked, "boot", "vmlinuz-"+release)); err != nil {
		return nil, fmt.Errorf("kernelvm: %s has no kernel image: %w", kpkg, err)
	}
	stamp := release + "\n" + strings.Join(Userland, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(unpacked, stampName), []byte(stamp), 0o644); err != nil {
		return nil, fmt.Errorf("kernelvm: %w", err)
	}
	if err := os.RemoveAll(root); err != nil {
		return nil, fmt.Errorf("kernelvm: %w", err)
	}
	if err := os.Rename(unpacked, root); err != nil {
		return nil, fmt.Errorf("kernelvm: %w", err)
	}
	return &Root{Dir: root, Release: release}, nil
}

var kernelDep = regexp.MustCompile(`(?m)^\s*Depends: (linux-image-[0-9][^\s]*)$`)

// kernelPackage returns the kernel package KernelMeta depends on
// ("linux-image-6.1.0-57-amd64").
func kernelPackage() (string, error) {
	out, err := exec.Command("apt-cache", "depends", KernelMeta).CombinedOutput()
	if err != nil {
		return "", &MissingError{What: "package " + KernelMeta + " (apt-cache depends; run apt-get update first)",
			Err: fmt.Errorf("%v\n%s", err, bytes.TrimSpace(out))}
	}
	m := kernelDep.FindSubmatch(out)
	if m == nil {
		return "", &MissingError{What: "the kernel package " + KernelMeta + " depends on",
			Err: errors.New(string(bytes.TrimSpace(out)))}
	}
	return string(m[1]), nil
}
