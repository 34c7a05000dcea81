package jobs_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/acs"
	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/jobs"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storetest"
	"github.com/teamsphone/portal/internal/testwait"
)

// bulkEnvs runs test against a bulk environment on each store.
func bulkEnvs(t *testing.T, test func(t *testing.T, e *bulkEnv)) {
	for name, open := range instanceStores {
		t.Run(name, func(t *testing.T) {
			db, err := open(t)()
			if err != nil {
				t.Fatal(err)
			}
			test(t, newBulkEnvOn(t, db, acs.Options{RetryDelay: 50 * time.Millisecond}))
		})
	}
}

// killedAfterOutcome is an instance killed right after the outcome of one
// line was committed: its FinishRow of that line never returns (until the
// test is over), as if the process had died there.
type killedAfterOutcome struct {
	portal.JobStore
	line    int
	reached chan struct{}
	once    sync.Once
	dead    chan struct{}
}

func (k *killedAfterOutcome) FinishRow(ctx context.Context, id, holder string, line int, r portal.RowResult) error {
	if line == k.line {
		k.once.Do(func() { close(k.reached) })
		<-k.dead
		return portal.Errorf(portal.EUNAVAILABLE, "killed")
	}
	return k.JobStore.FinishRow(ctx, id, holder, line, r)
}

// The gap of issue 14: an instance applies a line — ACS, the audit
// outcome and the inventory change committed — and dies before the line's
// job row is marked done. Another instance resumes the job: the line is
// not tried again and not recorded a second time ("no_change"); it has one
// outcome, success, in the audit log and in the results.
func TestBulkLineKilledAfterItsOutcome(t *testing.T) {
	bulkEnvs(t, func(t *testing.T, e *bulkEnv) {
		ctx := context.Background()
		_, job := e.plan(t, grants(5))
		killed := &killedAfterOutcome{JobStore: e.db, line: 4, reached: make(chan struct{}), dead: make(chan struct{})}
		t.Cleanup(func() { close(killed.dead) })
		first := e.runner(killed)
		go first.RunOnce(ctx)
		// Every line is done by the commit of its outcome, line 4's too
		// (its FinishRow comes after): all five are done before the kill.
		// A line still in flight then would have its queued call dropped
		// unsent when the instance loses the job, and be applied by the
		// resume, rightly — not the gap this test is about.
		testwait.For(t, "line 4's outcome, and every other line, to be recorded", func() bool {
			j, err := e.db.GetJob(ctx, contoso, job.ID)
			return closed(killed.reached)() && err == nil && j.Pending == 0 && j.InFlight == 0 && j.Done() == 5
		})
		// The killed instance's heartbeat stops; another marks the job
		// interrupted, and a person resumes it there.
		if n, err := e.db.InterruptStale(ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
			t.Fatalf("InterruptStale = %d, %v", n, err)
		}
		if _, err := e.svc.ResumeJob(ctx, admin, job.ID); err != nil {
			t.Fatal(err)
		}
		puts := e.puts()
		e.runner(e.db).RunOnce(ctx)

		j, _ := e.db.GetJob(ctx, contoso, job.ID)
		if j.State != portal.JobDone || j.Outcomes[portal.OutcomeSuccess] != 5 {
			t.Errorf("resumed job: %s %v; want done, 5 success", j.State, j.Outcomes)
		}
		if e.puts() != puts {
			t.Errorf("the resume wrote to ACS again (%d PUTs)", e.puts()-puts)
		}
		for _, r := range e.rows(t, job.ID) {
			if r.Outcome != portal.OutcomeSuccess {
				t.Errorf("line %d: %s (%s); want success", r.Line, r.Outcome, r.Detail)
			}
		}
		storetest.CheckJobAudit(t, e.db, job, access.ShortID(job.ID))
	})
}

// A killed instance leaves lines with their intent written and no outcome:
// one whose PUT reached ACS, one whose PUT never left. The resumed job
// settles both with a GET before anything else — the first is done as a
// success by the outcome citing its intent (no second PUT, no second
// outcome), the second's intent is settled as not applied and the line is
// applied afresh — and every intent ends with exactly one outcome.
func TestBulkResumeSettlesOpenIntents(t *testing.T) {
	bulkEnvs(t, func(t *testing.T, e *bulkEnv) {
		ctx := context.Background()
		_, job := e.plan(t, grants(4))
		// The dead instance: it took the job and its rows, and wrote the
		// intents of lines 2 and 3 (objects 0 and 1) as a grant does.
		if _, ok, err := e.db.ClaimJob(ctx, "dead", time.Now()); !ok || err != nil {
			t.Fatalf("ClaimJob = %v, %v", ok, err)
		}
		if _, err := e.db.ClaimRows(ctx, job.ID, "dead", 4); err != nil {
			t.Fatal(err)
		}
		for i, line := range []int{2, 3} {
			a := portal.Assignment{TenantID: contoso, ObjectID: object(i), Kind: portal.KindUser, ClientIDs: []portal.GUID{appA}}
			intent := portal.AuditEvent{Time: time.Now(), Actor: portal.ActorOf(admin.User), ClientIP: admin.ClientIP, TenantID: contoso,
				ObjectID: a.ObjectID, Kind: a.Kind, Action: portal.ActionGrant, Phase: portal.PhaseIntent,
				After: portal.StateOf(a, fmt.Sprintf("Agent %d", i)), Justification: job.Justification,
				Detail: fmt.Sprintf("bulk job %s, line %d", access.ShortID(job.ID), line)}
			if _, _, err := e.db.Commit(ctx, intent, portal.InventoryChange{Step: &portal.JobStep{Job: job.ID, Holder: "dead", Line: line}}); err != nil {
				t.Fatal(err)
			}
		}
		// Line 2's PUT reached ACS before the instance died.
		e.emu.Seed(acsemu.Stored{Host: e.host, TenantID: contoso, ObjectID: object(0), PrincipalType: "user", ClientIDs: []string{appA.String()}})
		e.db.InterruptStale(ctx, time.Now().Add(time.Hour))
		if _, err := e.svc.ResumeJob(ctx, admin, job.ID); err != nil {
			t.Fatal(err)
		}
		e.runner(e.db).RunOnce(ctx)

		j, _ := e.db.GetJob(ctx, contoso, job.ID)
		if j.State != portal.JobDone || j.Outcomes[portal.OutcomeSuccess] != 4 {
			t.Errorf("resumed job: %s %v; want done, 4 success", j.State, j.Outcomes)
		}
		if n := e.puts(); n != 3 {
			t.Errorf("%d PUTs after the resume; want 3 (line 2 was in ACS already)", n)
		}
		rows := e.rows(t, job.ID)
		if rows[0].Outcome != portal.OutcomeSuccess || rows[0].Detail == "" {
			t.Errorf("line 2: %s %q; want success, settled", rows[0].Outcome, rows[0].Detail)
		}
		if it, err := e.db.GetItem(ctx, contoso, object(0)); err != nil || it.Label != "Agent 0" || it.State != portal.StateInSync {
			t.Errorf("line 2's inventory row: %+v, %v", it, err)
		}
		storetest.CheckJobAudit(t, e.db, job, access.ShortID(job.ID))
	})
}

// The sweep (run by the expiry job) settles the intents of changes whose
// instance died, with a GET: an edit ACS holds is recorded as a success and
// the inventory follows; a revoke ACS never received is recorded as not
// applied, the row marked as ACS shows it. Afterwards the audit log has no
// intent without its one outcome.
func TestSweepSettlesOpenIntents(t *testing.T) {
	bulkEnvs(t, func(t *testing.T, e *bulkEnv) {
		ctx := context.Background()
		e.adopt(t, object(1), appA)
		e.adopt(t, object(2), appA)
		edited, _ := e.db.GetItem(ctx, contoso, object(1))
		revoked, _ := e.db.GetItem(ctx, contoso, object(2))
		dead := time.Now().Add(-time.Minute)
		after := edited.Assignment
		after.ClientIDs = []portal.GUID{appA, appB}
		for _, ev := range []portal.AuditEvent{
			{Action: portal.ActionEdit, ObjectID: object(1), Before: portal.StateOfItem(edited), After: portal.StateOf(after, "edited")},
			{Action: portal.ActionRevoke, ObjectID: object(2), Before: portal.StateOfItem(revoked)},
		} {
			ev.Time, ev.Actor, ev.TenantID, ev.Kind, ev.Phase = dead, portal.ActorOf(admin.User), contoso, portal.KindUser, portal.PhaseIntent
			if _, err := e.db.AppendAudit(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		// The edit's PUT reached ACS; the revoke's DELETE did not.
		e.emu.Seed(acsemu.Stored{Host: e.host, TenantID: contoso, ObjectID: object(1), PrincipalType: "user", ClientIDs: []string{appA.String(), appB.String()}})
		if st := access.VerifyChain(ctx, e.db, nil, nil); st.Err != nil {
			t.Fatal(st.Err)
		} else if _, n := st.OpenIntents(10); n != 2 {
			t.Fatalf("before the sweep: %d open intents, want 2", n)
		}

		x := &jobs.Expirer{Service: e.svc, Locks: e.db}
		if _, ran := x.RunOnce(ctx); !ran {
			t.Fatal("the expiry job did not run")
		}

		st := access.VerifyChain(ctx, e.db, nil, nil)
		if _, n := st.OpenIntents(10); st.Err != nil || n != 0 {
			t.Errorf("after the sweep: %d open intents (%v)", n, st.Err)
		}
		if it, err := e.db.GetItem(ctx, contoso, object(1)); err != nil || len(it.ClientIDs) != 2 || it.Label != "edited" || it.State != portal.StateInSync {
			t.Errorf("the edited row: %+v, %v; want what ACS holds", it, err)
		}
		if it, err := e.db.GetItem(ctx, contoso, object(2)); err != nil || it.State != portal.StateInSync {
			t.Errorf("the row whose revoke never reached ACS: %+v, %v; want it kept, in sync", it, err)
		}
		outcomes := map[portal.GUID]portal.AuditOutcome{}
		e.db.WalkAudit(ctx, contoso, func(ev portal.AuditEvent) error {
			if ev.Phase == portal.PhaseOutcome {
				outcomes[ev.ObjectID] = ev.Outcome
			}
			return nil
		})
		if outcomes[object(1)] != portal.OutcomeSuccess || outcomes[object(2)] != portal.OutcomeFailed {
			t.Errorf("settled as %v; want the edit success, the revoke failed (not applied)", outcomes)
		}
		storetest.CheckJobAudit(t, e.db, portal.Job{}, "")
	})
}
