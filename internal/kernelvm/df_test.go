//go:build linux

package kernelvm_test

import (
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap/internal/testpkt"
)

// outerPkt is one outer IPv4 packet tcpdump saw on the TAP device.
type outerPkt struct {
	src     string
	df      bool
	innerDF string // "DF", "none", or "" when tcpdump did not decode the inner packet (GRE in UDP)
}

var (
	tcpdumpStart = regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d\.\d+ IP `)
	tcpdumpFlags = regexp.MustCompile(`flags \[([^\]]*)\]`)
	tcpdumpSrc   = regexp.MustCompile(`(198\.51\.100\.[12])(?:\.\d+)? > `)
)

// captureOuter runs tcpdump -v on the TAP device while fn runs and returns
// the GRE and GRE-in-UDP packets it saw.
func (e *env) captureOuter(t *testing.T, fn func()) []outerPkt {
	t.Helper()
	td := testpkt.StartProc(t, e.ns, "tcpdump", testpkt.Tool(t, "tcpdump"), "-i", hostTap, "-n", "-v", "-l",
		"ip and (proto 47 or udp port 4754)")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(td.Stderr.String(), "listening on") {
		require.True(t, time.Now().Before(deadline), "tcpdump did not start: %s", td.Stderr.String())
		time.Sleep(20 * time.Millisecond)
	}
	fn()
	time.Sleep(300 * time.Millisecond)
	td.Cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-td.Done:
	case <-time.After(5 * time.Second):
		t.Fatal("tcpdump did not exit on SIGINT")
	}
	out := td.Stdout.String()
	var pkts []outerPkt
	idx := tcpdumpStart.FindAllStringIndex(out, -1)
	for i, m := range idx {
		end := len(out)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		block := out[m[0]:end]
		flags := tcpdumpFlags.FindAllStringSubmatch(block, 2)
		src := tcpdumpSrc.FindStringSubmatch(block)
		require.True(t, len(flags) > 0 && src != nil, "tcpdump: %q", block)
		p := outerPkt{src: src[1], df: flags[0][1] == "DF"}
		if len(flags) == 2 {
			p.innerDF = flags[1][1]
		}
		pkts = append(pkts, p)
	}
	return pkts
}

// TestKernelDF compares the DF bit of the outer IPv4 header of gretun's
// packets with Linux's, for inner packets with DF (ping -M do) and
// without (ping -M dont; Linux's echo replies never have it): with path
// MTU discovery (the default) both always set DF; with nopmtudisc both
// copy the inner packet's DF (Linux's ip_tunnel_xmit: frag_off 0, then
// the inner DF) — except gretun's GRE-in-UDP, whose UDP socket sets DF
// on every packet whatever the inner one has (not checked here; see
// below).
func TestKernelDF(t *testing.T) {
	e := theVM(t)
	for _, tt := range []struct {
		name       string
		m          kmode
		nopmtudisc bool
	}{
		{"gre", kmodes[0], false},
		{"gre-nopmtudisc", kmodes[0], true},
		{"gre-in-udp", modeByName(t, "gre-in-udp"), false},
		{"gre-in-udp-nopmtudisc", modeByName(t, "gre-in-udp"), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var extra []string
			linuxExtra := ""
			if tt.nopmtudisc {
				extra, linuxExtra = []string{"-nopmtudisc"}, "nopmtudisc"
			}
			p := e.newPair(t, tt.m, extra, linuxExtra)
			e.hostPing(t, p.vmIn.Addr(), "-c", "1") // ARP first
			for _, innerDF := range []bool{true, false} {
				pmtu := "dont"
				if innerDF {
					pmtu = "do"
				}
				pkts := e.captureOuter(t, func() {
					out, err := e.hostPing(t, p.vmIn.Addr(), "-c", "2", "-i", "0.2", "-M", pmtu)
					require.NoError(t, err, "%s", out)
				})
				t.Logf("inner DF %v: %+v", innerDF, pkts)
				var fromG, fromL int
				for _, pk := range pkts {
					switch pk.src {
					case host4: // gretun, inner DF as ping -M says
						fromG++
						if pk.innerDF != "" {
							assert.Equal(t, innerDF, pk.innerDF == "DF", "inner DF of gretun's packet: %+v", pk)
						}
						switch {
						case !tt.nopmtudisc:
							assert.True(t, pk.df, "gretun's outer DF (pmtudisc), inner DF %v", innerDF)
						case tt.m.name == "gre-in-udp" && !innerDF:
							// gretun's GRE-in-UDP sets DF here where
							// Linux would not (the UDP socket's
							// IP_MTU_DISCOVER holds for all packets):
							// the difference is reported, not checked.
						default:
							assert.Equal(t, innerDF, pk.df, "gretun's outer DF copies the inner one (nopmtudisc)")
						}
					case vm4: // Linux's echo replies, inner DF clear
						fromL++
						if pk.innerDF != "" {
							assert.Equal(t, "none", pk.innerDF, "inner DF of Linux's reply")
						}
						assert.Equal(t, !tt.nopmtudisc, pk.df, "Linux's outer DF: set with pmtudisc, copied (clear) without")
					}
				}
				assert.Equal(t, 2, fromG, "gretun's packets: %+v", pkts)
				assert.Equal(t, 2, fromL, "Linux's packets: %+v", pkts)
			}
			p.g.stop(t)
		})
	}
}

func modeByName(t *testing.T, name string) kmode {
	t.Helper()
	for _, m := range kmodes {
		if m.name == name {
			return m
		}
	}
	t.Fatalf("no mode %s", name)
	return kmode{}
}
