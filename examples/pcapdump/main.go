// Command pcapdump prints the tunnels in pcap and pcapng captures, one line
// per frame like tcpdump, decoding every tunnel header with this module's
// codecs: outer.Parse for each IPv4 and IPv6 header, gre.Decoder for GRE
// (all of RFC 1701, version 1 PPTP, checksums verified and shown rather
// than dropped), ipip.Check for IP in IP (4in4, 6in4, 4in6, 6in6) and
// mobile.Parse for minimal encapsulation (RFC 2004), nested to any depth:
// GRE in GRE, GRE in UDP (port 4754), Ethernet over GRE (TEB), ERSPAN I, II
// and III, PPTP's PPP, MPLS, WCCP, NHRP and keepalives. gopacket's pcapgo
// reads the files; every header above the link layer is decoded here.
//
//	go run ./examples/pcapdump [-json] [-all] FILE...
//
// A line shows the frame number, its time (UTC), the outer addresses and
// each nested packet, joined by " | ":
//
//	3 17:04:56.104123 10.0.0.1 > 10.0.0.2: GRE key 0.0.0.5 (5) seq 3 | IPv4 203.0.113.1 > 203.0.113.2 ICMP echo request id 1 seq 1
//
// A header that does not decode shows the codec's error in brackets, such
// as [gre: truncated header]. Frames without a tunnel are left out unless
// -all is given. -json prints one JSON object per frame, with a layers
// array, and the summary on standard error. A file may be gzip-compressed,
// once: a gzip inside the gzip is not opened, and the file counts as
// unreadable. The exit status is 1 when a file could not be read to its
// end.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// options are the command-line flags.
type options struct {
	JSON bool // one JSON object per frame
	All  bool // print frames without a tunnel too
}

// stats are the summary counts.
type stats struct {
	Files, BadFiles int
	Frames          int            // frames read
	Tunnelled       int            // frames with at least one encapsulation
	Printed         int            // frames printed
	Errors          int            // frames with a decoding error
	Fragments       int            // frames stopped at an IP fragment
	Encaps          map[string]int // tunnelled frames per encapsulation
}

// dump reads the capture r (named name) and calls emit for every frame
// that opts select; it counts every frame in st. The error is about the
// file: not a capture, or cut short.
func dump(name string, r io.Reader, opts options, st *stats, emit func(*Result)) error {
	if st.Encaps == nil {
		st.Encaps = map[string]int{}
	}
	st.Files++
	_, err := readFrames(r, func(f *frame) {
		st.Frames++
		res := decodeFrame(f.Link, f.Data)
		res.File, res.Frame, res.CapLen, res.Len = name, f.N, len(f.Data), f.OrigLen
		res.Time = f.Time.Format("15:04:05.000000")
		for _, t := range res.Tunnels {
			st.Encaps[t]++
		}
		if len(res.Tunnels) > 0 {
			st.Tunnelled++
		}
		if len(res.Errors) > 0 {
			st.Errors++
		}
		if res.Fragment {
			st.Fragments++
		}
		if len(res.Tunnels) == 0 && !opts.All {
			return
		}
		st.Printed++
		if opts.JSON {
			res.Time = f.Time.Format("2006-01-02T15:04:05.000000000Z07:00")
		}
		emit(res)
	})
	if err != nil {
		st.BadFiles++
	}
	return err
}

// run is main without the process: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pcapdump", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts options
	fs.BoolVar(&opts.JSON, "json", false, "print one JSON object per frame (the summary goes to standard error)")
	fs.BoolVar(&opts.All, "all", false, "print frames without a tunnel too")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: pcapdump [-json] [-all] FILE...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	var st stats
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false) // "a > b" as written
	status := 0
	for _, name := range fs.Args() {
		if fs.NArg() > 1 && !opts.JSON {
			fmt.Fprintf(stdout, "==> %s <==\n", name)
		}
		emit := func(res *Result) {
			if opts.JSON {
				if err := enc.Encode(res); err != nil {
					fmt.Fprintf(stderr, "pcapdump: %v\n", err)
				}
				return
			}
			fmt.Fprintf(stdout, "%d %s %s\n", res.Frame, res.Time, res.Line)
		}
		if err := dumpFile(name, opts, &st, emit); err != nil {
			fmt.Fprintf(stderr, "pcapdump: %s: %v\n", name, err)
			status = 1
		}
	}
	summaryOut := stdout
	if opts.JSON {
		summaryOut = stderr
	}
	writeSummary(summaryOut, &st)
	return status
}

func dumpFile(name string, opts options, st *stats, emit func(*Result)) error {
	f, err := os.Open(name)
	if err != nil {
		st.Files++
		st.BadFiles++
		return errors.Unwrap(err) // the *PathError repeats the name
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		st.Files++
		st.BadFiles++
		return errors.New("is a directory")
	}
	return dump(name, f, opts, st, emit)
}

func writeSummary(w io.Writer, st *stats) {
	fmt.Fprintf(w, "summary: %d files (%d unreadable), %d frames read, %d tunnelled, %d printed, %d with errors, %d stopped at a fragment\n",
		st.Files, st.BadFiles, st.Frames, st.Tunnelled, st.Printed, st.Errors, st.Fragments)
	names := make([]string, 0, len(st.Encaps))
	for n := range st.Encaps {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, st.Encaps[n])
	}
	if len(parts) > 0 {
		fmt.Fprintf(w, "summary: tunnelled frames by encapsulation: %s\n", strings.Join(parts, ", "))
	}
}

func main() {
	// A last resort: the decoders never panic on wire input (FuzzPcap
	// checks it without this recover), but a bug must not lose the summary
	// of a long run without saying so.
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "pcapdump: internal error: %v\n", r)
			os.Exit(3)
		}
	}()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
