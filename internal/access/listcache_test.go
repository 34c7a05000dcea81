package access_test

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
)

// The list answered from memory is the contract's answer (referenceList,
// over every row the store holds), filter for filter, after every kind of
// change, including changes made by another instance.
func TestListMatchesStore(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	other := access.New(access.Config{ACS: nil, Store: e.db}) // a second instance on the same database
	rnd := rand.New(rand.NewPCG(1, 2))
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	actor := portal.Actor{TenantID: contoso, Name: "System (test)"}
	labels := []string{"", "Alice", "alice smith", "Bob", "Émile", "Zoë", "ß straße", "100%_done",
		"100% sure", "under_score", "O'Brien", `back\slash`, "<script>alert(1)</script>", "ÆRØ Øresund", "Café ☕ 🎉", "bad \xff label"}
	put := func(i int) {
		obj := portal.MustParseGUID(fmt.Sprintf("%08x-0000-4000-8000-%012x", rnd.IntN(300), i))
		a := portal.Assignment{TenantID: contoso, ObjectID: obj, Kind: portal.KindUser, ClientIDs: []portal.GUID{appA}}
		if rnd.IntN(4) == 0 {
			a.Kind, a.ClientIDs = portal.KindResourceAccount, nil
		} else if rnd.IntN(2) == 0 {
			a.ClientIDs = append(a.ClientIDs, appB)
		}
		at := now.Add(time.Duration(rnd.IntN(1000)) * time.Minute)
		item := portal.InventoryItem{Assignment: a, Label: labels[rnd.IntN(len(labels))], CreatedAt: at, CreatedBy: actor, UpdatedAt: at, UpdatedBy: actor,
			State: portal.VerifyStates[rnd.IntN(4)]}
		if rnd.IntN(3) > 0 {
			item.VerifiedAt = at.Add(time.Duration(rnd.IntN(100)) * time.Minute)
		}
		op := portal.InventoryPut
		if rnd.IntN(8) == 0 {
			op = portal.InventoryDelete
		}
		ev := portal.AuditEvent{Time: at, Actor: actor, TenantID: contoso, ObjectID: obj, Kind: a.Kind, Action: portal.ActionAdopt, Phase: portal.PhaseEvent, Outcome: portal.OutcomeSuccess}
		if _, _, err := e.db.Commit(ctx, ev, portal.InventoryChange{Op: op, Item: item}); err != nil && portal.ErrorCode(err) != portal.ENOTFOUND {
			t.Fatal(err)
		}
	}
	filters := []portal.InventoryFilter{{}, {Limit: 7, Offset: 3}, {Desc: true, Limit: 500},
		{Limit: -1}, {Limit: 1000}, {Offset: -5, Limit: 10}, {Offset: 250, Limit: 50}, {Offset: 100000}}
	for _, s := range portal.InventorySorts {
		filters = append(filters, portal.InventoryFilter{Sort: s, Limit: 200}, portal.InventoryFilter{Sort: s, Desc: true, Limit: 13, Offset: 20})
	}
	for _, q := range []string{"alice", "ALICE", "ALICE SMITH", "  alice  ", "9215", "0000-4000", "%", "_", "_%", `\`, "'", "' OR 1=1 --", "<script>",
		"zoë", "ZOË", "ærø", "ØRESUND", "CAFÉ", "🎉", "\xff\xfe", "\ufffd", "-", "nothing", "{" + appB.String() + "}", strings.ToUpper(appA.String()),
		strings.ToUpper(appB.String()[24:]), appA.String()[30:] + " " + appB.String()[:4], "0000001 alice"} {
		filters = append(filters, portal.InventoryFilter{Query: q, Limit: 200})
	}
	filters = append(filters, portal.InventoryFilter{Kind: portal.KindResourceAccount, Limit: 200}, portal.InventoryFilter{State: portal.StateDrifted, Sort: portal.SortVerified, Limit: 200},
		portal.InventoryFilter{Kind: portal.KindUser, State: portal.StateUnverified, Query: "A", Sort: portal.SortLabel, Desc: true, Limit: 200})

	check := func(round int, svc *access.Service) {
		for _, f := range filters {
			f.TenantID = contoso
			want := referenceList(t, e.db, f)
			got, err := svc.List(ctx, admin, f)
			if err != nil {
				t.Fatal(err)
			}
			if got.Matched != want.Matched || got.Counts.All != want.Counts.All || got.Counts.Users != want.Counts.Users || got.Counts.ResourceAccounts != want.Counts.ResourceAccounts ||
				!maps(got.Counts.ByState, want.Counts.ByState) || !slices.EqualFunc(got.Items, want.Items, sameItem) {
				t.Fatalf("round %d, filter %+v:\n got %d matched %v\nwant %d matched %v", round, f, got.Matched, ids(got.Items), want.Matched, ids(want.Items))
			}
		}
	}
	for round := range 6 {
		for i := range 60 {
			put(round*1000 + i)
		}
		check(round, e.svc)
		check(round, other)
	}
	// A person's list never shows another tenant's rows, whatever the filter says.
	page, err := e.svc.List(ctx, person(fabrikam, portal.RoleAuditor), portal.InventoryFilter{TenantID: contoso})
	if err != nil || page.Matched != 0 || page.Counts.All != 0 {
		t.Fatalf("Fabrikam sees %d of Contoso's rows", page.Matched)
	}
}

func maps(a, b map[portal.VerifyState]int) bool {
	for _, s := range portal.VerifyStates {
		if a[s] != b[s] {
			return false
		}
	}
	return true
}

func sameItem(a, b portal.InventoryItem) bool {
	return a.ObjectID == b.ObjectID && a.Version == b.Version && a.Label == b.Label && a.State == b.State && a.Equal(b.Assignment)
}

func ids(items []portal.InventoryItem) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.ObjectID.String()[:8]+"/"+it.Label)
	}
	return out
}

// referenceList is the inventory list as its contract defines it, computed
// the plainest way from every row of the tenant: Query (surrounding space
// ignored, a whole GUID in braces or any case read as the GUID) matches
// case-insensitively and literally part of the object ID, the label or one
// client ID; Kind and State filter; each sort has a natural order with the
// object ID breaking ties, and Desc reverses the whole of it; Limit 0 or
// less is 50 and at most 200; a negative Offset is 0; Counts are the
// tenant's totals before any filter. (Matching names and app names is the
// index's own test: internal/listindex.)
func referenceList(t *testing.T, store portal.Inventory, f portal.InventoryFilter) portal.InventoryPage {
	t.Helper()
	page := portal.InventoryPage{Counts: portal.InventoryCounts{ByState: map[portal.VerifyState]int{}}, Items: []portal.InventoryItem{}}
	q := strings.ToLower(strings.TrimSpace(f.Query))
	if g, err := portal.ParseGUID(q); err == nil {
		q = g.String()
	}
	var matched []portal.InventoryItem
	err := store.AllItems(context.Background(), f.TenantID, func(it portal.InventoryItem) error {
		page.Counts.All++
		page.Counts.ByState[it.State]++
		if it.Kind == portal.KindUser {
			page.Counts.Users++
		} else {
			page.Counts.ResourceAccounts++
		}
		if (f.Kind == portal.KindUnknown || it.Kind == f.Kind) && (f.State == "" || it.State == f.State) && (q == "" || matches(it, q)) {
			matched = append(matched, it)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(matched, naturalOrder(cmp.Or(f.Sort, portal.SortUpdated)))
	if f.Desc {
		slices.Reverse(matched)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	offset := min(max(f.Offset, 0), len(matched))
	page.Matched = len(matched)
	page.Items = append(page.Items, matched[offset:min(offset+min(limit, 200), len(matched))]...)
	return page
}

func matches(it portal.InventoryItem, q string) bool {
	fields := []string{it.ObjectID.String(), strings.ToLower(it.Label)}
	for _, id := range it.ClientIDs {
		fields = append(fields, id.String())
	}
	return slices.ContainsFunc(fields, func(f string) bool { return strings.Contains(f, q) })
}

// naturalOrder is each sort's natural order: the object ID (canonical
// text, which orders like its bytes) breaks ties.
func naturalOrder(s portal.InventorySort) func(a, b portal.InventoryItem) int {
	var key func(a, b portal.InventoryItem) int
	switch s {
	case portal.SortUpdated: // most recent first
		key = func(a, b portal.InventoryItem) int { return b.UpdatedAt.Compare(a.UpdatedAt) }
	case portal.SortObjectID:
		key = func(a, b portal.InventoryItem) int { return 0 }
	case portal.SortLabel: // case-insensitive, unlabelled last
		key = func(a, b portal.InventoryItem) int {
			return cmp.Or(cmp.Compare(boolRank(a.Label == ""), boolRank(b.Label == "")), strings.Compare(strings.ToLower(a.Label), strings.ToLower(b.Label)))
		}
	case portal.SortKind: // users, then resource accounts
		key = func(a, b portal.InventoryItem) int {
			return cmp.Compare(boolRank(a.Kind != portal.KindUser), boolRank(b.Kind != portal.KindUser))
		}
	case portal.SortState: // as portal.VerifyStates lists them
		key = func(a, b portal.InventoryItem) int {
			return cmp.Compare(slices.Index(portal.VerifyStates, a.State), slices.Index(portal.VerifyStates, b.State))
		}
	case portal.SortVerified: // never verified first, then least recently
		key = func(a, b portal.InventoryItem) int {
			return cmp.Or(cmp.Compare(boolRank(!a.VerifiedAt.IsZero()), boolRank(!b.VerifiedAt.IsZero())), a.VerifiedAt.Compare(b.VerifiedAt))
		}
	}
	return func(a, b portal.InventoryItem) int {
		return cmp.Or(key(a, b), strings.Compare(a.ObjectID.String(), b.ObjectID.String()))
	}
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// readCounter counts a store's reads of a whole tenant's rows and of the
// rows changed since a stamp.
type readCounter struct {
	portal.Store
	allItems, changes atomic.Int32
}

func (s *readCounter) AllItems(ctx context.Context, tenant portal.GUID, fn func(portal.InventoryItem) error) error {
	s.allItems.Add(1)
	return s.Store.AllItems(ctx, tenant, fn)
}

func (s *readCounter) InventoryChanges(ctx context.Context, tenant portal.GUID, after int64) ([]portal.GUID, bool, int64, error) {
	s.changes.Add(1)
	return s.Store.InventoryChanges(ctx, tenant, after)
}

// listed is how many rows e's admin sees in the list, asked with ctx.
func listed(t *testing.T, e *env, ctx context.Context) int {
	t.Helper()
	l, err := e.svc.InventoryList(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	p, err := l.Page(portal.InventoryFilter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	return p.Matched
}

// An index made while the tenant was small (or empty) that then sees
// thousands of rows move at once — an import while the instance was idle,
// another instance's bulk job — reads the tenant afresh rather than
// taking them up one change at a time (slower, and twice the memory, at
// 200,000); a few changes are still taken up alone.
func TestListReloadsAfterManyChanges(t *testing.T) {
	ctx := context.Background()
	counter := &readCounter{}
	e := newEnv(t, func(s portal.Store) portal.Store { counter.Store = s; return counter })
	reads := &counter.allItems
	total := func() int { return listed(t, e, ctx) }
	if n := total(); n != 0 || reads.Load() != 1 {
		t.Fatalf("the empty tenant: %d rows, %d reads", n, reads.Load())
	}
	now := time.Now()
	actor := portal.Actor{TenantID: contoso, Name: "System (test)"}
	var evs []portal.AuditEvent
	var items []portal.InventoryItem
	for i := range 6000 {
		a := portal.Assignment{TenantID: contoso, ObjectID: portal.MustParseGUID(fmt.Sprintf("%08x-0000-4000-8000-%012x", i+1, i+1)), Kind: portal.KindUser, ClientIDs: []portal.GUID{appA}}
		evs = append(evs, portal.AuditEvent{Time: now, Actor: actor, TenantID: contoso, ObjectID: a.ObjectID, Kind: a.Kind, Action: portal.ActionAdopt,
			Phase: portal.PhaseEvent, Outcome: portal.OutcomeSuccess, After: portal.StateOf(a, "")})
		items = append(items, portal.InventoryItem{Assignment: a, CreatedAt: now, UpdatedAt: now, CreatedBy: actor, UpdatedBy: actor, State: portal.StateInSync})
	}
	if err := e.db.FillInventory(ctx, evs, items); err != nil {
		t.Fatal(err)
	}
	if n := total(); n != 6000 || reads.Load() != 2 {
		t.Errorf("after 6,000 rows at once: %d rows, %d reads of the whole tenant, want 6,000 and a second read", n, reads.Load())
	}
	e.grant(admin, alice, portal.KindUser, appA)
	if n := total(); n != 6001 || reads.Load() != 2 {
		t.Errorf("after one grant: %d rows, %d reads of the whole tenant, want the change taken up alone", n, reads.Load())
	}
}

// A request that read its tenant's audit head with its session
// (WithSeenHead) asks the database nothing more when the list is at least
// that current, and reads the changes when it is not.
func TestListTrustsTheHeadSeenWithTheSession(t *testing.T) {
	ctx := context.Background()
	counter := &readCounter{}
	e := newEnv(t, func(s portal.Store) portal.Store { counter.Store = s; return counter })
	reads := &counter.changes
	e.grant(admin, alice, portal.KindUser, appA)
	rows := func(ctx context.Context) int { return listed(t, e, ctx) }
	head := func() int64 {
		t.Helper()
		_, _, h, err := e.db.InventoryChanges(ctx, contoso, 0)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	rows(ctx) // the index
	seen := access.WithSeenHead(ctx, contoso, head())
	before := reads.Load()
	if n := rows(seen); n != 1 || reads.Load() != before {
		t.Fatalf("with the head seen: %d rows, %d reads, want 1 row and none", n, reads.Load()-before)
	}
	if n := rows(access.WithSeenHead(ctx, fabrikam, head()+100)); n != 1 || reads.Load() != before+1 {
		t.Fatalf("with another tenant's head: %d rows, %d reads, want a read", n, reads.Load()-before)
	}
	stale := access.WithSeenHead(ctx, contoso, head())
	e.grant(admin, bob, portal.KindUser, appA) // as another instance would
	if n := rows(stale); n != 1 {
		t.Fatalf("with the head seen before the change: %d rows, want the list as it was (1)", n)
	}
	// Only the request's own list trusts its head: other reads of the
	// index (work a request may start in the background) ask as usual.
	if items, err := e.svc.Items(stale, admin); err != nil || len(items) != 2 {
		t.Fatalf("the whole inventory with a stale head in the context: %d rows, %v; want 2", len(items), err)
	}
	if n := rows(access.WithSeenHead(ctx, contoso, head())); n != 2 {
		t.Fatalf("after a change, with its head seen: %d rows, want 2", n)
	}
}
