package access

import (
	"context"
	"errors"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// An intent that no outcome cites is a change whose end was never recorded:
// its instance was killed, or paused past its lease (then fencing refused
// its outcome; see commit). ACS may or may not have applied it. Settling it
// is what the change itself would have done had it finished: a GET decides,
// and an outcome row citing the intent records it, with the inventory made
// what ACS holds — in the assignment's lock, so no live change races it,
// and fenced like any commit, so a change that wakes up later cannot
// record a second outcome (the store refuses an outcome for an intent
// already settled).

// SettleIntents settles the intents that have stayed open longer than a
// lease (LockTTL), of every tenant — changes of people, of the background
// jobs, and of bulk jobs that will not go on (cancelled) — except those of
// bulk jobs that may still resume, which settle their own (SettleJob). An
// intent whose assignment is locked right now, or whose GET fails, stays
// open for the next sweep. It reports how many it settled.
func (s *Changes) SettleIntents(ctx context.Context) (int, error) {
	open, err := s.store.OpenIntents(ctx, "", s.now().Add(-s.lockTTL), 500)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, in := range open {
		if _, err := s.settleIntent(ctx, in, nil); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// SettleJob settles the intents the lines of job that are not done left
// open, as the runner that holds the job now (holder), before it tries any
// line again: a line whose change ACS turns out to hold is done, as a
// success, with the outcome that settles its intent (one outcome for the
// line, in the results what really happened); a line whose change ACS does
// not hold stays to be applied, its intent settled as not applied. A line
// whose assignment stays locked (its lease has not lapsed yet) is waited
// for up to a lease. It reports how many lines it found done.
func (s *Changes) SettleJob(ctx context.Context, job portal.Job, holder string) (int, error) {
	open, err := s.store.OpenIntents(ctx, job.ID, time.Time{}, -1)
	if err != nil {
		return 0, err
	}
	done := 0
	var errs []error
	for _, in := range open {
		step := &portal.JobStep{Job: job.ID, Holder: holder, Line: in.Line}
		deadline := time.Now().Add(s.lockTTL)
		for {
			applied, err := s.settleIntent(ctx, in, step)
			if errors.Is(err, ErrBusy) && time.Now().Before(deadline) && ctx.Err() == nil {
				continue // withLock waited LockWait already
			}
			if err != nil {
				errs = append(errs, err)
			} else if applied {
				done++
			}
			break
		}
	}
	return done, errors.Join(errs...)
}

// settleIntent settles one open intent and reports whether ACS holds its
// change. step, for a bulk job's line, is done with the outcome when it
// does.
func (s *Changes) settleIntent(ctx context.Context, in portal.OpenIntent, step *portal.JobStep) (bool, error) {
	intent := in.AuditEvent
	tenant, object := intent.TenantID, intent.ObjectID
	var applied bool
	err := s.withLock(ctx, tenant, object, func(ctx context.Context) error {
		if step != nil {
			ctx = context.WithValue(ctx, stepKey{}, lineStep{step: *step, via: intent.Detail})
		}
		want, ok := intended(intent)
		if !ok {
			// Nothing the portal could have sent: record that, and leave
			// the inventory alone.
			_, err := s.recordOutcome(ctx, intent, outcome{result: portal.OutcomeFailed, again: true,
				detail: "Settled after the portal instance making this change stopped or stalled: the change could not be read back, so it was not checked with ACS."})
			return err
		}
		cur, call, err := s.acs.GetAssignment(ctx, tenant, object)
		missing := portal.ErrorCode(err) == portal.ENOTFOUND
		if err != nil && !missing {
			return err // ACS cannot tell now: the next sweep asks again
		}
		item, err := s.store.GetItem(ctx, tenant, object)
		known := err == nil
		if err != nil && portal.ErrorCode(err) != portal.ENOTFOUND {
			return err
		}
		now := s.now()
		applied = want == nil && missing || want != nil && !missing && cur.Equal(*want)
		var change portal.InventoryChange
		switch {
		case applied && want == nil && known:
			change = portal.InventoryChange{Op: portal.InventoryDelete, Item: item}
		case applied && want != nil:
			next := item
			if !known {
				next = portal.InventoryItem{CreatedAt: now, CreatedBy: intent.Actor}
			}
			next.Assignment, next.Label = *want, intent.After.Label
			next.ExpiresAt, _ = time.Parse(portal.AuditTimeFormat, intent.After.ExpiresAt)
			next.UpdatedAt, next.UpdatedBy = now, intent.Actor
			next.State, next.VerifiedAt, next.Observed = portal.StateInSync, now, nil
			change = portal.InventoryChange{Op: portal.InventoryPut, Item: next}
		case known && missing:
			change = verified(item, portal.StateMissing, nil, now)
		case known && cur.Equal(item.Assignment):
			change = verified(item, portal.StateInSync, nil, now)
		case known:
			change = verified(item, portal.StateDrifted, &cur, now)
		}
		o := outcome{result: portal.OutcomeSuccess, call: call, change: change,
			detail: "Settled after the portal instance making this change stopped or stalled: a GET shows ACS holds the change."}
		if !applied {
			// The line (if any) is applied again: this outcome ends the
			// intent, not the line.
			o.result, o.again = portal.OutcomeFailed, true
			o.detail = "Not applied: a GET shows ACS does not hold this change (settled after the portal instance making it stopped or stalled)."
		}
		_, err = s.recordOutcome(ctx, intent, o)
		return err
	})
	return applied, err
}

// intended is the assignment an intent asked ACS to hold (nil: none, a
// revoke), and false when the intent does not say (a row changed behind
// the portal's back).
func intended(intent portal.AuditEvent) (*portal.Assignment, bool) {
	if intent.After == nil {
		return nil, intent.Action == portal.ActionRevoke
	}
	kind, err := portal.ParsePrincipalKind(intent.After.Kind)
	if err != nil {
		return nil, false
	}
	a := portal.Assignment{TenantID: intent.TenantID, ObjectID: intent.ObjectID, Kind: kind}
	for _, v := range intent.After.ClientIDs {
		id, err := portal.ParseGUID(v)
		if err != nil {
			return nil, false
		}
		a.ClientIDs = append(a.ClientIDs, id)
	}
	a.ClientIDs = portal.NormalizeClientIDs(a.ClientIDs)
	return &a, true
}
