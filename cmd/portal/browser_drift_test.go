package main

import (
	"testing"

	"github.com/teamsphone/portal/internal/browsertest"
)

// The drift report (after Reconcile now) and the expiring-access page hold
// the CSP and pass axe, for an admin and an auditor.
func TestBrowserDriftAndExpiries(t *testing.T) {
	base := startDevPortal(t)
	b := browsertest.New(t)

	admin := b.NewTab(t)
	signIn(t, admin, base, "admin@contoso.test")
	admin.Navigate(base + "/drift")
	admin.WaitVisible(browsertest.TestID("reconcile-now"))
	admin.Click(browsertest.TestID("reconcile-now"))
	admin.WaitVisible(browsertest.TestID("flash"))
	// The seeded drift (Chen Wei) shows once the background run is done:
	// the report refreshes itself, nobody reloads it.
	waitUntil(t, admin, "the drift report to show the run's drift by itself",
		`!!document.querySelector('[data-testid="drift-row"]') && document.querySelector('[data-testid="drift-report"]')?.dataset.waiting === "false"`)
	admin.Screenshot("admin-drift")
	admin.AssertAccessible(t)
	admin.AssertNoCSPViolations(t)
	admin.Navigate(base + "/expiries")
	admin.WaitVisible(browsertest.TestID("expiries-none"))
	admin.AssertAccessible(t)
	admin.AssertNoCSPViolations(t)

	auditor := b.NewTab(t)
	signIn(t, auditor, base, "auditor@contoso.test")
	auditor.Navigate(base + "/drift")
	auditor.WaitVisible(browsertest.TestID("last-run"))
	if auditor.Count(browsertest.TestID("reapply"))+auditor.Count(browsertest.TestID("reconcile-now")) != 0 {
		t.Error("the auditor is offered to change something")
	}
	auditor.AssertNoCSPViolations(t)
}
