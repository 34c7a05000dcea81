package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/teamsphone/portal/internal/browsertest"
)

// Two people edit the same assignment at once, each in a browser of their
// own: admin saves first; helpdesk, whose page still shows the state before,
// saves something else and is refused. The conflict panel shows what the
// inventory holds now and what helpdesk asked for, and nothing changed. With
// htmx the form is swapped in place; with JavaScript turned off the answer is
// a full page with status 409. No page breaks the Content Security Policy.
func TestBrowserConflictTwoTabs(t *testing.T) {
	base := startDevPortal(t)
	b := browsertest.New(t, browsertest.WithWindowSize(1280, 900))

	alice := base + "/assignments/" + seedAlice
	desktop := "#edit-form " + browsertest.TestID("app-"+appDesktopID)
	mobile := "#edit-form " + browsertest.TestID("app-"+appMobileID)
	// The message after saving says what changed, Alice's name first.
	saved := func(change string) string {
		return "Calling-client apps for Alice Smith: " + change + " Contoso Agent Mobile."
	}

	tab1 := openTab(t, b) // Adele Admin
	tab2 := openTab(t, b) // Hugo Helpdesk
	reqs2 := recordRequests(t, tab2, base)
	signIn(t, tab1, base, "admin@contoso.test")
	signIn(t, tab2, base, "helpdesk@contoso.test")
	if got := tab1.TextByTestID("user-name"); got != "Adele Admin" {
		t.Fatalf("tab 1 is signed in as %q, want Adele Admin", got)
	}
	if got := tab2.TextByTestID("user-name"); got != "Hugo Helpdesk" {
		t.Fatalf("tab 2 is signed in as %q, want Hugo Helpdesk: the tabs share a session", got)
	}

	// openAlice loads Alice's page and checks which apps its form ticks.
	openAlice := func(tab *browsertest.Tab, who string, wantDesktop, wantMobile bool) {
		t.Helper()
		tab.Navigate(alice)
		tab.WaitVisible(browsertest.TestID("edit-form"))
		// Named from the directory (Graph), not by the label typed at grant.
		if got := tab.TextByTestID("detail-title"); got != "Alice Smith" {
			t.Errorf("%s: Alice's page is titled %q", who, got)
		}
		if got := isChecked(t, tab, desktop); got != wantDesktop {
			t.Errorf("%s: Contoso Agent Desktop is ticked: %v, want %v", who, got, wantDesktop)
		}
		if got := isChecked(t, tab, mobile); got != wantMobile {
			t.Errorf("%s: Contoso Agent Mobile is ticked: %v, want %v", who, got, wantMobile)
		}
		tab.AssertNoCSPViolations(t)
	}

	// detailApps checks the apps the detail page lists.
	detailApps := func(tab *browsertest.Tab, who string, wantDesktop, wantMobile bool) {
		t.Helper()
		got := tab.TextByTestID("detail-apps")
		if strings.Contains(got, "Contoso Agent Desktop") != wantDesktop || strings.Contains(got, "Contoso Agent Mobile") != wantMobile {
			t.Errorf("%s: Alice's apps read %q, want Desktop %v and Mobile %v", who, got, wantDesktop, wantMobile)
		}
	}

	// checkConflict checks the conflict panel tab 2 shows.
	checkConflict := func(what string, invDesktop, invMobile bool) {
		t.Helper()
		if n := tab2.Count(browsertest.TestID("conflict")); n != 1 {
			t.Errorf("%s: %d conflict panel(s), want 1", what, n)
		}
		if got := tab2.TextByTestID("conflict"); !strings.Contains(got, "Nothing was changed.") {
			t.Errorf("%s: the conflict panel reads %q, want it to say nothing was changed", what, got)
		}
		inv := tab2.TextByTestID("conflict-inventory")
		if strings.Contains(inv, "Contoso Agent Desktop") != invDesktop || strings.Contains(inv, "Contoso Agent Mobile") != invMobile {
			t.Errorf("%s: the inventory now reads %q, want Desktop %v and Mobile %v (admin's save)", what, inv, invDesktop, invMobile)
		}
		if !strings.Contains(inv, "Adele Admin") {
			t.Errorf("%s: the inventory now reads %q, want it to say Adele Admin changed it", what, inv)
		}
		// Helpdesk asked for Mobile only.
		if got := tab2.TextByTestID("conflict-proposed"); !strings.Contains(got, "Contoso Agent Mobile") || strings.Contains(got, "Contoso Agent Desktop") {
			t.Errorf("%s: helpdesk's change reads %q, want Contoso Agent Mobile only", what, got)
		}
		if n := tab2.Count(browsertest.TestID("edit-form")); n != 1 {
			t.Errorf("%s: the page holds %d edit forms, want 1", what, n)
		}
		// The form keeps what helpdesk chose.
		if isChecked(t, tab2, desktop) || !isChecked(t, tab2, mobile) {
			t.Errorf("%s: the form no longer holds helpdesk's choice (Mobile only)", what)
		}
		if n := tab2.Count(browsertest.TestID("flash")); n != 0 {
			t.Errorf("%s: helpdesk's page shows a flash: %q", what, tab2.TextByTestID("flash"))
		}
		if got := tab2.URL(); got != alice {
			t.Errorf("%s: helpdesk's page is at %s, want %s", what, got, alice)
		}
	}

	// With htmx. Alice holds Desktop only (seed.go); both open her page.
	openAlice(tab1, "admin", true, false)
	openAlice(tab2, "helpdesk", true, false)

	// Admin adds Mobile and saves.
	tab1.Click(mobile)
	tab1.Submit(browsertest.TestID("edit-submit"))
	waitForPage(t, tab1, alice, saved("added"))
	detailApps(tab1, "admin after saving", true, true)
	tab1.AssertNoCSPViolations(t)

	// Helpdesk, on the old page, swaps Desktop for Mobile and saves.
	mark := markDocument(t, tab2)
	tab2.Click(desktop)
	tab2.Click(mobile)
	tab2.Submit(browsertest.TestID("edit-submit"))
	tab2.WaitVisible(browsertest.TestID("conflict"))
	assertSameDocument(t, tab2, mark, "saving over someone else's change")
	reqs2.expect(t, "POST", "/assignments/"+seedAlice, true, http.StatusConflict)
	checkConflict("htmx", true, true)
	// The rest of the page is the old one: the form alone was swapped.
	detailApps(tab2, "helpdesk's unswapped page", true, false)
	tab2.AssertNoCSPViolations(t)

	// Nothing changed: admin's reload shows admin's apps, and ACS holds them.
	openAlice(tab1, "admin after helpdesk's conflict", true, true)
	detailApps(tab1, "admin after helpdesk's conflict", true, true)
	tab1.Click(browsertest.TestID("verify-now"))
	tab1.WaitVisible(browsertest.TestID("verify-result"))
	if got := tab1.TextByTestID("verify-result"); got != "Verified just now: In sync." {
		t.Errorf("verifying after helpdesk's conflict says %q, want ACS in sync with admin's save", got)
	}
	tab1.AssertNoCSPViolations(t)

	// Without JavaScript in helpdesk's tab.
	tab2.DisableJavaScript()
	openAlice(tab2, "helpdesk without JavaScript", true, true)
	if evalJS[bool](t, tab2, `typeof window.htmx !== "undefined"`) {
		t.Fatal("htmx ran in a tab with JavaScript turned off")
	}

	// Admin (tab 1 still shows Alice's page) removes Mobile and saves.
	tab1.Click(mobile)
	tab1.Submit(browsertest.TestID("edit-submit"))
	waitForPage(t, tab1, alice, saved("removed"))
	detailApps(tab1, "admin after saving again", true, false)
	tab1.AssertNoCSPViolations(t)

	// Helpdesk, on the page before that, removes Desktop and saves.
	tab2.Click(desktop)
	clickAndWait(t, tab2, browsertest.TestID("edit-submit"))
	tab2.WaitVisible(browsertest.TestID("conflict"))
	reqs2.expect(t, "POST", "/assignments/"+seedAlice, false, http.StatusConflict)
	checkConflict("without JavaScript", true, false)
	// A full page: its detail shows the inventory as it is now.
	detailApps(tab2, "helpdesk's conflict page", true, false)
	tab2.AssertNoCSPViolations(t)

	// Nothing changed: admin's reload shows admin's apps.
	openAlice(tab1, "admin after helpdesk's second conflict", true, false)
	detailApps(tab1, "admin after helpdesk's second conflict", true, false)
	tab1.AssertNoCSPViolations(t)
	tab2.AssertNoCSPViolations(t)
}
