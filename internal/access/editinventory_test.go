package access_test

import (
	"context"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/portal"
)

// An edit of the end date or the label alone is the portal's own: one
// edit_inventory event with the values before and after, ACS not called,
// and the result says what changed.
func TestEditOfEndDateOrLabelAloneSkipsACS(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	first := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Minute)
	later := first.Add(60 * 24 * time.Hour)
	if _, err := e.svc.Grant(ctx, admin, access.GrantRequest{ObjectID: alice, Kind: portal.KindUser, ClientIDs: []portal.GUID{appA},
		Label: "Alice", ExpiresAt: first, Justification: "ticket 1"}); err != nil {
		t.Fatal(err)
	}
	e.emu.ResetRequests()
	rows := len(e.audit())

	res, err := e.svc.Edit(ctx, admin, access.EditRequest{ObjectID: alice, ClientIDs: []portal.GUID{appA}, Label: "Alice", ExpiresAt: later,
		Version: 1, Justification: "CHG-7 extended"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != portal.ActionEditInventory || res.Outcome != portal.OutcomeSuccess {
		t.Errorf("end date alone: action %q, outcome %q", res.Action, res.Outcome)
	}
	want := portal.FieldChange{From: first.Format(portal.AuditTimeFormat), To: later.Format(portal.AuditTimeFormat)}
	if res.Change.ExpiresAt != want || res.Change.Label.Changed() || res.Change.AppsChanged() {
		t.Errorf("end date alone changed %+v, want only the end date %+v", res.Change, want)
	}
	if res.Detail != "ACS was not called: the end date lives in the portal." {
		t.Errorf("detail %q", res.Detail)
	}
	if reqs := e.emu.Requests(); len(reqs) != 0 {
		t.Errorf("ACS was called %d time(s) for an end date, first %s %s", len(reqs), reqs[0].Method, reqs[0].RequestURI)
	}
	if res.Item.Version != 2 || !res.Item.ExpiresAt.Equal(later) {
		t.Errorf("the row is at version %d, ending %v; want 2, %v", res.Item.Version, res.Item.ExpiresAt, later)
	}
	evs := e.audit()
	if len(evs) != rows+1 {
		t.Fatalf("%d audit rows written, want 1 event", len(evs)-rows)
	}
	ev := evs[len(evs)-1]
	if ev.Action != portal.ActionEditInventory || ev.Phase != portal.PhaseEvent || ev.Outcome != portal.OutcomeSuccess ||
		ev.Justification != "CHG-7 extended" || ev.Detail != res.Detail || ev.ObjectID != alice {
		t.Errorf("the audit row is %+v", ev)
	}
	if got := portal.CompareStates(ev.Before, ev.After); got.ExpiresAt != want || got.Label.Changed() || got.AppsChanged() {
		t.Errorf("the audit row's before → after is %+v, want the end date %+v", got, want)
	}

	// The label alone.
	res, err = e.svc.Edit(ctx, admin, access.EditRequest{ObjectID: alice, ClientIDs: []portal.GUID{appA}, Label: "Alice, desk 4", ExpiresAt: later, Version: 2})
	if err != nil || res.Action != portal.ActionEditInventory || res.Change.Label != (portal.FieldChange{From: "Alice", To: "Alice, desk 4"}) ||
		res.Detail != "ACS was not called: the label lives in the portal." {
		t.Errorf("label alone: %+v, %v", res, err)
	}
	// Both, and the end date removed.
	res, err = e.svc.Edit(ctx, admin, access.EditRequest{ObjectID: alice, ClientIDs: []portal.GUID{appA}, Label: "Alice", Version: 3})
	if err != nil || res.Action != portal.ActionEditInventory || res.Change.ExpiresAt.To != "" || !res.Change.Label.Changed() ||
		res.Detail != "ACS was not called: the end date and the label live in the portal." {
		t.Errorf("end date removed and label: %+v, %v", res, err)
	}
	if reqs := e.emu.Requests(); len(reqs) != 0 {
		t.Errorf("ACS was called %d time(s) for end dates and labels", len(reqs))
	}

	// Apps and the end date together: an edit through ACS whose rows show
	// both.
	res, err = e.svc.Edit(ctx, admin, access.EditRequest{ObjectID: alice, ClientIDs: []portal.GUID{appA, appB}, Label: "Alice", ExpiresAt: later, Version: 4})
	if err != nil || res.Action != portal.ActionEdit || res.Outcome != portal.OutcomeSuccess {
		t.Fatalf("apps and end date: %+v, %v", res, err)
	}
	if held, _ := e.acsHolds(alice); len(held.ClientIDs) != 2 {
		t.Errorf("ACS holds %v", held.ClientIDs)
	}
	evs = e.audit()
	intent, out := evs[len(evs)-2], evs[len(evs)-1]
	if intent.Phase != portal.PhaseIntent || out.Phase != portal.PhaseOutcome || out.Action != portal.ActionEdit || out.IntentSeq != intent.Seq {
		t.Fatalf("apps and end date recorded as %+v then %+v", intent, out)
	}
	got := portal.CompareStates(out.Before, out.After)
	if len(got.AppsAdded) != 1 || got.AppsAdded[0] != appB.String() || got.ExpiresAt.To != want.To || got.ExpiresAt.From != "" || got.Label.Changed() {
		t.Errorf("apps and end date: the outcome's before → after is %+v", got)
	}
	if res.Change.AppsAdded[0] != appB.String() || !res.Change.ExpiresAt.Changed() {
		t.Errorf("apps and end date: the result says %+v", res.Change)
	}
}

// On a row whose last verification found drift, saving writes the
// inventory's apps to ACS, as before, even when only the label changed.
func TestEditOfLabelOnDriftedRowRepairsThroughACS(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.grant(admin, alice, portal.KindUser, appA)
	e.emu.Seed(acsemu.Stored{Host: e.host, TenantID: contoso, ObjectID: alice, PrincipalType: "user", ClientIDs: []string{appB.String()}})
	if _, err := e.svc.Verify(ctx, admin, alice); err != nil {
		t.Fatal(err)
	}
	item, _ := e.db.GetItem(ctx, contoso, alice)
	if item.State != portal.StateDrifted {
		t.Fatalf("state %q", item.State)
	}
	res, err := e.svc.Edit(ctx, admin, access.EditRequest{ObjectID: alice, ClientIDs: []portal.GUID{appA}, Label: "new", Version: item.Version})
	if err != nil || res.Action != portal.ActionEdit || res.Outcome != portal.OutcomeSuccess {
		t.Fatalf("label on a drifted row: %+v, %v", res, err)
	}
	if held, _ := e.acsHolds(alice); len(held.ClientIDs) != 1 || held.ClientIDs[0] != appA.String() {
		t.Errorf("ACS holds %v, want the inventory's app written back", held.ClientIDs)
	}
}

// If its audit row cannot be written, an edit of the end date changes
// nothing.
func TestEditOfEndDateFailsClosed(t *testing.T) {
	ctx := context.Background()
	healthy := newEnv(t)
	healthy.grant(admin, alice, portal.KindUser, appA)
	cfg := healthy.cfg
	cfg.Store = failingAudit{healthy.db}
	svc := access.New(cfg)
	_, err := svc.Edit(ctx, admin, access.EditRequest{ObjectID: alice, ClientIDs: []portal.GUID{appA}, Label: "L",
		ExpiresAt: time.Now().Add(48 * time.Hour), Version: 1})
	if portal.ErrorCode(err) != portal.EUNAVAILABLE {
		t.Errorf("edit with a broken audit log: %v", err)
	}
	if item, _ := healthy.db.GetItem(ctx, contoso, alice); item.Version != 1 || !item.ExpiresAt.IsZero() {
		t.Errorf("the row changed: %+v", item)
	}
}

// A person's user name is cached at sign-in, once, and finds them for the
// audit log's Who filter, whatever its case.
func TestSignedInNameFindsThePerson(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	u := admin.User
	u.UPN = "Adele@Contoso.test"
	if err := e.svc.KeepSignedInName(ctx, u); err != nil {
		t.Fatal(err)
	}
	rev, _ := e.db.NamesRevision(ctx, contoso)
	if err := e.svc.KeepSignedInName(ctx, u); err != nil {
		t.Fatal(err)
	}
	if again, _ := e.db.NamesRevision(ctx, contoso); again != rev {
		t.Errorf("signing in again with the same name rewrote it: revision %d → %d", rev, again)
	}
	n, err := e.svc.PersonByUPN(ctx, auditor, "adele@contoso.TEST")
	if err != nil || n.ID != u.ObjectID || n.DisplayName != "Adele Admin" {
		t.Errorf("by user name: %+v, %v", n, err)
	}
	if _, err := e.svc.PersonByUPN(ctx, auditor, "adele@contoso"); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("part of a user name: %v", err)
	}
	other := person(fabrikam, portal.RoleAuditor)
	if _, err := e.svc.PersonByUPN(ctx, other, u.UPN); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("another tenant's auditor found Contoso's admin: %v", err)
	}
}
