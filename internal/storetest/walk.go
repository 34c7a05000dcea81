package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/testclock"
)

// testAllItemsUnderChanges changes the inventory from inside AllItems' fn,
// as other requests do during a long export: the walk still gives every
// row in order at most once, and every row nobody touched. (Whether it
// sees a row added or removed meanwhile is left open.) Stores run the
// suite with a few rows per chunk, so the changes fall in chunks not yet
// read.
func testAllItemsUnderChanges(t *testing.T, f *fixture) {
	var items []portal.InventoryItem
	for i := range 12 {
		items = append(items, userItem(tenantA, fmt.Sprint("walk", i), fmt.Sprint("W", i), "desktop"))
	}
	f.put(t, items...)
	sorted := sortedByObject(items)
	// The change happens after the fifth row: one row ahead of it is
	// removed, one is relabelled, and two are added, one on each side.
	gone, relabelled := sorted[8], sorted[10]
	touched := map[portal.GUID]bool{gone.ObjectID: true, relabelled.ObjectID: true}
	added := []portal.InventoryItem{userItem(tenantA, "walk added 1", "A1"), userItem(tenantA, "walk added 2", "A2")}
	var seen []portal.InventoryItem
	err := f.AllItems(f.ctx, tenantA, func(it portal.InventoryItem) error {
		seen = append(seen, it)
		if len(seen) == 5 {
			f.commit(t, portal.InventoryDelete, gone)
			relabelled.Label = "relabelled"
			f.commit(t, portal.InventoryPut, relabelled)
			f.put(t, added...)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i-1].ObjectID.String() >= seen[i].ObjectID.String() {
			t.Fatalf("AllItems under changes: row %d (%s) does not follow row %d (%s)", i, seen[i].ObjectID, i-1, seen[i-1].ObjectID)
		}
	}
	got := map[portal.GUID]bool{}
	for _, it := range seen {
		got[it.ObjectID] = true
	}
	for _, it := range sorted {
		if !touched[it.ObjectID] && !got[it.ObjectID] {
			t.Errorf("AllItems under changes skipped %s (%s), which nobody changed", it.Label, it.ObjectID)
		}
	}
}

// testWalkAuditUnderAppends appends from inside WalkAudit's fn: the walk
// gives every row in Seq order once, the rows appended meanwhile
// included or not, and the chain it saw verifies.
func testWalkAuditUnderAppends(t *testing.T, f *fixture) {
	for i := range 10 {
		f.put(t, userItem(tenantA, fmt.Sprint("audit walk", i), fmt.Sprint("AW", i)))
	}
	var c portal.ChainCheck
	appended := false
	err := f.WalkAudit(f.ctx, portal.GUID{}, func(ev portal.AuditEvent) error {
		if ev.Seq != c.Rows+1 {
			t.Fatalf("WalkAudit under appends: row %d after %d rows", ev.Seq, c.Rows)
		}
		c.Check(ev)
		if ev.Seq == 4 && !appended {
			appended = true
			f.put(t, userItem(tenantA, "audit walk added", "AW+"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Intact() || c.Rows < 10 {
		t.Errorf("WalkAudit under appends saw %d rows, chain intact %v (%s)", c.Rows, c.Intact(), c.Problem)
	}
}

func sortedByObject(items []portal.InventoryItem) []portal.InventoryItem {
	out := slices.Clone(items)
	slices.SortFunc(out, func(a, b portal.InventoryItem) int { return strings.Compare(a.ObjectID.String(), b.ObjectID.String()) })
	return out
}

// RunOneConnection checks what a store with one connection of its pool
// free must still do: serve reads and writes from inside AllItems' and
// WalkAudit's fn, as a web request must while an export streams to a slow
// client. A walk that held that connection while fn ran would leave
// nothing for them; each call here gives up after a minute rather than
// hang, and the test fails. The store should read a few rows per chunk,
// so that fn runs between chunks.
func RunOneConnection(t *testing.T, st portal.Store) {
	f := &fixture{Store: st, clock: testclock.New(t0), ctx: context.Background()}
	for i := range 7 {
		f.put(t, userItem(tenantA, fmt.Sprint("one", i), fmt.Sprint("O", i)))
	}
	inside := func(t *testing.T, what string, n int) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := st.GetItem(ctx, tenantA, id("one0")); err != nil {
			t.Fatalf("GetItem inside %s's fn: %v", what, err)
		}
		it := userItem(tenantA, fmt.Sprint("one added ", what, n), "O+")
		if _, _, err := st.Commit(ctx, eventFor(it, portal.ActionGrant), portal.InventoryChange{Op: portal.InventoryPut, Item: it}); err != nil {
			t.Fatalf("Commit inside %s's fn: %v", what, err)
		}
	}
	n := 0
	if err := st.AllItems(f.ctx, tenantA, func(portal.InventoryItem) error {
		if n++; n <= 2 {
			inside(t, "AllItems", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	n = 0
	if err := st.WalkAudit(f.ctx, tenantA, func(portal.AuditEvent) error {
		if n++; n <= 2 {
			inside(t, "WalkAudit", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
