package portal

import "slices"

// Label is the action in words, as pages show it (filters, the audit log,
// an assignment's history). Exports keep the code, which machines read.
func (a AuditAction) Label() string {
	switch a {
	case ActionGrant:
		return "Grant"
	case ActionEdit:
		return "Edit"
	case ActionEditInventory:
		return "Edit end date or label"
	case ActionRevoke:
		return "Revoke"
	case ActionAdopt:
		return "Adopt"
	case ActionVerify:
		return "Verify"
	case ActionReconcile:
		return "Reconcile"
	case ActionReapply:
		return "Re-apply"
	case ActionAccept:
		return "Accept ACS's state"
	case ActionBulk:
		return "Bulk job"
	case ActionSignIn:
		return "Sign-in"
	case ActionSignInFailure:
		return "Refused sign-in"
	case ActionSignOut:
		return "Sign-out"
	case ActionDenied:
		return "Access denied"
	}
	return string(a)
}

// Label is the outcome in words, as pages show it; an intent's (pending)
// is "No outcome yet": the change is in flight, or its end was never
// recorded.
func (o AuditOutcome) Label() string {
	switch o {
	case OutcomePending:
		return "No outcome yet"
	case OutcomeSuccess:
		return "Succeeded"
	case OutcomeNoChange:
		return "No change"
	case OutcomeConflict:
		return "Conflict"
	case OutcomeFailed:
		return "Failed"
	case OutcomeUnknown:
		return "Unknown"
	case OutcomeDenied:
		return "Denied"
	}
	return string(o)
}

// FieldChange is one field of an assignment before and after a change, as
// audit rows record it ("" for none). From == To: unchanged.
type FieldChange struct{ From, To string }

// Changed reports whether the field changed.
func (f FieldChange) Changed() bool { return f.From != f.To }

// StateChange is what a change did to an assignment, from the before and
// after its audit row records: the one comparison the use cases decide by
// and the pages show.
type StateChange struct {
	// AppsAdded and AppsRemoved are calling-client app IDs, sorted, as the
	// states hold them.
	AppsAdded, AppsRemoved []string
	// Kind changes only between two states (accepting what ACS holds may
	// change it); a state that is missing on one side has no kind to
	// compare.
	Kind FieldChange
	// Label and ExpiresAt (AuditTimeFormat) are the fields the portal
	// alone keeps: ACS knows neither.
	Label, ExpiresAt FieldChange
}

// CompareStates returns what changed from before to after; nil stands for
// no assignment (before a grant, after a revoke).
func CompareStates(before, after *AuditState) StateChange {
	var b, a AuditState
	if before != nil {
		b = *before
	}
	if after != nil {
		a = *after
	}
	c := StateChange{Label: FieldChange{b.Label, a.Label}, ExpiresAt: FieldChange{b.ExpiresAt, a.ExpiresAt}}
	if before != nil && after != nil {
		c.Kind = FieldChange{b.Kind, a.Kind}
	}
	for _, id := range a.ClientIDs {
		if !slices.Contains(b.ClientIDs, id) && !slices.Contains(c.AppsAdded, id) {
			c.AppsAdded = append(c.AppsAdded, id)
		}
	}
	for _, id := range b.ClientIDs {
		if !slices.Contains(a.ClientIDs, id) && !slices.Contains(c.AppsRemoved, id) {
			c.AppsRemoved = append(c.AppsRemoved, id)
		}
	}
	slices.Sort(c.AppsAdded)
	slices.Sort(c.AppsRemoved)
	return c
}

// AppsChanged reports whether the change added or removed calling-client
// apps or changed the kind: what ACS holds.
func (c StateChange) AppsChanged() bool {
	return len(c.AppsAdded) > 0 || len(c.AppsRemoved) > 0 || c.Kind.Changed()
}

// Empty reports whether nothing changed.
func (c StateChange) Empty() bool {
	return !c.AppsChanged() && !c.Label.Changed() && !c.ExpiresAt.Changed()
}

// InventoryOnly reports whether only the fields the portal alone keeps
// changed (the end date, the label): a change ACS need not hear of.
func (c StateChange) InventoryOnly() bool {
	return !c.Empty() && !c.AppsChanged()
}
