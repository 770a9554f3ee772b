//go:build !linux

package udp

import (
	"errors"
	"net"
	"net/netip"

	"github.com/ipencap/ipencap/tunnel"
)

var (
	_ tunnel.Underlay        = (*Conn)(nil)
	_ tunnel.UnderlayFraming = (*Conn)(nil)
)

// Conn is a GRE-in-UDP underlay; it works only on Linux.
type Conn struct{}

// Framing returns [tunnel.FramingUDP].
func (c *Conn) Framing() tunnel.Framing { return tunnel.FramingUDP }

// Open fails with [errors.ErrUnsupported]: the transport needs Linux.
func Open(cfg Config) (*Conn, error) { return nil, errors.ErrUnsupported }

// ReadBatch returns [net.ErrClosed].
func (c *Conn) ReadBatch(bufs [][]byte, sizes []int, peers []netip.AddrPort, offset int) (int, error) {
	return 0, net.ErrClosed
}

// WriteBatch returns [net.ErrClosed].
func (c *Conn) WriteBatch(bufs [][]byte, peers []netip.AddrPort, offset int) (int, error) {
	return 0, net.ErrClosed
}

// BatchSize returns 1.
func (c *Conn) BatchSize() int { return 1 }

// Close does nothing.
func (c *Conn) Close() error { return nil }

// LocalAddr returns the zero AddrPort.
func (c *Conn) LocalAddr() netip.AddrPort { return netip.AddrPort{} }

// SourcePorts returns nil.
func (c *Conn) SourcePorts() []uint16 { return nil }

// Offload reports false, false.
func (c *Conn) Offload() (tx, rx bool) { return false, false }

// Stats returns zero counters.
func (c *Conn) Stats() Stats { return Stats{} }
