package main

import (
	"net/url"
	"strings"
	"testing"

	"github.com/teamsphone/portal/internal/browsertest"
)

// freshWindow is the fresh sign-in window TestBrowserFreshSignIn runs the
// portal with: short, so that a sign-in goes stale while the test waits,
// and long enough that a fresh one usually survives the way back to the
// confirmation (when a busy machine takes longer, the test signs in again).
const freshWindow = "3s"

// Revoking a resource account in Chromium, with and without JavaScript,
// once the admin's sign-in is older than the window (SECURITY.md, "Fresh
// sign-in"): the confirmation explains and offers to sign in again instead
// of revoking; signing in again (max_age, prompt=login at the dev IdP)
// comes back to the same confirmation with the justification typed; the
// revoke then goes through and the audit log says when the fresh sign-in
// was. No page on the way breaks the CSP.
func TestBrowserFreshSignIn(t *testing.T) {
	base := startDevPortal(t, "-fresh-signin-max-age", freshWindow)
	b := browsertest.New(t, browsertest.WithWindowSize(1280, 900))

	for _, tc := range []struct {
		name   string
		js     bool
		object string
	}{
		{"with JavaScript", true, seedMainLine},
		{"without JavaScript", false, seedACSOnlyRA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := openTab(t, b)
			if !tc.js {
				tab.DisableJavaScript()
			}
			signIn(t, tab, base, "admin@contoso.test")
			if tc.object == seedACSOnlyRA {
				// Only ACS holds it: adopt it first.
				tab.Navigate(base + "/lookup?objectId=" + tc.object)
				tab.WaitVisible(browsertest.TestID("adopt-form"))
				clickAndWait(t, tab, browsertest.TestID("adopt-submit"))
			}
			confirm := base + "/assignments/" + tc.object + "/delete"

			// Wait, on the clock, until the sign-in is older than the
			// window: the confirmation then asks for a fresh one.
			waitFor(t, "the confirmation to ask for a fresh sign-in", func() bool {
				tab.Navigate(confirm)
				tab.WaitVisible(browsertest.TestID("revoke-form"))
				return tab.Count(browsertest.TestID("fresh-signin")) == 1
			}, func() string { return tab.URL() })
			if got := tab.TextByTestID("fresh-signin"); !strings.Contains(got, "Confirm it is you: sign in again") || !strings.Contains(got, "within the last 3 seconds") {
				t.Errorf("the confirmation explains %q", got)
			}
			if n := tab.Count(browsertest.TestID("revoke-submit")); n != 0 {
				t.Error("the stale confirmation still offers to revoke")
			}
			if tc.js { // axe-core is a script
				tab.AssertAccessible(t)
			}
			tab.AssertNoCSPViolations(t)

			const why = "CHG-2001 the number moved to another provider"
			fillTextarea(t, tab, browsertest.TestID("justification"), why)
			signedInAgain := 0
			waitFor(t, "the revoke to go through after a fresh sign-in", func() bool {
				if tab.Count(browsertest.TestID("fresh-submit")) == 1 {
					clickAndWait(t, tab, browsertest.TestID("fresh-submit"))
					signedInAgain++
					if got := tab.URL(); got != confirm {
						t.Fatalf("after signing in again the browser is on %s, want the confirmation %s", got, confirm)
					}
					if got := fieldValue(t, tab, browsertest.TestID("justification")); got != why {
						t.Fatalf("after signing in again the justification reads %q, want what was typed", got)
					}
					tab.AssertNoCSPViolations(t)
				}
				if tab.Count(browsertest.TestID("revoke-submit")) == 0 {
					return false // stale again already: sign in again
				}
				if got := tab.TextByTestID("flash"); !strings.HasPrefix(got, "You signed in again at ") {
					t.Errorf("back on the confirmation the flash says %q", got)
				}
				tab.Submit(browsertest.TestID("revoke-submit"))
				// Done (the list), or refused because the machine took
				// longer than the window (the sign-in form again).
				waitUntil(t, tab, "the list or the sign-in form after revoking",
					`document.readyState === "complete" && (location.pathname === "/assignments" || !!document.querySelector('[data-testid="fresh-submit"]'))`)
				return tab.URL() == base+"/assignments"
			}, func() string { return tab.URL() })
			t.Logf("signed in again %d time(s) before the revoke went through", signedInAgain)
			if got := tab.TextByTestID("flash"); !strings.HasPrefix(got, "Access revoked for ") || !strings.Contains(got, "(resource account "+tc.object+")") {
				t.Errorf("after the revoke the flash says %q", got)
			}
			tab.AssertNoCSPViolations(t)

			// ACS holds it no more, and the audit log names the fresh
			// sign-in beside the justification.
			tab.Navigate(base + "/lookup?objectId=" + tc.object)
			tab.WaitVisible(browsertest.TestID("acs-none"))
			tab.Navigate(base + "/audit?" + url.Values{"target": {tc.object}, "action": {"revoke"}}.Encode())
			tab.WaitVisible("main")
			if got := tab.Text("main"); !strings.Contains(got, "signed in afresh at") || !strings.Contains(got, why) {
				t.Errorf("the audit log of the revoke reads %q, want the fresh sign-in and the justification", got)
			}
			tab.AssertNoCSPViolations(t)
		})
	}
}
