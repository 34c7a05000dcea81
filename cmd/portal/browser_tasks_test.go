package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/teamsphone/portal/internal/browsertest"
)

// The everyday tasks, each as a person would do it in a browser with
// JavaScript, from the page they are on after signing in; what each took
// — actions (an address typed, a click, a field filled, a form sent, a
// file chosen) and documents loaded (htmx swaps are not loads) — must not
// grow. A change that adds a step to one of them fails here: if it is
// worth it, raise the budget in the same commit and say why.
//
// The budgets are what the tasks took when they were written (issue #16).
var taskBudgets = map[string]browsertest.Effort{
	"helpdesk grants a person found by name":                     {Actions: 6, Loads: 3},
	"admin consents a resource account from the picker, revokes": {Actions: 8, Loads: 5},
	"auditor finds who changed an assignment last, exports":      {Actions: 4, Loads: 1},
	"admin applies a 20-row plan with 2 bad rows":                {Actions: 6, Loads: 3},
}

func TestBrowserTasksStayShort(t *testing.T) {
	base := startDevPortal(t)
	b := browsertest.New(t)
	task := func(name, persona string, do func(t *testing.T, tab *browsertest.Tab)) {
		t.Run(name, func(t *testing.T) {
			tab := openTab(t, b)
			signIn(t, tab, base, persona)
			tab.ResetEffort()
			do(t, tab)
			budget := taskBudgets[name]
			got := tab.Effort()
			t.Logf("%s: %d actions, %d page loads", name, got.Actions, got.Loads)
			if got.Actions > budget.Actions || got.Loads > budget.Loads {
				t.Errorf("%s took %d actions and %d page loads, more than its %d and %d", name, got.Actions, got.Loads, budget.Actions, budget.Loads)
			}
			tab.AssertNoCSPViolations(t)
		})
	}

	task("helpdesk grants a person found by name", "helpdesk@contoso.test", func(t *testing.T, tab *browsertest.Tab) {
		tab.Click(browsertest.TestID("nav-grant"))
		tab.Fill(browsertest.TestID("find"), "Nora")
		person := browsertest.TestID("people-results") + " " + browsertest.TestID("person")
		waitUntil(t, tab, "Nora Norole among the people found",
			`Array.from(document.querySelectorAll('`+person+`'), a => a.innerText.trim()).includes("Nora Norole")`)
		tab.Click(person)
		waitUntil(t, tab, "the grant form for Nora", `document.readyState === "complete" && new URLSearchParams(location.search).get("objectId") === `+jsString(peopleNora))
		tab.Click(browsertest.TestID("app-" + appDesktopID))
		tab.Fill(browsertest.TestID("justification"), "CHG-4001 new agent")
		tab.Submit(browsertest.TestID("grant-submit"))
		waitUntil(t, tab, "Nora's new assignment", `location.pathname === "/assignments/`+peopleNora+`" && document.readyState === "complete"`)
	})

	task("admin consents a resource account from the picker, revokes", "admin@contoso.test", func(t *testing.T, tab *browsertest.Tab) {
		tab.Click(browsertest.TestID("nav-grant"))
		tab.Click(browsertest.TestID("accounts-list"))
		pick := `[data-testid="account"][data-object-id="` + devReception + `"] ` + browsertest.TestID("account-pick")
		tab.Click(pick)
		waitUntil(t, tab, "the grant form for the Reception line", `document.readyState === "complete" && new URLSearchParams(location.search).get("objectId") === `+jsString(devReception))
		tab.Fill(browsertest.TestID("justification"), "CHG-4002 the reception line takes calls")
		tab.Submit(browsertest.TestID("grant-submit"))
		waitUntil(t, tab, "the Reception line's new assignment", `location.pathname === "/assignments/`+devReception+`" && document.readyState === "complete"`)
		tab.Click(browsertest.TestID("revoke-link"))
		tab.Fill(browsertest.TestID("justification"), "CHG-4003 the reception line moves")
		tab.Submit(browsertest.TestID("revoke-submit"))
		waitUntil(t, tab, "the list after the revoke", `location.pathname === "/assignments" && document.readyState === "complete" && `+
			`Array.from(document.querySelectorAll('[data-testid="flash"]'), f => f.innerText).some(s => s.includes("revoked"))`)
	})

	task("auditor finds who changed an assignment last, exports", "auditor@contoso.test", func(t *testing.T, tab *browsertest.Tab) {
		tab.Click(browsertest.TestID("nav-audit"))
		tab.Fill(browsertest.TestID("audit-target"), "Alice Smith")
		tab.Submit(browsertest.TestID("audit-filter-submit"))
		waitUntil(t, tab, "the audit log narrowed to Alice Smith",
			`new URLSearchParams(location.search).get("target") === "Alice Smith" && !!document.querySelector('[data-testid="audit-csv"][href*="`+seedAlice+`"]')`)
		// Who changed it last: the newest row's actor, read off the page.
		if who := tab.Text(`[data-testid="history-row"] td:nth-child(3)`); who == "" {
			t.Error("the newest change to Alice Smith names nobody")
		}
		href := linkHref(t, tab, browsertest.TestID("audit-csv"))
		counted := evalJS[string](t, tab, `document.querySelector('[data-testid="audit-csv"]').dataset.rows`)
		tab.Click(browsertest.TestID("audit-csv")) // a download: no page load
		file := fetchCSV(t, href, sessionCookie(t, tab, base))
		if strconv.Itoa(len(file)-1) != counted || len(file) < 2 {
			t.Errorf("the export holds %d rows, its link counted %s", len(file)-1, counted)
		}
	})

	task("admin applies a 20-row plan with 2 bad rows", "admin@contoso.test", func(t *testing.T, tab *browsertest.Tab) {
		var file strings.Builder
		file.WriteString("objectId,kind,clientIds,label\n")
		for i := range 18 {
			fmt.Fprintf(&file, "%08x-0000-4000-8000-%012x,user,%s,Task agent %d\n", 0x7a500+i, 0x7a500+i, appDesktop, i)
		}
		file.WriteString("not-a-guid,user," + appDesktop.String() + ",Typo\n")
		file.WriteString("0007a600-0000-4000-8000-00000007a600,robot,,Bad kind\n")
		path := filepath.Join(t.TempDir(), "twenty.csv")
		if err := os.WriteFile(path, []byte(file.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		tab.Click(browsertest.TestID("nav-bulk"))
		tab.SetFiles(browsertest.TestID("bulk-file"), path)
		tab.Submit(browsertest.TestID("bulk-submit"))
		waitUntil(t, tab, "the plan", `document.readyState === "complete" && !!document.querySelector('[data-testid="plan-apply"]')`)
		if totals := tab.TextByTestID("plan-totals"); !strings.Contains(totals, "Grant: 18") || !strings.Contains(totals, "2") {
			t.Errorf("the plan's totals: %q", totals)
		}
		tab.Fill(browsertest.TestID("justification"), "CHG-4004 onboarding")
		tab.Click(browsertest.TestID("ids-checked")) // made-up agents: the directory has none of them
		tab.Click(browsertest.TestID("apply-submit"))
		waitUntil(t, tab, "the job done", `document.querySelector('[data-testid="job-progress"]')?.dataset.state === "done"`)
		if title := tab.TextByTestID("job-title"); title != "Done: 18 granted" {
			t.Errorf("the job's title: %q", title)
		}
	})
}
