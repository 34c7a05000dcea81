package web

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestDisplayTime holds the hand-written display of times to the layout
// it writes out, over any instant in years 0–9999 and in any zone (shown
// in UTC), and beyond them.
func TestDisplayTime(t *testing.T) {
	if got := displayTime(time.Time{}); got != "" {
		t.Fatalf("zero time: %q", got)
	}
	r := rand.New(rand.NewPCG(7, 8))
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	times := []time.Time{
		time.Date(2026, 12, 7, 19, 37, 59, 999, time.UTC),
		time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 0, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 3, 0, 0, 0, zone), // the day before, in UTC
	}
	for range 10000 {
		times = append(times, time.Unix(r.Int64N(253402300799), 0).In(zone))
	}
	for _, tm := range times {
		if got, want := displayTime(tm), tm.UTC().Format("2006-01-02 15:04 UTC"); got != want {
			t.Fatalf("%v: %q, want %q", tm, got, want)
		}
	}
}
