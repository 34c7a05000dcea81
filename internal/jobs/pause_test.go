package jobs_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/acs"
	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storetest"
	"github.com/teamsphone/portal/internal/testclock"
	"github.com/teamsphone/portal/internal/testwait"
)

// newTestClock is the runner's clock, moved by the test: a pause of
// ACS's ends when the test says, not after a real wait.
func newTestClock() *testclock.Clock { return testclock.New(time.Now()) }

// newPauseEnv is a bulkEnv whose client holds a call for no Retry-After
// longer than 20 ms: ACS's waits in these tests fail the call at once, as
// a wait past the bound does in production, and the client's own pause of
// background calls (cut to the bound) is over before the tests look.
func newPauseEnv(t *testing.T) *bulkEnv {
	return newBulkEnvWith(t, acs.Options{RetryDelay: 5 * time.Millisecond, MaxRetryAfter: 20 * time.Millisecond})
}

// bulkNotes returns the job's audit notes (action bulk_apply).
func (e *bulkEnv) bulkNotes(t *testing.T) []string {
	t.Helper()
	var notes []string
	if err := e.db.WalkAudit(context.Background(), contoso, func(ev portal.AuditEvent) error {
		if ev.Action == portal.ActionBulk {
			notes = append(notes, ev.Detail)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return notes
}

// attempts counts the job's rows' audit intents and outcomes: equal when
// no attempt is under way.
func (e *bulkEnv) attempts(t *testing.T) (began, ended int) {
	t.Helper()
	if err := e.db.WalkAudit(context.Background(), contoso, func(ev portal.AuditEvent) error {
		if strings.Contains(ev.Detail, ", line ") {
			switch ev.Phase {
			case portal.PhaseIntent:
				began++
			case portal.PhaseOutcome:
				ended++
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return began, ended
}

func countContaining(list []string, s string) int {
	n := 0
	for _, v := range list {
		if strings.Contains(v, s) {
			n++
		}
	}
	return n
}

// failedRows is how many of the job's rows ended other than applied.
func failedRows(j portal.Job) int {
	return j.Done() - j.Outcomes[portal.OutcomeSuccess] - j.Outcomes[portal.OutcomeNoChange]
}

// ACS answers a bulk job's calls 429 with Retry-After: 30. The whole job
// pauses: the job shows until when, no row fails, nothing is sent to ACS
// until the time passes, the audit notes the pause once, and the job goes
// on by itself and completes.
func TestBulkPausesForRetryAfter(t *testing.T) {
	ctx := context.Background()
	e := newPauseEnv(t)
	_, job := e.plan(t, grants(40))
	clock := newTestClock()
	// ACS throttles every call until the test has seen the job paused
	// (not a script of the first few answers: how many calls are out
	// before the first 429 comes back is the machine's timing, and a
	// scripted 429 left over would pause the job again after the pause).
	e.emu.SetRates(acsemu.Rates{Throttle: 1, RetryAfter: "30"})
	runner := e.runner(e.db)
	runner.Now = clock.Now
	done := make(chan struct{})
	go func() { runner.RunOnce(ctx); close(done) }()

	var j portal.Job
	testwait.For(t, "the job to be paused by ACS", func() bool {
		j, _ = e.db.GetJob(ctx, contoso, job.ID)
		return !j.PausedUntil.IsZero()
	})
	if got := j.PausedUntil.Sub(j.PausedAt); got != 30*time.Second || !j.PausedByACS(clock.Now()) || j.State != portal.JobRunning {
		t.Fatalf("job %s paused %v to %v (%v), now %v; want running, paused 30 s", j.State, j.PausedAt, j.PausedUntil, got, clock.Now())
	}
	if want := "until " + j.PausedUntil.UTC().Format("15:04:05") + " UTC (ACS asked to wait 30 s)"; j.ACSPauseText() != want {
		t.Errorf("pause text %q, want %q", j.ACSPauseText(), want)
	}
	// The attempts under way when ACS asked end (each audit intent has its
	// outcome); then no attempt begins and nothing is sent while the
	// clock stands before the end (a runner that ignored the pause would
	// go on within a heartbeat of 20 ms).
	testwait.For(t, "the attempts under way to end", func() bool {
		began, ended := e.attempts(t)
		return began >= 1 && began == ended
	})
	e.emu.SetRates(acsemu.Rates{})
	clock.Add(29 * time.Second)
	sent := len(e.emu.Requests())
	began, _ := e.attempts(t)
	time.Sleep(300 * time.Millisecond)
	j, _ = e.db.GetJob(ctx, contoso, job.ID)
	if n := len(e.emu.Requests()); n != sent || j.Done() == 40 || failedRows(j) != 0 {
		t.Fatalf("while paused: %d calls then %d, %d of 40 done, %v; want no call, no row failed", sent, n, j.Done(), j.Outcomes)
	}
	if now, _ := e.attempts(t); now != began {
		t.Fatalf("while paused: %d attempts had begun, then %d", began, now)
	}
	clock.Add(2 * time.Second)
	testwait.For(t, "the job to finish", closed(done))
	j, _ = e.db.GetJob(ctx, contoso, job.ID)
	if j.State != portal.JobDone || j.Outcomes[portal.OutcomeSuccess] != 40 {
		t.Errorf("after the pause: %s %v; want done, every row applied", j.State, j.Outcomes)
	}
	notes := e.bulkNotes(t)
	if n := countContaining(notes, "paused by ACS until"); n != 1 || countContaining(notes, "(ACS asked to wait 30 s)") != 1 {
		t.Errorf("audit notes %q: want the pause noted once, with its wait", notes)
	}
}

// The calls the job had started that wait in the ACS client's queue when
// ACS pauses the job are not sent once the client's own pause (its bound,
// 2 s here) is over: they give up unsent, and their rows wait for the job.
func TestBulkPauseHoldsCallsQueuedInTheClient(t *testing.T) {
	ctx := context.Background()
	// One call at a time, two rows: while one row's call waits for its
	// answer, the other's waits in the client. (With two calls and four
	// rows, the free slot served rows as fast as a loaded CI machine
	// prepared them, and now and then none was queued at the pause.)
	e := newBulkEnvWith(t, acs.Options{RetryDelay: 5 * time.Millisecond, MaxRetryAfter: 2 * time.Second, MaxConcurrency: 1, FixedConcurrency: true})
	e.emu.SetRates(acsemu.Rates{Latency: 50 * time.Millisecond})
	_, job := e.plan(t, grants(40))
	clock := newTestClock()
	// The 429 comes late (a second), so that other rows' calls are out and
	// queued in the client when it does, however slowly a busy machine
	// starts rows (at 200 ms, a loaded CI machine had none queued yet): no
	// try begins once the job is paused.
	e.emu.Script(acsemu.Fault{Status: 429, RetryAfter: "30", Latency: time.Second})
	runner := e.runner(e.db)
	runner.Now = clock.Now
	done := make(chan struct{})
	go func() { runner.RunOnce(ctx); close(done) }()
	testwait.For(t, "the job to be paused by ACS", func() bool {
		j, _ := e.db.GetJob(ctx, contoso, job.ID)
		return !j.PausedUntil.IsZero()
	})
	testwait.For(t, "the attempts under way to end", func() bool {
		began, ended := e.attempts(t)
		return began > 1 && began == ended
	})
	reqs := e.emu.Requests()
	throttled := reqs[0]
	for _, r := range reqs {
		if r.Status == 429 {
			throttled = r
		}
		// (Time is when the emulator took the call: the 429 was answered
		// a second later, and the pause began then.)
		if r.Time.After(throttled.Time.Add(2 * time.Second)) {
			t.Errorf("a call sent %v after ACS paused the job", r.Time.Sub(throttled.Time))
		}
	}
	if j, _ := e.db.GetJob(ctx, contoso, job.ID); failedRows(j) != 0 {
		t.Errorf("rows failed: %v", j.Outcomes)
	}
	clock.Add(31 * time.Second)
	testwait.For(t, "the job to finish", closed(done))
	if j, _ := e.db.GetJob(ctx, contoso, job.ID); j.State != portal.JobDone || j.Outcomes[portal.OutcomeSuccess] != 40 {
		t.Errorf("after the pause: %s %v", j.State, j.Outcomes)
	}
	// Each call dropped unsent settled its attempt's intent at once as
	// not applied (no GET could be sent, none was needed), not as
	// "unknown"; and every intent has its one outcome.
	notSent := 0
	e.db.WalkAudit(ctx, contoso, func(ev portal.AuditEvent) error {
		switch {
		case ev.Phase != portal.PhaseOutcome:
		case ev.Outcome == portal.OutcomeUnknown:
			t.Errorf("outcome unknown: %s", ev.Detail)
		case strings.HasPrefix(ev.Detail, "Not applied: the call was not sent"):
			notSent++
			if ev.Outcome != portal.OutcomeFailed {
				t.Errorf("a call not sent settled as %s: %s", ev.Outcome, ev.Detail)
			}
		}
		return nil
	})
	if notSent == 0 {
		t.Error("no call was dropped unsent: the test proved nothing")
	}
	// Every intent has its one outcome. (Lines are not checked by the
	// audit rows: the throttled line's 429 has an outcome of its own
	// before the line's, as any line tried again does.)
	storetest.CheckJobAudit(t, e.db, portal.Job{}, "")
}

// A row's give-up clock (RetryFor) does not run while ACS has paused the
// job: a row that fails once more after a pause longer than RetryFor is
// tried again, not given up.
func TestBulkRowNotGivenUpForACSPause(t *testing.T) {
	ctx := context.Background()
	e := newPauseEnv(t)
	_, job := e.plan(t, grants(3))
	clock := newTestClock()
	e.emu.Script(acsemu.Fault{Status: 429, RetryAfter: "30"})
	runner := e.runner(e.db)
	runner.Workers = 1 // one row at a time: the throttled row is the one tried after the pause
	runner.RetryFor = 50 * time.Millisecond
	runner.Now = clock.Now
	done := make(chan struct{})
	go func() { runner.RunOnce(ctx); close(done) }()
	testwait.For(t, "the job to be paused by ACS", func() bool {
		j, _ := e.db.GetJob(ctx, contoso, job.ID)
		return !j.PausedUntil.IsZero()
	})
	// Longer than RetryFor in real time as well; then the row's next call
	// fails (503 without Retry-After, at each of the client's five tries).
	time.Sleep(100 * time.Millisecond)
	for range 5 {
		e.emu.Script(acsemu.Fault{Status: 503})
	}
	clock.Add(30 * time.Second)
	testwait.For(t, "the job to finish", closed(done))
	if j, _ := e.db.GetJob(ctx, contoso, job.ID); j.State != portal.JobDone || j.Outcomes[portal.OutcomeSuccess] != 3 {
		rows := e.rows(t, job.ID)
		t.Errorf("job %s %v; line 2: %s; want every row applied", j.State, j.Outcomes, rows[0].Detail)
	}
}

// A Retry-After of more than a day pauses the job for a day at most (then
// one call asks ACS again); meanwhile a person may cancel it, and it stops
// at once with no row failed.
func TestBulkCancelWhilePausedByACS(t *testing.T) {
	ctx := context.Background()
	e := newPauseEnv(t)
	_, job := e.plan(t, grants(40))
	e.emu.Script(acsemu.Fault{Status: 429, RetryAfter: "90000"}) // 25 h
	done := make(chan struct{})
	go func() { e.runner(e.db).RunOnce(ctx); close(done) }()
	var j portal.Job
	testwait.For(t, "the job to be paused by ACS", func() bool {
		j, _ = e.db.GetJob(ctx, contoso, job.ID)
		return !j.PausedUntil.IsZero()
	})
	if got := j.PausedUntil.Sub(j.PausedAt); got != 24*time.Hour {
		t.Errorf("paused for %v after a Retry-After of 25 h; want the day's bound", got)
	}
	if _, err := e.svc.CancelJob(ctx, admin, job.ID); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "the paused job to stop after its cancel", closed(done))
	j, _ = e.db.GetJob(ctx, contoso, job.ID)
	if j.State != portal.JobCancelled || failedRows(j) != 0 || j.Pending == 0 {
		t.Errorf("cancelled while paused: %s %v, %d pending; want cancelled, no row failed, the rest not applied", j.State, j.Outcomes, j.Pending)
	}
}

// A job paused by ACS when its instance died waits for the pause when it
// is resumed, whichever instance takes it.
func TestBulkResumeWaitsForACSPause(t *testing.T) {
	ctx := context.Background()
	e := newPauseEnv(t)
	_, job := e.plan(t, grants(5))
	clock := newTestClock()
	e.db.ClaimJob(ctx, "dead", clock.Now())
	if err := e.db.PauseJob(ctx, job.ID, "dead", clock.Now(), clock.Now().Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	e.db.InterruptStale(ctx, clock.Now().Add(time.Hour))
	if _, err := e.svc.ResumeJob(ctx, admin, job.ID); err != nil {
		t.Fatal(err)
	}
	runner := e.runner(e.db)
	runner.Now = clock.Now
	done := make(chan struct{})
	go func() { runner.RunOnce(ctx); close(done) }()
	testwait.For(t, "the job to be taken", func() bool {
		j, _ := e.db.GetJob(ctx, contoso, job.ID)
		return j.State == portal.JobRunning
	})
	time.Sleep(300 * time.Millisecond) // many heartbeats: a runner that ignored the pause would have called ACS
	if n := len(e.emu.Requests()); n != 0 {
		t.Fatalf("%d calls to ACS during the pause recorded before the resume", n)
	}
	clock.Add(10 * time.Minute)
	testwait.For(t, "the job to finish", closed(done))
	if j, _ := e.db.GetJob(ctx, contoso, job.ID); j.State != portal.JobDone || j.Outcomes[portal.OutcomeSuccess] != 5 {
		t.Errorf("after the pause: %s %v", j.State, j.Outcomes)
	}
	if notes := e.bulkNotes(t); countContaining(notes, "5 of 5 rows to apply, after ACS's pause until") != 1 {
		t.Errorf("audit notes %q: want the resume to say it waits for ACS's pause", notes)
	}
}

// Interactive changes keep their share of ACS: while a bulk job saturates
// the client against the emulator's rate limit, and again while ACS has
// paused the job (the client's background calls held back), a helpdesk
// grant goes through at once — people go before every queued background
// call, and a paused background queue holds back nobody else.
func TestHelpdeskGrantWhileBulkJobSaturatesOrIsPaused(t *testing.T) {
	ctx := context.Background()
	e := newBulkEnv(t) // the client's production bounds: a Retry-After past 30 s fails the call
	e.emu.SetRates(acsemu.Rates{Latency: 50 * time.Millisecond, Rate: 50})
	_, job := e.plan(t, grants(2000))
	helpdesk := access.Who{User: portal.User{TenantID: contoso, ObjectID: portal.MustParseGUID("dc5bfeeb-3feb-4969-9ae9-92f428410341"),
		Name: "Hal Helpdesk", Roles: []portal.Role{portal.RoleHelpdesk}}, ClientIP: "192.0.2.8"}
	grant := func(i int) time.Duration {
		t.Helper()
		start := time.Now()
		if _, err := e.svc.Grant(ctx, helpdesk, access.GrantRequest{ObjectID: object(10000 + i), Kind: portal.KindUser,
			ClientIDs: []portal.GUID{appA}, Justification: "ticket 42"}); err != nil {
			t.Fatalf("helpdesk grant %d: %v", i, err)
		}
		return time.Since(start)
	}
	done := make(chan struct{})
	go func() { e.runner(e.db).RunOnce(ctx); close(done) }()
	defer func() {
		e.svc.CancelJob(ctx, admin, job.ID)
		testwait.For(t, "the job to stop", closed(done))
	}()

	// Saturated: more rows in flight than calls allowed, so calls queue.
	testwait.For(t, "the job to saturate the client", func() bool {
		j, _ := e.db.GetJob(ctx, contoso, job.ID)
		return j.Done() >= 20 && j.InFlight > e.client.CallsAllowed()
	})
	var took []time.Duration
	for i := range 3 {
		took = append(took, grant(i))
	}
	j, _ := e.db.GetJob(ctx, contoso, job.ID)
	if j.State != portal.JobRunning || j.Pending == 0 {
		t.Fatalf("the job was no longer under way (%s, %d pending): nothing shown", j.State, j.Pending)
	}
	t.Logf("helpdesk grants while the job saturates the client (%d calls allowed): %v", e.client.CallsAllowed(), took)
	for _, d := range took {
		// A grant is a GET and a PUT of 50 ms each, behind at most one
		// bulk call each; 5 s only spares a loaded machine.
		if d > 5*time.Second {
			t.Errorf("a helpdesk grant took %v while the bulk job ran", d)
		}
	}

	// Paused: ACS asks the job's next call to wait 10 minutes. The client
	// holds back every background call (30 s, its bound), the job pauses.
	e.emu.Script(acsemu.Fault{Status: 429, RetryAfter: "600"})
	testwait.For(t, "the job to be paused by ACS", func() bool {
		j, _ = e.db.GetJob(ctx, contoso, job.ID)
		return j.PausedByACS(time.Now())
	})
	start := time.Now()
	took = took[:0]
	for i := range 3 {
		took = append(took, grant(3+i))
	}
	t.Logf("helpdesk grants while ACS has paused the job: %v", took)
	for _, d := range took {
		if d > 5*time.Second {
			t.Errorf("a helpdesk grant took %v while the job was paused by ACS", d)
		}
	}
	if time.Since(start) >= 30*time.Second {
		t.Fatalf("the grants took %v: the client's pause of background calls is over, nothing shown", time.Since(start))
	}
	j, _ = e.db.GetJob(ctx, contoso, job.ID)
	if failedRows(j) != 0 {
		t.Errorf("rows failed during the pause: %v", j.Outcomes)
	}
}
