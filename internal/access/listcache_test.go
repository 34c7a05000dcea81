package access_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
)

// The list answered from memory is the store's answer, filter for filter,
// after every kind of change, including changes made by another instance.
func TestListMatchesStore(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	other := access.New(access.Config{ACS: nil, Store: e.db}) // a second instance on the same database
	rnd := rand.New(rand.NewPCG(1, 2))
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	actor := portal.Actor{TenantID: contoso, Name: "System (test)"}
	labels := []string{"", "Alice", "alice smith", "Bob", "Émile", "Zoë", "ß straße", "100%_done"}
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
	filters := []portal.InventoryFilter{{}, {Limit: 7, Offset: 3}, {Desc: true, Limit: 500}}
	for _, s := range portal.InventorySorts {
		filters = append(filters, portal.InventoryFilter{Sort: s, Limit: 200}, portal.InventoryFilter{Sort: s, Desc: true, Limit: 13, Offset: 20})
	}
	for _, q := range []string{"alice", "ALICE", "9215", "0000-4000", "%", "_", "zoë", "ZOË", "nothing", "{" + appB.String() + "}", strings.ToUpper(appA.String())} {
		filters = append(filters, portal.InventoryFilter{Query: q, Limit: 200})
	}
	filters = append(filters, portal.InventoryFilter{Kind: portal.KindResourceAccount, Limit: 200}, portal.InventoryFilter{State: portal.StateDrifted, Sort: portal.SortVerified, Limit: 200})

	check := func(round int, svc *access.Service) {
		for _, f := range filters {
			f.TenantID = contoso
			want, err := e.db.ListItems(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := svc.List(ctx, admin, f)
			if err != nil {
				t.Fatal(err)
			}
			if got.Matched != want.Matched || got.Counts.All != want.Counts.All || got.Counts.Users != want.Counts.Users ||
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
