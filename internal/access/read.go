package access

import (
	"context"
	"time"

	"github.com/teamsphone/portal/internal/listindex"
	"github.com/teamsphone/portal/internal/portal"
)

// Reads are the use cases that show what access exists and what happened:
// the inventory (from an index kept exact across instances), lookups in
// ACS, history and the audit log, the drift report and expiries.
type Reads struct {
	core
	acs   portal.ACS
	store readStore
	lists *listCache
	chain *chainCache
}

func mayRead(u portal.User) error {
	if !MayRead(u) {
		return portal.Errorf(portal.EFORBIDDEN, "Your role does not allow this.")
	}
	return nil
}

// MayReadAudit reports whether u may read the audit log and exports: admins
// and auditors.
func MayReadAudit(u portal.User) bool { return u.HasAny(portal.RoleAdmin, portal.RoleAuditor) }

// Item returns one inventory row of the person's tenant, or ENOTFOUND (also
// for another tenant's object, which is indistinguishable from a missing one).
func (s *Reads) Item(ctx context.Context, who Who, object portal.GUID) (portal.InventoryItem, error) {
	if err := mayRead(who.User); err != nil {
		return portal.InventoryItem{}, err
	}
	item, err := s.store.GetItem(ctx, who.User.TenantID, object)
	return item, notInInventory(err)
}

// List returns a page of the person's tenant's inventory; whatever tenant f
// names is replaced by theirs.
func (s *Reads) List(ctx context.Context, who Who, f portal.InventoryFilter) (portal.InventoryPage, error) {
	l, err := s.InventoryList(ctx, who)
	if err != nil {
		return portal.InventoryPage{}, err
	}
	return l.Page(f)
}

// InventoryList is the person's tenant's list as one request sees it: its
// stamp and its pages, from an index brought up to date once (one question
// to the database), so a request that checks the stamp before asking for
// a page does not ask the database twice.
type InventoryList struct {
	idx    *listindex.Index
	tenant portal.GUID
}

// Stamp is the list's stamp now: pages whose stamp it equals are still
// exact.
func (l InventoryList) Stamp() ListStamp {
	head, names := l.idx.Stamp()
	return ListStamp{Audit: head, Names: names}
}

// Page answers f; whatever tenant f names is replaced by the list's. The
// page carries its own stamp, which may be newer than an earlier Stamp if
// a change was taken up meanwhile.
func (l InventoryList) Page(f portal.InventoryFilter) (portal.InventoryPage, error) {
	f.TenantID = l.tenant
	return l.idx.Page(f)
}

// Count is how many rows f matches (Page's Matched, without the page);
// whatever tenant f names is replaced by the list's.
func (l InventoryList) Count(f portal.InventoryFilter) (int, error) {
	f.TenantID = l.tenant
	return l.idx.Count(f)
}

// ListMemory is what this instance holds in memory for inventory lists,
// for metrics.
func (s *Reads) ListMemory() ListMemory { return s.lists.memory() }

// InventoryList returns the person's tenant's list, current: it includes
// every change committed before the call, by any instance.
func (s *Reads) InventoryList(ctx context.Context, who Who) (InventoryList, error) {
	if err := mayRead(who.User); err != nil {
		return InventoryList{}, err
	}
	var idx *listindex.Index
	var err error
	if head, ok := seenHeadOf(ctx, who.User.TenantID); ok {
		idx, err = s.lists.currentAsOf(ctx, who.User.TenantID, head)
	} else {
		idx, err = s.lists.current(ctx, who.User.TenantID)
	}
	return InventoryList{idx: idx, tenant: who.User.TenantID}, err
}

// Items returns the person's tenant's whole inventory by object ID, from
// the list index: for a bulk plan, one lookup per row in memory instead
// of one query per row.
func (s *Reads) Items(ctx context.Context, who Who) (map[portal.GUID]portal.InventoryItem, error) {
	if err := mayRead(who.User); err != nil {
		return nil, err
	}
	out := map[portal.GUID]portal.InventoryItem{}
	err := s.lists.each(ctx, who.User.TenantID, func(it portal.InventoryItem) { out[it.ObjectID] = it })
	return out, err
}

// ListStamp returns the stamp a List of the person's tenant would carry
// now: pages whose stamp it equals are still exact.
func (s *Reads) ListStamp(ctx context.Context, who Who) (ListStamp, error) {
	l, err := s.InventoryList(ctx, who)
	if err != nil {
		return ListStamp{}, err
	}
	return l.Stamp(), nil
}

// ExportBatch is how many rows an export is given at a time: a batch of
// the list is named from the list's index; one of the audit log is written
// out while the next is read.
const ExportBatch = 1000

// ExportList streams the rows of the person's tenant's list that f
// matches (whatever tenant, Offset and Limit f names are ignored), in the
// list's order for f, ExportBatch at a time, each batch with the cached
// names its rows show: an export of what the list shows, or of all of it
// (no filter, sorted by object ID). The rows are those f matched when the
// export began, as they stood then (see listindex.Index.Walk): memory is
// four bytes a matched row beside the index, which the list holds anyway.
// fn runs on the caller's goroutine; an error from it stops the export
// and is returned as is.
func (s *Reads) ExportList(ctx context.Context, who Who, f portal.InventoryFilter, fn func(portal.InventoryPage) error) error {
	if !MayReadAudit(who.User) {
		return portal.Errorf(portal.EFORBIDDEN, "Only admins and auditors may export the inventory.")
	}
	l, err := s.InventoryList(ctx, who)
	if err != nil {
		return err
	}
	f.TenantID = l.tenant
	return l.idx.Walk(f, ExportBatch, func(p portal.InventoryPage) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(p)
	})
}

// readAhead gathers what walk gives into batches of up to size, the last
// one short, and hands each to fn. The walk runs on a goroutine of its own,
// one batch ahead of fn, so reading the next batch overlaps writing this
// one: the database's work and the client's are done side by side. An
// error from fn cancels the walk's ctx and is returned once the walk has
// ended; one from the walk is returned after fn has had every batch read
// before it.
func readAhead[T any](ctx context.Context, size int, walk func(context.Context, func(T) error) error, fn func([]T) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan []T, 1)
	walked := make(chan error, 1)
	go func() {
		defer close(batches)
		send := func(batch []T) error {
			select {
			case batches <- batch:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		batch := make([]T, 0, size)
		err := walk(ctx, func(v T) error {
			if batch = append(batch, v); len(batch) < size {
				return nil
			}
			err := send(batch)
			batch = make([]T, 0, size)
			return err
		})
		if err == nil && len(batch) > 0 {
			err = send(batch)
		}
		walked <- err
	}()
	for batch := range batches {
		if err := fn(batch); err != nil {
			cancel()
			for range batches { // the walk sends at most one more
			}
			<-walked
			return err
		}
	}
	return <-walked
}

// History returns the newest changes and events about one object of the
// person's tenant, one row per change (portal.AuditFilter.OnePerChange).
func (s *Reads) History(ctx context.Context, who Who, object portal.GUID, limit int) (portal.AuditPage, error) {
	if err := mayRead(who.User); err != nil {
		return portal.AuditPage{}, err
	}
	return s.store.ListAudit(ctx, portal.AuditFilter{TenantID: who.User.TenantID, ObjectID: object, Limit: limit, OnePerChange: true})
}

// Audit returns a page of the person's tenant's audit log.
func (s *Reads) Audit(ctx context.Context, who Who, f portal.AuditFilter) (portal.AuditPage, error) {
	if !MayReadAudit(who.User) {
		return portal.AuditPage{}, portal.Errorf(portal.EFORBIDDEN, "Only admins and auditors may read the audit log.")
	}
	f.TenantID = who.User.TenantID
	return s.store.ListAudit(ctx, f)
}

// ExportAudit streams the person's tenant's audit rows that f matches, as
// Audit matches them but every row (the zero filter: the whole log; its
// tenant is replaced by theirs; paging and OnePerChange are ignored, so
// both rows of a change are there), in Seq order, ExportBatch at a time,
// for the audit export. fn may take its time (a slow client): the rows
// are read ahead by one batch at most, and the store holds nothing of the
// database between its reads (see portal.AuditLog.WalkAudit), so memory
// stays a few batches and no connection is kept whatever the log's size.
// fn runs on the caller's goroutine and may keep the slice; an error from
// it stops the export and is returned as is.
func (s *Reads) ExportAudit(ctx context.Context, who Who, f portal.AuditFilter, fn func([]portal.AuditEvent) error) error {
	if !MayReadAudit(who.User) {
		return portal.Errorf(portal.EFORBIDDEN, "Only admins and auditors may export the audit log.")
	}
	f.TenantID = who.User.TenantID
	return readAhead(ctx, ExportBatch, func(ctx context.Context, each func(portal.AuditEvent) error) error {
		return s.store.WalkAuditMatching(ctx, f, each)
	}, fn)
}

// LookupResult is what ACS and the inventory each hold for one object.
type LookupResult struct {
	ObjectID portal.GUID
	// ACS is what ACS holds; nil when it holds nothing.
	ACS  *portal.Assignment
	Call portal.ACSCall
	// Item is the inventory row; nil when the inventory does not know it.
	Item *portal.InventoryItem
}

// Lookup asks ACS live what it holds for an object of the person's tenant,
// and whether the inventory knows it. Nothing is written.
func (s *Reads) Lookup(ctx context.Context, who Who, object portal.GUID) (LookupResult, error) {
	if err := mayRead(who.User); err != nil {
		return LookupResult{}, err
	}
	res := LookupResult{ObjectID: object}
	tenant := who.User.TenantID
	item, err := s.store.GetItem(ctx, tenant, object)
	switch {
	case err == nil:
		res.Item = &item
	case portal.ErrorCode(err) != portal.ENOTFOUND:
		return res, err
	}
	cur, call, err := s.acs.GetAssignment(ctx, tenant, object)
	res.Call = call
	switch {
	case err == nil:
		res.ACS = &cur
	case portal.ErrorCode(err) != portal.ENOTFOUND:
		return res, err
	}
	return res, nil
}

// Note records a single event (sign-in, sign-out, a refused sign-in or
// request) in the audit log.
func (s *Reads) Note(ctx context.Context, who Who, action portal.AuditAction, result portal.AuditOutcome, detail string) error {
	return s.note(ctx, who, action, result, detail)
}

// note records a single event about no assignment in particular.
func (s *core) note(ctx context.Context, who Who, action portal.AuditAction, result portal.AuditOutcome, detail string) error {
	ev := s.event(who, action, portal.GUID{}, portal.KindUnknown)
	ev.Phase, ev.Outcome, ev.Detail = portal.PhaseEvent, result, detail
	_, err := s.appendAudit(ctx, ev)
	return err
}

// ItemToChange returns the row for object when who may make a change
// (action) to it, for a page that confirms a change before it is made;
// EFORBIDDEN, recorded in the audit log, when who may not, and ENOTFOUND
// when the inventory has no such row. The change itself checks again.
func (s *Reads) ItemToChange(ctx context.Context, who Who, action portal.AuditAction, object portal.GUID) (portal.InventoryItem, error) {
	item, err := s.Item(ctx, who, object)
	if err != nil {
		return item, err
	}
	if err := MayChangeItem(who.User, item); err != nil {
		s.denied(ctx, who, action, item.ObjectID, item.Kind, err)
		return portal.InventoryItem{}, err
	}
	return item, nil
}

// ExpiringSoon is how far ahead "expiring soon" looks: the home page's
// count, and the expiries page's first group.
const ExpiringSoon = 7 * 24 * time.Hour

// Glance is what the home page counts: what needs a look.
type Glance struct {
	// Drifted and Missing count the assignments the last verifications
	// found different in ACS, or gone from it (the drift report's rows).
	Drifted, Missing int
	// ExpiringSoon counts the time-boxed access that ends within
	// ExpiringSoon (or has ended, and waits for the expiry job).
	ExpiringSoon int
	// NotReady counts the assignments the readiness checks' last run
	// found unable to work; -1 when who may not see the checks or they
	// have not run.
	NotReady int
}

// Glance counts the person's tenant's assignments that need a look, from
// the list index: its counters, and one pass over the end times. notReady
// are the objects the readiness checks' last run found wanting, when
// checked (see Readiness.LastTenantChecks).
func (s *Reads) Glance(ctx context.Context, who Who, notReady []portal.GUID, checked bool) (Glance, error) {
	g := Glance{NotReady: -1}
	l, err := s.InventoryList(ctx, who)
	if err != nil {
		return g, err
	}
	page, err := l.Page(portal.InventoryFilter{Limit: 1})
	if err != nil {
		return g, err
	}
	g.Drifted, g.Missing = page.Counts.ByState[portal.StateDrifted], page.Counts.ByState[portal.StateMissing]
	if checked {
		// Counted among the rows, as the list's filter counts them: a
		// check also names objects that have no assignment.
		np, err := l.Page(portal.InventoryFilter{Objects: append([]portal.GUID{}, notReady...), Limit: 1})
		if err != nil {
			return g, err
		}
		g.NotReady = np.Matched
	}
	g.ExpiringSoon = l.idx.CountExpiring(s.now().Add(ExpiringSoon))
	return g, nil
}
