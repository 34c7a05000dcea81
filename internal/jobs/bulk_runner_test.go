package jobs_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/jobs"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/testwait"
)

func grants(n int) string {
	var csv strings.Builder
	csv.WriteString("objectId,kind,clientIds,label\n")
	for i := range n {
		fmt.Fprintf(&csv, "%s,user,%s,Agent %d\n", object(i), appA, i)
	}
	return csv.String()
}

func (e *bulkEnv) puts() int {
	n := 0
	for _, r := range e.emu.Requests() {
		if r.Method == http.MethodPut {
			n++
		}
	}
	return n
}

func (e *bulkEnv) runner(store portal.JobStore) *jobs.BulkRunner {
	return &jobs.BulkRunner{Service: e.svc, Jobs: store, HeartbeatEvery: 20 * time.Millisecond, RetryDelay: 20 * time.Millisecond}
}

// A cancel stops the job within a heartbeat or two — rows waiting to be
// tried again (ACS throttling every call) do not wait out their retries;
// only calls already in flight finish — and nothing is written after it.
func TestBulkCancelStopsPromptly(t *testing.T) {
	ctx := context.Background()
	e := newBulkEnv(t)
	_, job := e.plan(t, grants(40))
	e.emu.SetRates(acsemu.Rates{Throttle: 1, RetryAfter: "0"})
	done := make(chan struct{})
	go func() { e.runner(e.db).RunOnce(ctx); close(done) }()
	// Cancel a job under way, its rows being throttled: one still queued
	// would be cancelled without a runner.
	testwait.For(t, "the job to run into ACS's throttling", func() bool {
		j, err := e.db.GetJob(ctx, contoso, job.ID)
		return err == nil && j.State == portal.JobRunning && e.puts() >= 16
	})
	if _, err := e.svc.CancelJob(ctx, admin, job.ID); err != nil {
		t.Fatal(err)
	}
	e.emu.SetRates(acsemu.Rates{}) // ACS recovers: a runner that ignored the cancel would now write
	// Within a heartbeat or two on a quick machine; testwait.Patience bounds it so
	// that a loaded one is not mistaken for a runner that goes on.
	select {
	case <-done:
	case <-time.After(testwait.Patience):
		t.Fatalf("the job went on for %v after its cancel", testwait.Patience)
	}
	writes := e.puts()
	time.Sleep(200 * time.Millisecond)
	j, _ := e.db.GetJob(ctx, contoso, job.ID)
	if j.State != portal.JobCancelled || e.puts() != writes {
		t.Errorf("after the cancel: %s, %d PUTs then %d", j.State, writes, e.puts())
	}
	// Only rows in flight at the cancel (their calls finish, with the ACS
	// client's own retries) may have been applied: at most one per worker.
	if n := j.Outcomes[portal.OutcomeSuccess]; n > 16 || j.Pending < 40-16 {
		t.Errorf("%d rows applied, %d pending after the cancel; want only those in flight", n, j.Pending)
	}
}

// An instance that loses its hold (its job marked interrupted by another)
// stops, records no outcome and does not call the job done.
func TestBulkLostHoldStops(t *testing.T) {
	ctx := context.Background()
	e := newBulkEnv(t)
	_, job := e.plan(t, grants(200))
	e.emu.SetRates(acsemu.Rates{Latency: 20 * time.Millisecond})
	// The hold is lost with the job under way: a row done, the rows in
	// flight held at recording their outcome until it is lost.
	gated := newGatedFinish(t, e.db)
	done := make(chan struct{})
	go func() { e.runner(gated).RunOnce(ctx); close(done) }()
	testwait.For(t, "the job's first row to be recorded", closed(gated.recorded))
	if n, err := e.db.InterruptStale(ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("InterruptStale = %d, %v", n, err)
	}
	before, _ := e.db.GetJob(ctx, contoso, job.ID)
	gated.open()
	testwait.For(t, "the runner to stop", closed(done))
	after, _ := e.db.GetJob(ctx, contoso, job.ID)
	if after.State != portal.JobInterrupted || after.Done() != before.Done() {
		t.Errorf("after losing its hold: %s, %d rows done then %d", after.State, before.Done(), after.Done())
	}
	var notes []string
	e.db.WalkAudit(ctx, contoso, func(ev portal.AuditEvent) error {
		if ev.Action == portal.ActionBulk {
			notes = append(notes, ev.Detail)
		}
		return nil
	})
	for _, n := range notes {
		if strings.Contains(n, " done: ") {
			t.Errorf("a lost job was noted done: %q", n)
		}
	}
	// Resumed (here, by the same database), it finishes every row once.
	if _, err := e.svc.ResumeJob(ctx, admin, job.ID); err != nil {
		t.Fatal(err)
	}
	e.emu.SetRates(acsemu.Rates{})
	e.runner(e.db).RunOnce(ctx)
	final, _ := e.db.GetJob(ctx, contoso, job.ID)
	if final.State != portal.JobDone || final.Outcomes[portal.OutcomeSuccess]+final.Outcomes[portal.OutcomeNoChange] != 200 {
		t.Errorf("resumed job: %s %v", final.State, final.Outcomes)
	}
}

// Whoever resumes a job must hold the roles it was applied with.
func TestBulkResumeNeedsTheJobsRoles(t *testing.T) {
	ctx := context.Background()
	e := newBulkEnv(t)
	_, job := e.plan(t, grants(3))
	e.db.ClaimJob(ctx, "dead", time.Now())
	e.db.InterruptStale(ctx, time.Now().Add(time.Hour))
	demoted := admin
	demoted.User.Roles = []portal.Role{portal.RoleHelpdesk}
	if _, err := e.svc.ResumeJob(ctx, demoted, job.ID); portal.ErrorCode(err) != portal.EFORBIDDEN {
		t.Errorf("resumed by its author, now helpdesk: %v, want forbidden", err)
	}
	if _, err := e.svc.ResumeJob(ctx, admin, job.ID); err != nil {
		t.Errorf("resumed by an admin: %v", err)
	}
}

// An instance stopping on purpose finishes its rows in flight and hands
// the job back; the next runner (another instance) goes on with it, and
// every row is applied once.
func TestBulkShutdownHandsTheJobBack(t *testing.T) {
	e := newBulkEnv(t)
	_, job := e.plan(t, grants(120))
	e.emu.SetRates(acsemu.Rates{Latency: 20 * time.Millisecond})
	ctx, stop := context.WithCancel(context.Background())
	// Stop with the job under way: a row done, the rows in flight held at
	// recording their outcome until the stop, the rest pending.
	gated := newGatedFinish(t, e.db)
	done := make(chan struct{})
	go func() { e.runner(gated).RunOnce(ctx); close(done) }()
	testwait.For(t, "the job's first row to be recorded", closed(gated.recorded))
	stop()
	gated.open()
	testwait.For(t, "the runner to stop", closed(done))
	j, _ := e.db.GetJob(context.Background(), contoso, job.ID)
	if j.State != portal.JobQueued || j.InFlight != 0 || j.Done() == 0 || j.Pending == 0 {
		t.Fatalf("after a shutdown mid-job: %s, %d in flight, %d done, %d pending; want queued with nothing in flight", j.State, j.InFlight, j.Done(), j.Pending)
	}
	e.emu.SetRates(acsemu.Rates{})
	if !e.runner(e.db).RunOnce(context.Background()) {
		t.Fatal("the handed-back job was not taken")
	}
	j, _ = e.db.GetJob(context.Background(), contoso, job.ID)
	if j.State != portal.JobDone || j.Outcomes[portal.OutcomeSuccess] != 120 || e.puts() != 120 {
		t.Errorf("after the second instance: %s %v with %d PUTs; want done, 120 successes, 120 PUTs", j.State, j.Outcomes, e.puts())
	}
}

// stopDuringClaim stops the runner (stop) as it claims a job, the moment a
// shutdown can land between the claim's commit and reading the job back.
type stopDuringClaim struct {
	portal.JobStore
	stop    context.CancelFunc
	claimed bool
}

func (s *stopDuringClaim) ClaimJob(ctx context.Context, holder string, now time.Time) (portal.Job, bool, error) {
	s.stop()
	job, ok, err := s.JobStore.ClaimJob(ctx, holder, now)
	s.claimed = ok
	return job, ok, err
}

// A shutdown during the claim does not strand the job as running with
// nobody on it (until it goes stale and a person resumes it): the claim
// completes, and the job is handed back to the queue at once.
func TestBulkStopDuringClaimHandsTheJobBack(t *testing.T) {
	e := newBulkEnv(t)
	_, job := e.plan(t, grants(5))
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	store := &stopDuringClaim{JobStore: e.db, stop: stop}
	e.runner(store).RunOnce(ctx)
	j, _ := e.db.GetJob(context.Background(), contoso, job.ID)
	if !store.claimed || j.State != portal.JobQueued || j.Done() != 0 {
		t.Fatalf("after a stop during the claim: claimed %v, %s with %d done; want claimed, then queued again with nothing applied", store.claimed, j.State, j.Done())
	}
	if !e.runner(e.db).RunOnce(context.Background()) {
		t.Fatal("the handed-back job was not taken")
	}
	if j, _ = e.db.GetJob(context.Background(), contoso, job.ID); j.State != portal.JobDone {
		t.Errorf("after the next run: %s", j.State)
	}
}
