package postgres

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// sealedColumns are the columns of a sealed row, in the order
// storekit.Writer.Event gives them (before actor_fold).
const sealedColumns = `seq, at, actor_tid, actor_oid, actor_name, client_ip, tenant_id, object_id, kind,
	action, phase, intent_seq, before_state, after_state, justification, outcome,
	acs_status, acs_code, request_id, correlation_vector, detail, prev_hash, hash`

// auditColumns is the column list every audit read selects, in the order
// storekit.Reader.Event scans them.
const auditColumns = sealedColumns + `, tenant_seq`

// AppendAudit: see portal.AuditLog. The transaction takes the audit lock
// (see lockAudit), so appends from any goroutine or instance are
// serialised.
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

// appendAudit reads the head, seals ev after it and inserts it; the
// database numbers it among its tenant's rows (a trigger: see migration
// 0010). tx must hold the audit lock.
func appendAudit(ctx context.Context, tx pgx.Tx, ev portal.AuditEvent) (portal.AuditEvent, error) {
	headSeq, headHash, err := auditHead(ctx, tx)
	if err != nil {
		return ev, err
	}
	sealed, err := text.Seal(ev, headSeq, headHash)
	if err != nil {
		return ev, err
	}
	err = tx.QueryRow(ctx, insertAuditSQL+` RETURNING tenant_seq`, write.Event(sealed)...).Scan(&sealed.TenantSeq)
	return sealed.AuditEvent, err
}

// auditHead reads the newest audit row's Seq and hash (0 and "" for none).
// tx must hold the audit lock.
func auditHead(ctx context.Context, tx pgx.Tx) (seq int64, hash string, err error) {
	err = tx.QueryRow(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		err = nil
	}
	return seq, hash, err
}

// insertAuditSQL inserts a sealed row, bound to write.Event's values.
const insertAuditSQL = `INSERT INTO audit_log (` + sealedColumns + `, actor_fold)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)`

// ListAudit: see portal.AuditLog. Matched, Rows, Events and Intents are
// read from one snapshot.
func (db *DB) ListAudit(ctx context.Context, f portal.AuditFilter) (portal.AuditPage, error) {
	var page portal.AuditPage
	where, args := auditWhere(f)
	shown := "true"
	if f.OnePerChange {
		shown = onePerChange
	}
	err := db.inTx(ctx, "read the audit log", snapshot, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE `+shown+`) FROM audit_log`+where, args...).Scan(&page.Rows, &page.Matched); err != nil {
			return err
		}
		offset, limit := max(f.Offset, 0), storekit.PageSize(f.Limit)
		if offset >= page.Matched {
			return nil
		}
		if f.OnePerChange {
			where = andWhere(where, onePerChange)
		}
		rows, err := tx.Query(ctx, `SELECT `+auditColumns+` FROM audit_log`+where+
			` ORDER BY seq DESC LIMIT `+args.add(limit)+` OFFSET `+args.add(offset), args...)
		if page.Events, err = storekit.Collect(rows, err, "read the audit log", read.Event); err != nil {
			return err
		}
		cited := storekit.CitedIntents(page.Events)
		if !f.OnePerChange || len(cited) == 0 {
			return nil
		}
		var p params
		query := `SELECT ` + auditColumns + ` FROM audit_log WHERE seq = ANY(` + p.add(cited) + `)`
		if !f.TenantID.IsZero() {
			query += ` AND tenant_id = ` + p.add(uuidOf(f.TenantID))
		}
		rows, err = tx.Query(ctx, query, p...)
		intents, err := storekit.Collect(rows, err, "read the audit log", read.Event)
		page.Intents = storekit.BySeq(intents)
		return err
	})
	return page, err
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
func auditWhere(f portal.AuditFilter) (string, params) {
	var where []string
	var p params
	if !f.TenantID.IsZero() {
		where = append(where, "tenant_id = "+p.add(uuidOf(f.TenantID)))
	}
	if actor := text.Fold(strings.TrimSpace(f.Actor)); actor != "" {
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
		where = append(where, "action = "+p.add(text(string(f.Action))))
	}
	if f.Outcome != "" {
		where = append(where, "outcome = "+p.add(text(string(f.Outcome))))
	}
	if !f.From.IsZero() {
		where = append(where, "at >= "+p.add(storekit.CeilMillis(f.From)))
	}
	if !f.To.IsZero() {
		where = append(where, "at < "+p.add(storekit.CeilMillis(f.To)))
	}
	if len(where) == 0 {
		return "", p
	}
	return " WHERE " + strings.Join(where, " AND "), p
}

// WalkAudit: see portal.AuditLog.
func (db *DB) WalkAudit(ctx context.Context, tenant portal.GUID, fn func(portal.AuditEvent) error) error {
	return db.WalkAuditMatching(ctx, portal.AuditFilter{TenantID: tenant}, fn)
}

// WalkAuditMatching: see portal.AuditLog. As AllItems, it reads a chunk
// at a time, by Seq, holding no connection while fn runs.
func (db *DB) WalkAuditMatching(ctx context.Context, f portal.AuditFilter, fn func(portal.AuditEvent) error) error {
	where, args := auditWhere(f)
	next := func(after int64, limit int) ([]portal.AuditEvent, error) {
		p := slices.Clip(args)
		query := `SELECT ` + auditColumns + ` FROM audit_log` + andWhere(where, "seq > "+p.add(after)) + ` ORDER BY seq LIMIT ` + p.add(limit)
		rows, err := db.pool.Query(ctx, query, p...)
		return storekit.CollectN(limit, rows, err, "read the audit log", read.Event)
	}
	return storekit.Walk(db.walkChunk, next, func(e portal.AuditEvent) int64 { return e.Seq }, fn)
}
