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
// that wireguard-go splits into segments of the MSS, one per buffer
// (so Read wants as many buffers as BatchSize, 128), and one Write
// coalesces consecutive segments of a flow (GRO) into fewer, larger
// writes, in the spare capacity of the buffers it is given. [Device.Offloads]
// reports what is on. Without the virtio-net header every Read and Write
// moves one packet (BatchSize 1).
//
// # Super-packets of more than BatchSize segments
//
// The kernel builds super-packets of up to 64 KiB, whatever the MSS: a
// TCP peer that announces an MSS of 88 bytes gets hundreds of segments in
// one. wireguard-go cannot return more segments than the buffers it is
// given: it keeps what fits, drops the rest of the super-packet (TCP sends
// it again) and returns tun.ErrTooManySegments. Before, Read passed that
// error on, and the engine took it for a failing device: it logged and
// backed off (1 ms, doubling up to 1 s while they follow one another),
// for every flow of the tunnel.
//
// So [Open] sets the device's gso_max_segs (IFLA_GSO_MAX_SEGS, `ip link
// set NAME gso_max_segs N`) to BatchSize: the kernel then builds no
// super-packet of more segments (TCP sizes its TSO packets to it, and a
// forwarded GSO packet with more is segmented in software), and a Read
// with BatchSize buffers always takes a whole one. If one is cut short all
// the same (a Read with fewer buffers, or gso_max_segs raised since Open),
// Read returns the segments kept, without an error, and counts the cut in
// [Stats.TooManySegments]; it never passes tun.ErrTooManySegments on.
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
