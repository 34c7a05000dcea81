package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/teamsphone/portal/internal/browsertest"
	"github.com/teamsphone/portal/internal/devidp"
)

// uploadPlan uploads a CSV file of changes through the bulk form and waits
// for its plan's page.
func uploadPlan(t *testing.T, tab *browsertest.Tab, base, name, content string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	tab.Navigate(base + "/bulk")
	tab.WaitVisible(browsertest.TestID("bulk-file"))
	if err := chromedp.Do(tab.Context(), chromedp.SetUploadFiles(chromedp.CSS(browsertest.TestID("bulk-file")), []string{path})); err != nil {
		t.Fatal(err)
	}
	clickAndWait(t, tab, browsertest.TestID("bulk-submit"))
	tab.WaitVisible(browsertest.TestID("plan-apply"))
}

// agentsFile is a file granting n new agents the desktop app, numbered
// from first.
func agentsFile(first, n int) string {
	var file strings.Builder
	file.WriteString("objectId,kind,clientIds,label\n")
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&file, "%08x-0000-4000-8000-%012x,user,%s,Browser agent %d\n", i+1, i+1, appDesktop, i)
	}
	return file.String()
}

// progressPolls counts the polls a job's page has sent.
const progressPolls = `performance.getEntriesByType("resource").filter(e => e.name.includes("/progress?")).length`

// assertPollingStopped checks that a finished job's page sends no poll in
// the next three seconds (three polls' time, on the page's own clock).
func assertPollingStopped(t *testing.T, tab *browsertest.Tab) {
	t.Helper()
	if n := tab.Count(browsertest.TestID("job-live") + "[hx-trigger]"); n != 0 {
		t.Error("the finished job's page still asks to poll")
	}
	before := evalJS[int](t, tab, progressPolls)
	since := evalJS[float64](t, tab, `performance.now()`)
	waitUntil(t, tab, "three seconds to pass", fmt.Sprintf(`performance.now() > %f`, since+3000))
	if after := evalJS[int](t, tab, progressPolls); after != before {
		t.Errorf("the finished job's page polled %d times more", after-before)
	}
}

// An admin uploads a file, reads the plan, applies it and watches the job
// update in place (htmx polling) until it is done: its title, counts and
// the rows shown, never reloading the page; /bulk then lists the job. The
// pages hold the CSP and pass axe.
func TestBrowserBulkApply(t *testing.T) {
	base := startDevPortal(t, "-acs-faults", "latency=40ms")
	b := browsertest.New(t)
	tab := b.NewTab(t)
	signIn(t, tab, base, "admin@contoso.test")
	uploadPlan(t, tab, base, "agents.csv", agentsFile(0, 300))
	if totals := tab.TextByTestID("plan-totals"); !strings.Contains(totals, "Grant: 300") {
		t.Errorf("plan totals: %q", totals)
	}
	if n := tab.Count(browsertest.TestID("plan-loss")); n != 0 {
		t.Error("a plan of grants reads as destructive")
	}
	if class := evalJS[string](t, tab, `document.querySelector('[data-testid="apply-submit"]').className`); !strings.Contains(class, "button-primary") {
		t.Errorf("a plan of grants is applied with %q", class)
	}
	// Made-up agents: the directory has none of them.
	if got := tab.Text(browsertest.TestID("plan-directory") + " h2"); got != "300 object IDs are not in the directory" {
		t.Errorf("the plan says %q", got)
	}
	tab.AssertAccessible(t)
	tab.AssertNoCSPViolations(t)
	fillTextarea(t, tab, browsertest.TestID("justification"), "Onboarding wave 3")
	tab.Click(browsertest.TestID("ids-checked"))
	tab.Click(browsertest.TestID("apply-submit"))
	tab.WaitVisible(browsertest.TestID("job-progress"))
	mark := markDocument(t, tab)
	if n := tab.Count(browsertest.TestID("job-row")); n != 100 {
		t.Errorf("the job's page shows %d rows, want its first 100", n)
	}
	waitUntil(t, tab, "the progress card to show some rows done",
		`Number(document.querySelector('[data-testid="job-done"]').innerText) > 0`)
	tab.Screenshot("admin-bulk-job")
	// Under -race beside the other packages' tests the machine is slow:
	// the job needs its time; the point is that the page updates itself.
	waitUntil(t, tab, "the job to finish", `document.querySelector('[data-testid="job-progress"]').dataset.state === "done"`)
	assertSameDocument(t, tab, mark, "the job's page")
	if done := tab.TextByTestID("job-done"); done != "300" {
		t.Errorf("rows done: %q", done)
	}
	// The title, the filters and every row shown say what happened.
	if title := tab.TextByTestID("job-title"); title != "Done: 300 granted" {
		t.Errorf("the job's title: %q", title)
	}
	if title := evalJS[string](t, tab, `document.title`); !strings.HasPrefix(title, "Done: 300 granted") {
		t.Errorf("the page's title: %q", title)
	}
	if filters := tab.TextByTestID("job-filters"); !strings.Contains(filters, "Granted (300)") || strings.Contains(filters, "In flight") || strings.Contains(filters, "Not yet applied") {
		t.Errorf("the filters: %q", filters)
	}
	if n := evalJS[int](t, tab, `[...document.querySelectorAll('[data-testid="job-row-result"]')].filter(r => r.innerText === "Granted").length`); n != 100 {
		t.Errorf("%d of the 100 rows shown say Granted", n)
	}
	assertPollingStopped(t, tab)
	tab.AssertAccessible(t)
	tab.AssertNoCSPViolations(t)

	// /bulk lists it, to get back to.
	tab.Navigate(base + "/bulk")
	tab.WaitVisible(browsertest.TestID("job-list"))
	if row := tab.Text(browsertest.TestID("job-list-row") + `[data-state="done"]`); !strings.Contains(row, "agents.csv") || !strings.Contains(row, "Done: 300 granted") || !strings.Contains(row, "300 of 300") {
		t.Errorf("/bulk lists the job as %q", row)
	}
	tab.AssertAccessible(t)

	// Every ACS call takes half a second: a job is still running when its
	// page first shows.
	slow := startDevPortal(t, "-acs-faults", "latency=500ms")

	t.Run("keyboard focus stays", func(t *testing.T) {
		// The page's live part is morphed, not replaced: what has the
		// keyboard focus keeps it while the job runs.
		tab := b.NewTab(t)
		signIn(t, tab, slow, "admin@contoso.test")
		uploadPlan(t, tab, slow, "sixty-four.csv", agentsFile(400, 64))
		tab.Click(browsertest.TestID("ids-checked"))
		clickAndWait(t, tab, browsertest.TestID("apply-submit"))
		tab.WaitVisible(browsertest.TestID("job-progress"))
		if state := evalJS[string](t, tab, `document.querySelector('[data-testid="job-progress"]').dataset.state`); state == "done" {
			t.Fatal("the job was done before its page showed: nothing here tests the focus")
		}
		before := evalJS[int](t, tab, progressPolls)
		evalJS[bool](t, tab, `document.querySelector('[data-testid="job-result-csv"]').focus(), true`)
		waitUntil(t, tab, "the page to poll twice", progressPolls+` >= `+fmt.Sprint(before+2))
		if got := evalJS[string](t, tab, `document.activeElement?.dataset?.testid ?? ""`); got != "job-result-csv" {
			t.Errorf("after two polls the focus is on %q", got)
		}
		waitUntil(t, tab, "the job to finish", `document.querySelector('[data-testid="job-progress"]').dataset.state === "done"`)
		if got := evalJS[string](t, tab, `document.activeElement?.dataset?.testid ?? ""`); got != "job-result-csv" {
			t.Errorf("once done the focus is on %q", got)
		}
		assertPollingStopped(t, tab)
		tab.AssertAccessible(t)
		tab.AssertNoCSPViolations(t)
	})

	t.Run("without JavaScript", func(t *testing.T) {
		base := slow
		tab := b.NewTab(t)
		tab.DisableJavaScript()
		signIn(t, tab, base, "admin@contoso.test")
		uploadPlan(t, tab, base, "sixteen.csv", agentsFile(300, 16))
		tab.AssertNoCSPViolations(t)
		tab.Click(browsertest.TestID("ids-checked"))
		clickAndWait(t, tab, browsertest.TestID("apply-submit"))
		tab.WaitVisible(browsertest.TestID("job-progress"))
		if state := evalJS[string](t, tab, `document.querySelector('[data-testid="job-progress"]').dataset.state`); state == "done" {
			t.Errorf("the job was done before its page showed: nothing here tests the page's refresh")
		}
		if n := tab.Count(browsertest.TestID("job-refresh")); n != 1 {
			t.Error("a running job's page offers no Refresh")
		}
		if n := tab.Count(browsertest.TestID("job-row-result")); n != 16 {
			t.Errorf("the job's page shows %d rows, want 16", n)
		}
		// The page reloads itself (meta refresh) until the job is done.
		waitUntil(t, tab, "the page to show the job done", `document.readyState === "complete" && document.querySelector('[data-testid="job-title"]')?.innerText === "Done: 16 granted"`)
		if n := evalJS[int](t, tab, `[...document.querySelectorAll('[data-testid="job-row-result"]')].filter(r => r.innerText === "Granted").length`); n != 16 {
			t.Errorf("%d of the 16 rows say Granted", n)
		}
		// (axe needs the page's JavaScript: the same page passed it above.)
		tab.Navigate(base + "/bulk")
		tab.WaitVisible(browsertest.TestID("job-list"))
		if list := tab.TextByTestID("job-list"); !strings.Contains(list, "sixteen.csv") || !strings.Contains(list, "Done: 16 granted") {
			t.Errorf("/bulk lists %q", list)
		}
		tab.AssertNoCSPViolations(t)
	})
}

// A plan that revokes reads and looks destructive: who loses access, by
// name, and a danger button; a plan whose grants name object IDs the
// directory lacks lists them, never found apart from gone, and is applied
// only once the person confirms they checked them.
func TestBrowserBulkPlanChecks(t *testing.T) {
	base, graph := startDevPortalWithGraph(t)
	b := browsertest.New(t)
	tab := openTab(t, b)
	signIn(t, tab, base, "admin@contoso.test")

	t.Run("revokes", func(t *testing.T) {
		uploadPlan(t, tab, base, "leavers.csv", "objectId,kind,clientIds,action\n"+
			seedAlice+",,,revoke\n"+seedMainLine+",,,revoke\n"+
			"00000000-0000-4000-8000-000000000777,user,"+appDesktop.String()+",grant\n")
		who := tab.TextByTestID("plan-loss-who")
		if !strings.HasPrefix(who, "Alice Smith and Main line auto attendant") || !strings.HasSuffix(who, "lose access now.") {
			t.Errorf("the plan says %q", who)
		}
		if how := tab.TextByTestID("plan-loss"); !strings.Contains(how, "tokens are revoked at once") || !strings.Contains(how, "lose server consent") {
			t.Errorf("the plan explains %q", how)
		}
		submit := browsertest.TestID("apply-submit")
		if class := evalJS[string](t, tab, `document.querySelector(`+jsString(submit)+`).className`); !strings.Contains(class, "button-danger") {
			t.Errorf("the apply button is %q, not the danger one", class)
		}
		if label := tab.Text(submit); label != "Apply 3 change(s), 2 revoke(s)" {
			t.Errorf("the apply button says %q", label)
		}
		tab.Screenshot("admin-bulk-plan-revokes")
		tab.AssertAccessible(t)
		tab.AssertNoCSPViolations(t)
	})

	t.Run("object IDs not in the directory", func(t *testing.T) {
		const dana = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c05" // in the dev directory: Dana Park
		const typo = "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c06"
		const eve = "3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a08" // in the dev directory
		// The portal comes to know Dana by name; then she leaves.
		uploadPlan(t, tab, base, "dana.csv", "objectId,kind,clientIds\n"+dana+",user,"+appDesktop.String()+"\n")
		if n := tab.Count(browsertest.TestID("plan-directory")); n != 0 {
			t.Errorf("Dana, in the directory, is flagged: %q", tab.TextByTestID("plan-directory"))
		}
		req, _ := http.NewRequest(http.MethodDelete, graph+"/_emulator/tenants/"+devidp.ContosoTenant.String()+"/users/"+dana, nil)
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode >= 300 {
			t.Fatalf("deleting Dana from the Graph emulator: %v %v", resp, err)
		}
		uploadPlan(t, tab, base, "wave4.csv", "objectId,kind,clientIds,label\n"+
			dana+",user,"+appDesktop.String()+",Dana\n"+
			typo+",user,"+appDesktop.String()+",Dana (typo)\n"+
			eve+",user,"+appDesktop.String()+",Eve\n")
		if got := tab.Text(browsertest.TestID("plan-directory") + " h2"); got != "2 object IDs are not in the directory" {
			t.Errorf("the plan says %q", got)
		}
		gone := tab.Text(browsertest.TestID("plan-flagged-id") + `[data-presence="gone"]`)
		never := tab.Text(browsertest.TestID("plan-flagged-id") + `[data-presence="never_found"]`)
		if !strings.Contains(gone, dana) || !strings.Contains(gone, "Was in the directory as Dana Park (dana.park@contoso.test), now gone") {
			t.Errorf("Dana reads %q", gone)
		}
		if !strings.Contains(never, typo) || !strings.Contains(never, "never seen by the portal") || strings.Contains(never, "gone") {
			t.Errorf("the typo reads %q", never)
		}
		if n := tab.Count(browsertest.TestID("plan-row-flag")); n != 2 {
			t.Errorf("%d rows flagged, want 2", n)
		}
		tab.AssertAccessible(t)
		tab.AssertNoCSPViolations(t)

		// The browser will not send the form unticked; sent anyway, the
		// portal refuses it, says why beside the box, and queues nothing.
		plan := tab.URL()
		evalJS[bool](t, tab, `document.querySelector('[data-testid="ids-checked"]').required = false, true`)
		clickAndWait(t, tab, browsertest.TestID("apply-submit"))
		if got := tab.URL(); got != plan+"/apply" {
			t.Errorf("unconfirmed, the apply landed on %s", got)
		}
		if problem := tab.TextByTestID("form-problem"); !strings.Contains(problem, "2 object IDs the directory does not have") || !strings.Contains(problem, "Nothing was changed") {
			t.Errorf("the refusal says %q", problem)
		}
		if msg := tab.TextByTestID("ids_checked-error"); msg == "" {
			t.Error("no message beside the confirmation")
		}
		if n := tab.Count(browsertest.TestID("plan-job-link")); n != 0 {
			t.Error("the refused plan has a job")
		}
		tab.AssertAccessible(t)
		tab.Screenshot("admin-bulk-plan-unknown-ids")

		tab.Click(browsertest.TestID("ids-checked"))
		clickAndWait(t, tab, browsertest.TestID("apply-submit"))
		tab.WaitVisible(browsertest.TestID("job-progress"))
		waitUntil(t, tab, "the job to finish", `document.querySelector('[data-testid="job-progress"]').dataset.state === "done"`)
		tab.AssertNoCSPViolations(t)
	})
}
