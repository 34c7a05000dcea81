package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/devidp"
	"github.com/teamsphone/portal/internal/portal"
)

// syncReconciler runs a reconcile at once, in the request.
type syncReconciler struct {
	svc *access.Service
	t   *testing.T
}

func (r syncReconciler) Trigger(tenant portal.GUID) bool {
	who := access.Who{User: portal.User{TenantID: tenant, Roles: []portal.Role{portal.RoleAdmin}}, System: "reconcile"}
	if _, err := r.svc.Reconcile(context.Background(), who, tenant); err != nil {
		r.t.Errorf("reconcile: %v", err)
	}
	return true
}

func (syncReconciler) Running() bool { return false }

func TestDriftReportAndRepair(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	e.server.deps.Reconciler = syncReconciler{e.access, t}
	e.seedInventory(devidp.ContosoTenant, alice, "user", appDesktop)
	e.seedInventory(devidp.ContosoTenant, room, "teamsResourceAccount")
	// Behind the portal's back.
	e.emu.Seed(acsemu.Stored{Host: "127.0.0.1", TenantID: devidp.ContosoTenant, ObjectID: alice, PrincipalType: "user", ClientIDs: []string{appMobile.String()}})
	e.emu.Remove("127.0.0.1", devidp.ContosoTenant, room)

	admin, helpdesk, auditor := noFollow(e.as("admin@contoso.test")), noFollow(e.as("helpdesk@contoso.test")), noFollow(e.as("auditor@contoso.test"))
	if p := e.post(helpdesk, "/reconcile", url.Values{}); p.status != http.StatusForbidden {
		t.Errorf("helpdesk starts a reconcile: %d", p.status)
	}
	if p := e.post(admin, "/reconcile", url.Values{}); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/drift?after=0&") {
		t.Fatalf("reconcile now: %d %s", p.status, p.header.Get("Location"))
	}
	p := e.get(admin, "/drift")
	if drifted, _ := p.testid("drifted"); !strings.Contains(drifted, alice.String()) || !strings.Contains(drifted, "Contoso Agent Mobile") {
		t.Errorf("drifted table: %q", drifted)
	}
	if missing, _ := p.testid("missing"); !strings.Contains(missing, room.String()) {
		t.Errorf("missing table: %q", missing)
	}
	if last, _ := p.testid("last-run"); !strings.Contains(last, "checked 2") {
		t.Errorf("last run: %q", last)
	}
	assertNoncedHX(t, "drift", p)
	// Auditors read it, with nothing to press.
	p = e.get(auditor, "/drift")
	if p.status != 200 || strings.Contains(p.body, `data-testid="reapply"`) || strings.Contains(p.body, `data-testid="reconcile-now"`) {
		t.Errorf("auditor's drift page: %d", p.status)
	}
	// Helpdesk may repair the user but not the resource account.
	if p = e.post(helpdesk, "/assignments/"+room.String()+"/reapply", url.Values{"version": {"1"}}); p.status != http.StatusForbidden {
		t.Errorf("helpdesk re-applies a resource account: %d", p.status)
	}
	if p = e.post(auditor, "/assignments/"+alice.String()+"/accept", url.Values{"version": {"1"}}); p.status != http.StatusForbidden {
		t.Errorf("auditor accepts: %d", p.status)
	}
	// Admin: re-apply the user (ACS gets the inventory's app back), accept
	// the resource account's removal.
	if p = e.post(admin, "/assignments/"+alice.String()+"/reapply", url.Values{"version": {"1"}, "justification": {"restore"}}); p.status != http.StatusSeeOther {
		t.Fatalf("re-apply: %d %s", p.status, p.body)
	}
	if held, _ := e.emu.Lookup("127.0.0.1", devidp.ContosoTenant, alice); len(held.ClientIDs) != 1 || held.ClientIDs[0] != appDesktop.String() {
		t.Errorf("ACS holds %v after re-apply", held.ClientIDs)
	}
	if p = e.post(admin, "/assignments/"+room.String()+"/accept", url.Values{"version": {"1"}}); p.status != http.StatusSeeOther {
		t.Fatalf("accept: %d %s", p.status, p.body)
	}
	if inv := e.inventory(devidp.ContosoTenant); len(inv) != 1 || inv[0].ObjectID != alice {
		t.Errorf("inventory after accept: %+v", inv)
	}
	p = e.get(admin, "/drift")
	if _, ok := p.testid("drifted-none"); !ok {
		t.Error("still drifted after the repair")
	}
	if e.auditCount(portal.ActionReapply) != 2 || e.auditCount(portal.ActionAccept) != 1 {
		t.Errorf("audit: %d reapply rows (intent+outcome), %d accept rows", e.auditCount(portal.ActionReapply), e.auditCount(portal.ActionAccept))
	}
}

// Time-boxed access through the forms: set, shown, listed, refused when bad.
func TestExpiryThroughForms(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	c := noFollow(e.as("admin@contoso.test"))
	ends := e.clock.Now().UTC().Add(72 * time.Hour).Truncate(time.Minute)
	form := url.Values{"objectId": {alice.String()}, "kind": {"user"}, "clientId": {appDesktop.String()}, "expiresAt": {ends.Format("2006-01-02T15:04")}}
	if p := e.post(c, "/assignments", form); p.status != http.StatusSeeOther {
		t.Fatalf("grant with an expiry: %d %s", p.status, p.body)
	}
	if inv := e.inventory(devidp.ContosoTenant); len(inv) != 1 || !inv[0].ExpiresAt.Equal(ends) {
		t.Fatalf("inventory: %+v", inv)
	}
	p := e.get(c, "/assignments/"+alice.String())
	if got, _ := p.testid("detail-expires"); !strings.Contains(got, "in 2 days") && !strings.Contains(got, "in 3 days") {
		t.Errorf("detail shows %q", got)
	}
	if got, _ := e.get(c, "/assignments").testid("expires-in"); !strings.HasPrefix(got, "in ") {
		t.Errorf("list shows %q", got)
	}
	if rows, _ := e.get(c, "/expiries").testid("expiries"); !strings.Contains(rows, alice.String()) {
		t.Errorf("expiries page: %q", rows)
	}
	for _, bad := range []string{"tomorrow", "2026-13-01", e.clock.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04"), "2099-01-01"} {
		form := url.Values{"objectId": {bob.String()}, "kind": {"user"}, "clientId": {appDesktop.String()}, "expiresAt": {bad}}
		if p := e.post(c, "/assignments", form); p.status < 400 || p.status >= 500 {
			t.Errorf("expiresAt %q: %d", bad, p.status)
		}
	}
	if len(e.inventory(devidp.ContosoTenant)) != 1 {
		t.Error("a bad expiry granted access")
	}
	// Extending it through the edit form: a new version, nothing sent to ACS.
	writes := e.writes()
	later := ends.Add(24 * time.Hour)
	if p := e.post(c, "/assignments/"+alice.String(), url.Values{"version": {"1"}, "clientId": {appDesktop.String()}, "expiresAt": {later.Format("2006-01-02T15:04")}}); p.status != http.StatusSeeOther {
		t.Fatalf("extend: %d %s", p.status, p.body)
	}
	if inv := e.inventory(devidp.ContosoTenant); !inv[0].ExpiresAt.Equal(later) || inv[0].Version != 2 || e.writes() != writes {
		t.Errorf("after extending: %+v, %d writes", inv[0], e.writes()-writes)
	}
}

// Picked rows of the drift report resolved as one bulk job; a row that
// changed since the report was shown is left alone.
func TestDriftBulkRepair(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	e.server.deps.Reconciler = syncReconciler{e.access, t}
	e.seedInventory(devidp.ContosoTenant, alice, "user", appDesktop)
	e.seedInventory(devidp.ContosoTenant, bob, "user", appDesktop)
	e.seedInventory(devidp.ContosoTenant, room, "teamsResourceAccount")
	e.emu.Seed(acsemu.Stored{Host: "127.0.0.1", TenantID: devidp.ContosoTenant, ObjectID: alice, PrincipalType: "user", ClientIDs: []string{appMobile.String()}})
	e.emu.Seed(acsemu.Stored{Host: "127.0.0.1", TenantID: devidp.ContosoTenant, ObjectID: bob, PrincipalType: "user", ClientIDs: []string{appMobile.String()}})
	e.emu.Remove("127.0.0.1", devidp.ContosoTenant, room)
	admin := noFollow(e.as("admin@contoso.test"))
	e.post(admin, "/reconcile", url.Values{})
	page := e.get(admin, "/drift")
	if _, ok := page.testid("drift-bulk"); !ok {
		t.Fatal("no bulk form on the drift report")
	}
	if _, ok := e.get(noFollow(e.as("auditor@contoso.test")), "/drift").testid("drift-bulk"); ok {
		t.Error("the auditor is offered the bulk form")
	}
	picks := url.Values{"action": {"reapply"}, "justification": {"INC-7"}}
	for _, it := range e.inventory(devidp.ContosoTenant) {
		picks.Add("pick", it.ObjectID.String()+":"+access.Seen(it))
	}
	// Bob changes after the report was shown: his row is left alone.
	who := access.Who{User: portal.User{TenantID: devidp.ContosoTenant, Roles: []portal.Role{portal.RoleAdmin}}, System: "test"}
	if _, err := e.access.Verify(context.Background(), who, bob); err != nil {
		t.Fatal(err)
	}
	e.emu.Seed(acsemu.Stored{Host: "127.0.0.1", TenantID: devidp.ContosoTenant, ObjectID: bob, PrincipalType: "user", ClientIDs: []string{appDesktop.String()}})
	e.access.Verify(context.Background(), who, bob)

	if p := e.post(noFollow(e.as("helpdesk@contoso.test")), "/drift/repair", picks); p.status != http.StatusForbidden {
		t.Errorf("helpdesk resolves in bulk: %d", p.status)
	}
	p := e.post(admin, "/drift/repair", picks)
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/bulk/jobs/") {
		t.Fatalf("bulk repair: %d %s", p.status, p.body)
	}
	job := p.header.Get("Location")
	e.runJobs()
	if done, _ := e.get(admin, job).testid("job-done"); done != "2" {
		t.Errorf("rows done: %q, want 2 (alice and the room; bob changed)", done)
	}
	if s, ok := e.emu.Lookup("127.0.0.1", devidp.ContosoTenant, alice); !ok || len(s.ClientIDs) != 1 || s.ClientIDs[0] != appDesktop.String() {
		t.Errorf("alice not re-applied: %+v", s)
	}
	if _, ok := e.emu.Lookup("127.0.0.1", devidp.ContosoTenant, room); !ok {
		t.Error("the room was not granted again")
	}
	res := e.get(admin, job+"/result.csv").body
	if !strings.Contains(res, "changed since the report") {
		t.Errorf("results: %s", res)
	}
	for _, it := range e.inventory(devidp.ContosoTenant) {
		if it.State != portal.StateInSync {
			t.Errorf("%s is %s after the repair", it.ObjectID, it.State)
		}
	}
}

// A resource account that ACS spells otherwise is listed with its label:
// the same access, nothing to do.
func TestDriftSpellingListShowsLabel(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	e.server.deps.Reconciler = syncReconciler{e.access, t}
	e.seedInventory(devidp.ContosoTenant, room, "resourceAccount") // adopted with the label "seed"
	admin := noFollow(e.as("admin@contoso.test"))
	if p := e.post(admin, "/reconcile", url.Values{}); p.status != http.StatusSeeOther {
		t.Fatalf("reconcile now: %d", p.status)
	}
	spelling, ok := e.get(admin, "/drift").testid("spelling")
	if !ok || !strings.Contains(spelling, room.String()) || !strings.Contains(spelling, "seed") || !strings.Contains(spelling, "— ACS says resourceAccount") {
		t.Errorf("spelling list: %q", spelling)
	}
}
