package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/testclock"
)

// Filler is a store that also fills its inventory in bulk. Both stores
// are Fillers; only load scripts use it.
type Filler interface {
	portal.Store
	// FillInventory commits many rows at once: items[i] as an
	// InventoryPut with its audit event evs[i], each exactly as Commit
	// would, all in one transaction (all or none). It is for loading a
	// large inventory quickly — the scale load script (cmd/portal's
	// TestScale) fills 200,000 rows — where a transaction per row takes
	// minutes; the portal itself commits one change at a time. Slices of
	// different lengths, or any pair Commit would refuse, are EINVALID,
	// and nothing is written.
	FillInventory(ctx context.Context, evs []portal.AuditEvent, items []portal.InventoryItem) error
}

// RunFill checks FillInventory against Commit, opening fresh stores.
func RunFill(t *testing.T, open func(t *testing.T, now func() time.Time) Filler) {
	fresh := func(t *testing.T) *fixture {
		clock := testclock.New(t0)
		return &fixture{Store: open(t, clock.Now), clock: clock, ctx: context.Background()}
	}
	t.Run("SameAsCommit", func(t *testing.T) { testFillSameAsCommit(t, fresh(t), fresh(t)) })
	t.Run("RefusesAndWritesNothing", func(t *testing.T) { testFillRefuses(t, fresh(t)) })
}

// fillRows are rows of both kinds and tenants, one object twice (the
// second replaces the first, as a second Commit would).
func fillRows() ([]portal.AuditEvent, []portal.InventoryItem) {
	var items []portal.InventoryItem
	for i := range 6 {
		items = append(items, userItem(tenantA, fmt.Sprint("fill", i), fmt.Sprint("Fill ", i), "desktop", "mobile"))
	}
	items = append(items, resourceItem(tenantA, "fill-ra", "Main line"), resourceItem(tenantB, "fill-b", "Theirs"))
	again := userItem(tenantA, "fill2", "Fill 2, moved", "web")
	again.UpdatedAt, again.UpdatedBy, again.State, again.VerifiedAt = t0.Add(time.Hour), bob, portal.StateInSync, t0.Add(time.Hour)
	items = append(items, again)
	evs := make([]portal.AuditEvent, len(items))
	for i, it := range items {
		evs[i] = eventFor(it, portal.ActionAdopt)
	}
	return evs, items
}

// testFillSameAsCommit: a row committed alone, then a fill, then another
// row leave the same rows and the same audit chain, hash for hash, as the
// same rows committed one by one.
func testFillSameAsCommit(t *testing.T, bulk, single *fixture) {
	first, last := userItem(tenantA, "before", "Before", "desktop"), userItem(tenantA, "after", "After", "desktop")
	evs, items := fillRows()
	bulk.commit(t, portal.InventoryPut, first)
	if err := bulk.Store.(Filler).FillInventory(bulk.ctx, evs, items); err != nil {
		t.Fatalf("FillInventory: %v", err)
	}
	bulk.commit(t, portal.InventoryPut, last)

	single.commit(t, portal.InventoryPut, first)
	for i, it := range items {
		if _, _, err := single.Commit(single.ctx, evs[i], portal.InventoryChange{Op: portal.InventoryPut, Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	single.commit(t, portal.InventoryPut, last)

	got, want := bulk.allItems(t), single.allItems(t)
	if len(got) != len(want) || len(got) != len(items)+1 { // one object twice: +2 -1
		t.Fatalf("%d rows after the fill, %d after single commits; want %d", len(got), len(want), len(items)+1)
	}
	for i := range got {
		sameItem(t, "row after the fill", got[i], want[i])
	}
	b, s := bulk.verifyChain(t), single.verifyChain(t)
	if b.Rows != int64(len(items)+2) || b.HeadHash != s.HeadHash {
		t.Errorf("audit after the fill: %d rows, head %q; after single commits %d, %q", b.Rows, b.HeadHash, s.Rows, s.HeadHash)
	}
}

// testFillRefuses: a fill any pair of which Commit would refuse, or with
// an audit row missing, writes nothing at all.
func testFillRefuses(t *testing.T, f *fixture) {
	evs, items := fillRows()
	other := evs[3]
	other.ObjectID = id("someone else")
	noKind := items[4]
	noKind.Kind = portal.KindUnknown
	for _, tc := range []struct {
		name  string
		evs   []portal.AuditEvent
		items []portal.InventoryItem
	}{
		{"an audit row missing", evs[:len(evs)-1], items},
		{"an audit row about another object", slices.Concat(evs[:3], []portal.AuditEvent{other}, evs[4:]), items},
		{"no kind", evs, slices.Concat(items[:4], []portal.InventoryItem{noKind}, items[5:])},
	} {
		if err := f.Store.(Filler).FillInventory(f.ctx, tc.evs, tc.items); portal.ErrorCode(err) != portal.EINVALID {
			t.Errorf("%s: %v, want EINVALID", tc.name, err)
		}
	}
	if rows := f.allItems(t); len(rows) != 0 {
		t.Errorf("refused fills wrote %d rows", len(rows))
	}
	if rows := f.walk(t, portal.GUID{}); len(rows) != 0 {
		t.Errorf("refused fills wrote %d audit rows", len(rows))
	}
}

// allItems is every row of every tenant, in (tenant, object) order.
func (f *fixture) allItems(t *testing.T) []portal.InventoryItem {
	t.Helper()
	var out []portal.InventoryItem
	if err := f.AllItems(f.ctx, portal.GUID{}, func(it portal.InventoryItem) error {
		out = append(out, it)
		return nil
	}); err != nil {
		t.Fatalf("AllItems: %v", err)
	}
	return out
}
