// Package kernelvm boots Debian's Linux kernel in qemu for tests that need
// the kernel's own tunnels (ip_gre, ipip, sit, ip6_gre, ip6_tunnel, fou) as
// a peer, on a host whose kernel has none of them.
//
// Nothing is installed on the host but qemu: the kernel, busybox-static,
// iproute2 and ethtool (with the libraries they link) are fetched with
// `apt-get download`, unpacked with `dpkg-deb -x` into a cache directory
// ([CacheDir]) and reused by later runs. At boot an initramfs is built from
// them: busybox for the shell, the tunnel modules and their dependencies
// (read from each module's .modinfo, loaded with insmod in order),
// iproute2's ip, which does what busybox's ip cannot (ip6 tunnels, fou,
// encaplimit, -s statistics).
//
// The VM has one virtio-net card on a TAP device that qemu creates in the
// network namespace it is started in, and a control channel: a
// virtio-serial port on qemu's standard input and output, read by a shell
// in the VM. [VM.Run] sends it one command and reads its output up to an
// end-of-command marker that carries the exit status. The kernel's console
// goes to a file ([VM.Console]) for the log of a failed test.
//
// Boot tries KVM first with a short deadline, then falls back to TCG, on
// one host core: on the development machine qemu refuses KVM at once
// ("failed to set MSR 0x10a"), and TCG boots in 7 to 15 s. One boot
// serves a whole test package.
package kernelvm
