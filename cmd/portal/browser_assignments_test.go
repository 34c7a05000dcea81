package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/teamsphone/portal/internal/browsertest"
)

// The dev seed (seed.go) and the objects these tests grant. The granted IDs
// are in neither the inventory nor ACS before the test.
const (
	seedAlice       = "e5b7f628-ea94-4fdc-b3d9-1af1fe231111"
	seedBruno       = "4b7f3b1e-2f0c-4e6a-9d0c-5a1b2c3d4e01"
	seedChen        = "7c1d9e2f-3a4b-4c5d-8e6f-7a8b9c0d1e02" // drifted in ACS behind the portal's back
	seedMainLine    = "2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c03" // a resource account
	seedACSOnlyUser = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c05" // in ACS only, to adopt
	seedACSOnlyRA   = "8f7e6d5c-4b3a-4291-8f0e-d9c8b7a6f506" // a resource account in ACS only
	seedFabrikam    = "5d6e7f8a-9b0c-4d1e-8f2a-3b4c5d6e7f04" // another tenant: never shown to Contoso

	appDesktopID = "83ecbc78-e1ba-4e8f-a454-5483ef618061" // Contoso Agent Desktop
	appMobileID  = "9215f754-3568-4bed-baa4-455c404e6140" // Contoso Agent Mobile

	adminGrants    = "d4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f10" // granted, edited and revoked with htmx
	helpdeskGrants = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c20" // granted by helpdesk, kept for the auditor
	noJSGrants     = "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d30" // granted, edited and revoked with plain forms
)

// seedContosoRows are the rows of Contoso's inventory in the dev seed: the
// four above, and the readiness failures (devgraph.go), which are listed
// like any other access.
var seedContosoRows = []string{seedAlice, seedBruno, seedChen, seedMainLine, devGita, devHana, devOldIVR, devOverflow, devFrontDesk}

// Admin, helpdesk and auditor work on the assignments in Chromium against
// one "portal dev": the list and its live search, granting (and a bad object
// ID shown in place), editing, verifying a drifted assignment, looking up
// and adopting what only ACS holds, revoking, the audit log and its
// exports, each role seeing only what it may do; then the same changes with
// JavaScript turned off. No page breaks the Content Security Policy, and
// the main pages pass axe-core's serious and critical checks.
//
// The subtests run in order and share the portal's data: the auditor reads
// what helpdesk granted.
func TestBrowserAssignments(t *testing.T) {
	base := startDevPortal(t)
	b := browsertest.New(t, browsertest.WithWindowSize(1280, 900))

	t.Run("admin", func(t *testing.T) {
		tab := openTab(t, b)
		reqs := recordRequests(t, tab, base)
		signIn(t, tab, base, "admin@contoso.test")

		// The list shows Contoso's seeded assignments, and only those.
		tab.Click(browsertest.TestID("nav-assignments"))
		tab.WaitVisible(browsertest.TestID("assignment-row"))
		if got, want := rowIDs(t, tab), seedContosoRows; !sameSet(got, want) {
			t.Errorf("the list shows rows %v, want Contoso's seeded %v (and never Fabrikam's %s)", got, want, seedFabrikam)
		}
		tab.AssertAccessible(t)
		tourShot(t, tab, "admin-list")
		tab.AssertNoCSPViolations(t)

		// Typing in the search box swaps the results in place: same
		// document, new rows, the query pushed into the address bar.
		mark := markDocument(t, tab)
		tab.Fill(browsertest.TestID("search"), "Chen")
		waitUntil(t, tab, "the results to narrow to Chen Wei with ?q=Chen in the address",
			`document.querySelectorAll('[data-testid="assignment-row"]').length === 1 && new URLSearchParams(location.search).get("q") === "Chen"`)
		if got := rowIDs(t, tab); !slices.Equal(got, []string{seedChen}) {
			t.Errorf("searching for Chen shows rows %v, want only %s", got, seedChen)
		}
		if got, want := tab.TextByTestID("result-count"), fmt.Sprintf("of 1 matching (%d in all)", len(seedContosoRows)); !strings.Contains(got, want) {
			t.Errorf("the result count says %q after searching", got)
		}
		assertSameDocument(t, tab, mark, "typing in the search box")
		reqs.expect(t, "GET", "/assignments", true, http.StatusOK)
		tab.AssertNoCSPViolations(t)

		// The grant form. A bad object ID comes back in place, with what
		// was typed kept.
		tab.Click(browsertest.TestID("nav-grant"))
		tab.WaitVisible(browsertest.TestID("grant-form"))
		tab.AssertAccessible(t)
		tab.AssertNoCSPViolations(t)
		tab.Fill(browsertest.TestID("objectId"), adminGrants)
		tab.Click(browsertest.TestID("kind-user"))
		tab.Click(browsertest.TestID("app-" + appDesktopID))
		tab.Fill(browsertest.TestID("label"), "Dana Test, Porto desk")
		fillTextarea(t, tab, browsertest.TestID("justification"), "CHG-1001 new agent")
		tourShot(t, tab, "admin-grant")
		mark = markDocument(t, tab)
		fillInput(t, tab, browsertest.TestID("objectId"), "not-an-object-id")
		tab.Submit(browsertest.TestID("grant-submit"))
		tab.WaitVisible(browsertest.TestID("objectId-error"))
		if got := tab.TextByTestID("objectId-error"); !strings.HasPrefix(got, "Object ID:") {
			t.Errorf("the object ID's error says %q", got)
		}
		assertSameDocument(t, tab, mark, "submitting the grant form with a bad object ID")
		reqs.expect(t, "POST", "/assignments", true, http.StatusUnprocessableEntity)
		if got := tab.URL(); got != base+"/assignments/new" {
			t.Errorf("after the refused grant the address is %s, want the form's", got)
		}
		for sel, want := range map[string]string{
			browsertest.TestID("objectId"):      "not-an-object-id",
			browsertest.TestID("label"):         "Dana Test, Porto desk",
			browsertest.TestID("justification"): "CHG-1001 new agent",
		} {
			if got := fieldValue(t, tab, sel); got != want {
				t.Errorf("after the refused grant %s holds %q, want what was typed, %q", sel, got, want)
			}
		}
		for _, sel := range []string{browsertest.TestID("kind-user"), browsertest.TestID("app-" + appDesktopID)} {
			if !isChecked(t, tab, sel) {
				t.Errorf("after the refused grant %s is no longer ticked", sel)
			}
		}
		if got := evalJS[string](t, tab, `document.activeElement ? document.activeElement.id : ""`); got != "objectId" {
			t.Errorf("after the refused grant the focus is on #%s, want the bad field #objectId", got)
		}
		tab.AssertAccessible(t)
		tab.AssertNoCSPViolations(t)

		// Corrected, it is a well-formed ID nobody in the directory has
		// (a typo looks just like that): the form comes back in place,
		// saying so, and asks for "Grant anyway" before it grants.
		fillInput(t, tab, browsertest.TestID("objectId"), adminGrants)
		tab.Submit(browsertest.TestID("grant-submit"))
		confirmAbsent(t, tab, reqs, mark, adminGrants)
		tab.Submit(browsertest.TestID("grant-submit"))
		waitForPage(t, tab, base+"/assignments/"+adminGrants, "Access granted to Dana Test, Porto desk (user "+adminGrants+").")
		reqs.expect(t, "POST", "/assignments", true, http.StatusNoContent) // HX-Redirect
		if got := tab.TextByTestID("detail-apps"); !strings.Contains(got, "Contoso Agent Desktop") || strings.Contains(got, "Contoso Agent Mobile") {
			t.Errorf("the new assignment's apps read %q, want Contoso Agent Desktop only", got)
		}
		tab.AssertNoCSPViolations(t)

		// Editing its apps saves and says so.
		tab.Click("#edit-form " + browsertest.TestID("app-"+appMobileID))
		fillTextarea(t, tab, "#edit-form "+browsertest.TestID("justification"), "CHG-1002 mobile too")
		tab.Submit(browsertest.TestID("edit-submit"))
		waitForPage(t, tab, base+"/assignments/"+adminGrants, "Calling-client apps for user "+adminGrants+" (Dana Test, Porto desk): added Contoso Agent Mobile.")
		reqs.expect(t, "POST", "/assignments/"+adminGrants, true, http.StatusNoContent)
		if got := tab.TextByTestID("detail-apps"); !strings.Contains(got, "Contoso Agent Desktop") || !strings.Contains(got, "Contoso Agent Mobile") {
			t.Errorf("after the edit the apps read %q, want both Contoso apps", got)
		}
		tab.AssertNoCSPViolations(t)

		// "Verify now" on Chen Wei swaps the verification panel in place:
		// drifted, and what ACS holds.
		tab.Navigate(base + "/assignments/" + seedChen)
		tab.WaitVisible(browsertest.TestID("verify-now"))
		tab.AssertNoCSPViolations(t)
		mark = markDocument(t, tab)
		tab.Click(browsertest.TestID("verify-now"))
		tab.WaitVisible(browsertest.TestID("verify-result"))
		if got := tab.TextByTestID("verify-result"); got != "Verified just now: Drifted." {
			t.Errorf("the verification says %q, want Verified just now: Drifted.", got)
		}
		if got := tab.Text("#verification " + browsertest.TestID("state")); got != "Drifted" {
			t.Errorf("the verification badge says %q, want Drifted", got)
		}
		if got := tab.Text(`#verification p:has(` + browsertest.TestID("state") + `)`); !strings.HasPrefix(got, "Drifted Compared with ACS ") {
			t.Errorf("the verification's state reads %q, want %q: the badge and the sentence run together", got, "Drifted Compared with ACS …")
		}
		if got := tab.TextByTestID("observed"); !strings.Contains(got, "Contoso Agent Desktop") || !strings.Contains(got, "Contoso Agent Mobile") {
			t.Errorf("what ACS holds reads %q, want both Contoso apps (the portal granted Mobile only)", got)
		}
		if got := tab.TextByTestID("detail-apps"); strings.Contains(got, "Contoso Agent Desktop") {
			t.Errorf("the inventory's apps read %q: verifying must not adopt ACS's drift", got)
		}
		assertSameDocument(t, tab, mark, "pressing Verify now")
		reqs.expect(t, "POST", "/assignments/"+seedChen+"/verify", true, http.StatusOK)
		if got := tab.URL(); got != base+"/assignments/"+seedChen {
			t.Errorf("after Verify now the address is %s", got)
		}
		// Both ways back are on the page, each saying what it does.
		if got := tab.TextByTestID("reapply-effect"); !strings.HasPrefix(got, "Re-apply: put the portal's apps back in ACS") {
			t.Errorf("Re-apply says %q", got)
		}
		if got := tab.TextByTestID("accept-effect"); !strings.HasPrefix(got, "Accept: make the portal's record match ACS") {
			t.Errorf("Accept says %q", got)
		}
		tab.AssertAccessible(t)
		tourShot(t, tab, "admin-detail-drifted")
		tab.AssertNoCSPViolations(t)

		// Re-apply, from the page: ACS gets the portal's apps back, and the
		// page says so, in sync.
		tab.Fill(browsertest.TestID("why-reapply"), "CHG-1004 put Chen back")
		tab.Submit(browsertest.TestID("reapply"))
		waitForPage(t, tab, base+"/assignments/"+seedChen, "Re-applied to ACS: Chen Wei, field agent (user "+seedChen+").")
		reqs.expect(t, "POST", "/assignments/"+seedChen+"/reapply", false, http.StatusSeeOther)
		if got := tab.Text("#verification " + browsertest.TestID("state")); got != "In sync" {
			t.Errorf("after re-applying, the verification badge says %q, want In sync", got)
		}
		if n := tab.Count(browsertest.TestID("repair")); n != 0 {
			t.Error("still offered Re-apply and Accept after re-applying")
		}
		tab.AssertNoCSPViolations(t)

		// The user only ACS holds: look it up, adopt it.
		tab.Click(browsertest.TestID("nav-lookup"))
		tab.WaitVisible(browsertest.TestID("lookup-form"))
		tab.AssertNoCSPViolations(t)
		mark = markDocument(t, tab)
		tab.Fill(browsertest.TestID("lookup-objectId"), seedACSOnlyUser)
		tab.Submit(browsertest.TestID("lookup-submit"))
		tab.WaitVisible(browsertest.TestID("adopt-form"))
		if got := tab.TextByTestID("acs-kind"); !strings.HasPrefix(got, "User") {
			t.Errorf("ACS's kind reads %q, want User", got)
		}
		if n := tab.Count(browsertest.TestID("inventory-unknown")); n != 1 {
			t.Errorf("the lookup does not say the inventory does not know %s", seedACSOnlyUser)
		}
		assertSameDocument(t, tab, mark, "looking up an object ID")
		reqs.expect(t, "GET", "/lookup", true, http.StatusOK)
		waitUntil(t, tab, "the lookup's address to be pushed",
			`new URLSearchParams(location.search).get("objectId") === `+jsString(seedACSOnlyUser))
		tab.AssertAccessible(t)
		tab.Fill(browsertest.TestID("label"), "Found in ACS, Madrid")
		tourShot(t, tab, "admin-lookup-adopt")
		tab.AssertNoCSPViolations(t)
		tab.Submit(browsertest.TestID("adopt-submit"))
		waitForPage(t, tab, base+"/assignments/"+seedACSOnlyUser, "Adopted Found in ACS, Madrid (user "+seedACSOnlyUser+") into the inventory, as ACS holds it.")
		reqs.expect(t, "POST", "/assignments/"+seedACSOnlyUser+"/adopt", false, http.StatusSeeOther) // the adopt form is a plain form
		if got := tab.TextByTestID("detail-apps"); !strings.Contains(got, "Contoso Agent Desktop") {
			t.Errorf("the adopted assignment's apps read %q, want Contoso Agent Desktop, as ACS holds it", got)
		}
		tab.AssertNoCSPViolations(t)

		// Revoke the user granted above: the confirmation says what it does.
		tab.Navigate(base + "/assignments/" + adminGrants)
		tab.AssertNoCSPViolations(t)
		tab.Click(browsertest.TestID("revoke-link"))
		tab.WaitVisible(browsertest.TestID("revoke-form"))
		if got := tab.TextByTestID("revoke-consequence"); !strings.Contains(got, "ACS tokens are revoked at once") || !strings.Contains(got, adminGrants) {
			t.Errorf("the revoke confirmation says %q: want the object and that its ACS tokens are revoked at once", got)
		}
		if got, want := tab.Text(browsertest.TestID("revoke-consequence")+" p"), "You are about to revoke the access of User "+adminGrants+" (Dana Test, Porto desk)."; got != want {
			t.Errorf("the revoke confirmation's first sentence reads %q, want %q", got, want)
		}
		tab.AssertAccessible(t)
		fillTextarea(t, tab, browsertest.TestID("justification"), "CHG-1003 agent left")
		tourShot(t, tab, "admin-revoke-confirm")
		tab.AssertNoCSPViolations(t)
		tab.Submit(browsertest.TestID("revoke-submit"))
		waitForPage(t, tab, base+"/assignments", "Access revoked for Dana Test, Porto desk (user "+adminGrants+").")
		reqs.expect(t, "DELETE", "/assignments/"+adminGrants, true, http.StatusNoContent)
		reqs.none(t, "the revoke should go by htmx's DELETE", func(r seenRequest) bool {
			return r.url.Path == "/assignments/"+adminGrants+"/delete" && r.method == "POST"
		})
		if got := rowIDs(t, tab); slices.Contains(got, adminGrants) || !slices.Contains(got, seedACSOnlyUser) {
			t.Errorf("after the revoke the list shows %v: want the adopted %s and not the revoked %s", got, seedACSOnlyUser, adminGrants)
		}
		tab.AssertNoCSPViolations(t)

		// The audit log holds the grant, the edit and the revoke, and its
		// chain is intact.
		tab.Click(browsertest.TestID("nav-audit"))
		tab.WaitVisible(browsertest.TestID("chain-intact"))
		for _, c := range []struct{ action, justification string }{
			{"grant", "CHG-1001 new agent"}, {"edit", "CHG-1002 mobile too"}, {"revoke", "CHG-1003 agent left"},
		} {
			sel := historyRow(c.action, "success", adminGrants)
			if n := tab.Count(sel); n != 1 {
				t.Errorf("the audit log has %d successful %s row(s) for %s, want 1", n, c.action, adminGrants)
				continue
			}
			if got := tab.Text(sel); !strings.Contains(got, c.justification) || !strings.Contains(got, "Adele Admin") {
				t.Errorf("the %s row reads %q: want Adele Admin and the justification %q", c.action, got, c.justification)
			}
		}
		for _, c := range []struct{ action, object string }{{"verify", seedChen}, {"adopt", seedACSOnlyUser}} {
			if n := tab.Count(historyRow(c.action, "", c.object)); n == 0 {
				t.Errorf("the audit log has no %s row for %s", c.action, c.object)
			}
		}
		tab.AssertAccessible(t)
		tourShot(t, tab, "admin-audit")
		tab.AssertNoCSPViolations(t)
	})

	t.Run("helpdesk", func(t *testing.T) {
		tab := openTab(t, b)
		signIn(t, tab, base, "helpdesk@contoso.test")
		if n := tab.Count(browsertest.TestID("nav-audit")); n != 0 {
			t.Errorf("helpdesk's navigation offers the audit log")
		}

		// Helpdesk grants users only: the form offers no other kind.
		tab.Click(browsertest.TestID("nav-grant"))
		tab.WaitVisible(browsertest.TestID("grant-form"))
		if n := tab.Count(browsertest.TestID("kind-resourceAccount")); n != 0 {
			t.Errorf("helpdesk's grant form offers the resource account kind")
		}
		if !isChecked(t, tab, browsertest.TestID("kind-user")) {
			t.Errorf("helpdesk's grant form does not preselect its only kind, user")
		}
		tab.AssertNoCSPViolations(t)
		tab.Fill(browsertest.TestID("objectId"), helpdeskGrants)
		tab.Click(browsertest.TestID("app-" + appMobileID))
		tab.Fill(browsertest.TestID("label"), "Eva Novak, night shift")
		tourShot(t, tab, "helpdesk-grant")
		mark := markDocument(t, tab)
		tab.Submit(browsertest.TestID("grant-submit"))
		confirmAbsent(t, tab, nil, mark, helpdeskGrants)
		tab.Submit(browsertest.TestID("grant-submit"))
		waitForPage(t, tab, base+"/assignments/"+helpdeskGrants, "Access granted to Eva Novak, night shift (user "+helpdeskGrants+").")
		if n := tab.Count(browsertest.TestID("edit-form")); n != 1 {
			t.Errorf("helpdesk cannot edit the user it just granted")
		}
		tab.AssertNoCSPViolations(t)

		// A resource account: helpdesk may read it, not change it.
		tab.Navigate(base + "/assignments/" + seedMainLine)
		tab.WaitVisible(browsertest.TestID("detail-kind"))
		if got := tab.TextByTestID("detail-title"); got != "Main line auto attendant" {
			t.Errorf("the resource account's page is titled %q", got)
		}
		for _, id := range []string{"revoke-link", "verify-now", "edit-form"} {
			if n := tab.Count(browsertest.TestID(id)); n != 0 {
				t.Errorf("helpdesk sees %s on a resource account", id)
			}
		}
		if got := tab.TextByTestID("read-only"); !strings.Contains(got, "ask an admin to change a resource account") {
			t.Errorf("the resource account's page says %q to helpdesk: want why it is read-only to them", got)
		}
		tab.AssertNoCSPViolations(t)

		// Helpdesk may look up a resource account only ACS holds, not adopt it.
		tab.Navigate(base + "/lookup?objectId=" + seedACSOnlyRA)
		tab.WaitVisible(browsertest.TestID("acs-found"))
		if n := tab.Count(browsertest.TestID("inventory-unknown")); n != 1 {
			t.Errorf("the lookup of %s does not say the inventory does not know it", seedACSOnlyRA)
		}
		if n := tab.Count(browsertest.TestID("adopt-form")); n != 0 {
			t.Errorf("helpdesk is offered to adopt the resource account %s", seedACSOnlyRA)
		}
		tab.AssertNoCSPViolations(t)

		// Typing the addresses anyway is refused.
		for _, path := range []string{"/assignments/" + seedMainLine + "/delete", "/audit"} {
			if got := navigateStatus(t, tab, base+path); got != http.StatusForbidden {
				t.Errorf("GET %s as helpdesk answered %d, want 403", path, got)
			}
			tab.WaitVisible(browsertest.TestID("error-page"))
			if n := tab.Count(browsertest.TestID("nav-audit")); n != 0 {
				t.Errorf("the error page at %s offers helpdesk the audit log", path)
			}
			tab.AssertNoCSPViolations(t)
		}
	})

	t.Run("auditor", func(t *testing.T) {
		tab := openTab(t, b)
		signIn(t, tab, base, "auditor@contoso.test")

		tab.Click(browsertest.TestID("nav-assignments"))
		tab.WaitVisible(browsertest.TestID("assignment-row"))
		if got, want := rowIDs(t, tab), append(slices.Clone(seedContosoRows), seedACSOnlyUser, helpdeskGrants); !sameSet(got, want) {
			t.Errorf("the auditor's list shows %v, want %v", got, want)
		}
		for _, id := range []string{"grant-link", "nav-grant"} {
			if n := tab.Count(browsertest.TestID(id)); n != 0 {
				t.Errorf("the auditor is offered %s", id)
			}
		}
		tourShot(t, tab, "auditor-list")
		tab.AssertNoCSPViolations(t)
		csvURL := linkHref(t, tab, browsertest.TestID("export-csv"))

		tab.Click(`[data-testid="assignment-row"][data-object-id="` + seedAlice + `"] a`)
		tab.WaitVisible(browsertest.TestID("detail-title"))
		if got := tab.TextByTestID("detail-title"); got != "Alice Smith" {
			t.Errorf("Alice's page is titled %q", got)
		}
		if got := tab.TextByTestID("detail-label"); got != "Alice Smith, London desk" {
			t.Errorf("Alice's label is %q", got)
		}
		for _, id := range []string{"edit-form", "verify-now", "revoke-link"} {
			if n := tab.Count(browsertest.TestID(id)); n != 0 {
				t.Errorf("the auditor sees %s on an assignment", id)
			}
		}
		tab.AssertNoCSPViolations(t)

		tab.Click(browsertest.TestID("nav-audit"))
		tab.WaitVisible(browsertest.TestID("chain-intact"))
		if n := tab.Count(historyRow("grant", "success", helpdeskGrants)); n != 1 {
			t.Errorf("the auditor's audit log has %d successful grant row(s) for %s, want 1", n, helpdeskGrants)
		}
		// Helpdesk's two refusals are in the log.
		if n := tab.Count(historyRow("access_denied", "denied", seedMainLine)); n != 1 {
			t.Errorf("the audit log has %d refusal(s) of helpdesk's revoke of %s, want 1", n, seedMainLine)
		}
		denied := evalJS[[]string](t, tab, `Array.from(document.querySelectorAll('[data-testid="history-row"][data-action="access_denied"]'), r => r.innerText)`)
		if !slices.ContainsFunc(denied, func(r string) bool { return strings.Contains(r, "Hugo Helpdesk") && strings.Contains(r, "GET /audit") }) {
			t.Errorf("the audit log has no refusal of helpdesk's GET /audit; its refusals read %q", denied)
		}
		tourShot(t, tab, "auditor-audit")
		tab.AssertNoCSPViolations(t)
		auditURL := linkHref(t, tab, browsertest.TestID("audit-csv"))

		// The exports, fetched with the auditor's session as the browser
		// would download them.
		if csvURL != base+"/assignments.csv" || auditURL != base+"/audit.csv" {
			t.Fatalf("the export links point at %s and %s", csvURL, auditURL)
		}
		session := sessionCookie(t, tab, base)
		rows := fetchCSV(t, csvURL, session)
		if want := []string{"objectId", "kind", "clientIds", "label", "state", "verifiedAt", "createdAt", "createdBy", "updatedAt", "updatedBy", "version",
			"displayName", "userPrincipalName", "phoneNumber", "inDirectory", "namesFetchedAt", "clientNames", "ready", "readinessReasons"}; !slices.Equal(rows[0], want) {
			t.Errorf("assignments.csv starts with %q, want %q", rows[0], want)
		}
		var found []string
		for _, r := range rows[1:] {
			found = append(found, r[0])
			// Named from the dev directory when the list was shown; Chen
			// has left it.
			switch r[0] {
			case seedAlice:
				if r[11] != "Alice Smith" || r[14] != "yes" {
					t.Errorf("assignments.csv names Alice %q", r[11:])
				}
			case seedChen:
				if r[11] != "" || r[14] != "no" {
					t.Errorf("assignments.csv names Chen, who left, %q", r[11:])
				}
			}
			if r[0] == helpdeskGrants {
				if r[1] != "user" || r[2] != appMobileID || r[3] != "Eva Novak, night shift" || r[7] != "Hugo Helpdesk" {
					t.Errorf("assignments.csv has %q for the user helpdesk granted", r)
				}
			}
		}
		if !sameSet(found, append(slices.Clone(seedContosoRows), seedACSOnlyUser, helpdeskGrants)) {
			t.Errorf("assignments.csv lists %v", found)
		}
		rows = fetchCSV(t, auditURL, session)
		if len(rows[0]) != 25 || rows[0][0] != "seq" || rows[0][1] != "time" || rows[0][21] != "hash" || rows[0][23] != "objectUserPrincipalName" || rows[0][24] != "tenantSeq" {
			t.Errorf("audit.csv starts with %q, want seq,time,…,hash,objectDisplayName,objectUserPrincipalName", rows[0])
		}
		granted := false
		for _, r := range rows[1:] {
			granted = granted || slices.Contains(r, helpdeskGrants) && slices.Contains(r, "grant") && slices.Contains(r, "success")
		}
		if !granted {
			t.Errorf("audit.csv has no successful grant of %s", helpdeskGrants)
		}
		// Without the session the export is not handed out.
		if resp := get(t, csvURL, nil); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/auth/login") {
			t.Errorf("assignments.csv without a session answered %d (Location %q), want 303 to the sign-in", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("admin without JavaScript", func(t *testing.T) {
		tab := openTab(t, b)
		reqs := recordRequests(t, tab, base)
		tab.DisableJavaScript()
		signIn(t, tab, base, "admin@contoso.test")

		// The search form is a plain GET.
		tab.Navigate(base + "/assignments")
		tab.WaitVisible(browsertest.TestID("assignment-row"))
		if evalJS[bool](t, tab, `typeof window.htmx !== "undefined"`) {
			t.Fatal("htmx ran in a tab with JavaScript turned off")
		}
		tab.AssertNoCSPViolations(t)
		tab.Fill(browsertest.TestID("search"), "Bruno")
		clickAndWait(t, tab, browsertest.TestID("filters")+" "+browsertest.TestID("search-button"))
		if u, err := url.Parse(tab.URL()); err != nil || u.Path != "/assignments" || u.Query().Get("q") != "Bruno" {
			t.Errorf("the search went to %s, want the list with ?q=Bruno", tab.URL())
		}
		reqs.expect(t, "GET", "/assignments", false, http.StatusOK)
		if got := rowIDs(t, tab); !slices.Equal(got, []string{seedBruno}) {
			t.Errorf("searching for Bruno shows rows %v, want only %s", got, seedBruno)
		}
		tab.AssertNoCSPViolations(t)

		// Grant: POST, 303 to the new assignment.
		tab.Navigate(base + "/assignments/new")
		tab.WaitVisible(browsertest.TestID("grant-form"))
		tab.AssertNoCSPViolations(t)
		tab.Fill(browsertest.TestID("objectId"), noJSGrants)
		tab.Click(browsertest.TestID("kind-user"))
		tab.Click(browsertest.TestID("app-" + appDesktopID))
		tab.Fill(browsertest.TestID("label"), "Farid Haddad, no script")
		clickAndWait(t, tab, browsertest.TestID("grant-submit"))
		// Nobody in the directory has it: the same form again (422), asking.
		reqs.expect(t, "POST", "/assignments", false, http.StatusUnprocessableEntity)
		if got := tab.TextByTestID("absent-warning"); !strings.Contains(got, "Nobody in your directory has this object ID") {
			t.Errorf("the warning reads %q", got)
		}
		if got := fieldValue(t, tab, browsertest.TestID("label")); got != "Farid Haddad, no script" {
			t.Errorf("the form came back without what was typed: label %q", got)
		}
		tab.Click(browsertest.TestID("confirm-absent"))
		clickAndWait(t, tab, browsertest.TestID("grant-submit"))
		assertPage(t, tab, base+"/assignments/"+noJSGrants, "Access granted to Farid Haddad, no script (user "+noJSGrants+").")
		reqs.expect(t, "POST", "/assignments", false, http.StatusSeeOther)
		tab.AssertNoCSPViolations(t)

		// Edit: POST, 303 back to the assignment.
		tab.Click("#edit-form " + browsertest.TestID("app-"+appMobileID))
		clickAndWait(t, tab, browsertest.TestID("edit-submit"))
		assertPage(t, tab, base+"/assignments/"+noJSGrants, "Calling-client apps for user "+noJSGrants+" (Farid Haddad, no script): added Contoso Agent Mobile.")
		reqs.expect(t, "POST", "/assignments/"+noJSGrants, false, http.StatusSeeOther)
		if got := tab.TextByTestID("detail-apps"); !strings.Contains(got, "Contoso Agent Desktop") || !strings.Contains(got, "Contoso Agent Mobile") {
			t.Errorf("after the edit the apps read %q, want both Contoso apps", got)
		}
		tab.AssertNoCSPViolations(t)

		// Revoke: the confirmation page, then POST …/delete, 303 to the list.
		clickAndWait(t, tab, browsertest.TestID("revoke-link"))
		tab.WaitVisible(browsertest.TestID("revoke-form"))
		tab.AssertNoCSPViolations(t)
		clickAndWait(t, tab, browsertest.TestID("revoke-submit"))
		assertPage(t, tab, base+"/assignments", "Access revoked for Farid Haddad, no script (user "+noJSGrants+").")
		reqs.expect(t, "POST", "/assignments/"+noJSGrants+"/delete", false, http.StatusSeeOther)
		if got := rowIDs(t, tab); slices.Contains(got, noJSGrants) {
			t.Errorf("after the revoke the list still shows %s", noJSGrants)
		}

		// Its page is its history now, and since when it has no access.
		tab.Navigate(base + "/assignments/" + noJSGrants)
		tab.WaitVisible(browsertest.TestID("no-access-since"))
		if got := tab.TextByTestID("no-access-since"); !strings.Contains(got, "No access since ") || !strings.Contains(got, "revoked by Adele Admin") {
			t.Errorf("the revoked assignment's page says %q", got)
		}
		if n := tab.Count(browsertest.TestID("history-row")); n != 3 {
			t.Errorf("the revoked assignment's history has %d rows, want the grant, the edit and the revoke, one row each", n)
		}
		clickAndWait(t, tab, browsertest.TestID("grant-again"))
		if fieldValue(t, tab, browsertest.TestID("objectId")) != noJSGrants || fieldValue(t, tab, browsertest.TestID("label")) != "Farid Haddad, no script" ||
			!isChecked(t, tab, browsertest.TestID("app-"+appDesktopID)) || !isChecked(t, tab, browsertest.TestID("app-"+appMobileID)) {
			t.Error("Grant again does not fill the form in as it last was")
		}
		reqs.none(t, "htmx must not run with JavaScript off", func(r seenRequest) bool { return r.htmx })
		tab.AssertNoCSPViolations(t)
	})
}

// confirmAbsent checks, after a grant of id was submitted with htmx
// (mark on the page before), that the form came back in place saying the
// directory does not have id, that the browser will not send it again
// until "Grant anyway" is ticked, and ticks it. reqs may be nil.
func confirmAbsent(t *testing.T, tab *browsertest.Tab, reqs *requestLog, mark, id string) {
	t.Helper()
	tab.WaitVisible(browsertest.TestID("absent-warning"))
	if got := tab.TextByTestID("absent-warning"); !strings.Contains(got, "Nobody in your directory has this object ID") || !strings.Contains(got, id) {
		t.Errorf("the warning reads %q", got)
	}
	assertSameDocument(t, tab, mark, "a grant the directory cannot confirm")
	if reqs != nil {
		reqs.expect(t, "POST", "/assignments", true, http.StatusUnprocessableEntity)
	}
	if !evalJS[bool](t, tab, `document.querySelector('[data-testid="confirm-absent"]').validity.valueMissing && !document.querySelector('#grant-form').checkValidity()`) {
		t.Error("the form may be sent again without ticking Grant anyway")
	}
	tab.AssertAccessible(t)
	tab.AssertNoCSPViolations(t)
	tab.Click(browsertest.TestID("confirm-absent"))
}

// requestLog records the requests a tab sends to the portal: method, URL,
// whether htmx sent it, and the status of its answer.
type requestLog struct {
	mu   sync.Mutex
	reqs []seenRequest
}

type seenRequest struct {
	id     network.RequestID
	method string
	url    *url.URL
	htmx   bool  // it carried HX-Request: true
	status int64 // 0 until answered
}

func (r seenRequest) String() string {
	via := "plain"
	if r.htmx {
		via = "htmx"
	}
	return fmt.Sprintf("%s %s (%s) → %d", r.method, r.url.RequestURI(), via, r.status)
}

// recordRequests starts recording the tab's requests to base.
func recordRequests(t *testing.T, tab *browsertest.Tab, base string) *requestLog {
	t.Helper()
	l := &requestLog{}
	err := chromedp.Listen(tab.Context(), func(ev any) {
		l.mu.Lock()
		defer l.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			if ev.RedirectResponse != nil {
				l.answer(ev.RequestID, ev.RedirectResponse.Status)
			}
			if ev.Request == nil || !strings.HasPrefix(ev.Request.URL, base+"/") {
				return
			}
			u, err := url.Parse(ev.Request.URL)
			if err != nil {
				return
			}
			htmx := false
			for k, v := range ev.Request.Headers {
				htmx = htmx || strings.EqualFold(k, "HX-Request") && v == "true"
			}
			l.reqs = append(l.reqs, seenRequest{id: ev.RequestID, method: ev.Request.Method, url: u, htmx: htmx})
		case *network.EventResponseReceived:
			if ev.Response != nil {
				l.answer(ev.RequestID, ev.Response.Status)
			}
		}
	})
	if err != nil {
		t.Fatalf("listening to the tab's requests: %v", err)
	}
	return l
}

// answer sets the status of the latest request with id (redirects reuse it).
func (l *requestLog) answer(id network.RequestID, status int64) {
	for i := len(l.reqs) - 1; i >= 0; i-- {
		if l.reqs[i].id == id {
			if l.reqs[i].status == 0 {
				l.reqs[i].status = status
			}
			return
		}
	}
}

// expect checks that the last request for method and path went by htmx or
// as a plain request, as htmx says, and was answered with status.
func (l *requestLog) expect(t *testing.T, method, path string, htmx bool, status int64) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.reqs) - 1; i >= 0; i-- {
		r := l.reqs[i]
		if r.method != method || r.url.Path != path {
			continue
		}
		if r.htmx != htmx || r.status != status {
			want := seenRequest{method: method, url: &url.URL{Path: path}, htmx: htmx, status: status}
			t.Errorf("the browser sent %v, want %v", r, want)
		}
		return
	}
	t.Errorf("the browser sent no %s %s; it sent:\n%s", method, path, l.list())
}

// none fails t if a request matched bad.
func (l *requestLog) none(t *testing.T, what string, bad func(seenRequest) bool) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.reqs {
		if bad(r) {
			t.Errorf("the browser sent %v: %s", r, what)
		}
	}
}

func (l *requestLog) list() string {
	var b strings.Builder
	for _, r := range l.reqs {
		b.WriteString("  " + r.String() + "\n")
	}
	return b.String()
}

// openTab opens a tab for t whose viewport is 1280×900 CSS pixels, the size
// of the tour's screenshots (the browser's window size leaves a smaller
// viewport in headless Chromium).
func openTab(t *testing.T, b *browsertest.Browser) *browsertest.Tab {
	t.Helper()
	tab := b.NewTab(t)
	ctx, cancel := context.WithTimeout(tab.Context(), patience)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("setting the viewport: %v", err)
	}
	return tab
}

// tourShot saves the top of the page as the README tour's picture name
// (when PORTAL_SCREENSHOTS is set).
func tourShot(t *testing.T, tab *browsertest.Tab, name string) {
	t.Helper()
	if os.Getenv(browsertest.ScreenshotsEnv) == "" {
		return
	}
	evalJS[chromedp.Void](t, tab, `window.scrollTo(0, 0)`)
	tab.Screenshot(name)
}

// rowIDs lists the object IDs of the assignment rows the page shows.
func rowIDs(t *testing.T, tab *browsertest.Tab) []string {
	t.Helper()
	return evalJS[[]string](t, tab, `Array.from(document.querySelectorAll('[data-testid="assignment-row"]'), r => r.dataset.objectId)`)
}

// sameSet reports whether got and want hold the same strings, in any order.
func sameSet(got, want []string) bool {
	got, want = slices.Clone(got), slices.Clone(want)
	slices.Sort(got)
	slices.Sort(want)
	return slices.Equal(got, want)
}

// historyRow selects the audit rows of action on object; an outcome of ""
// matches any.
func historyRow(action, outcome, object string) string {
	sel := `[data-testid="history-row"][data-action="` + action + `"]`
	if outcome != "" {
		sel += `[data-outcome="` + outcome + `"]`
	}
	return sel + `:has(a[href="/assignments/` + object + `"])`
}

// evalJS evaluates a JavaScript expression in the page and returns its value.
// It works with the tab's JavaScript turned off too: the DevTools protocol
// evaluates regardless.
func evalJS[T any](t *testing.T, tab *browsertest.Tab, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.Context(), patience)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluating %s on %s: %v", js, tab.URL(), err)
	}
	return v
}

func jsString(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// fieldValue is the current value of a form field, as the person sees it.
func fieldValue(t *testing.T, tab *browsertest.Tab, sel string) string {
	t.Helper()
	return evalJS[string](t, tab, `document.querySelector(`+jsString(sel)+`).value`)
}

func isChecked(t *testing.T, tab *browsertest.Tab, sel string) bool {
	t.Helper()
	return evalJS[bool](t, tab, `!!document.querySelector(`+jsString(sel)+`)?.checked`)
}

// linkHref is the absolute address a link points at.
func linkHref(t *testing.T, tab *browsertest.Tab, sel string) string {
	t.Helper()
	return evalJS[string](t, tab, `document.querySelector(`+jsString(sel)+`)?.href ?? ""`)
}

// fillInput is tab.Fill for a text input the person has already typed in:
// Fill clears with chromedp.Clear, which empties the value attribute, not
// the value typed since, so the new text would be appended to the old.
func fillInput(t *testing.T, tab *browsertest.Tab, sel, value string) {
	t.Helper()
	fillTextarea(t, tab, sel, value)
}

// fillTextarea types value into a textarea (tab.Fill replaces what is there).
func fillTextarea(t *testing.T, tab *browsertest.Tab, sel, value string) {
	t.Helper()
	tab.Fill(sel, value)
}

// waitUntil polls the JavaScript condition cond until it holds, failing t
// after patience. Errors while a new page loads count as "not yet", and so
// does an evaluation that has no answer within a tenth of patience (one
// caught in a navigation): it is asked again.
func waitUntil(t *testing.T, tab *browsertest.Tab, what, cond string) {
	t.Helper()
	var lastErr error
	waitFor(t, what, func() bool {
		ctx, cancel := context.WithTimeout(tab.Context(), patience/10)
		defer cancel()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		if err != nil {
			lastErr = err
		}
		return err == nil && ok
	}, func() string { return fmt.Sprintf("on %s (last error: %v)", tab.URL(), lastErr) })
}

// markDocument leaves a random mark on the page's window object, so that
// assertSameDocument can tell a swap in place from a page load.
func markDocument(t *testing.T, tab *browsertest.Tab) string {
	t.Helper()
	mark := fmt.Sprintf("m%d", time.Now().UnixNano())
	evalJS[string](t, tab, `window.__portalTestMark = `+jsString(mark))
	return mark
}

func assertSameDocument(t *testing.T, tab *browsertest.Tab, mark, what string) {
	t.Helper()
	if !evalJS[bool](t, tab, `window.__portalTestMark === `+jsString(mark)) {
		t.Errorf("%s loaded a new page (%s): htmx should have swapped the part in place", what, tab.URL())
	}
}

// waitForPage waits for a new page at addr whose flash says flash: a
// successful change answers htmx with HX-Redirect, a plain form with a 303.
func waitForPage(t *testing.T, tab *browsertest.Tab, addr, flash string) {
	t.Helper()
	waitUntil(t, tab, fmt.Sprintf("%s with the flash %q", addr, flash),
		`location.href === `+jsString(addr)+` && document.readyState === "complete" && Array.from(document.querySelectorAll('[data-testid="flash"]'), f => f.innerText.trim()).includes(`+jsString(flash)+`)`)
}

// assertPage checks that the tab shows addr with the flash flash.
func assertPage(t *testing.T, tab *browsertest.Tab, addr, flash string) {
	t.Helper()
	if got := tab.URL(); got != addr {
		t.Errorf("landed on %s, want %s", got, addr)
	}
	var flashes []string
	if tab.Count(browsertest.TestID("flash")) > 0 {
		flashes = evalJS[[]string](t, tab, `Array.from(document.querySelectorAll('[data-testid="flash"]'), f => f.innerText.trim())`)
	}
	if !slices.Contains(flashes, flash) {
		t.Errorf("the page at %s shows the flash(es) %q, want %q", addr, flashes, flash)
	}
}

// clickAndWait clicks sel and waits until a new page has loaded: one whose
// footer shows another request ID. For tabs without JavaScript, where a
// click on a link or a submit button is a navigation.
func clickAndWait(t *testing.T, tab *browsertest.Tab, sel string) {
	t.Helper()
	before := evalJS[string](t, tab, `document.querySelector(".request-id")?.textContent ?? ""`)
	tab.Click(sel)
	waitUntil(t, tab, "a new page after clicking "+sel,
		`document.readyState === "complete" && (document.querySelector(".request-id")?.textContent ?? "") !== `+jsString(before))
}

// navigateStatus loads addr in the tab and returns the HTTP status of the page.
func navigateStatus(t *testing.T, tab *browsertest.Tab, addr string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.Context(), patience)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(addr))
	if err != nil {
		t.Fatalf("navigating to %s: %v", addr, err)
	}
	return resp.Status
}

// sessionCookie is the tab's portal session cookie.
func sessionCookie(t *testing.T, tab *browsertest.Tab, base string) *http.Cookie {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab.Context(), patience)
	defer cancel()
	res, err := chromedp.Run(ctx, chromedp.Action[network.GetCookiesResult](func(ctx context.Context, tg *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/"}})
	}))
	if err != nil {
		t.Fatalf("reading the tab's cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == "portal" {
			return &http.Cookie{Name: c.Name, Value: c.Value}
		}
	}
	t.Fatalf("the tab holds no portal session cookie for %s", base)
	return nil
}

// get fetches addr without following redirects, with cookie if not nil.
func get(t *testing.T, addr string, cookie *http.Cookie) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	client := &http.Client{Timeout: patience, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", addr, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", addr, err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp
}

// fetchCSV downloads a CSV export with the session and returns its records.
func fetchCSV(t *testing.T, addr string, session *http.Cookie) [][]string {
	t.Helper()
	resp := get(t, addr, session)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s answered %d: %.300s", addr, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("GET %s is %q, want text/csv", addr, ct)
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
		t.Errorf("GET %s has Content-Disposition %q, want an attachment", addr, cd)
	}
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("GET %s is not CSV: %v\n%.500s", addr, err, body)
	}
	if len(rows) == 0 {
		t.Fatalf("GET %s is empty", addr)
	}
	return rows
}
