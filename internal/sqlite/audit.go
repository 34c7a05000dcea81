package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// sealedColumns are the columns of a sealed row, in the order
// storekit.Writer.Event gives them (before actor_fold).
const sealedColumns = `seq, time, actor_tid, actor_oid, actor_name, client_ip, tenant_id, object_id, kind,
	action, phase, intent_seq, before_state, after_state, justification, outcome,
	acs_status, acs_code, request_id, correlation_vector, detail, prev_hash, hash`

// auditColumns is the column list every audit read selects, in the order
// storekit.Reader.Event scans them.
const auditColumns = sealedColumns + `, tenant_seq`

// AppendAudit: see portal.AuditLog. The transaction holds SQLite's write
// lock from its start, so appends from any goroutine or process are
// serialised.
func (db *DB) AppendAudit(ctx context.Context, ev portal.AuditEvent) (portal.AuditEvent, error) {
	var stored portal.AuditEvent
	err := db.write(ctx, "write the audit log", func(tx querier) (err error) {
		stored, err = appendAudit(ctx, tx, ev)
		return err
	})
	if err != nil {
		return ev, err
	}
	return stored, nil
}

// appendAudit reads the head, seals ev after it and inserts it, numbered
// after its tenant's newest row. tx must hold the write lock (BEGIN
// IMMEDIATE) so that no other append reads the same head or number.
func appendAudit(ctx context.Context, tx querier, ev portal.AuditEvent) (portal.AuditEvent, error) {
	var headSeq int64
	var headHash string
	err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&headSeq, &headHash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return ev, err
	}
	sealed, err := text.Seal(ev, headSeq, headHash)
	if err != nil {
		return ev, err
	}
	args := write.Event(sealed)
	err = tx.QueryRowContext(ctx, `INSERT INTO audit_log (`+sealedColumns+`, actor_fold, tenant_seq)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
			coalesce((SELECT tenant_seq FROM audit_log WHERE tenant_id = ? ORDER BY tenant_seq DESC LIMIT 1), 0) + 1)
		RETURNING tenant_seq`, append(args, args[6])...).Scan(&sealed.TenantSeq)
	return sealed.AuditEvent, err
}

// ListAudit: see portal.AuditLog. Matched, Rows, Events and Intents are
// read in one transaction, from one snapshot.
func (db *DB) ListAudit(ctx context.Context, f portal.AuditFilter) (portal.AuditPage, error) {
	var page portal.AuditPage
	where, args := auditWhere(f)
	tx, err := db.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return page, storekit.Unavailable(err, "read the audit log")
	}
	defer tx.Rollback()
	shown := "true"
	if f.OnePerChange {
		shown = onePerChange
	}
	if err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(CASE WHEN `+shown+` THEN 1 ELSE 0 END), 0) FROM audit_log`+where,
		args...).Scan(&page.Rows, &page.Matched); err != nil {
		return page, storekit.Unavailable(err, "read the audit log")
	}
	if f.OnePerChange {
		where = andWhere(where, onePerChange)
	}
	if offset, limit := max(f.Offset, 0), storekit.PageSize(f.Limit); offset < page.Matched {
		rows, err := tx.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_log`+where+` ORDER BY seq DESC LIMIT ? OFFSET ?`,
			append(args, limit, offset)...)
		if page.Events, err = storekit.Collect(rows, err, "read the audit log", read.Event); err != nil {
			return page, err
		}
	}
	if cited := storekit.CitedIntents(page.Events); f.OnePerChange && len(cited) > 0 {
		query, args := storekit.Scoped(f.TenantID, `SELECT `+auditColumns+` FROM audit_log WHERE seq IN (SELECT value FROM json_each(?))`,
			`SELECT `+auditColumns+` FROM audit_log WHERE tenant_id = ? AND seq IN (SELECT value FROM json_each(?))`, f.TenantID.String())
		rows, err := tx.QueryContext(ctx, query, append(args, jsonInts(cited))...)
		intents, err := storekit.Collect(rows, err, "read the audit log", read.Event)
		if err != nil {
			return page, err
		}
		page.Intents = storekit.BySeq(intents)
	}
	return page, storekit.Unavailable(tx.Commit(), "read the audit log")
}

// onePerChange is true of the rows a page of one row per change shows
// (portal.AuditFilter.OnePerChange): all but the intents an outcome
// cites, which are those no longer open.
const onePerChange = `(phase <> 'intent' OR seq IN (SELECT seq FROM audit_open_intents))`

// andWhere adds cond to a WHERE clause made by auditWhere.
func andWhere(where, cond string) string {
	if where == "" {
		return " WHERE " + cond
	}
	return where + " AND " + cond
}

// auditWhere turns f into a WHERE clause (with the keyword, or "") and its
// arguments; f.OnePerChange is the caller's to add.
func auditWhere(f portal.AuditFilter) (string, []any) {
	var where []string
	var args []any
	add := func(cond string, a ...any) {
		where, args = append(where, cond), append(args, a...)
	}
	if !f.TenantID.IsZero() {
		add("tenant_id = ?", f.TenantID.String())
	}
	if actor := text.Fold(strings.TrimSpace(f.Actor)); actor != "" {
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
		add("time >= ?", storekit.CeilMillis(f.From).UnixMilli())
	}
	if !f.To.IsZero() {
		add("time < ?", storekit.CeilMillis(f.To).UnixMilli())
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// WalkAudit: see portal.AuditLog.
func (db *DB) WalkAudit(ctx context.Context, tenant portal.GUID, fn func(portal.AuditEvent) error) error {
	return db.WalkAuditMatching(ctx, portal.AuditFilter{TenantID: tenant}, fn)
}

// WalkAuditMatching: see portal.AuditLog. As AllItems, it reads a chunk
// at a time, by Seq, holding nothing of the database while fn runs.
func (db *DB) WalkAuditMatching(ctx context.Context, f portal.AuditFilter, fn func(portal.AuditEvent) error) error {
	where, args := auditWhere(f)
	query := `SELECT ` + auditColumns + ` FROM audit_log` + andWhere(where, "seq > ?") + ` ORDER BY seq LIMIT ?`
	next := func(after int64, limit int) ([]portal.AuditEvent, error) {
		rows, err := db.db.QueryContext(ctx, query, append(slices.Clip(args), after, limit)...)
		return storekit.CollectN(limit, rows, err, "read the audit log", read.Event)
	}
	return storekit.Walk(db.walkChunk, next, func(e portal.AuditEvent) int64 { return e.Seq }, fn)
}
