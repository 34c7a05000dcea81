package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// head is the audit log's newest Seq.
func (f *fixture) head(t *testing.T) int64 {
	t.Helper()
	page, err := f.ListAudit(f.ctx, portal.AuditFilter{Limit: 1})
	if err != nil {
		t.Fatalf("ListAudit: %v", err)
	}
	if len(page.Events) == 0 {
		return 0
	}
	return page.Events[0].Seq
}

// A change whose lease lapsed and was taken over cannot commit: the first
// holder, paused past its lease, is refused with ECONFLICT and nothing —
// audit row or inventory — is written; the holder that took the lock over
// commits. A lease that lapsed but that nobody took still commits.
func testCommitFencedByLease(t *testing.T, f *fixture) {
	const name = "assignment:fence"
	it := userItem(tenantA, "fenced", "Fenced", "app")
	if ok, err := f.TryLock(f.ctx, name, "paused", t0.Add(15*time.Second)); err != nil || !ok {
		t.Fatalf("TryLock(paused) = %v, %v", ok, err)
	}
	f.clock.Set(t0.Add(16 * time.Second)) // the lease lapsed, nobody took it
	if _, _, err := f.Commit(f.ctx, eventFor(it, portal.ActionGrant), portal.InventoryChange{Op: portal.InventoryPut, Item: it,
		Lease: portal.Lease{Name: name, Holder: "paused"}}); err != nil {
		t.Fatalf("commit under a lapsed lease nobody took: %v", err)
	}
	if ok, err := f.TryLock(f.ctx, name, "other", t0.Add(40*time.Second)); err != nil || !ok {
		t.Fatalf("TryLock(other) after the lapse = %v, %v", ok, err)
	}
	before := f.head(t)
	changed := it
	changed.ClientIDs, changed.Label = ids("app", "app2"), "paused write"
	_, _, err := f.Commit(f.ctx, eventFor(changed, portal.ActionEdit), portal.InventoryChange{Op: portal.InventoryPut, Item: changed,
		Lease: portal.Lease{Name: name, Holder: "paused"}})
	if portal.ErrorCode(err) != portal.ECONFLICT || !errors.Is(err, portal.ErrLeaseLost) {
		t.Fatalf("commit of a lease taken over: %v, want ECONFLICT (lease lost)", err)
	}
	got, gerr := f.GetItem(f.ctx, tenantA, it.ObjectID)
	if gerr != nil || got.Label != "Fenced" || got.Version != 1 || f.head(t) != before {
		t.Errorf("after the refused commit: %+v, %v, audit head %d → %d; want nothing changed", got, gerr, before, f.head(t))
	}
	if _, _, err := f.Commit(f.ctx, eventFor(changed, portal.ActionEdit), portal.InventoryChange{Op: portal.InventoryPut, Item: changed,
		Lease: portal.Lease{Name: name, Holder: "other"}}); err != nil {
		t.Fatalf("commit by the lease's holder: %v", err)
	}
	// Released, the lease fences its holder out too.
	if err := f.Unlock(f.ctx, name, "other"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Commit(f.ctx, eventFor(it, portal.ActionEdit), portal.InventoryChange{Op: portal.InventoryPut, Item: it,
		Lease: portal.Lease{Name: name, Holder: "other"}}); !errors.Is(err, portal.ErrLeaseLost) {
		t.Errorf("commit after Unlock: %v, want lease lost", err)
	}
}

// Renew extends only a lease its holder still has: never one that was
// taken over, nor one released since (which TryLock would take again).
func testRenew(t *testing.T, f *fixture) {
	const name = "assignment:renew"
	renew := func(holder string, until time.Time) bool {
		t.Helper()
		ok, err := f.Renew(f.ctx, name, holder, until)
		if err != nil {
			t.Fatalf("Renew(%s): %v", holder, err)
		}
		return ok
	}
	if renew("one", t0.Add(time.Second)) {
		t.Fatal("Renew took a free lock")
	}
	if ok, err := f.TryLock(f.ctx, name, "one", t0.Add(10*time.Second)); !ok || err != nil {
		t.Fatalf("TryLock(one) = %v, %v", ok, err)
	}
	if !renew("one", t0.Add(20*time.Second)) || renew("two", t0.Add(20*time.Second)) {
		t.Fatal("Renew: the holder refused, or another holder renewed")
	}
	f.clock.Set(t0.Add(15 * time.Second)) // past the first lease, within the renewal
	if ok, _ := f.TryLock(f.ctx, name, "two", t0.Add(40*time.Second)); ok {
		t.Fatal("a renewed lease lapsed at its first expiry")
	}
	f.clock.Set(t0.Add(25 * time.Second))
	if !renew("one", t0.Add(30*time.Second)) {
		t.Fatal("a lapsed lease nobody took was not renewed")
	}
	f.clock.Set(t0.Add(31 * time.Second))
	if ok, _ := f.TryLock(f.ctx, name, "two", t0.Add(60*time.Second)); !ok {
		t.Fatal("a lapsed lease was not taken over")
	}
	if renew("one", t0.Add(60*time.Second)) {
		t.Fatal("a lease taken over was renewed for its old holder")
	}
	if err := f.Unlock(f.ctx, name, "two"); err != nil {
		t.Fatal(err)
	}
	if renew("one", t0.Add(60*time.Second)) || renew("two", t0.Add(60*time.Second)) {
		t.Fatal("a released lock was renewed")
	}
}

// A bulk line's commits ride on its job row: the intent's Seq is recorded,
// the outcome makes the row done in the same transaction (and a second
// outcome for the line is refused), and a runner whose hold was taken over
// writes nothing at all.
func testCommitJobStep(t *testing.T, f *fixture) {
	p := f.savePlan(t, tenantA, "ps", portal.PlanCreate, portal.PlanCreate)
	j := f.newJob(t, p)
	if _, ok, err := f.ClaimJob(f.ctx, "first", t0); !ok || err != nil {
		t.Fatalf("ClaimJob = %v, %v", ok, err)
	}
	if rows, err := f.ClaimRows(f.ctx, j.ID, "first", 2); err != nil || len(rows) != 2 {
		t.Fatalf("ClaimRows = %d, %v", len(rows), err)
	}
	it := userItem(tenantA, "ps-line2", "Line 2", "app")
	intent := eventFor(it, portal.ActionGrant)
	intent.Phase, intent.Outcome = portal.PhaseIntent, portal.OutcomePending
	line2 := portal.JobStep{Job: j.ID, Holder: "first", Line: 2}
	stored, _, err := f.Commit(f.ctx, intent, portal.InventoryChange{Step: &line2})
	if err != nil {
		t.Fatalf("intent: %v", err)
	}
	open, err := f.OpenIntents(f.ctx, j.ID, time.Time{}, -1)
	if err != nil || len(open) != 1 || open[0].Seq != stored.Seq || open[0].Line != 2 || open[0].Job != j.ID || open[0].After == nil {
		t.Fatalf("OpenIntents(job) = %+v, %v; want the intent of line 2", open, err)
	}
	if all, err := f.OpenIntents(f.ctx, "", t0.Add(time.Hour), 10); err != nil || len(all) != 0 {
		t.Errorf("OpenIntents(all) = %+v, %v; want none: the job may still settle its own", all, err)
	}

	// The outcome finishes the line with it.
	out := eventFor(it, portal.ActionGrant)
	out.IntentSeq, out.RequestID = stored.Seq, "req-2"
	done := line2
	done.Result = &portal.RowResult{Outcome: portal.OutcomeSuccess, Detail: "Created.", RequestID: "req-2", At: t0}
	if _, _, err := f.Commit(f.ctx, out, portal.InventoryChange{Op: portal.InventoryPut, Item: it, Step: &done}); err != nil {
		t.Fatalf("outcome: %v", err)
	}
	got, err := f.GetJob(f.ctx, tenantA, j.ID)
	if err != nil || got.Outcomes[portal.OutcomeSuccess] != 1 || got.InFlight != 1 {
		t.Fatalf("after the outcome: %+v, %v; want line 2 done (success), line 3 running", got, err)
	}
	if open, err := f.OpenIntents(f.ctx, j.ID, time.Time{}, -1); err != nil || len(open) != 0 {
		t.Errorf("OpenIntents after the outcome = %+v, %v", open, err)
	}
	// The runner's own FinishRow afterwards keeps the outcome; a second
	// outcome of the intent, or of the line, is refused, writing nothing.
	if err := f.FinishRow(f.ctx, j.ID, "first", 2, portal.RowResult{Outcome: portal.OutcomeSuccess, Detail: "Created (refined).", At: t0}); err != nil {
		t.Fatalf("FinishRow after the outcome's commit: %v", err)
	}
	before := f.head(t)
	if _, _, err := f.Commit(f.ctx, out, portal.InventoryChange{Op: portal.InventoryPut, Item: it, Step: &done}); !errors.Is(err, portal.ErrSettled) {
		t.Errorf("a second outcome of the intent: %v, want ErrSettled", err)
	}
	again := eventFor(it, portal.ActionGrant)
	again.Phase = portal.PhaseEvent
	if _, _, err := f.Commit(f.ctx, again, portal.InventoryChange{Step: &done}); portal.ErrorCode(err) != portal.ECONFLICT {
		t.Errorf("a second result for the line: %v, want ECONFLICT", err)
	}
	if f.head(t) != before {
		t.Errorf("refused commits appended audit rows: head %d → %d", before, f.head(t))
	}
	rows, _, err := f.JobRows(f.ctx, tenantA, j.ID, "", 0, -1)
	if err != nil || rows[0].Status != portal.RowDone || rows[0].Outcome != portal.OutcomeSuccess || rows[0].Detail != "Created (refined)." || rows[0].RequestID != "req-2" {
		t.Errorf("line 2 = %+v, %v", rows[0], err)
	}

	// The job is interrupted and resumed elsewhere: the first runner's
	// commit for line 3 is refused whole.
	f.clock.Set(t0.Add(time.Minute))
	if n, err := f.InterruptStale(f.ctx, t0.Add(30*time.Second)); err != nil || n != 1 {
		t.Fatalf("InterruptStale = %d, %v", n, err)
	}
	if _, err := f.ResumeJob(f.ctx, tenantA, j.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := f.ClaimJob(f.ctx, "second", f.clock.Now()); !ok || err != nil {
		t.Fatalf("ClaimJob(second) = %v, %v", ok, err)
	}
	it3 := userItem(tenantA, "ps-line3", "Line 3", "app")
	late := eventFor(it3, portal.ActionGrant)
	late.Phase = portal.PhaseEvent
	stale := portal.JobStep{Job: j.ID, Holder: "first", Line: 3, Result: &portal.RowResult{Outcome: portal.OutcomeSuccess, At: t0}}
	before = f.head(t)
	if _, _, err := f.Commit(f.ctx, late, portal.InventoryChange{Op: portal.InventoryPut, Item: it3, Step: &stale}); portal.ErrorCode(err) != portal.ECONFLICT {
		t.Fatalf("commit of a runner whose hold was taken over: %v, want ECONFLICT", err)
	}
	if _, err := f.GetItem(f.ctx, tenantA, it3.ObjectID); portal.ErrorCode(err) != portal.ENOTFOUND || f.head(t) != before {
		t.Errorf("the refused commit changed something: item %v, audit head %d → %d", err, before, f.head(t))
	}
	// The runner that holds it now finishes the line (a row pending since
	// the resume, not claimed: a resumed job settles such lines first).
	stale.Holder = "second"
	if _, _, err := f.Commit(f.ctx, late, portal.InventoryChange{Op: portal.InventoryPut, Item: it3, Step: &stale}); err != nil {
		t.Fatalf("commit of the runner holding the job: %v", err)
	}
	if got, _ := f.GetJob(f.ctx, tenantA, j.ID); got.Outcomes[portal.OutcomeSuccess] != 2 || got.Pending != 0 {
		t.Errorf("after the second runner's commit: %+v", got)
	}
}

// Intents without an outcome are listed, oldest first, until an outcome
// cites them.
func testOpenIntents(t *testing.T, f *fixture) {
	var seqs []int64
	for i, tag := range []string{"oi1", "oi2", "oi3"} {
		it := userItem(tenantA, tag, tag, "app")
		ev := eventFor(it, portal.ActionGrant)
		ev.Phase, ev.Outcome, ev.Time = portal.PhaseIntent, portal.OutcomePending, t0.Add(time.Duration(i)*time.Minute)
		stored, err := f.AppendAudit(f.ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, stored.Seq)
	}
	out := eventFor(userItem(tenantA, "oi2", "oi2", "app"), portal.ActionGrant)
	out.IntentSeq = seqs[1]
	if _, _, err := f.Commit(f.ctx, out, portal.InventoryChange{}); err != nil {
		t.Fatal(err)
	}
	open, err := f.OpenIntents(f.ctx, "", t0.Add(90*time.Second), 10)
	if err != nil || len(open) != 1 || open[0].Seq != seqs[0] || open[0].Line != 0 || open[0].Job != "" {
		t.Fatalf("OpenIntents(before 90 s) = %+v, %v; want only the first", open, err)
	}
	open, err = f.OpenIntents(f.ctx, "", t0.Add(time.Hour), 10)
	if err != nil || len(open) != 2 || open[0].Seq != seqs[0] || open[1].Seq != seqs[2] {
		t.Fatalf("OpenIntents(all) = %+v, %v; want the first and the third", open, err)
	}
	if _, _, err := f.Commit(f.ctx, out, portal.InventoryChange{}); !errors.Is(err, portal.ErrSettled) {
		t.Errorf("a second outcome: %v, want ErrSettled", err)
	}
	if check := f.verifyChain(t); !check.Intact() {
		t.Errorf("chain: %+v", check)
	} else if _, n := check.OpenIntents(10); n != 2 {
		t.Errorf("the chain check counts %d open intents, the store 2", n)
	}
}
