package listindex

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPostingsIntersect holds a list's reading and its skipping
// intersection to a plain one, over lists dense and sparse (gaps of one
// byte and of several), long enough to have many skip blocks.
func TestPostingsIntersect(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		var l plist
		var posted []uint32
		id := uint32(r.IntN(50))
		for range r.IntN(2000) {
			l.add(id)
			if len(posted) == 0 || posted[len(posted)-1] != id {
				posted = append(posted, id)
			}
			switch r.IntN(4) {
			case 0: // the same row again: posted once
			case 1:
				id += 1 + uint32(r.IntN(3))
			case 2:
				id += 1 + uint32(r.IntN(200))
			default:
				id += 1 + uint32(r.IntN(100000))
			}
		}
		if got := l.appendTo(nil); !slices.Equal(got, posted) {
			t.Fatalf("round %d: read %d postings, want %d", round, len(got), len(posted))
		}
		var ids []uint32
		for _, p := range posted {
			if r.IntN(3) == 0 {
				ids = append(ids, p)
			}
			if r.IntN(3) == 0 {
				ids = append(ids, p+1+uint32(r.IntN(500)))
			}
		}
		slices.Sort(ids)
		ids = slices.Compact(ids)
		var want []uint32
		for _, id := range ids {
			if _, ok := slices.BinarySearch(posted, id); ok {
				want = append(want, id)
			}
		}
		if got := l.intersect(slices.Clone(ids)); !slices.Equal(got, want) {
			t.Fatalf("round %d: intersect gave %d rows, want %d", round, len(got), len(want))
		}
	}
}
