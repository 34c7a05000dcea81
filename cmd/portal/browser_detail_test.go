package main

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/teamsphone/portal/internal/acs"
	"github.com/teamsphone/portal/internal/browsertest"
	"github.com/teamsphone/portal/internal/devidp"
	"github.com/teamsphone/portal/internal/portal"
)

// behindTheBack changes what ACS holds for a Contoso user, as a change
// made outside the portal would, through the dev ACS emulator.
func behindTheBack(t *testing.T, acsURL, object string, apps ...portal.GUID) {
	t.Helper()
	client, err := acs.New(acs.Options{Endpoint: acsURL, AccessKey: devAccessKey})
	if err != nil {
		t.Fatal(err)
	}
	a := portal.Assignment{TenantID: devidp.ContosoTenant, ObjectID: portal.MustParseGUID(object), Kind: portal.KindUser, ClientIDs: apps}
	if _, _, err := client.PutAssignment(context.Background(), a); err != nil {
		t.Fatal(err)
	}
}

// acsHolds is what the dev ACS emulator holds for a Contoso object now.
func acsHolds(t *testing.T, acsURL, object string) []portal.GUID {
	t.Helper()
	client, err := acs.New(acs.Options{Endpoint: acsURL, AccessKey: devAccessKey})
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := client.GetAssignment(context.Background(), devidp.ContosoTenant, portal.MustParseGUID(object))
	if err != nil {
		t.Fatal(err)
	}
	return a.ClientIDs
}

// setACSFaults sets the dev ACS emulator's faults (its -faults syntax).
func setACSFaults(t *testing.T, acsURL, spec string) {
	t.Helper()
	req, _ := http.NewRequest("PUT", acsURL+"/_emulator/faults", strings.NewReader(spec))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("setting ACS faults %q: %v %v", spec, resp, err)
	}
	resp.Body.Close()
}

// What an assignment's page and the pages around it show and offer (issue
// 16): drift resolved on the assignment's page, with and without
// JavaScript; the drift report refreshing itself after Reconcile now; look
// up by name; the home page's counts. Every page state passes axe and
// holds the CSP.
func TestBrowserAssignmentDetail(t *testing.T) {
	dev := startDev(t)
	base := dev.base
	if dev.acs == "" {
		t.Fatal("portal dev printed no ACS emulator address")
	}
	b := browsertest.New(t, browsertest.WithWindowSize(1280, 900))

	t.Run("drift resolved on its page without JavaScript", func(t *testing.T) {
		tab := openTab(t, b)
		reqs := recordRequests(t, tab, base)
		tab.DisableJavaScript()
		signIn(t, tab, base, "admin@contoso.test")
		behindTheBack(t, dev.acs, seedAlice, portal.MustParseGUID(appMobileID))
		tab.Navigate(base + "/assignments/" + seedAlice)
		tab.WaitVisible(browsertest.TestID("verify-now"))
		if n := tab.Count(browsertest.TestID("repair")); n != 0 {
			t.Error("offered Re-apply before any verification found drift")
		}
		clickAndWait(t, tab, browsertest.TestID("verify-now"))
		assertPage(t, tab, base+"/assignments/"+seedAlice, "Verified just now: Drifted.")
		reqs.expect(t, "POST", "/assignments/"+seedAlice+"/verify", false, http.StatusSeeOther)
		if got := tab.TextByTestID("reapply-effect"); !strings.HasPrefix(got, "Re-apply: put the portal's apps back in ACS") {
			t.Errorf("Re-apply says %q", got)
		}
		tab.Fill(browsertest.TestID("why-reapply"), "CHG-3001 restore Alice")
		clickAndWait(t, tab, browsertest.TestID("reapply"))
		assertPage(t, tab, base+"/assignments/"+seedAlice, "Re-applied to ACS: Alice Smith, London desk (user "+seedAlice+").")
		reqs.expect(t, "POST", "/assignments/"+seedAlice+"/reapply", false, http.StatusSeeOther)
		if got := tab.Text("#verification " + browsertest.TestID("state")); got != "In sync" {
			t.Errorf("after re-applying the badge says %q", got)
		}
		if got := acsHolds(t, dev.acs, seedAlice); !slices.Equal(got, []portal.GUID{portal.MustParseGUID(appDesktopID)}) {
			t.Errorf("ACS holds %v after re-applying, want the portal's Contoso Agent Desktop", got)
		}
		reqs.none(t, "htmx must not run with JavaScript off", func(r seenRequest) bool { return r.htmx })
		tab.AssertNoCSPViolations(t)
	})

	t.Run("drift accepted on its page with JavaScript", func(t *testing.T) {
		tab := openTab(t, b)
		reqs := recordRequests(t, tab, base)
		signIn(t, tab, base, "admin@contoso.test")
		behindTheBack(t, dev.acs, seedBruno, portal.MustParseGUID(appMobileID))
		tab.Navigate(base + "/assignments/" + seedBruno)
		tab.WaitVisible(browsertest.TestID("verify-now"))
		mark := markDocument(t, tab)
		tab.Click(browsertest.TestID("verify-now"))
		tab.WaitVisible(browsertest.TestID("repair"))
		assertSameDocument(t, tab, mark, "Verify now")
		reqs.expect(t, "POST", "/assignments/"+seedBruno+"/verify", true, http.StatusOK)
		if got := tab.TextByTestID("accept-effect"); !strings.HasPrefix(got, "Accept: make the portal's record match ACS") {
			t.Errorf("Accept says %q", got)
		}
		tab.AssertAccessible(t)
		tab.AssertNoCSPViolations(t)
		tab.Fill(browsertest.TestID("why-accept"), "CHG-3002 mobile only now")
		tab.Submit(browsertest.TestID("accept"))
		waitForPage(t, tab, base+"/assignments/"+seedBruno, "Accepted what ACS holds for Bruno Costa, Lisbon (user "+seedBruno+"). The inventory now records what ACS holds.")
		if got := tab.TextByTestID("detail-apps"); strings.Contains(got, "Contoso Agent Desktop") || !strings.Contains(got, "Contoso Agent Mobile") {
			t.Errorf("after accepting, the portal's apps read %q, want ACS's: Contoso Agent Mobile only", got)
		}
		tab.AssertNoCSPViolations(t)
	})

	t.Run("the drift report refreshes itself after Reconcile now", func(t *testing.T) {
		// ACS answers slowly, so that the run outlasts the page load.
		setACSFaults(t, dev.acs, "latency=1500ms")
		defer setACSFaults(t, dev.acs, "latency=0ms")
		// Each run finds drift of its own: Alice's (in sync since she was
		// re-applied above), then Bruno's (since he was accepted).
		for _, c := range []struct {
			js     bool
			object string
		}{{true, seedAlice}, {false, seedBruno}} {
			js := c.js
			tab := openTab(t, b)
			if !js {
				tab.DisableJavaScript()
			}
			signIn(t, tab, base, "admin@contoso.test")
			behindTheBack(t, dev.acs, c.object, portal.MustParseGUID(appDesktopID), portal.MustParseGUID(appMobileID))
			tab.Navigate(base + "/drift")
			tab.WaitVisible(browsertest.TestID("reconcile-now"))
			if tab.Count(`[data-testid="drift-row"][data-object-id="`+c.object+`"]`) != 0 {
				t.Fatal("the drift shows before any run found it")
			}
			clickAndWait(t, tab, browsertest.TestID("reconcile-now"))
			if got := evalJS[string](t, tab, `document.querySelector('[data-testid="drift-report"]').dataset.waiting`); got != "true" {
				t.Fatalf("JavaScript %v: after Reconcile now the report is not waiting for the run (%s)", js, tab.URL())
			}
			if !strings.Contains(tab.TextByTestID("reconcile-waiting"), "refreshes itself when it ends") {
				t.Errorf("the waiting report says %q", tab.TextByTestID("reconcile-waiting"))
			}
			var mark string
			if js {
				tab.AssertAccessible(t)
				mark = markDocument(t, tab)
			}
			tab.AssertNoCSPViolations(t)
			waitUntil(t, tab, "the report to show the run's drift by itself",
				`document.querySelector('[data-testid="drift-report"]')?.dataset.waiting === "false" && !!document.querySelector('[data-testid="drift-row"][data-object-id="`+c.object+`"]')`)
			if js {
				assertSameDocument(t, tab, mark, "the report refreshing itself")
				tab.AssertAccessible(t)
			}
			tab.WaitVisible(browsertest.TestID("reconcile-finished"))
			tab.AssertNoCSPViolations(t)
		}
	})

	t.Run("an auditor looks a person up by name", func(t *testing.T) {
		tab := openTab(t, b)
		signIn(t, tab, base, "auditor@contoso.test")
		tab.Click(browsertest.TestID("nav-lookup"))
		tab.WaitVisible(browsertest.TestID("lookup-form"))
		tab.Fill(browsertest.TestID("lookup-objectId"), "dana")
		tab.Submit(browsertest.TestID("lookup-submit"))
		tab.WaitVisible(browsertest.TestID("lookup-found"))
		if got := tab.TextByTestID("lookup-found"); !strings.Contains(got, "Dana Park") {
			t.Errorf("found %q", got)
		}
		tab.WaitVisible(browsertest.TestID("acs-found")) // Dana's access is in ACS only
		tab.AssertAccessible(t)
		tab.AssertNoCSPViolations(t)
		// Several match: pick one.
		fillInput(t, tab, browsertest.TestID("lookup-objectId"), "au")
		tab.Submit(browsertest.TestID("lookup-submit"))
		tab.WaitVisible(browsertest.TestID("lookup-people"))
		names := evalJS[[]string](t, tab, `Array.from(document.querySelectorAll('[data-testid="lookup-person"]'), a => a.innerText.trim())`)
		if !slices.Contains(names, "Aude Auditor") || len(names) < 2 {
			t.Fatalf("several people match %q: %q", "au", names)
		}
		tab.AssertAccessible(t)
		tab.Click(`[data-testid="lookup-person"][href="/lookup?objectId=` + peopleAude + `"]`)
		tab.WaitVisible(browsertest.TestID("acs-none"))
		tab.AssertNoCSPViolations(t)

		// Without JavaScript: the one match is looked up at its address.
		nojs := openTab(t, b)
		nojs.DisableJavaScript()
		signIn(t, nojs, base, "auditor@contoso.test")
		nojs.Navigate(base + "/lookup")
		nojs.Fill(browsertest.TestID("lookup-objectId"), "dana.park@contoso.test")
		clickAndWait(t, nojs, browsertest.TestID("lookup-submit"))
		assertPage(t, nojs, base+"/lookup?objectId="+seedACSOnlyUser, "Found by name: Dana Park (dana.park@contoso.test).")
		nojs.WaitVisible(browsertest.TestID("acs-found"))
		nojs.AssertNoCSPViolations(t)
	})

	t.Run("home counts what needs a look", func(t *testing.T) {
		tab := openTab(t, b)
		signIn(t, tab, base, "admin@contoso.test")
		tab.WaitVisible(browsertest.TestID("home-glance"))
		for key, href := range map[string]string{"drifted": "/drift", "expiring": "/expiries", "jobs": "/bulk"} {
			if got := linkHref(t, tab, browsertest.TestID("glance-"+key)+" a"); got != base+href {
				t.Errorf("the %s count links to %q, want %s", key, got, base+href)
			}
		}
		// Alice drifted in the run above.
		if got := evalJS[string](t, tab, `document.querySelector('[data-testid="glance-drifted"]').dataset.count`); got == "0" {
			t.Error("the home page counts no drift")
		}
		tab.AssertAccessible(t)
		tab.AssertNoCSPViolations(t)

		helpdesk := openTab(t, b)
		signIn(t, helpdesk, base, "helpdesk@contoso.test")
		if got := helpdesk.TextByTestID("home-may"); !strings.Contains(got, "Resource accounts (server consent for a phone number) are admin-only") {
			t.Errorf("helpdesk's home says %q", got)
		}
		helpdesk.AssertNoCSPViolations(t)
	})

	t.Run("an edit after Verify now on the same page saves", func(t *testing.T) {
		// A verification changes the row's fingerprint, which the edit
		// form further down sends as the state its person saw: Verify
		// now's answer brings the new one to the form out of band (and
		// the form's hint about drift), keeping what the person chose.
		// Before, saving was refused as made on a page that showed
		// another state. Someone else's change meanwhile still is.
		desktop, mobile := portal.MustParseGUID(appDesktopID), portal.MustParseGUID(appMobileID)
		behindTheBack(t, dev.acs, seedChen, mobile) // as the portal holds Chen
		tab := openTab(t, b)
		reqs := recordRequests(t, tab, base)
		signIn(t, tab, base, "admin@contoso.test")
		tab.Navigate(base + "/assignments/" + seedChen)
		tab.WaitVisible(browsertest.TestID("edit-form"))
		mark := markDocument(t, tab)
		desktopBox := "#edit-form " + browsertest.TestID("app-"+appDesktopID)
		tab.Click(desktopBox)
		verify := func(state string) {
			t.Helper()
			tab.Click(browsertest.TestID("verify-now"))
			waitUntil(t, tab, "the verification to say "+state,
				`document.querySelector('[data-testid="verify-result"]')?.innerText.trim() === `+jsString("Verified just now: "+state+"."))
		}
		for _, c := range []struct {
			acs   []portal.GUID
			state string
			hint  int // drift hints on the edit form
		}{{[]portal.GUID{desktop}, "Drifted", 1}, {[]portal.GUID{mobile}, "In sync", 0}, {[]portal.GUID{desktop}, "Drifted", 1}} {
			behindTheBack(t, dev.acs, seedChen, c.acs...)
			verify(c.state)
			if n := tab.Count(browsertest.TestID("edit-repairs")); n != c.hint {
				t.Errorf("verified %s: the edit form shows %d drift hints, want %d", c.state, n, c.hint)
			}
		}
		reqs.expect(t, "POST", "/assignments/"+seedChen+"/verify", true, http.StatusOK)
		assertSameDocument(t, tab, mark, "Verify now")
		if !evalJS[bool](t, tab, `document.querySelector(`+jsString(desktopBox)+`).checked`) {
			t.Error("verifying undid the app chosen in the edit form")
		}
		fillTextarea(t, tab, "#edit-form "+browsertest.TestID("justification"), "CHG-3003 Chen on the desktop too")
		tab.Submit(browsertest.TestID("edit-submit"))
		waitForPage(t, tab, base+"/assignments/"+seedChen, "Calling-client apps for user "+seedChen+" (Chen Wei, field agent): added Contoso Agent Desktop.")
		reqs.expect(t, "POST", "/assignments/"+seedChen, true, http.StatusNoContent)
		if got, want := portal.NormalizeClientIDs(acsHolds(t, dev.acs, seedChen)), portal.NormalizeClientIDs([]portal.GUID{desktop, mobile}); !slices.Equal(got, want) {
			t.Errorf("ACS holds %v after the edit, want Contoso Agent Desktop and Mobile", got)
		}
		tab.AssertNoCSPViolations(t)

		// Helpdesk relabels Chen while admin's page is open; admin's
		// Verify now must not hand admin's form that change.
		helpdesk := openTab(t, b)
		signIn(t, helpdesk, base, "helpdesk@contoso.test")
		helpdesk.Navigate(base + "/assignments/" + seedChen)
		helpdesk.WaitVisible(browsertest.TestID("edit-form"))
		helpdesk.Fill("#edit-form "+browsertest.TestID("label"), "Chen Wei, night shift")
		fillTextarea(t, helpdesk, "#edit-form "+browsertest.TestID("justification"), "CHG-3004 night shift")
		helpdesk.Submit(browsertest.TestID("edit-submit"))
		waitUntil(t, helpdesk, "helpdesk's relabelling to be saved", `document.querySelector('[data-testid="flash"]') !== null`)
		verify("In sync")
		tab.Click("#edit-form " + browsertest.TestID("app-"+appMobileID))
		fillTextarea(t, tab, "#edit-form "+browsertest.TestID("justification"), "CHG-3005 desktop only")
		tab.Submit(browsertest.TestID("edit-submit"))
		tab.WaitVisible(browsertest.TestID("conflict"))
		reqs.expect(t, "POST", "/assignments/"+seedChen, true, http.StatusConflict)
		if got, want := portal.NormalizeClientIDs(acsHolds(t, dev.acs, seedChen)), portal.NormalizeClientIDs([]portal.GUID{desktop, mobile}); !slices.Equal(got, want) {
			t.Errorf("ACS holds %v after a save over helpdesk's change, want it unchanged", got)
		}
		tab.AssertNoCSPViolations(t)
		helpdesk.AssertNoCSPViolations(t)
	})
}
