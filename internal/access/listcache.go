package access

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/teamsphone/portal/internal/listindex"
	"github.com/teamsphone/portal/internal/portal"
)

// listCache answers the inventory list from memory. The list is searched on
// every keystroke, by many people at once, over up to hundreds of thousands
// of rows; a database scan per keystroke would not keep up. Each tenant's
// rows and names are held in an index (internal/listindex) stamped with the
// tenant's audit head and names revision: every inventory change is
// committed together with an audit row, so the index is current exactly
// when no audit row of its tenant is newer. Each list call asks the store
// for the rows changed since the stamp (an index probe that finds nothing
// when nothing changed) and applies only those, so every instance sharing a
// database sees every other's changes on its next call, and a change costs
// the index the work of its own rows.
type listCache struct {
	store listStore
	now   func() time.Time
	// knownApps are the configured calling-client apps: searches match
	// their names as pages show them.
	knownApps []portal.KnownApp

	mu      sync.Mutex
	tenants map[portal.GUID]*tenantCache
	swept   time.Time
}

// maxCachedTenants bounds memory: the least recently listed tenant goes.
const maxCachedTenants = 64

// idleTenant is how long a tenant's index is kept after its last use: a
// tenant nobody looks at does not hold memory.
const idleTenant = 15 * time.Minute

// compactAbove is the share of dead rows at which an index is rebuilt.
const compactAbove = 0.5

// reloadAbove is the number of changed rows above which (and above a
// quarter of the tenant's) a refresh reads the tenant afresh instead.
const reloadAbove = 5000

type tenantCache struct {
	mu       sync.Mutex // serialises refreshes; readers use idx
	idx      atomic.Pointer[listindex.Index]
	lastUsed atomic.Int64
	// namesDue makes the next call take up names at once (after someone
	// asked for them to be refreshed, and waits to see them).
	namesDue atomic.Bool
	// namesAsked is when the names revision was last read (Unix ns): it
	// is read again at most every namesEvery, whether names had moved or
	// not.
	namesAsked atomic.Int64
	// checking is the read of changed rows under way, next the one to run
	// after it, which calls arriving meanwhile share (changesSince).
	checkMu        sync.Mutex
	checking, next *changeCheck
	joined         atomic.Int64 // calls that shared another's read (for tests)
}

// changeCheck is one read of the rows changed since a stamp: its answer
// is shared by every call that joined it, read only.
type changeCheck struct {
	after   int64
	done    chan struct{}
	changed []portal.GUID
	reload  bool
	head    int64
	err     error
}

// changesSince is store.InventoryChanges(tenant, after) for a call that
// must see every change committed before it began. A read begun after
// the call began does; so a call arriving while another's read is under
// way waits for the next read, which starts when that one ends and
// answers everyone who arrived meanwhile. Under a crowd of list requests
// (32 clients, TestScale) this is about one database round trip per
// round trip's time instead of one per request: on PostgreSQL, a round
// trip each costs more than the rest of a cached page. A call whose
// shared read failed (it ran on another request's context, which may
// have been cancelled) reads for itself.
func (tc *tenantCache) changesSince(ctx context.Context, store listStore, tenant portal.GUID, after int64) ([]portal.GUID, bool, int64, error) {
	tc.checkMu.Lock()
	var c *changeCheck
	switch {
	case tc.checking == nil:
		c = &changeCheck{after: after, done: make(chan struct{})}
		tc.checking = c
		tc.checkMu.Unlock()
		tc.runCheck(ctx, store, tenant, c)
		return c.changed, c.reload, c.head, c.err
	case tc.next == nil:
		c = &changeCheck{after: after, done: make(chan struct{})}
		tc.next = c
		running := tc.checking
		tc.checkMu.Unlock()
		// Not abandoned for this caller's own cancellation: the calls that
		// join c wait for it to run, and the wait is one read's time.
		<-running.done // its end makes c the read under way
		tc.runCheck(ctx, store, tenant, c)
		return c.changed, c.reload, c.head, c.err
	case tc.next.after == after:
		c = tc.next
		tc.checkMu.Unlock()
		tc.joined.Add(1)
		select {
		case <-c.done:
		case <-ctx.Done():
			return nil, false, 0, ctx.Err()
		}
		if c.err == nil {
			return c.changed, c.reload, c.head, nil
		}
	default:
		tc.checkMu.Unlock() // the next read is from another stamp
	}
	return store.InventoryChanges(ctx, tenant, after)
}

// runCheck reads c, then makes the next read the one under way, whatever
// happens: a read that never ended would hold up every list of the tenant.
func (tc *tenantCache) runCheck(ctx context.Context, store listStore, tenant portal.GUID, c *changeCheck) {
	defer func() {
		tc.checkMu.Lock()
		tc.checking, tc.next = tc.next, nil
		tc.checkMu.Unlock()
		close(c.done)
	}()
	c.err = errCheckAbandoned // until the read returns: those who joined read for themselves
	c.changed, c.reload, c.head, c.err = store.InventoryChanges(ctx, tenant, c.after)
}

var errCheckAbandoned = errors.New("the shared read of changed rows did not finish")

// namesEvery is how often an index takes up new names. While pages name
// thousands of rows for the first time, names change on almost every
// request; taking them up each time would cost more than the list itself.
// Names are for display, so a second's lag is fine; access changes are
// never delayed.
const namesEvery = time.Second

func newListCache(store listStore, now func() time.Time, knownApps []portal.KnownApp) *listCache {
	return &listCache{store: store, now: now, knownApps: knownApps, tenants: map[portal.GUID]*tenantCache{}}
}

// WithSeenHead tells the request's list (Reads.InventoryList) that
// tenant's audit head was head when this request read it, after the
// request began (with its session: see
// portal.SessionStore.GetSessionAndHead). An index at least that current
// holds every change committed before the request, so the list asks the
// database nothing more; a newer head is read as usual. A zero tenant is
// no tenant: nothing is told.
func WithSeenHead(ctx context.Context, tenant portal.GUID, head int64) context.Context {
	if tenant.IsZero() {
		return ctx
	}
	return context.WithValue(ctx, seenHeadKey{}, seenHeadValue{tenant, head})
}

type seenHeadKey struct{}

type seenHeadValue struct {
	tenant portal.GUID
	head   int64
}

func seenHeadOf(ctx context.Context, tenant portal.GUID) (int64, bool) {
	v, ok := ctx.Value(seenHeadKey{}).(seenHeadValue)
	return v.head, ok && v.tenant == tenant
}

// ListStamp identifies the state of a tenant's list: its audit head and
// names revision. Equal stamps mean equal pages.
type ListStamp struct{ Audit, Names int64 }

// ListMemory is what the list indexes of this instance hold.
type ListMemory struct {
	Tenants, Rows int
	Bytes         int // estimated
}

// memory sums the cached tenants' indexes.
func (c *listCache) memory() ListMemory {
	c.mu.Lock()
	var idxs []*listindex.Index
	for _, tc := range c.tenants {
		if idx := tc.idx.Load(); idx != nil {
			idxs = append(idxs, idx)
		}
	}
	c.mu.Unlock()
	m := ListMemory{Tenants: len(idxs)}
	for _, idx := range idxs {
		st := idx.Stats()
		m.Rows += st.Rows
		m.Bytes += st.Bytes
	}
	return m
}

// current returns a current index of the tenant's rows.
func (c *listCache) current(ctx context.Context, tenant portal.GUID) (*listindex.Index, error) {
	return c.tenant(tenant).current(ctx, c.store, tenant, c.now(), c.knownApps, -1)
}

// currentAsOf is current for a request that read tenant's audit head,
// seen, after it began (WithSeenHead): an index at least that current
// holds every change committed before the request, and is returned
// without asking the database. Only the request's own list call passes
// it: work the request starts in the background outlives the moment the
// head was read.
func (c *listCache) currentAsOf(ctx context.Context, tenant portal.GUID, seen int64) (*listindex.Index, error) {
	return c.tenant(tenant).current(ctx, c.store, tenant, c.now(), c.knownApps, seen)
}

func (c *listCache) tenant(id portal.GUID) *tenantCache {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.swept) > time.Minute {
		c.swept = now
		for k, v := range c.tenants {
			if now.UnixNano()-v.lastUsed.Load() > int64(idleTenant) {
				delete(c.tenants, k)
			}
		}
	}
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
	tc.lastUsed.Store(now.UnixNano())
	return tc
}

// current returns an index that includes every change committed before
// the call, and names at most namesEvery old. The store is read outside
// the index's lock: searches go on while changes are fetched, and wait
// only while the index takes them up.
// seenHead, when not negative, is an audit head the caller read after it
// began (see currentAsOf).
func (tc *tenantCache) current(ctx context.Context, store listStore, tenant portal.GUID, now time.Time, knownApps []portal.KnownApp, seenHead int64) (*listindex.Index, error) {
	old := tc.idx.Load()
	var seen *changeSet
	namesDue := tc.namesDue.Swap(false) || now.UnixNano()-tc.namesAsked.Load() >= int64(namesEvery)
	if namesDue {
		tc.namesAsked.Store(now.UnixNano())
	}
	if old != nil {
		if seenHead >= 0 && !namesDue {
			if after, _ := old.Stamp(); seenHead <= after {
				return old, nil // nothing committed before the request is missing
			}
		}
		cs, err := readChanges(ctx, tc.changesSince, store, tenant, old, namesDue)
		if err != nil {
			return nil, err
		}
		if !cs.moved() {
			return old, nil
		}
		seen = &cs
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	// Another caller may have refreshed while this one waited.
	base := tc.idx.Load()
	if base == nil {
		next, err := load(ctx, store, tenant)
		if err != nil {
			return nil, err
		}
		next.SetKnownApps(knownApps) // kept by Compact
		tc.idx.Store(next)
		return next, nil
	}
	head, namesRev := base.Stamp()
	if seen != nil && head >= seen.head && namesRev >= seen.namesRev {
		// Another caller took up, while this one waited, at least what
		// this one saw: asking the database again, under the lock, would
		// make every waiting reader a round trip in a queue.
		return base, nil
	}
	if seen == nil || head != seen.after || namesRev != seen.namesAfter {
		// Another caller moved the index, but not as far: ask afresh.
		cs, err := readChanges(ctx, ownChanges, store, tenant, base, namesDue)
		if err != nil {
			return nil, err
		}
		if !cs.moved() {
			return base, nil
		}
		seen = &cs
	}
	if len(seen.changed) > max(reloadAbove, base.Stats().Rows/4) {
		// So many rows moved since the index was made — an import while
		// this instance was idle, or an index made before a fill — that
		// reading the tenant afresh costs less than taking them up one
		// change at a time: at 200,000 rows onto an empty index, 2.8 s
		// and 250 MB instead of 7.3 s and 595 MB (TestScale).
		next, err := load(ctx, store, tenant)
		if err != nil {
			return nil, err
		}
		next.SetKnownApps(knownApps)
		tc.idx.Store(next)
		return next, nil
	}
	changes, err := fetchChanges(ctx, store, tenant, *seen)
	if err != nil {
		return nil, err
	}
	base.Apply(changes)
	if seen.reload {
		// A reconcile moved verification times without naming its rows:
		// read them all, and re-index those that differ.
		sync := base.StartSync()
		err := store.AllItems(ctx, tenant, func(it portal.InventoryItem) error {
			sync.Item(it)
			return nil
		})
		if err != nil {
			return nil, err
		}
		sync.Done(seen.head)
	}
	if base.Garbage() > compactAbove {
		// Readers holding base carry on with it; new ones get the copy.
		base = base.Compact()
		tc.idx.Store(base)
	}
	return base, nil
}

// namesChanged makes the tenant's next list take up names at once.
func (c *listCache) namesChanged(tenant portal.GUID) { c.tenant(tenant).namesDue.Store(true) }

// load reads every row and name of the tenant. The head and revision are
// read first, so a change committed during the load is applied again by
// the next refresh (applying is idempotent) rather than missed.
func load(ctx context.Context, store listStore, tenant portal.GUID) (*listindex.Index, error) {
	_, _, head, err := store.InventoryChanges(ctx, tenant, math.MaxInt64)
	if err != nil {
		return nil, err
	}
	rev, err := store.NamesRevision(ctx, tenant)
	if err != nil {
		return nil, err
	}
	// Streamed into the index, never collected first: at 200,000 rows the
	// rows as read would take more memory than the index itself. The
	// builder takes them up on a goroutine of its own while the store
	// decodes the next: the first list of a large tenant waits for the
	// slower of the two, not for both.
	b := listindex.NewBuilder(tenant)
	for _, space := range []portal.NameSpace{portal.SpaceObject, portal.SpaceApp} {
		err := pipe(func(yield func(portal.DirectoryName) error) error { return store.AllNames(ctx, tenant, space, yield) }, b.Name)
		if err != nil {
			return nil, err
		}
	}
	err = pipe(func(yield func(portal.InventoryItem) error) error { return store.AllItems(ctx, tenant, yield) }, b.Item)
	if err != nil {
		return nil, err
	}
	return b.Index(head, rev), nil
}

// pipe runs read, handing what it yields to take on another goroutine in
// batches, in order, and returns read's error once take has had the rest.
func pipe[T any](read func(yield func(T) error) error, take func(T)) error {
	const batch = 512
	batches := make(chan []T, 4)
	taken := make(chan struct{})
	go func() {
		defer close(taken)
		for b := range batches {
			for _, v := range b {
				take(v)
			}
		}
	}()
	next := make([]T, 0, batch)
	err := read(func(v T) error {
		if next = append(next, v); len(next) == batch {
			batches <- next
			next = make([]T, 0, batch)
		}
		return nil
	})
	if len(next) > 0 {
		batches <- next
	}
	close(batches)
	<-taken
	return err
}

// changeSet is one answer of InventoryChanges and NamesRevision, after an
// index's head and names revision. NamesRevision is asked only when names
// are due (see tenantCache.namesAsked).
type changeSet struct {
	after, head          int64
	namesAfter, namesRev int64
	changed              []portal.GUID
	reload               bool
}

func (cs changeSet) moved() bool { return cs.head != cs.after || cs.namesRev != cs.namesAfter }

// changesFunc reads the rows of tenant changed since audit row after:
// store.InventoryChanges, or tenantCache.changesSince sharing its reads.
type changesFunc func(ctx context.Context, store listStore, tenant portal.GUID, after int64) ([]portal.GUID, bool, int64, error)

// ownChanges is a read of the caller's own (under the refresh lock, where
// the reads are one at a time anyway).
func ownChanges(ctx context.Context, store listStore, tenant portal.GUID, after int64) ([]portal.GUID, bool, int64, error) {
	return store.InventoryChanges(ctx, tenant, after)
}

// readChanges reads what moved since idx's stamp: rows through
// changesSince, and the names revision when namesDue.
func readChanges(ctx context.Context, changesSince changesFunc, store listStore, tenant portal.GUID, idx *listindex.Index, namesDue bool) (changeSet, error) {
	after, namesAfter := idx.Stamp()
	changed, reload, head, err := changesSince(ctx, store, tenant, after)
	if err != nil {
		return changeSet{}, err
	}
	cs := changeSet{after: after, head: head, namesAfter: namesAfter, namesRev: namesAfter, changed: changed, reload: reload}
	if namesDue {
		cs.namesRev, err = store.NamesRevision(ctx, tenant)
	}
	return cs, err
}

// fetchChanges reads the rows and names cs says moved.
func fetchChanges(ctx context.Context, store listStore, tenant portal.GUID, cs changeSet) (listindex.Changes, error) {
	c := listindex.Changes{Head: cs.head, NamesRev: cs.namesAfter}
	if cs.namesRev != cs.namesAfter {
		rev, err := store.NamesSince(ctx, tenant, cs.namesAfter, func(n portal.DirectoryName) error {
			c.Names = append(c.Names, n)
			return nil
		})
		if err != nil {
			return c, err
		}
		c.NamesRev = rev
	}
	if len(cs.changed) > 0 {
		items, err := store.GetItems(ctx, tenant, cs.changed)
		if err != nil {
			return c, err
		}
		for _, id := range cs.changed {
			if it, ok := items[id]; ok {
				c.Put = append(c.Put, it)
			} else {
				c.Removed = append(c.Removed, id)
			}
		}
	}
	return c, nil
}

// each calls fn for every row of a current index of the tenant, in no
// particular order.
func (c *listCache) each(ctx context.Context, tenant portal.GUID, fn func(portal.InventoryItem)) error {
	idx, err := c.current(ctx, tenant)
	if err != nil {
		return err
	}
	idx.Each(fn)
	return nil
}
