package main

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/teamsphone/portal/internal/browsertest"
)

// People of the dev directory (devgraph.go) that the people finder grants.
// Neither is in the inventory nor in ACS before the test: dev personas,
// whom Graph knows by name, that no seeded assignment holds.
const (
	peopleNora  = "947e5c67-9d49-4a9f-818d-2e42a0bd3592" // Nora Norole, Contoso: granted with JavaScript
	peopleAude  = "a5d9498c-c90d-4479-8c8d-09c17d95dd93" // Aude Auditor, Contoso: granted without
	peopleFelix = "1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a07" // Felix Braun, Fabrikam only
)

// peopleHTMLQuery is a search that is markup: it must come back as text.
const peopleHTMLQuery = `<em data-injected>Nora</em>`

// Helpdesk grants access to a user found by name in the grant form's people
// finder (issue #7), once with JavaScript — results as you type (htmx), the
// person's link fills the form, the grant by htmx — and once without — the
// Search button, the result's link, a plain POST. The finder never shows
// people of another tenant nor deleted ones, and shows a query that is
// markup as text. No page breaks the CSP, and the grant form with results
// passes axe-core's serious and critical checks.
func TestBrowserGrantPersonFoundByName(t *testing.T) {
	base := startDevPortal(t)
	b := browsertest.New(t, browsertest.WithWindowSize(1280, 900))

	t.Run("with JavaScript", func(t *testing.T) {
		tab := openTab(t, b)
		reqs := recordRequests(t, tab, base)
		signIn(t, tab, base, "helpdesk@contoso.test")
		tab.Navigate(base + "/assignments/new")
		tab.WaitVisible(browsertest.TestID("people-finder"))
		tab.WaitVisible(browsertest.TestID("grant-form"))
		tab.AssertNoCSPViolations(t)

		// Typing part of a name shows the person, with nothing pressed and
		// no page loaded.
		mark := markDocument(t, tab)
		tab.Fill(browsertest.TestID("find"), "nor")
		waitUntil(t, tab, "the people finder to show Nora Norole as you type",
			`Array.from(document.querySelectorAll('[data-testid="person"]'), a => a.innerText.trim()).includes("Nora Norole")`)
		assertSameDocument(t, tab, mark, "typing in the people finder")
		reqs.expect(t, "GET", "/people", true, http.StatusOK)
		reqs.none(t, "typing must not submit the finder's form", func(r seenRequest) bool {
			return r.url.Path == "/assignments/new" && r.url.Query().Has("find")
		})
		if got := peopleNames(t, tab); !slices.Equal(got, []string{"Nora Norole"}) {
			t.Errorf("searching for %q finds %q, want only Nora Norole", "nor", got)
		}
		if got := tab.Text(browsertest.TestID("people-results") + " li"); !strings.Contains(got, "norole@contoso.test") {
			t.Errorf("Nora's result reads %q, want her user name norole@contoso.test too", got)
		}
		tab.AssertAccessible(t)
		tourShot(t, tab, "helpdesk-people-finder")
		tab.AssertNoCSPViolations(t)

		// Someone of another tenant is not found as you type either, and a
		// query that is markup is shown as text.
		jsSearch(t, tab, "Felix", "Nobody found for “Felix”.")
		jsSearch(t, tab, peopleFelix, "Nobody found for “"+peopleFelix+"”.")
		jsSearch(t, tab, peopleHTMLQuery, "Nobody found for “"+peopleHTMLQuery+"”.")
		assertNotInjected(t, tab)
		assertSameDocument(t, tab, mark, "searching again")
		tab.AssertNoCSPViolations(t)

		// Back to Nora; her link opens the grant form filled in.
		fillInput(t, tab, browsertest.TestID("find"), "Nora No")
		waitUntil(t, tab, "the people finder to show Nora Norole again",
			`Array.from(document.querySelectorAll('[data-testid="person"]'), a => a.innerText.trim()).includes("Nora Norole")`)
		want := base + "/assignments/new?" + url.Values{"objectId": {peopleNora}, "label": {"Nora Norole"}}.Encode()
		if got := linkHref(t, tab, browsertest.TestID("person")); got != want {
			t.Errorf("Nora's link points at %s, want %s", got, want)
		}
		tab.Click(browsertest.TestID("person"))
		waitUntil(t, tab, "the grant form for Nora",
			`location.href === `+jsString(want)+` && document.readyState === "complete" && !!document.querySelector('[data-testid="grant-form"]')`)
		assertFilledFor(t, tab, peopleNora, "Nora Norole")
		tab.AssertNoCSPViolations(t)

		tab.Click(browsertest.TestID("app-" + appDesktopID))
		fillTextarea(t, tab, browsertest.TestID("justification"), "CHG-2001 found by name")
		tab.Submit(browsertest.TestID("grant-submit"))
		waitForPage(t, tab, base+"/assignments/"+peopleNora, "Access granted to Nora Norole (user "+peopleNora+").")
		reqs.expect(t, "POST", "/assignments", true, http.StatusNoContent) // HX-Redirect
		assertGranted(t, tab, peopleNora, "Nora Norole")
		tab.AssertNoCSPViolations(t)
	})

	t.Run("without JavaScript", func(t *testing.T) {
		tab := openTab(t, b)
		reqs := recordRequests(t, tab, base)
		tab.DisableJavaScript()
		signIn(t, tab, base, "helpdesk@contoso.test")
		tab.Navigate(base + "/assignments/new")
		tab.WaitVisible(browsertest.TestID("people-finder"))
		if evalJS[bool](t, tab, `typeof window.htmx !== "undefined"`) {
			t.Fatal("htmx ran in a tab with JavaScript turned off")
		}
		tab.AssertNoCSPViolations(t)

		// Another tenant's people, by name or by object ID, and a deleted
		// person are not found; markup comes back as text.
		for _, q := range []string{"Farah", "Felix", seedFabrikam, peopleFelix, "Chen"} {
			noJSSearch(t, tab, base, q)
			if got := peopleNames(t, tab); len(got) != 0 {
				t.Errorf("helpdesk of Contoso searching for %q finds %q: want nobody (another tenant's, or deleted)", q, got)
			}
			if got := tab.TextByTestID("people-results"); got != "Nobody found for “"+q+"”." {
				t.Errorf("searching for %q, the results read %q", q, got)
			}
		}
		noJSSearch(t, tab, base, peopleHTMLQuery)
		if got := tab.TextByTestID("people-results"); got != "Nobody found for “"+peopleHTMLQuery+"”." {
			t.Errorf("searching for markup, the results read %q, want it as text", got)
		}
		if got := fieldValue(t, tab, browsertest.TestID("find")); got != peopleHTMLQuery {
			t.Errorf("after searching for markup the search box holds %q", got)
		}
		assertNotInjected(t, tab)
		tab.AssertNoCSPViolations(t)

		// The Search button, the result, its link.
		noJSSearch(t, tab, base, "aud")
		if got := peopleNames(t, tab); !slices.Equal(got, []string{"Aude Auditor"}) {
			t.Errorf("searching for %q finds %q, want only Aude Auditor", "aud", got)
		}
		reqs.expect(t, "GET", "/assignments/new", false, http.StatusOK)
		tab.AssertNoCSPViolations(t)
		clickAndWait(t, tab, browsertest.TestID("person"))
		want := base + "/assignments/new?" + url.Values{"objectId": {peopleAude}, "label": {"Aude Auditor"}}.Encode()
		if got := tab.URL(); got != want {
			t.Errorf("Aude's link led to %s, want %s", got, want)
		}
		assertFilledFor(t, tab, peopleAude, "Aude Auditor")
		tab.AssertNoCSPViolations(t)

		tab.Click(browsertest.TestID("app-" + appMobileID))
		fillTextarea(t, tab, browsertest.TestID("justification"), "CHG-2002 found by name, no script")
		clickAndWait(t, tab, browsertest.TestID("grant-submit"))
		assertPage(t, tab, base+"/assignments/"+peopleAude, "Access granted to Aude Auditor (user "+peopleAude+").")
		reqs.expect(t, "POST", "/assignments", false, http.StatusSeeOther)
		assertGranted(t, tab, peopleAude, "Aude Auditor")
		reqs.none(t, "htmx must not run with JavaScript off", func(r seenRequest) bool { return r.htmx })
		tab.AssertNoCSPViolations(t)
	})

	t.Run("both grants are listed", func(t *testing.T) {
		tab := openTab(t, b)
		signIn(t, tab, base, "helpdesk@contoso.test")
		tab.Navigate(base + "/assignments")
		tab.WaitVisible(browsertest.TestID("assignment-row"))
		got := rowIDs(t, tab)
		for id, label := range map[string]string{peopleNora: "Nora Norole", peopleAude: "Aude Auditor"} {
			if n := countOf(got, id); n != 1 {
				t.Errorf("the list shows %d row(s) for %s, want 1; it shows %v", n, id, got)
				continue
			}
			if l := tab.Text(`[data-testid="assignment-row"][data-object-id="` + id + `"] ` + browsertest.TestID("row-label")); l != label {
				t.Errorf("the row of %s is labelled %q, want %q", id, l, label)
			}
		}
		tab.AssertNoCSPViolations(t)
	})
}

// peopleNames lists the names of the people the finder shows.
func peopleNames(t *testing.T, tab *browsertest.Tab) []string {
	t.Helper()
	return evalJS[[]string](t, tab, `Array.from(document.querySelectorAll('[data-testid="person"]'), a => a.innerText.trim())`)
}

// jsSearch types q into the people finder and waits for htmx to swap in
// results that read want.
func jsSearch(t *testing.T, tab *browsertest.Tab, q, want string) {
	t.Helper()
	fillInput(t, tab, browsertest.TestID("find"), q)
	waitUntil(t, tab, "the people finder to say "+want,
		`document.querySelector('[data-testid="people-results"]')?.innerText.trim() === `+jsString(want))
}

// noJSSearch types q into the people finder, presses Search and waits for
// the grant form with the results.
func noJSSearch(t *testing.T, tab *browsertest.Tab, base, q string) {
	t.Helper()
	fillInput(t, tab, browsertest.TestID("find"), q)
	clickAndWait(t, tab, browsertest.TestID("find-submit"))
	u, err := url.Parse(tab.URL())
	if err != nil || u.Path != "/assignments/new" || u.Query().Get("find") != q {
		t.Errorf("the Search button went to %s, want %s/assignments/new?find=%s", tab.URL(), base, url.QueryEscape(q))
	}
}

// assertNotInjected checks that no element of a markup query made it into
// the page.
func assertNotInjected(t *testing.T, tab *browsertest.Tab) {
	t.Helper()
	if n := tab.Count(`[data-injected], ` + browsertest.TestID("people-results") + ` em`); n != 0 {
		t.Errorf("a query that is markup put %d element(s) into the page", n)
	}
}

// assertFilledFor checks that the grant form names the person found: their
// object ID and name, as a user.
func assertFilledFor(t *testing.T, tab *browsertest.Tab, objectID, name string) {
	t.Helper()
	tab.WaitVisible(browsertest.TestID("grant-form"))
	if got := fieldValue(t, tab, browsertest.TestID("objectId")); got != objectID {
		t.Errorf("the grant form's object ID holds %q, want %s's %s", got, name, objectID)
	}
	if got := fieldValue(t, tab, browsertest.TestID("label")); got != name {
		t.Errorf("the grant form's label holds %q, want %q", got, name)
	}
	if !isChecked(t, tab, browsertest.TestID("kind-user")) {
		t.Errorf("the grant form for %s does not have the kind user chosen", name)
	}
}

// assertGranted checks the assignment's page: the object, a user, labelled
// with the person's name.
func assertGranted(t *testing.T, tab *browsertest.Tab, objectID, name string) {
	t.Helper()
	for id, want := range map[string]string{"detail-object-id": objectID, "detail-kind": "User", "detail-label": name, "detail-title": name} {
		if got := tab.TextByTestID(id); got != want {
			t.Errorf("the new assignment's %s reads %q, want %q", id, got, want)
		}
	}
}

func countOf(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}
