package web

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/devidp"
	"github.com/teamsphone/portal/internal/graphemu"
	"github.com/teamsphone/portal/internal/portal"
)

// hxGet is a GET as htmx sends it to swap part of the page.
func (e *portalEnv) hxGet(c *http.Client, path string) page {
	e.t.Helper()
	return e.do(c, "GET", path, nil, http.Header{"HX-Request": {"true"}, "HX-Request-Type": {"partial"}})
}

// hasAttr reports whether the element with data-testid=id has attribute key
// (a boolean attribute such as checked, whatever its value).
func (p page) hasAttr(id, key string) bool {
	n := p.byTestID(id)
	if n == nil {
		return false
	}
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

// rowResults is what the rows of a job's page say, by line.
func rowResults(p page) map[string]string {
	out := map[string]string{}
	for _, n := range p.allByTestID("job-row") {
		cells := page{doc: n}.testids("job-row-result")
		line := ""
		if td := findElement(n, func(m *html.Node) bool { return m.Data == "td" }); td != nil && td.FirstChild != nil {
			line = td.FirstChild.Data
		}
		if len(cells) == 1 {
			out[line] = cells[0]
		}
	}
	return out
}

// A job's page follows the job: while it runs, its live part asks every
// second for itself (htmx), naming the lines it shows; each answer carries
// the title, the counts of the filters and those rows as they are now, and
// once the job has ended the answer no longer polls and the title says
// what happened. Without JavaScript the page refreshes itself and offers
// Refresh. /bulk lists the job with its state and counts.
func TestJobPageFollowsTheJob(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	e.seedInventory(devidp.ContosoTenant, alice, "user", appDesktop)
	admin := noFollow(e.as("admin@contoso.test"))
	job := e.planAndApply(admin, "objectId,kind,clientIds,label,action\n"+
		alice.String()+",user,"+appMobile.String()+",,\n"+ // update: a conflict, Alice moves meanwhile
		bob.String()+",user,"+appDesktop.String()+",Bob,\n"+ // create
		"not-a-guid,user,,,\n") // invalid: not part of the job
	// Alice's label changes after the plan: her row will be a conflict.
	if r := e.post(admin, "/assignments/"+alice.String(), url.Values{"version": {"1"}, "label": {"Alice Smith"}, "clientId": {appDesktop.String()}}); r.status != http.StatusSeeOther {
		t.Fatalf("edit: %d %s", r.status, r.body)
	}

	p := e.get(admin, job)
	if title, _ := p.testid("job-title"); title != "Waiting to apply agents.csv" {
		t.Errorf("queued job's title: %q", title)
	}
	if want := map[string]string{"2": "Not yet applied", "3": "Not yet applied", "4": "Not part of the job"}; !maps.Equal(rowResults(p), want) {
		t.Errorf("queued job's rows: %v, want %v", rowResults(p), want)
	}
	poll := p.attr("job-live", "hx-get")
	if p.attr("job-live", "hx-trigger") != "every 1s" || poll != "/bulk/jobs/"+strings.TrimPrefix(job, "/bulk/jobs/")+"/progress?lines=2-4" {
		t.Errorf("the job's page polls %q every %q", poll, p.attr("job-live", "hx-trigger"))
	}
	if !strings.Contains(p.body, `<meta http-equiv="refresh"`) || p.attr("job-refresh", "href") != job {
		t.Errorf("without JavaScript, a running job's page neither refreshes nor offers Refresh (%q)", p.attr("job-refresh", "href"))
	}
	assertNoncedHX(t, "job page", p)

	frag := e.hxGet(admin, poll)
	if frag.status != 200 || strings.Contains(frag.body, "<html") || !strings.HasPrefix(frag.body, "<title>Waiting to apply agents.csv · ") {
		t.Errorf("the poll while queued: %d %.300s", frag.status, frag.body)
	}
	assertNoncedHX(t, "job poll", frag)

	e.runJobs()
	frag = e.hxGet(admin, poll)
	const done = "Done: 1 applied, 1 in conflict"
	if title, _ := frag.testid("job-title"); title != done || !strings.HasPrefix(frag.body, "<title>"+done+" · ") {
		t.Errorf("the poll once done: title %q, %.200s", title, frag.body)
	}
	if frag.attr("job-live", "hx-trigger") != "" || frag.attr("job-live", "hx-get") != "" {
		t.Error("a finished job's page still polls")
	}
	if want := map[string]string{"2": "Conflict", "3": "Granted", "4": "Not part of the job"}; !maps.Equal(rowResults(frag), want) {
		t.Errorf("the rows once done: %v, want %v", rowResults(frag), want)
	}
	filters, _ := frag.testid("job-filters")
	for _, want := range []string{"All rows (3)", "Applied (1)", "Conflict (1)", "Not part of the job (1)"} {
		if !strings.Contains(filters, want) {
			t.Errorf("filters %q lack %q", filters, want)
		}
	}
	if strings.Contains(filters, "Not yet applied") || strings.Contains(filters, "In flight") {
		t.Errorf("a finished job's filters: %q", filters)
	}
	p = e.get(admin, job)
	if title, _ := p.testid("job-title"); title != done || strings.Contains(p.body, `http-equiv="refresh"`) || has(p, "job-refresh") {
		t.Errorf("the page once done: title %q; still refreshing %v", title, strings.Contains(p.body, `http-equiv="refresh"`))
	}
	if !strings.Contains(p.body, "<title>"+done+" · ") {
		t.Error("the page's title does not say what happened")
	}
	// A filtered page polls for its own rows.
	if f := e.get(admin, job+"?show=conflict"); f.attr("job-live", "hx-get") != "" || len(rowResults(f)) != 1 || rowResults(f)["2"] != "Conflict" {
		t.Errorf("the conflict rows: %v", rowResults(f))
	}

	// /bulk lists it, in words.
	list := e.get(admin, "/bulk")
	if state, _ := list.testid("job-list-state"); state != "Done" {
		t.Errorf("/bulk lists the job as %q", state)
	}
	if sum, _ := list.testid("job-list-summary"); sum != done {
		t.Errorf("/bulk sums the job up as %q", sum)
	}

	// Bad lines are refused; another tenant's job is not there.
	for _, lines := range []string{"abc", "0", "5-3", "1-101", "2,3,x", "02", strings.Repeat("2,", 100) + "2"} {
		if p := e.hxGet(admin, job+"/progress?lines="+url.QueryEscape(lines)); p.status < 400 || p.status >= 500 {
			t.Errorf("lines=%s: %d", lines, p.status)
		}
	}
	if p := e.hxGet(noFollow(e.as("admin@fabrikam.test")), poll); p.status != http.StatusNotFound {
		t.Errorf("Fabrikam polls Contoso's job: %d", p.status)
	}
}

func TestLinesRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		lines []int
		text  string
	}{
		{nil, ""},
		{[]int{2}, "2"},
		{[]int{2, 3, 4, 5}, "2-5"},
		{[]int{2, 4, 5, 6, 9}, "2,4-6,9"},
	} {
		if got := formatLines(tc.lines); got != tc.text {
			t.Errorf("formatLines(%v) = %q, want %q", tc.lines, got, tc.text)
		}
		if got, err := parseLines(tc.text); err != nil || fmt.Sprint(got) != fmt.Sprint(tc.lines) && len(got)+len(tc.lines) > 0 {
			t.Errorf("parseLines(%q) = %v, %v", tc.text, got, err)
		}
	}
}

// countingStore counts the store calls a request makes and the rows they
// return; growing names the calls whose cost grows with a job or a tenant
// (they read or count all the matching rows).
type countingStore struct {
	portal.Store
	mu    sync.Mutex
	calls map[string]int
	rows  int
}

var growing = []string{"JobRows", "PlanRows", "ListJobs", "AllItems", "AllNames", "SearchNames", "NamesSince"}

func (c *countingStore) note(call string, rows int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[call]++
	c.rows += rows
}

func (c *countingStore) take() (map[string]int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	calls, rows := c.calls, c.rows
	c.calls, c.rows = nil, 0
	return calls, rows
}

func (c *countingStore) GetJob(ctx context.Context, tenant portal.GUID, id string) (portal.Job, error) {
	c.note("GetJob", 1)
	return c.Store.GetJob(ctx, tenant, id)
}

func (c *countingStore) JobForPlan(ctx context.Context, tenant portal.GUID, id string) (portal.Job, error) {
	c.note("JobForPlan", 1)
	return c.Store.JobForPlan(ctx, tenant, id)
}

func (c *countingStore) ListJobs(ctx context.Context, tenant portal.GUID, limit int) ([]portal.Job, error) {
	jobs, err := c.Store.ListJobs(ctx, tenant, limit)
	c.note("ListJobs", len(jobs))
	return jobs, err
}

func (c *countingStore) JobRows(ctx context.Context, tenant portal.GUID, id string, f portal.JobRowFilter, offset, limit int) ([]portal.JobRow, int, error) {
	rows, n, err := c.Store.JobRows(ctx, tenant, id, f, offset, limit)
	c.note("JobRows", n) // it counts every matching row
	return rows, n, err
}

func (c *countingStore) JobRowsAt(ctx context.Context, tenant portal.GUID, id string, lines []int) ([]portal.JobRow, error) {
	rows, err := c.Store.JobRowsAt(ctx, tenant, id, lines)
	c.note("JobRowsAt", len(rows))
	return rows, err
}

func (c *countingStore) GetPlan(ctx context.Context, tenant portal.GUID, id string) (portal.Plan, error) {
	c.note("GetPlan", 1)
	return c.Store.GetPlan(ctx, tenant, id)
}

func (c *countingStore) PlanRows(ctx context.Context, tenant portal.GUID, id string, class portal.PlanClass, offset, limit int) ([]portal.PlanRow, int, error) {
	rows, n, err := c.Store.PlanRows(ctx, tenant, id, class, offset, limit)
	c.note("PlanRows", n)
	return rows, n, err
}

func (c *countingStore) Names(ctx context.Context, tenant portal.GUID, space portal.NameSpace, ids []portal.GUID) (map[portal.GUID]portal.DirectoryName, error) {
	names, err := c.Store.Names(ctx, tenant, space, ids)
	c.note("Names", len(names))
	return names, err
}

func (c *countingStore) AllNames(ctx context.Context, tenant portal.GUID, space portal.NameSpace, fn func(portal.DirectoryName) error) error {
	c.note("AllNames", 0)
	return c.Store.AllNames(ctx, tenant, space, fn)
}

func (c *countingStore) SearchNames(ctx context.Context, tenant portal.GUID, space portal.NameSpace, q string, limit int) ([]portal.DirectoryName, error) {
	names, err := c.Store.SearchNames(ctx, tenant, space, q, limit)
	c.note("SearchNames", len(names))
	return names, err
}

func (c *countingStore) NamesSince(ctx context.Context, tenant portal.GUID, after int64, fn func(portal.DirectoryName) error) (int64, error) {
	c.note("NamesSince", 0)
	return c.Store.NamesSince(ctx, tenant, after, fn)
}

func (c *countingStore) GetItem(ctx context.Context, tenant, object portal.GUID) (portal.InventoryItem, error) {
	c.note("GetItem", 1)
	return c.Store.GetItem(ctx, tenant, object)
}

func (c *countingStore) GetItems(ctx context.Context, tenant portal.GUID, ids []portal.GUID) (map[portal.GUID]portal.InventoryItem, error) {
	items, err := c.Store.GetItems(ctx, tenant, ids)
	c.note("GetItems", len(items))
	return items, err
}

func (c *countingStore) AllItems(ctx context.Context, tenant portal.GUID, fn func(portal.InventoryItem) error) error {
	c.note("AllItems", 0)
	return c.Store.AllItems(ctx, tenant, fn)
}

// A poll of a job's progress costs the same for a job of 50,000 rows as
// for one of 50 (issue #13): the same store calls, none that reads or
// counts all of a job's rows (JobRows, PlanRows, …), and the same rows
// read, a page at most. (That each call is an index lookup by key on
// SQLite: internal/sqlite's TestJobPollReadsByIndex.)
func TestJobProgressPollCostsTheSameForAnySize(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	admin := noFollow(e.as("admin@contoso.test"))
	ctx := context.Background()
	who := access.Who{User: portal.User{TenantID: devidp.ContosoTenant, ObjectID: portal.MustParseGUID("369f18b8-e505-4795-b1cf-e40cfc95f82e"),
		Name: "Adele Admin", Roles: []portal.Role{portal.RoleAdmin}}}
	counting := &countingStore{Store: e.db}
	cfg := e.accessCfg
	cfg.Store = counting
	e.server.deps.Access = access.New(cfg)

	type cost struct {
		calls map[string]int
		rows  int
	}
	costs := map[int]cost{}
	for _, n := range []int{50, 50_000} {
		plan := portal.Plan{ID: fmt.Sprintf("plan-%d", n), TenantID: devidp.ContosoTenant, CreatedBy: portal.ActorOf(who.User), CreatedAt: e.clock.Now(),
			FileName: "agents.csv", Totals: map[portal.PlanClass]int{portal.PlanCreate: n}}
		rows := make([]portal.PlanRow, n)
		for i := range rows {
			rows[i] = portal.PlanRow{Line: i + 2, Class: portal.PlanCreate, Kind: portal.KindUser, ClientIDs: []portal.GUID{appDesktop},
				ObjectID: portal.MustParseGUID(fmt.Sprintf("%08x-0000-4000-8000-%012x", n, i+1))}
		}
		if err := e.db.SavePlan(ctx, plan, rows); err != nil {
			t.Fatal(err)
		}
		job, err := e.access.StartJob(ctx, who, plan.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		// Some rows done, some in flight, the rest waiting.
		if _, ok, err := e.db.ClaimJob(ctx, "i1", e.clock.Now()); !ok || err != nil {
			t.Fatalf("ClaimJob: %v %v", ok, err)
		}
		claimed, err := e.db.ClaimRows(ctx, job.ID, "i1", 20)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range claimed[:10] {
			if err := e.db.FinishRow(ctx, job.ID, "i1", r.Line, portal.RowResult{Outcome: portal.OutcomeSuccess, At: e.clock.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		poll := e.get(admin, "/bulk/jobs/"+job.ID).attr("job-live", "hx-get")
		if poll != "/bulk/jobs/"+job.ID+"/progress?lines="+map[int]string{50: "2-51", 50_000: "2-101"}[n] {
			t.Fatalf("%d rows: the page polls %q", n, poll)
		}
		counting.take()
		p := e.hxGet(admin, "/bulk/jobs/"+job.ID+"/progress?lines=2-51")
		calls, read := counting.take()
		if done, _ := p.testid("job-done"); p.status != 200 || done != "10" || len(rowResults(p)) != 50 {
			t.Fatalf("%d rows: poll %d, %q done, %d rows shown", n, p.status, done, len(rowResults(p)))
		}
		for _, g := range growing {
			if calls[g] > 0 {
				t.Errorf("%d rows: the poll calls %s, which reads all of the job's (or tenant's) rows", n, g)
			}
		}
		costs[n] = cost{calls, read}
		t.Logf("%d rows: the poll made %v and read %d rows", n, calls, read)
	}
	small, large := costs[50], costs[50_000]
	if !maps.Equal(small.calls, large.calls) || small.rows != large.rows || large.rows > 50+2 {
		t.Errorf("a poll of 50 rows: %v, %d rows read; of 50,000: %v, %d rows read", small.calls, small.rows, large.calls, large.rows)
	}
}

// A plan that revokes reads and looks destructive: who loses access now,
// by name (and number) for a small plan, how many people and resource
// accounts for a large one; its apply button is the danger one. A plan
// of grants is not. The fresh sign-in a plan with revokes asks for holds.
func TestDestructivePlansSaySo(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	_, emu := e.withGraph()
	withNamedDirectory(emu)
	e.seedInventory(devidp.ContosoTenant, alice, "user", appDesktop)
	e.seedInventory(devidp.ContosoTenant, room, "teamsResourceAccount")
	admin := noFollow(e.as("admin@contoso.test"))

	plan := e.upload(admin, "leavers.csv", []byte("objectId,kind,clientIds,action\n"+alice.String()+",,,revoke\n"+room.String()+",,,revoke\n"+
		carolID.String()+",user,"+appDesktop.String()+",grant\n")).header.Get("Location")
	p := e.get(admin, plan)
	if who, _ := p.testid("plan-loss-who"); who != "Alice Smith and Main line ("+mainLineNo+") lose access now." {
		t.Errorf("the plan says %q", who)
	}
	if how, _ := p.testid("plan-loss"); !strings.Contains(how, "tokens are revoked at once") || !strings.Contains(how, "lose server consent") {
		t.Errorf("the plan explains %q", how)
	}
	if class, label := p.attr("apply-submit", "class"), mustTestID(t, p, "apply-submit"); !strings.Contains(class, "button-danger") || label != "Apply 3 change(s), 2 revoke(s)" {
		t.Errorf("the apply button: %q %q", class, label)
	}
	if !strings.Contains(p.body, "<title>Plan: Alice Smith and Main line") {
		t.Error("the page's title does not say who loses access")
	}
	// Names first in its rows, the ID beneath.
	if names := p.testids("principal-name"); len(names) != 3 || names[0] != "Alice Smith" || names[1] != "Main line" {
		t.Errorf("the rows name %q", names)
	}
	if changes := p.testids("plan-change"); strings.Join(changes, ",") != "Revoke,Revoke,Grant" {
		t.Errorf("the rows' changes: %q", changes)
	}

	// A plan of grants alone is not destructive.
	grants := e.upload(admin, "new.csv", []byte("objectId,kind,clientIds\n"+carolID.String()+",user,"+appDesktop.String()+"\n")).header.Get("Location")
	if p := e.get(admin, grants); has(p, "plan-loss") || !strings.Contains(p.attr("apply-submit", "class"), "button-primary") {
		t.Errorf("a plan of grants: loss %v, button %q", has(p, "plan-loss"), p.attr("apply-submit", "class"))
	}

	// Larger plans count: people, and resource accounts.
	var file strings.Builder
	file.WriteString("objectId,kind,clientIds,action\n")
	for i := range 11 {
		id := portal.MustParseGUID(fmt.Sprintf("5a5a5a5a-0000-4000-8000-%012x", i+1))
		e.seedInventory(devidp.ContosoTenant, id, "user", appDesktop)
		fmt.Fprintf(&file, "%s,,,revoke\n", id)
	}
	big := e.upload(admin, "many.csv", []byte(file.String())).header.Get("Location")
	if who, _ := e.get(admin, big).testid("plan-loss-who"); who != "11 people lose access now." {
		t.Errorf("11 revokes: %q", who)
	}
	file.WriteString(room.String() + ",,,revoke\n")
	big = e.upload(admin, "many.csv", []byte(file.String())).header.Get("Location")
	if who, _ := e.get(admin, big).testid("plan-loss-who"); who != "11 people and 1 resource account lose access now." {
		t.Errorf("12 revokes: %q", who)
	}

	// Signed in too long ago: the apply form asks for a fresh sign-in
	// first, and an apply sent anyway is refused, nothing queued.
	e.clock.Add(testFreshSignIn + time.Minute)
	p = e.get(admin, plan)
	if !has(p, "fresh-signin") || has(p, "apply-submit") {
		t.Error("a stale sign-in is not asked to sign in again")
	}
	if r := e.post(admin, plan+"/apply", url.Values{"justification": {"leavers"}, "ids_checked": {"yes"}}); r.status != http.StatusForbidden || e.writes() != 0 {
		t.Errorf("a stale apply: %d, %d ACS writes", r.status, e.writes())
	}
}

func mustTestID(t *testing.T, p page, id string) string {
	t.Helper()
	s, ok := p.testid(id)
	if !ok {
		t.Fatalf("no %s on %s", id, p.url)
	}
	return strings.TrimSpace(s)
}

// Object IDs a plan's grants name that the directory does not have are
// listed before it is applied, never found apart from gone (with the name
// the portal knew), and the plan is applied only once the person confirms
// they checked them: refused (422, with the reason beside the box) and
// nothing queued otherwise. When the directory cannot be asked, nothing is
// flagged, and the plan says the IDs were not checked.
func TestPlanAsksToConfirmIDsNotInTheDirectory(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	_, emu := e.withGraph()
	admin := noFollow(e.as("admin@contoso.test"))
	dana := portal.MustParseGUID("9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c05")
	typo := portal.MustParseGUID("9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c06")
	emu.AddUser(devidp.ContosoTenant, graphemu.User{ID: dana, DisplayName: "Dana Park", UserPrincipalName: "dana@contoso.test"})
	// The portal comes to know Dana; then she leaves.
	if p := e.get(admin, e.upload(admin, "dana.csv", []byte("objectId,kind,clientIds\n"+dana.String()+",user,"+appDesktop.String()+"\n")).header.Get("Location")); has(p, "plan-directory") {
		t.Errorf("Dana, in the directory, is flagged: %s", mustTestID(t, p, "plan-directory"))
	}
	emu.DeleteUser(devidp.ContosoTenant, dana)

	plan := e.upload(admin, "wave4.csv", []byte("objectId,kind,clientIds,label\n"+alice.String()+",user,"+appDesktop.String()+",Alice\n"+
		dana.String()+",user,"+appDesktop.String()+",Dana\n"+typo.String()+",user,"+appDesktop.String()+",Dana (typo)\n")).header.Get("Location")
	p := e.get(admin, plan)
	box := mustTestID(t, p, "plan-directory")
	if !strings.Contains(box, "2 object IDs are not in the directory") {
		t.Errorf("the plan says %q", box)
	}
	flagged := p.testids("plan-flagged-id")
	if len(flagged) != 2 || !strings.Contains(flagged[0], "Line 3: "+dana.String()+" (Dana) — Was in the directory as Dana Park (dana@contoso.test), now gone") ||
		!strings.Contains(flagged[1], "Line 4: "+typo.String()+" (Dana (typo)) — Not in the directory, and never seen by the portal") {
		t.Errorf("flagged: %q", flagged)
	}
	// In the rows: Alice by name; Dana by the name she had, flagged gone.
	if names := p.testids("principal-name"); len(names) != 2 || names[0] != "Alice Smith" || names[1] != "Dana Park" {
		t.Errorf("the rows name %q", names)
	}
	if flags := p.testids("plan-row-flag"); len(flags) != 2 {
		t.Errorf("rows flagged: %q", flags)
	}
	if p.hasAttr("ids-checked", "checked") || !p.hasAttr("ids-checked", "required") {
		t.Error("the confirmation is ticked already, or not required")
	}
	if label := mustTestID(t, p, "plan-apply"); !strings.Contains(label, "I checked these 2 object IDs: grant access to them anyway") {
		t.Errorf("the apply form: %q", label)
	}

	// Unconfirmed: refused, with what was typed, nothing queued.
	audit := e.auditRows()
	r := e.post(admin, plan+"/apply", url.Values{"justification": {"wave 4"}})
	if problem, _ := r.testid("form-problem"); r.status != http.StatusUnprocessableEntity ||
		!strings.Contains(problem, "2 object IDs the directory does not have (1 never found, 1 gone since the portal saw them)") || !strings.Contains(problem, "Nothing was changed") {
		t.Errorf("unconfirmed: %d %q", r.status, problem)
	}
	if msg, _ := r.testid("ids_checked-error"); msg == "" || r.attr("ids-checked", "aria-invalid") != "true" || !strings.Contains(r.body, "wave 4") {
		t.Errorf("unconfirmed: no message beside the box (%q), or the justification lost", msg)
	}
	if e.writes() != 0 || e.auditRows() != audit || has(e.get(admin, plan), "plan-job-link") {
		t.Error("an unconfirmed apply changed something")
	}
	// Confirmed: applied, and the audit log says it was confirmed.
	r = e.post(admin, plan+"/apply", url.Values{"justification": {"wave 4"}, "ids_checked": {"yes"}})
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/bulk/jobs/") {
		t.Fatalf("confirmed: %d %s", r.status, r.body)
	}
	events, err := e.db.ListAudit(context.Background(), portal.AuditFilter{TenantID: devidp.ContosoTenant, Action: portal.ActionBulk, Limit: 1})
	if err != nil || len(events.Events) != 1 || !strings.Contains(events.Events[0].Detail, "2 object IDs not in the directory confirmed as checked") {
		t.Errorf("the job's audit row: %+v, %v", events, err)
	}
	// The job's rows name people too, and say what was done.
	e.runJobs()
	job := e.get(admin, r.header.Get("Location"))
	if names := job.testids("principal-name"); len(names) != 2 || names[0] != "Alice Smith" || names[1] != "Dana Park" {
		t.Errorf("the job's rows name %q", names)
	}
	if want := map[string]string{"2": "Granted", "3": "Granted", "4": "Granted"}; !maps.Equal(rowResults(job), want) {
		t.Errorf("the job's rows: %v", rowResults(job))
	}
	if apps := job.testids("apps"); len(apps) != 3 || !strings.Contains(apps[0], "Contoso Agent Desktop") {
		t.Errorf("the job's apps: %q", apps)
	}

	// Graph down: nothing flagged, the plan says the IDs were not checked,
	// and applying asks nothing more.
	emu.SetRates(acsemu.Rates{Unavailable: 1})
	other := portal.MustParseGUID("9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c07")
	plan = e.upload(admin, "wave5.csv", []byte("objectId,kind,clientIds\n"+other.String()+",user,"+appDesktop.String()+"\n")).header.Get("Location")
	p = e.get(admin, plan)
	if unknown, _ := p.testid("plan-directory-unknown"); has(p, "plan-directory") || has(p, "ids-checked") || !strings.Contains(unknown, "could not be asked about 1 object ID") {
		t.Errorf("Graph down: flagged %v, says %q", has(p, "plan-directory"), unknown)
	}
	emu.SetRates(acsemu.Rates{})
	if r := e.post(admin, plan+"/apply", url.Values{}); r.status != http.StatusSeeOther {
		t.Errorf("applying a plan Graph could not check: %d", r.status)
	}
}

// A plan that revokes and grants to an ID the directory lacks asks for
// both: the fresh sign-in keeps the confirmation, and the plan is applied
// when the person is back.
func TestFreshSignInKeepsTheIDsConfirmed(t *testing.T) {
	e, c := staleAdmin(t)
	e.withGraph()
	typo := portal.MustParseGUID("9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c06")
	planURL := e.upload(noFollow(c), "leavers.csv", []byte("objectId,kind,clientIds,action\n"+alice.String()+",,,revoke\n"+
		typo.String()+",user,"+appDesktop.String()+",grant\n")).header.Get("Location")
	p := e.get(c, planURL)
	if !has(p, "fresh-signin") || !has(p, "ids-checked") {
		t.Fatalf("the plan asks for: fresh sign-in %v, the IDs confirmed %v", has(p, "fresh-signin"), has(p, "ids-checked"))
	}
	cb := e.freshSignIn(c, p, "apply-form", url.Values{"justification": {"leavers of May"}, "ids_checked": {"yes"}})
	back := e.get(c, cb.String())
	if back.url.Path != planURL || !back.hasAttr("ids-checked", "checked") || has(back, "fresh-signin") || !strings.Contains(back.body, "leavers of May") {
		t.Fatalf("back at %s: ticked %v, fresh %v", back.url, back.hasAttr("ids-checked", "checked"), has(back, "fresh-signin"))
	}
	if r := e.submit(noFollow(c), back, "apply-form", nil); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/bulk/jobs/") {
		t.Errorf("apply after the sign-in: %d %s", r.status, r.body)
	}
}
