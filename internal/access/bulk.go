package access

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// ApplyRow applies one row of a bulk job with the use case its class names,
// as the person who applied the job (who, with the job's justification),
// and says what it did.
//
// A row tried before — retried after ACS failed, or left running by an
// instance that died — is first settled against the inventory: if it shows
// the row applied (by someone else meanwhile: an attempt of this job that
// completed finished its row with it), the row is done as no_change and
// nothing is written again.
// Otherwise the use cases settle with ACS themselves: a grant GETs before
// writing (so an earlier PUT that did land is recorded, not repeated),
// an edit or repair compares the version the plan saw, and a DELETE of
// what is gone is a success.
//
// retry is true when ACS was throttled or unavailable, or another change
// held the assignment: the row is worth trying again later (res.RetryAfter
// is how long ACS asked the portal to wait, if it said). final says the
// caller will not: a row refused before anything was written gets an audit
// row of its own when it will not be tried again.
//
// With who.Step set, the row's job row is done in the same transaction as
// the audit row that ends it (see commit): an instance killed at any
// moment leaves the line either done with its one outcome, or not done,
// with at most an intent open, which the resumed job settles first
// (SettleJob).
func (s *Changes) ApplyRow(ctx context.Context, who Who, why string, row portal.JobRow, again, final bool) (res portal.RowResult, retry bool) {
	res.At = s.now()
	if who.Step != nil {
		ctx = context.WithValue(ctx, stepKey{}, lineStep{step: *who.Step, via: who.Via})
	}
	if again {
		if detail, done := s.alreadyApplied(ctx, who, row); done {
			// Settled without a call: the row still gets its record.
			res.Outcome, res.Detail = portal.OutcomeNoChange, detail
			ev := s.event(who, rowActions[row.Class], row.ObjectID, row.Kind)
			ev.Phase, ev.Outcome, ev.Justification, ev.Detail = portal.PhaseEvent, res.Outcome, why, withVia(detail, who.Via)
			if _, _, err := s.commit(ctx, ev, portal.InventoryChange{}); err != nil {
				// Unrecorded, the row is not settled: try it again later.
				res.Outcome, res.Detail = portal.OutcomeUnknown, portal.ErrorMessage(auditFailed(err))
				return res, true
			}
			return res, false
		}
	}
	var before portal.InventoryItem
	if row.Before != nil {
		before = *row.Before
	}
	var recorded atomic.Int32
	c := s.recording(&recorded)
	var r Result
	var err error
	switch row.Class {
	case portal.PlanCreate:
		r, err = c.Grant(ctx, who, GrantRequest{ObjectID: row.ObjectID, Kind: row.Kind, ClientIDs: row.ClientIDs, Label: row.Label,
			ExpiresAt: row.ExpiresAt, Justification: why, Unchecked: !again})
	case portal.PlanUpdate:
		r, err = c.Edit(ctx, who, EditRequest{ObjectID: row.ObjectID, ClientIDs: row.ClientIDs, Label: row.Label, ExpiresAt: row.ExpiresAt,
			Version: before.Version, Seen: Seen(before), Justification: why})
	case portal.PlanRevoke:
		r, err = c.revokeRow(ctx, who, RevokeRequest{ObjectID: row.ObjectID, Version: before.Version, Seen: Seen(before), Justification: why})
	case portal.PlanAdopt:
		r, err = c.Adopt(ctx, who, AdoptRequest{ObjectID: row.ObjectID, Label: row.Label, Justification: why})
	case portal.PlanReapply:
		r, err = c.Reapply(ctx, who, RepairRequest{ObjectID: row.ObjectID, Version: before.Version, Seen: Seen(before), Justification: why})
	case portal.PlanAccept:
		r, err = c.Accept(ctx, who, RepairRequest{ObjectID: row.ObjectID, Version: before.Version, Seen: Seen(before), Justification: why})
	default:
		err = portal.Errorf(portal.EINVALID, "This row cannot be applied (%s).", row.Class)
	}
	res.At, res.RequestID = s.now(), r.Call.RequestID
	if err == nil {
		res.Outcome, res.Detail = r.Outcome, lineDetail(r.Detail, r.Created)
		return res, false
	}
	res.Detail = portal.ErrorMessage(err)
	switch code := portal.ErrorCode(err); {
	case code == portal.ECONFLICT:
		res.Outcome, retry = portal.OutcomeConflict, errors.Is(err, ErrBusy)
	case code == portal.EFORBIDDEN:
		res.Outcome = portal.OutcomeDenied
	case worthRetrying(err):
		// ACS (or the database) failed or may have applied it: unknown
		// until a later attempt settles it.
		res.Outcome, retry = portal.OutcomeUnknown, true
		res.RetryAfter = portal.RetryAfter(err)
	default:
		res.Outcome = portal.OutcomeFailed
	}
	if recorded.Load() == 0 && (!retry || final) {
		// Refused before anything was written (a stale version, a row
		// the inventory no longer has, …): the row still gets its record.
		ev := s.event(who, rowActions[row.Class], row.ObjectID, row.Kind)
		ev.Phase, ev.Outcome, ev.Justification, ev.Detail = portal.PhaseEvent, res.Outcome, why, withVia(res.Detail, who.Via)
		if _, _, err := s.commit(ctx, ev, portal.InventoryChange{}); err != nil {
			s.log.ErrorContext(ctx, "audit write failed", "event", "bulk.row", "err", err)
		}
	}
	return res, retry
}

// lineDetail is what a bulk line's result says of a change that ended
// with detail: "Created." for an assignment ACS created, when nothing more
// is to be said.
func lineDetail(detail string, created bool) string {
	if detail == "" && created {
		return "Created."
	}
	return detail
}

// rowActions is the audit action of each class of bulk row.
var rowActions = map[portal.PlanClass]portal.AuditAction{
	portal.PlanCreate: portal.ActionGrant, portal.PlanUpdate: portal.ActionEdit, portal.PlanRevoke: portal.ActionRevoke,
	portal.PlanAdopt: portal.ActionAdopt, portal.PlanReapply: portal.ActionReapply, portal.PlanAccept: portal.ActionAccept,
}

// alreadyApplied reports whether the inventory shows that an earlier attempt
// of row completed.
func (s *Changes) alreadyApplied(ctx context.Context, who Who, row portal.JobRow) (string, bool) {
	const detail = "The inventory already shows this row applied (by an earlier attempt, or by someone else meanwhile): nothing was written again."
	item, err := s.store.GetItem(ctx, who.User.TenantID, row.ObjectID)
	gone := portal.ErrorCode(err) == portal.ENOTFOUND
	if err != nil && !gone {
		return "", false
	}
	moved := row.Before != nil && !gone && item.Version != row.Before.Version
	switch row.Class {
	case portal.PlanCreate, portal.PlanUpdate:
		want := portal.Assignment{TenantID: who.User.TenantID, ObjectID: row.ObjectID, Kind: row.Kind, ClientIDs: row.ClientIDs}
		if row.Class == portal.PlanUpdate && row.Before != nil {
			want.Kind = row.Before.Kind
		}
		return detail, !gone && (row.Before == nil || moved) && item.Equal(want) && item.Label == row.Label &&
			item.ExpiresAt.Truncate(time.Minute).Equal(row.ExpiresAt.Truncate(time.Minute))
	case portal.PlanRevoke:
		return detail, gone
	case portal.PlanAdopt:
		return detail, !gone
	case portal.PlanReapply:
		return detail, moved && item.State == portal.StateInSync && item.Equal(row.Before.Assignment)
	case portal.PlanAccept:
		// Accepting made the inventory what ACS held at the report: the
		// row's removal, or exactly what was observed.
		switch {
		case row.Before == nil:
			return "", false
		case row.Before.State == portal.StateMissing:
			return detail, gone
		}
		return detail, moved && item.State == portal.StateInSync && row.Before.Observed != nil && item.Equal(*row.Before.Observed)
	}
	return "", false
}

// ACSCallsAllowed returns how many of a bulk job's calls the ACS adapter
// lets in flight now, when it says (the ACS client adapts it to ACS's
// answers), or 8, the fixed bound it had before, when it does not (a
// fake). The bulk runner sizes its rows in flight by it.
func (s *Changes) ACSCallsAllowed() int {
	if a, ok := s.acs.(interface{ CallsAllowed() int }); ok {
		return max(1, a.CallsAllowed())
	}
	return 8
}
