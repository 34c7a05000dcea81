package web

import (
	"context"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/devidp"
	"github.com/teamsphone/portal/internal/portal"
)

// A typo'd object ID looks like a grant to ACS, which takes any GUID: the
// form flags an ID the directory does not have, telling a typo from a
// person who has left, and grants only after "Grant anyway" for that very
// ID; the server refuses without it and changes nothing. When Graph
// cannot be asked, the grant goes on and says the ID went unchecked.
func TestGrantToObjectNotInDirectory(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	_, emu := e.withGraph()
	withNamedDirectory(emu)
	helpdesk := noFollow(e.as("helpdesk@contoso.test"))
	admin := noFollow(e.as("admin@contoso.test"))
	typo := portal.MustParseGUID("e5b7f628-ea94-4fdc-b3d9-1af1fe231112") // Alice's, one digit off
	grant := func(id portal.GUID, confirm string) url.Values {
		v := url.Values{"objectId": {id.String()}, "kind": {"user"}, "clientId": {appDesktop.String()}, "justification": {"new agent"}}
		if confirm != "" {
			v.Set("confirmAbsent", confirm)
		}
		return v
	}

	// Never found: refused with the warning, nothing written.
	p := e.post(helpdesk, "/assignments", grant(typo, ""))
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("a typo: %d, want 422", p.status)
	}
	if w, _ := p.testid("absent-warning"); p.attr("absent-warning", "data-presence") != "never_found" || !strings.Contains(w, "Nobody in your directory has this object ID") || !strings.Contains(w, "Grant anyway") {
		t.Errorf("a typo's warning (%s): %q", p.attr("absent-warning", "data-presence"), w)
	}
	if p.attr("confirm-absent", "value") != typo.String() || !hasAttr(p.byTestID("confirm-absent"), "required") {
		t.Errorf("the confirmation: value %q, required %v", p.attr("confirm-absent", "value"), hasAttr(p.byTestID("confirm-absent"), "required"))
	}
	if v := p.attr("objectId", "value"); v != typo.String() {
		t.Errorf("the form lost what was typed: %q", v)
	}
	// A confirmation of another ID confirms nothing.
	if p := e.post(helpdesk, "/assignments", grant(typo, alice.String())); p.status != http.StatusUnprocessableEntity {
		t.Errorf("confirmed for another ID: %d", p.status)
	}
	if e.writes() != 0 || len(e.inventory(devidp.ContosoTenant)) != 0 {
		t.Fatalf("refused grants changed something: %d writes, %d rows", e.writes(), len(e.inventory(devidp.ContosoTenant)))
	}
	// With htmx: the form alone, with the warning.
	frag := e.do(helpdesk, "POST", "/assignments", strings.NewReader(grant(typo, "").Encode()), http.Header{
		"Content-Type": {"application/x-www-form-urlencoded"}, "HX-Request": {"true"}, "HX-Request-Type": {"partial"}})
	if frag.status != http.StatusUnprocessableEntity || strings.Contains(frag.body, "<html") || !strings.Contains(frag.body, `data-testid="absent-warning"`) {
		t.Errorf("htmx: %d %q", frag.status, frag.body)
	}
	// Confirmed: granted, and the audit log says it was confirmed.
	if p := e.post(helpdesk, "/assignments", grant(typo, strings.ToUpper(typo.String()))); p.status != http.StatusSeeOther {
		t.Fatalf("confirmed: %d %s", p.status, p.body)
	}
	hist, err := e.access.History(context.Background(), contosoReader, typo, 10)
	if err != nil || len(hist.Events) == 0 || !strings.Contains(hist.Events[0].Detail, "the directory does not have this object (never found); granted as the person confirmed") {
		t.Errorf("the grant's audit rows do not say it was confirmed: %+v %v", hist.Events, err)
	}

	// Found: granted at once (a confirmation sent anyway is not recorded
	// as if she were absent); her page names her.
	if p := e.post(admin, "/assignments", grant(alice, alice.String())); p.status != http.StatusSeeOther {
		t.Fatalf("a person of the directory: %d %s", p.status, p.body)
	}
	if hist, _ := e.access.History(context.Background(), contosoReader, alice, 10); len(hist.Events) == 0 || strings.Contains(hist.Events[0].Detail, "directory does not have") {
		t.Errorf("a grant to someone the directory has: %+v", hist.Events)
	}
	if n, _ := e.get(admin, "/assignments/"+alice.String()).testid("detail-name"); !strings.Contains(n, "Alice Smith") {
		t.Fatalf("her page: %q", n)
	}
	// Gone: Alice leaves; Refresh names notices (her last name is kept);
	// her access is revoked; granting her again says she was there.
	emu.DeleteUser(devidp.ContosoTenant, alice)
	if p := e.post(admin, "/names/refresh", url.Values{}); p.status != http.StatusSeeOther {
		t.Fatalf("refresh: %d", p.status)
	}
	it, _ := e.access.Item(context.Background(), contosoReader, alice)
	if p := e.post(admin, "/assignments/"+alice.String()+"/delete", url.Values{"version": {strconv.FormatInt(it.Version, 10)}, "justification": {"left"}}); p.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d %s", p.status, p.body)
	}
	p = e.post(admin, "/assignments", grant(alice, ""))
	if w, _ := p.testid("absent-warning"); p.status != http.StatusUnprocessableEntity || p.attr("absent-warning", "data-presence") != "gone" ||
		!strings.Contains(w, "has left your directory") || !strings.Contains(w, "Alice Smith") {
		t.Errorf("a person who has left: %d %s %q", p.status, p.attr("absent-warning", "data-presence"), w)
	}

	// Graph refuses (not consented): unknown, never a reason to refuse.
	emu.Withhold(devidp.ContosoTenant, "User.ReadBasic.All")
	other := portal.MustParseGUID("0d1e2f3a-4b5c-4d6e-8f7a-8b9c0d1e2f3a")
	p = e.post(helpdesk, "/assignments", grant(other, ""))
	if p.status != http.StatusSeeOther {
		t.Fatalf("Graph refusing: %d %s", p.status, p.body)
	}
	if f := e.get(helpdesk, p.header.Get("Location")).testids("flash"); !strings.Contains(f[len(f)-1], "Access granted to user "+other.String()) || !strings.Contains(f[len(f)-1], "Whether the directory has this object is unknown") {
		t.Errorf("Graph refusing, the flash: %q", f)
	}
}

// contosoReader is how tests read what they did, as an admin of Contoso.
var contosoReader = access.Who{User: portal.User{TenantID: devidp.ContosoTenant, Roles: []portal.Role{portal.RoleAdmin}}}

// formField is the value of the field called name inside the element with
// data-testid=form ("" when there is none).
func formField(p page, form, name string) string {
	root := p.byTestID(form)
	if root == nil {
		return ""
	}
	n := findElement(root, func(n *html.Node) bool {
		return slices.ContainsFunc(n.Attr, func(a html.Attribute) bool { return a.Key == "name" && a.Val == name })
	})
	if n == nil {
		return ""
	}
	for _, a := range n.Attr {
		if a.Key == "value" {
			return a.Val
		}
	}
	return ""
}

// repairFrom posts the assignment page's Re-apply or Accept (action) as
// the page p shows it.
func (e *portalEnv) repairFrom(c *http.Client, p page, id portal.GUID, action, why string) page {
	e.t.Helper()
	form := "repair-" + action
	if p.byTestID(form) == nil {
		e.t.Fatalf("no %s form on the page of %s", action, id)
	}
	return e.post(c, "/assignments/"+id.String()+"/"+action, url.Values{"version": {formField(p, form, "version")},
		"seen": {formField(p, form, "seen")}, "back": {formField(p, form, "back")}, "justification": {why}})
}

// An admin verifies a drifted assignment and resolves it from its page,
// either way, each saying what it does; the page's fingerprint refuses a
// resolution ACS moved under; auditors and helpdesk (for a resource
// account) are offered neither.
func TestRepairFromAssignmentPage(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	e.seedInventory(devidp.ContosoTenant, alice, "user", appDesktop)
	e.seedInventory(devidp.ContosoTenant, room, "teamsResourceAccount")
	admin, helpdesk, auditor := noFollow(e.as("admin@contoso.test")), noFollow(e.as("helpdesk@contoso.test")), noFollow(e.as("auditor@contoso.test"))
	page := "/assignments/" + alice.String()
	if p := e.get(admin, page); p.byTestID("repair") != nil {
		t.Error("an assignment in sync offers repairs")
	}

	// Behind the portal's back; Verify now finds it.
	e.seedACS(devidp.ContosoTenant, alice, "user", appMobile)
	if p := e.post(admin, page+"/verify", url.Values{}); p.status != http.StatusSeeOther {
		t.Fatalf("verify: %d", p.status)
	}
	p := e.get(admin, page)
	if re, _ := p.testid("reapply-effect"); !strings.Contains(re, "Re-apply: put the portal's apps back in ACS") {
		t.Errorf("re-apply says %q", re)
	}
	if ac, _ := p.testid("accept-effect"); !strings.Contains(ac, "Accept: make the portal's record match ACS") {
		t.Errorf("accept says %q", ac)
	}
	// With htmx, Verify now swaps the panel, with both choices in it.
	frag := e.do(admin, "POST", page+"/verify", strings.NewReader(""), http.Header{
		"Content-Type": {"application/x-www-form-urlencoded"}, "HX-Request": {"true"}, "HX-Request-Type": {"partial"}})
	if frag.status != 200 || frag.byTestID("repair-reapply") == nil || frag.byTestID("repair-accept") == nil || strings.Contains(frag.body, "<html") {
		t.Errorf("verify fragment: %d %q", frag.status, frag.body)
	}
	assertNoncedHX(t, "verify fragment", frag)
	for who, c := range map[string]*http.Client{"auditor": auditor} {
		if p := e.get(c, page); p.byTestID("repair") != nil {
			t.Errorf("%s is offered repairs", who)
		}
	}

	// ACS moves again after the page was made: refused, nothing written.
	e.seedACS(devidp.ContosoTenant, alice, "user", appMobile, appDesktop)
	e.post(admin, page+"/verify", url.Values{})
	writes := e.writes()
	if r := e.repairFrom(admin, p, alice, "reapply", "restore"); r.status != http.StatusConflict {
		t.Errorf("re-apply from a stale page: %d", r.status)
	}
	if e.writes() != writes {
		t.Error("a stale re-apply wrote to ACS")
	}

	// Re-apply: ACS holds the portal's apps again; back on its page.
	p = e.get(admin, page)
	r := e.repairFrom(admin, p, alice, "reapply", "restore")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != page {
		t.Fatalf("re-apply: %d → %s %s", r.status, r.header.Get("Location"), r.body)
	}
	if held, _ := e.emu.Lookup("127.0.0.1", devidp.ContosoTenant, alice); len(held.ClientIDs) != 1 || held.ClientIDs[0] != appDesktop.String() {
		t.Errorf("ACS holds %v after re-apply", held.ClientIDs)
	}
	if p := e.get(admin, page); p.byTestID("repair") != nil {
		t.Errorf("still offered repairs after re-applying: %q", p.attr("state", "class"))
	}

	// Accept: the portal's record becomes what ACS holds; nothing written.
	e.seedACS(devidp.ContosoTenant, alice, "user", appMobile)
	e.post(admin, page+"/verify", url.Values{})
	writes = e.writes()
	if r := e.repairFrom(admin, e.get(admin, page), alice, "accept", "their choice"); r.status != http.StatusSeeOther || r.header.Get("Location") != page {
		t.Fatalf("accept: %d → %s", r.status, r.header.Get("Location"))
	}
	if it, _ := e.access.Item(context.Background(), contosoReader, alice); len(it.ClientIDs) != 1 || it.ClientIDs[0] != appMobile || it.State != portal.StateInSync {
		t.Errorf("inventory after accept: %+v", it)
	}
	if e.writes() != writes {
		t.Error("accept wrote to ACS")
	}

	// A resource account ACS lost: helpdesk may not resolve it; the admin
	// accepts its removal and lands on its page, which now shows its end.
	e.emu.Remove("127.0.0.1", devidp.ContosoTenant, room)
	e.post(admin, "/assignments/"+room.String()+"/verify", url.Values{})
	if p := e.get(helpdesk, "/assignments/"+room.String()); p.byTestID("repair") != nil || p.status != 200 {
		t.Errorf("helpdesk is offered repairs of a resource account: %d", p.status)
	}
	p = e.get(admin, "/assignments/"+room.String())
	if re, _ := p.testid("reapply-effect"); !strings.Contains(re, "grant it again in ACS") {
		t.Errorf("re-apply of a missing one says %q", re)
	}
	if ac, _ := p.testid("accept-effect"); !strings.Contains(ac, "remove it from the inventory") {
		t.Errorf("accept of a missing one says %q", ac)
	}
	if r := e.repairFrom(admin, p, room, "accept", "gone"); r.status != http.StatusSeeOther {
		t.Fatalf("accept the removal: %d %s", r.status, r.body)
	}
	if s, _ := e.get(admin, "/assignments/"+room.String()).testid("no-access-since"); !strings.Contains(s, "removed from the inventory, as ACS held none, by Adele Admin") {
		t.Errorf("after accepting its removal, the page says %q", s)
	}
}

// A revoked assignment's page is its history and since when it has no
// access, with "Grant again" (filled in as it was) for those who may; only
// an object ID the portal never knew is a 404 that suggests adopting it,
// and another tenant's looks exactly like that.
func TestRevokedAssignmentPage(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	admin := noFollow(e.as("admin@contoso.test"))
	grant := url.Values{"objectId": {bob.String()}, "kind": {"user"}, "clientId": {appDesktop.String(), appMobile.String()}, "label": {"Bob, Porto desk"}, "justification": {"new agent"}}
	if p := e.post(admin, "/assignments", grant); p.status != http.StatusSeeOther {
		t.Fatalf("grant: %d", p.status)
	}
	if p := e.post(admin, "/assignments/"+bob.String()+"/delete", url.Values{"version": {"1"}, "justification": {"left the team"}}); p.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d %s", p.status, p.body)
	}
	page := "/assignments/" + bob.String()
	for persona, mayGrant := range map[string]bool{"admin@contoso.test": true, "helpdesk@contoso.test": true, "auditor@contoso.test": false} {
		p := e.get(noFollow(e.as(persona)), page)
		if p.status != http.StatusOK {
			t.Fatalf("%s: a revoked assignment's page is %d", persona, p.status)
		}
		if s, _ := p.testid("no-access-since"); !strings.Contains(s, "No access since") || !strings.Contains(s, "revoked by Adele Admin") {
			t.Errorf("%s: %q", persona, s)
		}
		if rows := p.testids("history-row"); len(rows) != 2 {
			t.Errorf("%s: %d history rows, want the grant and the revoke, one row each", persona, len(rows))
		}
		if href := p.attr("grant-again", "href"); (href != "") != mayGrant {
			t.Errorf("%s: grant again %q", persona, href)
		}
	}
	// Grant again: the form as it was.
	href := e.get(admin, page).attr("grant-again", "href")
	form := e.get(admin, href)
	if form.attr("objectId", "value") != bob.String() || form.attr("label", "value") != "Bob, Porto desk" ||
		!hasAttr(form.byTestID("app-"+appDesktop.String()), "checked") || !hasAttr(form.byTestID("app-"+appMobile.String()), "checked") ||
		!hasAttr(form.byTestID("kind-user"), "checked") {
		t.Errorf("grant again (%s) is not filled in as it was", href)
	}
	// Never known: the 404 that suggests adopting it.
	never := portal.MustParseGUID("0d1e2f3a-4b5c-4d6e-8f7a-8b9c0d1e2f3a")
	if p := e.get(admin, "/assignments/"+never.String()); p.status != http.StatusNotFound || !strings.Contains(p.body, "Look it up in ACS to adopt it") {
		t.Errorf("never known: %d", p.status)
	}
	// Another tenant: the same as never known.
	if p := e.get(noFollow(e.as("admin@fabrikam.test")), page); p.status != http.StatusNotFound || strings.Contains(p.body, "Bob, Porto desk") {
		t.Errorf("another tenant's revoked assignment: %d", p.status)
	}
}

// laterReconciler takes a request for a run and runs nothing until the
// test says so, as a run queued behind another.
type laterReconciler struct{ asked chan portal.GUID }

func (r laterReconciler) Trigger(tenant portal.GUID) bool { r.asked <- tenant; return true }
func (laterReconciler) Running() bool                     { return false }

// After "Reconcile now" the drift report waits for the run and refreshes
// itself when it ends: htmx polls, getting 204 (nothing to swap) until a
// newer run's summary is in the audit log, then the new report; without
// JavaScript the page reloads itself. A run that never comes is waited
// for only so long.
func TestDriftReportRefreshesAfterReconcile(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	rec := laterReconciler{asked: make(chan portal.GUID, 4)}
	e.server.deps.Reconciler = rec
	e.seedInventory(devidp.ContosoTenant, alice, "user", appDesktop)
	e.seedACS(devidp.ContosoTenant, alice, "user", appMobile) // behind the portal's back
	admin, auditor := noFollow(e.as("admin@contoso.test")), noFollow(e.as("auditor@contoso.test"))
	reconcile := func() {
		t.Helper()
		system := access.Who{User: portal.User{TenantID: devidp.ContosoTenant, Roles: []portal.Role{portal.RoleAdmin}}, System: "reconcile"}
		if _, err := e.access.Reconcile(context.Background(), system, <-rec.asked); err != nil {
			t.Fatal(err)
		}
	}
	partial := http.Header{"HX-Request": {"true"}, "HX-Request-Type": {"partial"}}

	p := e.post(admin, "/reconcile", url.Values{})
	waitURL := p.header.Get("Location")
	if p.status != http.StatusSeeOther || !strings.HasPrefix(waitURL, "/drift?after=0&since=") {
		t.Fatalf("reconcile now: %d → %s", p.status, waitURL)
	}
	for who, c := range map[string]*http.Client{"admin": admin, "auditor": auditor} {
		p = e.get(c, waitURL)
		if p.attr("drift-report", "data-waiting") != "true" || p.attr("drift-report", "hx-get") != waitURL || p.attr("drift-report", "hx-trigger") != "every 2s" {
			t.Errorf("%s, waiting: data-waiting=%q hx-get=%q", who, p.attr("drift-report", "data-waiting"), p.attr("drift-report", "hx-get"))
		}
		if _, ok := p.testid("reconcile-waiting"); !ok || !strings.Contains(p.body, `<noscript><meta http-equiv="refresh" content="5"></noscript>`) {
			t.Errorf("%s, waiting: no message, or no reload without JavaScript", who)
		}
		assertNoncedHX(t, "drift report waiting", p)
	}
	if _, ok := p.testid("drifted-none"); !ok {
		t.Error("the drift was shown before any run found it")
	}
	// Polled while it has not run: nothing to swap.
	if poll := e.do(admin, "GET", waitURL, nil, partial); poll.status != http.StatusNoContent || poll.body != "" {
		t.Errorf("polled before the run ended: %d %q", poll.status, poll.body)
	}

	reconcile()
	poll := e.do(admin, "GET", waitURL, nil, partial)
	if poll.status != http.StatusOK || strings.Contains(poll.body, "<html") || poll.attr("drift-report", "data-waiting") != "false" {
		t.Fatalf("polled after the run: %d %q", poll.status, poll.body)
	}
	if drifted, _ := poll.testid("drifted"); !strings.Contains(drifted, alice.String()) {
		t.Errorf("the refreshed report: %q", drifted)
	}
	if _, ok := poll.testid("reconcile-finished"); !ok {
		t.Error("the refreshed report does not say the run ended")
	}
	assertNoncedHX(t, "refreshed drift report", poll)
	// Without JavaScript: the reload shows it, and reloads no more.
	if p := e.get(admin, waitURL); p.attr("drift-report", "data-waiting") != "false" || strings.Contains(p.body, "http-equiv") {
		t.Error("after the run, the page still waits")
	}

	// A run that never comes: after half an hour the page stops waiting.
	p = e.post(admin, "/reconcile", url.Values{})
	stuck := p.header.Get("Location")
	e.clock.Add(31 * time.Minute)
	if p := e.get(admin, stuck); p.attr("drift-report", "data-waiting") != "false" {
		t.Error("still waiting for a run after half an hour")
	}
	if p := e.get(admin, "/drift?after=x"); p.status != http.StatusBadRequest {
		t.Errorf("a bad wait: %d", p.status)
	}
}

// rowsOf are the object IDs of the list rows a page shows.
func rowsOf(p page) []string {
	var out []string
	for _, n := range p.allByTestID("assignment-row") {
		if id := attr(n, "data-object-id"); id != "" {
			out = append(out, id)
		}
	}
	return out
}

// The list's search matches the calling-client apps by the names pages
// show (the configured ones), also when Graph does not name them.
func TestSearchMatchesAppNames(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	e.accessCfg.KnownApps = testKnownApps
	e.access = access.New(e.accessCfg)
	e.server.deps.Access = e.access
	admin := noFollow(e.as("admin@contoso.test"))
	for id, app := range map[portal.GUID]portal.GUID{alice: appMobile, bob: appDesktop} {
		if p := e.post(admin, "/assignments", url.Values{"objectId": {id.String()}, "kind": {"user"}, "clientId": {app.String()}}); p.status != http.StatusSeeOther {
			t.Fatalf("grant: %d", p.status)
		}
	}
	auditor := noFollow(e.as("auditor@contoso.test"))
	for q, want := range map[string][]string{
		"mobile":               {alice.String()},
		"Contoso Agent Desk":   {bob.String()},
		"agent":                {bob.String(), alice.String()},
		appMobile.String()[:8]: {alice.String()},
		"pager":                nil,
	} {
		got := rowsOf(e.get(auditor, "/assignments?sort=object&q="+url.QueryEscape(q)))
		if !slices.Equal(got, want) {
			t.Errorf("search %q: %v, want %v", q, got, want)
		}
	}
}

// Look-up takes a name or user name too: one match is looked up (at the
// look-up's own address), several are offered, none says so; without
// names it takes object IDs only, as before.
func TestLookupByName(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	if p := e.get(noFollow(e.as("auditor@contoso.test")), "/lookup?objectId=alice"); p.status != http.StatusBadRequest {
		t.Errorf("names off, a name: %d", p.status)
	}
	e.withGraph()
	auditor := noFollow(e.as("auditor@contoso.test"))
	p := e.get(auditor, "/lookup?objectId="+url.QueryEscape("alice@contoso.test"))
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/lookup?objectId="+alice.String() {
		t.Fatalf("one match: %d → %s", p.status, p.header.Get("Location"))
	}
	p = e.get(auditor, p.header.Get("Location"))
	if f, _ := p.testid("flash"); !strings.Contains(f, "Found by name: Alice Smith (alice@contoso.test)") {
		t.Errorf("after the redirect: %q", f)
	}
	if _, ok := p.testid("acs-none"); !ok {
		t.Error("the one match was not looked up")
	}
	if l, _ := p.testid("lookup-form"); !strings.Contains(l, "Object ID, name or user name") {
		t.Errorf("the field's label: %q", l)
	}
	// Several: pick one; each opens its look-up.
	p = e.get(auditor, "/lookup?objectId=ali")
	if p.status != http.StatusOK || len(p.testids("lookup-person")) != 2 {
		t.Fatalf("several: %d %v", p.status, p.testids("lookup-person"))
	}
	if !strings.Contains(p.body, `href="/lookup?objectId=`+alice.String()+`"`) || !strings.Contains(p.body, `href="/lookup?objectId=`+carolID.String()+`"`) {
		t.Error("the people found do not link to their look-ups")
	}
	if strings.Contains(p.body, "<script>alert(1)") {
		t.Error("a display name's markup was not escaped")
	}
	// With htmx: the result alone, looked up at once.
	frag := e.do(auditor, "GET", "/lookup?objectId="+url.QueryEscape("Alice Smith"), nil, http.Header{"HX-Request": {"true"}, "HX-Request-Type": {"partial"}})
	if f, _ := frag.testid("lookup-found"); frag.status != 200 || !strings.Contains(f, "Alice Smith") || strings.Contains(frag.body, "<html") {
		t.Errorf("htmx, one match: %d %q", frag.status, frag.body)
	}
	if _, ok := frag.testid("acs-none"); !ok {
		t.Error("htmx: the one match was not looked up")
	}
	// Nobody.
	if msg, _ := e.get(auditor, "/lookup?objectId=zed").testid("lookup-error"); !strings.Contains(msg, "Nobody in your directory") {
		t.Errorf("nobody: %q", msg)
	}
	// Another tenant's people are not found.
	if p := e.get(noFollow(e.as("admin@fabrikam.test")), "/lookup?objectId="+url.QueryEscape("alice@contoso.test")); p.status != 200 || p.header.Get("Location") != "" {
		t.Errorf("Fabrikam finds Contoso's Alice: %d %s", p.status, p.header.Get("Location"))
	}
}

// glanceOf is the home page's counts: key → (count, link).
func glanceOf(p page) map[string][2]string {
	out := map[string][2]string{}
	for _, key := range []string{"drifted", "expiring", "jobs", "not-ready"} {
		n := p.byTestID("glance-" + key)
		if n == nil {
			continue
		}
		var href string
		if a := findElement(n, func(n *html.Node) bool { return n.Data == "a" }); a != nil {
			for _, at := range a.Attr {
				if at.Key == "href" {
					href = at.Val
				}
			}
		}
		out[key] = [2]string{p.attr("glance-"+key, "data-count"), href}
	}
	return out
}

// beforeReadiness is a glance without the not-ready count while it is 0:
// the first visit starts the readiness checks in the background, and
// whether they ended by the time a page is drawn is a race.
func beforeReadiness(g map[string][2]string) map[string][2]string {
	if g["not-ready"][0] == "0" {
		delete(g, "not-ready")
	}
	return g
}

// The home page counts what needs a look — drifted (or missing), ending
// soon, bulk jobs running, not ready — each linked to where they are
// listed; and it says what each role may do.
func TestHomeAtAGlance(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	e.seedInventory(devidp.ContosoTenant, alice, "user", appDesktop)
	e.seedInventory(devidp.ContosoTenant, room, "teamsResourceAccount")
	admin, helpdesk, auditor := noFollow(e.as("admin@contoso.test")), noFollow(e.as("helpdesk@contoso.test")), noFollow(e.as("auditor@contoso.test"))
	want := map[string][2]string{"drifted": {"0", "/drift"}, "expiring": {"0", "/expiries"}, "jobs": {"0", "/bulk"}}
	if got := beforeReadiness(glanceOf(e.get(admin, "/"))); !maps.Equal(got, want) {
		t.Errorf("nothing to look at: %v, want %v", got, want)
	}

	// Alice drifts, the room's assignment is lost in ACS.
	e.seedACS(devidp.ContosoTenant, alice, "user", appMobile)
	e.emu.Remove("127.0.0.1", devidp.ContosoTenant, room)
	e.post(admin, "/assignments/"+alice.String()+"/verify", url.Values{})
	e.post(admin, "/assignments/"+room.String()+"/verify", url.Values{})
	// Bob's access ends in 3 days, Carol's in 30: one ends soon.
	for id, days := range map[portal.GUID]int{bob: 3, carolID: 30} {
		ends := e.clock.Now().Add(time.Duration(days) * 24 * time.Hour).UTC().Format("2006-01-02T15:04")
		if p := e.post(admin, "/assignments", url.Values{"objectId": {id.String()}, "kind": {"user"}, "clientId": {appDesktop.String()}, "expiresAt": {ends}}); p.status != http.StatusSeeOther {
			t.Fatalf("grant: %d %s", p.status, p.body)
		}
	}
	// A bulk job waits for an instance to take it.
	job := e.planAndApply(admin, "objectId,kind,clientIds,label,action\n"+portal.MustParseGUID("0d1e2f3a-4b5c-4d6e-8f7a-8b9c0d1e2f3a").String()+",user,"+appDesktop.String()+",,\n")

	want = map[string][2]string{"drifted": {"2", "/drift"}, "expiring": {"1", "/expiries"}, "jobs": {"1", job}}
	for who, c := range map[string]*http.Client{"admin": admin, "helpdesk": helpdesk, "auditor": auditor} {
		p := e.get(c, "/")
		if got := beforeReadiness(glanceOf(p)); !maps.Equal(got, want) {
			t.Errorf("%s: %v, want %v", who, got, want)
		}
		if g, _ := p.testid("glance-drifted"); !strings.Contains(g, "1 missing") {
			t.Errorf("%s: %q", who, g)
		}
	}
	if s, _ := e.get(admin, "/expiries").testid("expiries-soon"); !strings.HasPrefix(s, "1 end within 7 days") {
		t.Errorf("the expiries page's count: %q", s)
	}

	// With the readiness checks run (ACS refusing the portal): none of the
	// four can work.
	e.emu.Script(acsemu.Fault{Status: 403, Code: "AuthorizationFailed"})
	if p := e.post(auditor, "/readiness", url.Values{}); p.status != http.StatusOK && p.status != http.StatusSeeOther { // check again
		t.Fatalf("check again: %d", p.status)
	}
	want["not-ready"] = [2]string{"4", "/assignments?ready=no"}
	if got := glanceOf(e.get(auditor, "/")); !maps.Equal(got, want) {
		t.Errorf("after the checks: %v, want %v", got, want)
	}
	if _, ok := glanceOf(e.get(helpdesk, "/"))["not-ready"]; ok {
		t.Error("helpdesk, who may not read the checks, is shown their count")
	}

	// What each may do; a resource account's page says why it is
	// read-only to helpdesk.
	for c, says := range map[*http.Client][2]string{
		helpdesk: {"users", "Resource accounts (server consent for a phone number) are admin-only"},
		admin:    {"users and resource accounts", ""},
		auditor:  {"you cannot change anything", ""},
	} {
		may, _ := e.get(c, "/").testid("home-may")
		if !strings.Contains(may, says[0]) || !strings.Contains(may, says[1]) || (c != helpdesk && strings.Contains(may, "admin-only")) {
			t.Errorf("home says %q", may)
		}
	}
	if ro, _ := e.get(helpdesk, "/assignments/"+room.String()).testid("read-only"); !strings.Contains(ro, "Helpdesk staff may change user assignments only; ask an admin to change a resource account.") {
		t.Errorf("a resource account's page for helpdesk: %q", ro)
	}
	if _, ok := e.get(helpdesk, "/assignments/"+alice.String()).testid("read-only"); ok {
		t.Error("a user's page says read-only to helpdesk")
	}
	if ro, _ := e.get(auditor, "/assignments/"+alice.String()).testid("read-only"); !strings.Contains(ro, "may read assignments but not change them") {
		t.Errorf("for an auditor: %q", ro)
	}
}
