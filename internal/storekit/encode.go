package storekit

import (
	"encoding/json"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// Values gives a store's arguments for the values its driver keeps in its
// own types (the writing side of Columns).
type Values interface {
	GUID(g portal.GUID) any      // the zero GUID: NULL or ""
	GUIDs(ids []portal.GUID) any // already normalised
	Time(t time.Time) any        // kept to the millisecond
	OptTime(t time.Time) any     // the zero time: NULL
	JSON(b []byte) any           // nil: NULL
}

// Writer makes the arguments of the portal's inserts with one store's
// Values and Text. Like Reader's, each method's arguments follow the
// column order it documents.
type Writer struct {
	Values Values
	Text   Text
}

// Item returns the arguments that put it as an InventoryPut stores it
// (see Text.Put): tenant_id, object_id, client_ids, kind, state, label,
// created_at, created_by_tid, created_by_oid, created_by_name, updated_at,
// updated_by_tid, updated_by_oid, updated_by_name, verified_at, observed,
// expires_at.
func (w Writer) Item(it portal.InventoryItem) []any {
	it = w.Text.Put(it)
	v := w.Values
	return []any{v.GUID(it.TenantID), v.GUID(it.ObjectID), v.GUIDs(it.ClientIDs), it.Kind.String(), string(it.State), it.Label,
		v.Time(it.CreatedAt), v.GUID(it.CreatedBy.TenantID), v.GUID(it.CreatedBy.ObjectID), it.CreatedBy.Name,
		v.Time(it.UpdatedAt), v.GUID(it.UpdatedBy.TenantID), v.GUID(it.UpdatedBy.ObjectID), it.UpdatedBy.Name,
		v.OptTime(it.VerifiedAt), v.JSON(w.Text.Observed(it.Observed)), v.OptTime(it.ExpiresAt)}
}

// Verified returns the arguments that record a verification of it: state,
// verified_at, observed.
func (w Writer) Verified(it portal.InventoryItem) []any {
	return []any{string(StateOrUnverified(it.State)), w.Values.OptTime(it.VerifiedAt), w.Values.JSON(w.Text.Observed(it.Observed))}
}

// Event returns the arguments that insert a sealed audit row, in Reader.Event's
// column order up to hash, followed by actor_fold (tenant_seq is the
// store's to number).
func (w Writer) Event(ev SealedEvent) []any {
	v := w.Values
	return []any{ev.Seq, v.Time(ev.Time), v.GUID(ev.Actor.TenantID), v.GUID(ev.Actor.ObjectID), ev.Actor.Name,
		ev.ClientIP, v.GUID(ev.TenantID), v.GUID(ev.ObjectID), ev.Kind, string(ev.Action), string(ev.Phase), ev.IntentSeq,
		v.JSON(ev.Before), v.JSON(ev.After), ev.Justification, string(ev.Outcome),
		ev.ACSStatus, ev.ACSCode, ev.RequestID, ev.CorrelationVector, ev.Detail, ev.PrevHash, ev.Hash, ev.ActorFold}
}

// Name returns the arguments that put a directory name of tenant:
// Reader.Name's columns followed by name_fold and upn_fold.
func (w Writer) Name(tenant portal.GUID, n portal.DirectoryName) []any {
	t := w.Text
	display, upn := t(n.DisplayName), t(n.UPN)
	return []any{w.Values.GUID(tenant), string(n.Space), w.Values.GUID(n.ID), w.Values.Time(n.FetchedAt),
		n.Found, KindText(n.Kind), display, upn, t(n.Phone), t.Fold(display), t.Fold(upn)}
}

// Job returns the arguments that create j, queued: id, plan_id, tenant_id,
// created_at, created_by_tid, created_by_oid, created_by_name,
// created_by_roles, client_ip, justification, state.
func (w Writer) Job(j portal.Job) []any {
	t, v := w.Text, w.Values
	return []any{t(j.ID), j.PlanID, v.GUID(j.TenantID), v.Time(j.CreatedAt), v.GUID(j.CreatedBy.TenantID), v.GUID(j.CreatedBy.ObjectID),
		t(j.CreatedBy.Name), t(RolesText(j.Roles)), t(j.ClientIP), t(j.Justification), string(portal.JobQueued)}
}

// Plan returns the arguments that store p: id, tenant_id, created_at,
// created_by_tid, created_by_oid, created_by_name, file_name, totals,
// checks.
func (w Writer) Plan(p portal.Plan) []any {
	totals, err := json.Marshal(p.Totals)
	if err != nil {
		panic("storekit: plan totals: " + err.Error()) // a map of strings to numbers: Marshal cannot fail
	}
	checks, err := json.Marshal(p.Checks)
	if err != nil {
		panic("storekit: plan checks: " + err.Error()) // numbers, strings and GUIDs: Marshal cannot fail
	}
	t, v := w.Text, w.Values
	return []any{t(p.ID), v.GUID(p.TenantID), v.Time(p.CreatedAt), v.GUID(p.CreatedBy.TenantID), v.GUID(p.CreatedBy.ObjectID),
		t(p.CreatedBy.Name), t(p.FileName), v.JSON(totals), v.JSON(checks)}
}

// PlanRow returns the arguments of one row of plan id: plan_id, line,
// class, data.
func (w Writer) PlanRow(id string, r portal.PlanRow) ([]any, error) {
	data, err := json.Marshal(r)
	return []any{w.Text(id), r.Line, w.Text(string(r.Class)), string(data)}, err
}

// Checkpoint returns the arguments that insert c, in Reader.Checkpoint's
// column order.
func (w Writer) Checkpoint(c portal.AuditCheckpoint) []any {
	return []any{c.Number, c.Seq, c.Hash, w.Values.Time(c.Time), c.KeyID, c.Signature}
}
