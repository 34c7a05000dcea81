package access

import (
	"errors"
	"slices"
	"testing"
)

// TestInBatches: rows come in batches of the size asked, the last one
// short and never empty, and an error from fn stops the walk.
func TestInBatches(t *testing.T) {
	for n, want := range map[int][]int{0: nil, 2: {2}, 3: {3}, 7: {3, 3, 1}, 9: {3, 3, 3}} {
		walk := func(each func(int) error) error {
			for i := range n {
				if err := each(i); err != nil {
					return err
				}
			}
			return nil
		}
		var sizes, rows []int
		if err := inBatches(3, walk, func(b []int) error {
			sizes, rows = append(sizes, len(b)), append(rows, b...)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(sizes, want) || len(rows) != n || !slices.IsSorted(rows) {
			t.Errorf("%d rows: batches %v (%v), want %v", n, sizes, rows, want)
		}
	}
	stop := errors.New("stop")
	calls := 0
	err := inBatches(3, func(each func(int) error) error {
		for i := range 10 {
			if err := each(i); err != nil {
				return err
			}
		}
		return nil
	}, func([]int) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("fn failing: %v after %d batches", err, calls)
	}
}
