//go:build linux

package kernelvm

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
)

// QEMU is the program Boot runs (Debian package qemu-system-x86).
const QEMU = "qemu-system-x86_64"

// AccelEnv names the environment variable that picks the accelerator:
// kvm or tcg; unset, Boot tries KVM and falls back to TCG.
const AccelEnv = "IPENCAP_KERNELVM_ACCEL"

// Config is a VM to boot.
type Config struct {
	// Root is the unpacked packages (Fetch).
	Root *Root
	// Netns is the path of the network namespace qemu runs in
	// ("/run/netns/NAME"): its TAP device is made there.
	Netns string
	// Tap is the name of the TAP device, MAC the address of the VM's card
	// on it (eth0 in the VM).
	Tap, MAC string
	// Dir holds the initramfs and the console log.
	Dir string
	// MemoryMiB is the VM's memory, 512 if 0.
	MemoryMiB int
	// KVMTimeout bounds a boot with KVM (10 s if 0), TCGTimeout one with
	// TCG (180 s if 0).
	KVMTimeout, TCGTimeout time.Duration
}

// VM is a running VM.
type VM struct {
	// Accel is the accelerator it runs on: kvm or tcg.
	Accel string
	// Console is the path of the kernel's console log.
	Console string
	// BootTime is how long the boot took (to the control shell).
	BootTime time.Duration
	// Fallback is why an accelerator tried first failed (KVM, on a host
	// whose /dev/kvm cannot run the kernel), nil if none did.
	Fallback error

	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
	done  chan struct{} // closed when qemu has exited
	werr  error         // Wait's result, after done

	mu   sync.Mutex // serializes Run
	seq  int
	dead error // set when the control channel is out of step
}

// Boot builds the initramfs and boots the kernel: with KVM first if
// AccelEnv does not say tcg, and with TCG if that fails.
func Boot(cfg Config) (*VM, error) {
	if _, err := exec.LookPath(QEMU); err != nil {
		return nil, &MissingError{What: QEMU + " (Debian package qemu-system-x86)", Err: err}
	}
	if cfg.MemoryMiB == 0 {
		cfg.MemoryMiB = 512
	}
	if cfg.KVMTimeout == 0 {
		cfg.KVMTimeout = 10 * time.Second
	}
	if cfg.TCGTimeout == 0 {
		cfg.TCGTimeout = 180 * time.Second
	}
	initrd := filepath.Join(cfg.Dir, "initramfs.cpio")
	if err := BuildInitramfs(cfg.Root, initrd); err != nil {
		return nil, err
	}
	accels := []string{"kvm", "tcg"}
	switch a := os.Getenv(AccelEnv); a {
	case "":
		if _, err := os.Stat("/dev/kvm"); err != nil {
			accels = []string{"tcg"}
		}
	case "kvm", "tcg":
		accels = []string{a}
	default:
		return nil, fmt.Errorf("kernelvm: %s=%s: want kvm or tcg", AccelEnv, a)
	}
	var errs []error
	for _, accel := range accels {
		timeout := cfg.TCGTimeout
		if accel == "kvm" {
			timeout = cfg.KVMTimeout
		}
		vm, err := boot(cfg, initrd, accel, timeout)
		if err == nil {
			vm.Fallback = errors.Join(errs...)
			return vm, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", accel, err))
	}
	return nil, fmt.Errorf("kernelvm: boot failed: %w", errors.Join(errs...))
}

// accelOpt is qemu's -accel for each accelerator: TCG on one thread, so
// that the VM takes one of the host's cores.
var accelOpt = map[string]string{"kvm": "kvm", "tcg": "tcg,thread=single"}

func boot(cfg Config, initrd, accel string, timeout time.Duration) (*VM, error) {
	console := filepath.Join(cfg.Dir, "console-"+accel+".log")
	args := []string{
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-machine", "q35", "-accel", accelOpt[accel], "-cpu", "max", "-smp", "1", "-m", strconv.Itoa(cfg.MemoryMiB),
		"-kernel", cfg.Root.Kernel(), "-initrd", initrd,
		"-append", "console=ttyS0 panic=-1 rdinit=/init net.ifnames=0 mitigations=off tsc=reliable no_timer_check loglevel=6",
		"-serial", "file:" + console,
		"-chardev", "stdio,id=ctl,signal=off",
		"-device", "virtio-serial-pci", "-device", "virtserialport,chardev=ctl,name=ctl",
		"-netdev", "tap,id=n0,ifname=" + cfg.Tap + ",script=no,downscript=no",
		"-device", "virtio-net-pci,netdev=n0,mac=" + cfg.MAC,
	}
	cmd := exec.Command(QEMU, args...)
	// If the test process dies without Close (killed, or go test's
	// -timeout), qemu goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	t0 := time.Now()
	if err := startIn(cfg.Netns, cmd); err != nil {
		return nil, err
	}
	vm := &VM{Accel: accel, Console: console, cmd: cmd, in: in, lines: make(chan string, 1024), done: make(chan struct{})}
	go func() {
		r := bufio.NewReaderSize(out, 64<<10)
		for {
			l, err := r.ReadString('\n')
			if l != "" {
				vm.lines <- strings.TrimRight(l, "\r\n")
			}
			if err != nil {
				close(vm.lines)
				return
			}
		}
	}()
	go func() {
		vm.werr = cmd.Wait()
		close(vm.done)
	}()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case l, ok := <-vm.lines:
			if !ok {
				<-vm.done
				return nil, fmt.Errorf("qemu exited at boot: %v: %s%s", vm.werr, stderr.String(), consoleTail(console))
			}
			if l == "@@READY" {
				vm.BootTime = time.Since(t0)
				return vm, nil
			}
		case <-deadline.C:
			vm.Close()
			return nil, fmt.Errorf("no control shell after %v: %s%s", timeout, stderr.String(), consoleTail(console))
		}
	}
}

// consoleTail returns the end of the console log, for an error message.
func consoleTail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	if len(b) == 0 {
		return ""
	}
	return "\nconsole (end):\n" + string(b)
}

// startIn starts cmd in the network namespace at path: the child
// inherits the namespace of the thread that forks it.
func startIn(path string, cmd *exec.Cmd) error {
	target, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("kernelvm: namespace %s: %w", path, err)
	}
	defer target.Close()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("kernelvm: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("kernelvm: entering %s: %w", path, err)
	}
	err = cmd.Start()
	if serr := netns.Set(orig); serr != nil {
		// The thread is stuck in the namespace: it stays locked and
		// ends with this goroutine.
		panic("kernelvm: cannot return to the original network namespace: " + serr.Error())
	}
	runtime.UnlockOSThread()
	if err != nil {
		return fmt.Errorf("kernelvm: starting %s: %w", QEMU, err)
	}
	return nil
}

// ExitError is a command that ran in the VM and exited with a status
// other than 0.
type ExitError struct {
	Cmd    string
	Status int
	Output string
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("kernelvm: %q: exit status %d: %s", e.Cmd, e.Status, e.Output)
}

// Run runs script with sh in the VM and returns its output (stdout and
// stderr). A status other than 0 is an *ExitError. After timeout the
// VM is given up: the command may still run, and every later Run
// fails; commands should bound themselves (busybox timeout) instead.
// Processes script leaves in the background must not write to their
// standard output or error (redirect them to a file).
func (vm *VM) Run(timeout time.Duration, script string) (string, error) {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	if vm.dead != nil {
		return "", vm.dead
	}
	vm.seq++
	end := "@@END " + strconv.Itoa(vm.seq) + " "
	line := strconv.Itoa(vm.seq) + " " + base64.StdEncoding.EncodeToString([]byte(script)) + "\n"
	if _, err := io.WriteString(vm.in, line); err != nil {
		vm.dead = fmt.Errorf("kernelvm: control channel: %w", err)
		return "", vm.dead
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var out strings.Builder
	for {
		select {
		case l, ok := <-vm.lines:
			if !ok {
				vm.dead = fmt.Errorf("kernelvm: qemu exited (running %q)%s", script, consoleTail(vm.Console))
				return out.String(), vm.dead
			}
			if rest, ok := strings.CutPrefix(l, end); ok {
				st, err := strconv.Atoi(rest)
				if err != nil {
					vm.dead = fmt.Errorf("kernelvm: bad end marker %q", l)
					return out.String(), vm.dead
				}
				if st != 0 {
					return out.String(), &ExitError{Cmd: script, Status: st, Output: out.String()}
				}
				return out.String(), nil
			}
			out.WriteString(l)
			out.WriteByte('\n')
		case <-deadline.C:
			vm.dead = fmt.Errorf("kernelvm: %q did not end within %v; output so far: %s", script, timeout, out.String())
			return out.String(), vm.dead
		}
	}
}

// Close kills qemu (by its PID) and waits for it to exit: its TAP device
// goes with it.
func (vm *VM) Close() error {
	select {
	case <-vm.done:
	default:
		vm.cmd.Process.Kill()
		<-vm.done
	}
	vm.in.Close()
	return nil
}
