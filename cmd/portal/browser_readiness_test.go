package main

import (
	"testing"

	"github.com/teamsphone/portal/internal/browsertest"
)

// Will it work? An admin finds the seeded resource account that is bound
// to this ACS resource without server consent, gives consent from the
// readiness page, and sees the account pass — on its own page and after
// "Check again". An auditor reads the page and is offered nothing to do.
func TestBrowserReadiness(t *testing.T) {
	const reception = "5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d12" // the dev seed's "Reception line"
	base := startDevPortal(t)
	b := browsertest.New(t)

	admin := b.NewTab(t)
	signIn(t, admin, base, "admin@contoso.test")
	admin.Navigate(base + "/readiness")
	row := `[data-check="resource-accounts"] [data-object-id="` + reception + `"]`
	admin.WaitVisible(row)
	for _, failing := range []string{"resource-accounts", "people"} {
		if admin.Count(`[data-check="`+failing+`"][data-state="fail"]`) != 1 {
			t.Errorf("the seeded %s check does not fail", failing)
		}
	}
	tourShot(t, admin, "admin-readiness")
	admin.AssertAccessible(t)
	admin.AssertNoCSPViolations(t)

	admin.Click(row + " " + browsertest.TestID("give-consent"))
	admin.WaitVisible(browsertest.TestID("grant-form"))
	fillTextarea(t, admin, browsertest.TestID("justification"), "CHG-2001 the reception line takes calls")
	admin.Submit(browsertest.TestID("grant-submit"))
	waitUntil(t, admin, "the new assignment's page", `location.pathname === "/assignments/`+reception+`" && document.readyState === "complete"`)
	// Its own chain loads after the page.
	admin.WaitVisible(`[data-testid="assignment-readiness"][data-loaded="true"]`)
	if admin.Count(`[data-testid="assignment-check"][data-check="object"][data-state="pass"]`) != 1 {
		t.Errorf("the consented account's own check: %q", admin.TextByTestID("assignment-checks"))
	}
	admin.AssertNoCSPViolations(t)

	admin.Navigate(base + "/readiness")
	admin.WaitVisible(browsertest.TestID("check-again"))
	admin.Submit(browsertest.TestID("check-again"))
	waitUntil(t, admin, "the checks run again without the reception line", `location.pathname === "/readiness" && document.readyState === "complete" && `+
		`document.querySelector('[data-check="resource-accounts"]') !== null && document.querySelector('`+row+`') === null`)

	auditor := b.NewTab(t)
	signIn(t, auditor, base, "auditor@contoso.test")
	auditor.Navigate(base + "/readiness")
	auditor.WaitVisible(`[data-check="people"]`)
	if n := auditor.Count(browsertest.TestID("give-consent")) + auditor.Count(browsertest.TestID("revoke")); n != 0 {
		t.Errorf("the auditor is offered %d changes", n)
	}
	auditor.AssertAccessible(t)
	auditor.AssertNoCSPViolations(t)
}
