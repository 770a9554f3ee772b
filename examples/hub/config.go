package main

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ipencap/ipencap/gre"
	"github.com/ipencap/ipencap/tunnel"
)

// overlayName is the name of the hub's shared overlay in the engine, the
// Config.Overlay of every spoke.
const overlayName = "hub"

// maxSpokeName bounds a spoke's name; it is a tunnel name in the engine
// and a label value in the metrics, not a device name.
const maxSpokeName = 64

// fileConfig is the configuration file as YAML has it:
//
//	local: 198.51.100.1        # the hub's outer address (required)
//	mode: gre                  # gre (default), ipip, sit, mobile, ip6gre, ip6ip6, ipip6
//	defaults:                  # options of every spoke, each overridable per spoke
//	  ttl: 64                  # 1-255 or inherit (default)
//	  tos: inherit             # hex (0x10) or inherit; default 0
//	  csum: true               # icsum and ocsum; also icsum, ocsum
//	  seq: false               # iseq and oseq; also iseq, oseq
//	  nopmtudisc: false
//	spokes:
//	  - name: branch1          # unique; [A-Za-z0-9._-], at most 64 bytes
//	    remote: 203.0.113.7    # the spoke's outer address (required)
//	    key: 1001              # ikey and okey (number or dotted quad); or ikey, okey
//	    routes: [10.1.0.0/24]  # inner prefixes behind the spoke (at least one)
type fileConfig struct {
	Local    string      `yaml:"local"`
	Mode     string      `yaml:"mode"`
	Defaults fileOptions `yaml:"defaults"`
	Spokes   []fileSpoke `yaml:"spokes"`
}

// fileOptions are the per-tunnel options of the defaults and of a spoke;
// nil is "not given".
type fileOptions struct {
	TTL        *string `yaml:"ttl"`
	TOS        *string `yaml:"tos"`
	Csum       *bool   `yaml:"csum"`
	ICsum      *bool   `yaml:"icsum"`
	OCsum      *bool   `yaml:"ocsum"`
	Seq        *bool   `yaml:"seq"`
	ISeq       *bool   `yaml:"iseq"`
	OSeq       *bool   `yaml:"oseq"`
	NoPMTUDisc *bool   `yaml:"nopmtudisc"`
}

// fileSpoke is one spoke of the file.
type fileSpoke struct {
	Name        string   `yaml:"name"`
	Remote      string   `yaml:"remote"`
	Key         string   `yaml:"key"`
	IKey        string   `yaml:"ikey"`
	OKey        string   `yaml:"okey"`
	Routes      []string `yaml:"routes"`
	fileOptions `yaml:",inline"`
}

// hubConfig is a validated configuration: the hub's outer address and
// mode, and one tunnel.Config per spoke (Overlay and Routes set), in the
// order of the file.
type hubConfig struct {
	Local  netip.Addr
	Mode   tunnel.Mode
	Spokes []tunnel.Config
}

// configError is what is wrong with a configuration file, in one line:
//
//	hub.yaml:14: spoke "branch2": routes 10.1.0.0/16: overlaps 10.1.2.0/24 of spoke "branch1" (line 9)
type configError struct {
	File  string
	Line  int    // 0: unknown
	Spoke string // "": the hub's own settings
	Field string // "": the file as a whole
	Value string
	Err   error
}

func (e *configError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Spoke != "" {
		b.WriteString("spoke " + strconv.Quote(e.Spoke) + ": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		if e.Value != "" {
			b.WriteString(" " + e.Value)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *configError) Unwrap() error { return e.Err }

// Reasons a configuration is refused, matchable with errors.Is.
var (
	errRequired    = errors.New("required")
	errDuplicate   = errors.New("duplicate")
	errOverlap     = errors.New("overlaps")
	errHostBits    = errors.New("host bits set")
	errBadName     = errors.New("want 1 to 64 bytes of letters, digits, '.', '_' and '-'")
	errBadMode     = errors.New("not a hub mode: gre, ipip, sit, mobile, ip6gre, ip6ip6 or ipip6")
	errNotUnicast  = errors.New("not a unicast address")
	errFamily      = errors.New("not of the mode's outer family")
	errKeyBoth     = errors.New("key and ikey/okey together")
	errKeyNotGRE   = errors.New("keys are for GRE modes only")
	errBadPrefix   = errors.New("not a prefix (ADDR/BITS)")
	errRange       = errors.New("out of range")
	errEmptyConfig = errors.New("empty file")
)

// loadConfig reads and validates the file at path.
func loadConfig(path string) (*hubConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseConfig(path, b)
}

// parseConfig validates a configuration file's contents; name is the
// file's name in error messages. It checks everything the engine would
// refuse (and more: overlapping routes, which the engine would order by
// prefix length), so that a configuration it accepts is applied whole.
func parseConfig(name string, data []byte) (*hubConfig, error) {
	fail := func(line int, spoke, field, value string, err error) error {
		return &configError{File: name, Line: line, Spoke: spoke, Field: field, Value: value, Err: err}
	}
	var fc fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fail(0, "", "", "", errEmptyConfig)
		}
		var te *yaml.TypeError
		if errors.As(err, &te) { // several lines: one
			return nil, fail(0, "", "", "", errors.New(strings.Join(te.Errors, "; ")))
		}
		return nil, fail(0, "", "", "", err)
	}
	lines := &lineIndex{data: data} // parsed again only for an error's line

	hc := &hubConfig{Mode: tunnel.ModeGRE}
	if fc.Mode != "" {
		m, err := tunnel.ParseMode(fc.Mode)
		if err != nil || m.Framing() != tunnel.FramingIP || m == tunnel.ModeGRETap {
			return nil, fail(lines.top("mode"), "", "mode", fc.Mode, errBadMode)
		}
		hc.Mode = m
	}
	switch a, err := netip.ParseAddr(fc.Local); {
	case fc.Local == "":
		return nil, fail(0, "", "local", "", errRequired)
	case err != nil:
		return nil, fail(lines.top("local"), "", "local", fc.Local, err)
	case !unicast(a):
		return nil, fail(lines.top("local"), "", "local", fc.Local, errNotUnicast)
	case a.Is6() != (hc.Mode.OuterFamily() == 6):
		return nil, fail(lines.top("local"), "", "local", fc.Local, errFamily)
	default:
		hc.Local = a
	}
	var defaults tunnel.Config
	if f, v, err := applyOptions(&defaults, &fc.Defaults); err != nil {
		return nil, fail(lines.defaults(f), "", "defaults: "+f, v, err)
	}

	type ident struct {
		remote netip.Addr
		ikey   tunnel.Key
	}
	names := make(map[string]int, len(fc.Spokes))
	idents := make(map[ident]int, len(fc.Spokes))
	type owned struct {
		p     netip.Prefix
		spoke int
	}
	var routes []owned
	for i := range fc.Spokes {
		s := &fc.Spokes[i]
		line := func(field string) int { return lines.spoke(i, field) }
		label := s.Name
		if label == "" {
			label = "#" + strconv.Itoa(i+1)
		}
		spokeFail := func(field, value string, err error) error { return fail(line(field), label, field, value, err) }
		if !validName(s.Name) {
			if s.Name == "" {
				return nil, spokeFail("name", "", errRequired)
			}
			return nil, spokeFail("name", strconv.Quote(s.Name), errBadName)
		}
		if j, ok := names[s.Name]; ok {
			return nil, spokeFail("name", "", fmt.Errorf("%w: spoke #%d (line %d) has it too", errDuplicate, j+1, lines.spoke(j, "name")))
		}
		names[s.Name] = i
		c := defaults
		c.Name, c.Mode, c.Local, c.Overlay = s.Name, hc.Mode, hc.Local, overlayName
		switch a, err := netip.ParseAddr(s.Remote); {
		case s.Remote == "":
			return nil, spokeFail("remote", "", errRequired)
		case err != nil:
			return nil, spokeFail("remote", s.Remote, err)
		case !unicast(a) || a == hc.Local:
			return nil, spokeFail("remote", s.Remote, errNotUnicast)
		case a.Is6() != hc.Local.Is6():
			return nil, spokeFail("remote", s.Remote, errFamily)
		default:
			c.Remote = a
		}
		if s.Key != "" && (s.IKey != "" || s.OKey != "") {
			return nil, spokeFail("key", s.Key, errKeyBoth)
		}
		for _, k := range []struct {
			field, text string
			dst         []*tunnel.Key
		}{{"key", s.Key, []*tunnel.Key{&c.IKey, &c.OKey}}, {"ikey", s.IKey, []*tunnel.Key{&c.IKey}}, {"okey", s.OKey, []*tunnel.Key{&c.OKey}}} {
			if k.text == "" {
				continue
			}
			if c.Mode != tunnel.ModeGRE && c.Mode != tunnel.ModeIP6GRE {
				return nil, spokeFail(k.field, k.text, errKeyNotGRE)
			}
			v, err := gre.ParseKey(k.text)
			if err != nil {
				return nil, spokeFail(k.field, k.text, err)
			}
			for _, d := range k.dst {
				*d = tunnel.KeyOf(v)
			}
		}
		id := ident{c.Remote, c.IKey}
		if j, ok := idents[id]; ok {
			return nil, spokeFail("remote", c.Remote.String()+" ikey "+c.IKey.String(),
				fmt.Errorf("%w: spoke %q (line %d) has the same remote and input key", errDuplicate, fc.Spokes[j].Name, lines.spoke(j, "name")))
		}
		idents[id] = i
		if f, v, err := applyOptions(&c, &s.fileOptions); err != nil {
			return nil, spokeFail(f, v, err)
		}
		if len(s.Routes) == 0 {
			return nil, spokeFail("routes", "", errRequired)
		}
		for _, r := range s.Routes {
			p, err := netip.ParsePrefix(r)
			switch {
			case err != nil:
				return nil, spokeFail("routes", r, errBadPrefix)
			case p.Addr().Is4In6() || p.Addr().Zone() != "":
				return nil, spokeFail("routes", r, errBadPrefix)
			case p != p.Masked():
				return nil, spokeFail("routes", r, fmt.Errorf("%w: want %s", errHostBits, p.Masked()))
			}
			c.Routes = append(c.Routes, p)
			routes = append(routes, owned{p, i})
		}
		if err := c.Validate(); err != nil {
			var ce *tunnel.ConfigError
			if errors.As(err, &ce) {
				return nil, spokeFail(ce.Field, ce.Value, ce.Err)
			}
			return nil, spokeFail("", "", err)
		}
		hc.Spokes = append(hc.Spokes, c)
	}

	// Overlaps: sorted by address then prefix length, a prefix that
	// contains others is followed by the first of them.
	slices.SortFunc(routes, func(a, b owned) int {
		if c := a.p.Addr().Compare(b.p.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(a.p.Bits(), b.p.Bits())
	})
	for k := 1; k < len(routes); k++ {
		a, b := routes[k-1], routes[k]
		if a.p.Addr().Is4() != b.p.Addr().Is4() || !a.p.Contains(b.p.Addr()) {
			continue
		}
		// Report it at the spoke that comes later in the file.
		if a.spoke > b.spoke {
			a, b = b, a
		}
		sa, sb := &fc.Spokes[a.spoke], &fc.Spokes[b.spoke]
		what := fmt.Errorf("%w %s of spoke %q (line %d)", errOverlap, a.p, sa.Name, lines.spoke(a.spoke, "routes"))
		if a.spoke == b.spoke {
			what = fmt.Errorf("%w %s of the same spoke", errOverlap, a.p)
		}
		return nil, fail(lines.spoke(b.spoke, "routes"), sb.Name, "routes", b.p.String(), what)
	}
	return hc, nil
}

// applyOptions sets the options o gives in c; on error it returns the
// field and value refused.
func applyOptions(c *tunnel.Config, o *fileOptions) (field, value string, err error) {
	if o.TTL != nil {
		switch v := *o.TTL; v {
		case "inherit":
			c.TTL = 0
		default:
			n, err := strconv.ParseUint(v, 10, 8)
			if err != nil || n == 0 {
				return "ttl", v, fmt.Errorf("%w: 1-255 or inherit", errRange)
			}
			c.TTL = uint8(n)
		}
	}
	if o.TOS != nil {
		switch v := *o.TOS; v {
		case "inherit":
			c.TOS, c.InheritTOS = 0, true
		default:
			n, err := strconv.ParseUint(strings.TrimPrefix(v, "0x"), 16, 8)
			if err != nil {
				return "tos", v, fmt.Errorf("%w: hex 0x00-0xff or inherit", errRange)
			}
			c.TOS, c.InheritTOS = uint8(n), false
		}
	}
	set := func(dst []*bool, v *bool) {
		if v != nil {
			for _, d := range dst {
				*d = *v
			}
		}
	}
	set([]*bool{&c.ICsum, &c.OCsum}, o.Csum)
	set([]*bool{&c.ICsum}, o.ICsum)
	set([]*bool{&c.OCsum}, o.OCsum)
	set([]*bool{&c.ISeq, &c.OSeq}, o.Seq)
	set([]*bool{&c.ISeq}, o.ISeq)
	set([]*bool{&c.OSeq}, o.OSeq)
	set([]*bool{&c.NoPMTUDisc}, o.NoPMTUDisc)
	return "", "", nil
}

// unicast reports whether a can be a tunnel endpoint.
func unicast(a netip.Addr) bool {
	return a.IsValid() && !a.IsUnspecified() && !a.IsMulticast() && !a.Is4In6() && a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// validName reports whether s is a spoke name: 1 to maxSpokeName bytes of
// ASCII letters, digits, '.', '_' and '-'.
func validName(s string) bool {
	if s == "" || len(s) > maxSpokeName {
		return false
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// lineIndex finds the line of a setting in the YAML document data,
// which it parses (again) on first use: only errors need lines, and
// parsing is most of the cost of a large file.
type lineIndex struct {
	data   []byte
	parsed bool
	root   *yaml.Node   // the top-level mapping, or nil
	spokes []*yaml.Node // the items of spokes
}

func (li *lineIndex) parse() {
	if li.parsed {
		return
	}
	li.parsed = true
	var doc yaml.Node
	if yaml.Unmarshal(li.data, &doc) != nil || doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return
	}
	li.root = doc.Content[0]
	if seq := value(li.root, "spokes"); seq != nil && seq.Kind == yaml.SequenceNode {
		li.spokes = seq.Content
	}
}

// value returns the value of key in the mapping m, or nil.
func value(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// keyLine is the line of key in the mapping m, else of m, else 0.
func keyLine(m *yaml.Node, key string) int {
	if m == nil {
		return 0
	}
	if m.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key {
				return m.Content[i].Line
			}
		}
	}
	return m.Line
}

// top is the line of a top-level key, 0 when it is not there.
func (li *lineIndex) top(key string) int {
	li.parse()
	if value(li.root, key) == nil {
		return 0
	}
	return keyLine(li.root, key)
}

// defaults is the line of a key of defaults.
func (li *lineIndex) defaults(key string) int {
	li.parse()
	if d := value(li.root, "defaults"); d != nil {
		return keyLine(d, key)
	}
	return 0
}

// spoke is the line of field in spoke i (of the spoke when the field is
// not there).
func (li *lineIndex) spoke(i int, field string) int {
	li.parse()
	if i < 0 || i >= len(li.spokes) {
		return 0
	}
	return keyLine(li.spokes[i], field)
}
