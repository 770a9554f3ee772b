// Package tundev opens a Linux TUN device as the [tunnel.Overlay] of a
// tunnel: the inner side, where the kernel hands over the packets routed
// into the tunnel and takes back the ones that come out of it.
//
// Linux only: its code (a TUN device, rtnetlink) is built for Linux alone;
// elsewhere the package is empty.
//
// [Open] creates the device with wireguard-go's tun.CreateTUN
// (golang.zx2c4.com/wireguard/tun) and configures it over rtnetlink
// (github.com/vishvananda/netlink): MTU, link up, inner addresses (IPv6
// ones without duplicate address detection, usable at once), extra routes. The device
// lives in the network namespace of the thread that called Open, and
// disappears when it is closed.
//
// # Offloads
//
// CreateTUN asks for IFF_VNET_HDR and, when the kernel grants it, turns on
// the TUN offloads: TCP segmentation (TUN_F_CSUM, TSO4, TSO6; required with
// the virtio-net header) and, on Linux 6.2 and later, UDP segmentation
// (USO4, USO6). With them, one Read may return a TCP or UDP "super-packet"
// that wireguard-go splits into MTU-sized segments, one per buffer
// (so Read wants as many buffers as BatchSize, 128), and one Write
// coalesces consecutive segments of a flow (GRO) into fewer, larger
// writes, in the spare capacity of the buffers it is given. [Device.Offloads]
// reports what is on. Without the virtio-net header every Read and Write
// moves one packet (BatchSize 1).
//
// What that means for callers:
//
//   - Read: any offset; each buffer must hold offset plus the MTU.
//   - Write: offset must be at least [VirtioNetHdrLen] (10), since the
//     header is written in front of each packet; the engine's
//     [tunnel.OverlayOffset] (16) is enough. Packets are coalesced into
//     bufs[i] up to its capacity: the engine's receive buffers have room
//     up to 64 KiB. wireguard-go reslices and swaps the elements of bufs
//     while coalescing; Device.Write puts them back before it returns, so
//     the caller sees its slices unchanged and can count their lengths.
package tundev
