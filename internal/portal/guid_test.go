package portal_test

import (
	"strings"
	"testing"

	"github.com/teamsphone/portal/internal/portal"
)

func TestParseGUIDAccepts(t *testing.T) {
	const want = "1c361ff7-fb44-4685-bb78-1bad6ce5bef3"
	for _, in := range []string{
		want,
		strings.ToUpper(want),
		"1C361FF7-fb44-4685-BB78-1bad6ce5bef3",
		"{" + want + "}",
		"{" + strings.ToUpper(want) + "}",
	} {
		g, err := portal.ParseGUID(in)
		if err != nil {
			t.Errorf("ParseGUID(%q): %v", in, err)
			continue
		}
		if g.String() != want {
			t.Errorf("ParseGUID(%q) = %s, want %s", in, g, want)
		}
	}
}

// The bad IDs of SECURITY.md (Bad inputs to try; P0-10 Input validation):
// each must be refused, never reinterpreted.
func TestParseGUIDRejects(t *testing.T) {
	const g = "1c361ff7-fb44-4685-bb78-1bad6ce5bef3"
	for _, in := range []string{
		"",
		"00000000-0000-0000-0000-000000000000",
		"{00000000-0000-0000-0000-000000000000}",
		"urn:uuid:" + g,
		strings.ReplaceAll(g, "-", ""),
		g[:35],
		g + "0",
		g + " ",
		" " + g,
		g + "%20",
		g + "\x00",
		"{" + g,
		g + "}",
		"(" + g + ")",
		"１c361ff7-fb44-4685-bb78-1bad6ce5bef3", // full-width digit
		"1c361ff7-fb44-4685-bb78-1bad6ce5beаf", // Cyrillic а
		"1c361ff7-fb44-4685-bb78-1bad6ce5\u200bbef3",
		"\u202e" + g,
		"1c361ff7-fb44-4685-bb78-1bad6ce5be..",
		"..%2F..%2F" + g,
		"1c361ff7-fb44-4685-bb78-1bad6ce5be/3",
		"1c361ff7xfb44-4685-bb78-1bad6ce5bef3",
		"1c361ff7-fb44-4685-bb78-1bad6ce5beg3",
		"+c361ff7-fb44-4685-bb78-1bad6ce5bef3",
		strings.Repeat("a", 10240),
	} {
		if v, err := portal.ParseGUID(in); err == nil {
			t.Errorf("ParseGUID(%q) = %s, want an error", in, v)
		} else if portal.ErrorCode(err) != portal.EINVALID {
			t.Errorf("ParseGUID(%q): code %q, want %q", in, portal.ErrorCode(err), portal.EINVALID)
		} else if len(portal.ErrorMessage(err)) > 200 {
			t.Errorf("ParseGUID(%q): message of %d bytes quotes too much input", in[:10], len(portal.ErrorMessage(err)))
		}
	}
}

func TestGUIDTextRoundTrip(t *testing.T) {
	var g portal.GUID
	if err := g.UnmarshalText([]byte("{DC5BFEEB-3FEB-4969-9AE9-92F428410341}")); err != nil {
		t.Fatal(err)
	}
	b, _ := g.MarshalText()
	if string(b) != "dc5bfeeb-3feb-4969-9ae9-92f428410341" {
		t.Fatalf("MarshalText = %s", b)
	}
	if err := g.UnmarshalText([]byte("nope")); err == nil {
		t.Fatal("UnmarshalText accepted junk")
	}
}

// FuzzParseGUID: whatever the input, a GUID that parses has exactly one
// canonical form, which parses back to itself, and is never the nil GUID.
func FuzzParseGUID(f *testing.F) {
	for _, s := range []string{"1c361ff7-fb44-4685-bb78-1bad6ce5bef3", "{1C361FF7-FB44-4685-BB78-1BAD6CE5BEF3}", "", "00000000-0000-0000-0000-000000000000", "urn:uuid:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		g, err := portal.ParseGUID(s)
		if err != nil {
			return
		}
		if g.IsZero() {
			t.Fatalf("ParseGUID(%q) returned the nil GUID", s)
		}
		c := g.String()
		if len(c) != 36 || c != strings.ToLower(c) {
			t.Fatalf("String() = %q is not canonical", c)
		}
		if !strings.EqualFold(strings.Trim(s, "{}"), c) {
			t.Fatalf("ParseGUID(%q) = %s: not the same digits", s, c)
		}
		if g2, err := portal.ParseGUID(c); err != nil || g2 != g {
			t.Fatalf("canonical form %q does not parse back: %v", c, err)
		}
	})
}
