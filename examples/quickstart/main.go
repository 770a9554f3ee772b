// Command quickstart runs two GRE tunnel endpoints in one process, joined
// by an in-memory wire, and pings through them: ICMP echo requests go in on
// one side, through GRE with key, checksum and sequence numbers, and come
// out on the other, where they are answered. Every packet on the wire is
// printed decoded, and at the end the statistics of both ends, as
// `ip -s tunnel show` prints them. It uses the library's public API only.
//
//	go run ./examples/quickstart
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/outer"
	"github.com/ipencap/ipencap/tunnel"
	"github.com/ipencap/ipencap/tunnel/tunneltest"
)

var (
	// The underlay addresses of the two tunnel endpoints and the hosts
	// behind them, all from the documentation ranges.
	siteA = netip.MustParseAddr("192.0.2.1")
	siteB = netip.MustParseAddr("198.51.100.1")
	hostA = net.IPv4(203, 0, 113, 1)
	hostB = net.IPv4(203, 0, 113, 2)
)

const key gre.Key = 0x0a000001 // ikey/okey 10.0.0.1

func main() {
	if err := run(os.Stdout, 3); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, pings int) error {
	var mu sync.Mutex // the wire taps print from the engines' goroutines
	printf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, format, args...)
	}

	// The wire between the sites, and on each side an engine with one
	// tunnel:
	//   ip tunnel add gre1 mode gre local 192.0.2.1 remote 198.51.100.1 ttl 64 key 10.0.0.1 csum seq
	wireA, wireB := tunneltest.NewPipe(tunneltest.PipeConfig{
		AddrA: netip.AddrPortFrom(siteA, 0), AddrB: netip.AddrPortFrom(siteB, 0)})
	ends := []struct {
		name          string
		local, remote netip.Addr
		wire          tunnel.Underlay
	}{{"gre-a", siteA, siteB, wireA}, {"gre-b", siteB, siteA, wireB}}
	var tunnels [2]*tunnel.Tunnel
	var hosts [2]*tunneltest.ChannelOverlay
	for i, end := range ends {
		e := tunnel.NewEngine(tunnel.EngineConfig{})
		defer e.Close()
		tap := &tap{Underlay: end.wire, printf: printf}
		if err := e.AddUnderlay(tap, tunnel.UnderlayConfig{Name: "eth0", Local: []netip.Addr{end.local}}); err != nil {
			return err
		}
		hosts[i] = tunneltest.NewChannelOverlay(tunneltest.OverlayConfig{})
		t, err := e.Add(tunnel.Config{Name: end.name, Mode: tunnel.ModeGRE, Local: end.local, Remote: end.remote,
			TTL: 64, IKey: tunnel.KeyOf(key), OKey: tunnel.KeyOf(key), ICsum: true, OCsum: true, ISeq: true, OSeq: true}, hosts[i])
		if err != nil {
			return err
		}
		tunnels[i] = t
		printf("%v (mtu %d)\n", t, t.MTU())
	}

	buf := make([]byte, 2048)
	for seq := range pings {
		// Host A pings host B through the tunnel.
		req, err := echo(ipv4.ICMPTypeEcho, hostA, hostB, seq)
		if err != nil {
			return err
		}
		if err := hosts[0].Inject(req); err != nil {
			return err
		}
		// Host B receives the request and answers it.
		n, ok := hosts[1].Recv(buf, 2*time.Second)
		if !ok {
			return errors.New("the echo request did not arrive")
		}
		m, err := parseEcho(buf[:n])
		if err != nil {
			return err
		}
		printf("host B got %v\n", m)
		reply, err := echo(ipv4.ICMPTypeEchoReply, hostB, hostA, seq)
		if err != nil {
			return err
		}
		if err := hosts[1].Inject(reply); err != nil {
			return err
		}
		// Host A receives the reply.
		n, ok = hosts[0].Recv(buf, 2*time.Second)
		if !ok {
			return errors.New("the echo reply did not arrive")
		}
		if m, err = parseEcho(buf[:n]); err != nil {
			return err
		}
		printf("host A got %v\n", m)
	}

	// The counters move when a batch has been written out, a moment after
	// the packets themselves: wait for the last ones.
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		a, b := tunnels[0].Stats(), tunnels[1].Stats()
		if a.RxPackets+a.TxPackets+b.RxPackets+b.TxPackets == uint64(4*pings) {
			break
		}
	}
	for _, t := range tunnels {
		printStats(printf, t)
	}
	return nil
}

// tap is an Underlay that prints every outer packet it sends, decoded,
// then passes it on: a tcpdump on the wire, built on outer.Parse and
// gre.Parse.
type tap struct {
	tunnel.Underlay
	printf func(format string, args ...any)
}

func (t *tap) WriteBatch(bufs [][]byte, peers []netip.AddrPort, offset int) (int, error) {
	for _, b := range bufs {
		pkt := b[offset:]
		o, payload, err := outer.Parse(pkt)
		if err != nil {
			t.printf("  wire: %d bytes: %v\n", len(pkt), err)
			continue
		}
		h, err := gre.Parse(payload)
		if err != nil {
			t.printf("  wire: IP %v > %v: %v\n", o.Src, o.Dst, err)
			continue
		}
		k, _ := h.Key()
		seq, _ := h.Seq()
		sum, _ := h.Checksum()
		t.printf("  wire: IP %v > %v ttl %d: GRE key %v seq %d csum %#04x (valid %v), %v, %d bytes inside\n",
			o.Src, o.Dst, o.TTL, k, seq, sum, h.ChecksumValid(), h.Protocol(), len(h.Payload()))
	}
	return t.Underlay.WriteBatch(bufs, peers, offset)
}

// echo returns an IPv4 packet carrying an ICMP echo request or reply with
// 32 bytes of data, built with golang.org/x/net.
func echo(typ ipv4.ICMPType, src, dst net.IP, seq int) ([]byte, error) {
	data := make([]byte, 32)
	for i := range data {
		data[i] = byte(i)
	}
	body, err := (&icmp.Message{Type: typ, Body: &icmp.Echo{ID: 0x1701, Seq: seq, Data: data}}).Marshal(nil)
	if err != nil {
		return nil, err
	}
	h := &ipv4.Header{Version: 4, Len: ipv4.HeaderLen, TotalLen: ipv4.HeaderLen + len(body), ID: seq + 1,
		TTL: 64, Protocol: 1, Src: src, Dst: dst}
	hb, err := h.Marshal()
	if err != nil {
		return nil, err
	}
	sum := headerChecksum(hb)
	hb[10], hb[11] = byte(sum>>8), byte(sum)
	return append(hb, body...), nil
}

// headerChecksum is the IPv4 header checksum (RFC 1071), which x/net's
// Header.Marshal leaves to the kernel.
func headerChecksum(h []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(h); i += 2 {
		s += uint32(h[i])<<8 | uint32(h[i+1])
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// echoText describes an ICMP echo packet.
type echoText struct {
	src, dst net.IP
	m        *icmp.Message
}

func (e echoText) String() string {
	b := e.m.Body.(*icmp.Echo)
	return fmt.Sprintf("%v > %v: ICMP %v id %#x seq %d, %d bytes of data", e.src, e.dst, e.m.Type, b.ID, b.Seq, len(b.Data))
}

func parseEcho(p []byte) (echoText, error) {
	h, err := ipv4.ParseHeader(p)
	if err != nil {
		return echoText{}, err
	}
	m, err := icmp.ParseMessage(1, p[h.Len:])
	if err != nil {
		return echoText{}, err
	}
	if _, ok := m.Body.(*icmp.Echo); !ok {
		return echoText{}, fmt.Errorf("not an echo: %v", m.Type)
	}
	return echoText{h.Src, h.Dst, m}, nil
}

// printStats prints a tunnel's counters the way `ip -s tunnel show` does.
func printStats(printf func(string, ...any), t *tunnel.Tunnel) {
	s := t.Stats()
	printf("%v\n", t)
	printf("    RX: %-10s %-10s %-8s %-8s %-8s %s\n", "Packets", "Bytes", "Errors", "CsumErrs", "OutOfSeq", "Mcasts")
	printf("        %-10d %-10d %-8d %-8d %-8d %d\n", s.RxPackets, s.RxBytes, s.RxErrors, s.RxCsumErrors, s.RxOutOfSeq, s.RxMulticast)
	printf("    TX: %-10s %-10s %-8s %-8s %-8s %s\n", "Packets", "Bytes", "Errors", "DeadLoop", "NoRoute", "NoBufs")
	printf("        %-10d %-10d %-8d %-8d %-8d %d\n", s.TxPackets, s.TxBytes, s.TxErrors, s.TxDeadLoop, s.TxNoRoute, s.TxNoBufs)
}
