package listindex

import (
	"cmp"
	"slices"
	"sync"

	"github.com/teamsphone/portal/internal/portal"
)

// sortKind numbers portal.InventorySorts.
type sortKind int

const numSorts = 6

func sortIndex(s portal.InventorySort) (sortKind, bool) {
	i := slices.Index(portal.InventorySorts, s)
	return sortKind(i), i >= 0
}

// order is one sort's natural order of the live rows, cut in blocks that
// count their rows by cell: the k-th row of a filter is found by adding
// block counts, then reading one block, instead of walking every row. The
// counts are made when a filter first needs them after a change.
type order struct {
	ids []uint32

	blocksMu sync.Mutex
	blocks   [][numCells]uint16 // nil: to be counted
}

// blockShift sizes blocks (256 rows); a var so that tests can make them
// small.
var blockShift = 8

func (o *order) build(x *Index, s sortKind) {
	o.ids = o.ids[:0]
	for id, c := range x.cells {
		if c != deadCell {
			o.ids = append(o.ids, uint32(id))
		}
	}
	slices.SortFunc(o.ids, x.comparator(s))
	o.blocks = nil
}

// update drops the rows killed and merges in those added: a binary search
// for where each is or goes (rows never change, so a dead row still sorts
// where it was), then one pass of copying.
func (o *order) update(x *Index, s sortKind, killed, added []uint32) {
	less := x.comparator(s)
	var gone []int
	for _, id := range killed {
		if i, ok := slices.BinarySearchFunc(o.ids, id, less); ok {
			gone = append(gone, i)
		}
	}
	if len(gone) > 0 {
		slices.Sort(gone)
		w := gone[0]
		for k, i := range gone {
			end := len(o.ids)
			if k+1 < len(gone) {
				end = gone[k+1]
			}
			w += copy(o.ids[w:], o.ids[i+1:end])
		}
		o.ids = o.ids[:w]
	}
	var fresh []uint32
	for _, id := range added {
		if x.cells[id] != deadCell { // not added, then changed again in the same batch
			fresh = append(fresh, id)
		}
	}
	slices.SortFunc(fresh, less)
	// Where each fresh row goes in the old order (non-decreasing).
	at := make([]int, len(fresh))
	lo := 0
	for i, id := range fresh {
		n, _ := slices.BinarySearchFunc(o.ids[lo:], id, less)
		at[i] = lo + n
		lo = at[i]
	}
	n := len(o.ids)
	o.ids = slices.Grow(o.ids, len(fresh))[:n+len(fresh)]
	// From the back: old rows after at[i] move up by i+1.
	end := n
	for i := len(fresh) - 1; i >= 0; i-- {
		copy(o.ids[at[i]+i+1:end+i+1], o.ids[at[i]:end])
		o.ids[at[i]+i] = fresh[i]
		end = at[i]
	}
	o.blocks = nil
}

// counted returns the block counts, counting them if a change dropped
// them. Readers share the index's lock, so this has its own.
func (o *order) counted(cells []uint8) [][numCells]uint16 {
	o.blocksMu.Lock()
	defer o.blocksMu.Unlock()
	if o.blocks != nil {
		return o.blocks
	}
	nb := (len(o.ids) + 1<<blockShift - 1) >> blockShift
	blocks := make([][numCells]uint16, nb)
	for i, id := range o.ids {
		blocks[i>>blockShift][cells[id]]++
	}
	o.blocks = blocks
	return blocks
}

// cellMask is a set of cells.
type cellMask uint16

func (m cellMask) has(c uint8) bool { return c < numCells && m&(1<<c) != 0 }

// window returns the rows at positions [from, from+n) of those in mask, in
// the order.
func (o *order) window(cells []uint8, mask cellMask, all bool, from, n int) []uint32 {
	if n <= 0 {
		return nil
	}
	if all {
		from = min(from, len(o.ids))
		return slices.Clone(o.ids[from:min(from+n, len(o.ids))])
	}
	var members []uint8
	for c := range uint8(numCells) {
		if mask.has(c) {
			members = append(members, c)
		}
	}
	blocks := o.counted(cells)
	b, skipped := 0, 0
	for ; b < len(blocks); b++ {
		k := 0
		for _, c := range members {
			k += int(blocks[b][c])
		}
		if skipped+k > from {
			break
		}
		skipped += k
	}
	var out []uint32
	for i := b << blockShift; i < len(o.ids) && len(out) < n; i++ {
		if id := o.ids[i]; mask.has(cells[id]) {
			if skipped >= from {
				out = append(out, id)
			}
			skipped++
		}
	}
	return out
}

// sortWindow rearranges ids so that ids[from:from+n] hold, in order, what
// sorting all of ids by c would put there; the rest are left in no order.
// A page of 50 out of 2,000 hits needs a fifth of a sort's comparisons,
// and each comparison reads two rows from all over memory.
func sortWindow(ids []uint32, c func(a, b uint32) int, from, n int) {
	if n <= 0 {
		return
	}
	selectFirst(ids, c, from+n)
	selectFirst(ids[:from+n], c, from)
	slices.SortFunc(ids[from:from+n], c)
}

// selectFirst moves the k smallest of ids by c (a total order: no two
// ids compare equal) to ids[:k], in no order (quickselect). Everything in
// ids[:lo] is smaller than everything after it, and everything in ids[hi:]
// larger than everything before it; lo <= k <= hi throughout.
func selectFirst(ids []uint32, c func(a, b uint32) int, k int) {
	lo, hi := 0, len(ids)
	for rounds := 0; lo < k && k < hi && hi-lo > 1; rounds++ {
		if rounds == 64 { // pivots going badly (they are medians of three): sort
			slices.SortFunc(ids[lo:hi], c)
			return
		}
		mid := lo + (hi-lo)/2
		// The median of the first, middle and last, as pivot, at hi-1.
		if c(ids[mid], ids[lo]) < 0 {
			ids[mid], ids[lo] = ids[lo], ids[mid]
		}
		if c(ids[hi-1], ids[mid]) < 0 {
			ids[hi-1], ids[mid] = ids[mid], ids[hi-1]
			if c(ids[mid], ids[lo]) < 0 {
				ids[mid], ids[lo] = ids[lo], ids[mid]
			}
		}
		ids[mid], ids[hi-1] = ids[hi-1], ids[mid]
		pivot, at := ids[hi-1], lo
		for i := lo; i < hi-1; i++ {
			if c(ids[i], pivot) < 0 {
				ids[i], ids[at] = ids[at], ids[i]
				at++
			}
		}
		ids[at], ids[hi-1] = ids[hi-1], ids[at] // the pivot, in its place
		if k <= at {
			hi = at
		} else {
			lo = at + 1
		}
	}
}

var stateRank = func() [numStates + 1]int {
	var r [numStates + 1]int
	for i := range numStates {
		r[i] = i // portal.VerifyStates is the sort's order
	}
	r[stateEmpty] = slices.Index(portal.VerifyStates, portal.StateUnverified)
	return r
}()

// comparator is each sort's natural order, ties broken by object ID: the
// order the contract (and the reference in the tests) defines.
func (x *Index) comparator(s sortKind) func(a, b uint32) int {
	rows := x.rows
	byObject := func(a, b uint32) int { return rows[a].object.Compare(rows[b].object) }
	switch portal.InventorySorts[s] {
	case portal.SortObjectID:
		return byObject
	case portal.SortLabel: // unlabelled last, then case-insensitively
		return func(a, b uint32) int {
			la, lb := rows[a].label.fold, rows[b].label.fold
			if c := cmp.Compare(boolRank(rows[a].label.text == 0), boolRank(rows[b].label.text == 0)); c != 0 {
				return c
			}
			if c := x.text.compare(la, lb); c != 0 {
				return c
			}
			return byObject(a, b)
		}
	case portal.SortKind: // users first
		return func(a, b uint32) int {
			ua, ub := rows[a].kind == uint8(portal.KindUser), rows[b].kind == uint8(portal.KindUser)
			if c := cmp.Compare(boolRank(!ua), boolRank(!ub)); c != 0 {
				return c
			}
			return byObject(a, b)
		}
	case portal.SortState:
		return func(a, b uint32) int {
			if c := cmp.Compare(stateRank[rows[a].state], stateRank[rows[b].state]); c != 0 {
				return c
			}
			return byObject(a, b)
		}
	case portal.SortVerified: // never verified first, then the oldest
		return func(a, b uint32) int {
			if c := cmp.Compare(rows[a].verified, rows[b].verified); c != 0 {
				return c
			}
			return byObject(a, b)
		}
	}
	// SortUpdated: the most recent first.
	return func(a, b uint32) int {
		if c := cmp.Compare(rows[b].updated, rows[a].updated); c != 0 {
			return c
		}
		return byObject(a, b)
	}
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}
