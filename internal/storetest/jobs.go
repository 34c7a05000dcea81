package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// savePlan stores a plan of tenant with one row per class given, lines 2,
// 3, … in order.
func (f *fixture) savePlan(t testing.TB, tenant portal.GUID, id string, classes ...portal.PlanClass) portal.Plan {
	t.Helper()
	p := portal.Plan{ID: id, TenantID: tenant, CreatedBy: alice, CreatedAt: t0, FileName: "agents.csv", Totals: map[portal.PlanClass]int{}}
	var rows []portal.PlanRow
	for i, c := range classes {
		r := portal.PlanRow{Line: i + 2, Class: c, ObjectID: id2(id, i), Kind: portal.KindUser, ClientIDs: ids("app")}
		if c == portal.PlanInvalid {
			r.Reason, r.Column = "not a GUID", "objectId"
		}
		p.Totals[c]++
		rows = append(rows, r)
	}
	if err := f.SavePlan(f.ctx, p, rows); err != nil {
		t.Fatalf("SavePlan: %v", err)
	}
	return p
}

func id2(plan string, i int) portal.GUID { return id(plan + string(rune('a'+i))) }

func (f *fixture) newJob(t testing.TB, p portal.Plan) portal.Job {
	t.Helper()
	j, err := f.CreateJob(f.ctx, portal.Job{ID: "job-" + p.ID, PlanID: p.ID, TenantID: p.TenantID, CreatedBy: alice, Roles: []portal.Role{portal.RoleAdmin}, ClientIP: "192.0.2.10",
		Justification: "onboarding", CreatedAt: f.clock.Now()})
	if err != nil {
		t.Fatalf("CreateJob: %v", err)
	}
	return j
}

func lines(rows []portal.JobRow) []int {
	var out []int
	for _, r := range rows {
		out = append(out, r.Line)
	}
	return out
}

func sameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testPlans(t *testing.T, f *fixture) {
	p := f.savePlan(t, tenantA, "p1", portal.PlanCreate, portal.PlanInvalid, portal.PlanUpdate)
	got, err := f.GetPlan(f.ctx, tenantA, "p1")
	if err != nil || got.FileName != "agents.csv" || got.Totals[portal.PlanCreate] != 1 || got.Actionable() != 2 {
		t.Fatalf("GetPlan = %+v, %v", got, err)
	}
	if _, err := f.GetPlan(f.ctx, tenantB, p.ID); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("another tenant's plan: %v, want not found", err)
	}
	rows, n, err := f.PlanRows(f.ctx, tenantA, p.ID, portal.PlanInvalid, 0, 10)
	if err != nil || n != 1 || len(rows) != 1 || rows[0].Line != 3 || rows[0].Reason != "not a GUID" {
		t.Fatalf("PlanRows(invalid) = %+v, %d, %v", rows, n, err)
	}
	if got.Checks.Directory.Asked != 0 || got.FlaggedGrants() != 0 {
		t.Errorf("a plan saved without checks reads %+v", got.Checks)
	}

	// What planning found out is kept with the plan, and each row's
	// presence in the directory with the row.
	checked := portal.Plan{ID: "p2", TenantID: tenantA, CreatedBy: alice, CreatedAt: t0, FileName: "checked.csv",
		Totals: map[portal.PlanClass]int{portal.PlanCreate: 2, portal.PlanRevoke: 1},
		Checks: portal.PlanChecks{RevokedUsers: 1, Directory: portal.PlanDirectory{Asked: 2, NeverFound: 1, Gone: 1, Why: "",
			Flagged: []portal.FlaggedRow{
				{Line: 2, ObjectID: id("typo"), Presence: portal.PresenceNeverFound, Label: `<b>"Agent"</b>`},
				{Line: 3, ObjectID: id("left"), Presence: portal.PresenceGone, Name: "Chen Wei", UPN: "chen@contoso.test"},
			}}}}
	if err := f.SavePlan(f.ctx, checked, []portal.PlanRow{
		{Line: 2, Class: portal.PlanCreate, ObjectID: id("typo"), Kind: portal.KindUser, Directory: portal.PresenceNeverFound},
		{Line: 3, Class: portal.PlanCreate, ObjectID: id("left"), Kind: portal.KindUser, Directory: portal.PresenceGone},
		{Line: 4, Class: portal.PlanRevoke, ObjectID: id("gone"), Kind: portal.KindUser},
	}); err != nil {
		t.Fatalf("SavePlan: %v", err)
	}
	got, err = f.GetPlan(f.ctx, tenantA, "p2")
	if err != nil || !reflect.DeepEqual(got.Checks, checked.Checks) || got.FlaggedGrants() != 2 {
		t.Fatalf("GetPlan = %+v, %v; want the checks %+v", got.Checks, err, checked.Checks)
	}
	rows, _, err = f.PlanRows(f.ctx, tenantA, "p2", "", 0, 10)
	if err != nil || len(rows) != 3 || rows[0].Directory != portal.PresenceNeverFound || rows[1].Directory != portal.PresenceGone || rows[2].Directory != "" {
		t.Fatalf("PlanRows = %+v, %v", rows, err)
	}
}

func testJobLifecycle(t *testing.T, f *fixture) {
	p := f.savePlan(t, tenantA, "p1", portal.PlanCreate, portal.PlanUnchanged, portal.PlanUpdate, portal.PlanRevoke, portal.PlanInvalid, portal.PlanCreate)
	j := f.newJob(t, p)
	if j.State != portal.JobQueued || j.Total != 4 || j.Pending != 4 || j.Done() != 0 || !j.Who().Has(portal.RoleAdmin) || j.CreatedBy != alice {
		t.Fatalf("new job = %+v; want queued with 4 pending rows", j)
	}
	if again, err := f.CreateJob(f.ctx, portal.Job{ID: "other", PlanID: p.ID, TenantID: tenantA, CreatedAt: t0}); portal.ErrorCode(err) != portal.ECONFLICT || again.ID != j.ID {
		t.Errorf("second job for a plan = %q, %v; want conflict naming %q", again.ID, err, j.ID)
	}
	if _, err := f.CreateJob(f.ctx, portal.Job{ID: "foreign", PlanID: p.ID, TenantID: tenantB, CreatedAt: t0}); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("a job for another tenant's plan: %v, want not found", err)
	}
	if got, err := f.JobForPlan(f.ctx, tenantA, p.ID); err != nil || got.ID != j.ID {
		t.Errorf("JobForPlan = %+v, %v", got, err)
	}
	if _, err := f.JobForPlan(f.ctx, tenantB, p.ID); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("JobForPlan(other tenant): %v, want not found", err)
	}
	if _, err := f.GetJob(f.ctx, tenantB, j.ID); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("another tenant's job: %v, want not found", err)
	}

	claimed, ok, err := f.ClaimJob(f.ctx, "i1", t0)
	if err != nil || !ok || claimed.ID != j.ID || claimed.State != portal.JobRunning || claimed.Holder != "i1" || !claimed.StartedAt.Equal(t0) {
		t.Fatalf("ClaimJob = %+v, %v, %v", claimed, ok, err)
	}
	if _, ok, err := f.ClaimJob(f.ctx, "i2", t0); ok || err != nil {
		t.Fatalf("a second ClaimJob took a running job (%v, %v)", ok, err)
	}
	if rows, err := f.ClaimRows(f.ctx, j.ID, "i2", 10); portal.ErrorCode(err) != portal.ECONFLICT || len(rows) != 0 {
		t.Fatalf("another instance claimed rows: %v, %v; want conflict", lines(rows), err)
	}
	rows, err := f.ClaimRows(f.ctx, j.ID, "i1", 2)
	if err != nil || !sameInts(lines(rows), []int{2, 4}) || rows[0].Attempts != 1 || rows[0].Class != portal.PlanCreate || rows[1].Class != portal.PlanUpdate {
		t.Fatalf("ClaimRows = %+v, %v; want lines 2 and 4, first attempt", rows, err)
	}
	if j, _ = f.GetJob(f.ctx, tenantA, j.ID); j.InFlight != 2 || j.Pending != 2 {
		t.Errorf("counts after claiming = %+v", j)
	}
	at := t0.Add(time.Second)
	if err := f.FinishRow(f.ctx, j.ID, "i1", 2, portal.RowResult{Outcome: portal.OutcomeSuccess, Detail: "created", RequestID: "r1", At: at}); err != nil {
		t.Fatal(err)
	}
	if err := f.FinishRow(f.ctx, j.ID, "i1", 4, portal.RowResult{Outcome: portal.OutcomeFailed, Retry: true, At: at}); err != nil {
		t.Fatal(err)
	}
	// Another instance cannot record an outcome for a job it does not run.
	if err := f.FinishRow(f.ctx, j.ID, "i2", 5, portal.RowResult{Outcome: portal.OutcomeSuccess, At: at}); portal.ErrorCode(err) != portal.ECONFLICT {
		t.Fatalf("FinishRow by another instance: %v, want conflict", err)
	}
	rows, err = f.ClaimRows(f.ctx, j.ID, "i1", 10)
	if err != nil || !sameInts(lines(rows), []int{4, 5, 7}) || rows[0].Attempts != 2 || rows[1].Attempts != 1 {
		t.Fatalf("ClaimRows after a retry = %+v, %v; want 4 (second attempt), 5, 7", rows, err)
	}

	// A cancel reaches the holder through its heartbeat.
	if cancel, err := f.Heartbeat(f.ctx, j.ID, "i1", at); err != nil || cancel {
		t.Fatalf("Heartbeat = %v, %v", cancel, err)
	}
	if _, err := f.Heartbeat(f.ctx, j.ID, "i2", at); portal.ErrorCode(err) != portal.ECONFLICT {
		t.Errorf("a heartbeat from a non-holder: %v, want conflict", err)
	}
	if c, err := f.CancelJob(f.ctx, tenantA, j.ID, at); err != nil || !c.CancelRequested || c.State != portal.JobRunning {
		t.Fatalf("CancelJob(running) = %+v, %v", c, err)
	}
	if cancel, err := f.Heartbeat(f.ctx, j.ID, "i1", at); err != nil || !cancel {
		t.Fatalf("Heartbeat after cancel = %v, %v; want cancel", cancel, err)
	}
	for _, line := range []int{4, 5} {
		f.FinishRow(f.ctx, j.ID, "i1", line, portal.RowResult{Outcome: portal.OutcomeSuccess, At: at})
	}
	if err := f.ReleaseJob(f.ctx, j.ID, "i1", portal.JobCancelled, at); err != nil {
		t.Fatal(err)
	}
	j, _ = f.GetJob(f.ctx, tenantA, j.ID)
	if j.State != portal.JobCancelled || !j.FinishedAt.Equal(at) || j.Pending != 1 || j.InFlight != 0 || j.Outcomes[portal.OutcomeSuccess] != 3 {
		t.Errorf("cancelled job = %+v; want line 7 pending again, three successes", j)
	}
	if _, err := f.ResumeJob(f.ctx, tenantA, j.ID); portal.ErrorCode(err) != portal.EINVALID {
		t.Errorf("resuming a cancelled job: %v, want invalid", err)
	}
	if _, err := f.CancelJob(f.ctx, tenantA, j.ID, at); portal.ErrorCode(err) != portal.EINVALID {
		t.Errorf("cancelling a cancelled job: %v, want invalid", err)
	}

	// Results: every plan row in line order, the job's with their outcome.
	res, n, err := f.JobRows(f.ctx, tenantA, j.ID, "", 0, 100)
	if err != nil || n != 6 || !sameInts(lines(res), []int{2, 3, 4, 5, 6, 7}) {
		t.Fatalf("JobRows = %v, %d, %v", lines(res), n, err)
	}
	// Rows finished at t0+1s (three) count; none earlier.
	if j.Recent != 3 || j.RecentSpan != 0 {
		t.Errorf("recent rows = %d over %v, want 3 over 0", j.Recent, j.RecentSpan)
	}
	if res[0].Outcome != portal.OutcomeSuccess || res[0].Detail != "created" || res[0].RequestID != "r1" || !res[0].FinishedAt.Equal(at) || res[1].Status != "" {
		t.Errorf("JobRows rows = %+v, %+v", res[0], res[1])
	}
	for _, tc := range []struct {
		f    portal.JobRowFilter
		want []int
	}{
		{"skipped", []int{3, 6}},
		{portal.JobRowFilter(portal.RowPending), []int{7}},
		{portal.JobRowFilter(portal.OutcomeSuccess), []int{2, 4, 5}},
	} {
		got, n, err := f.JobRows(f.ctx, tenantA, j.ID, tc.f, 0, 100)
		if err != nil || n != len(tc.want) || !sameInts(lines(got), tc.want) {
			t.Errorf("JobRows(%q) = %v (%d), %v; want %v", tc.f, lines(got), n, err, tc.want)
		}
	}
	if _, _, err := f.JobRows(f.ctx, tenantB, j.ID, "", 0, 100); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("another tenant's job rows: %v, want not found", err)
	}
}

func testJobInterrupted(t *testing.T, f *fixture) {
	p := f.savePlan(t, tenantA, "p1", portal.PlanCreate, portal.PlanCreate, portal.PlanCreate)
	j := f.newJob(t, p)
	if _, _, err := f.ClaimJob(f.ctx, "i1", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ClaimRows(f.ctx, j.ID, "i1", 2); err != nil {
		t.Fatal(err)
	}
	f.FinishRow(f.ctx, j.ID, "i1", 2, portal.RowResult{Outcome: portal.OutcomeSuccess, At: t0})
	// i1 dies with line 3 running. A heartbeat is not stale until it is
	// older than the time given.
	if n, err := f.InterruptStale(f.ctx, t0); err != nil || n != 0 {
		t.Fatalf("InterruptStale(heartbeat time) = %d, %v; want 0", n, err)
	}
	if _, err := f.ResumeJob(f.ctx, tenantA, j.ID); portal.ErrorCode(err) != portal.EINVALID {
		t.Errorf("resuming a running job: %v, want invalid", err)
	}
	if n, err := f.InterruptStale(f.ctx, t0.Add(time.Millisecond)); err != nil || n != 1 {
		t.Fatalf("InterruptStale = %d, %v; want 1", n, err)
	}
	j, _ = f.GetJob(f.ctx, tenantA, j.ID)
	if j.State != portal.JobInterrupted || j.InFlight != 1 || j.Holder != "" {
		t.Fatalf("interrupted job = %+v; want line 3 still shown running", j)
	}
	// The lost instance can no longer renew or record anything.
	if _, err := f.Heartbeat(f.ctx, j.ID, "i1", t0); portal.ErrorCode(err) != portal.ECONFLICT {
		t.Errorf("heartbeat of an interrupted job: %v, want conflict", err)
	}
	if _, err := f.ClaimRows(f.ctx, j.ID, "i1", 5); portal.ErrorCode(err) != portal.ECONFLICT {
		t.Errorf("rows claimed for an interrupted job: %v, want conflict", err)
	}
	if err := f.FinishRow(f.ctx, j.ID, "i1", 3, portal.RowResult{Outcome: portal.OutcomeSuccess, At: t0}); portal.ErrorCode(err) != portal.ECONFLICT {
		t.Errorf("an outcome recorded for an interrupted job: %v, want conflict", err)
	}
	if j, err := f.ResumeJob(f.ctx, tenantA, j.ID); err != nil || j.State != portal.JobQueued || j.Pending != 2 || j.InFlight != 0 {
		t.Fatalf("ResumeJob = %+v, %v; want queued, the running row pending", j, err)
	}
	if _, _, err := f.ClaimJob(f.ctx, "i2", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	rows, err := f.ClaimRows(f.ctx, j.ID, "i2", 5)
	if err != nil || !sameInts(lines(rows), []int{3, 4}) || rows[0].Attempts != 2 || rows[1].Attempts != 1 {
		t.Fatalf("rows after resuming = %+v, %v; want line 3 on its second attempt (to be settled), then 4", rows, err)
	}
	// The old holder's late outcome for line 3 is not recorded: the new
	// holder settles it.
	if err := f.FinishRow(f.ctx, j.ID, "i1", 3, portal.RowResult{Outcome: portal.OutcomeFailed, At: t0}); portal.ErrorCode(err) != portal.ECONFLICT {
		t.Errorf("a stale holder's outcome: %v, want conflict", err)
	}
	if got, _, _ := f.JobRows(f.ctx, tenantA, j.ID, portal.JobRowFilter(portal.RowRunning), 0, 10); !sameInts(lines(got), []int{3, 4}) {
		t.Errorf("running rows = %v; want 3 and 4 (a stale holder's write ignored)", lines(got))
	}
	for _, line := range []int{3, 4} {
		f.FinishRow(f.ctx, j.ID, "i2", line, portal.RowResult{Outcome: portal.OutcomeSuccess, At: t0})
	}
	if err := f.ReleaseJob(f.ctx, j.ID, "i2", portal.JobDone, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := f.ReleaseJob(f.ctx, j.ID, "i2", portal.JobDone, t0.Add(time.Minute)); portal.ErrorCode(err) != portal.ECONFLICT {
		t.Errorf("releasing twice: %v, want conflict", err)
	}
	j, _ = f.GetJob(f.ctx, tenantA, j.ID)
	// All three finished at t0: within one window, over no time.
	if j.Recent != 3 || j.RecentSpan != 0 {
		t.Errorf("recent rows = %d over %v, want 3 over 0", j.Recent, j.RecentSpan)
	}
	if j.State != portal.JobDone || j.Done() != 3 || j.Outcomes[portal.OutcomeSuccess] != 3 {
		t.Errorf("finished job = %+v", j)
	}
	if list, err := f.ListJobs(f.ctx, tenantA, 10); err != nil || len(list) != 1 || list[0].ID != j.ID || list[0].Done() != 3 {
		t.Errorf("ListJobs = %+v, %v", list, err)
	}
	if list, err := f.ListJobs(f.ctx, tenantB, 10); err != nil || len(list) != 0 {
		t.Errorf("ListJobs(other tenant) = %+v, %v", list, err)
	}
}

func testJobQueueOrder(t *testing.T, f *fixture) {
	f.clock.Set(t0)
	first := f.newJob(t, f.savePlan(t, tenantA, "p1", portal.PlanCreate))
	f.clock.Set(t0.Add(time.Second))
	second := f.newJob(t, f.savePlan(t, tenantB, "p2", portal.PlanCreate))
	if c, err := f.CancelJob(f.ctx, tenantA, first.ID, t0); err != nil || c.State != portal.JobCancelled {
		t.Fatalf("cancelling a queued job = %+v, %v; want cancelled at once", c, err)
	}
	got, ok, err := f.ClaimJob(f.ctx, "i1", t0)
	if err != nil || !ok || got.ID != second.ID || got.TenantID != tenantB {
		t.Fatalf("ClaimJob = %+v, %v, %v; want the other tenant's job", got, ok, err)
	}
}

func testJobRate(t *testing.T, f *fixture) {
	j := f.newJob(t, f.savePlan(t, tenantA, "p1", portal.PlanCreate, portal.PlanCreate, portal.PlanCreate, portal.PlanCreate))
	f.ClaimJob(f.ctx, "i1", t0)
	f.ClaimRows(f.ctx, j.ID, "i1", 4)
	// A pause of 40 s (a resume, say) and then a row every 10 s: the rate
	// looks back 30 s from the newest finish.
	for i, at := range []time.Duration{0, 40 * time.Second, 50 * time.Second, 60 * time.Second} {
		f.FinishRow(f.ctx, j.ID, "i1", i+2, portal.RowResult{Outcome: portal.OutcomeSuccess, At: t0.Add(at)})
	}
	j, err := f.GetJob(f.ctx, tenantA, j.ID)
	if err != nil || j.Recent != 3 || j.RecentSpan != 20*time.Second {
		t.Errorf("recent = %d rows over %v (%v), want 3 over 20s", j.Recent, j.RecentSpan, err)
	}
	// The window is of whole seconds: from the second 30 s before the
	// newest finish's, so 30.2 s is in when the newest is at 60.7 s.
	k := f.newJob(t, f.savePlan(t, tenantA, "p2", portal.PlanCreate, portal.PlanCreate, portal.PlanCreate, portal.PlanCreate))
	f.ClaimJob(f.ctx, "i2", t0)
	f.ClaimRows(f.ctx, k.ID, "i2", 4)
	for i, at := range []time.Duration{0, 30200 * time.Millisecond, 45 * time.Second, 60700 * time.Millisecond} {
		f.FinishRow(f.ctx, k.ID, "i2", i+2, portal.RowResult{Outcome: portal.OutcomeSuccess, At: t0.Add(at)})
	}
	k, err = f.GetJob(f.ctx, tenantA, k.ID)
	if err != nil || k.Recent != 3 || k.RecentSpan != 30500*time.Millisecond {
		t.Errorf("recent = %d rows over %v (%v), want 3 over 30.5s", k.Recent, k.RecentSpan, err)
	}
}

// A job released as done while a row lacks its outcome (the write of it
// failed) is interrupted instead, so it can be resumed and the row settled;
// resuming drops a cancel asked of the lost instance.
func testJobReleaseWithOpenRows(t *testing.T, f *fixture) {
	j := f.newJob(t, f.savePlan(t, tenantA, "p1", portal.PlanCreate, portal.PlanCreate))
	f.ClaimJob(f.ctx, "i1", t0)
	f.ClaimRows(f.ctx, j.ID, "i1", 2)
	f.FinishRow(f.ctx, j.ID, "i1", 2, portal.RowResult{Outcome: portal.OutcomeSuccess, At: t0})
	if _, err := f.CancelJob(f.ctx, tenantA, j.ID, t0); err != nil {
		t.Fatal(err)
	}
	if err := f.ReleaseJob(f.ctx, j.ID, "i1", portal.JobDone, t0); err != nil {
		t.Fatal(err)
	}
	j, _ = f.GetJob(f.ctx, tenantA, j.ID)
	if j.State != portal.JobInterrupted || !j.FinishedAt.IsZero() || j.Pending != 1 {
		t.Fatalf("released as done with a row open: %+v; want interrupted, the row pending", j)
	}
	if j, err := f.ResumeJob(f.ctx, tenantA, j.ID); err != nil || j.CancelRequested {
		t.Errorf("resumed = %+v, %v; want the old cancel dropped", j, err)
	}
}

// A pause ACS asked of a running job is kept with it: every reader sees
// it, it outlives the holder (handed back, interrupted, resumed), only the
// holder may record one, and a paused job can still be cancelled.
func testJobPause(t *testing.T, f *fixture) {
	j := f.newJob(t, f.savePlan(t, tenantA, "p1", portal.PlanCreate, portal.PlanCreate))
	if !j.PausedAt.IsZero() || !j.PausedUntil.IsZero() {
		t.Fatalf("a new job is paused: %+v", j)
	}
	at, until := t0.Add(time.Minute), t0.Add(11*time.Minute)
	if err := f.PauseJob(f.ctx, j.ID, "i1", at, until); portal.ErrorCode(err) != portal.ECONFLICT {
		t.Errorf("pausing a queued job: %v, want conflict", err)
	}
	f.ClaimJob(f.ctx, "i1", t0)
	if err := f.PauseJob(f.ctx, j.ID, "i2", at, until); portal.ErrorCode(err) != portal.ECONFLICT {
		t.Errorf("pausing another instance's job: %v, want conflict", err)
	}
	if err := f.PauseJob(f.ctx, j.ID, "i1", at, until); err != nil {
		t.Fatal(err)
	}
	paused := func(what string, j portal.Job) {
		t.Helper()
		if !j.PausedAt.Equal(at) || !j.PausedUntil.Equal(until) {
			t.Errorf("%s: paused %v to %v, want %v to %v", what, j.PausedAt, j.PausedUntil, at, until)
		}
	}
	got, _ := f.GetJob(f.ctx, tenantA, j.ID)
	paused("GetJob", got)
	if list, err := f.ListJobs(f.ctx, tenantA, 10); err != nil || len(list) != 1 {
		t.Fatalf("ListJobs = %+v, %v", list, err)
	} else {
		paused("ListJobs", list[0])
	}
	// Handed back, and taken by another instance: the pause goes with it.
	if err := f.ReleaseJob(f.ctx, j.ID, "i1", portal.JobQueued, t0); err != nil {
		t.Fatal(err)
	}
	got, ok, err := f.ClaimJob(f.ctx, "i2", t0.Add(2*time.Minute))
	if err != nil || !ok {
		t.Fatalf("ClaimJob = %v, %v", ok, err)
	}
	paused("claimed again", got)
	// Interrupted and resumed: still there.
	f.InterruptStale(f.ctx, t0.Add(time.Hour))
	got, err = f.ResumeJob(f.ctx, tenantA, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	paused("resumed", got)
	// Cancelled while paused (queued): at once.
	if got, err := f.CancelJob(f.ctx, tenantA, j.ID, t0.Add(3*time.Minute)); err != nil || got.State != portal.JobCancelled {
		t.Errorf("cancelling a paused job = %+v, %v; want cancelled", got, err)
	}
	// A later pause replaces the earlier one, and a running job asked to
	// cancel while paused hears it at its next heartbeat.
	k := f.newJob(t, f.savePlan(t, tenantA, "p2", portal.PlanCreate))
	f.ClaimJob(f.ctx, "i3", t0)
	f.PauseJob(f.ctx, k.ID, "i3", at, until)
	if err := f.PauseJob(f.ctx, k.ID, "i3", until, until.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.GetJob(f.ctx, tenantA, k.ID); !got.PausedAt.Equal(until) || !got.PausedUntil.Equal(until.Add(time.Hour)) {
		t.Errorf("after a second pause: %v to %v", got.PausedAt, got.PausedUntil)
	}
	if _, err := f.CancelJob(f.ctx, tenantA, k.ID, t0); err != nil {
		t.Fatal(err)
	}
	if cancel, err := f.Heartbeat(f.ctx, k.ID, "i3", t0); err != nil || !cancel {
		t.Errorf("heartbeat of a paused job asked to cancel = %v, %v", cancel, err)
	}
}

// JobRowsAt reads a job's results at the lines asked, as JobRows shows
// them, and nothing of another tenant's job.
func testJobRowsAt(t *testing.T, f *fixture) {
	p := f.savePlan(t, tenantA, "p1", portal.PlanCreate, portal.PlanInvalid, portal.PlanUpdate, portal.PlanCreate, portal.PlanUnchanged)
	j := f.newJob(t, p)
	if _, ok, err := f.ClaimJob(f.ctx, "i1", t0); !ok || err != nil {
		t.Fatalf("ClaimJob: %v, %v", ok, err)
	}
	claimed, err := f.ClaimRows(f.ctx, j.ID, "i1", 2)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("ClaimRows: %+v, %v", claimed, err)
	}
	if err := f.FinishRow(f.ctx, j.ID, "i1", claimed[0].Line, portal.RowResult{Outcome: portal.OutcomeFailed, Detail: "ACS said no", RequestID: "req-1", At: t0}); err != nil {
		t.Fatal(err)
	}
	all, _, err := f.JobRows(f.ctx, tenantA, j.ID, "", 0, -1)
	if err != nil || len(all) != 5 {
		t.Fatalf("JobRows: %+v, %v", all, err)
	}
	byLine := map[int]portal.JobRow{}
	for _, r := range all {
		byLine[r.Line] = r
	}
	// Lines 2 (failed), 3 (invalid: not part of the job), 4 (in flight),
	// 6 (unchanged); 99 is not in the plan; asked out of order and twice.
	got, err := f.JobRowsAt(f.ctx, tenantA, j.ID, []int{6, 2, 99, 4, 3, 2})
	if err != nil || !sameInts(lines(got), []int{2, 3, 4, 6}) {
		t.Fatalf("JobRowsAt = lines %v, %v; want 2, 3, 4, 6", lines(got), err)
	}
	for _, r := range got {
		if !reflect.DeepEqual(r, byLine[r.Line]) {
			t.Errorf("line %d: JobRowsAt %+v, JobRows %+v", r.Line, r, byLine[r.Line])
		}
	}
	if got[0].Outcome != portal.OutcomeFailed || got[0].Detail != "ACS said no" || got[1].Status != "" || got[2].Status != portal.RowRunning {
		t.Errorf("JobRowsAt = %+v", got)
	}
	if got, err := f.JobRowsAt(f.ctx, tenantB, j.ID, []int{2, 3}); err != nil || len(got) != 0 {
		t.Errorf("another tenant's job: %+v, %v", got, err)
	}
	if got, err := f.JobRowsAt(f.ctx, tenantA, "no-such-job", []int{2}); err != nil || len(got) != 0 {
		t.Errorf("no such job: %+v, %v", got, err)
	}
	if got, err := f.JobRowsAt(f.ctx, tenantA, j.ID, nil); err != nil || len(got) != 0 {
		t.Errorf("no lines: %+v, %v", got, err)
	}
}
