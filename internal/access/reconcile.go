package access

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// ReconcileReport is what one reconcile run found.
type ReconcileReport struct {
	Started, Finished time.Time
	Checked           int // assignments compared with ACS
	InSync            int
	Drifted           int
	Missing           int
	Changed           int // assignments whose state changed (each audited)
	Failed            int // ACS did not answer for them; their state is unchanged
	Skipped           int // changed by someone while being checked
}

// Duration is how long the run took.
func (r ReconcileReport) Duration() time.Duration { return r.Finished.Sub(r.Started) }

func (r ReconcileReport) String() string {
	return fmt.Sprintf("checked %d: %d in sync, %d drifted, %d missing; %d changed state, %d failed, %d skipped",
		r.Checked, r.InSync, r.Drifted, r.Missing, r.Changed, r.Failed, r.Skipped)
}

// reconcileWorkers is how many ACS calls a reconcile keeps in flight: the
// ACS client's own bound (8), so the run neither waits on itself nor
// starves other callers for long.
const reconcileWorkers = 8

// Reconcile compares every inventoried assignment of tenant (the zero GUID:
// of every tenant) with ACS, with bounded concurrency, and records what it
// finds. A row whose state changes (in sync → drifted, → missing, or back)
// gets an audit row; a row found as it was only gets its verification time,
// so a daily run does not bury the audit log. Each tenant's run ends with a
// summary audit row. Rows changed by someone while being checked are
// skipped, never overwritten. who is the job's (system) identity.
func (s *Changes) Reconcile(ctx context.Context, who Who, tenant portal.GUID) (ReconcileReport, error) {
	rep := ReconcileReport{Started: s.now()}
	// Collect first: a read held open across ACS calls would stop SQLite
	// from checkpointing its log.
	var items []portal.InventoryItem
	if err := s.store.AllItems(ctx, tenant, func(it portal.InventoryItem) error {
		items = append(items, it)
		return nil
	}); err != nil {
		return rep, err
	}
	ctx, cancel := context.WithCancel(ctx)
	type result struct {
		item     portal.InventoryItem
		state    portal.VerifyState
		observed *portal.Assignment
		call     portal.ACSCall
		err      error
	}
	jobs := make(chan portal.InventoryItem)
	results := make(chan result)
	var wg sync.WaitGroup
	for range reconcileWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range jobs {
				cur, call, err := s.acs.GetAssignment(ctx, it.TenantID, it.ObjectID)
				r := result{item: it, call: call}
				switch {
				case portal.ErrorCode(err) == portal.ENOTFOUND:
					r.state = portal.StateMissing
				case err != nil:
					r.err = err
				case cur.Equal(it.Assignment):
					r.state = portal.StateInSync
					if s.spellingDiffers(cur) {
						r.observed = &cur
					}
				default:
					r.state, r.observed = portal.StateDrifted, &cur
				}
				results <- r
			}
		}()
	}
	go func() {
		defer close(jobs)
		for _, it := range items {
			select {
			case jobs <- it:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()
	// However this returns, stop the workers and let them finish.
	defer func() {
		cancel()
		for range results {
		}
	}()

	now := s.now()
	touched := map[portal.GUID]map[portal.GUID]int64{} // tenant → object → version
	perTenant := map[portal.GUID]*ReconcileReport{}
	for r := range results {
		t := perTenant[r.item.TenantID]
		if t == nil {
			t = &ReconcileReport{}
			perTenant[r.item.TenantID] = t
		}
		if r.err != nil {
			rep.Failed++
			t.Failed++
			continue
		}
		rep.Checked++
		t.Checked++
		switch r.state {
		case portal.StateInSync:
			rep.InSync++
			t.InSync++
		case portal.StateDrifted:
			rep.Drifted++
			t.Drifted++
		case portal.StateMissing:
			rep.Missing++
			t.Missing++
		}
		if r.state == r.item.State && sameObserved(r.observed, r.item.Observed) {
			if touched[r.item.TenantID] == nil {
				touched[r.item.TenantID] = map[portal.GUID]int64{}
			}
			touched[r.item.TenantID][r.item.ObjectID] = r.item.Version
			continue
		}
		ev := s.event(who, portal.ActionVerify, r.item.ObjectID, r.item.Kind)
		ev.Phase, ev.Outcome, ev.Detail = portal.PhaseEvent, portal.OutcomeSuccess, stateChange(r.item.State, r.state)
		ev.Before = portal.StateOf(r.item.Assignment, r.item.Label)
		if r.observed != nil {
			ev.After = portal.StateOf(*r.observed, r.item.Label)
		}
		ev.TenantID = r.item.TenantID
		ev.ACSStatus, ev.RequestID, ev.CorrelationVector = r.call.Status, r.call.RequestID, r.call.CorrelationVector
		change := verified(r.item, r.state, r.observed, now)
		change.IfVersion = r.item.Version
		switch _, _, err := s.store.Commit(ctx, ev, change); {
		case err == nil:
			rep.Changed++
			t.Changed++
		case portal.ErrorCode(err) == portal.ECONFLICT || portal.ErrorCode(err) == portal.ENOTFOUND:
			rep.Skipped++
			t.Skipped++
		default:
			return rep, err
		}
	}
	if err := ctx.Err(); err != nil {
		return rep, portal.Wrap(err, portal.EUNAVAILABLE, "The reconcile run was stopped before it finished.")
	}
	tenants := make([]portal.GUID, 0, len(perTenant))
	for t := range perTenant {
		tenants = append(tenants, t)
	}
	sort.Slice(tenants, func(i, j int) bool { return tenants[i].String() < tenants[j].String() })
	for _, t := range tenants {
		if err := s.store.TouchVerified(ctx, t, touched[t], now); err != nil {
			return rep, err
		}
		// The summary row also tells every instance's list index to
		// reload: verification times changed without rows of their own.
		sum := who
		sum.User.TenantID = t
		ev := s.event(sum, portal.ActionReconcile, portal.GUID{}, portal.KindUnknown)
		ev.Phase, ev.Outcome, ev.Detail = portal.PhaseEvent, portal.OutcomeSuccess, perTenant[t].String()
		if perTenant[t].Failed > 0 {
			ev.Outcome = portal.OutcomeFailed
		}
		if _, err := s.store.AppendAudit(ctx, ev); err != nil {
			return rep, auditFailed(err)
		}
	}
	rep.Finished = s.now()
	return rep, nil
}

// spellingDiffers reports whether ACS spells a resource account's
// principalType otherwise than the portal sends it: the same access, but
// worth showing (the API's spec and its docs disagree on the spelling).
func (s *Changes) spellingDiffers(cur portal.Assignment) bool {
	want := s.spelling
	if want == "" {
		want = "teamsResourceAccount"
	}
	return cur.Kind == portal.KindResourceAccount && cur.Spelling != "" && cur.Spelling != want
}

func sameObserved(a, b *portal.Assignment) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b) && a.Spelling == b.Spelling
}

func stateChange(from, to portal.VerifyState) string {
	if from == "" {
		from = portal.StateUnverified
	}
	return "Reconcile: " + from.Label() + " → " + to.Label()
}
