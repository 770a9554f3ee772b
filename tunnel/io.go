package tunnel

import "net/netip"

// Overlay is the inner side of a tunnel: the packets it carries, as a TUN
// device sees them. Its method set is a subset of wireguard-go's tun.Device
// (golang.zx2c4.com/wireguard/tun), so such a Device plugs in without an
// adapter.
//
// Read reads up to len(bufs) packets; packet i is placed at
// bufs[i][offset:offset+sizes[i]]. The offset is headroom the engine keeps
// in front of each packet so that the Encapsulator writes the tunnel
// headers in place: nothing is copied. Read blocks until at least one packet
// is there, and returns [net.ErrClosed] (or an error wrapping it) once the
// Overlay is closed.
//
// Write writes the packets bufs[i][offset:]; the bytes in front of offset
// are free for the Overlay's own use (a virtio-net header needs 10). It
// returns how many were written and an error for the first that was not.
type Overlay interface {
	Read(bufs [][]byte, sizes []int, offset int) (n int, err error)
	Write(bufs [][]byte, offset int) (int, error)
	// BatchSize is the most packets Read and Write handle in one call; it
	// is constant for the Overlay's life.
	BatchSize() int
	// MTU returns the Overlay's MTU (for a TUN device, the interface's).
	MTU() (int, error)
	// Close closes the Overlay: a Read blocked in another goroutine
	// returns, and Read and Write then return net.ErrClosed (or an error
	// wrapping it). A second Close does nothing and returns nil.
	Close() error
}

// Underlay carries outer packets between tunnel endpoints: a raw IP socket,
// a UDP socket for GRE-in-UDP, or an in-memory pipe. What one packet holds
// is the [UnderlayConfig.Framing] given with it to [Engine.AddUnderlay].
//
// ReadBatch reads up to len(bufs) packets; packet i is
// bufs[i][offset:offset+sizes[i]] and peers[i] its source (with the UDP
// source port for [FramingUDP], port 0 otherwise). It blocks until at least
// one packet is there, and returns [net.ErrClosed] (or an error wrapping
// it) once the Underlay is closed.
//
// WriteBatch sends the packets bufs[i][offset:] to peers[i], and returns how
// many it sent and an error for the first that it did not.
type Underlay interface {
	ReadBatch(bufs [][]byte, sizes []int, peers []netip.AddrPort, offset int) (n int, err error)
	WriteBatch(bufs [][]byte, peers []netip.AddrPort, offset int) (n int, err error)
	// BatchSize is the most packets ReadBatch and WriteBatch handle in one
	// call; it is constant for the Underlay's life.
	BatchSize() int
	// Close closes the Underlay: a ReadBatch blocked in another goroutine
	// returns, and ReadBatch and WriteBatch then return net.ErrClosed (or
	// an error wrapping it). A second Close does nothing and returns nil.
	Close() error
}

// Framing says what an Underlay's packets hold.
type Framing uint8

const (
	// FramingIP: each packet is a whole IP packet, outer IPv4 or IPv6
	// header included, which the engine writes on send and parses on
	// receipt (a raw IP socket with IP_HDRINCL, or the in-memory pipe).
	// The peer address is informative: the engine reads the outer
	// addresses from the header.
	FramingIP Framing = iota
	// FramingUDP: each packet is the payload of a UDP datagram, a GRE
	// header and what follows (GRE-in-UDP, RFC 8086). The socket owns the
	// IP and UDP headers; the peer is the remote address and port, and
	// the local address is the underlay's (UnderlayConfig.Local).
	FramingUDP
)

// String returns "ip" or "udp".
func (f Framing) String() string {
	if f == FramingUDP {
		return "udp"
	}
	return "ip"
}

// Optional abilities of an Underlay, found by type assertion in
// [Engine.AddUnderlay] (wireguard-go finds its Bind's the same way): what
// an underlay knows of itself, the user need not type again.
type (
	// UnderlayFraming is an Underlay that knows its framing (a raw IP
	// socket: [FramingIP]; a GRE-in-UDP socket: [FramingUDP]).
	UnderlayFraming interface {
		Framing() Framing
	}
	// UnderlayHeaders is an Underlay that adds headers of its own in front
	// of what WriteBatch is given (a UDP socket: the IP and UDP headers),
	// so that a tunnel's MTU counts them; HeaderLen returns their length
	// for an outer packet of the family v6 says. Without it, FramingUDP
	// counts an IP header without options and a UDP header, FramingIP
	// nothing.
	UnderlayHeaders interface {
		HeaderLen(v6 bool) int
	}
	// UnderlayAddrs is an Underlay that knows its local addresses (the one
	// it is bound to, or those of its interface), used when
	// UnderlayConfig.Local is empty.
	UnderlayAddrs interface {
		LocalAddrs() []netip.Addr
	}
	// UnderlayPathMTU is an Underlay that learns path MTUs (from ICMP
	// errors about its packets): the engine gives it a handler, which the
	// underlay calls with each report (the quoted packet with it, which
	// the handler does not keep), from any goroutine; the handler returns
	// quickly.
	UnderlayPathMTU interface {
		SetPathMTUHandler(h func(PathMTUReport))
	}
)
