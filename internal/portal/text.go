package portal

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on text fields: generous for people, small enough that a pasted
// megabyte is refused with a clear message instead of stored.
const (
	MaxLabel         = 200
	MaxJustification = 1000
)

// cleanText trims, refuses invalid UTF-8, control characters other than
// newlines and tabs, and the bidirectional controls, and caps the length in
// characters. Errors name field.
//
// Bidirectional controls (embeddings and overrides U+202A–U+202E,
// isolates U+2066–U+2069) are refused rather than isolated where shown: a
// label or justification is shown in pages, CSV files, logs and
// spreadsheets, and one override can make the text around it read
// backwards in all of them ("Trojan Source"); nobody needs one to name
// an assignment.
func cleanText(field, name, v string, max int, multiline bool) (string, error) {
	v = strings.TrimSpace(v)
	if !utf8.ValidString(v) {
		return "", Invalid(field, "The %s is not valid text.", name)
	}
	if n := utf8.RuneCountInString(v); n > max {
		return "", Invalid(field, "The %s is %d characters long; at most %d are allowed.", name, n, max)
	}
	for _, r := range v {
		if r < 0x20 && !(multiline && (r == '\n' || r == '\r' || r == '\t')) || r == 0x7f {
			return "", Invalid(field, "The %s contains a control character.", name)
		}
		if IsBidiControl(r) {
			return "", Invalid(field, "The %s contains a character that reverses the direction of text (U+%04X); remove it.", name, r)
		}
	}
	return v, nil
}

// IsBidiControl reports whether r is a bidirectional embedding, override
// or isolate control.
func IsBidiControl(r rune) bool { return 0x202a <= r && r <= 0x202e || 0x2066 <= r && r <= 0x2069 }

// CleanLabel validates a label as typed and returns it trimmed.
func CleanLabel(v string) (string, error) { return cleanText(FieldLabel, "label", v, MaxLabel, false) }

// CleanJustification validates a justification as typed and returns it
// trimmed; whether one is required is configuration's to say.
func CleanJustification(v string) (string, error) {
	return cleanText(FieldJustification, "justification", v, MaxJustification, true)
}

// MaxExpiry bounds how far ahead time-boxed access may end: further than
// that is not a time box, and a typo (2062 for 2026) should be caught.
const MaxExpiry = 5 * 365 * 24 * time.Hour

// CheckExpiry refuses an expiry at or before now or more than MaxExpiry
// after it; the zero time (no expiry) is fine.
func CheckExpiry(t, now time.Time) error {
	switch {
	case t.IsZero():
		return nil
	case !t.After(now):
		return Invalid(FieldExpiresAt, "The access would end in the past; choose a time after now (times are UTC).")
	case t.Sub(now) > MaxExpiry:
		return Invalid(FieldExpiresAt, "The access may end at most five years from now.")
	}
	return nil
}
