package pagebuf

import (
	"fmt"
	"slices"
	"testing"
)

// TestWhatIsHandedOutStays: strings and slices handed out keep their
// values however much is added after them (the buffers outgrow their room
// many times here), and appending to a slice never reaches the next one.
func TestWhatIsHandedOutStays(t *testing.T) {
	text, slots := NewText(4), NewSlots[int](2)
	var strs, wantStrs []string
	var taken, wantTaken [][]int
	for i := range 500 {
		want := fmt.Sprintf("row %d", i)
		if i%7 == 0 {
			want = ""
		}
		if i%2 == 0 {
			strs = append(strs, text.Copy([]byte(want)))
		} else {
			strs = append(strs, text.Write(func(b []byte) []byte { return append(b, want...) }))
		}
		wantStrs = append(wantStrs, want)
		w := make([]int, i%4)
		for j := range w {
			w[j] = i*10 + j
		}
		var got []int
		if i%2 == 0 {
			got = slots.Copy(w)
		} else {
			got = slots.Take(len(w))
			copy(got, w)
		}
		if cap(got) != len(got) {
			t.Fatalf("slice %d: cap %d, len %d", i, cap(got), len(got))
		}
		taken = append(taken, got)
		wantTaken = append(wantTaken, w)
	}
	for i := range taken {
		_ = append(taken[i], -1) // must reallocate, not write over the next
	}
	for i := range strs {
		if strs[i] != wantStrs[i] {
			t.Fatalf("string %d: %q, want %q", i, strs[i], wantStrs[i])
		}
		if !slices.Equal(taken[i], wantTaken[i]) {
			t.Fatalf("slice %d: %v, want %v", i, taken[i], wantTaken[i])
		}
	}
	var zero Text
	if s := zero.Copy(nil); s != "" {
		t.Fatalf("zero Text: %q", s)
	}
}
