package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// auditColumns is the column list every audit read selects; scanEvent reads
// them in this order.
const auditColumns = `seq, time, actor_tid, actor_oid, actor_name, client_ip, tenant_id, object_id, kind,
	action, phase, intent_seq, before_state, after_state, justification, outcome,
	acs_status, acs_code, request_id, correlation_vector, detail, prev_hash, hash`

// AppendAudit seals ev after the current head and appends it, in one
// transaction that holds SQLite's write lock from its start, so appends from
// any goroutine or process are serialised and the chain stays linear. It
// returns ev as stored: Seq, PrevHash and Hash set, Time in UTC truncated to
// the millisecond, invalid UTF-8 in any text replaced by U+FFFD (before
// hashing, so the row verifies as read back). An event whose Kind is not a
// known kind is EINVALID. On any error nothing was appended.
func (db *DB) AppendAudit(ctx context.Context, ev portal.AuditEvent) (portal.AuditEvent, error) {
	tx, done, err := db.beginWrite(ctx)
	if err != nil {
		return ev, storeError(err, "write the audit log")
	}
	defer done()
	defer tx.Rollback()
	stored, err := appendAudit(ctx, tx, ev)
	if err != nil {
		return ev, dbError(err, "write the audit log")
	}
	if err := tx.Commit(); err != nil {
		return ev, storeError(err, "write the audit log")
	}
	return stored, nil
}

// appendAudit reads the head, seals ev after it and inserts it. tx must hold
// the write lock (BEGIN IMMEDIATE) so that no other append reads the same head.
func appendAudit(ctx context.Context, tx *sql.Tx, ev portal.AuditEvent) (portal.AuditEvent, error) {
	switch ev.Kind {
	case portal.KindUnknown, portal.KindUser, portal.KindResourceAccount:
	default:
		return ev, portal.Errorf(portal.EINVALID, "The audit event names an unknown kind of principal.")
	}
	var headSeq int64
	var headHash string
	err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&headSeq, &headHash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return ev, err
	}
	ev = validEvent(ev)
	ev.Seal(headSeq, headHash)
	before, err := encodeAuditState(ev.Before)
	if err != nil {
		return ev, err
	}
	after, err := encodeAuditState(ev.After)
	if err != nil {
		return ev, err
	}
	kind := ""
	if ev.Kind != portal.KindUnknown {
		kind = ev.Kind.String()
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO audit_log (`+auditColumns+`, actor_fold)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ev.Seq, millis(ev.Time), guidText(ev.Actor.TenantID), guidText(ev.Actor.ObjectID), ev.Actor.Name,
		ev.ClientIP, guidText(ev.TenantID), guidText(ev.ObjectID), kind,
		string(ev.Action), string(ev.Phase), ev.IntentSeq, before, after, ev.Justification, string(ev.Outcome),
		ev.ACSStatus, ev.ACSCode, ev.RequestID, ev.CorrelationVector, ev.Detail, ev.PrevHash, ev.Hash,
		fold(ev.Actor.Name))
	return ev, err
}

// validEvent returns ev with every text made valid UTF-8 (see validText),
// Before and After copied rather than changed in place. It runs before Seal:
// Before and After are stored as JSON, which cannot carry invalid UTF-8, so
// without it such a row would read back with other bytes than were hashed.
func validEvent(ev portal.AuditEvent) portal.AuditEvent {
	for _, s := range []*string{&ev.Actor.Name, &ev.ClientIP, &ev.Justification, &ev.ACSCode,
		&ev.RequestID, &ev.CorrelationVector, &ev.Detail} {
		*s = validText(*s)
	}
	ev.Action, ev.Phase, ev.Outcome = portal.AuditAction(validText(string(ev.Action))),
		portal.AuditPhase(validText(string(ev.Phase))), portal.AuditOutcome(validText(string(ev.Outcome)))
	ev.Before, ev.After = validState(ev.Before), validState(ev.After)
	return ev
}

func validState(s *portal.AuditState) *portal.AuditState {
	if s == nil {
		return nil
	}
	c := *s // every field, so none added later is dropped
	c.Kind, c.Label, c.ExpiresAt = validText(s.Kind), validText(s.Label), validText(s.ExpiresAt)
	if s.ClientIDs != nil {
		c.ClientIDs = make([]string, len(s.ClientIDs))
		for i, id := range s.ClientIDs {
			c.ClientIDs[i] = validText(id)
		}
	}
	return &c
}

// ListAudit returns a page of rows matching f, newest (highest Seq) first,
// and how many match in all; an empty result is not an error. The zero
// TenantID means every tenant, including rows of no tenant.
//
// Actor, with surrounding space ignored, is a whole GUID (any case, braces
// allowed), which matches the actor's object ID exactly, or text, which
// matches case-insensitively and literally part of the actor's name or
// object ID. From is inclusive, To exclusive. Limit 0 means 50; Limit is
// capped at 200; a negative Offset is 0.
func (db *DB) ListAudit(ctx context.Context, f portal.AuditFilter) (portal.AuditPage, error) {
	var page portal.AuditPage
	where, args := auditWhere(f)
	tx, err := db.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return page, storeError(err, "read the audit log")
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM audit_log`+where, args...).Scan(&page.Matched); err != nil {
		return page, storeError(err, "read the audit log")
	}
	offset, limit := max(f.Offset, 0), storekit.PageSize(f.Limit)
	if offset < page.Matched {
		page.Events, err = listAudit(ctx, tx, where, append(args, limit, offset))
		if err != nil {
			return page, dbError(err, "read the audit log")
		}
	}
	return page, storeError(tx.Commit(), "read the audit log")
}

func listAudit(ctx context.Context, tx *sql.Tx, where string, args []any) ([]portal.AuditEvent, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_log`+where+` ORDER BY seq DESC LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var events []portal.AuditEvent
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		events = append(events, ev)
	}
	return events, rows.Err()
}

// auditWhere turns f into a WHERE clause (with the keyword, or "") and its
// arguments.
func auditWhere(f portal.AuditFilter) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, a ...any) {
		where, args = append(where, cond), append(args, a...)
	}
	if !f.TenantID.IsZero() {
		add("tenant_id = ?", f.TenantID.String())
	}
	if actor := fold(strings.TrimSpace(f.Actor)); actor != "" {
		if g, err := portal.ParseGUID(actor); err == nil {
			add("actor_oid = ?", g.String()) // served by audit_log_by_actor
		} else if id := storekit.IDFragment(actor); id != "" {
			add("(instr(actor_fold, ?) > 0 OR instr(actor_oid, ?) > 0)", actor, id)
		} else {
			add("instr(actor_fold, ?) > 0", actor)
		}
	}
	if !f.ObjectID.IsZero() {
		add("object_id = ?", f.ObjectID.String())
	}
	if f.Action != "" {
		add("action = ?", string(f.Action))
	}
	if f.Outcome != "" {
		add("outcome = ?", string(f.Outcome))
	}
	if !f.From.IsZero() {
		add("time >= ?", ceilMillis(f.From))
	}
	if !f.To.IsZero() {
		add("time < ?", ceilMillis(f.To))
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// ceilMillis rounds t up to a whole millisecond, so that comparing stored
// milliseconds with it compares the times exactly: a row at 10 ms is not
// at or after 10.5 ms, and is before it.
func ceilMillis(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.After(time.UnixMilli(ms)) {
		ms++
	}
	return ms
}

// WalkAudit calls fn for every row of tenant (zero: every row) in Seq order,
// reading them one at a time from one snapshot (see AllItems on keeping fn
// quick). An error from fn stops it and is returned as is. A row holding a value the portal never writes (changed behind its
// back) stops it with an EINTERNAL error naming that row.
func (db *DB) WalkAudit(ctx context.Context, tenant portal.GUID, fn func(portal.AuditEvent) error) error {
	query, args := `SELECT `+auditColumns+` FROM audit_log ORDER BY seq`, []any(nil)
	if !tenant.IsZero() {
		query, args = `SELECT `+auditColumns+` FROM audit_log WHERE tenant_id = ? ORDER BY seq`, []any{tenant.String()}
	}
	rows, err := db.db.QueryContext(ctx, query, args...)
	if err != nil {
		return storeError(err, "read the audit log")
	}
	defer rows.Close()
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return dbError(err, "read the audit log")
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	return storeError(rows.Err(), "read the audit log")
}

func encodeAuditState(s *portal.AuditState) (sql.NullString, error) {
	if s == nil {
		return sql.NullString{}, nil
	}
	b, err := json.Marshal(s)
	return sql.NullString{String: string(b), Valid: true}, err
}

// scanEvent reads one row of auditColumns into the event it was written
// from: same values, so the same canonical encoding and hash.
func scanEvent(row rowScanner) (portal.AuditEvent, error) {
	var (
		ev                                 portal.AuditEvent
		ms                                 int64
		actorTid, actorOid, tenant, object string
		kind, action, phase, outcome       string
		before, after                      sql.NullString
	)
	if err := row.Scan(&ev.Seq, &ms, &actorTid, &actorOid, &ev.Actor.Name, &ev.ClientIP, &tenant, &object, &kind,
		&action, &phase, &ev.IntentSeq, &before, &after, &ev.Justification, &outcome,
		&ev.ACSStatus, &ev.ACSCode, &ev.RequestID, &ev.CorrelationVector, &ev.Detail, &ev.PrevHash, &ev.Hash); err != nil {
		return ev, err
	}
	var d decoder
	ev.Time = fromMillis(ms)
	ev.Actor.TenantID, ev.Actor.ObjectID = d.guid(actorTid), d.guid(actorOid)
	ev.TenantID, ev.ObjectID = d.guid(tenant), d.guid(object)
	ev.Kind = d.kind(kind)
	ev.Action, ev.Phase, ev.Outcome = portal.AuditAction(action), portal.AuditPhase(phase), portal.AuditOutcome(outcome)
	ev.Before, ev.After = d.auditState(before), d.auditState(after)
	if d.err != nil {
		return ev, portal.Wrap(d.err, portal.EINTERNAL,
			fmt.Sprintf("Audit row %d holds a value the portal never writes: it was changed outside the portal.", ev.Seq))
	}
	return ev, nil
}

func (d *decoder) auditState(s sql.NullString) *portal.AuditState {
	if !s.Valid {
		return nil
	}
	var st portal.AuditState
	if err := json.Unmarshal([]byte(s.String), &st); err != nil {
		d.fail(err)
	}
	return &st
}
