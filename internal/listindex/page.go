package listindex

import (
	"bytes"
	"math"
	"slices"
	"strings"

	"github.com/teamsphone/portal/internal/pagebuf"
	"github.com/teamsphone/portal/internal/portal"
)

// sortedBelow is how many matches are sorted by comparison; more are
// ordered by walking the sort's order. (A var: tests make it small.)
var sortedBelow = 2048

// Page answers f (its tenant is the index's): Query matches part of an
// object ID, label, client ID, app name (configured or Graph's), display
// name, UPN or phone number,
// case-insensitively and literally; Kind and State filter; each sort has a
// natural order with the object ID breaking ties, Desc reverses it; Limit 0
// or less is 50 and at most 200; a negative Offset is 0; Counts are before
// any filter. The page carries the index's stamp, and the names it shows.
func (x *Index) Page(f portal.InventoryFilter) (portal.InventoryPage, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 200)
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := portal.InventoryPage{Counts: x.countsOf(), Stamp: x.head, NamesRev: x.namesRev}
	ids, matched, err := x.match(f, max(f.Offset, 0), limit)
	if err != nil {
		return portal.InventoryPage{}, err
	}
	out.Matched = matched
	x.fill(&out, ids)
	return out, nil
}

// Count is how many rows f matches (its Offset and Limit are ignored):
// Page's Matched, without making a page.
func (x *Index) Count(f portal.InventoryFilter) (int, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	_, matched, err := x.match(f, 0, 0)
	return matched, err
}

// Walk calls fn with every row f matches (its Offset and Limit are
// ignored), in f's order, up to batch rows at a time, each batch a page
// with the names its rows show and Matched counting them all: an export
// of what the list shows. The rows are those f matched, as they stood,
// when Walk began (rows are never changed in place: a change meanwhile
// gives a new row, which this walk does not see), at four bytes a row
// held. The index is locked only while a batch is read, never while fn
// runs, so a slow fn holds up no change. An error from fn stops the walk
// and is returned as is.
func (x *Index) Walk(f portal.InventoryFilter, batch int, fn func(portal.InventoryPage) error) error {
	x.mu.RLock()
	ids, matched, err := x.match(f, 0, math.MaxInt)
	x.mu.RUnlock()
	if err != nil {
		return err
	}
	for from := 0; from < len(ids); from += batch {
		page := portal.InventoryPage{Matched: matched}
		x.mu.RLock()
		page.Stamp, page.NamesRev = x.head, x.namesRev
		x.fill(&page, ids[from:min(from+batch, len(ids))])
		x.mu.RUnlock()
		if err := fn(page); err != nil {
			return err
		}
	}
	return nil
}

// match returns the rows at positions [offset, offset+limit) of those f
// matches, in f's order, and how many match; x.mu must be held.
func (x *Index) match(f portal.InventoryFilter, offset, limit int) (ids []uint32, matched int, err error) {
	s, ok := sortIndex(cmpOr(f.Sort, portal.SortUpdated))
	if !ok {
		return nil, 0, portal.Errorf(portal.EINVALID, "Unknown sort order.")
	}
	q := strings.ToLower(strings.TrimSpace(f.Query))
	if g, err := portal.ParseGUID(q); err == nil {
		q = g.String() // a GUID pasted in braces finds its row
	}
	mask, all := cellMask(0), true
	for c := range uint8(numCells) {
		k, st := c/numStates, c%numStates
		if (f.Kind == portal.KindUnknown || kindIndex(f.Kind) == k) && (f.State == "" || stateCodeOf(f.State) == st) {
			mask |= 1 << c
		} else {
			all = false
		}
	}
	o := &x.orders[s]
	if f.Objects != nil {
		// Found from the objects themselves (few, as a rule: those a
		// check found wanting) and sorted here, not by walking an order
		// of the whole index (a list page counts them each time it is
		// drawn: see Count).
		only := x.objectRows(f.Objects)
		var hits []uint32
		var set bitset
		if q != "" {
			hits, set = x.search(q)
		}
		found := only[:0]
		for _, id := range only {
			if mask.has(x.cells[id]) && (q == "" || among(hits, set, id)) {
				found = append(found, id)
			}
		}
		matched = len(found)
		from, n := window(matched, offset, limit, f.Desc)
		sortWindow(found, x.comparator(s), from, n)
		ids = found[from : from+n]
	} else if q == "" {
		for c := range uint8(numCells) {
			if mask.has(c) {
				matched += x.counts[c]
			}
		}
		from, n := window(matched, offset, limit, f.Desc)
		ids = o.window(x.cells, mask, all, from, n)
	} else {
		hits, set := x.search(q)
		if set != nil {
			// Many hits: walk the order, keeping those in the set. (A set
			// holds live rows only: with no filter, they all count.)
			if all {
				matched = set.count()
			} else {
				set.each(func(id uint32) {
					if mask.has(x.cells[id]) {
						matched++
					}
				})
			}
			ids = walk(o, x.cells, mask, set, offset, min(limit, matched-min(offset, matched)), f.Desc)
		} else {
			found := make([]uint32, 0, len(hits))
			for _, id := range hits {
				if mask.has(x.cells[id]) {
					found = append(found, id)
				}
			}
			matched = len(found)
			from, n := window(matched, offset, limit, f.Desc)
			sortWindow(found, x.comparator(s), from, n)
			ids = found[from : from+n]
		}
	}
	if f.Desc {
		slices.Reverse(ids)
	}
	return ids, matched, nil
}

// objectRows returns the rows of objs that the index holds, each once, in
// row order; x.mu must be held. Many objects (a check that found the whole
// tenant wanting names every row) are marked in a set of all the rows and
// read back in order: sorting 200,000 rows would cost forty times more.
func (x *Index) objectRows(objs []portal.GUID) []uint32 {
	ids := make([]uint32, 0, len(objs))
	for _, obj := range objs {
		if id, ok := x.byObject[obj]; ok {
			ids = append(ids, id)
		}
	}
	if len(ids) <= len(x.rows)/64 {
		slices.Sort(ids)
		return slices.Compact(ids)
	}
	set := newBitset(len(x.rows))
	for _, id := range ids {
		set.set(id)
	}
	ids = ids[:0]
	set.each(func(id uint32) { ids = append(ids, id) })
	return ids
}

// among tells whether id is among a search's answer: set when not nil,
// else hits, sorted.
func among(hits []uint32, set bitset, id uint32) bool {
	if set != nil {
		return set.has(id)
	}
	_, ok := slices.BinarySearch(hits, id)
	return ok
}

// fill puts rows ids, and the names they show, in out; x.mu must be held.
// The page's strings and client IDs are copied into one buffer each,
// sized by a first pass over the rows (see pageText).
func (x *Index) fill(out *portal.InventoryPage, ids []uint32) {
	textBytes, sets := 0, 0
	for _, id := range ids {
		r := &x.rows[id]
		textBytes += int(r.label.text & maxStr)
		if slot := r.name; slot != 0 {
			rec := &x.nameRecs[slot-1]
			textBytes += int(rec.display&maxStr + rec.upn&maxStr + rec.phone&maxStr)
		}
		for _, app := range x.sets[r.set] {
			textBytes += int(x.apps[app].display & maxStr) // more than once if several rows have it: room to spare
		}
		sets += len(x.sets[r.set])
	}
	t := pageText{text: pagebuf.NewText(textBytes), sets: pagebuf.NewSlots[portal.GUID](sets)}
	// Sized up front: a deep page's rows lie all over memory, and growing
	// the slice of 50 items as it fills copied them five times.
	out.Items = make([]portal.InventoryItem, 0, len(ids))
	out.Names, out.Apps = make(map[portal.GUID]portal.DirectoryName, len(ids)), map[portal.GUID]portal.DirectoryName{}
	for _, id := range ids {
		it := x.item(id, &t)
		out.Items = append(out.Items, it)
		if slot := x.rows[id].name; slot != 0 {
			out.Names[it.ObjectID] = x.name(portal.SpaceObject, it.ObjectID, x.nameRecs[slot-1], &t)
		}
		for _, app := range it.ClientIDs {
			if _, seen := out.Apps[app]; seen {
				continue
			}
			if rec, ok := x.apps[app]; ok {
				out.Apps[app] = x.name(portal.SpaceApp, app, rec, &t)
			}
		}
	}
}

func cmpOr(s, def portal.InventorySort) portal.InventorySort {
	if s == "" {
		return def
	}
	return s
}

// window is which positions of the natural order a page shows: [from,
// from+n), counted from the end when desc (the caller reverses them).
func window(matched, offset, limit int, desc bool) (from, n int) {
	if offset >= matched {
		return matched, 0
	}
	n = min(limit, matched-offset)
	if desc {
		return matched - offset - n, n
	}
	return offset, n
}

// walk returns the rows at positions [from, from+n) of those in mask and
// set, in the order, counting from its end when desc (and then still in
// the order: the caller reverses them).
func walk(o *order, cells []uint8, mask cellMask, set bitset, from, n int, desc bool) []uint32 {
	var out []uint32
	seen := 0
	for i := range o.ids {
		if len(out) == n {
			break
		}
		if desc {
			i = len(o.ids) - 1 - i
		}
		if id := o.ids[i]; mask.has(cells[id]) && set.has(id) {
			if seen >= from {
				out = append(out, id)
			}
			seen++
		}
	}
	if desc {
		slices.Reverse(out)
	}
	return out
}

func (x *Index) countsOf() portal.InventoryCounts {
	c := portal.InventoryCounts{ByState: map[portal.VerifyState]int{}}
	for cell, n := range x.counts {
		k, st := cell/numStates, cell%numStates
		c.All += n
		switch k {
		case 1:
			c.Users += n
		case 2:
			c.ResourceAccounts += n
		}
		if n > 0 {
			c.ByState[portal.VerifyStates[st]] += n
		}
	}
	return c
}

// hits is a remembered answer to a costly search: a short query (most rows
// hold most single characters, and people type the same first letters) or
// one with many hits (a common surname, a domain), until the next change.
// When maxRemembered are, one is forgotten to make room.
type hits struct {
	ids []uint32
	set bitset
}

const maxRemembered = 64

// search returns the live rows whose text holds q: as sorted ids when
// there are few, else as a set. Both may be shared: read them only.
func (x *Index) search(q string) ([]uint32, bitset) {
	if strings.ContainsFunc(q, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return nil, nil // no text holds a control character
	}
	x.rememberMu.Lock()
	h, ok := x.remembered[q]
	x.rememberMu.Unlock()
	if ok {
		return h.ids, h.set
	}
	var set bitset
	var ids []uint32
	toSet := func() {
		set = newBitset(len(x.rows))
		for _, id := range ids {
			set.set(id)
		}
		ids = nil
	}
	if len(q) < 3 {
		set = x.prefixUnion(q)
	} else {
		ids = x.trigramSearch(q)
	}
	// Rows with a client ID whose text or app name holds q.
	for app, l := range x.appRows {
		if !x.appMatches(app, q) {
			continue
		}
		if set == nil && len(ids)+int(l.n) > sortedBelow {
			toSet()
		}
		if set != nil {
			x.addAppRows(set, app, l)
			continue
		}
		var more []uint32
		l.each(func(id uint32) bool {
			if x.cells[id] != deadCell {
				more = append(more, id)
			}
			return true
		})
		ids = mergeUnique(ids, more)
	}
	// Few hits are a sorted list, many a set (see Page).
	switch {
	case set == nil && len(ids) > sortedBelow:
		toSet()
	case set != nil:
		n := set.count()
		if n <= sortedBelow {
			ids = make([]uint32, 0, n)
			set.each(func(id uint32) { ids = append(ids, id) })
			set = nil
		}
	}
	if len(q) < 3 || set != nil {
		x.rememberMu.Lock()
		if x.remembered == nil {
			x.remembered = map[string]hits{}
		}
		for k := range x.remembered {
			if len(x.remembered) < maxRemembered {
				break
			}
			delete(x.remembered, k) // one at random: the frequent come back
		}
		x.remembered[q] = hits{ids: ids, set: set}
		x.rememberMu.Unlock()
	}
	return ids, set
}

// addAppRows adds the live rows of app, whose posting list is l, to set.
// An app on more than one row in 64 (a tenant's few calling clients, each
// on thousands of rows) is kept as a set until the next change, so that
// the searches matching its name or ID (people type the same app names)
// OR in a few kilobytes rather than decode its list. A set is rows/8
// bytes, and few apps reach one row in 64 (64 at most if each row had one
// app): at 200,000 rows a handful of 25 KB sets. Stats leaves them out, as
// it does remembered searches: both go with the next change.
func (x *Index) addAppRows(set bitset, app portal.GUID, l *plist) {
	if int(l.n) < len(x.rows)/64 {
		x.addLive(set, l)
		return
	}
	x.rememberMu.Lock()
	rows, ok := x.appSets[app]
	x.rememberMu.Unlock()
	if !ok || len(rows) != len(set) { // (every change that adds rows forgets them)
		rows = newBitset(len(x.rows))
		x.addLive(rows, l)
		x.rememberMu.Lock()
		if x.appSets == nil {
			x.appSets = map[portal.GUID]bitset{}
		}
		x.appSets[app] = rows
		x.rememberMu.Unlock()
	}
	for i, w := range rows {
		set[i] |= w
	}
}

// prefixUnion is the live rows holding a one- or two-byte q: those posted
// under a trigram q begins.
func (x *Index) prefixUnion(q string) bitset {
	lo := uint32(q[0]) << 16
	hi := lo + 1<<16
	if len(q) == 2 {
		lo |= uint32(q[1]) << 8
		hi = lo + 1<<8
	}
	set := newBitset(len(x.rows))
	keys := x.grams.keys
	i, _ := slices.BinarySearch(keys, lo)
	for ; i < len(keys) && keys[i] < hi; i++ {
		x.addLive(set, x.grams.lists[keys[i]])
	}
	return set
}

// addLive adds the live rows of l to set.
func (x *Index) addLive(set bitset, l *plist) {
	l.each(func(id uint32) bool {
		if x.cells[id] != deadCell {
			set.set(id)
		}
		return true
	})
}

// trigramSearch is the live rows whose text holds q (3 bytes or more):
// the rows of its rarest trigrams, then each checked.
//
// Which lists are intersected matters more than how. The trigrams of one
// word go together ("smi", "mit", "ith" are nearly always all there), so
// a list overlapping one already read (sharing a letter of q with it)
// rarely rules a row out, while reading it costs its length: such a list
// counts four times its length when choosing the next one, and is read
// only while it is at most four times the rows left. A list of another
// part of q is read while it is at most 64 times the rows left (longer,
// checking the rows left costs less than reading it). For a whole name
// ("alice smith") that reads three lists instead of nine; for a user
// name ("12345@contoso"), the two rarest, which leave a handful.
func (x *Index) trigramSearch(q string) []uint32 {
	type gramList struct {
		l   *plist
		pos int // where in q its trigram is
	}
	var lists []gramList
	for i := 0; i+3 <= len(q); i++ {
		l := x.grams.lists[gram(q[i], q[i+1], q[i+2])]
		if l == nil {
			return nil
		}
		if !slices.ContainsFunc(lists, func(g gramList) bool { return g.l == l }) {
			lists = append(lists, gramList{l, i})
		}
	}
	rarest := slices.MinFunc(lists, func(a, b gramList) int { return int(a.l.n) - int(b.l.n) })
	ids := rarest.l.appendTo(nil)
	read := []gramList{rarest}
	for len(ids) > 16 {
		next, cost := gramList{}, math.MaxInt
		for _, g := range lists {
			if slices.Contains(read, g) {
				continue
			}
			overlaps := slices.ContainsFunc(read, func(r gramList) bool { return r.pos-3 < g.pos && g.pos < r.pos+3 })
			n, c, limit := int(g.l.n), int(g.l.n), 64*len(ids)
			if overlaps {
				c, limit = 4*n, 4*len(ids)
			}
			if n <= limit && c < cost {
				next, cost = g, c
			}
		}
		if next.l == nil {
			break // checking the rows left is cheaper than reading any list
		}
		read = append(read, next)
		ids = next.l.intersect(ids)
	}
	out := ids[:0]
	exact, inID, qb := len(lists) == 1 && len(q) == 3, guidChars(q), []byte(q)
	for _, id := range ids {
		if x.cells[id] != deadCell && (exact || x.rowHolds(id, qb, inID)) {
			out = append(out, id)
		}
	}
	return out
}

// rowHolds reports whether row id's own text (not its apps) holds q;
// inID is whether q could be part of an object ID.
func (x *Index) rowHolds(id uint32, q []byte, inID bool) bool {
	r := &x.rows[id]
	var buf [36]byte
	if inID && bytes.Contains(guidText(&buf, r.object), q) {
		return true // first: the row is at hand, its texts elsewhere
	}
	if bytes.Contains(x.text.bytes(r.label.fold), q) {
		return true
	}
	for _, f := range r.names {
		if bytes.Contains(x.text.bytes(f), q) {
			return true
		}
	}
	return false
}

// guidChars reports whether q could be part of a GUID's text.
func guidChars(q string) bool {
	return !strings.ContainsFunc(q, func(r rune) bool { return !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || r == '-') })
}

// appMatches reports whether app's ID, its configured name or the name
// Graph gives it holds q.
func (x *Index) appMatches(app portal.GUID, q string) bool {
	var buf [36]byte
	if bytes.Contains(guidText(&buf, app), []byte(q)) {
		return true
	}
	if k, ok := x.known[app]; ok && bytes.Contains(x.text.bytes(k), []byte(q)) {
		return true
	}
	n, ok := x.apps[app]
	return ok && bytes.Contains(x.text.bytes(n.displayFold), []byte(q))
}

// mergeUnique merges two ascending lists without repeats.
func mergeUnique(a, b []uint32) []uint32 {
	out := make([]uint32, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i] < b[j]):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	return out
}
