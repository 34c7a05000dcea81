package listindex

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSortWindow holds sortWindow to a full sort: every window of arrays
// of any size, sorted, reversed, random or in few runs.
func TestSortWindow(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	less := func(a, b uint32) int { return cmp.Compare(a, b) }
	for size := range 70 {
		for round := range 8 {
			ids := make([]uint32, size)
			for i := range ids {
				switch round % 4 {
				case 0:
					ids[i] = r.Uint32()
				case 1:
					ids[i] = uint32(i)
				case 2:
					ids[i] = uint32(size - i)
				default:
					ids[i] = uint32(i%5*1000 + i)
				}
			}
			want := slices.Sorted(slices.Values(ids))
			for from := 0; from <= size; from++ {
				for _, n := range []int{0, 1, 2, 7, 50, size - from} {
					n = min(n, size-from)
					got := slices.Clone(ids)
					sortWindow(got, less, from, n)
					if !slices.Equal(got[from:from+n], want[from:from+n]) {
						t.Fatalf("size %d round %d window [%d,%d): %v, want %v", size, round, from, from+n, got[from:from+n], want[from:from+n])
					}
					if !slices.Equal(slices.Sorted(slices.Values(got)), want) {
						t.Fatalf("size %d window [%d,%d): lost or made ids", size, from, from+n)
					}
				}
			}
		}
	}
	// Random windows of 5,000.
	ids := make([]uint32, 5000)
	for i := range ids {
		ids[i] = r.Uint32()
	}
	want := slices.Sorted(slices.Values(ids))
	for range 200 {
		from := r.IntN(5000)
		n := min(r.IntN(60), 5000-from)
		got := slices.Clone(ids)
		sortWindow(got, less, from, n)
		if !slices.Equal(got[from:from+n], want[from:from+n]) {
			t.Fatalf("window [%d,%d) of 5,000 wrong", from, from+n)
		}
	}
}
