//go:build linux

package kernelvm

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Modules is what the VM loads at boot (with their dependencies, found in
// each module's .modinfo): the virtio devices of the VM, then the tunnels.
var Modules = []string{
	"virtio_pci", "virtio_net", "virtio_console",
	"gre", "ip_tunnel", "tunnel4", "tunnel6", "udp_tunnel", "ip6_udp_tunnel",
	"ip_gre", "ipip", "sit", "ip6_tunnel", "ip6_gre", "fou", "fou6", "bridge",
}

// libDirs are where the unpacked packages keep shared libraries.
var libDirs = []string{"lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib64", "lib"}

// initScript is /init: it mounts the pseudo file systems, loads the
// modules in order and serves the control channel (ctlScript) on the
// virtio-serial port. The port can be open only once: one open for
// reading and writing, shared by the shell's three descriptors.
const initScript = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
while read m; do insmod /modules/$m.ko || echo "kernelvm: insmod $m failed" >/dev/ttyS0; done </modules/order
ip link set lo up
i=0
while [ ! -e /dev/vport0p1 ] && [ $i -lt 100 ]; do usleep 50000; i=$((i+1)); done
exec /bin/sh /ctl.sh 0<>/dev/vport0p1 1>&0 2>&0
`

// ctlScript reads one command a line, "SEQ BASE64", runs it with sh
// (stdin /dev/null, stderr on stdout) and ends its output with the line
// "@@END SEQ STATUS". Debian's busybox runs its own applets before
// programs in PATH: a function makes ip iproute2's.
const ctlScript = `echo @@READY
while read -r seq cmd; do
	{ echo 'ip() { /sbin/ip "$@"; }'; echo "$cmd" | base64 -d; } >/tmp/cmd
	sh /tmp/cmd </dev/null 2>&1
	echo "@@END $seq $?"
done
echo "@@EOF"
`

// cpioFile is one entry of a newc cpio archive.
type cpioFile struct {
	name string
	mode uint32    // with the type bits
	data []byte    // content, or the target of a symbolic link
	rdev [2]uint32 // major, minor of a device node
}

const (
	sIFDIR = 0o040000
	sIFREG = 0o100000
	sIFCHR = 0o020000
)

// BuildInitramfs writes the VM's initramfs, an uncompressed newc cpio
// archive, to path.
func BuildInitramfs(r *Root, path string) error {
	var files []cpioFile
	for _, d := range []string{"bin", "sbin", "dev", "proc", "sys", "tmp", "run", "lib", "lib64", "lib/x86_64-linux-gnu", "modules"} {
		files = append(files, cpioFile{name: d, mode: sIFDIR | 0o755})
	}
	files = append(files, cpioFile{name: "dev/console", mode: sIFCHR | 0o600, rdev: [2]uint32{5, 1}})
	add := func(name, src string, mode uint32) error {
		b, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("kernelvm: initramfs: %w", err)
		}
		files = append(files, cpioFile{name: name, mode: sIFREG | mode, data: b})
		return nil
	}
	files = append(files,
		cpioFile{name: "init", mode: sIFREG | 0o755, data: []byte(initScript)},
		cpioFile{name: "ctl.sh", mode: sIFREG | 0o644, data: []byte(ctlScript)})
	if err := add("bin/busybox", filepath.Join(r.Dir, "bin/busybox"), 0o755); err != nil {
		return err
	}
	libs := map[string]string{} // name in the initramfs: file in r
	for _, tool := range []struct{ name, src string }{{"sbin/ip", "bin/ip"}, {"sbin/ethtool", "sbin/ethtool"}} {
		src := filepath.Join(r.Dir, tool.src)
		if err := add(tool.name, src, 0o755); err != nil {
			return err
		}
		if err := r.sharedLibs(src, libs); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(libs)) {
		if err := add(name, libs[name], 0o755); err != nil {
			return err
		}
	}
	order, paths, err := r.moduleOrder(Modules)
	if err != nil {
		return err
	}
	for _, m := range order {
		if err := add("modules/"+m+".ko", paths[m], 0o644); err != nil {
			return err
		}
	}
	files = append(files, cpioFile{name: "modules/order", mode: sIFREG | 0o644, data: []byte(strings.Join(order, "\n") + "\n")})

	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("kernelvm: %w", err)
	}
	w := bufio.NewWriter(f)
	err = writeCPIO(w, files)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("kernelvm: initramfs %s: %w", path, err)
	}
	return nil
}

// sharedLibs adds to libs the program interpreter and the shared
// libraries the ELF file bin needs, and theirs, found in r.
func (r *Root) sharedLibs(bin string, libs map[string]string) error {
	f, err := elf.Open(bin)
	if err != nil {
		return fmt.Errorf("kernelvm: %w", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b, err := io.ReadAll(p.Open())
		if err != nil {
			return fmt.Errorf("kernelvm: %s: interpreter: %w", bin, err)
		}
		interp := strings.TrimPrefix(string(bytes.TrimRight(b, "\x00")), "/")
		if _, ok := libs[interp]; !ok {
			src, err := r.resolve(interp)
			if err != nil {
				return fmt.Errorf("kernelvm: %s: interpreter %s: %w", bin, interp, err)
			}
			libs[interp] = src
		}
	}
	needed, err := f.ImportedLibraries()
	if err != nil {
		return fmt.Errorf("kernelvm: %s: %w", bin, err)
	}
	for _, lib := range needed {
		name := "lib/x86_64-linux-gnu/" + lib
		if _, ok := libs[name]; ok {
			continue
		}
		var src string
		for _, d := range libDirs {
			if s, err := r.resolve(filepath.Join(d, lib)); err == nil {
				src = s
				break
			}
		}
		if src == "" {
			return fmt.Errorf("kernelvm: %s needs %s, which no package in %s has (add its package to Userland)",
				filepath.Base(bin), lib, r.Dir)
		}
		libs[name] = src
		if err := r.sharedLibs(src, libs); err != nil {
			return err
		}
	}
	return nil
}

// resolve follows symbolic links inside r (absolute targets are taken
// relative to r.Dir) and returns the path of the regular file rel names.
func (r *Root) resolve(rel string) (string, error) {
	p := filepath.Join(r.Dir, rel)
	for range 16 {
		fi, err := os.Lstat(p)
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return p, nil
		}
		t, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		if filepath.IsAbs(t) {
			p = filepath.Join(r.Dir, t)
		} else {
			p = filepath.Join(filepath.Dir(p), t)
		}
	}
	return "", fmt.Errorf("%s: too many symbolic links", rel)
}

// moduleOrder returns want and their dependencies, each after what it
// depends on, and the path of each module's file.
func (r *Root) moduleOrder(want []string) ([]string, map[string]string, error) {
	all := map[string]string{}
	dir := filepath.Join(r.Dir, "lib/modules", r.Release, "kernel")
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if n, ok := strings.CutSuffix(d.Name(), ".ko"); ok {
			all[strings.ReplaceAll(n, "-", "_")] = p
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("kernelvm: modules: %w", err)
	}
	var order []string
	paths := map[string]string{}
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(m string) error
	visit = func(m string) error {
		switch state[m] {
		case 1:
			return fmt.Errorf("kernelvm: module %s depends on itself", m)
		case 2:
			return nil
		}
		p, ok := all[m]
		if !ok {
			return fmt.Errorf("kernelvm: no module %s in %s", m, dir)
		}
		state[m] = 1
		deps, err := moduleDepends(p)
		if err != nil {
			return err
		}
		for _, d := range deps {
			if err := visit(d); err != nil {
				return err
			}
		}
		state[m] = 2
		order = append(order, m)
		paths[m] = p
		return nil
	}
	for _, m := range want {
		if err := visit(m); err != nil {
			return nil, nil, err
		}
	}
	return order, paths, nil
}

// moduleDepends returns the depends= list of a module's .modinfo.
func moduleDepends(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("kernelvm: %w", err)
	}
	defer f.Close()
	s := f.Section(".modinfo")
	if s == nil {
		return nil, fmt.Errorf("kernelvm: %s has no .modinfo", path)
	}
	b, err := s.Data()
	if err != nil {
		return nil, fmt.Errorf("kernelvm: %s: %w", path, err)
	}
	for _, kv := range bytes.Split(b, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			if len(v) == 0 {
				return nil, nil
			}
			var deps []string
			for _, d := range strings.Split(string(v), ",") {
				deps = append(deps, strings.ReplaceAll(d, "-", "_"))
			}
			return deps, nil
		}
	}
	return nil, nil
}

// writeCPIO writes files as a newc ("070701") cpio archive.
func writeCPIO(w io.Writer, files []cpioFile) error {
	pad := func(n int) error {
		if n%4 == 0 {
			return nil
		}
		_, err := w.Write(make([]byte, 4-n%4))
		return err
	}
	write := func(f cpioFile, ino uint32) error {
		name := f.name + "\x00"
		nlink := uint32(1)
		if f.mode&sIFDIR != 0 {
			nlink = 2
		}
		hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
			ino, f.mode, 0, 0, nlink, 0, len(f.data), 0, 0, f.rdev[0], f.rdev[1], len(name), 0)
		if _, err := io.WriteString(w, hdr+name); err != nil {
			return err
		}
		if err := pad(len(hdr) + len(name)); err != nil {
			return err
		}
		if _, err := w.Write(f.data); err != nil {
			return err
		}
		return pad(len(f.data))
	}
	for i, f := range files {
		if err := write(f, uint32(i+1)); err != nil {
			return err
		}
	}
	return write(cpioFile{name: "TRAILER!!!"}, 0)
}
