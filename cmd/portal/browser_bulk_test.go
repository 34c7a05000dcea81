package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/teamsphone/portal/internal/browsertest"
)

// An admin uploads a file, reads the plan, applies it and watches the job's
// progress update in place (htmx polling) until it is done; the pages hold
// the CSP and pass axe.
func TestBrowserBulkApply(t *testing.T) {
	base := startDevPortal(t, "-acs-faults", "latency=40ms")
	b := browsertest.New(t)
	var file strings.Builder
	file.WriteString("objectId,kind,clientIds,label\n")
	for i := range 300 {
		fmt.Fprintf(&file, "%08x-0000-4000-8000-%012x,user,%s,Browser agent %d\n", i+1, i+1, appDesktop, i)
	}
	path := filepath.Join(t.TempDir(), "agents.csv")
	if err := os.WriteFile(path, []byte(file.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	tab := b.NewTab(t)
	signIn(t, tab, base, "admin@contoso.test")
	tab.Navigate(base + "/bulk")
	tab.WaitVisible(browsertest.TestID("bulk-file"))
	if err := chromedp.Do(tab.Context(), chromedp.SetUploadFiles(chromedp.CSS(browsertest.TestID("bulk-file")), []string{path})); err != nil {
		t.Fatal(err)
	}
	tab.Click(browsertest.TestID("bulk-submit"))
	tab.WaitVisible(browsertest.TestID("apply-form"))
	if totals := tab.TextByTestID("plan-totals"); !strings.Contains(totals, "Grant: 300") {
		t.Errorf("plan totals: %q", totals)
	}
	tab.AssertAccessible(t)
	tab.AssertNoCSPViolations(t)
	fillTextarea(t, tab, browsertest.TestID("justification"), "Onboarding wave 3")
	tab.Click(browsertest.TestID("apply-submit"))
	tab.WaitVisible(browsertest.TestID("job-progress"))
	mark := markDocument(t, tab)
	waitUntil(t, tab, "the progress card to show some rows done",
		`Number(document.querySelector('[data-testid="job-done"]').innerText) > 0`)
	tab.Screenshot("admin-bulk-job")
	// Under -race beside the other packages' tests the machine is slow:
	// the job needs its time; the point is that the card updates itself.
	waitUntil(t, tab, "the job to finish", `document.querySelector('[data-testid="job-progress"]').dataset.state === "done"`)
	assertSameDocument(t, tab, mark, "the progress card")
	if done := tab.TextByTestID("job-done"); done != "300" {
		t.Errorf("rows done: %q", done)
	}
	tab.AssertAccessible(t)
	tab.AssertNoCSPViolations(t)
}
