package main

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/browsertest"
)

// The audit trail as an admin and an auditor meet it in Chromium: an admin
// changes only Alice's end date and is told what changed, by name, and
// that ACS was not called, then adds an app; an auditor filters the audit
// log to Alice's changes by her name, reads one row per change — names,
// actions and outcomes in words, a before → after diff — opens a change's
// intent and outcome, and exports just those rows: the file holds every
// row the link counts, both rows of each change shown. With JavaScript
// (htmx swaps the results in place) and without (plain GETs); axe-clean
// (axe-core runs where JavaScript does).
func TestBrowserAuditTrail(t *testing.T) {
	base := startDevPortal(t)
	b := browsertest.New(t, browsertest.WithWindowSize(1280, 900))
	alice := base + "/assignments/" + seedAlice
	ends := time.Now().UTC().AddDate(0, 4, 0)
	flash := regexp.MustCompile(`^End date for Alice Smith set to (\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC)\. ACS was not called: the end date lives in the portal\.$`)
	var endsShown string // as the portal shows the end date saved

	t.Run("admin changes only the end date", func(t *testing.T) {
		tab := openTab(t, b)
		signIn(t, tab, base, "admin@contoso.test")
		tab.Navigate(alice)
		tab.WaitVisible(browsertest.TestID("edit-form"))
		// Whatever input the end date is (a date or a date and time),
		// the day is typed the way it takes it.
		evalJS[string](t, tab, `(() => { const f = document.querySelector('#edit-form [name="expiresAt"]');
			f.value = f.type === "datetime-local" ? `+jsString(ends.Format("2006-01-02T15:04"))+` : `+jsString(ends.Format("2006-01-02"))+`; return f.value })()`)
		fillTextarea(t, tab, "#edit-form "+browsertest.TestID("justification"), "CHG-2001 until the project ends")
		tab.Submit(browsertest.TestID("edit-submit"))
		waitUntil(t, tab, "Alice's page with a message about her end date",
			`location.href === `+jsString(alice)+` && document.readyState === "complete" && !!document.querySelector('[data-testid="flash"]')`)
		msg := tab.TextByTestID("flash")
		m := flash.FindStringSubmatch(msg)
		if m == nil {
			t.Fatalf("after saving the end date the message is %q, want %q", msg, flash)
		}
		endsShown = m[1]
		if !strings.HasPrefix(endsShown, ends.Format("2006-01-")) {
			t.Errorf("the end date saved is %s, typed %s", endsShown, ends.Format("2006-01-02"))
		}
		// Alice's history: the change is one readable row.
		row := `[data-testid="history-row"][data-action="edit_inventory"][data-outcome="success"]`
		if n := tab.Count(row); n != 1 {
			t.Fatalf("Alice's history has %d end-date rows, want 1", n)
		}
		if got := tab.Text(row + " " + browsertest.TestID("history-action")); got != "Edit end date or label" {
			t.Errorf("the history's action reads %q", got)
		}
		if got := squash(tab.Text(row + " " + browsertest.TestID("change"))); !strings.HasPrefix(got, "End date: none") || !strings.HasSuffix(got, endsShown) {
			t.Errorf("the history's change reads %q, want none → %s", got, endsShown)
		}
		tab.AssertAccessible(t)
		tab.AssertNoCSPViolations(t)

		// Then an app: through ACS, one row whose intent and outcome are
		// in its detail.
		tab.Click("#edit-form " + browsertest.TestID("app-"+appMobileID))
		fillTextarea(t, tab, "#edit-form "+browsertest.TestID("justification"), "CHG-2002 mobile too")
		tab.Submit(browsertest.TestID("edit-submit"))
		waitForPage(t, tab, alice, "Calling-client apps for Alice Smith: added Contoso Agent Mobile.")
		tab.AssertNoCSPViolations(t)
	})

	for _, js := range []bool{true, false} {
		name := "auditor filters, reads and exports Alice's changes"
		if !js {
			name += " without JavaScript"
		}
		t.Run(name, func(t *testing.T) {
			if endsShown == "" {
				t.Skip("the admin's change did not happen")
			}
			tab := openTab(t, b)
			if !js {
				tab.DisableJavaScript()
			}
			signIn(t, tab, base, "auditor@contoso.test")
			tab.Navigate(base + "/audit")
			tab.WaitVisible(browsertest.TestID("chain-intact"))
			tab.AssertNoCSPViolations(t)

			// Filter by her name, as a person would type it.
			tab.Fill(browsertest.TestID("audit-target"), "Alice Smith")
			if js {
				mark := markDocument(t, tab)
				tab.Submit(browsertest.TestID("audit-filter-submit"))
				waitUntil(t, tab, "the audit log to narrow to Alice's rows with ?target=Alice Smith",
					`new URLSearchParams(location.search).get("target") === "Alice Smith" && !!document.querySelector('[data-testid="audit-csv"][href*="`+seedAlice+`"]')`)
				assertSameDocument(t, tab, mark, "filtering the audit log")
			} else {
				clickAndWait(t, tab, browsertest.TestID("audit-filter-submit"))
				if u, err := url.Parse(tab.URL()); err != nil || u.Query().Get("target") != "Alice Smith" {
					t.Fatalf("the filter went to %s, want ?target=Alice Smith", tab.URL())
				}
			}
			rows := `[data-testid="history-row"]`
			targets := evalJS[[]string](t, tab, `Array.from(document.querySelectorAll('`+rows+`'), r => r.querySelector('[data-testid="principal"] a')?.getAttribute("href") ?? "")`)
			if len(targets) < 3 || slices.ContainsFunc(targets, func(h string) bool { return h != "/assignments/"+seedAlice }) {
				t.Fatalf("the filtered log shows rows of %q, want Alice's (%s) only, at least her adoption and the admin's two changes", targets, seedAlice)
			}
			// Names first, words not codes, one row per change.
			actions := evalJS[[]string](t, tab, `Array.from(document.querySelectorAll('`+rows+` [data-testid="history-action"]'), a => a.innerText.trim())`)
			if len(actions) < 3 || actions[0] != "Edit" || actions[1] != "Edit end date or label" {
				t.Errorf("the newest actions read %q, want the app edit, then the end date", actions)
			}
			for _, words := range evalJS[[]string](t, tab, `Array.from(document.querySelectorAll('`+rows+`'), r => r.innerText)`) {
				for _, code := range []string{"edit_inventory", "no_change", "sign_in", "success", "bulk_apply", appMobileID} {
					if strings.Contains(words, code) {
						t.Errorf("a row shows %q: %q", code, words)
					}
				}
			}
			edit := rows + `[data-action="edit"]`
			if n := tab.Count(edit); n != 1 {
				t.Errorf("the app edit is %d rows, want 1", n)
			}
			if got := squash(tab.Text(edit + " " + browsertest.TestID("change"))); got != "Apps added: Contoso Agent Mobile" {
				t.Errorf("the app edit's change reads %q", got)
			}
			if got := squash(tab.Text(rows + `[data-action="edit_inventory"] ` + browsertest.TestID("change"))); !strings.HasSuffix(got, endsShown) || !strings.HasPrefix(got, "End date: none") {
				t.Errorf("the end date's change reads %q, want none → %s", got, endsShown)
			}
			// Its intent and outcome, one click away (a <details>: no
			// script needed).
			steps := edit + " " + browsertest.TestID("history-step")
			if evalJS[bool](t, tab, `document.querySelector('`+edit+` details').open`) {
				t.Error("the change's rows are open before anyone asked")
			}
			tab.Click(edit + " summary")
			tab.WaitVisible(steps)
			waitUntil(t, tab, "the change's intent and outcome to open", `document.querySelector('`+edit+` details').open`)
			phases := evalJS[[]string](t, tab, `Array.from(document.querySelectorAll('`+steps+`'), s => s.dataset.phase + ": " + s.innerText.trim())`)
			if len(phases) != 2 || !strings.HasPrefix(phases[0], "Intent: Intent #") || !strings.HasPrefix(phases[1], "Outcome: Outcome #") ||
				!strings.Contains(phases[1], "HTTP 200") || !strings.Contains(phases[1], "ACS request") {
				t.Errorf("the change's rows read %q, want its intent, then its outcome with ACS's answer", phases)
			}
			if js { // axe-core is a script
				tab.AssertAccessible(t)
			}
			tab.AssertNoCSPViolations(t)

			// Export just those rows: what the link counts, Alice's only,
			// every change shown with both its rows.
			href := linkHref(t, tab, browsertest.TestID("audit-csv"))
			counted := evalJS[string](t, tab, `document.querySelector('[data-testid="audit-csv"]').dataset.rows`)
			if href != base+"/audit.csv?target="+seedAlice {
				t.Errorf("the export link is %s, want Alice's rows by her object ID", href)
			}
			if label := tab.TextByTestID("audit-csv"); label != "Export these "+counted+" rows (CSV)" {
				t.Errorf("the export link reads %q, want it to count %s rows", label, counted)
			}
			if all := linkHref(t, tab, browsertest.TestID("audit-csv-all")); all != base+"/audit.csv" {
				t.Errorf("the export of everything is %q", all)
			}
			file := fetchCSV(t, href, sessionCookie(t, tab, base))
			if strconv.Itoa(len(file)-1) != counted {
				t.Errorf("the export holds %d rows, its link counted %s", len(file)-1, counted)
			}
			object, phase, action := slices.Index(file[0], "object"), slices.Index(file[0], "phase"), slices.Index(file[0], "action")
			intents := 0
			var codes []string
			for _, r := range file[1:] {
				if r[object] != seedAlice {
					t.Errorf("the export of Alice's rows holds %q", r)
				}
				if r[phase] == "intent" {
					intents++
				}
				codes = append(codes, r[action])
			}
			if shown := tab.Count(rows); shown != len(file)-1-intents {
				t.Errorf("the page shows %d rows, the export %d of which %d intents: want one row per change", shown, len(file)-1, intents)
			}
			if !slices.Contains(codes, "edit_inventory") || !slices.Contains(codes, "edit") {
				t.Errorf("the export's actions are %q: it keeps the codes", codes)
			}
		})
	}
}

// squash collapses runs of white space, as a person reads text.
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }
