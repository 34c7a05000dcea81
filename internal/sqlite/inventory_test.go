package sqlite_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/sqlite"
)

// TestDerivedTablesFollowChanges: the totals and the client-ID list that
// triggers keep match a recount after every kind of change.
func TestDerivedTablesFollowChanges(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	other := portal.MustParseGUID("72f988bf-86f1-41af-91ab-2d7cd011db47")
	rng := rand.New(rand.NewPCG(1, 2))
	apps := []portal.GUID{guid("app", 0), guid("app", 1), guid("app", 2), guid("app", 3)}
	for i := range 150 {
		tn := []portal.GUID{tenant, other}[rng.IntN(2)]
		it := portal.InventoryItem{
			Assignment: portal.Assignment{TenantID: tn, ObjectID: guid("derived", rng.IntN(40)), Kind: portal.KindUser},
			UpdatedAt:  t0, UpdatedBy: admin, State: portal.VerifyStates[rng.IntN(4)], VerifiedAt: t0,
		}
		for _, app := range apps {
			if rng.IntN(2) == 0 {
				it.ClientIDs = append(it.ClientIDs, app)
			}
		}
		if len(it.ClientIDs) == 0 {
			it.Kind = portal.KindResourceAccount
		}
		ev := portal.AuditEvent{Time: t0, Actor: admin, TenantID: tn, ObjectID: it.ObjectID, Action: portal.ActionEdit}
		op := []portal.InventoryOp{portal.InventoryPut, portal.InventoryPut, portal.InventoryDelete, portal.InventoryVerified}[rng.IntN(4)]
		_, _, err := db.Commit(ctx, ev, portal.InventoryChange{Op: op, Item: it})
		if err != nil && portal.ErrorCode(err) != portal.ENOTFOUND {
			t.Fatalf("change %d: %v", i, err)
		}
		if n, err := db.DerivedMismatches(ctx); err != nil || n != 0 {
			t.Fatalf("after change %d (%v of %s): %d mismatches, %v", i, op, it.Kind, n, err)
		}
	}
	// The recount does see a difference.
	if err := db.ExecBehindTheStore(ctx, `UPDATE inventory_totals SET n = n + 1 WHERE tenant_id = ?`, tenant.String()); err != nil {
		t.Fatal(err)
	}
	if n, err := db.DerivedMismatches(ctx); err != nil || n == 0 {
		t.Fatalf("a changed total went unnoticed: %d, %v", n, err)
	}
}

// TestListItemsDenseSearch covers the ways ListItems finds a search's page
// when many rows match: each must give exactly the rows and order of the
// unfiltered list, filtered. (With fewMatches at 20 and pages of 10, as if
// the tenant had 25 times as many rows.)
func TestListItemsDenseSearch(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	sqlite.SetFewMatches(t, 20)
	const n, size = 300, 10
	items := make([]portal.InventoryItem, 0, n)
	for i := range n {
		it := portal.InventoryItem{
			Assignment: portal.Assignment{TenantID: tenant, ObjectID: guid("dense", i), Kind: portal.KindUser, ClientIDs: []portal.GUID{guid("app", i%3)}},
			Label:      fmt.Sprintf("row %d", i),
			CreatedAt:  t0, CreatedBy: admin, UpdatedAt: t0.Add(time.Duration(i%37) * time.Minute), UpdatedBy: admin,
			State: portal.VerifyStates[i%4],
		}
		if i%3 == 0 {
			it.Label = fmt.Sprintf("row %d, every third", i)
		}
		if i%7 == 0 {
			it.Kind, it.ClientIDs, it.Label = portal.KindResourceAccount, nil, ""
		}
		if i%3 != 0 {
			it.VerifiedAt = t0.Add(time.Duration(i%11) * time.Hour)
		}
		items = append(items, it)
	}
	if err := db.SeedInventory(ctx, items); err != nil {
		t.Fatal(err)
	}
	for _, s := range portal.InventorySorts {
		for _, desc := range []bool{false, true} {
			// The whole list in this order, read without a search.
			all, err := db.ListItems(ctx, portal.InventoryFilter{TenantID: tenant, Sort: s, Desc: desc, Limit: n})
			if err != nil || len(all.Items) != 200 {
				t.Fatalf("%d items, %v", len(all.Items), err)
			}
			more, err := db.ListItems(ctx, portal.InventoryFilter{TenantID: tenant, Sort: s, Desc: desc, Offset: 200, Limit: n})
			if err != nil {
				t.Fatal(err)
			}
			whole := append(all.Items, more.Items...)
			for _, tc := range []struct {
				query   string
				keep    func(portal.InventoryItem) bool
				offsets []int
			}{
				// 86 matches of 300: the first pages walk the sort's index
				// (a few rows per match), later ones sort the matches' keys
				// in the search index.
				{"THIRD", func(it portal.InventoryItem) bool { return strings.Contains(it.Label, "third") }, []int{0, 10, 40, 80, 86}},
				// Every row (every object ID has a dash).
				{"-", func(portal.InventoryItem) bool { return true }, []int{0, 70, 295}},
				// A whole client ID, in braces and upper case: 3 users in 10.
				{"{" + strings.ToUpper(guid("app", 1).String()) + "}", func(it portal.InventoryItem) bool { return slices.Contains(it.ClientIDs, guid("app", 1)) }, []int{0, 40, 80}},
			} {
				want := slices.DeleteFunc(slices.Clone(whole), func(it portal.InventoryItem) bool { return !tc.keep(it) })
				for _, off := range tc.offsets {
					page, err := db.ListItems(ctx, portal.InventoryFilter{TenantID: tenant, Query: tc.query, Sort: s, Desc: desc, Offset: off, Limit: size})
					if err != nil {
						t.Fatal(err)
					}
					w := want[min(off, len(want)):min(off+size, len(want))]
					if page.Matched != len(want) || !slices.EqualFunc(page.Items, w, func(a, b portal.InventoryItem) bool { return a.ObjectID == b.ObjectID }) {
						t.Errorf("sort %s desc=%v query %q offset %d: matched %d (want %d), items %q, want %q",
							s, desc, tc.query, off, page.Matched, len(want), labelsOf(page.Items), labelsOf(w))
					}
				}
			}
		}
	}
}

func labelsOf(items []portal.InventoryItem) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Label)
	}
	return out
}
