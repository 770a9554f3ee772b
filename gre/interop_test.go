package gre_test

// Cross-check against third-party captures: every capture in
// testdata/interop (at the repository root) is read frame by frame, each GRE header in it is
// found by walking the IP headers ourselves (IPv4, IPv6 with extension
// headers, 4in4/6in4/4in6/6in6, GRE-in-UDP 4754, GRE inside GRE) and parsed
// with our codec, and the fields must equal what tshark reports for the
// same frame.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/internal/testpkt"
	"github.com/ipencap/ipencap/iphdr"
)

// xcInteropFields are the tshark fields TestInteropCaptures reads, in order.
var xcInteropFields = []string{
	"frame.number", "frame.protocols",
	"gre.flags_and_version", "gre.proto", "gre.checksum", "gre.checksum.status", "gre.offset",
	"gre.key", "gre.key.payload_length", "gre.key.call_id", "gre.sequence_number", "gre.ack_number",
	"gre.routing.address_family", "gre.routing.sre_offset", "gre.routing.src_length",
	"_ws.malformed", "_ws.short",
}

// xcInteropDecoder accepts every valid GRE header (RFC 1701 with routing,
// and version 1); verdicts of the stricter modes are not tshark's business.
// It does not verify checksums: captures hold corrupted packets and packets
// cut short by the snap length, which tshark dissects all the same, and
// xcCaptureStatus compares the checksum verdict with ChecksumValid.
var xcInteropDecoder = gre.Decoder{Mode: gre.ModeRFC1701, NoVerifyChecksum: true}

// xcSite is one GRE packet found inside a captured frame.
type xcSite struct {
	data       []byte // the captured bytes of the GRE packet, cut where its carrier says it ends
	reported   int    // its length as its carrier declares it (IP total length, IPv6 payload length, UDP length)
	fragmented bool   // some enclosing IP datagram is a fragment
	path       string // how the walk got there, for messages
	hdr        gre.Header
	err        error // of xcInteropDecoder.Parse
}

// xcWalk finds GRE headers in a frame, outermost first, in the order tshark
// dissects them. It stops at the first header our codec rejects.
type xcWalk struct {
	sites []xcSite
}

func (w *xcWalk) ip(b []byte, frag bool, path string) {
	if len(b) == 0 || len(w.sites) > 8 {
		return
	}
	switch b[0] >> 4 {
	case 4:
		w.ipv4(b, frag, path)
	case 6:
		w.ipv6(b, frag, path)
	}
}

func (w *xcWalk) ipv4(b []byte, frag bool, path string) {
	// Not iphdr.CheckIPv4: that rejects a packet cut short by the snap
	// length, where tshark still dissects what was captured.
	if len(b) < iphdr.IPv4MinLen || b[0]>>4 != 4 {
		return
	}
	h := iphdr.IPv4(b)
	hl, tl := h.HeaderLen(), int(h.TotalLen())
	if hl < iphdr.IPv4MinLen || len(b) < hl || tl < hl {
		return
	}
	if h.FragOff() != 0 {
		return // only the first fragment carries the next header (tshark runs with ip.defragment:FALSE)
	}
	w.proto(h.Protocol(), b[hl:min(tl, len(b))], tl-hl, frag || h.MF(), path+">ipv4")
}

func (w *xcWalk) ipv6(b []byte, frag bool, path string) {
	if len(b) < iphdr.IPv6Len || b[0]>>4 != 6 {
		return
	}
	h := iphdr.IPv6(b)
	reported := int(h.PayloadLen())
	p := b[iphdr.IPv6Len:min(iphdr.IPv6Len+reported, len(b))]
	nh := h.NextHeader()
	for {
		switch nh {
		case 0, 43, 60: // hop-by-hop options, routing, destination options
			if len(p) < 2 || len(p) < (int(p[1])+1)*8 {
				return
			}
			l := (int(p[1]) + 1) * 8
			nh, p, reported = p[0], p[l:], reported-l
			continue
		case 44: // fragment
			if len(p) < 8 || binary.BigEndian.Uint16(p[2:])>>3 != 0 {
				return
			}
			frag = frag || p[3]&1 != 0
			nh, p, reported = p[0], p[8:], reported-8
			continue
		}
		break
	}
	w.proto(nh, p, reported, frag, path+">ipv6")
}

func (w *xcWalk) proto(proto uint8, p []byte, reported int, frag bool, path string) {
	switch proto {
	case 47:
		w.gre(p, reported, frag, path)
	case 4:
		w.ipv4(p, frag, path)
	case 41:
		w.ipv6(p, frag, path)
	case 17:
		// GRE-in-UDP (RFC 8086): tshark dissects UDP port 4754 as GRE.
		if len(p) < 8 {
			return
		}
		if binary.BigEndian.Uint16(p[0:]) != 4754 && binary.BigEndian.Uint16(p[2:]) != 4754 {
			return
		}
		ulen := int(binary.BigEndian.Uint16(p[4:]))
		if ulen < 8 {
			return
		}
		w.gre(p[8:min(ulen, len(p))], ulen-8, frag, path+">udp4754")
	}
}

func (w *xcWalk) gre(p []byte, reported int, frag bool, path string) {
	s := xcSite{data: p, reported: reported, fragmented: frag, path: path + ">gre"}
	s.hdr, s.err = xcInteropDecoder.Parse(p)
	w.sites = append(w.sites, s)
	if s.err != nil {
		return
	}
	// Follow the payload where tshark would find another GRE header.
	pl := s.hdr.Payload()
	etype := s.hdr.Protocol()
	switch etype {
	case gre.ProtoTEB: // an Ethernet frame, maybe 802.1Q tagged
		if len(pl) < 14 {
			return
		}
		etype, pl = gre.Protocol(binary.BigEndian.Uint16(pl[12:])), pl[14:]
		for (etype == 0x8100 || etype == 0x88a8) && len(pl) >= 4 {
			etype, pl = gre.Protocol(binary.BigEndian.Uint16(pl[2:])), pl[4:]
		}
	case 0x8909: // Cisco MetaData as tshark reads it behind GRE: EtherType, version, length, option, SGT (8 bytes)
		if len(pl) < 8 {
			return
		}
		etype, pl = gre.Protocol(binary.BigEndian.Uint16(pl)), pl[8:]
	}
	switch etype {
	case gre.ProtoIPv4:
		w.ipv4(pl, frag, s.path)
	case gre.ProtoIPv6:
		w.ipv6(pl, frag, s.path)
	}
}

// xcCaptureStatus is the gre.checksum.status tshark gives a parsed header:
// with C, good (1) or bad (0) when the whole unfragmented GRE packet was
// captured, otherwise unverified (2); with only R, unverified (the field
// holds no checksum); "" without either.
func xcCaptureStatus(s xcSite) string {
	switch {
	case s.hdr.ChecksumPresent():
		if s.fragmented || len(s.data) < s.reported {
			return "2"
		}
		if s.hdr.ChecksumValid() {
			return "1"
		}
		return "0"
	case s.hdr.RoutingPresent():
		return "2"
	}
	return ""
}

// xcOurValues returns what our parsed header says for each tshark field,
// only for the fields present in it.
func xcOurValues(s xcSite) map[string]string {
	h := s.hdr
	v := map[string]string{
		"gre.flags_and_version": fmt.Sprintf("0x%04x", h.FlagsVersion()),
		"gre.proto":             fmt.Sprintf("0x%04x", uint16(h.Protocol())),
	}
	if off, ok := h.Offset(); ok {
		var f gre.Fields
		h.Fields(&f)
		v["gre.checksum"] = fmt.Sprintf("0x%04x", f.Checksum) // the raw field, also when only R is set
		v["gre.checksum.status"] = xcCaptureStatus(s)
		v["gre.offset"] = strconv.Itoa(int(off))
	}
	if k, ok := h.Key(); ok {
		if xcTsharkPPP(h.FlagsVersion(), h.Protocol()) {
			v["gre.key.payload_length"] = strconv.Itoa(int(h.PayloadLength()))
			v["gre.key.call_id"] = strconv.Itoa(int(h.CallID()))
		} else {
			v["gre.key"] = fmt.Sprintf("0x%08x", uint32(k))
		}
	}
	if seq, ok := h.Seq(); ok {
		v["gre.sequence_number"] = strconv.FormatUint(uint64(seq), 10)
	}
	if ack, ok := h.Ack(); ok {
		v["gre.ack_number"] = strconv.FormatUint(uint64(ack), 10)
	}
	if h.RoutingPresent() {
		var af, off, l []string
		it := h.Routing()
		for it.Next() {
			e := it.SRE()
			af = append(af, strconv.Itoa(int(e.AddressFamily)))
			off = append(off, strconv.Itoa(int(e.Offset)))
			l = append(l, strconv.Itoa(len(e.Info)))
		}
		af, off, l = append(af, "0"), append(off, "0"), append(l, "0") // the NULL SRE
		v["gre.routing.address_family"] = strings.Join(af, ",")
		v["gre.routing.sre_offset"] = strings.Join(off, ",")
		v["gre.routing.src_length"] = strings.Join(l, ",")
	}
	return v
}

// xcJoin joins, field by field, the values of several headers the way
// tshark prints occurrences: comma-separated, outer first, absent skipped.
func xcJoin(sites []xcSite) map[string]string {
	parts := map[string][]string{}
	for _, s := range sites {
		for k, v := range xcOurValues(s) {
			parts[k] = append(parts[k], v)
		}
	}
	out := map[string]string{}
	for k, v := range parts {
		out[k] = strings.Join(v, ",")
	}
	return out
}

// xcGREMalformed reports whether tshark says the GRE header itself is cut
// short (a malformation elsewhere, say in IS-IS behind GRE, does not count).
func xcGREMalformed(malformed, short string) bool {
	return strings.Contains(malformed, "Malformed Packet: GRE]") || strings.Contains(short, ": GRE truncated]")
}

// xcRFCRejects lists frames (file#frame) whose GRE header tshark dissects
// but our codec rejects for a reason other than truncation, with the RFC
// reason. Verdicts come from the RFCs, not from tshark. None so far.
var xcRFCRejects = map[string]string{}

// TestInteropCaptures checks every capture in testdata/interop
// (a sub-test per file) against tshark: each GRE header must decode with our
// codec to the flags/version word, protocol, checksum field and verdict,
// offset, key (or PPTP payload length and call ID), sequence and
// acknowledgment numbers and SRE list that tshark reports; each frame
// whose GRE header tshark finds malformed or cut short must be rejected;
// frames without GRE for tshark must hold none for us either.
func TestInteropCaptures(t *testing.T) {
	dir := testpkt.InteropDir(t)
	testpkt.Tool(t, "tshark")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)

	var (
		mu                                  sync.Mutex
		totalFrames, totalHeaders, totalRej int
	)
	var files []string
	for _, e := range entries {
		if n := e.Name(); strings.HasSuffix(n, ".pcap") || strings.HasSuffix(n, ".pcapng") {
			files = append(files, n)
		}
	}
	require.NotEmpty(t, files)

	t.Run("captures", func(t *testing.T) {
		for _, name := range files {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				frames, headers, rejected := xcCheckCapture(t, filepath.Join(dir, name), name)
				mu.Lock()
				totalFrames += frames
				totalHeaders += headers
				totalRej += rejected
				mu.Unlock()
			})
		}
	})
	t.Logf("%d captures: %d GRE frames compared with tshark (%d GRE headers), %d truncated GRE frames rejected",
		len(files), totalFrames, totalHeaders, totalRej)
	if !t.Failed() {
		// SOURCES.md counts about 2,200 frames that tshark dissects as GRE.
		assert.Greater(t, totalFrames, 2000, "frames compared")
	}
}

// xcCheckCapture runs the cross-check on one file and returns the number
// of frames compared field by field, the GRE headers in them, and the
// frames rejected as truncated.
func xcCheckCapture(t *testing.T, path, name string) (compared, headers, rejected int) {
	frames := testpkt.ReadFrames(t, path)
	rows := testpkt.Tshark(t, path, "", xcInteropFields, "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE")
	require.Len(t, rows, len(frames), "one tshark row per frame")

	greFrames, rfcRejected := 0, 0
	for i, fr := range frames {
		row := rows[i]
		require.Len(t, row, len(xcInteropFields))
		got := map[string]string{}
		for j, f := range xcInteropFields {
			got[f] = row[j]
		}
		require.Equal(t, strconv.Itoa(fr.Number), got["frame.number"])
		where := fmt.Sprintf("%s frame %d", name, fr.Number)

		var w xcWalk
		require.NotPanics(t, func() {
			if b, ok := fr.NetworkLayer(); ok {
				w.ip(b, false, "")
			}
		}, where)

		tsharkGRE := false
		for _, p := range strings.Split(got["frame.protocols"], ":") {
			tsharkGRE = tsharkGRE || p == "gre"
		}
		if !tsharkGRE {
			assert.Empty(t, w.sites, "%s: tshark sees no GRE (%s)", where, got["frame.protocols"])
			continue
		}
		greFrames++
		if !assert.NotEmpty(t, w.sites, "%s: tshark sees GRE (%s), we find none", where, got["frame.protocols"]) {
			continue
		}

		ok := w.sites[:len(w.sites)-1] // every site but the last parsed (the walk stops at an error)
		last := w.sites[len(w.sites)-1]
		if last.err != nil {
			// Compare what both sides read before the error.
			n := len(ok)
			for _, field := range []string{"gre.flags_and_version", "gre.proto"} {
				vals := strings.Split(xcJoin(ok)[field], ",")[:n]
				tv := strings.Split(got[field], ",")
				if assert.GreaterOrEqual(t, len(tv), n, "%s: %s", where, field) {
					assert.Equal(t, vals, tv[:n], "%s: %s of the headers before the rejected one", where, field)
				}
			}
			headers += n
			if errors.Is(last.err, gre.ErrTruncated) {
				assert.True(t, xcGREMalformed(got["_ws.malformed"], got["_ws.short"]),
					"%s: we reject a truncated GRE header (%s, %d of %d bytes) that tshark does not flag",
					where, last.path, len(last.data), last.reported)
				rejected++
				continue
			}
			reason, known := xcRFCRejects[fmt.Sprintf("%s#%d", name, fr.Number)]
			assert.True(t, known, "%s: our codec rejects %s: %v (%x)", where, last.path, last.err, last.data[:min(len(last.data), 24)])
			t.Logf("%s: rejected by RFC rule: %v (%s)", where, last.err, reason)
			rfcRejected++
			continue
		}

		assert.False(t, xcGREMalformed(got["_ws.malformed"], got["_ws.short"]),
			"%s: tshark flags GRE as malformed (%q %q), our codec accepts it", where, got["_ws.malformed"], got["_ws.short"])
		for _, site := range w.sites {
			// ModeRFC1701 promises that what it accepts re-encodes byte for
			// byte; real headers put that to the test too. (A checksum over
			// a payload cut short by the snap length comes out different.)
			var f gre.Fields
			site.hdr.Fields(&f)
			out, err := f.Append(nil, site.hdr.Payload())
			if assert.NoError(t, err, "%s: re-encode %s", where, site.path) {
				if site.hdr.ChecksumPresent() && !site.hdr.ChecksumValid() {
					copy(out[4:6], site.data[4:6])
				}
				assert.Equal(t, xcHex(site.data), xcHex(out), "%s: re-encoded %s", where, site.path)
			}
		}
		want := xcJoin(w.sites)
		for _, field := range xcInteropFields[2 : len(xcInteropFields)-2] {
			assert.Equal(t, want[field], got[field], "%s: %s (walk %s)", where, field, last.path)
		}
		compared++
		headers += len(w.sites)
	}
	if greFrames > 0 {
		assert.Positive(t, compared+rejected, "frames compared in a capture with GRE")
		assert.Equal(t, greFrames, compared+rejected+rfcRejected, "every GRE frame accounted for")
	}
	t.Logf("%s: %d frames, %d with GRE for tshark: %d compared (%d GRE headers), %d truncated GRE rejected",
		name, len(frames), greFrames, compared, headers, rejected)
	return compared, headers, rejected
}
