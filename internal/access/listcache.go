package access

import (
	"bytes"
	"cmp"
	"context"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// listCache answers the inventory list from memory. The list is searched on
// every keystroke, by many people at once, over tens of thousands of rows; a
// database scan per keystroke would not keep up. Each tenant's rows are kept
// as an immutable snapshot stamped with the tenant's audit head: every
// inventory change is committed together with an audit row, so a snapshot is
// current exactly when no audit row of its tenant is newer. Each list call
// asks the store for the rows changed since the stamp (an index probe that
// finds nothing when nothing changed) and applies them to a copy, so every
// instance sharing a database sees every other's changes on its next call.
type listCache struct {
	store listStore
	now   func() time.Time

	mu      sync.Mutex
	tenants map[portal.GUID]*tenantCache
}

// maxCachedTenants bounds memory: the least recently listed tenant goes.
const maxCachedTenants = 64

// reloadAbove is how many changed rows make a full reload cheaper than
// looking each one up.
const reloadAbove = 500

type tenantCache struct {
	mu       sync.Mutex // serialises refreshes; readers use snap
	snap     atomic.Pointer[snapshot]
	lastUsed atomic.Int64
	// namesDue makes the next call take up names at once (after someone
	// asked for them to be refreshed, and waits to see them).
	namesDue atomic.Bool
	// namesAsked is when the names revision was last read (Unix ns): it
	// is read again at most every namesEvery, whether names had moved or
	// not.
	namesAsked atomic.Int64
}

type snapshot struct {
	head int64
	// namesRev is the tenant's names revision the rows were named at, and
	// names the tenant's cached names of people and resource accounts:
	// searches match them, and pages show them.
	namesRev int64
	names    map[portal.GUID]portal.DirectoryName
	items    map[portal.GUID]*entry
	counts   portal.InventoryCounts
	// all holds the rows in no particular order, each knowing its index;
	// blob is their search texts end to end, row i's starting at starts[i],
	// so a search is one fast substring scan instead of one per row.
	all    []*entry
	blob   string
	starts []int
	// kinds and states repeat each row's kind and state by index, so the
	// list's filters scan two small arrays instead of 10,000 structs.
	kinds  []portal.PrincipalKind
	states []portal.VerifyState

	sortMu sync.Mutex
	sorted map[portal.InventorySort]sortOrder

	// searches remembers recent searches' hits on this snapshot: people
	// type the same prefixes, and a snapshot lives until the next change.
	searchMu sync.Mutex
	searches map[string][]int32
}

// namesEvery is how often a snapshot takes up new names. While pages name
// thousands of rows for the first time, names change on almost every
// request; re-reading and re-indexing them each time would cost more than
// the list itself. Names are for display, so a second's lag is fine;
// access changes are never delayed.
const namesEvery = time.Second

// maxSearches bounds the remembered searches of one snapshot (about 10 KB
// each for 10,000 rows).
const maxSearches = 64

type entry struct {
	idx  int // in snapshot.all
	item portal.InventoryItem
	// text is what a search matches: object ID, label, client IDs,
	// display name, UPN and phone number, in lower case.
	text  string
	label string // lower case, for sorting
}

func newListCache(store listStore, now func() time.Time) *listCache {
	return &listCache{store: store, now: now, tenants: map[portal.GUID]*tenantCache{}}
}

// list answers f from a current snapshot of f.TenantID's rows.
func (c *listCache) list(ctx context.Context, f portal.InventoryFilter) (portal.InventoryPage, error) {
	tc := c.tenant(f.TenantID)
	snap, err := tc.current(ctx, c.store, f.TenantID, c.now())
	if err != nil {
		return portal.InventoryPage{}, err
	}
	page, err := snap.page(f)
	page.Stamp, page.NamesRev = snap.head, snap.namesRev
	return page, err
}

// ListStamp identifies the state of a tenant's list: its audit head and
// names revision. Equal stamps mean equal pages.
type ListStamp struct{ Audit, Names int64 }

// stamp returns the stamp of a current snapshot of the tenant's rows.
func (c *listCache) stamp(ctx context.Context, tenant portal.GUID) (ListStamp, error) {
	snap, err := c.tenant(tenant).current(ctx, c.store, tenant, c.now())
	if err != nil {
		return ListStamp{}, err
	}
	return ListStamp{snap.head, snap.namesRev}, nil
}

func (c *listCache) tenant(id portal.GUID) *tenantCache {
	c.mu.Lock()
	defer c.mu.Unlock()
	tc, ok := c.tenants[id]
	if !ok {
		if len(c.tenants) >= maxCachedTenants {
			var oldest portal.GUID
			var oldestUse int64 = math.MaxInt64
			for k, v := range c.tenants {
				if u := v.lastUsed.Load(); u < oldestUse {
					oldest, oldestUse = k, u
				}
			}
			delete(c.tenants, oldest)
		}
		tc = &tenantCache{}
		c.tenants[id] = tc
	}
	tc.lastUsed.Store(c.now().UnixNano())
	return tc
}

// current returns a snapshot that includes every change committed before
// the call, and names at most namesEvery old.
func (tc *tenantCache) current(ctx context.Context, store listStore, tenant portal.GUID, now time.Time) (*snapshot, error) {
	old := tc.snap.Load()
	var seen *changeSet
	namesDue := tc.namesDue.Swap(false) || now.UnixNano()-tc.namesAsked.Load() >= int64(namesEvery)
	if namesDue {
		tc.namesAsked.Store(now.UnixNano())
	}
	if old != nil {
		cs, err := readChanges(ctx, store, tenant, old, namesDue)
		if err != nil {
			return nil, err
		}
		if cs.head == old.head && cs.namesRev == old.namesRev {
			return old, nil
		}
		seen = &cs
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	// Another caller may have refreshed while this one waited.
	base := tc.snap.Load()
	var next *snapshot
	var err error
	if base == nil {
		next, err = load(ctx, store, tenant)
	} else {
		if seen == nil || base.head != seen.after || base.namesRev != seen.namesAfter {
			// Another caller moved the snapshot meanwhile: ask afresh.
			cs, err := readChanges(ctx, store, tenant, base, namesDue)
			if err != nil {
				return nil, err
			}
			seen = &cs
		}
		next, err = base.apply(ctx, store, tenant, *seen)
	}
	if err != nil {
		return nil, err
	}
	tc.snap.Store(next)
	return next, nil
}

// namesChanged makes the tenant's next list take up names at once.
func (c *listCache) namesChanged(tenant portal.GUID) { c.tenant(tenant).namesDue.Store(true) }

// load reads every row of the tenant. The head is read first, so a change
// committed during the load is applied again by the next refresh (applying
// is idempotent) rather than missed.
func load(ctx context.Context, store listStore, tenant portal.GUID) (*snapshot, error) {
	_, _, head, err := store.InventoryChanges(ctx, tenant, math.MaxInt64)
	if err != nil {
		return nil, err
	}
	rev, names, err := loadNames(ctx, store, tenant)
	if err != nil {
		return nil, err
	}
	s := &snapshot{head: head, namesRev: rev, names: names, items: map[portal.GUID]*entry{}}
	err = store.AllItems(ctx, tenant, func(it portal.InventoryItem) error {
		s.items[it.ObjectID] = newEntry(it, names[it.ObjectID])
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.index()
	return s, nil
}

// loadNames reads the tenant's names and the revision they are at (read
// first: a change meanwhile is then loaded again, not missed).
func loadNames(ctx context.Context, store listStore, tenant portal.GUID) (int64, map[portal.GUID]portal.DirectoryName, error) {
	rev, err := store.NamesRevision(ctx, tenant)
	if err != nil {
		return 0, nil, err
	}
	names := map[portal.GUID]portal.DirectoryName{}
	err = store.AllNames(ctx, tenant, portal.SpaceObject, func(n portal.DirectoryName) error {
		names[n.ID] = n
		return nil
	})
	return rev, names, err
}

// changeSet is one answer of InventoryChanges and NamesRevision, after a
// snapshot's head and names revision. NamesRevision is asked only when
// names are due (see tenantCache.namesAsked).
type changeSet struct {
	after, head          int64
	namesAfter, namesRev int64
	changed              []portal.GUID
	reload               bool
}

func readChanges(ctx context.Context, store listStore, tenant portal.GUID, s *snapshot, namesDue bool) (changeSet, error) {
	changed, reload, head, err := store.InventoryChanges(ctx, tenant, s.head)
	if err != nil {
		return changeSet{}, err
	}
	cs := changeSet{after: s.head, head: head, namesAfter: s.namesRev, namesRev: s.namesRev, changed: changed, reload: reload}
	if namesDue {
		cs.namesRev, err = store.NamesRevision(ctx, tenant)
	}
	return cs, err
}

// apply returns a copy of s with cs (the changes after s.head) applied.
func (s *snapshot) apply(ctx context.Context, store listStore, tenant portal.GUID, cs changeSet) (*snapshot, error) {
	changed, reload, head := cs.changed, cs.reload, cs.head
	if head == s.head && cs.namesRev == s.namesRev {
		return s, nil
	}
	if reload || len(changed) > reloadAbove {
		return load(ctx, store, tenant)
	}
	names, namesRev := s.names, s.namesRev
	if cs.namesRev != s.namesRev {
		// Names move in batches (a page's lookup, a refresh): read them
		// all and rename the rows whose name changed.
		var err error
		if namesRev, names, err = loadNames(ctx, store, tenant); err != nil {
			return nil, err
		}
	} else if len(changed) == 0 {
		// Only sign-ins, refusals and the like: the same rows, a new stamp.
		return s.restamped(head), nil
	}
	next := &snapshot{head: head, namesRev: namesRev, names: names, items: make(map[portal.GUID]*entry, len(s.items)+len(changed))}
	for k, v := range s.items {
		if names[k] != s.names[k] {
			v = newEntry(v.item, names[k])
		}
		next.items[k] = v
	}
	for _, id := range changed {
		it, err := store.GetItem(ctx, tenant, id)
		switch {
		case err == nil:
			next.items[id] = newEntry(it, names[id])
		case portal.ErrorCode(err) == portal.ENOTFOUND:
			delete(next.items, id)
		default:
			return nil, err
		}
	}
	next.index()
	return next, nil
}

func newEntry(it portal.InventoryItem, name portal.DirectoryName) *entry {
	var b strings.Builder
	b.WriteString(it.ObjectID.String())
	b.WriteByte('\n')
	b.WriteString(strings.ToLower(it.Label))
	for _, id := range it.ClientIDs {
		b.WriteByte('\n')
		b.WriteString(id.String())
	}
	// Names come from Graph, not from a form that refuses control
	// characters: those become spaces, so a name cannot join two rows'
	// texts in the search blob.
	for _, v := range []string{name.DisplayName, name.UPN, name.Phone} {
		if v != "" {
			b.WriteByte('\n')
			b.WriteString(strings.Map(noControl, strings.ToLower(v)))
		}
	}
	return &entry{item: it, text: b.String(), label: strings.ToLower(it.Label)}
}

func noControl(r rune) rune {
	if r < 0x20 || r == 0x7f {
		return ' '
	}
	return r
}

// index counts the rows and builds the search blob. Entries are shared
// between snapshots, so each snapshot gets its own copies of them.
func (s *snapshot) index() {
	c := portal.InventoryCounts{ByState: map[portal.VerifyState]int{}}
	s.all = make([]*entry, 0, len(s.items))
	s.starts = make([]int, 0, len(s.items)+1)
	var b strings.Builder
	for id, shared := range s.items {
		e := *shared
		e.idx = len(s.all)
		s.items[id] = &e
		s.all = append(s.all, &e)
		s.starts = append(s.starts, b.Len())
		b.WriteString(e.text)
		b.WriteByte(0)
	}
	s.starts = append(s.starts, b.Len())
	s.blob = b.String()
	s.kinds = make([]portal.PrincipalKind, len(s.all))
	s.states = make([]portal.VerifyState, len(s.all))
	for i, e := range s.all {
		s.kinds[i], s.states[i] = e.item.Kind, stateOf(e.item)
	}
	for _, e := range s.all {
		c.All++
		switch e.item.Kind {
		case portal.KindUser:
			c.Users++
		case portal.KindResourceAccount:
			c.ResourceAccounts++
		}
		c.ByState[stateOf(e.item)]++
	}
	s.counts = c
}

func stateOf(it portal.InventoryItem) portal.VerifyState {
	if it.State == "" {
		return portal.StateUnverified
	}
	return it.State
}

// ordered returns the row indexes in a sort's natural order, and each
// row's position in it, sorting once per snapshot and sort.
func (s *snapshot) ordered(sort portal.InventorySort) (order, rank []int32) {
	s.sortMu.Lock()
	defer s.sortMu.Unlock()
	if o, ok := s.sorted[sort]; ok {
		return o.order, o.rank
	}
	entries := slices.Clone(s.all)
	slices.SortFunc(entries, comparator(sort))
	o := sortOrder{order: make([]int32, len(entries)), rank: make([]int32, len(entries))}
	for i, e := range entries {
		o.order[i] = int32(e.idx)
		o.rank[e.idx] = int32(i)
	}
	if s.sorted == nil {
		s.sorted = map[portal.InventorySort]sortOrder{}
	}
	s.sorted[sort] = o
	return o.order, o.rank
}

type sortOrder struct{ order, rank []int32 }

var stateRank = map[portal.VerifyState]int{portal.StateInSync: 0, portal.StateDrifted: 1, portal.StateMissing: 2, portal.StateUnverified: 3}

// comparator is each sort's natural order, the same as the stores' (see
// the contract tests): ties broken by object ID.
func comparator(sort portal.InventorySort) func(a, b *entry) int {
	byObject := func(a, b *entry) int { return bytes.Compare(a.item.ObjectID[:], b.item.ObjectID[:]) }
	then := func(c int, a, b *entry) int {
		if c != 0 {
			return c
		}
		return byObject(a, b)
	}
	switch sort {
	case portal.SortObjectID:
		return byObject
	case portal.SortLabel:
		return func(a, b *entry) int {
			// Unlabelled last.
			if c := cmp.Compare(boolRank(a.label == ""), boolRank(b.label == "")); c != 0 {
				return c
			}
			return then(strings.Compare(a.label, b.label), a, b)
		}
	case portal.SortKind:
		// Users first: 'user' sorts after 'resourceAccount', descending.
		return func(a, b *entry) int { return then(strings.Compare(b.item.Kind.String(), a.item.Kind.String()), a, b) }
	case portal.SortState:
		return func(a, b *entry) int {
			return then(cmp.Compare(stateRank[stateOf(a.item)], stateRank[stateOf(b.item)]), a, b)
		}
	case portal.SortVerified:
		// Never verified first, then the oldest verification.
		return func(a, b *entry) int { return then(compareTime(a.item.VerifiedAt, b.item.VerifiedAt), a, b) }
	}
	// SortUpdated: most recent first.
	return func(a, b *entry) int {
		return then(-cmp.Compare(a.item.UpdatedAt.UnixMilli(), b.item.UpdatedAt.UnixMilli()), a, b)
	}
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

func compareTime(a, b time.Time) int {
	switch {
	case a.IsZero() && b.IsZero():
		return 0
	case a.IsZero():
		return -1
	case b.IsZero():
		return 1
	}
	return cmp.Compare(a.UnixMilli(), b.UnixMilli())
}

// page filters, sorts and pages the snapshot as the stores do.
func (s *snapshot) page(f portal.InventoryFilter) (portal.InventoryPage, error) {
	sort := f.Sort
	if sort == "" {
		sort = portal.SortUpdated
	}
	if !slices.Contains(portal.InventorySorts, sort) {
		return portal.InventoryPage{}, portal.Errorf(portal.EINVALID, "Unknown sort order.")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 200)
	offset := max(f.Offset, 0)
	q := strings.ToLower(strings.TrimSpace(f.Query))
	if g, err := portal.ParseGUID(q); err == nil {
		q = g.String() // a GUID pasted in braces finds its row, as in the stores
	}
	order, rank := s.ordered(sort)
	out := portal.InventoryPage{Counts: s.counts, Items: []portal.InventoryItem{}}
	keep := func(idx int32) bool {
		return (f.Kind == portal.KindUnknown || s.kinds[idx] == f.Kind) && (f.State == "" || s.states[idx] == f.State)
	}
	var matched []int32 // in the sort's order
	switch {
	case q != "":
		// Few rows match a search: take them and sort just those.
		for _, idx := range s.search(q) {
			if keep(idx) {
				matched = append(matched, idx)
			}
		}
		slices.SortFunc(matched, func(a, b int32) int { return cmp.Compare(rank[a], rank[b]) })
	case f.Kind == portal.KindUnknown && f.State == "":
		// Everything matches: read the page straight off the order.
		matched = order
	default:
		matched = make([]int32, 0, len(order))
		for _, idx := range order {
			if keep(idx) {
				matched = append(matched, idx)
			}
		}
	}
	out.Matched = len(matched)
	for i := offset; i < len(matched) && i < offset+limit; i++ {
		idx := matched[i]
		if f.Desc {
			idx = matched[len(matched)-1-i]
		}
		out.Items = append(out.Items, s.all[idx].item)
	}
	return out, nil
}

// search returns the indexes, ascending, of the rows whose text contains q
// (lower case), remembering recent searches. Texts hold no control
// characters (labels refuse them), so a query with one matches nothing, as
// in the stores.
func (s *snapshot) search(q string) []int32 {
	s.searchMu.Lock()
	hits, ok := s.searches[q]
	s.searchMu.Unlock()
	if ok {
		return hits
	}
	hits = s.scan(q)
	s.searchMu.Lock()
	if s.searches == nil || len(s.searches) >= maxSearches {
		s.searches = map[string][]int32{}
	}
	s.searches[q] = hits
	s.searchMu.Unlock()
	return hits
}

func (s *snapshot) scan(q string) []int32 {
	hits := []int32{}
	if strings.ContainsFunc(q, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return hits
	}
	for off := 0; off < len(s.blob); {
		i := strings.Index(s.blob[off:], q)
		if i < 0 {
			break
		}
		// The row that holds position off+i; carry on after it.
		row, _ := slices.BinarySearch(s.starts, off+i+1)
		row--
		hits = append(hits, int32(row))
		off = s.starts[row+1]
	}
	return hits
}

// each calls fn for every row of a current snapshot of the tenant, in no
// particular order.
func (c *listCache) each(ctx context.Context, tenant portal.GUID, fn func(portal.InventoryItem)) error {
	snap, err := c.tenant(tenant).current(ctx, c.store, tenant, c.now())
	if err != nil {
		return err
	}
	for _, e := range snap.all {
		fn(e.item)
	}
	return nil
}

// restamped is s under a newer head with the same rows, keeping its sort
// orders and searches (they describe the same rows).
func (s *snapshot) restamped(head int64) *snapshot {
	next := &snapshot{head: head, namesRev: s.namesRev, names: s.names, items: s.items, counts: s.counts, all: s.all, blob: s.blob, starts: s.starts, kinds: s.kinds, states: s.states}
	s.sortMu.Lock()
	next.sorted = maps.Clone(s.sorted)
	s.sortMu.Unlock()
	s.searchMu.Lock()
	next.searches = maps.Clone(s.searches)
	s.searchMu.Unlock()
	return next
}
