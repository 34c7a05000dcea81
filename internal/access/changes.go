package access

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// Changes are the use cases that change access, each following the flow
// of one change (see the package comment): grant, edit, revoke, adopt,
// verify, re-apply and accept over drift, a bulk job's rows, expiry and
// reconcile.
type Changes struct {
	core
	acs   portal.ACS
	store changeStore
	// lockWait and lockTTL: see Config.LockWait and Config.LockTTL.
	lockWait, lockTTL time.Duration
	// spelling is Config.ResourceAccountSpelling.
	spelling string
	expiry   *expiryBackoff
}

// recording is s counting into n every audit row its use cases write, for
// a caller that must know whether a refused change left any record.
func (s *Changes) recording(n *atomic.Int32) *Changes {
	c := *s
	c.recorded = n
	return &c
}

// GrantRequest asks for a new assignment.
type GrantRequest struct {
	ObjectID      portal.GUID
	Kind          portal.PrincipalKind
	ClientIDs     []portal.GUID // normalised; none for a resource account
	Label         string
	Justification string
	// ExpiresAt, when set, ends the access by itself (time-boxed access).
	ExpiresAt time.Time
	// Unchecked skips the GET that makes sure ACS holds nothing the
	// inventory does not know, halving the calls of a bulk create. Only an
	// admin's request may skip it (a helpdesk write could otherwise replace
	// a resource account); if ACS did hold an assignment, the PUT replaced
	// it and the outcome says so.
	Unchecked bool
}

// EditRequest replaces a user assignment's client IDs (and its label).
type EditRequest struct {
	ObjectID  portal.GUID
	ClientIDs []portal.GUID
	Label     string
	// ExpiresAt replaces the expiry (zero: none).
	ExpiresAt time.Time
	// Version is the inventory version the person's page showed, and
	// Seen the fingerprint of the row it showed (see Seen; "" to skip).
	Version       int64
	Seen          string
	Justification string
}

// RevokeRequest deletes an assignment.
type RevokeRequest struct {
	ObjectID      portal.GUID
	Version       int64
	Seen          string
	Justification string
}

// AdoptRequest takes an assignment that ACS holds into the inventory.
type AdoptRequest struct {
	ObjectID      portal.GUID
	Label         string
	Justification string
}

// Grant writes a new assignment to ACS and records it. It refuses (ECONFLICT)
// when the inventory already has the object, or when ACS already holds an
// assignment for it that the inventory does not know: that one must be
// adopted first, so nobody overwrites access they have not seen.
func (s *Changes) Grant(ctx context.Context, who Who, req GrantRequest) (Result, error) {
	a, label, why, err := s.grantInput(who, req)
	if err != nil {
		return Result{}, err
	}
	if err := MayChange(who.User, a.Kind); err != nil {
		s.denied(ctx, who, portal.ActionGrant, a.ObjectID, a.Kind, err)
		return Result{}, err
	}
	var res Result
	err = s.withLock(ctx, a.TenantID, a.ObjectID, func(ctx context.Context) error {
		item, err := s.store.GetItem(ctx, a.TenantID, a.ObjectID)
		if err == nil {
			return conflict("The inventory already has an assignment for this object: edit it instead.", &Conflict{Item: &item, Proposed: a})
		}
		if portal.ErrorCode(err) != portal.ENOTFOUND {
			return err
		}
		now := s.now()
		granted := portal.InventoryItem{Assignment: a, Label: label, CreatedAt: now, CreatedBy: who.actor(), UpdatedAt: now, UpdatedBy: who.actor(),
			State: portal.StateInSync, VerifiedAt: now, ExpiresAt: req.ExpiresAt}
		ev := s.event(who, portal.ActionGrant, a.ObjectID, a.Kind)
		ev.After, ev.Justification = portal.StateOfItem(granted), why
		intent, err := s.intent(ctx, ev)
		if err != nil {
			return err
		}
		if !req.Unchecked || !who.User.Has(portal.RoleAdmin) {
			cur, call, err := s.acs.GetAssignment(ctx, a.TenantID, a.ObjectID)
			switch {
			case err == nil && cur.Equal(a):
				// Nothing to write, and nothing anyone has not seen is
				// taken over: ACS holds exactly what was asked for (an
				// earlier attempt of this grant, or the same made outside).
				detail := "ACS already held exactly this assignment; the inventory now records it."
				stored, err := s.outcome(ctx, intent, outcome{result: portal.OutcomeNoChange, call: call, detail: detail, change: portal.InventoryChange{Op: portal.InventoryPut, Item: granted}})
				res = Result{Item: stored, Outcome: portal.OutcomeNoChange, Detail: detail, Call: call}
				return err
			case err == nil:
				s.outcome(ctx, intent, outcome{result: portal.OutcomeConflict, call: call, detail: "ACS already holds an assignment the inventory does not know."})
				return conflict("ACS already holds an assignment for this object that the inventory does not know. Look it up and adopt it, then edit it.", &Conflict{ACS: &cur, Proposed: a})
			case portal.ErrorCode(err) != portal.ENOTFOUND:
				s.outcome(ctx, intent, outcome{result: portal.OutcomeFailed, call: call, err: err})
				return err
			}
		}
		created, call, err := s.acs.PutAssignment(ctx, a)
		detail := ""
		if err != nil {
			if detail, call, err = s.settle(ctx, intent, a.TenantID, a.ObjectID, &a, nil, call, err); err != nil {
				return err
			}
		} else if !created && req.Unchecked {
			detail = "ACS already held an assignment for this object that the inventory did not know (made outside the portal); it was replaced by this one."
		} else if !created {
			detail = "ACS already held an assignment for this object (made outside the portal meanwhile); it was replaced."
		}
		granted.UpdatedAt, granted.VerifiedAt = s.now(), s.now()
		stored, err := s.outcome(ctx, intent, outcome{result: portal.OutcomeSuccess, call: call, detail: detail, change: portal.InventoryChange{Op: portal.InventoryPut, Item: granted}})
		res = Result{Item: stored, Outcome: portal.OutcomeSuccess, Created: created, Detail: detail, Call: call}
		return err
	})
	return res, err
}

// CheckGrant reports every problem of req that can be seen without the
// inventory or ACS (fields, texts, the assignment's shape, the expiry), as
// EINVALID errors naming their fields joined (portal.Problems); nil when
// there is none. Grant checks the same first; forms ask it to show every
// problem at once, beside problems of their own (an unreadable ID).
func (s *Changes) CheckGrant(who Who, req GrantRequest) error {
	_, _, _, err := s.grantInput(who, req)
	return err
}

// grantInput is req checked: the assignment it asks for, its label and
// justification.
func (s *Changes) grantInput(who Who, req GrantRequest) (a portal.Assignment, label, why string, err error) {
	a = portal.Assignment{TenantID: who.User.TenantID, ObjectID: req.ObjectID, Kind: req.Kind, ClientIDs: portal.NormalizeClientIDs(req.ClientIDs)}
	label, labelErr := portal.CleanLabel(req.Label)
	why, whyErr := s.CleanJustification(req.Justification)
	err = errors.Join(labelErr, whyErr, a.Validate(), s.checkExpiry(req.ExpiresAt))
	return a, label, why, err
}

// CheckEdit reports the problems of req for a row of kind, as CheckGrant
// does: its texts, and its client IDs by the rules of that kind. An
// expiry is checked against the row, by Edit.
func (s *Changes) CheckEdit(req EditRequest, kind portal.PrincipalKind) error {
	ids, _, _, err := s.editInput(req)
	return errors.Join(err, kind.CheckClientIDs(ids))
}

// editInput is req's texts checked, and its client IDs normalised (whether
// they fit is for the row's kind to say).
func (s *Changes) editInput(req EditRequest) (ids []portal.GUID, label, why string, err error) {
	label, labelErr := portal.CleanLabel(req.Label)
	why, whyErr := s.CleanJustification(req.Justification)
	return portal.NormalizeClientIDs(req.ClientIDs), label, why, errors.Join(labelErr, whyErr)
}

// CheckAdopt reports the problems of req's label and justification, as
// CheckGrant does.
func (s *Changes) CheckAdopt(req AdoptRequest) error {
	_, _, err := s.adoptInput(req)
	return err
}

func (s *Changes) adoptInput(req AdoptRequest) (label, why string, err error) {
	label, labelErr := portal.CleanLabel(req.Label)
	why, whyErr := s.CleanJustification(req.Justification)
	return label, why, errors.Join(labelErr, whyErr)
}

// Edit replaces a user assignment's client IDs: it re-reads ACS, refuses
// (ECONFLICT, nothing changed) if the inventory moved past req.Version or ACS
// no longer matches the inventory, and otherwise PUTs the whole assignment.
// The same list again is a no-op, audited as no_change.
//
// A change of the end date or the label alone (the same apps, on a row
// whose last verification found ACS as the inventory records it) is the
// portal's own: it is recorded as one edit_inventory event with its before
// and after, and ACS is not called. (On a drifted or missing row, saving
// writes the inventory's apps to ACS, as an edit of the apps does.)
func (s *Changes) Edit(ctx context.Context, who Who, req EditRequest) (Result, error) {
	ids, label, why, err := s.editInput(req)
	if err != nil {
		return Result{}, err
	}
	tenant := who.User.TenantID
	var res Result
	err = s.withLock(ctx, tenant, req.ObjectID, func(ctx context.Context) error {
		proposal := portal.Assignment{TenantID: tenant, ObjectID: req.ObjectID, Kind: portal.KindUser, ClientIDs: ids}
		item, err := s.rowToChange(ctx, who, portal.ActionEdit, req.ObjectID, req.Version, req.Seen, &proposal)
		if err != nil {
			return err
		}
		// Forms show expiries to the minute: the same minute is no change.
		if req.ExpiresAt.Truncate(time.Minute).Equal(item.ExpiresAt.Truncate(time.Minute)) {
			req.ExpiresAt = item.ExpiresAt
		} else if err := s.checkExpiry(req.ExpiresAt); err != nil {
			return err
		}
		if err := item.Kind.CheckClientIDs(proposal.ClientIDs); err != nil {
			return err
		}
		proposed := item.Assignment
		proposed.ClientIDs = proposal.ClientIDs
		next := item
		next.Assignment, next.Label, next.ExpiresAt = proposed, label, req.ExpiresAt
		before, after := portal.StateOfItem(item), portal.StateOfItem(next)
		change := portal.CompareStates(before, after)
		if change.InventoryOnly() && item.State != portal.StateDrifted && item.State != portal.StateMissing {
			res, err = s.editInventory(ctx, who, item, next, change, why)
			return err
		}
		ev := s.event(who, portal.ActionEdit, item.ObjectID, item.Kind)
		ev.Before, ev.After, ev.Justification = before, after, why
		intent, err := s.intent(ctx, ev)
		if err != nil {
			return err
		}
		// What the person's page showed ACS to hold: the inventory's state,
		// or what the last verification found when it found drift (then
		// saving repairs it), or nothing when it found the assignment gone
		// (then saving grants it again).
		expected := &item.Assignment
		switch {
		case item.State == portal.StateDrifted && item.Observed != nil:
			expected = item.Observed
		case item.State == portal.StateMissing:
			expected = nil
		}
		cur, call, err := s.acs.GetAssignment(ctx, tenant, item.ObjectID)
		missing := portal.ErrorCode(err) == portal.ENOTFOUND
		switch {
		case missing && expected != nil:
			s.outcome(ctx, intent, outcome{result: portal.OutcomeConflict, call: call, detail: "ACS holds no assignment.", change: verified(item, portal.StateMissing, nil, s.now())})
			return conflict("ACS no longer holds this assignment (it was removed outside the portal). Nothing was changed.", &Conflict{Item: &item, Proposed: proposed})
		case err != nil && !missing:
			s.outcome(ctx, intent, outcome{result: portal.OutcomeFailed, call: call, err: err})
			return err
		case err == nil && MayChange(who.User, cur.Kind) != nil:
			refusal := MayChange(who.User, cur.Kind)
			s.outcome(ctx, intent, outcome{result: portal.OutcomeDenied, call: call, detail: portal.ErrorMessage(refusal)})
			return refusal
		case err == nil && (expected == nil || !cur.Equal(*expected)) && !cur.Equal(proposed):
			// (ACS holding exactly the proposal is no conflict: nothing
			// anyone made is overwritten, and it is recorded below — an
			// earlier attempt of this very edit, say, that was not.)
			s.outcome(ctx, intent, outcome{result: portal.OutcomeConflict, call: call, detail: "ACS differs from what the page showed.", change: verified(item, portal.StateDrifted, &cur, s.now())})
			return conflict("ACS holds something different from what the portal recorded (it was changed outside the portal). Nothing was changed: review what ACS holds now and try again.", &Conflict{Item: &item, ACS: &cur, Proposed: proposed})
		}
		now := s.now()
		next.UpdatedAt, next.UpdatedBy = now, who.actor()
		next.State, next.VerifiedAt, next.Observed = portal.StateInSync, now, nil
		if !missing && cur.Equal(proposed) {
			// Nothing to write to ACS. The inventory still changes when the
			// label did, or when it had drifted and the person chose what
			// ACS holds.
			inv, detail := verified(item, portal.StateInSync, nil, now), "ACS already held exactly these calling-client apps."
			switch {
			case !item.Equal(proposed):
				inv, detail = portal.InventoryChange{Op: portal.InventoryPut, Item: next}, "ACS already held exactly these calling-client apps; the inventory now records them."
			case label != item.Label || !next.ExpiresAt.Equal(item.ExpiresAt):
				inv, detail = portal.InventoryChange{Op: portal.InventoryPut, Item: next}, "Only the label or the expiry changed; ACS already held exactly these calling-client apps."
			}
			stored, err := s.outcome(ctx, intent, outcome{result: portal.OutcomeNoChange, call: call, detail: detail, change: inv})
			res = Result{Item: stored, Outcome: portal.OutcomeNoChange, Detail: detail, Call: call, Action: portal.ActionEdit, Change: change}
			return err
		}
		_, call, err = s.acs.PutAssignment(ctx, proposed)
		detail := ""
		if err != nil {
			var before *portal.Assignment
			if !missing {
				before = &cur
			}
			if detail, call, err = s.settle(ctx, intent, tenant, item.ObjectID, &proposed, before, call, err); err != nil {
				return err
			}
		}
		stored, err := s.outcome(ctx, intent, outcome{result: portal.OutcomeSuccess, call: call, detail: detail, change: portal.InventoryChange{Op: portal.InventoryPut, Item: next}})
		res = Result{Item: stored, Outcome: portal.OutcomeSuccess, Detail: detail, Call: call, Action: portal.ActionEdit, Change: change}
		return err
	})
	return res, err
}

// editInventory records an edit of the fields the portal alone keeps (see
// Edit) as one event, in the transaction that changes the row: nothing is
// written to ACS, so there is no call whose outcome must wait for it, and
// if the audit row cannot be written the row does not change either.
func (s *Changes) editInventory(ctx context.Context, who Who, item, next portal.InventoryItem, change portal.StateChange, why string) (Result, error) {
	next.UpdatedAt, next.UpdatedBy = s.now(), who.actor()
	ev := s.event(who, portal.ActionEditInventory, item.ObjectID, item.Kind)
	ev.Phase, ev.Outcome, ev.Justification = portal.PhaseEvent, portal.OutcomeSuccess, why
	ev.Before, ev.After = portal.StateOfItem(item), portal.StateOfItem(next)
	detail := inventoryOnlyDetail(change)
	ev.Detail = withVia(detail, who.Via)
	_, stored, err := s.commit(ctx, ev, portal.InventoryChange{Op: portal.InventoryPut, Item: next})
	if err != nil {
		return Result{}, auditFailed(err)
	}
	return Result{Item: stored, Outcome: portal.OutcomeSuccess, Detail: detail, Action: portal.ActionEditInventory, Change: change}, nil
}

// inventoryOnlyDetail says why ACS was not called for change.
func inventoryOnlyDetail(c portal.StateChange) string {
	switch {
	case c.ExpiresAt.Changed() && c.Label.Changed():
		return "ACS was not called: the end date and the label live in the portal."
	case c.Label.Changed():
		return "ACS was not called: the label lives in the portal."
	}
	return "ACS was not called: the end date lives in the portal."
}

// Revoke deletes an assignment from ACS, which revokes a user's tokens at
// once or ends a resource account's server consent, and removes it from the
// inventory. ACS answering that it had none already is a success.
//
// A person revoking a resource account must have signed in within the
// fresh sign-in window (see fresh.go): otherwise EFORBIDDEN wrapping
// portal.ErrSignInNotFresh, recorded as a denial, nothing changed. The
// audit rows of a revoke that asked for it say when that sign-in was.
func (s *Changes) Revoke(ctx context.Context, who Who, req RevokeRequest) (Result, error) {
	why, err := s.CleanJustification(req.Justification)
	if err != nil {
		return Result{}, err
	}
	return s.revoke(ctx, who, req, why, true)
}

// revokeRow is Revoke for a row of a bulk job, whose application asked for
// the fresh sign-in already (StartJob).
func (s *Changes) revokeRow(ctx context.Context, who Who, req RevokeRequest) (Result, error) {
	why, err := s.CleanJustification(req.Justification)
	if err != nil {
		return Result{}, err
	}
	return s.revoke(ctx, who, req, why, false)
}

// revoke is Revoke with a justification already checked (the expiry job
// supplies the original grant's); askFresh says whether the act is a
// person's own, which asks for a fresh sign-in where Revoke says.
func (s *Changes) revoke(ctx context.Context, who Who, req RevokeRequest, why string, askFresh bool) (Result, error) {
	tenant := who.User.TenantID
	var res Result
	err := s.withLock(ctx, tenant, req.ObjectID, func(ctx context.Context) error {
		item, err := s.rowToChange(ctx, who, portal.ActionRevoke, req.ObjectID, req.Version, req.Seen, nil)
		if err != nil {
			return err
		}
		ev := s.event(who, portal.ActionRevoke, item.ObjectID, item.Kind)
		if askFresh && who.System == "" && revokeAsksFreshSignIn(item) && s.freshWindow > 0 {
			if err := s.RevokeNeedsFreshSignIn(who, item); err != nil {
				s.denied(ctx, who, portal.ActionRevoke, item.ObjectID, item.Kind, err)
				return err
			}
			ev.Detail = withVia(freshNote(who), ev.Detail)
		}
		ev.Before, ev.Justification = portal.StateOfItem(item), why
		intent, err := s.intent(ctx, ev)
		if err != nil {
			return err
		}
		if !who.User.Has(portal.RoleAdmin) {
			// Only admins may delete a resource account: make sure ACS
			// does not hold one where the inventory says user.
			cur, call, err := s.acs.GetAssignment(ctx, tenant, item.ObjectID)
			if err == nil && MayChange(who.User, cur.Kind) != nil {
				refusal := MayChange(who.User, cur.Kind)
				s.outcome(ctx, intent, outcome{result: portal.OutcomeDenied, call: call, detail: portal.ErrorMessage(refusal)})
				return refusal
			}
		}
		gone, call, err := s.acs.DeleteAssignment(ctx, tenant, item.ObjectID)
		detail := ""
		if err != nil {
			if detail, call, err = s.settle(ctx, intent, tenant, item.ObjectID, nil, &item.Assignment, call, err); err != nil {
				return err
			}
		} else if gone {
			detail = "ACS had no assignment for this object any more; the inventory row was removed."
		}
		_, err = s.outcome(ctx, intent, outcome{result: portal.OutcomeSuccess, call: call, detail: detail, change: portal.InventoryChange{Op: portal.InventoryDelete, Item: item}})
		res = Result{Outcome: portal.OutcomeSuccess, Detail: detail, Call: call, Item: item}
		return err
	})
	return res, err
}

// Adopt takes an assignment that ACS holds but the inventory does not know
// into the inventory, as ACS holds it. Nothing is written to ACS.
func (s *Changes) Adopt(ctx context.Context, who Who, req AdoptRequest) (Result, error) {
	label, why, err := s.adoptInput(req)
	if err != nil {
		return Result{}, err
	}
	if !who.User.HasAny(portal.RoleAdmin, portal.RoleHelpdesk) {
		err := MayChange(who.User, portal.KindUser)
		s.denied(ctx, who, portal.ActionAdopt, req.ObjectID, portal.KindUnknown, err)
		return Result{}, err
	}
	tenant := who.User.TenantID
	var res Result
	err = s.withLock(ctx, tenant, req.ObjectID, func(ctx context.Context) error {
		if item, err := s.store.GetItem(ctx, tenant, req.ObjectID); err == nil {
			return conflict("The inventory already knows this assignment.", &Conflict{Item: &item})
		} else if portal.ErrorCode(err) != portal.ENOTFOUND {
			return err
		}
		cur, call, err := s.acs.GetAssignment(ctx, tenant, req.ObjectID)
		if err != nil {
			return err
		}
		if cur.Kind == portal.KindUnknown {
			return portal.Errorf(portal.EINVALID, "ACS holds an assignment with a principal type the portal does not know (%q); it cannot be adopted.", cur.Spelling)
		}
		if err := MayChange(who.User, cur.Kind); err != nil {
			s.denied(ctx, who, portal.ActionAdopt, req.ObjectID, cur.Kind, err)
			return err
		}
		cur.Spelling = ""
		now := s.now()
		ev := s.event(who, portal.ActionAdopt, cur.ObjectID, cur.Kind)
		ev.Phase, ev.After, ev.Justification, ev.Outcome = portal.PhaseEvent, portal.StateOf(cur, label), why, portal.OutcomeSuccess
		ev.ACSStatus, ev.RequestID, ev.CorrelationVector = call.Status, call.RequestID, call.CorrelationVector
		_, item, err := s.commit(ctx, ev, portal.InventoryChange{Op: portal.InventoryPut, Item: portal.InventoryItem{
			Assignment: cur, Label: label, CreatedAt: now, CreatedBy: who.actor(), UpdatedAt: now, UpdatedBy: who.actor(),
			State: portal.StateInSync, VerifiedAt: now,
		}})
		if err != nil {
			return auditFailed(err)
		}
		res = Result{Item: item, Outcome: portal.OutcomeSuccess, Call: call}
		return nil
	})
	return res, err
}

// Verify compares an inventory row with ACS and records the result (in sync,
// drifted with what ACS holds, or missing) and an audit row.
func (s *Changes) Verify(ctx context.Context, who Who, object portal.GUID) (Result, error) {
	tenant := who.User.TenantID
	var res Result
	err := s.withLock(ctx, tenant, object, func(ctx context.Context) error {
		item, err := s.store.GetItem(ctx, tenant, object)
		if err != nil {
			return notInInventory(err)
		}
		if err := MayChange(who.User, item.Kind); err != nil {
			s.denied(ctx, who, portal.ActionVerify, object, item.Kind, err)
			return err
		}
		cur, call, err := s.acs.GetAssignment(ctx, tenant, object)
		ev := s.event(who, portal.ActionVerify, object, item.Kind)
		ev.Phase, ev.Before = portal.PhaseEvent, portal.StateOf(item.Assignment, item.Label)
		ev.ACSStatus, ev.RequestID, ev.CorrelationVector = call.Status, call.RequestID, call.CorrelationVector
		var change portal.InventoryChange
		switch {
		case portal.ErrorCode(err) == portal.ENOTFOUND:
			change = verified(item, portal.StateMissing, nil, s.now())
		case err != nil:
			ev.Outcome, ev.ACSCode, ev.Detail = portal.OutcomeFailed, acsCode(err), portal.ErrorMessage(err)
			if _, _, cerr := s.commit(ctx, ev, portal.InventoryChange{}); cerr != nil {
				s.log.ErrorContext(ctx, "audit write failed", "err", cerr)
			}
			return err
		case cur.Equal(item.Assignment):
			var spelling *portal.Assignment
			if s.spellingDiffers(cur) {
				spelling = &cur
			}
			change = verified(item, portal.StateInSync, spelling, s.now())
		default:
			change = verified(item, portal.StateDrifted, &cur, s.now())
		}
		ev.Outcome, ev.Detail = portal.OutcomeSuccess, change.Item.State.Label()
		if change.Item.Observed != nil {
			ev.After = portal.StateOf(*change.Item.Observed, item.Label)
		}
		_, stored, err := s.commit(ctx, ev, change)
		if err != nil {
			return auditFailed(err)
		}
		res = Result{Item: stored, Outcome: portal.OutcomeSuccess, Detail: ev.Detail, Call: call, SeenBefore: Seen(item)}
		return nil
	})
	return res, err
}

func verified(item portal.InventoryItem, state portal.VerifyState, observed *portal.Assignment, now time.Time) portal.InventoryChange {
	item.State, item.VerifiedAt, item.Observed = state, now, nil
	if observed != nil {
		o := *observed
		item.Observed = &o
	}
	return portal.InventoryChange{Op: portal.InventoryVerified, Item: item}
}

// settle finds out what a write that failed did: a 4xx means ACS refused
// it; anything else (no answer, 5xx) may have been applied, so a GET
// decides. want is what the write asked for (nil: a delete); before is what
// ACS held (nil: nothing). When the write turns out applied, settle returns
// a sentence for the person and the GET to cite; otherwise it records the
// outcome (failed or unknown) against intent and returns the error to give.
func (s *Changes) settle(ctx context.Context, intent portal.AuditEvent, tenant, object portal.GUID, want, before *portal.Assignment, call portal.ACSCall, writeErr error) (string, portal.ACSCall, error) {
	result, detail := portal.OutcomeUnknown, "ACS did not answer, and a GET could not tell whether the change was applied."
	switch {
	case call.Status == 0 && errors.Is(writeErr, portal.ErrNotSent):
		// Given up unsent (its bulk job paused or stopped): nothing
		// changed, no GET is needed (nor could one be sent). The line is
		// tried again; "Not applied:" says this outcome ends the intent,
		// not the line, as when a resume settles one (settleIntent).
		result, detail = portal.OutcomeFailed, "Not applied: the call was not sent to ACS (its bulk job paused or stopped first), so nothing was changed."
	case definiteFailure(call) || call.Status == 0 && portal.ErrorCode(writeErr) == portal.EINVALID:
		result, detail = portal.OutcomeFailed, portal.ErrorMessage(writeErr)
	default:
		cur, getCall, err := s.acs.GetAssignment(ctx, tenant, object)
		found, missing := err == nil, portal.ErrorCode(err) == portal.ENOTFOUND
		switch {
		case want == nil && missing:
			return "ACS did not confirm the delete, but a GET shows the assignment is gone.", getCall, nil
		case want != nil && found && cur.Equal(*want):
			return "ACS did not confirm the change, but a GET shows it was applied.", getCall, nil
		case before == nil && missing, before != nil && found && cur.Equal(*before):
			result, detail = portal.OutcomeFailed, "ACS did not apply the change: "+portal.ErrorMessage(writeErr)
		}
	}
	s.outcome(ctx, intent, outcome{result: result, call: call, err: writeErr, detail: detail})
	if result == portal.OutcomeUnknown {
		return detail, call, portal.Wrap(writeErr, portal.EUNAVAILABLE, "ACS did not answer, so the portal cannot tell whether the change was applied. It is recorded in the audit log; verify the assignment in a minute.")
	}
	return detail, call, writeErr
}

func notInInventory(err error) error {
	if portal.ErrorCode(err) == portal.ENOTFOUND {
		return portal.Errorf(portal.ENOTFOUND, "The inventory has no assignment for this object. Look it up in ACS to adopt it.")
	}
	return err
}

func auditFailed(err error) error {
	if portal.ErrorCode(err) == portal.ECONFLICT {
		return err // fenced out (see commit): the message says why
	}
	return portal.Wrap(err, portal.EUNAVAILABLE, "The audit log could not be written, so nothing was changed. Try again shortly.")
}

func (s *core) event(who Who, action portal.AuditAction, object portal.GUID, kind portal.PrincipalKind) portal.AuditEvent {
	return portal.AuditEvent{
		Time: s.now(), Actor: who.actor(), ClientIP: who.ClientIP,
		TenantID: who.User.TenantID, ObjectID: object, Kind: kind, Action: action, Detail: who.Via,
	}
}

// withVia adds where a change came from (the intent's detail) to an
// outcome's detail.
func withVia(detail, via string) string {
	switch {
	case via == "":
		return detail
	case detail == "":
		return via
	}
	return detail + " (" + via + ")"
}

// intent writes the row that must exist before ACS is called, fenced by
// the change's lease and recorded on its bulk job line (see commit).
//
// A try of a bulk job's line whose work stopped waiting (the job paused or
// ended since the try began: portal.BackgroundUntil) writes none: its calls
// would give up unsent, and an attempt begun while the job is paused would
// only be settled as not applied. The line is tried again after the pause.
func (s *Changes) intent(ctx context.Context, ev portal.AuditEvent) (portal.AuditEvent, error) {
	if portal.StoppedWaiting(ctx) {
		return ev, portal.NotSent(nil)
	}
	ev.Phase = portal.PhaseIntent
	stored, _, err := s.commit(ctx, ev, portal.InventoryChange{})
	if err != nil {
		return stored, auditFailed(err)
	}
	return stored, nil
}

type outcome struct {
	result portal.AuditOutcome
	call   portal.ACSCall
	err    error
	detail string
	change portal.InventoryChange
	// again, in a bulk job, leaves the line to be tried again after this
	// outcome (as an outcome whose error is worth retrying does).
	again bool
}

// worthRetrying reports whether a change that failed with err is worth
// trying again later: ACS was throttled or unavailable, or ACS's answer
// could not be recorded. A bulk line that failed so is tried again.
func worthRetrying(err error) bool {
	c := portal.ErrorCode(err)
	return c == portal.ETHROTTLED || c == portal.EUNAVAILABLE
}

// outcome writes the outcome row citing intent, with the inventory change, in
// one transaction. It runs even if the person's request was cancelled: ACS
// may have changed, and that must be recorded.
func (s *Changes) outcome(ctx context.Context, intent portal.AuditEvent, o outcome) (portal.InventoryItem, error) {
	item, err := s.recordOutcome(ctx, intent, o)
	switch {
	case portal.ErrorCode(err) == portal.ECONFLICT:
		// Fenced out: the lease lapsed and another change (or the sweep
		// settling this intent) took the assignment over, or the bulk job
		// is held elsewhere now. What ACS holds is settled by whoever
		// holds it; this change records nothing.
		return item, err
	case err != nil && o.result == portal.OutcomeSuccess:
		return item, portal.Wrap(err, portal.EUNAVAILABLE, fmt.Sprintf("ACS applied the change, but the portal could not record it (audit row %d holds the intent). Verify the assignment shortly.", intent.Seq))
	}
	return item, nil
}

// recordOutcome is outcome, failing with the store's error when the row
// could not be written (logged here).
func (s *Changes) recordOutcome(ctx context.Context, intent portal.AuditEvent, o outcome) (portal.InventoryItem, error) {
	ev := intent
	ev.Seq, ev.Hash, ev.PrevHash = 0, "", ""
	ev.Phase, ev.IntentSeq, ev.Time, ev.Outcome = portal.PhaseOutcome, intent.Seq, s.now(), o.result
	ev.ACSStatus, ev.RequestID, ev.CorrelationVector = o.call.Status, o.call.RequestID, o.call.CorrelationVector
	ev.Detail = o.detail
	if o.err != nil {
		ev.ACSCode = acsCode(o.err)
		if ev.Detail == "" {
			ev.Detail = portal.ErrorMessage(o.err)
		}
	}
	ev.Detail = withVia(ev.Detail, intent.Detail)
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	ends := !o.again && o.result != portal.OutcomeUnknown && !worthRetrying(o.err)
	_, item, err := s.commitLine(wctx, ev, o.change, ends)
	if err != nil {
		s.log.ErrorContext(ctx, "audit outcome not recorded", "event", "audit.outcome_lost", "intent_seq", intent.Seq,
			"outcome", string(o.result), "request_id", o.call.RequestID, "err", err)
	}
	return item, err
}

// denied records a refusal. A failure to record it is logged: the refusal
// stands either way.
func (s *core) denied(ctx context.Context, who Who, action portal.AuditAction, object portal.GUID, kind portal.PrincipalKind, reason error) {
	if _, err := s.appendAudit(ctx, s.denial(who, action, object, kind, reason)); err != nil {
		s.log.ErrorContext(ctx, "audit write failed", "event", "access.denied", "err", err)
	}
}

// denied is core.denied for a change, through commit: a refusal of a bulk
// job's line ends the line in the same transaction (see commit).
func (s *Changes) denied(ctx context.Context, who Who, action portal.AuditAction, object portal.GUID, kind portal.PrincipalKind, reason error) {
	if _, _, err := s.commit(ctx, s.denial(who, action, object, kind, reason), portal.InventoryChange{}); err != nil {
		s.log.ErrorContext(ctx, "audit write failed", "event", "access.denied", "err", err)
	}
}

// denial is the audit row of a refusal.
func (s *core) denial(who Who, action portal.AuditAction, object portal.GUID, kind portal.PrincipalKind, reason error) portal.AuditEvent {
	ev := s.event(who, portal.ActionDenied, object, kind)
	ev.Phase, ev.Outcome, ev.Detail = portal.PhaseEvent, portal.OutcomeDenied, withVia(string(action)+": "+portal.ErrorMessage(reason), who.Via)
	return ev
}
