package access

import (
	"bytes"
	"context"
	"slices"

	"github.com/teamsphone/portal/internal/portal"
)

// RepairRequest resolves one drifted or missing assignment.
type RepairRequest struct {
	ObjectID portal.GUID
	// Version is the inventory version the drift report showed, and Seen
	// the fingerprint of the row it showed (see Seen; "" to skip).
	Version       int64
	Seen          string
	Justification string
}

// DriftReport lists what the last verifications found different in ACS.
type DriftReport struct {
	Drifted []portal.InventoryItem // ACS holds other client IDs or kind (Observed)
	Missing []portal.InventoryItem // ACS holds nothing
	// Spelling lists resource accounts in sync whose principalType ACS
	// spells otherwise than the portal sends it: the same access.
	Spelling []portal.InventoryItem
	// LastRun is the newest reconcile summary of the tenant (nil: none yet).
	LastRun *portal.AuditEvent
	// The lists hold at most maxDriftShown rows each; these count them all.
	DriftedTotal, MissingTotal int
}

// maxDriftShown bounds each list of the report.
const maxDriftShown = 500

// Drift returns the person's tenant's drift report, from the inventory as
// the last verifications left it.
func (s *Reads) Drift(ctx context.Context, who Who) (DriftReport, error) {
	var rep DriftReport
	if err := mayRead(who.User); err != nil {
		return rep, err
	}
	tenant := who.User.TenantID
	err := s.lists.each(ctx, tenant, func(it portal.InventoryItem) {
		switch {
		case it.State == portal.StateDrifted:
			rep.DriftedTotal++
			rep.Drifted = append(rep.Drifted, it)
		case it.State == portal.StateMissing:
			rep.MissingTotal++
			rep.Missing = append(rep.Missing, it)
		case it.State == portal.StateInSync && it.Observed != nil:
			rep.Spelling = append(rep.Spelling, it)
		}
	})
	if err != nil {
		return rep, err
	}
	byObject := func(a, b portal.InventoryItem) int { return bytes.Compare(a.ObjectID[:], b.ObjectID[:]) }
	for _, l := range []*[]portal.InventoryItem{&rep.Drifted, &rep.Missing, &rep.Spelling} {
		slices.SortFunc(*l, byObject)
		if len(*l) > maxDriftShown {
			*l = (*l)[:maxDriftShown]
		}
	}
	rep.LastRun, err = s.LastReconcile(ctx, who)
	return rep, err
}

// LastReconcile returns the summary row of the newest reconcile run over
// the person's tenant (nil: none yet). A page waiting for a run it started
// compares its TenantSeq with the one before: one query, however large
// the inventory.
func (s *Reads) LastReconcile(ctx context.Context, who Who) (*portal.AuditEvent, error) {
	if err := mayRead(who.User); err != nil {
		return nil, err
	}
	last, err := s.store.ListAudit(ctx, portal.AuditFilter{TenantID: who.User.TenantID, Action: portal.ActionReconcile, Limit: 1})
	if err != nil || len(last.Events) == 0 {
		return nil, err
	}
	return &last.Events[0], nil
}

// Reapply writes the inventory's assignment back to ACS over drift (or
// re-creates it when ACS lost it). Like an edit, it refuses when ACS or the
// inventory moved since the report the person saw.
func (s *Changes) Reapply(ctx context.Context, who Who, req RepairRequest) (Result, error) {
	why, err := s.CleanJustification(req.Justification)
	if err != nil {
		return Result{}, err
	}
	tenant := who.User.TenantID
	var res Result
	err = s.withLock(ctx, tenant, req.ObjectID, func(ctx context.Context) error {
		item, err := s.rowToChange(ctx, who, portal.ActionReapply, req.ObjectID, req.Version, req.Seen, nil)
		if err != nil {
			return err
		}
		if item.State != portal.StateDrifted && item.State != portal.StateMissing {
			return portal.Errorf(portal.EINVALID, "The last verification found this assignment in sync with ACS: there is nothing to re-apply.")
		}
		var expected *portal.Assignment // what the report showed ACS to hold
		if item.State == portal.StateDrifted {
			expected = item.Observed
		}
		ev := s.event(who, portal.ActionReapply, item.ObjectID, item.Kind)
		ev.After, ev.Justification = portal.StateOf(item.Assignment, item.Label), why
		if expected != nil {
			ev.Before = portal.StateOf(*expected, item.Label)
		}
		intent, err := s.intent(ctx, ev)
		if err != nil {
			return err
		}
		cur, call, err := s.acs.GetAssignment(ctx, tenant, item.ObjectID)
		missing := portal.ErrorCode(err) == portal.ENOTFOUND
		switch {
		case err != nil && !missing:
			s.outcome(ctx, intent, outcome{result: portal.OutcomeFailed, call: call, err: err})
			return err
		case err == nil && MayChange(who.User, cur.Kind) != nil:
			refusal := MayChange(who.User, cur.Kind)
			s.outcome(ctx, intent, outcome{result: portal.OutcomeDenied, call: call, detail: portal.ErrorMessage(refusal)})
			return refusal
		case !missing && cur.Equal(item.Assignment):
			// ACS holds the inventory's state again (an earlier attempt
			// of this re-apply, or someone outside): nothing to write.
			detail := "ACS already held the inventory's state; recorded as in sync."
			stored, err := s.outcome(ctx, intent, outcome{result: portal.OutcomeNoChange, call: call, detail: detail,
				change: verified(item, portal.StateInSync, nil, s.now())})
			res = Result{Item: stored, Outcome: portal.OutcomeNoChange, Detail: detail, Call: call}
			return err
		case missing != (expected == nil) || !missing && !cur.Equal(*expected):
			s.outcome(ctx, intent, outcome{result: portal.OutcomeConflict, call: call, detail: "ACS changed since the last verification."})
			return conflict("ACS changed again since the report was made. Nothing was written: verify it and try again.", &Conflict{Item: &item, Proposed: item.Assignment})
		}
		_, call, err = s.acs.PutAssignment(ctx, item.Assignment)
		detail := ""
		if err != nil {
			if detail, call, err = s.settle(ctx, intent, tenant, item.ObjectID, &item.Assignment, expected, call, err); err != nil {
				return err
			}
		}
		stored, err := s.outcome(ctx, intent, outcome{result: portal.OutcomeSuccess, call: call, detail: detail,
			change: verified(item, portal.StateInSync, nil, s.now())})
		res = Result{Item: stored, Outcome: portal.OutcomeSuccess, Detail: detail, Call: call}
		return err
	})
	return res, err
}

// Accept takes what ACS holds into the inventory over drift: its client IDs
// (or kind), or, when ACS holds nothing, the row's removal. Nothing is
// written to ACS.
func (s *Changes) Accept(ctx context.Context, who Who, req RepairRequest) (Result, error) {
	why, err := s.CleanJustification(req.Justification)
	if err != nil {
		return Result{}, err
	}
	tenant := who.User.TenantID
	var res Result
	err = s.withLock(ctx, tenant, req.ObjectID, func(ctx context.Context) error {
		item, err := s.rowToChange(ctx, who, portal.ActionAccept, req.ObjectID, req.Version, req.Seen, nil)
		if err != nil {
			return err
		}
		cur, call, err := s.acs.GetAssignment(ctx, tenant, item.ObjectID)
		missing := portal.ErrorCode(err) == portal.ENOTFOUND
		if err != nil && !missing {
			return err
		}
		// Accept only what the report showed ACS to hold.
		if item.State == portal.StateMissing && !missing ||
			item.State == portal.StateDrifted && (missing || item.Observed == nil || !cur.Equal(*item.Observed)) {
			return conflict("ACS changed again since the report was made. Nothing was changed: verify it and try again.", &Conflict{Item: &item, Proposed: item.Assignment})
		}
		ev := s.event(who, portal.ActionAccept, item.ObjectID, item.Kind)
		ev.Phase, ev.Outcome, ev.Justification = portal.PhaseEvent, portal.OutcomeSuccess, why
		ev.Before = portal.StateOf(item.Assignment, item.Label)
		ev.ACSStatus, ev.RequestID, ev.CorrelationVector = call.Status, call.RequestID, call.CorrelationVector
		var change portal.InventoryChange
		switch {
		case missing:
			ev.Detail = withVia("ACS holds no assignment: the inventory row was removed.", who.Via)
			change = portal.InventoryChange{Op: portal.InventoryDelete, Item: item}
		case cur.Kind == portal.KindUnknown:
			return portal.Errorf(portal.EINVALID, "ACS holds a principal type the portal does not know (%q); it cannot be accepted.", cur.Spelling)
		default:
			if err := MayChange(who.User, cur.Kind); err != nil {
				s.denied(ctx, who, portal.ActionAccept, item.ObjectID, cur.Kind, err)
				return err
			}
			cur.Spelling = ""
			now := s.now()
			next := item
			next.Assignment, next.UpdatedAt, next.UpdatedBy = cur, now, who.actor()
			next.State, next.VerifiedAt, next.Observed = portal.StateInSync, now, nil
			ev.Kind, ev.After = cur.Kind, portal.StateOf(cur, item.Label)
			ev.Detail = withVia("The inventory now records what ACS holds.", who.Via)
			change = portal.InventoryChange{Op: portal.InventoryPut, Item: next}
		}
		_, stored, err := s.commit(ctx, ev, change)
		if err != nil {
			return auditFailed(err)
		}
		res = Result{Item: stored, Outcome: portal.OutcomeSuccess, Detail: ev.Detail, Call: call}
		return nil
	})
	return res, err
}
