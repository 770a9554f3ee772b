package udp

import (
	"net/netip"

	"github.com/ipencap/ipencap/tunnel"
)

// Port is the UDP destination port of GRE-in-UDP (RFC 8086), which
// [Open] binds when Config.Local has port 0.
const Port = tunnel.DefaultGREInUDPPort

// Source port range for per-flow source ports: the dynamic ports of RFC
// 6335, which RFC 8086 §3.2 recommends.
const (
	MinFlowPort = 49152
	MaxFlowPort = 65535
)

// FlowSockets is how many send sockets, and so how many source ports,
// [Open] binds for per-flow source ports (Config.SourcePort 0).
const FlowSockets = 16

// DefaultBatch is the batch size when Config.Batch is 0, wireguard-go's
// conn.IdealBatchSize.
const DefaultBatch = 128

// MaxBatch is the largest Config.Batch: the kernel's UIO_MAXIOV limit on
// the messages of one sendmmsg or recvmmsg.
const MaxBatch = 1024

// Config configures [Open].
type Config struct {
	// Local is the address and port to bind. An invalid or unspecified
	// IPv6 address binds the wildcard of both families, with a socket
	// each (the IPv6 one IPv6-only, not dual-stack); 0.0.0.0 binds the
	// IPv4 wildcard only, and an IPv6 address makes an IPv6-only socket.
	// Port 0 means [Port] (4754).
	Local netip.AddrPort
	// SourcePort is the UDP source port of sent packets. 0 chooses a port
	// per inner flow from a hash of the flow, in MinFlowPort–MaxFlowPort,
	// so that ECMP spreads flows (RFC 8086 §3.2); see the package
	// documentation. Nonzero fixes it, for NAT traversal; set it to the
	// bound port to send from the receiving socket.
	SourcePort uint16
	// ZeroChecksum4 sends IPv4 datagrams with a zero UDP checksum
	// (SO_NO_CHECK), which RFC 8086 allows for GRE-in-UDP over IPv4.
	// It turns off UDP GSO for IPv4 peers, since the kernel requires the
	// checksum for segmentation. IPv6 datagrams always carry the checksum.
	ZeroChecksum4 bool
	// Link, if not empty, binds the sockets to that network interface
	// (SO_BINDTODEVICE), which needs CAP_NET_RAW.
	Link string
	// Batch is the most packets ReadBatch and WriteBatch move in one
	// call, 1–MaxBatch; 0 means DefaultBatch.
	Batch int
	// RcvBuf and SndBuf are the socket buffer sizes in bytes; 0 means
	// DefaultBufSize. They are set with SO_RCVBUFFORCE / SO_SNDBUFFORCE
	// where the process may (CAP_NET_ADMIN), else with SO_RCVBUF /
	// SO_SNDBUF, which the kernel caps at net.core.rmem_max / wmem_max.
	// The kernel's default (about 208 KiB) overflows under a burst of GRO
	// messages from a fast sender.
	RcvBuf, SndBuf int
}

// DefaultBufSize is the default socket buffer size: 4 MiB.
const DefaultBufSize = 4 << 20

// Stats are a Conn's counters since Open. Packets are GRE-in-UDP
// datagrams; messages are the entries of sendmmsg and recvmmsg, one
// datagram each or, with GSO or GRO, several; calls are the system calls.
// A datagram dropped on receipt counts once, in one of RxTrunc, RxDropped
// and RxMapped, whether it came alone or in a coalesced message.
type Stats struct {
	TxPackets  uint64 // datagrams sent
	TxBytes    uint64 // UDP payload bytes sent
	TxMessages uint64 // sendmmsg messages sent
	TxGSO      uint64 // of which coalesced with UDP_SEGMENT
	TxCalls    uint64 // sendmmsg calls
	TxErrors   uint64 // datagrams not sent because of an error
	RxPackets  uint64 // datagrams received
	RxBytes    uint64 // UDP payload bytes of the datagrams received
	RxMessages uint64 // recvmmsg messages received
	RxGRO      uint64 // of which coalesced by UDP GRO
	RxCalls    uint64 // recvmmsg calls that returned messages
	RxTrunc    uint64 // datagrams dropped: larger than the buffer (or past its end, in a coalesced message)
	RxDropped  uint64 // coalesced datagrams dropped: no buffer left
	// RxMapped counts the datagrams dropped because their source is an
	// IPv4-mapped IPv6 address (::ffff:a.b.c.d). The IPv6 sockets are
	// IPv6-only, so such a datagram came in a native IPv6 packet that
	// claims an IPv4 source, which Linux (from 5.12) delivers to UDP.
	RxMapped uint64
}
