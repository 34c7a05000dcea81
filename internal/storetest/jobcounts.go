package storetest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/testclock"
)

// recount is a job's counts and rate as its rows say, read one by one
// through JobRows: what GetJob's counts must equal, however the store
// keeps them.
func (f *fixture) recount(t testing.TB, tenant portal.GUID, id string) portal.Job {
	t.Helper()
	rows, _, err := f.JobRows(f.ctx, tenant, id, "", 0, -1)
	if err != nil {
		t.Fatalf("JobRows: %v", err)
	}
	j := portal.Job{Outcomes: map[portal.AuditOutcome]int{}}
	var finished []time.Time
	for _, r := range rows {
		if r.Status == "" {
			continue // a plan row that is not the job's
		}
		j.CountRows(r.Status, r.Outcome, 1)
		if r.Status == portal.RowDone {
			finished = append(finished, r.FinishedAt)
		}
	}
	j.Recent, j.RecentSpan = recentRate(finished)
	return j
}

// recentRate is portal.Job's Recent and RecentSpan of rows finished at
// these times: those of the whole seconds from JobRateWindow before the
// newest finish's second to it, and the time between the first and last
// of them.
func recentRate(finished []time.Time) (int, time.Duration) {
	if len(finished) == 0 {
		return 0, 0
	}
	newest := slices.MaxFunc(finished, func(a, b time.Time) int { return a.Compare(b) })
	from := newest.Truncate(time.Second).Add(-portal.JobRateWindow)
	var n int
	var first, last time.Time
	for _, at := range finished {
		if at.Before(from) {
			continue
		}
		if n == 0 || at.Before(first) {
			first = at
		}
		if n == 0 || at.After(last) {
			last = at
		}
		n++
	}
	return n, last.Sub(first)
}

// sameCounts fails t unless got's counts and rate are want's.
func sameCounts(t testing.TB, when string, got, want portal.Job) {
	t.Helper()
	nonZero := func(m map[portal.AuditOutcome]int) map[portal.AuditOutcome]int {
		out := map[portal.AuditOutcome]int{}
		for k, v := range m {
			if v != 0 {
				out[k] = v
			}
		}
		return out
	}
	if got.Total != want.Total || got.Pending != want.Pending || got.InFlight != want.InFlight ||
		!maps.Equal(nonZero(got.Outcomes), nonZero(want.Outcomes)) || got.Recent != want.Recent || got.RecentSpan != want.RecentSpan {
		t.Errorf("%s: counts total %d, pending %d, in flight %d, outcomes %v, recent %d over %v;\nthe rows say total %d, pending %d, in flight %d, outcomes %v, recent %d over %v",
			when, got.Total, got.Pending, got.InFlight, nonZero(got.Outcomes), got.Recent, got.RecentSpan,
			want.Total, want.Pending, want.InFlight, nonZero(want.Outcomes), want.Recent, want.RecentSpan)
	}
}

// checkCounts fails t unless the job's counts, as GetJob and ListJobs
// read them, are what its rows say.
func (f *fixture) checkCounts(t *testing.T, tenant portal.GUID, id, when string) portal.Job {
	t.Helper()
	want := f.recount(t, tenant, id)
	j, err := f.GetJob(f.ctx, tenant, id)
	if err != nil {
		t.Fatalf("%s: GetJob: %v", when, err)
	}
	sameCounts(t, when+" (GetJob)", j, want)
	list, err := f.ListJobs(f.ctx, tenant, -1)
	if err != nil {
		t.Fatalf("%s: ListJobs: %v", when, err)
	}
	for _, l := range list {
		if l.ID == id {
			sameCounts(t, when+" (ListJobs)", l, want)
		}
	}
	return j
}

// claimAtOnce runs ClaimRows of n rows from k goroutines at once and
// returns every row taken; no row may be taken twice.
func (f *fixture) claimAtOnce(t *testing.T, id, holder string, k, n int) []portal.JobRow {
	t.Helper()
	var mu sync.Mutex
	var all []portal.JobRow
	var wg sync.WaitGroup
	for range k {
		wg.Go(func() {
			rows, err := f.ClaimRows(f.ctx, id, holder, n)
			if err != nil {
				t.Errorf("ClaimRows: %v", err)
			}
			mu.Lock()
			all = append(all, rows...)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.SortFunc(all, func(a, b portal.JobRow) int { return a.Line - b.Line })
	for i := 1; i < len(all); i++ {
		if all[i].Line == all[i-1].Line {
			t.Fatalf("line %d claimed twice", all[i].Line)
		}
	}
	return all
}

// finishAtOnce records the results of rows from goroutines at once: the
// i-th row gets results[i % len(results)], finished at seconds after t0.
func (f *fixture) finishAtOnce(t *testing.T, id, holder string, rows []portal.JobRow, seconds int, results ...portal.RowResult) {
	t.Helper()
	var wg sync.WaitGroup
	for i, r := range rows {
		res := results[i%len(results)]
		res.At = t0.Add(time.Duration(seconds+i%3) * time.Second)
		wg.Go(func() {
			if err := f.FinishRow(f.ctx, id, holder, r.Line, res); err != nil {
				t.Errorf("FinishRow(%d): %v", r.Line, err)
			}
		})
	}
	wg.Wait()
}

// testJobCounts: whatever a store keeps so that a job's counts need not be
// counted from its rows, GetJob answers what the rows say, after every
// kind of change to them: claims (several at once), outcomes (at once,
// retried, recorded twice, from an instance that lost the job), an
// interruption and its resume, a hand-back and a cancel.
func testJobCounts(t *testing.T, f *fixture) {
	classes := []portal.PlanClass{portal.PlanInvalid, portal.PlanUnchanged}
	for range 40 {
		classes = append(classes, portal.PlanCreate)
	}
	p := f.savePlan(t, tenantA, "p1", classes...)
	j := f.newJob(t, p)
	if j = f.checkCounts(t, tenantA, j.ID, "queued"); j.Total != 40 || j.Pending != 40 {
		t.Fatalf("queued job: %d rows, %d pending; want 40", j.Total, j.Pending)
	}
	// Another job, cancelled while queued, changes nothing of this one.
	other := f.newJob(t, f.savePlan(t, tenantA, "p2", portal.PlanCreate, portal.PlanCreate))
	if _, err := f.CancelJob(f.ctx, tenantA, other.ID, t0); err != nil {
		t.Fatal(err)
	}
	f.checkCounts(t, tenantA, other.ID, "cancelled while queued")

	if _, ok, err := f.ClaimJob(f.ctx, "i1", t0); !ok || err != nil {
		t.Fatalf("ClaimJob: %v, %v", ok, err)
	}
	claimed := f.claimAtOnce(t, j.ID, "i1", 4, 5)
	f.checkCounts(t, tenantA, j.ID, "claimed by four at once")

	success := portal.RowResult{Outcome: portal.OutcomeSuccess, RequestID: "r"}
	f.finishAtOnce(t, j.ID, "i1", claimed, 10, success,
		portal.RowResult{Outcome: portal.OutcomeNoChange},
		portal.RowResult{Outcome: portal.OutcomeConflict},
		portal.RowResult{Outcome: portal.OutcomeUnknown, Retry: true}, // back to pending
		portal.RowResult{Outcome: portal.OutcomeFailed})
	f.checkCounts(t, tenantA, j.ID, "outcomes recorded at once")
	// A row's outcome is recorded once: again, it changes nothing.
	if err := f.FinishRow(f.ctx, j.ID, "i1", claimed[0].Line, portal.RowResult{Outcome: portal.OutcomeFailed, At: t0}); err != nil {
		t.Fatal(err)
	}
	f.checkCounts(t, tenantA, j.ID, "an outcome recorded twice")

	// i1 dies with rows running; the job is interrupted and resumed: the
	// running rows become pending.
	running := f.claimAtOnce(t, j.ID, "i1", 3, 4)
	f.finishAtOnce(t, j.ID, "i1", running[:4], 20, success)
	if _, err := f.InterruptStale(f.ctx, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	f.checkCounts(t, tenantA, j.ID, "interrupted")
	if err := f.FinishRow(f.ctx, j.ID, "i1", running[5].Line, success); portal.ErrorCode(err) != portal.ECONFLICT {
		t.Fatalf("an outcome from the lost instance: %v, want conflict", err)
	}
	f.checkCounts(t, tenantA, j.ID, "an outcome from the lost instance")
	if _, err := f.ResumeJob(f.ctx, tenantA, j.ID); err != nil {
		t.Fatal(err)
	}
	f.checkCounts(t, tenantA, j.ID, "resumed")

	// i2 takes it, is stopped on purpose with rows in flight and hands it
	// back (rows running become pending); i3 finishes it.
	if _, ok, err := f.ClaimJob(f.ctx, "i2", t0.Add(time.Minute)); !ok || err != nil {
		t.Fatalf("ClaimJob: %v, %v", ok, err)
	}
	rows := f.claimAtOnce(t, j.ID, "i2", 2, 6)
	f.finishAtOnce(t, j.ID, "i2", rows[:3], 40, success)
	if err := f.ReleaseJob(f.ctx, j.ID, "i2", portal.JobQueued, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	f.checkCounts(t, tenantA, j.ID, "handed back")
	if _, ok, err := f.ClaimJob(f.ctx, "i3", t0.Add(2*time.Minute)); !ok || err != nil {
		t.Fatalf("ClaimJob: %v, %v", ok, err)
	}
	for {
		rows := f.claimAtOnce(t, j.ID, "i3", 3, 7)
		if len(rows) == 0 {
			break
		}
		f.finishAtOnce(t, j.ID, "i3", rows, 60, success, portal.RowResult{Outcome: portal.OutcomeDenied})
		f.checkCounts(t, tenantA, j.ID, fmt.Sprintf("%d more rows finished", len(rows)))
	}
	if err := f.ReleaseJob(f.ctx, j.ID, "i3", portal.JobDone, t0.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if j = f.checkCounts(t, tenantA, j.ID, "done"); j.State != portal.JobDone || j.Done() != 40 {
		t.Errorf("finished job: %s, %d of 40 rows done", j.State, j.Done())
	}

	// A cancel of a running job leaves the rows in flight to finish and
	// the rest pending.
	third := f.newJob(t, f.savePlan(t, tenantA, "p3", portal.PlanCreate, portal.PlanCreate, portal.PlanCreate))
	if _, ok, err := f.ClaimJob(f.ctx, "i4", t0); !ok || err != nil {
		t.Fatalf("ClaimJob: %v, %v", ok, err)
	}
	rows = f.claimAtOnce(t, third.ID, "i4", 1, 2)
	if _, err := f.CancelJob(f.ctx, tenantA, third.ID, t0); err != nil {
		t.Fatal(err)
	}
	f.finishAtOnce(t, third.ID, "i4", rows[:1], 5, success)
	if err := f.ReleaseJob(f.ctx, third.ID, "i4", portal.JobCancelled, t0); err != nil {
		t.Fatal(err)
	}
	f.checkCounts(t, tenantA, third.ID, "cancelled while running")
}

// BenchJobProgress measures what a job's page pays for every poll of its
// progress (GetJob: the job, its counts and its rate) for a job of 50
// rows and one of 50,000, each with a fifth of its rows finished over a
// minute and the rest in flight. open returns an empty store.
func BenchJobProgress(b *testing.B, open func(b *testing.B) portal.Store) {
	for _, n := range []int{50, 50_000} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			f := &fixture{Store: open(b), clock: testclock.New(t0), ctx: context.Background()}
			classes := make([]portal.PlanClass, n)
			for i := range classes {
				classes[i] = portal.PlanCreate
			}
			j := f.newJob(b, f.savePlan(b, tenantA, "bench", classes...))
			if _, ok, err := f.ClaimJob(f.ctx, "i1", t0); !ok || err != nil {
				b.Fatalf("ClaimJob: %v, %v", ok, err)
			}
			rows, err := f.ClaimRows(f.ctx, j.ID, "i1", n)
			if err != nil || len(rows) != n {
				b.Fatalf("ClaimRows: %d rows, %v", len(rows), err)
			}
			var wg sync.WaitGroup
			done := rows[:n/5]
			for w := range 8 {
				wg.Go(func() {
					for i := w; i < len(done); i += 8 {
						at := t0.Add(time.Duration(i) * time.Minute / time.Duration(len(done)))
						if err := f.FinishRow(f.ctx, j.ID, "i1", done[i].Line, portal.RowResult{Outcome: portal.OutcomeSuccess, At: at}); err != nil {
							b.Errorf("FinishRow: %v", err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ResetTimer()
			for b.Loop() {
				got, err := f.GetJob(f.ctx, tenantA, j.ID)
				if err != nil || got.Total != n || got.Done() != len(done) {
					b.Fatalf("GetJob: %d rows, %d done, %v", got.Total, got.Done(), err)
				}
			}
		})
	}
}

// RunJobCountsMigration is an upgrade from a version that counted a job's
// rows on every read: it makes jobs in every state through store, then
// remigrate undoes and re-applies the migration that keeps their counts
// (as on a database of that version) and returns the store reopened. The
// counts it back-fills must be what the rows say, and be kept from then
// on. With remigrate nil it only makes the jobs, and checks their counts.
func RunJobCountsMigration(t *testing.T, store portal.Store, remigrate func(t *testing.T) portal.Store) {
	f := &fixture{Store: store, clock: testclock.New(t0), ctx: context.Background()}
	classes := make([]portal.PlanClass, 30)
	for i := range classes {
		classes[i] = portal.PlanCreate
	}
	running := f.newJob(t, f.savePlan(t, tenantA, "p1", classes...))
	done := f.newJob(t, f.savePlan(t, tenantB, "p2", portal.PlanCreate, portal.PlanRevoke))
	queued := f.newJob(t, f.savePlan(t, tenantA, "p3", portal.PlanCreate))
	if _, ok, err := f.ClaimJob(f.ctx, "i1", t0); !ok || err != nil {
		t.Fatalf("ClaimJob: %v, %v", ok, err)
	}
	rows := f.claimAtOnce(t, running.ID, "i1", 1, 20)
	f.finishAtOnce(t, running.ID, "i1", rows[:12], 0, portal.RowResult{Outcome: portal.OutcomeSuccess},
		portal.RowResult{Outcome: portal.OutcomeConflict}, portal.RowResult{Outcome: portal.OutcomeUnknown, Retry: true})
	if _, ok, err := f.ClaimJob(f.ctx, "i2", t0); !ok || err != nil {
		t.Fatalf("ClaimJob: %v, %v", ok, err)
	}
	f.finishAtOnce(t, done.ID, "i2", f.claimAtOnce(t, done.ID, "i2", 1, 2), 50, portal.RowResult{Outcome: portal.OutcomeSuccess})
	if err := f.ReleaseJob(f.ctx, done.ID, "i2", portal.JobDone, t0); err != nil {
		t.Fatal(err)
	}

	if remigrate != nil {
		f.Store = remigrate(t)
	}
	f.checkCounts(t, tenantA, running.ID, "running job, back-filled")
	f.checkCounts(t, tenantB, done.ID, "finished job, back-filled")
	f.checkCounts(t, tenantA, queued.ID, "queued job, back-filled")
	f.finishAtOnce(t, running.ID, "i1", rows[12:], 70, portal.RowResult{Outcome: portal.OutcomeSuccess})
	f.finishAtOnce(t, running.ID, "i1", f.claimAtOnce(t, running.ID, "i1", 2, 5), 71, portal.RowResult{Outcome: portal.OutcomeFailed})
	f.checkCounts(t, tenantA, running.ID, "running job, after more outcomes")
}

// CheckActiveJobRows checks a store's count for metrics of the rows of
// queued and running jobs, by status, against what ListJobs says of them
// (after RunJobCountsMigration, say).
func CheckActiveJobRows(t *testing.T, store portal.Store, active func(context.Context) (map[string]int64, error)) {
	t.Helper()
	want := map[string]int64{string(portal.RowPending): 0, string(portal.RowRunning): 0, string(portal.RowDone): 0}
	for _, tenant := range []portal.GUID{tenantA, tenantB} {
		jobs, err := store.ListJobs(context.Background(), tenant, -1)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			if j.State == portal.JobQueued || j.State == portal.JobRunning {
				want[string(portal.RowPending)] += int64(j.Pending)
				want[string(portal.RowRunning)] += int64(j.InFlight)
				want[string(portal.RowDone)] += int64(j.Done())
			}
		}
	}
	got, err := active(context.Background())
	if err != nil || !maps.Equal(got, want) {
		t.Errorf("rows of active jobs = %v, %v; want %v", got, err, want)
	}
}
