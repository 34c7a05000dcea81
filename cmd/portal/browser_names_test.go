package main

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/teamsphone/portal/internal/browsertest"
)

// The dev directory's (devgraph.go) resource accounts that the picker shows
// or must not show; the Support queue is seedACSOnlyRA, in ACS only before
// the test.
const (
	namesSupportPhone  = "+14255550101"
	namesMainLinePhone = "+14255550100"
	namesSalesLine     = "6a7b8c9d-0e1f-4a2b-9c3d-4e5f6a7b8c09" // bound to another ACS resource
)

// namesThrottled is what the portal says while the Graph emulator answers
// 429 with Retry-After: 30 (graph/client.go).
const namesThrottled = "Microsoft Graph asked the portal to slow down"

// People, not GUIDs (issue #7), in Chromium against one "portal dev" and
// its Graph emulator: the auditor reads display names and user names in
// the list and the audit log, sees who has left the directory and which
// app has no service principal, finds rows by a name in the list's search
// and in the audit log's Object filter; an admin picks a resource account
// by name and number (with and without JavaScript), grants and revokes it
// seeing its number; and with Graph throttling everything, helpdesk still
// grants a person by object ID, whose page then says why there is no name,
// and the people finder says so too. No page breaks the CSP, and the list, the audit log, the picker and
// the revoke confirmation pass axe-core's serious and critical checks.
//
// The subtests run in order and share the portal: Graph fails only in the
// last one.
func TestBrowserNames(t *testing.T) {
	base, graphURL := startDevPortalWithGraph(t)
	b := browsertest.New(t, browsertest.WithWindowSize(1280, 900))

	t.Run("auditor reads names", func(t *testing.T) {
		tab := openTab(t, b)
		reqs := recordRequests(t, tab, base)
		signIn(t, tab, base, "auditor@contoso.test")

		// The list: names from the directory, asked while the page waited.
		tab.Navigate(base + "/assignments")
		tab.WaitVisible(browsertest.TestID("assignment-row"))
		if got, want := rowIDs(t, tab), seedContosoRows; !sameSet(got, want) {
			t.Fatalf("the auditor's list shows rows %v, want Contoso's seeded %v", got, want)
		}
		if n := tab.Count(browsertest.TestID("names-note")); n != 0 {
			t.Errorf("the list explains missing names: %q; want every name shown", tab.TextByTestID("names-note"))
		}
		for _, p := range []struct{ id, name, upn string }{
			{seedAlice, "Alice Smith", "alice.smith@contoso.test"},
			{seedBruno, "Bruno Costa", "bruno.costa@contoso.test"},
			{seedMainLine, "Main line auto attendant", "mainline@contoso.test"},
		} {
			got := namesPrincipal(t, tab, namesRow(p.id))
			if got.Name != p.name || got.UPN != p.upn || got.Deleted || got.ID != p.id {
				t.Errorf("the row of %s names %+v, want %q, %q and the object ID, not flagged", p.id, got, p.name, p.upn)
			}
		}
		chen := namesPrincipal(t, tab, namesRow(seedChen))
		if !chen.Deleted || chen.DeletedText != "not in directory" {
			t.Errorf("Chen Wei's row is not flagged \"not in directory\": %+v", chen)
		}
		if chen.Name != "" || chen.UPN != "" || strings.Contains(chen.Text, "Chen Wei") || chen.ID != seedChen {
			t.Errorf("Chen Wei, deleted from the directory, is still named in the list: %+v", chen)
		}
		// The mobile app has no service principal in Contoso: flagged in
		// each row that holds it (its name is the portal's known app's);
		// the desktop app is not flagged.
		for id, want := range map[string][]namesAppItem{
			seedAlice: {{ID: appDesktopID, Name: "Contoso Agent Desktop"}},
			seedBruno: {{ID: appDesktopID, Name: "Contoso Agent Desktop"}, {ID: appMobileID, Name: "Contoso Agent Mobile", Flagged: true}},
			seedChen:  {{ID: appMobileID, Name: "Contoso Agent Mobile", Flagged: true}},
		} {
			if got := namesApps(t, tab, namesRow(id)); !slices.Equal(got, want) {
				t.Errorf("the apps of %s read %+v, want %+v", id, got, want)
			}
		}
		tab.AssertAccessible(t)
		tab.AssertNoCSPViolations(t)

		// The search finds by name as you type, and by a user name that no
		// label holds.
		mark := markDocument(t, tab)
		tab.Fill(browsertest.TestID("search"), "bruno")
		waitUntil(t, tab, "the list to narrow to one row with ?q=bruno",
			`document.querySelectorAll('[data-testid="assignment-row"]').length === 1 && new URLSearchParams(location.search).get("q") === "bruno"`)
		if got := rowIDs(t, tab); !slices.Equal(got, []string{seedBruno}) {
			t.Errorf("searching for bruno shows rows %v, want only Bruno Costa's %s", got, seedBruno)
		}
		if got := namesPrincipal(t, tab, namesRow(seedBruno)).Name; got != "Bruno Costa" {
			t.Errorf("after the search Bruno's row names %q", got)
		}
		fillInput(t, tab, browsertest.TestID("search"), "smith@contoso")
		waitUntil(t, tab, "the list to narrow with ?q=smith@contoso",
			`new URLSearchParams(location.search).get("q") === "smith@contoso" && document.querySelectorAll('[data-testid="assignment-row"]').length <= 1`)
		if got := rowIDs(t, tab); !slices.Equal(got, []string{seedAlice}) {
			t.Errorf("searching for Alice's user name shows rows %v, want only %s", got, seedAlice)
		}
		assertSameDocument(t, tab, mark, "typing in the list's search box")
		reqs.expect(t, "GET", "/assignments", true, http.StatusOK)
		tab.AssertNoCSPViolations(t)

		// The audit log names the objects of its rows.
		tab.Navigate(base + "/audit")
		tab.WaitVisible(browsertest.TestID("chain-intact"))
		for _, p := range []struct{ id, name string }{{seedAlice, "Alice Smith"}, {seedBruno, "Bruno Costa"}, {seedMainLine, "Main line auto attendant"}} {
			sel := historyRow("adopt", "", p.id)
			if n := tab.Count(sel); n == 0 {
				t.Errorf("the audit log has no adopt row for %s", p.id)
				continue
			}
			if got := namesPrincipal(t, tab, sel); got.Name != p.name || got.ID != p.id {
				t.Errorf("the audit row of %s names %+v, want %q", p.id, got, p.name)
			}
		}
		if sel := historyRow("adopt", "", seedChen); tab.Count(sel) == 0 {
			t.Errorf("the audit log has no adopt row for %s", seedChen)
		} else if got := namesPrincipal(t, tab, sel); !got.Deleted || got.Name != "" || strings.Contains(got.Text, "Chen Wei") {
			t.Errorf("Chen Wei's audit row reads %+v, want the ID flagged not in directory", got)
		}
		if n := tab.Count(browsertest.TestID("names-note")); n != 0 {
			t.Errorf("the audit log explains missing names: %q", tab.TextByTestID("names-note"))
		}
		tab.AssertAccessible(t)
		tab.AssertNoCSPViolations(t)

		// The Object filter takes a name.
		mark = markDocument(t, tab)
		tab.Fill(browsertest.TestID("audit-target"), "Alice")
		tab.Submit(browsertest.TestID("audit-filter-submit"))
		waitUntil(t, tab, "the audit log to show Alice's rows with ?target=Alice",
			`new URLSearchParams(location.search).get("target") === "Alice" && document.querySelectorAll('[data-testid="history-row"]').length > 0`)
		targets := evalJS[[]string](t, tab, `Array.from(document.querySelectorAll('[data-testid="history-row"]'), r => r.querySelector('[data-testid="principal"] a')?.getAttribute("href") ?? "")`)
		if len(targets) == 0 || slices.ContainsFunc(targets, func(h string) bool { return h != "/assignments/"+seedAlice }) {
			t.Errorf("the audit log filtered by the name Alice shows rows of %q, want Alice Smith's (%s) only", targets, seedAlice)
		}
		if n := tab.Count(historyRow("adopt", "", seedAlice)); n != 1 {
			t.Errorf("the audit log filtered by the name Alice has %d adopt row(s) of Alice, want 1", n)
		}
		if n := tab.Count(browsertest.TestID("audit-target") + `[aria-invalid="true"]`); n != 0 {
			t.Errorf("the name Alice is refused as a target: %q", tab.Text(browsertest.TestID("audit-results")))
		}
		assertSameDocument(t, tab, mark, "filtering the audit log by a name")
		reqs.expect(t, "GET", "/audit", true, http.StatusOK)
		tab.AssertNoCSPViolations(t)
	})

	t.Run("admin picks and revokes a resource account", func(t *testing.T) {
		tab := openTab(t, b)
		reqs := recordRequests(t, tab, base)
		signIn(t, tab, base, "admin@contoso.test")

		// The seeded resource account shows its number to an admin, though
		// the auditor's pages named it first, without one.
		tab.Navigate(base + "/assignments/" + seedMainLine)
		tab.WaitVisible(browsertest.TestID("detail-name"))
		if got := tab.TextByTestID("detail-title"); got != "Main line auto attendant" {
			t.Errorf("the main line's page is titled %q", got)
		}
		if n := tab.Count(browsertest.TestID("detail-phone")); n != 1 {
			t.Errorf("the main line's page shows no phone number to the admin; it reads %q", tab.TextByTestID("detail-name"))
		} else if got := tab.TextByTestID("detail-phone"); got != namesMainLinePhone {
			t.Errorf("the main line's phone number reads %q, want %s", got, namesMainLinePhone)
		}
		tab.AssertNoCSPViolations(t)

		// The picker lists, in place, the accounts bound to this ACS
		// resource with their numbers.
		tab.Navigate(base + "/assignments/new")
		tab.WaitVisible(browsertest.TestID("account-picker"))
		tab.AssertNoCSPViolations(t)
		mark := markDocument(t, tab)
		tab.Click(browsertest.TestID("accounts-list"))
		waitUntil(t, tab, "the resource accounts to be listed",
			`document.querySelectorAll('[data-testid="account-results"] [data-testid="account"]').length > 0 || !!document.querySelector('[data-testid="accounts-message"]')`)
		assertSameDocument(t, tab, mark, "pressing List resource accounts")
		reqs.expect(t, "GET", "/resource-accounts", true, http.StatusOK)
		if n := tab.Count(browsertest.TestID("accounts-message")); n != 0 {
			t.Fatalf("the picker lists no accounts: %q", tab.TextByTestID("accounts-message"))
		}
		accounts := evalJS[[]namesAccount](t, tab, `Array.from(document.querySelectorAll('[data-testid="account-results"] [data-testid="account"]'), r => ({
			id: r.dataset.objectId,
			name: r.querySelector('[data-testid="account-pick"]')?.innerText.trim() ?? "",
			phone: r.querySelector('[data-testid="account-phone"]')?.innerText.trim() ?? "",
		}))`)
		want := []namesAccount{
			{ID: devFrontDesk, Name: "Front desk auto attendant", Phone: "+14255550105"},
			{ID: seedMainLine, Name: "Main line auto attendant", Phone: namesMainLinePhone},
			{ID: devOverflow, Name: "Overflow line", Phone: ""},
			{ID: devReception, Name: "Reception line", Phone: "+14255550103"},
			{ID: seedACSOnlyRA, Name: "Support queue", Phone: namesSupportPhone},
		}
		slices.SortFunc(accounts, func(a, b namesAccount) int { return strings.Compare(a.Name, b.Name) })
		if !slices.Equal(accounts, want) {
			t.Errorf("the picker lists %+v, want %+v", accounts, want)
		}
		if got := tab.TextByTestID("account-results"); strings.Contains(got, "Sales line") || strings.Contains(got, namesSalesLine) || strings.Contains(got, "+14255550102") {
			t.Errorf("the picker lists the Sales line, bound to another ACS resource: %q", got)
		}
		tab.AssertAccessible(t)
		tab.AssertNoCSPViolations(t)

		// Picking the Support queue fills the form with a resource account.
		pick := `[data-testid="account"][data-object-id="` + seedACSOnlyRA + `"] ` + browsertest.TestID("account-pick")
		wantForm := base + "/assignments/new?" + url.Values{"objectId": {seedACSOnlyRA}, "label": {"Support queue"}, "kind": {"resourceAccount"}}.Encode()
		if got := linkHref(t, tab, pick); got != wantForm {
			t.Errorf("the Support queue's link points at %s, want %s", got, wantForm)
		}
		tab.Click(pick)
		waitUntil(t, tab, "the grant form for the Support queue",
			`location.href === `+jsString(wantForm)+` && document.readyState === "complete" && !!document.querySelector('[data-testid="grant-form"]')`)
		if got := fieldValue(t, tab, browsertest.TestID("objectId")); got != seedACSOnlyRA {
			t.Errorf("the grant form's object ID holds %q, want the Support queue's %s", got, seedACSOnlyRA)
		}
		if got := fieldValue(t, tab, browsertest.TestID("label")); got != "Support queue" {
			t.Errorf("the grant form's label holds %q, want Support queue", got)
		}
		if !isChecked(t, tab, browsertest.TestID("kind-resourceAccount")) || isChecked(t, tab, browsertest.TestID("kind-user")) {
			t.Errorf("the grant form for the Support queue does not have the kind resource account chosen")
		}
		tab.AssertNoCSPViolations(t)

		fillTextarea(t, tab, browsertest.TestID("justification"), "CHG-3001 support queue picked by name")
		tab.Submit(browsertest.TestID("grant-submit"))
		granted := "Access granted to Support queue (resource account " + seedACSOnlyRA + ")."
		// ACS held the Support queue already (dev seed): the grant records it.
		waitForPage(t, tab, base+"/assignments/"+seedACSOnlyRA, granted+" ACS already held exactly this assignment; the inventory now records it.")
		reqs.expect(t, "POST", "/assignments", true, http.StatusNoContent) // HX-Redirect
		for id, want := range map[string]string{"detail-kind": "Resource account", "detail-title": "Support queue", "detail-phone": namesSupportPhone} {
			if n := tab.Count(browsertest.TestID(id)); n != 1 {
				t.Errorf("the Support queue's page has no %s", id)
			} else if got := tab.TextByTestID(id); got != want {
				t.Errorf("the Support queue's %s reads %q, want %q", id, got, want)
			}
		}
		tab.AssertNoCSPViolations(t)

		// Its revoke confirmation names it and its number.
		tab.Click(browsertest.TestID("revoke-link"))
		tab.WaitVisible(browsertest.TestID("revoke-form"))
		for id, want := range map[string]string{"revoke-name": "Support queue", "revoke-phone": namesSupportPhone} {
			if n := tab.Count(browsertest.TestID(id)); n != 1 {
				t.Errorf("the revoke confirmation has no %s; it reads %q", id, tab.TextByTestID("revoke-consequence"))
			} else if got := tab.TextByTestID(id); got != want {
				t.Errorf("the revoke confirmation's %s reads %q, want %q", id, got, want)
			}
		}
		if got := tab.TextByTestID("revoke-consequence"); !strings.Contains(got, seedACSOnlyRA) || !strings.Contains(got, "calls to its phone number stop") {
			t.Errorf("the revoke confirmation says %q: want the object ID and that calls to its number stop", got)
		}
		tab.AssertAccessible(t)
		tab.AssertNoCSPViolations(t)
		fillTextarea(t, tab, browsertest.TestID("justification"), "CHG-3002 support queue retired")
		tab.Submit(browsertest.TestID("revoke-submit"))
		waitForPage(t, tab, base+"/assignments", "Access revoked for Support queue (resource account "+seedACSOnlyRA+").")
		reqs.expect(t, "DELETE", "/assignments/"+seedACSOnlyRA, true, http.StatusNoContent)
		if got := rowIDs(t, tab); slices.Contains(got, seedACSOnlyRA) || !slices.Contains(got, seedMainLine) {
			t.Errorf("after the revoke the list shows %v: want the main line and not the Support queue", got)
		}
		tab.AssertNoCSPViolations(t)
	})

	t.Run("admin lists resource accounts without JavaScript", func(t *testing.T) {
		tab := openTab(t, b)
		reqs := recordRequests(t, tab, base)
		tab.DisableJavaScript()
		signIn(t, tab, base, "admin@contoso.test")
		tab.Navigate(base + "/assignments/new")
		tab.WaitVisible(browsertest.TestID("account-picker"))
		clickAndWait(t, tab, browsertest.TestID("accounts-list"))
		if u, err := url.Parse(tab.URL()); err != nil || u.Path != "/assignments/new" || u.Query().Get("accounts") == "" {
			t.Errorf("List resource accounts went to %s, want the grant form with ?accounts=1", tab.URL())
		}
		reqs.expect(t, "GET", "/assignments/new", false, http.StatusOK)
		sel := `[data-testid="account"][data-object-id="` + seedACSOnlyRA + `"]`
		if n := tab.Count(sel); n != 1 {
			t.Fatalf("the picker without JavaScript does not list the Support queue; it reads %q", tab.TextByTestID("account-results"))
		}
		if got := tab.Text(sel + " " + browsertest.TestID("account-phone")); got != namesSupportPhone {
			t.Errorf("the Support queue's number reads %q, want %s", got, namesSupportPhone)
		}
		if got := tab.TextByTestID("account-results"); strings.Contains(got, "Sales line") {
			t.Errorf("the picker without JavaScript lists the Sales line, bound to another ACS resource: %q", got)
		}
		clickAndWait(t, tab, sel+" "+browsertest.TestID("account-pick"))
		if got := fieldValue(t, tab, browsertest.TestID("objectId")); got != seedACSOnlyRA {
			t.Errorf("the grant form's object ID holds %q, want the Support queue's %s", got, seedACSOnlyRA)
		}
		if !isChecked(t, tab, browsertest.TestID("kind-resourceAccount")) {
			t.Errorf("the grant form for the Support queue does not have the kind resource account chosen")
		}
		reqs.none(t, "htmx must not run with JavaScript off", func(r seenRequest) bool { return r.htmx })
		tab.AssertNoCSPViolations(t)
	})

	t.Run("Graph failing", func(t *testing.T) {
		namesSetGraphFaults(t, graphURL, "429=1,retry-after=30")
		cleared := false
		t.Cleanup(func() {
			if !cleared {
				namesSetGraphFaults(t, graphURL, "")
			}
		})

		tab := openTab(t, b)
		signIn(t, tab, base, "helpdesk@contoso.test")

		// A person the portal never named, granted by object ID: the grant
		// does not need Graph, and says the directory could not check it.
		tab.Navigate(base + "/assignments/new")
		tab.WaitVisible(browsertest.TestID("grant-form"))
		tab.Fill(browsertest.TestID("objectId"), peopleNora)
		tab.Click(browsertest.TestID("app-" + appDesktopID))
		fillTextarea(t, tab, browsertest.TestID("justification"), "CHG-3003 while Graph throttles")
		tab.Submit(browsertest.TestID("grant-submit"))
		waitUntil(t, tab, "the new assignment's page, saying the directory was not asked",
			`location.href === `+jsString(base+"/assignments/"+peopleNora)+` && document.readyState === "complete" && Array.from(document.querySelectorAll('[data-testid="flash"]'), f => f.innerText.trim()).some(f =>
				f.startsWith(`+jsString("Access granted to user "+peopleNora+". Whether the directory has this object is unknown: ")+`) && f.includes(`+jsString(namesThrottled)+`))`)

		// Its page: the object ID, no name, and why.
		if got := tab.TextByTestID("detail-object-id"); got != peopleNora {
			t.Errorf("the new assignment's object ID reads %q, want %s", got, peopleNora)
		}
		if got := tab.TextByTestID("detail-name"); got != "name unknown" {
			t.Errorf("the new assignment's name reads %q while Graph throttles, want name unknown", got)
		}
		if got := tab.TextByTestID("detail-title"); got != "User "+peopleNora {
			t.Errorf("the new assignment's page is titled %q, want User %s", got, peopleNora)
		}
		if n := tab.Count(browsertest.TestID("principal-deleted")); n != 0 {
			t.Errorf("Graph throttling flags the person as deleted")
		}
		if body := tab.Text("main"); strings.Contains(body, "Nora") || strings.Contains(body, "norole@") {
			t.Errorf("the page names the person though Graph throttled every request: %q", body)
		}
		if n := tab.Count(browsertest.TestID("names-note")); n != 1 {
			t.Errorf("the page does not say why the name is missing")
		} else if got := tab.TextByTestID("names-note"); !strings.Contains(got, namesThrottled) {
			t.Errorf("the names note says %q, want that %s", got, namesThrottled)
		}
		tab.AssertAccessible(t)
		tab.AssertNoCSPViolations(t)

		// The people finder says so instead of results.
		tab.Navigate(base + "/assignments/new")
		tab.WaitVisible(browsertest.TestID("people-finder"))
		tab.Fill(browsertest.TestID("find"), "nor")
		waitUntil(t, tab, "the people finder to give its message",
			`!!document.querySelector('[data-testid="people-results"] [data-testid="people-message"]')`)
		if got := tab.TextByTestID("people-message"); !strings.Contains(got, namesThrottled) || !strings.Contains(got, "Type the object ID instead.") {
			t.Errorf("the people finder says %q, want that %s and to type the object ID", got, namesThrottled)
		}
		if n := tab.Count(browsertest.TestID("person")); n != 0 {
			t.Errorf("the people finder shows %d person(s) while Graph throttles", n)
		}
		tab.AssertNoCSPViolations(t)

		namesSetGraphFaults(t, graphURL, "")
		cleared = true
	})
}

// namesSetGraphFaults changes the dev Graph emulator's injected faults, as
// the banner's curl command does; "" clears them.
func namesSetGraphFaults(t *testing.T, graphURL, spec string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, graphURL+"/_emulator/faults", strings.NewReader(spec))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Timeout: patience}).Do(req)
	if err != nil {
		t.Errorf("setting the Graph emulator's faults to %q: %v", spec, err)
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("setting the Graph emulator's faults to %q answered %d", spec, resp.StatusCode)
	}
}

// namesRow selects the list's row of object id.
func namesRow(id string) string {
	return `[data-testid="assignment-row"][data-object-id="` + id + `"]`
}

// namesPrincipalView is what a Principal component shows.
type namesPrincipalView struct {
	Name        string `json:"name"`
	UPN         string `json:"upn"`
	ID          string `json:"id"` // the object ID shown
	Deleted     bool   `json:"deleted"`
	DeletedText string `json:"deletedText"`
	Text        string `json:"text"` // all of it
}

// namesPrincipal reads the first principal inside the element sel.
func namesPrincipal(t *testing.T, tab *browsertest.Tab, sel string) namesPrincipalView {
	t.Helper()
	return evalJS[namesPrincipalView](t, tab, `(() => {
		const p = document.querySelector(`+jsString(sel+" "+browsertest.TestID("principal"))+`);
		if (!p) return {text: "(no principal in `+strings.ReplaceAll(sel, `"`, `'`)+`)"};
		const text = id => p.querySelector('[data-testid="' + id + '"]')?.innerText.trim() ?? "";
		return {
			name: text("principal-name"),
			upn: text("principal-upn"),
			id: p.querySelector("code")?.innerText.trim() ?? "",
			deleted: !!p.querySelector('[data-testid="principal-deleted"]'),
			deletedText: text("principal-deleted"),
			text: p.innerText.trim(),
		};
	})()`)
}

// namesAppItem is one calling-client app in a list of apps.
type namesAppItem struct {
	ID      string `json:"id"`
	Name    string `json:"name"`    // "" when unnamed
	Flagged bool   `json:"flagged"` // no service principal in the tenant
}

// namesApps reads the apps listed inside the element sel: a named app's
// ID is its name's title (a table cell sends no more), an unnamed one's
// the ID shown.
func namesApps(t *testing.T, tab *browsertest.Tab, sel string) []namesAppItem {
	t.Helper()
	return evalJS[[]namesAppItem](t, tab, `Array.from(document.querySelectorAll(`+jsString(sel+" "+browsertest.TestID("apps")+" li")+`), li => {
		const code = li.querySelector("code"), named = li.querySelector(".app-name");
		const clone = li.cloneNode(true);
		clone.querySelectorAll("code, .badge, .copy-id").forEach(e => e.remove());
		return {id: named?.title || (code?.innerText.trim() ?? ""), name: clone.textContent.trim(), flagged: !!li.querySelector('[data-testid="no-service-principal"]')};
	}).sort((a, b) => a.id < b.id ? -1 : 1)`)
}

// namesAccount is a row of the resource-account picker.
type namesAccount struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Phone string `json:"phone"`
}
