package gre_test

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ipencap/ipencap"
	"github.com/ipencap/ipencap/gre"
)

// greSentinels lists every exported sentinel error of the package that a
// packet can cause. TestSentinelsComplete keeps it complete.
var greSentinels = map[string]error{
	"ErrTruncated":    gre.ErrTruncated,
	"ErrShortBuffer":  gre.ErrShortBuffer,
	"ErrMode":         gre.ErrMode,
	"ErrVersion":      gre.ErrVersion,
	"ErrReservedBits": gre.ErrReservedBits,
	"ErrChecksum":     gre.ErrChecksum,
	"ErrPPTP":         gre.ErrPPTP,
	"ErrAck":          gre.ErrAck,
	"ErrRouting":      gre.ErrRouting,
	"ErrTooLong":      gre.ErrTooLong,
	"ErrNotKeepalive": gre.ErrNotKeepalive,
}

// greConfigErrors are exported errors about configuration text, not
// packets: they have no kind.
var greConfigErrors = map[string]error{
	"ErrKeySyntax": gre.ErrKeySyntax,
}

var errorKinds = map[string]error{
	"ErrFrame":    ipencap.ErrFrame,
	"ErrChecksum": ipencap.ErrChecksum,
	"ErrProtocol": ipencap.ErrProtocol,
	"ErrSequence": ipencap.ErrSequence,
}

func TestSentinelKinds(t *testing.T) {
	want := map[string]string{"ErrChecksum": "ErrChecksum"} // the rest: ErrFrame
	for name, err := range greSentinels {
		var kinds []string
		for kind, k := range errorKinds {
			if errors.Is(err, k) {
				kinds = append(kinds, kind)
			}
		}
		wantKind := want[name]
		if wantKind == "" {
			wantKind = "ErrFrame"
		}
		assert.Equal(t, []string{wantKind}, kinds, "%s matches exactly one kind", name)
		assert.True(t, strings.HasPrefix(err.Error(), "gre: "), "%s: %q has the package prefix", name, err)
	}
	assert.ErrorIs(t, gre.ErrTruncated, io.ErrUnexpectedEOF)
	assert.ErrorIs(t, gre.ErrShortBuffer, io.ErrShortBuffer)
	for name, err := range greConfigErrors {
		for kind, k := range errorKinds {
			assert.NotErrorIs(t, err, k, "%s is about configuration, not of kind %s", name, kind)
		}
	}
	// Each sentinel matches itself and no other.
	for a, ea := range greSentinels {
		for b, eb := range greSentinels {
			assert.Equal(t, a == b, errors.Is(ea, eb), "errors.Is(%s, %s)", a, b)
		}
	}
}

// TestSentinelsComplete reads the package source: every exported Err
// variable must be in greSentinels or greConfigErrors, and every sentinel
// is declared, with a doc comment, in errors.go (its one documentation).
func TestSentinelsComplete(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	var found []string
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		src, err := os.ReadFile(path)
		require.NoError(t, err)
		f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
		require.NoError(t, err)
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for _, id := range vs.Names {
					if !id.IsExported() || !strings.HasPrefix(id.Name, "Err") {
						continue
					}
					found = append(found, id.Name)
					doc := vs.Doc
					if doc == nil && len(gd.Specs) == 1 {
						doc = gd.Doc
					}
					assert.NotNil(t, doc, "%s (%s) has a doc comment", id.Name, path)
					if _, ok := greSentinels[id.Name]; ok {
						assert.Equal(t, "errors.go", path, "%s is declared and documented in errors.go", id.Name)
						continue
					}
					_, ok := greConfigErrors[id.Name]
					assert.True(t, ok, "%s (%s) is in neither greSentinels nor greConfigErrors: add it, with its kind", id.Name, path)
				}
			}
		}
	}
	var want []string
	for name := range greSentinels {
		want = append(want, name)
	}
	for name := range greConfigErrors {
		want = append(want, name)
	}
	sort.Strings(found)
	sort.Strings(want)
	assert.Equal(t, want, found, "exported Err variables in the package source")
}
