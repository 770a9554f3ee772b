package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// maxCapLen bounds the captured length of one frame, and so what one record
// may make the reader allocate. libpcap's own bound is 262144; a garbage
// length of 4 GB must fail with an error, not with an out-of-memory crash.
const maxCapLen = 1 << 20

// Link types (LINKTYPE_* of the tcpdump.org registry) that pcapdump strips.
const (
	linkNull     = 0   // BSD loopback, 4-byte address family in host order
	linkEthernet = 1   // Ethernet II / 802.3, 802.1Q and QinQ tags allowed
	linkRawBSD   = 12  // DLT_RAW on most BSDs, found in old files
	linkRawBSD14 = 14  // DLT_RAW on BSD/OS and OpenBSD
	linkRaw      = 101 // LINKTYPE_RAW: IPv4 or IPv6, no link header
	linkLoop     = 108 // OpenBSD loopback, address family in network order
	linkSLL      = 113 // Linux cooked capture v1
	linkIPv4     = 228
	linkIPv6     = 229
	linkSLL2     = 276 // Linux cooked capture v2

	// gopacket's layers.LinkType is 8 bits wide, so pcapgo cuts the
	// 16-bit pcapng link type down. ngGuard rewrites a link type above 255
	// in the interface description block before pcapgo sees it: SLL2 to
	// linkAliasSLL2, anything else to linkAliasOther. Both are unassigned
	// in the registry and are mapped back by fullLinkType.
	linkAliasSLL2  = 20
	linkAliasOther = 21
	linkOther      = 0xFFFF // a link type above 255 that pcapdump does not know
)

// fullLinkType undoes ngGuard's aliasing of pcapng link types.
func fullLinkType(lt layers.LinkType) uint16 {
	switch lt {
	case linkAliasSLL2:
		return linkSLL2
	case linkAliasOther:
		return linkOther
	}
	return uint16(lt)
}

// frame is one captured frame.
type frame struct {
	N       int       // frame number in its file, from 1
	Time    time.Time // capture time, UTC
	Link    uint16    // LINKTYPE_* value
	OrigLen int       // length on the wire
	Data    []byte    // captured bytes
}

// captureError says what is wrong with a capture file as opposed to a frame.
type captureError struct {
	Frames int // frames read before the error
	Err    error
}

func (e *captureError) Error() string {
	if e.Frames == 0 {
		return e.Err.Error()
	}
	return fmt.Sprintf("after frame %d: %v", e.Frames, e.Err)
}

func (e *captureError) Unwrap() error { return e.Err }

const (
	magicPcapMicro     = 0xA1B2C3D4
	magicPcapNano      = 0xA1B23C4D
	magicPcapng        = 0x0A0D0D0A
	magicGzip          = 0x1F8B
	pcapFileHeaderLen  = 24
	pcapSnaplenOffset  = 16
	pcapLinkTypeOffset = 20
)

// errGzipNested refuses a gzip layer inside a gzip layer.
var errGzipNested = errors.New("gzip inside gzip: not decompressed further")

// readFrames reads a pcap or pcapng file (either may be gzip-compressed)
// and calls fn for every frame, in order. fn must not keep f.Data. The
// error, a *captureError, says why reading stopped early: a file that is
// neither format, a truncated header or record, a malformed block, a gzip
// inside the gzip.
//
// One gzip layer is opened, no more: each layer holds a decompressor (a
// 32 KiB window and its tables) and a 64 KiB read buffer while the file
// is read, so nested layers cost memory the file's size does not bound
// (2 000 layers in 56 KB took 214 MB). Decompressed, the file is read as
// a stream like any other: what it may make pcapdump hold at once is
// bounded by maxCapLen (a pcap record) and maxBlockLen (a pcapng block),
// not by its size, which costs time only, as an uncompressed file of that
// size would.
func readFrames(r io.Reader, fn func(f *frame)) (format string, err error) {
	return readLayer(r, fn, false)
}

// readLayer is readFrames; gunzipped says r is the content of the gzip
// layer already, where another gzip is refused.
func readLayer(r io.Reader, fn func(f *frame), gunzipped bool) (format string, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(4)
	if err != nil {
		if len(magic) >= 2 && binary.BigEndian.Uint16(magic) == magicGzip {
			return "", &captureError{Err: fmt.Errorf("truncated gzip header: %w", io.ErrUnexpectedEOF)}
		}
		switch {
		case err != io.EOF:
			return "", &captureError{Err: err}
		case len(magic) == 0:
			return "", &captureError{Err: errors.New("empty file")}
		}
		return "", &captureError{Err: fmt.Errorf("not a pcap or pcapng file: only %d bytes", len(magic))}
	}
	if binary.BigEndian.Uint16(magic) == magicGzip {
		if gunzipped {
			return "", &captureError{Err: errGzipNested}
		}
		zr, err := gzip.NewReader(br)
		if err != nil {
			return "", &captureError{Err: fmt.Errorf("gzip: %w", err)}
		}
		format, err := readLayer(zr, fn, true)
		return "gzip " + format, err
	}
	switch m := binary.LittleEndian.Uint32(magic); {
	case m == magicPcapng:
		return "pcapng", readPcapng(br, fn)
	case m == magicPcapMicro || m == magicPcapNano || bswap32(m) == magicPcapMicro || bswap32(m) == magicPcapNano:
		return "pcap", readPcap(br, fn)
	default:
		return "", &captureError{Err: fmt.Errorf("not a pcap or pcapng file: magic %08x", binary.BigEndian.Uint32(magic))}
	}
}

func bswap32(v uint32) uint32 {
	return v>>24 | v>>8&0xFF00 | v<<8&0xFF0000 | v<<24
}

// readPcap reads a classic pcap file with pcapgo. The file header is read
// here first, to get the full 32-bit link type (pcapgo keeps 8 bits) and to
// replace the snap length by maxCapLen: pcapgo allocates the captured
// length a record header states, bounded only by the snap length.
func readPcap(br *bufio.Reader, fn func(f *frame)) error {
	var hdr [pcapFileHeaderLen]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return &captureError{Err: fmt.Errorf("truncated pcap file header: %w", io.ErrUnexpectedEOF)}
	}
	var order binary.ByteOrder = binary.LittleEndian
	if m := binary.BigEndian.Uint32(hdr[:4]); m == magicPcapMicro || m == magicPcapNano {
		order = binary.BigEndian
	}
	// The link type is the low 16 bits; the high bits may carry the FCS
	// length (draft-ietf-opsawg-pcap §4).
	link := uint16(order.Uint32(hdr[pcapLinkTypeOffset:]))
	order.PutUint32(hdr[pcapSnaplenOffset:], maxCapLen)
	pr, err := pcapgo.NewReader(io.MultiReader(bytes.NewReader(hdr[:]), br))
	if err != nil {
		return &captureError{Err: fmt.Errorf("pcap: %w", err)}
	}
	f := frame{Link: link}
	for {
		data, ci, err := pr.ZeroCopyReadPacketData()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return &captureError{Frames: f.N, Err: truncated(err)}
		}
		f.N++
		f.Time, f.OrigLen, f.Data = ci.Timestamp.UTC(), ci.Length, data
		fn(&f)
	}
}

// readPcapng reads a pcapng file with pcapgo's NgReader behind ngGuard.
func readPcapng(br *bufio.Reader, fn func(f *frame)) error {
	g := &ngGuard{r: br}
	nr, err := pcapgo.NewNgReader(g, pcapgo.NgReaderOptions{WantMixedLinkType: true})
	if err != nil {
		if g.err != nil {
			err = g.err
		}
		return &captureError{Err: fmt.Errorf("pcapng: %w", truncated(err))}
	}
	var f frame
	for {
		data, ci, err := nr.ZeroCopyReadPacketData()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if g.err != nil && g.err != io.EOF {
				err = g.err // the guard's reason is the clearer one
			}
			return &captureError{Frames: f.N, Err: fmt.Errorf("pcapng: %w", truncated(err))}
		}
		f.N++
		f.Link = linkEthernet
		if len(ci.AncillaryData) > 0 {
			if lt, ok := ci.AncillaryData[0].(layers.LinkType); ok {
				f.Link = fullLinkType(lt)
			}
		}
		f.Time, f.OrigLen, f.Data = ci.Timestamp.UTC(), ci.Length, data
		fn(&f)
	}
}

func truncated(err error) error {
	if err == io.ErrUnexpectedEOF {
		return errors.New("truncated capture: unexpected EOF")
	}
	return err
}

// ngGuard sits between the file and pcapgo's NgReader and passes on only
// well-formed pcapng blocks, one whole block at a time. NgReader trusts the
// file: it allocates whatever captured length a block states, and a
// timestamp resolution of 2^-64 or 10^-20 makes it divide by zero. The
// guard checks each block's framing (total length, the trailing copy of
// it), that the captured length of a packet block fits inside the block,
// and the if_tsresol option, and rewrites link types above 255 (see
// linkAliasSLL2). Its first error ends the stream.
type ngGuard struct {
	r      *bufio.Reader
	block  []byte // the current block, validated
	off    int    // how much of block was read
	err    error
	big    bool     // byte order of the current section
	snaps  []uint32 // snap lengths of the section's interfaces
	blocks int
}

// errNg is the kind of every error of ngGuard.
var errNg = errors.New("malformed pcapng")

const (
	ngSHB = 0x0A0D0D0A
	ngIDB = 1
	ngPB  = 2 // obsolete packet block
	ngSPB = 3
	ngISB = 5
	ngEPB = 6

	ngByteOrderMagic = 0x1A2B3C4D
	ngOptTSResol     = 9
	maxBlockLen      = maxCapLen + 64<<10 // a packet and generous options
)

func (g *ngGuard) Read(p []byte) (int, error) {
	if g.off == len(g.block) {
		if g.err != nil {
			return 0, g.err
		}
		if err := g.next(); err != nil {
			g.err = err
			g.block, g.off = g.block[:0], 0
			return 0, err
		}
	}
	n := copy(p, g.block[g.off:])
	g.off += n
	return n, nil
}

func (g *ngGuard) fail(format string, args ...any) error {
	return fmt.Errorf("%w: block %d: %s", errNg, g.blocks, fmt.Sprintf(format, args...))
}

func (g *ngGuard) u16(b []byte) uint16 {
	if g.big {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (g *ngGuard) u32(b []byte) uint32 {
	if g.big {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (g *ngGuard) put16(b []byte, v uint16) {
	if g.big {
		binary.BigEndian.PutUint16(b, v)
	} else {
		binary.LittleEndian.PutUint16(b, v)
	}
}

// next reads and checks the next block into g.block.
func (g *ngGuard) next() error {
	g.blocks++
	var head [12]byte
	if n, err := io.ReadFull(g.r, head[:8]); err != nil {
		if n == 0 && err == io.EOF {
			return io.EOF
		}
		return g.fail("truncated block header")
	}
	typ := binary.LittleEndian.Uint32(head[:4]) // SHB's type reads the same both ways
	if typ == ngSHB {
		if _, err := io.ReadFull(g.r, head[8:12]); err != nil {
			return g.fail("truncated section header")
		}
		switch {
		case binary.BigEndian.Uint32(head[8:]) == ngByteOrderMagic:
			g.big = true
		case binary.LittleEndian.Uint32(head[8:]) == ngByteOrderMagic:
			g.big = false
		default:
			return g.fail("bad byte-order magic")
		}
		g.snaps = g.snaps[:0]
	} else {
		typ = g.u32(head[:4])
	}
	total := g.u32(head[4:8])
	minLen := uint32(12)
	if typ == ngSHB {
		minLen = 28
	}
	if total < minLen || total%4 != 0 || total > maxBlockLen {
		return g.fail("bad block length %d", total)
	}
	// Grow the buffer only as data arrives, so a bogus length costs no
	// more memory than the file has bytes.
	var buf bytes.Buffer
	if typ == ngSHB {
		buf.Write(head[:12])
	} else {
		buf.Write(head[:8])
	}
	if _, err := io.CopyN(&buf, g.r, int64(total)-int64(buf.Len())); err != nil {
		return g.fail("truncated block (length %d)", total)
	}
	b := buf.Bytes()
	if g.u32(b[len(b)-4:]) != total {
		return g.fail("trailing block length differs")
	}
	body := b[8 : len(b)-4]
	switch typ {
	case ngIDB:
		if len(body) < 8 {
			return g.fail("short interface description block")
		}
		if lt := g.u16(body[:2]); lt > 255 {
			alias := uint16(linkAliasOther)
			if lt == linkSLL2 {
				alias = linkAliasSLL2
			}
			g.put16(body[:2], alias)
		}
		if err := g.checkOptions(body[8:], true); err != nil {
			return err
		}
		g.snaps = append(g.snaps, g.u32(body[4:8]))
	case ngEPB, ngPB:
		if len(body) < 20 || uint64(g.u32(body[12:16])) > uint64(len(body)-20) {
			return g.fail("captured length exceeds the packet block")
		}
	case ngSPB:
		if len(body) < 4 {
			return g.fail("short simple packet block")
		}
		caplen := g.u32(body[:4])
		if len(g.snaps) > 0 && g.snaps[0] != 0 && caplen > g.snaps[0] {
			caplen = g.snaps[0]
		}
		if uint64(caplen) > uint64(len(body)-4) {
			return g.fail("captured length exceeds the simple packet block")
		}
	case ngISB:
		if len(body) < 12 {
			return g.fail("short interface statistics block")
		}
		if err := g.checkOptions(body[12:], false); err != nil {
			return err
		}
	case ngSHB:
		if err := g.checkOptions(body[16:], false); err != nil {
			return err
		}
	}
	g.block, g.off = b, 0
	return nil
}

// checkOptions walks the options of a block: each must fit, padding
// included, and in an interface description block (idb) the timestamp
// resolution must be one pcapgo can divide by.
func (g *ngGuard) checkOptions(opts []byte, idb bool) error {
	for len(opts) >= 4 {
		code, n := g.u16(opts[:2]), int(g.u16(opts[2:4]))
		if code == 0 {
			return nil
		}
		pad := (4 - n%4) % 4
		if 4+n+pad > len(opts) {
			return g.fail("option %d overruns its block", code)
		}
		if idb && code == ngOptTSResol {
			// pcapgo reads a stale buffer for an empty option.
			if n == 0 {
				return g.fail("empty timestamp resolution")
			}
			if v := opts[4]; (v&0x80 != 0 && v&0x7F > 63) || (v&0x80 == 0 && v > 19) {
				return g.fail("timestamp resolution 0x%02x out of range", v)
			}
		}
		opts = opts[4+n+pad:]
	}
	return nil
}
