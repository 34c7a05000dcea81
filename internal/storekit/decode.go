package storekit

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// Decoder turns stored values back into domain values, keeping the first
// failure, so that a row is decoded in straight-line code and checked
// once. Its zero value is ready.
type Decoder struct {
	err   error
	after []func()
}

// Fail records err unless an earlier failure was recorded.
func (d *Decoder) Fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// Then runs fn once the row is scanned: a store's scan target converts
// its driver's value with it (see Columns).
func (d *Decoder) Then(fn func()) { d.after = append(d.after, fn) }

// Into returns a new T for a driver to scan into, and hands what it
// scanned to conv once the row is read: a Columns method in one line.
func Into[T any](d *Decoder, conv func(T)) any {
	v := new(T)
	d.Then(func() { conv(*v) })
	return v
}

// done runs what Then deferred and returns the first failure.
func (d *Decoder) done() error {
	for _, fn := range d.after {
		fn()
	}
	return d.err
}

// GUID reads a GUID kept as canonical text; "" is the zero GUID.
func (d *Decoder) GUID(s string) portal.GUID {
	if s == "" {
		return portal.GUID{}
	}
	g, err := portal.ParseGUID(s)
	if err != nil {
		d.Fail(err)
	}
	return g
}

// GUIDs reads GUIDs kept as canonical text; none is nil, and "" is a
// failure (a list holds no zero GUID).
func (d *Decoder) GUIDs(ss []string) []portal.GUID {
	var out []portal.GUID
	for _, s := range ss {
		if s == "" {
			d.Fail(errors.New("empty GUID"))
		}
		out = append(out, d.GUID(s))
	}
	return out
}

// JSON decodes b into v.
func (d *Decoder) JSON(b []byte, v any) {
	if err := json.Unmarshal(b, v); err != nil {
		d.Fail(err)
	}
}

// Kind reads a kind's String form; "" is KindUnknown.
func (d *Decoder) Kind(s string) portal.PrincipalKind {
	if s == "" {
		return portal.KindUnknown
	}
	k, err := portal.ParsePrincipalKind(s)
	if err != nil {
		d.Fail(err)
	}
	return k
}

// State reads a verification state.
func (d *Decoder) State(s string) portal.VerifyState {
	v, err := portal.ParseVerifyState(s)
	if err != nil {
		d.Fail(err)
	}
	return v
}

func (d *Decoder) auditState(b []byte) *portal.AuditState {
	if b == nil {
		return nil
	}
	var st portal.AuditState
	d.JSON(b, &st)
	return &st
}

func (d *Decoder) observed(b []byte, tenant, object portal.GUID) *portal.Assignment {
	if b == nil {
		return nil
	}
	var o observedJSON
	d.JSON(b, &o)
	a := portal.Assignment{TenantID: tenant, ObjectID: object, Spelling: o.Spelling, ClientIDs: d.GUIDs(o.ClientIDs), OddClientIDs: o.OddClientIDs}
	if o.Kind != portal.KindUnknown.String() {
		a.Kind = d.Kind(o.Kind)
	}
	return &a
}

// Columns gives a store's scan targets for the values its driver keeps in
// its own types: GUIDs, lists of GUIDs and times. Each returns something
// the driver scans into, and converts it into *dst with d.Then, recording
// a value the portal never writes with d.Fail. Everything else scans into
// Go's own types in either driver.
type Columns interface {
	GUID(d *Decoder, dst *portal.GUID) any    // NULL or "": the zero GUID
	GUIDs(d *Decoder, dst *[]portal.GUID) any // none: nil
	Time(d *Decoder, dst *time.Time) any      // NULL (or SQLite's 0): the zero time
}

// Reader reads the portal's rows with one store's Columns. The column lists
// the stores select must name the columns in the order each method scans
// them (see each store's *Columns constants).
type Reader struct{ Columns Columns }

// Item reads one inventory row: tenant_id, object_id, client_ids, label,
// kind, state, created_at, created_by_tid, created_by_oid,
// created_by_name, updated_at, updated_by_tid, updated_by_oid,
// updated_by_name, verified_at, observed, version, expires_at. A value the
// portal never writes is an EINTERNAL error.
func (r Reader) Item(row Scanner) (portal.InventoryItem, error) {
	var (
		d           Decoder
		it          portal.InventoryItem
		kind, state string
		observed    []byte
		c           = r.Columns
	)
	if err := row.Scan(c.GUID(&d, &it.TenantID), c.GUID(&d, &it.ObjectID), c.GUIDs(&d, &it.ClientIDs), &it.Label, &kind, &state,
		c.Time(&d, &it.CreatedAt), c.GUID(&d, &it.CreatedBy.TenantID), c.GUID(&d, &it.CreatedBy.ObjectID), &it.CreatedBy.Name,
		c.Time(&d, &it.UpdatedAt), c.GUID(&d, &it.UpdatedBy.TenantID), c.GUID(&d, &it.UpdatedBy.ObjectID), &it.UpdatedBy.Name,
		c.Time(&d, &it.VerifiedAt), &observed, &it.Version, c.Time(&d, &it.ExpiresAt)); err != nil {
		return it, err
	}
	d.done()
	it.Kind, it.State = d.Kind(kind), d.State(state)
	it.Observed = d.observed(observed, it.TenantID, it.ObjectID)
	if d.err != nil {
		return it, portal.Wrap(d.err, portal.EINTERNAL, fmt.Sprintf("The inventory row for %s holds a value the portal never writes.", it.ObjectID))
	}
	return it, nil
}

// Event reads one audit row: seq, its time, actor_tid, actor_oid,
// actor_name, client_ip, tenant_id, object_id, kind, action, phase,
// intent_seq, before_state, after_state, justification, outcome,
// acs_status, acs_code, request_id, correlation_vector, detail,
// prev_hash, hash, tenant_seq; into the event it was written from (same values, so the
// same canonical encoding and hash). A value the portal never writes is an
// EINTERNAL error naming the row.
func (r Reader) Event(row Scanner) (portal.AuditEvent, error) {
	var (
		d                            Decoder
		ev                           portal.AuditEvent
		kind, action, phase, outcome string
		before, after                []byte
		c                            = r.Columns
	)
	if err := row.Scan(&ev.Seq, c.Time(&d, &ev.Time), c.GUID(&d, &ev.Actor.TenantID), c.GUID(&d, &ev.Actor.ObjectID), &ev.Actor.Name,
		&ev.ClientIP, c.GUID(&d, &ev.TenantID), c.GUID(&d, &ev.ObjectID), &kind, &action, &phase, &ev.IntentSeq, &before, &after,
		&ev.Justification, &outcome, &ev.ACSStatus, &ev.ACSCode, &ev.RequestID, &ev.CorrelationVector, &ev.Detail, &ev.PrevHash, &ev.Hash, &ev.TenantSeq); err != nil {
		return ev, err
	}
	d.done()
	ev.Kind = d.Kind(kind)
	ev.Action, ev.Phase, ev.Outcome = portal.AuditAction(action), portal.AuditPhase(phase), portal.AuditOutcome(outcome)
	ev.Before, ev.After = d.auditState(before), d.auditState(after)
	if d.err != nil {
		return ev, portal.Wrap(d.err, portal.EINTERNAL,
			fmt.Sprintf("Audit row %d holds a value the portal never writes: it was changed outside the portal.", ev.Seq))
	}
	return ev, nil
}

// Name reads one directory name: tenant_id, space, id, fetched_at, found,
// kind, display_name, upn, phone. A value the portal never writes is an
// EINTERNAL error.
func (r Reader) Name(row Scanner) (portal.DirectoryName, error) {
	var (
		d           Decoder
		n           portal.DirectoryName
		space, kind string
		c           = r.Columns
	)
	if err := row.Scan(c.GUID(&d, &n.TenantID), &space, c.GUID(&d, &n.ID), c.Time(&d, &n.FetchedAt), &n.Found, &kind,
		&n.DisplayName, &n.UPN, &n.Phone); err != nil {
		return n, err
	}
	d.done()
	n.Space, n.Kind = portal.NameSpace(space), d.Kind(kind)
	if d.err != nil {
		return n, portal.Wrap(d.err, portal.EINTERNAL, fmt.Sprintf("The directory name for %s holds a value the portal never writes.", n.ID))
	}
	return n, nil
}

// Job reads one bulk job, without its counts: id, plan_id, tenant_id,
// created_at, created_by_tid, created_by_oid, created_by_name,
// created_by_roles, client_ip, justification, state, cancel_requested,
// holder, heartbeat, started_at, finished_at, paused_at, paused_until.
func (r Reader) Job(row Scanner) (portal.Job, error) {
	var (
		d            Decoder
		j            portal.Job
		roles, state string
		c            = r.Columns
	)
	if err := row.Scan(&j.ID, &j.PlanID, c.GUID(&d, &j.TenantID), c.Time(&d, &j.CreatedAt), c.GUID(&d, &j.CreatedBy.TenantID),
		c.GUID(&d, &j.CreatedBy.ObjectID), &j.CreatedBy.Name, &roles, &j.ClientIP, &j.Justification, &state, &j.CancelRequested,
		&j.Holder, c.Time(&d, &j.Heartbeat), c.Time(&d, &j.StartedAt), c.Time(&d, &j.FinishedAt),
		c.Time(&d, &j.PausedAt), c.Time(&d, &j.PausedUntil)); err != nil {
		return j, err
	}
	j.State = portal.JobState(state)
	for _, r := range strings.Fields(roles) {
		j.Roles = append(j.Roles, portal.Role(r))
	}
	if err := d.done(); err != nil {
		return j, portal.Wrap(err, portal.EINTERNAL, "A stored job is unreadable.")
	}
	return j, nil
}

// Plan reads a bulk plan of the given tenant and ID: created_at,
// created_by_tid, created_by_oid, created_by_name, file_name, totals,
// checks (NULL for a plan made before they were kept).
func (r Reader) Plan(row Scanner, tenant portal.GUID, id string) (portal.Plan, error) {
	var (
		d              Decoder
		totals, checks []byte
		c              = r.Columns
	)
	p := portal.Plan{ID: id, TenantID: tenant}
	if err := row.Scan(c.Time(&d, &p.CreatedAt), c.GUID(&d, &p.CreatedBy.TenantID), c.GUID(&d, &p.CreatedBy.ObjectID),
		&p.CreatedBy.Name, &p.FileName, &totals, &checks); err != nil {
		return p, err
	}
	d.JSON(totals, &p.Totals)
	if len(checks) > 0 {
		d.JSON(checks, &p.Checks)
	}
	if err := d.done(); err != nil {
		return p, portal.Wrap(err, portal.EINTERNAL, "A stored plan is unreadable.")
	}
	return p, nil
}

// PlanRow reads one plan row kept as JSON (data).
func (r Reader) PlanRow(row Scanner) (portal.PlanRow, error) {
	var data []byte
	var p portal.PlanRow
	if err := row.Scan(&data); err != nil {
		return p, err
	}
	return p, planRow(data, &p, "A stored plan row is unreadable.")
}

// Claimed returns the rows of a job just taken (line, attempts, data) in
// line order: the statements that take them (UPDATE … RETURNING) promise
// no order.
func (r Reader) Claimed(rows Rows, err error) ([]portal.JobRow, error) {
	out, err := Collect(rows, err, "take the job's next rows", r.claimed)
	slices.SortFunc(out, func(a, b portal.JobRow) int { return a.Line - b.Line })
	return out, err
}

func (r Reader) claimed(row Scanner) (portal.JobRow, error) {
	var data []byte
	j := portal.JobRow{Status: portal.RowRunning}
	if err := row.Scan(&j.Line, &j.Attempts, &data); err != nil {
		return j, err
	}
	return j, planRow(data, &j.PlanRow, "A stored job row is unreadable.")
}

// Result reads one row of a job's results: the plan row's data, then the
// job row's status, attempts, outcome, detail, request_id and finished_at,
// each "" (0, NULL) for a plan row the job has not.
func (r Reader) Result(row Scanner) (portal.JobRow, error) {
	var (
		d               Decoder
		j               portal.JobRow
		data            []byte
		status, outcome string
	)
	if err := row.Scan(&data, &status, &j.Attempts, &outcome, &j.Detail, &j.RequestID, r.Columns.Time(&d, &j.FinishedAt)); err != nil {
		return j, err
	}
	d.done()
	j.Status, j.Outcome = portal.JobRowStatus(status), portal.AuditOutcome(outcome)
	return j, planRow(data, &j.PlanRow, "A stored plan row is unreadable.")
}

func planRow(data []byte, p *portal.PlanRow, unreadable string) error {
	if err := json.Unmarshal(data, p); err != nil {
		return portal.Wrap(err, portal.EINTERNAL, unreadable)
	}
	return nil
}

type change struct {
	action string
	object portal.GUID
}

// Changes answers InventoryChanges from the tenant's audit head (one row
// of its Seq, 0 for none) and query, which reads the audit rows after
// `after` up to head (action, object_id; distinct) when there are any.
func (r Reader) Changes(head Scanner, after int64, query func(head int64) (Rows, error)) ([]portal.GUID, bool, int64, error) {
	var h int64
	if err := head.Scan(&h); err != nil {
		return nil, false, 0, Unavailable(err, "read the inventory")
	}
	if h <= after {
		return nil, false, h, nil
	}
	rows, err := query(h)
	changed, reload, err := r.changes(rows, err)
	return changed, reload, h, err
}

// changes reads the objects changed, in the order read, and whether a
// reconcile summary lies among them.
func (r Reader) changes(rows Rows, err error) (changed []portal.GUID, reload bool, _ error) {
	seen := map[portal.GUID]bool{}
	err = Each(rows, err, "read the inventory", func(row Scanner) (c change, err error) {
		var d Decoder
		if err := row.Scan(&c.action, r.Columns.GUID(&d, &c.object)); err != nil {
			return c, err
		}
		if err := d.done(); err != nil {
			return c, portal.Wrap(err, portal.EINTERNAL, "The inventory holds a malformed object ID.")
		}
		return c, nil
	}, func(c change) error {
		switch {
		case c.action == string(portal.ActionReconcile):
			reload = true
		case !c.object.IsZero() && !seen[c.object]:
			seen[c.object] = true
			changed = append(changed, c.object)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return changed, reload, nil
}

// Strings returns vs as strings: a list of the domain's constants to bind
// as one argument.
func Strings[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// ActionableClasses are the plan classes whose rows a job applies (see
// portal.PlanClass.Actionable).
func ActionableClasses() []string {
	var out []string
	for _, c := range portal.PlanClasses {
		if c.Actionable() {
			out = append(out, string(c))
		}
	}
	return out
}

// Session reads the session keyHash: data, created_at, seen_at.
func (r Reader) Session(row Scanner, keyHash []byte) (portal.SessionRecord, error) {
	var d Decoder
	s := portal.SessionRecord{KeyHash: keyHash}
	err := row.Scan(&s.Data, r.Columns.Time(&d, &s.CreatedAt), r.Columns.Time(&d, &s.SeenAt))
	d.done()
	return s, err
}

// SessionAndHead reads a session as Session does, then an audit head.
func (r Reader) SessionAndHead(row Scanner, keyHash []byte) (portal.SessionRecord, int64, error) {
	var d Decoder
	var head int64
	s := portal.SessionRecord{KeyHash: keyHash}
	err := row.Scan(&s.Data, r.Columns.Time(&d, &s.CreatedAt), r.Columns.Time(&d, &s.SeenAt), &head)
	d.done()
	return s, head, err
}

// Checkpoint reads one audit checkpoint: number, seq, hash, signed_at,
// key_id, signature.
func (r Reader) Checkpoint(row Scanner) (portal.AuditCheckpoint, error) {
	var d Decoder
	var c portal.AuditCheckpoint
	if err := row.Scan(&c.Number, &c.Seq, &c.Hash, r.Columns.Time(&d, &c.Time), &c.KeyID, &c.Signature); err != nil {
		return c, err
	}
	if err := d.done(); err != nil {
		return c, portal.Wrap(err, portal.EINTERNAL, fmt.Sprintf("Audit checkpoint %d holds a value the portal never writes.", c.Number))
	}
	return c, nil
}

// OpenIntent reads an intent row as Event does, followed by the job and
// line that wrote it (” and 0: none).
func (r Reader) OpenIntent(row Scanner) (portal.OpenIntent, error) {
	var o portal.OpenIntent
	ev, err := r.Event(trailing{row, []any{&o.Job, &o.Line}})
	o.AuditEvent = ev
	return o, err
}

// trailing scans a row into the destinations given, then into more: a
// reader of a row's leading columns reads a longer row.
type trailing struct {
	Scanner
	more []any
}

func (t trailing) Scan(dest ...any) error { return t.Scanner.Scan(append(dest, t.more...)...) }
