package storekit

import (
	"errors"
	"slices"
	"testing"
)

// TestWalk reads 0 to 7 rows three at a time: every row once, in order,
// each chunk asked for after the last key seen, and one more query only
// when the last chunk was full.
func TestWalk(t *testing.T) {
	for n := range 8 {
		var asked []int
		next := func(after, limit int) ([]int, error) {
			asked = append(asked, after)
			var out []int
			for k := after + 1; k <= n && len(out) < limit; k++ {
				out = append(out, k)
			}
			return out, nil
		}
		var got []int
		if err := Walk(3, next, func(k int) int { return k }, func(k int) error { got = append(got, k); return nil }); err != nil {
			t.Fatal(err)
		}
		want, wantAsked := []int{}, []int{0}
		for k := 1; k <= n; k++ {
			want = append(want, k)
			if k%3 == 0 {
				wantAsked = append(wantAsked, k)
			}
		}
		if !slices.Equal(got, want) || !slices.Equal(asked, wantAsked) {
			t.Errorf("%d rows: got %v after queries from %v; want %v from %v", n, got, asked, want, wantAsked)
		}
	}
	stop, failed := errors.New("stop"), errors.New("failed")
	calls := 0
	err := Walk(3, func(after, limit int) ([]int, error) { return []int{after + 1, after + 2, after + 3}, nil },
		func(k int) int { return k }, func(int) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("fn failing: %v after %d calls", err, calls)
	}
	err = Walk(3, func(int, int) ([]int, error) { return nil, failed }, func(k int) int { return k }, func(int) error { return nil })
	if !errors.Is(err, failed) {
		t.Errorf("next failing: %v", err)
	}
}
