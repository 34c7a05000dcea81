package access_test

import (
	"context"
	"strings"
	"testing"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/portal"
)

func TestGrantFindingExactlyItInACSRecordsIt(t *testing.T) {
	e := newEnv(t)
	e.emu.Seed(acsemu.Stored{Host: e.host, TenantID: contoso, ObjectID: alice, PrincipalType: "user", ClientIDs: []string{appA.String()}})
	res, err := e.svc.Grant(context.Background(), admin, access.GrantRequest{ObjectID: alice, Kind: portal.KindUser, ClientIDs: []portal.GUID{appA}, Label: "Alice"})
	if err != nil || res.Outcome != portal.OutcomeNoChange || res.Item.Label != "Alice" || res.Item.Version != 1 {
		t.Fatalf("Grant = %+v, %v; want no_change, recorded", res, err)
	}
	if e.writes() != 0 {
		t.Error("ACS was written although it held exactly this")
	}
}

func TestUncheckedGrantIsOneCallAndSaysWhatItReplaced(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res, err := e.svc.Grant(ctx, admin, access.GrantRequest{ObjectID: alice, Kind: portal.KindUser, ClientIDs: []portal.GUID{appA}, Unchecked: true})
	if err != nil || !res.Created || len(e.emu.Requests()) != 1 {
		t.Fatalf("Grant = %+v, %v after %d ACS calls; want created with one", res, err, len(e.emu.Requests()))
	}
	e.emu.Seed(acsemu.Stored{Host: e.host, TenantID: contoso, ObjectID: room, PrincipalType: "user", ClientIDs: []string{appB.String()}})
	res, err = e.svc.Grant(ctx, admin, access.GrantRequest{ObjectID: room, Kind: portal.KindUser, ClientIDs: []portal.GUID{appA}, Unchecked: true})
	if err != nil || res.Created || !strings.Contains(res.Detail, "replaced") {
		t.Fatalf("Grant over an unseen assignment = %+v, %v; want success saying it replaced one", res, err)
	}
	// Helpdesk never skips the check: it could replace a resource account.
	e.emu.ResetRequests()
	e.emu.Seed(acsemu.Stored{Host: e.host, TenantID: contoso, ObjectID: appB, PrincipalType: "teamsResourceAccount"})
	_, err = e.svc.Grant(ctx, helpdesk, access.GrantRequest{ObjectID: appB, Kind: portal.KindUser, ClientIDs: []portal.GUID{appA}, Unchecked: true})
	if portal.ErrorCode(err) != portal.ECONFLICT || e.writes() != 0 {
		t.Fatalf("helpdesk's unchecked grant over a resource account: %v, %d writes; want conflict, none", err, e.writes())
	}
}

func TestEditChangesAResourceAccountsLabel(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	granted := e.grant(admin, room, portal.KindResourceAccount)
	res, err := e.svc.Edit(ctx, admin, access.EditRequest{ObjectID: room, Label: "Main line", Version: granted.Item.Version})
	if err != nil || res.Item.Label != "Main line" || res.Item.Kind != portal.KindResourceAccount {
		t.Fatalf("Edit = %+v, %v", res, err)
	}
	if _, err := e.svc.Edit(ctx, admin, access.EditRequest{ObjectID: room, ClientIDs: []portal.GUID{appA}, Version: res.Item.Version}); portal.ErrorCode(err) != portal.EINVALID {
		t.Errorf("client IDs for a resource account: %v, want invalid", err)
	}
}

func TestApplyRow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	who := admin
	who.Via = "bulk job test, line 2"
	create := portal.JobRow{PlanRow: portal.PlanRow{Line: 2, Class: portal.PlanCreate, ObjectID: alice, Kind: portal.KindUser, ClientIDs: []portal.GUID{appA}, Label: "Alice"}}
	res, retry := e.svc.ApplyRow(ctx, who, "wave 1", create, false, true)
	if res.Outcome != portal.OutcomeSuccess || retry || res.RequestID == "" {
		t.Fatalf("ApplyRow(create) = %+v, %v", res, retry)
	}
	evs := e.audit()
	if last := evs[len(evs)-1]; last.Justification != "wave 1" || !strings.HasSuffix(last.Detail, "(bulk job test, line 2)") && last.Detail != "bulk job test, line 2" {
		t.Errorf("audit outcome = %+v; want the job's justification and where it came from", last)
	}
	// Taken again (its first run died after the write): settled from the
	// inventory, nothing written twice.
	e.emu.ResetRequests()
	n := len(e.audit())
	if res, _ := e.svc.ApplyRow(ctx, who, "wave 1", create, true, true); res.Outcome != portal.OutcomeNoChange || e.writes() != 0 || !strings.Contains(res.Detail, "already") {
		t.Fatalf("ApplyRow(create) again = %+v with %d writes", res, e.writes())
	}
	if evs := e.audit(); len(evs) != n+1 || evs[n].Outcome != portal.OutcomeNoChange || evs[n].Action != portal.ActionGrant {
		t.Errorf("a row settled from the inventory has no record of its own: %+v", evs[n:])
	}
	// A PUT that landed but was never recorded is recorded, not repeated.
	e.emu.Seed(acsemu.Stored{Host: e.host, TenantID: contoso, ObjectID: room, PrincipalType: "teamsResourceAccount"})
	lost := portal.JobRow{PlanRow: portal.PlanRow{Line: 3, Class: portal.PlanCreate, ObjectID: room, Kind: portal.KindResourceAccount}}
	if res, _ := e.svc.ApplyRow(ctx, who, "", lost, true, true); res.Outcome != portal.OutcomeNoChange || e.writes() != 0 {
		t.Fatalf("ApplyRow(landed create) = %+v with %d writes; want no_change", res, e.writes())
	}
	// An update planned against a version that has moved: a conflict, and
	// its own audit row although nothing reached the intent.
	item, _ := e.db.GetItem(ctx, contoso, alice)
	before := item
	before.Version--
	update := portal.JobRow{PlanRow: portal.PlanRow{Line: 4, Class: portal.PlanUpdate, ObjectID: alice, Kind: portal.KindUser, ClientIDs: []portal.GUID{appB}, Before: &before}}
	n = len(e.audit())
	res, retry = e.svc.ApplyRow(ctx, who, "", update, false, true)
	if res.Outcome != portal.OutcomeConflict || retry {
		t.Fatalf("ApplyRow(stale update) = %+v, %v", res, retry)
	}
	if evs := e.audit(); len(evs) != n+1 || evs[n].Action != portal.ActionEdit || evs[n].Outcome != portal.OutcomeConflict || !strings.Contains(evs[n].Detail, "line 2") {
		t.Errorf("audit after a refused row = %+v", evs[n:])
	}
}

// A retried update whose PUT landed before the crash (ACS holds the
// proposal, the inventory still the planned version) is recorded, not
// called a conflict; a retried accept whose row was changed back by
// someone is not taken as applied.
func TestApplyRowSettlesLandedWrites(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	granted := e.grant(admin, alice, portal.KindUser, appA)
	before := granted.Item
	e.emu.Seed(acsemu.Stored{Host: e.host, TenantID: contoso, ObjectID: alice, PrincipalType: "user", ClientIDs: []string{appB.String()}})
	update := portal.JobRow{PlanRow: portal.PlanRow{Line: 2, Class: portal.PlanUpdate, ObjectID: alice, Kind: portal.KindUser,
		ClientIDs: []portal.GUID{appB}, Label: "L", Before: &before}}
	res, retry := e.svc.ApplyRow(ctx, admin, "", update, true, true)
	item, _ := e.db.GetItem(ctx, contoso, alice)
	if res.Outcome != portal.OutcomeNoChange || retry || len(item.ClientIDs) != 1 || item.ClientIDs[0] != appB || item.State != portal.StateInSync {
		t.Fatalf("retried update = %+v; inventory %+v", res, item)
	}

	// Drift: ACS holds appA again (the report's observation), someone
	// edits the inventory back to appA; the accept row must not count as
	// applied from that.
	e.emu.Seed(acsemu.Stored{Host: e.host, TenantID: contoso, ObjectID: alice, PrincipalType: "user", ClientIDs: []string{appA.String()}})
	v, _ := e.svc.Verify(ctx, admin, alice)
	drifted := v.Item
	accept := portal.JobRow{PlanRow: portal.PlanRow{Line: 3, Class: portal.PlanAccept, ObjectID: alice, Kind: portal.KindUser, Before: &drifted}}
	if _, err := e.svc.Reapply(ctx, admin, access.RepairRequest{ObjectID: alice, Version: drifted.Version, Seen: access.Seen(drifted)}); err != nil {
		t.Fatal(err)
	}
	res, _ = e.svc.ApplyRow(ctx, admin, "", accept, true, true)
	if res.Outcome == portal.OutcomeNoChange || res.Outcome == portal.OutcomeSuccess {
		t.Errorf("an accept overtaken by a re-apply reported %s (%s)", res.Outcome, res.Detail)
	}
}
