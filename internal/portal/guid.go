package portal

import (
	"bytes"
	"encoding/hex"
)

// GUID is an Entra object, tenant or application ID. Its zero value is the nil
// GUID, which is never a valid ID: IsZero reports it.
//
// A GUID is held as 16 bytes, not as the string it was typed as, so that two IDs
// that differ only in case or braces compare equal, and so that what reaches ACS
// or the database is always the one canonical form String returns.
type GUID [16]byte

// ParseGUID parses the 8-4-4-4-12 hexadecimal form of a GUID, in any case,
// optionally wrapped in braces ("{…}", as PowerShell and the Windows registry
// show them). It accepts nothing else: no "urn:uuid:" prefix, no 32 bare hex
// digits, no surrounding space, and not the nil GUID, so that a mistyped or
// smuggled value is refused rather than silently reinterpreted. The error has
// code EINVALID.
func ParseGUID(s string) (GUID, error) {
	var g GUID
	raw := s
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return g, invalidGUID(raw)
	}
	var hexDigits [32]byte
	n := 0
	for i := 0; i < 36; i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			continue
		}
		c := s[i]
		if !isHex(c) {
			return g, invalidGUID(raw)
		}
		hexDigits[n] = c
		n++
	}
	if _, err := hex.Decode(g[:], hexDigits[:]); err != nil {
		return g, invalidGUID(raw)
	}
	if g.IsZero() {
		return g, Errorf(EINVALID, "The nil GUID 00000000-0000-0000-0000-000000000000 is not a valid ID.")
	}
	return g, nil
}

// MustParseGUID is ParseGUID for constants in code and tests; it panics on a bad value.
func MustParseGUID(s string) GUID {
	g, err := ParseGUID(s)
	if err != nil {
		panic(err)
	}
	return g
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func invalidGUID(s string) error {
	// Quote at most a short prefix: the value may be megabytes of attacker input.
	return Errorf(EINVALID, "%q is not a GUID: expected 36 characters like 1c361ff7-fb44-4685-bb78-1bad6ce5bef3.", truncate(s, 40))
}

// IsZero reports whether g is the nil GUID (the zero value).
func (g GUID) IsZero() bool { return g == GUID{} }

// Compare orders GUIDs by their bytes (for slices.SortFunc).
func (g GUID) Compare(h GUID) int { return bytes.Compare(g[:], h[:]) }

// String returns the canonical lower-case 8-4-4-4-12 form.
func (g GUID) String() string {
	var b [36]byte
	return string(g.AppendString(b[:0]))
}

// AppendString appends the canonical form String returns to dst, for
// callers that build text without allocating (request paths, indexes).
func (g GUID) AppendString(dst []byte) []byte {
	dst = hex.AppendEncode(dst, g[0:4])
	dst = append(dst, '-')
	dst = hex.AppendEncode(dst, g[4:6])
	dst = append(dst, '-')
	dst = hex.AppendEncode(dst, g[6:8])
	dst = append(dst, '-')
	dst = hex.AppendEncode(dst, g[8:10])
	dst = append(dst, '-')
	return hex.AppendEncode(dst, g[10:16])
}

// MarshalText writes the canonical form, so GUIDs read naturally in JSON;
// the zero GUID (no ID) is written as "".
func (g GUID) MarshalText() ([]byte, error) {
	if g.IsZero() {
		return []byte{}, nil
	}
	return []byte(g.String()), nil
}

// UnmarshalText parses with the same rules as ParseGUID; "" is the zero
// GUID (no ID), as MarshalText writes it.
func (g *GUID) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*g = GUID{}
		return nil
	}
	v, err := ParseGUID(string(b))
	if err != nil {
		return err
	}
	*g = v
	return nil
}
