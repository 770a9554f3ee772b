package gre

import (
	"errors"
	"strconv"
	"strings"
)

// Key is the 32-bit GRE key (RFC 2890 §2.1), which tells apart flows or
// tunnels between the same endpoints.
type Key uint32

// String formats k as a dotted quad, the way `ip tunnel show` prints ikey
// and okey: Key(1) is "0.0.0.1".
func (k Key) String() string {
	var b [15]byte
	return string(k.appendTo(b[:0]))
}

func (k Key) appendTo(b []byte) []byte {
	for i := 3; i >= 0; i-- {
		b = strconv.AppendUint(b, uint64(k>>(8*i))&0xff, 10)
		if i > 0 {
			b = append(b, '.')
		}
	}
	return b
}

// MarshalText implements encoding.TextMarshaler with the dotted-quad form.
func (k Key) MarshalText() ([]byte, error) { return k.appendTo(nil), nil }

// UnmarshalText implements encoding.TextUnmarshaler with [ParseKey].
func (k *Key) UnmarshalText(text []byte) error {
	v, err := ParseKey(string(text))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// ErrKeySyntax is returned (wrapped in a *KeyError) for a key that is neither
// a number nor a dotted quad.
var ErrKeySyntax = errors.New("invalid GRE key")

// KeyError reports a key string that ParseKey cannot read.
type KeyError struct {
	// Input is the string given to ParseKey.
	Input string
	// Err is ErrKeySyntax, or a strconv error for a number out of range.
	Err error
}

// Error formats the error as `gre: ParseKey("1.2.3"): invalid GRE key`.
func (e *KeyError) Error() string {
	return "gre: ParseKey(" + strconv.Quote(e.Input) + "): " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *KeyError) Unwrap() error { return e.Err }

// ParseKey reads a key as iproute2's `ip tunnel` does: a dotted quad
// ("10.0.0.1", each part 0–255, in network order) or an unsigned 32-bit
// number in decimal, hexadecimal with 0x, or octal with a leading 0.
func ParseKey(s string) (Key, error) {
	if strings.Contains(s, ".") {
		parts := strings.Split(s, ".")
		if len(parts) != 4 {
			return 0, &KeyError{s, ErrKeySyntax}
		}
		var k uint32
		for _, p := range parts {
			if p == "" || len(p) > 3 || strings.TrimLeft(p, "0123456789") != "" {
				return 0, &KeyError{s, ErrKeySyntax}
			}
			v, err := strconv.ParseUint(p, 10, 8)
			if err != nil {
				return 0, &KeyError{s, ErrKeySyntax}
			}
			k = k<<8 | uint32(v)
		}
		return Key(k), nil
	}
	base, digits := 10, s
	switch {
	case len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X"):
		base, digits = 16, s[2:]
	case len(s) > 1 && s[0] == '0':
		base, digits = 8, s[1:]
	}
	if digits == "" || strings.ContainsAny(digits, "+-_") {
		return 0, &KeyError{s, ErrKeySyntax}
	}
	v, err := strconv.ParseUint(digits, base, 32)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return 0, &KeyError{s, strconv.ErrRange}
		}
		return 0, &KeyError{s, ErrKeySyntax}
	}
	return Key(v), nil
}
