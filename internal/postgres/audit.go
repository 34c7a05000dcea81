package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// auditColumns is the column list every audit read selects; scanEvent reads
// them in this order.
const auditColumns = `seq, at, actor_tid, actor_oid, actor_name, client_ip, tenant_id, object_id, kind,
	action, phase, intent_seq, before_state, after_state, justification, outcome,
	acs_status, acs_code, request_id, correlation_vector, detail, prev_hash, hash`

// AppendAudit seals ev after the current head and appends it, in one
// transaction that holds the audit lock (see lockAudit), so appends from any
// goroutine or instance are serialised and the chain stays linear. It
// returns ev as stored: Seq, PrevHash and Hash set, Time in UTC truncated to
// the millisecond, invalid UTF-8 and NUL in any text replaced by U+FFFD
// (before hashing, so the row verifies as read back). An event whose Kind is
// not a known kind is EINVALID. On any error nothing was appended.
func (db *DB) AppendAudit(ctx context.Context, ev portal.AuditEvent) (portal.AuditEvent, error) {
	var stored portal.AuditEvent
	err := db.inTx(ctx, "write the audit log", pgx.TxOptions{}, func(tx pgx.Tx) error {
		if err := lockAudit(ctx, tx); err != nil {
			return err
		}
		var err error
		stored, err = appendAudit(ctx, tx, ev)
		return err
	})
	if err != nil {
		return ev, err
	}
	return stored, nil
}

// lockAudit takes the audit lock until tx ends: a transaction-level
// advisory lock keyed by audit_log's OID, so that one append at a time, in
// any instance, reads the head. The lock is released only after the commit
// is visible, so the next holder reads the row just appended, and Seq
// order is commit order.
func lockAudit(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, 'audit_log'::regclass::oid::int)`, lockClassAudit)
	return err
}

// appendAudit reads the head, seals ev after it and inserts it. tx must
// hold the audit lock.
func appendAudit(ctx context.Context, tx pgx.Tx, ev portal.AuditEvent) (portal.AuditEvent, error) {
	switch ev.Kind {
	case portal.KindUnknown, portal.KindUser, portal.KindResourceAccount:
	default:
		return ev, portal.Errorf(portal.EINVALID, "The audit event names an unknown kind of principal.")
	}
	var headSeq int64
	var headHash string
	err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&headSeq, &headHash)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
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
	_, err = tx.Exec(ctx, `INSERT INTO audit_log (`+auditColumns+`, actor_fold)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)`,
		ev.Seq, ev.Time, uuidOf(ev.Actor.TenantID), uuidOf(ev.Actor.ObjectID), ev.Actor.Name,
		ev.ClientIP, uuidOf(ev.TenantID), uuidOf(ev.ObjectID), kind,
		string(ev.Action), string(ev.Phase), ev.IntentSeq, before, after, ev.Justification, string(ev.Outcome),
		ev.ACSStatus, ev.ACSCode, ev.RequestID, ev.CorrelationVector, ev.Detail, ev.PrevHash, ev.Hash,
		fold(ev.Actor.Name))
	return ev, err
}

// validEvent returns ev with every text made storable (see validText),
// Before and After copied rather than changed in place. It runs before
// Seal, so that the row reads back with the bytes that were hashed.
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
// capped at 200; a negative Offset is 0. Matched and Events are read from
// one snapshot.
func (db *DB) ListAudit(ctx context.Context, f portal.AuditFilter) (portal.AuditPage, error) {
	var page portal.AuditPage
	where, args := auditWhere(f)
	err := db.inTx(ctx, "read the audit log", snapshot, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM audit_log`+where, args...).Scan(&page.Matched); err != nil {
			return err
		}
		offset, limit := max(f.Offset, 0), storekit.PageSize(f.Limit)
		if offset >= page.Matched {
			return nil
		}
		rows, err := tx.Query(ctx, `SELECT `+auditColumns+` FROM audit_log`+where+
			` ORDER BY seq DESC LIMIT `+args.add(limit)+` OFFSET `+args.add(offset), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			ev, err := scanEvent(rows)
			if err != nil {
				return err
			}
			page.Events = append(page.Events, ev)
		}
		return rows.Err()
	})
	return page, err
}

// auditWhere turns f into a WHERE clause (with the keyword, or "") and its
// arguments.
func auditWhere(f portal.AuditFilter) (string, params) {
	var where []string
	var p params
	if !f.TenantID.IsZero() {
		where = append(where, "tenant_id = "+p.add(uuidOf(f.TenantID)))
	}
	if actor := fold(strings.TrimSpace(f.Actor)); actor != "" {
		if g, err := portal.ParseGUID(actor); err == nil {
			where = append(where, "actor_oid = "+p.add(uuidOf(g))) // served by audit_log_by_actor
		} else if id := storekit.IDFragment(actor); id != "" {
			where = append(where, "(strpos(actor_fold, "+p.add(actor)+") > 0 OR strpos(actor_oid::text, "+p.add(id)+") > 0)")
		} else {
			where = append(where, "strpos(actor_fold, "+p.add(actor)+") > 0")
		}
	}
	if !f.ObjectID.IsZero() {
		where = append(where, "object_id = "+p.add(uuidOf(f.ObjectID)))
	}
	if f.Action != "" {
		where = append(where, "action = "+p.add(validText(string(f.Action))))
	}
	if f.Outcome != "" {
		where = append(where, "outcome = "+p.add(validText(string(f.Outcome))))
	}
	if !f.From.IsZero() {
		where = append(where, "at >= "+p.add(ceilMillis(f.From)))
	}
	if !f.To.IsZero() {
		where = append(where, "at < "+p.add(ceilMillis(f.To)))
	}
	if len(where) == 0 {
		return "", p
	}
	return " WHERE " + strings.Join(where, " AND "), p
}

// WalkAudit calls fn for every row of tenant (zero: every row) in Seq order,
// reading them one at a time from one snapshot (see AllItems on keeping fn
// quick). An error from fn stops it and is returned as is. A row holding a
// value the portal never writes (changed behind its back) stops it with an
// EINTERNAL error naming that row.
func (db *DB) WalkAudit(ctx context.Context, tenant portal.GUID, fn func(portal.AuditEvent) error) error {
	query, args := `SELECT `+auditColumns+` FROM audit_log ORDER BY seq`, []any(nil)
	if !tenant.IsZero() {
		query, args = `SELECT `+auditColumns+` FROM audit_log WHERE tenant_id = $1 ORDER BY seq`, []any{uuidOf(tenant)}
	}
	rows, err := db.pool.Query(ctx, query, args...)
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

// encodeAuditState returns the JSON of s, or nil (NULL) for none.
func encodeAuditState(s *portal.AuditState) ([]byte, error) {
	if s == nil {
		return nil, nil
	}
	return json.Marshal(s)
}

// scanEvent reads one row of auditColumns into the event it was written
// from: same values, so the same canonical encoding and hash.
func scanEvent(row pgx.Row) (portal.AuditEvent, error) {
	var (
		ev                                 portal.AuditEvent
		at                                 time.Time
		actorTid, actorOid, tenant, object pgtype.UUID
		kind, action, phase, outcome       string
		before, after                      []byte
	)
	if err := row.Scan(&ev.Seq, &at, &actorTid, &actorOid, &ev.Actor.Name, &ev.ClientIP, &tenant, &object, &kind,
		&action, &phase, &ev.IntentSeq, &before, &after, &ev.Justification, &outcome,
		&ev.ACSStatus, &ev.ACSCode, &ev.RequestID, &ev.CorrelationVector, &ev.Detail, &ev.PrevHash, &ev.Hash); err != nil {
		return ev, err
	}
	var d decoder
	ev.Time = at.UTC()
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

func (d *decoder) auditState(b []byte) *portal.AuditState {
	if b == nil {
		return nil
	}
	var st portal.AuditState
	if err := json.Unmarshal(b, &st); err != nil {
		d.fail(err)
	}
	return &st
}
