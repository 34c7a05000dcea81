package access

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// count is a walk of n rows, 0 to n-1, that stops when its context ends
// or each fails, and then fails with failAt's error at row failAt (-1:
// never).
func count(n, failAt int, fail error) func(context.Context, func(int) error) error {
	return func(ctx context.Context, each func(int) error) error {
		for i := range n {
			if i == failAt {
				return fail
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := each(i); err != nil {
				return err
			}
		}
		return nil
	}
}

// TestReadAhead: rows come in batches of the size asked, in order, the
// last one short and never empty; an error from fn stops the walk and is
// what comes back; one from the walk comes back after the batches read
// before it.
func TestReadAhead(t *testing.T) {
	ctx := context.Background()
	for n, want := range map[int][]int{0: nil, 2: {2}, 3: {3}, 7: {3, 3, 1}, 9: {3, 3, 3}} {
		var sizes, rows []int
		if err := readAhead(ctx, 3, count(n, -1, nil), func(b []int) error {
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
	err := readAhead(ctx, 3, count(1000, -1, nil), func([]int) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("fn failing: %v after %d batches", err, calls)
	}

	failed := errors.New("the database failed")
	var rows []int
	err = readAhead(ctx, 3, count(10, 7, failed), func(b []int) error { rows = append(rows, b...); return nil })
	if !errors.Is(err, failed) || !slices.Equal(rows, []int{0, 1, 2, 3, 4, 5}) {
		t.Errorf("walk failing at row 7: %v after rows %v; want its error after rows 0 to 5", err, rows)
	}
}
