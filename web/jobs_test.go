package web

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/devidp"
	"github.com/teamsphone/portal/internal/jobs"
	"github.com/teamsphone/portal/internal/portal"
)

// runJobs applies every queued job, here and now.
func (e *portalEnv) runJobs() {
	runner := &jobs.BulkRunner{Service: e.access, Jobs: e.db, Now: e.clock.Now}
	for runner.RunOnce(context.Background()) {
	}
}

// planAndApply uploads a file as c, applies the plan, and returns the job's
// address.
func (e *portalEnv) planAndApply(c *http.Client, file string) string {
	e.t.Helper()
	p := e.upload(c, "agents.csv", []byte(file))
	if p.status != http.StatusSeeOther {
		e.t.Fatalf("upload: %d %s", p.status, p.body)
	}
	plan := p.header.Get("Location")
	p = e.post(c, plan+"/apply", url.Values{"justification": {"wave 3"}})
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/bulk/jobs/") {
		e.t.Fatalf("apply: %d %s", p.status, p.body)
	}
	return p.header.Get("Location")
}

func TestBulkApplyThroughTheForms(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	e.seedInventory(devidp.ContosoTenant, alice, "user", appDesktop)
	admin := noFollow(e.as("admin@contoso.test"))
	file := "objectId,kind,clientIds,label,action\n" +
		alice.String() + ",user," + appMobile.String() + ",,\n" + // update
		bob.String() + ",user," + appDesktop.String() + ",Bob,\n" + // create
		"not-a-guid,user,,,\n" // invalid
	job := e.planAndApply(admin, file)

	// Queued: the progress card polls, and nothing has been written yet.
	p := e.get(admin, job)
	if state, _ := p.testid("job-progress"); p.status != 200 || !strings.Contains(state, "Waiting") {
		t.Fatalf("queued job page: %d %q", p.status, state)
	}
	assertNoncedHX(t, "job page", p)
	frag := e.get(admin, job+"/progress")
	if !strings.Contains(frag.body, `hx-trigger="every 1s"`) || strings.Contains(frag.body, "<html") {
		t.Errorf("progress fragment while queued: %s", frag.body)
	}
	if e.writes() != 0 {
		t.Fatal("applying wrote to ACS before the job ran")
	}
	e.runJobs()
	p = e.get(admin, job)
	if status, _ := p.testid("job-status"); !strings.Contains(status, "Finished") {
		t.Errorf("status after the run: %q", status)
	}
	if done, _ := p.testid("job-done"); done != "2" {
		t.Errorf("done = %q, want 2", done)
	}
	if frag := e.get(admin, job+"/progress"); strings.Contains(frag.body, "hx-trigger") {
		t.Error("a finished job's progress still polls")
	}
	inv := e.inventory(devidp.ContosoTenant)
	if len(inv) != 2 {
		t.Fatalf("inventory has %d rows, want 2", len(inv))
	}
	if n := e.auditCount(portal.ActionBulk); n < 3 {
		t.Errorf("%d bulk_apply audit rows, want queued, started and done", n)
	}
	// The results: every line of the file, with what happened to it.
	res := e.get(admin, job+"/result.csv")
	recs, err := csv.NewReader(strings.NewReader(res.body)).ReadAll()
	if err != nil || len(recs) != 4 {
		t.Fatalf("result.csv: %v %q", err, res.body)
	}
	for i, want := range []string{"success", "success", "skipped"} {
		if recs[i+1][7] != want {
			t.Errorf("result line %s: %q, want %q (%v)", recs[i+1][0], recs[i+1][7], want, recs[i+1])
		}
	}
	if rows, _ := e.get(admin, job+"?show=skipped").testid("job-rows"); !strings.Contains(rows, "objectId: ") {
		t.Errorf("skipped rows lack the plan's reason: %q", rows)
	}
	// The plan now links to its job, and applying it again changes nothing.
	planURL := "/bulk/" + recsPlan(t, e, admin, job)
	if link, _ := e.get(admin, planURL).testid("plan-job-link"); link == "" {
		t.Error("the plan page does not link to its job")
	}
	writes := e.writes()
	if p := e.post(admin, planURL+"/apply", url.Values{}); p.status != http.StatusSeeOther || p.header.Get("Location") != job {
		t.Errorf("second apply: %d → %s, want the same job", p.status, p.header.Get("Location"))
	}
	e.runJobs()
	if e.writes() != writes {
		t.Error("a plan was applied twice")
	}
	// Finished jobs can be neither cancelled nor resumed.
	if p := e.post(admin, job+"/cancel", url.Values{}); p.status != http.StatusUnprocessableEntity && p.status != http.StatusBadRequest {
		t.Errorf("cancel a finished job: %d", p.status)
	}
	// The auditor reads the job; another tenant cannot.
	if p := e.get(noFollow(e.as("auditor@contoso.test")), job); p.status != 200 {
		t.Errorf("auditor reads the job: %d", p.status)
	}
	if p := e.get(noFollow(e.as("admin@fabrikam.test")), job); p.status != http.StatusNotFound {
		t.Errorf("Fabrikam reads Contoso's job: %d", p.status)
	}
	if p := e.get(noFollow(e.as("admin@fabrikam.test")), job+"/result.csv"); p.status != http.StatusNotFound {
		t.Errorf("Fabrikam downloads Contoso's results: %d", p.status)
	}
	// The bulk page lists it.
	if list, _ := e.get(admin, "/bulk").testid("job-list"); !strings.Contains(list, "agents.csv") {
		t.Errorf("job list: %q", list)
	}
}

// recsPlan finds a job's plan ID from its page's link.
func recsPlan(t *testing.T, e *portalEnv, c *http.Client, job string) string {
	t.Helper()
	body := e.get(c, job).body
	_, after, ok := strings.Cut(body, `href="/bulk/`)
	for ok && strings.HasPrefix(after, "jobs/") {
		_, after, ok = strings.Cut(after, `href="/bulk/`)
	}
	id, _, _ := strings.Cut(after, `"`)
	if !ok || id == "" {
		t.Fatalf("no plan link on %s", job)
	}
	return id
}

func TestBulkJobPermissions(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	admin := noFollow(e.as("admin@contoso.test"))
	helpdesk := noFollow(e.as("helpdesk@contoso.test"))
	p := e.upload(admin, "agents.csv", []byte("objectId,kind,clientIds\n"+bob.String()+",user,"+appDesktop.String()+"\n"))
	plan := p.header.Get("Location")
	// Helpdesk may not apply an admin's plan; an auditor may not apply at all.
	if p := e.post(helpdesk, plan+"/apply", url.Values{}); p.status != http.StatusForbidden {
		t.Errorf("helpdesk applies an admin's plan: %d", p.status)
	}
	if p := e.post(noFollow(e.as("auditor@contoso.test")), plan+"/apply", url.Values{}); p.status != http.StatusForbidden {
		t.Errorf("auditor applies: %d", p.status)
	}
	p = e.post(admin, plan+"/apply", url.Values{})
	job := p.header.Get("Location")
	if p := e.post(helpdesk, job+"/cancel", url.Values{}); p.status != http.StatusForbidden {
		t.Errorf("helpdesk cancels an admin's job: %d", p.status)
	}
	// Cancelled before any instance took it: nothing is applied.
	if p := e.post(admin, job+"/cancel", url.Values{}); p.status != http.StatusSeeOther {
		t.Fatalf("cancel: %d %s", p.status, p.body)
	}
	e.runJobs()
	if e.writes() != 0 {
		t.Error("a cancelled job wrote to ACS")
	}
	if state, _ := e.get(admin, job).testid("job-progress"); !strings.Contains(state, "Cancelled") {
		t.Errorf("cancelled job: %q", state)
	}
	if p := e.post(admin, job+"/resume", url.Values{}); p.status != http.StatusUnprocessableEntity && p.status != http.StatusBadRequest {
		t.Errorf("resume a cancelled job: %d", p.status)
	}
}

func TestBulkAdopt(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	e.seedInventory(devidp.ContosoTenant, alice, "user", appDesktop)
	// Made outside the portal: bob in ACS only.
	e.seedACS(devidp.ContosoTenant, bob, "user", appMobile)
	admin := noFollow(e.as("admin@contoso.test"))
	missing := portal.MustParseGUID("7c1d9e2f-3a4b-4c5d-8e6f-7a8b9c0d1e02")
	p := e.uploadAs(admin, "adopt", "adopt.csv", []byte("objectId,label\n"+bob.String()+",Bob\n"+missing.String()+",\n"+alice.String()+",\n"))
	if p.status != http.StatusSeeOther {
		t.Fatalf("upload: %d %s", p.status, p.body)
	}
	plan := p.header.Get("Location")
	if p := e.uploadAs(admin, "sideways", "adopt.csv", []byte("objectId\n"+bob.String()+"\n")); p.status != http.StatusBadRequest {
		t.Errorf("an unknown mode: %d", p.status)
	}
	if totals, _ := e.get(admin, plan).testid("plan-totals"); !strings.Contains(totals, "Adopt: 2") || !strings.Contains(totals, "No change: 1") {
		t.Errorf("adopt plan totals: %q", totals)
	}
	job := e.post(admin, plan+"/apply", url.Values{}).header.Get("Location")
	e.runJobs()
	res := e.get(admin, job+"/result.csv").body
	recs, _ := csv.NewReader(strings.NewReader(res)).ReadAll()
	outcome := map[string]string{}
	for _, r := range recs[1:] {
		outcome[r[2]] = r[7]
	}
	if outcome[bob.String()] != "success" || outcome[missing.String()] != "failed" || outcome[alice.String()] != "skipped" {
		t.Errorf("outcomes: %v", outcome)
	}
	inv := e.inventory(devidp.ContosoTenant)
	if len(inv) != 2 || e.writes() != 0 {
		t.Errorf("after adopting: %d inventory rows, %d ACS writes; want 2 and none", len(inv), e.writes())
	}
}

func TestPageLinks(t *testing.T) {
	for _, tc := range []struct {
		value               string
		page, size, matched int
		wantPrev, wantNext  string
	}{
		{"", 1, 100, 100, "", ""},
		{"", 1, 100, 101, "", "/x?page=2"},
		{"conflict", 2, 100, 250, "/x?page=1&show=conflict", "/x?page=3&show=conflict"},
		{"conflict", 3, 100, 250, "/x?page=2&show=conflict", ""},
	} {
		prev, next := pageLinks("/x", "show", tc.value, tc.page, tc.size, tc.matched)
		if prev != tc.wantPrev || next != tc.wantNext {
			t.Errorf("pageLinks(%q, page %d of %d) = %q, %q; want %q, %q", tc.value, tc.page, tc.matched, prev, next, tc.wantPrev, tc.wantNext)
		}
	}
}

// A job ACS has paused says so, and until when, on its page (with and
// without htmx) and in the /bulk list; it can still be cancelled; a long
// pause offers the way out; once the time passes the pause is not shown.
func TestJobPausedByACS(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	admin := noFollow(e.as("admin@contoso.test"))
	job := e.planAndApply(admin, "objectId,kind,clientIds,label\n"+bob.String()+",user,"+appDesktop.String()+",Bob\n")
	id := strings.TrimPrefix(job, "/bulk/jobs/")
	ctx := context.Background()
	now := e.clock.Now()
	if _, ok, err := e.db.ClaimJob(ctx, "i1", now); !ok || err != nil {
		t.Fatalf("ClaimJob: %v %v", ok, err)
	}
	if err := e.db.PauseJob(ctx, id, "i1", now, now.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	want := "Paused by ACS until " + now.Add(10*time.Minute).UTC().Format("15:04:05") + " UTC (ACS asked to wait 10 min)"
	hx := http.Header{"HX-Request": {"true"}, "HX-Request-Type": {"partial"}}
	check := func(what string, p page, wantState string) string {
		t.Helper()
		status, _ := p.testid("job-status")
		if p.status != 200 || !strings.Contains(status, want) || !strings.Contains(status, "No row fails for it") {
			t.Errorf("%s: %d, status %q; want %q", what, p.status, status, want)
		}
		if p.attr("job-progress", "data-state") != wantState || p.attr("job-live", "hx-trigger") != "every 1s" {
			t.Errorf("%s: progress state %q, polling %q", what, p.attr("job-progress", "data-state"), p.attr("job-live", "hx-trigger"))
		}
		return status
	}
	page := e.get(admin, job)
	status := check("job page", page, "paused")
	if !strings.Contains(page.body, `<meta http-equiv="refresh"`) {
		t.Error("without JavaScript, the paused job's page does not refresh")
	}
	if _, ok := page.testid("job-cancel"); !ok {
		t.Error("a paused job offers no cancel")
	}
	if strings.Contains(status, "long wait") {
		t.Errorf("a 10-minute pause is called long: %q", status)
	}
	frag := e.do(admin, "GET", job+"/progress", nil, hx)
	check("progress fragment (htmx)", frag, "paused")
	if strings.Contains(frag.body, "<html") {
		t.Error("the progress fragment is a whole page")
	}
	if paused, _ := e.get(admin, "/bulk").testid("job-paused"); paused != want {
		t.Errorf("/bulk list: %q, want %q", paused, want)
	}

	// Handed back to the queue while paused: whoever takes it waits.
	if err := e.db.ReleaseJob(ctx, id, "i1", portal.JobQueued, now); err != nil {
		t.Fatal(err)
	}
	if status := check("queued while paused", e.get(admin, job), "paused"); !strings.Contains(status, "goes on with the job by itself") {
		t.Errorf("queued while paused: %q", status)
	}
	// Once the time has passed, the pause is not shown.
	e.clock.Add(10*time.Minute + time.Second)
	if status, _ := e.get(admin, job).testid("job-status"); strings.Contains(status, "Paused") || !strings.HasPrefix(status, "Waiting") {
		t.Errorf("after the pause: %q", status)
	}
	if _, ok := e.get(admin, "/bulk").testid("job-paused"); ok {
		t.Error("/bulk lists the job as paused after the pause")
	}
	// A long pause offers to cancel, and a cancel works while paused.
	now = e.clock.Now()
	e.db.ClaimJob(ctx, "i2", now)
	if err := e.db.PauseJob(ctx, id, "i2", now, now.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	want = "Paused by ACS until " + now.Add(3*time.Hour).UTC().Format("15:04:05") + " UTC (ACS asked to wait 3 h)"
	if status := check("a 3-hour pause", e.get(admin, job), "paused"); !strings.Contains(status, "long wait: you may cancel") {
		t.Errorf("a 3-hour pause: %q", status)
	}
	if p := e.post(admin, job+"/cancel", url.Values{}); p.status != http.StatusSeeOther {
		t.Fatalf("cancel while paused: %d", p.status)
	}
	if status, _ := e.get(admin, job).testid("job-status"); !strings.HasPrefix(status, "Cancelling") {
		t.Errorf("after the cancel: %q", status)
	}
}
