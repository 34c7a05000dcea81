package access_test

import (
	"context"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/portal"
)

var system = access.Who{User: portal.User{Roles: []portal.Role{portal.RoleAdmin}}, System: "reconcile"}

func (e *env) audited(action portal.AuditAction) int {
	n := 0
	for _, ev := range e.audit() {
		if ev.Action == action {
			n++
		}
	}
	return n
}

// Reconcile finds drift made behind the portal's back, audits only what
// changed, and the drift report offers both ways back.
func TestReconcileAndRepair(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	bob := portal.MustParseGUID("4b7f3b1e-2f0c-4e6a-9d0c-5a1b2c3d4e01")
	carol := portal.MustParseGUID("7c1d9e2f-3a4b-4c5d-8e6f-7a8b9c0d1e02")
	e.grant(admin, alice, portal.KindUser, appA)
	e.grant(admin, bob, portal.KindUser, appA)
	e.grant(admin, carol, portal.KindUser, appA)
	e.grant(admin, room, portal.KindResourceAccount)
	// Behind the portal's back: bob's apps changed, carol removed, the room
	// spelt the spec's way.
	e.emu.Seed(acsemu.Stored{Host: e.host, TenantID: contoso, ObjectID: bob, PrincipalType: "user", ClientIDs: []string{appB.String()}})
	e.emu.Remove(e.host, contoso, carol)
	e.emu.Seed(acsemu.Stored{Host: e.host, TenantID: contoso, ObjectID: room, PrincipalType: "resourceAccount"})

	verifies := e.audited(portal.ActionVerify)
	if _, err := e.svc.List(ctx, admin, portal.InventoryFilter{}); err != nil { // warm the index
		t.Fatal(err)
	}
	firstRun := time.Now().Add(-time.Millisecond)
	rep, err := e.svc.Reconcile(ctx, system, portal.GUID{})
	if err != nil {
		t.Fatal(err)
	}
	// Rows found in sync were only touched (no audit rows of their own),
	// beside rows that changed state: the index must still see them.
	if item, err := e.svc.Item(ctx, admin, alice); err != nil || item.VerifiedAt.Before(firstRun) {
		t.Fatalf("alice: %v, %v", item.VerifiedAt, err)
	}
	if page, _ := e.svc.List(ctx, admin, portal.InventoryFilter{Query: alice.String()}); len(page.Items) != 1 || page.Items[0].VerifiedAt.Before(firstRun) {
		t.Errorf("the list shows alice verified at %v, before the run", page.Items[0].VerifiedAt)
	}
	if rep.Checked != 4 || rep.InSync != 2 || rep.Drifted != 1 || rep.Missing != 1 || rep.Changed != 3 || rep.Failed != 0 {
		t.Fatalf("report: %+v", rep)
	}
	if n := e.audited(portal.ActionVerify) - verifies; n != 3 {
		t.Errorf("%d verify rows, want 3 (the state changes only)", n)
	}
	if e.audited(portal.ActionReconcile) != 1 {
		t.Error("no reconcile summary row")
	}
	drift, err := e.svc.Drift(ctx, auditor)
	if err != nil {
		t.Fatal(err)
	}
	if len(drift.Drifted) != 1 || drift.Drifted[0].ObjectID != bob || len(drift.Missing) != 1 || drift.Missing[0].ObjectID != carol ||
		len(drift.Spelling) != 1 || drift.Spelling[0].Observed.Spelling != "resourceAccount" || drift.LastRun == nil {
		t.Fatalf("drift report: %+v", drift)
	}

	// A second run finds nothing new: no verify rows, times touched, and
	// the list (served from its index) shows the new times.
	before := e.audited(portal.ActionVerify)
	if _, err := e.svc.List(ctx, admin, portal.InventoryFilter{}); err != nil { // warm the index
		t.Fatal(err)
	}
	secondRun := time.Now().Add(-time.Millisecond)
	rep, err = e.svc.Reconcile(ctx, system, contoso)
	if err != nil || rep.Changed != 0 || rep.Checked != 4 {
		t.Fatalf("second run: %+v, %v", rep, err)
	}
	if e.audited(portal.ActionVerify) != before {
		t.Error("a run that found nothing new wrote verify rows")
	}
	page, err := e.svc.List(ctx, admin, portal.InventoryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range page.Items {
		if it.VerifiedAt.Before(secondRun) {
			t.Errorf("%s: the list shows verification time %v from before the second run", it.ObjectID, it.VerifiedAt)
		}
	}

	// Re-apply bob's inventory state; accept carol's removal.
	bobItem, _ := e.db.GetItem(ctx, contoso, bob)
	if _, err := e.svc.Reapply(ctx, admin, access.RepairRequest{ObjectID: bob, Version: bobItem.Version}); err != nil {
		t.Fatalf("reapply: %v", err)
	}
	if held, _ := e.acsHolds(bob); len(held.ClientIDs) != 1 || held.ClientIDs[0] != appA.String() {
		t.Errorf("ACS holds %v after re-apply", held.ClientIDs)
	}
	carolItem, _ := e.db.GetItem(ctx, contoso, carol)
	if _, err := e.svc.Accept(ctx, admin, access.RepairRequest{ObjectID: carol, Version: carolItem.Version}); err != nil {
		t.Fatalf("accept: %v", err)
	}
	if _, err := e.db.GetItem(ctx, contoso, carol); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("carol still in the inventory: %v", err)
	}
	// Accept the other way: ACS's client IDs into the inventory.
	e.emu.Seed(acsemu.Stored{Host: e.host, TenantID: contoso, ObjectID: alice, PrincipalType: "user", ClientIDs: []string{appA.String(), appB.String()}})
	if _, err := e.svc.Reconcile(ctx, system, contoso); err != nil {
		t.Fatal(err)
	}
	aliceItem, _ := e.db.GetItem(ctx, contoso, alice)
	// ACS moves again after the report: both refuse, since either would
	// act on a state nobody has seen.
	e.emu.Seed(acsemu.Stored{Host: e.host, TenantID: contoso, ObjectID: alice, PrincipalType: "user", ClientIDs: []string{appB.String()}})
	if _, err := e.svc.Reapply(ctx, admin, access.RepairRequest{ObjectID: alice, Version: aliceItem.Version}); portal.ErrorCode(err) != portal.ECONFLICT {
		t.Errorf("re-apply over a newer change: %v", err)
	}
	if _, err := e.svc.Accept(ctx, admin, access.RepairRequest{ObjectID: alice, Version: aliceItem.Version}); portal.ErrorCode(err) != portal.ECONFLICT {
		t.Errorf("accept of a newer change: %v", err)
	}
	// A page made before the next verification is refused too (Seen).
	stale := access.Seen(aliceItem)
	if _, err := e.svc.Reconcile(ctx, system, contoso); err != nil {
		t.Fatal(err)
	}
	aliceItem, _ = e.db.GetItem(ctx, contoso, alice)
	if _, err := e.svc.Accept(ctx, admin, access.RepairRequest{ObjectID: alice, Version: aliceItem.Version, Seen: stale}); portal.ErrorCode(err) != portal.ECONFLICT {
		t.Errorf("accept from a page older than the last verification: %v", err)
	}
	res, err := e.svc.Accept(ctx, admin, access.RepairRequest{ObjectID: alice, Version: aliceItem.Version, Seen: access.Seen(aliceItem)})
	if err != nil || len(res.Item.ClientIDs) != 1 || res.Item.ClientIDs[0] != appB || res.Item.State != portal.StateInSync {
		t.Fatalf("accept: %+v, %v", res.Item, err)
	}
	// Helpdesk cannot repair a resource account; auditors nothing.
	roomItem, _ := e.db.GetItem(ctx, contoso, room)
	if _, err := e.svc.Accept(ctx, helpdesk, access.RepairRequest{ObjectID: room, Version: roomItem.Version}); portal.ErrorCode(err) != portal.EFORBIDDEN {
		t.Errorf("helpdesk accept of a resource account: %v", err)
	}
	if _, err := e.svc.Reapply(ctx, auditor, access.RepairRequest{ObjectID: bob, Version: 1}); portal.ErrorCode(err) != portal.EFORBIDDEN {
		t.Errorf("auditor re-apply: %v", err)
	}
	// The list index saw every change, including the touched times.
	page, err = e.svc.List(ctx, admin, portal.InventoryFilter{State: portal.StateMissing})
	if err != nil || page.Matched != 0 {
		t.Errorf("list of missing after the repairs: %d, %v", page.Matched, err)
	}
}

// ACS failing for some rows: they are counted, their state kept.
func TestReconcileUnderFaults(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.grant(admin, alice, portal.KindUser, appA)
	e.grant(admin, room, portal.KindResourceAccount)
	e.emu.Script(acsemu.Fault{Status: 503}, acsemu.Fault{Status: 503}, acsemu.Fault{Status: 503})
	rep, err := e.svc.Reconcile(ctx, system, portal.GUID{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Checked+rep.Failed != 2 || rep.Missing != 0 || rep.Drifted != 0 {
		t.Fatalf("report: %+v", rep)
	}
}

// The review's scenario: a user row that ACS holds as a resource account
// (changed outside the portal). Helpdesk may verify it, but never edit,
// re-apply or revoke it: that would end a resource account's consent.
func TestHelpdeskCannotTouchAResourceAccountHiddenBehindAUserRow(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.grant(admin, alice, portal.KindUser, appA)
	e.emu.Seed(acsemu.Stored{Host: e.host, TenantID: contoso, ObjectID: alice, PrincipalType: "teamsResourceAccount"})
	before := e.writes()
	// Revoke before any verification: the GET finds the resource account.
	if _, err := e.svc.Revoke(ctx, helpdesk, access.RevokeRequest{ObjectID: alice, Version: 1}); portal.ErrorCode(err) != portal.EFORBIDDEN {
		t.Errorf("helpdesk revoke: %v", err)
	}
	if _, err := e.svc.Edit(ctx, helpdesk, access.EditRequest{ObjectID: alice, ClientIDs: []portal.GUID{appB}, Version: 1}); portal.ErrorCode(err) != portal.EFORBIDDEN {
		t.Errorf("helpdesk edit: %v", err)
	}
	if _, err := e.svc.Verify(ctx, helpdesk, alice); err != nil {
		t.Fatalf("helpdesk verify: %v", err)
	}
	item, _ := e.db.GetItem(ctx, contoso, alice)
	if err := access.MayChangeItem(helpdesk.User, item); portal.ErrorCode(err) != portal.EFORBIDDEN {
		t.Errorf("MayChangeItem after the drift was seen: %v", err)
	}
	for name, err := range map[string]error{
		"edit":    second(e.svc.Edit(ctx, helpdesk, access.EditRequest{ObjectID: alice, ClientIDs: []portal.GUID{appA}, Version: item.Version})),
		"reapply": second(e.svc.Reapply(ctx, helpdesk, access.RepairRequest{ObjectID: alice, Version: item.Version})),
		"revoke":  second(e.svc.Revoke(ctx, helpdesk, access.RevokeRequest{ObjectID: alice, Version: item.Version})),
	} {
		if portal.ErrorCode(err) != portal.EFORBIDDEN {
			t.Errorf("helpdesk %s after the drift was seen: %v", name, err)
		}
	}
	if e.writes() != before {
		t.Error("ACS was written")
	}
	if held, ok := e.acsHolds(alice); !ok || held.PrincipalType != "teamsResourceAccount" {
		t.Errorf("ACS holds %+v", held)
	}
}

func second[T any](_ T, err error) error { return err }
