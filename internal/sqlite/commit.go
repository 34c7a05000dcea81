package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// Commit appends ev to the audit log (sealed after the head, as AppendAudit
// does) and applies change to the inventory, in one transaction that holds
// the write lock from its start: either both happen or neither. It returns
// the appended event and, for InventoryPut and InventoryVerified, the row as
// stored, read back in the same transaction.
//
//   - InventoryPut creates the row (Version 1) or replaces its assignment,
//     label, updated time and actor, state, verification time and observed
//     assignment (Version + 1), keeping CreatedAt and CreatedBy of an
//     existing row. A new row whose CreatedAt (CreatedBy) is zero takes its
//     UpdatedAt (UpdatedBy). Client IDs are stored normalised; State ""
//     is stored as StateUnverified; invalid UTF-8 in the label and names
//     becomes U+FFFD.
//   - InventoryDelete removes the row; a row that is already gone is not an
//     error (the audit row is still appended).
//   - InventoryVerified sets State, VerifiedAt and Observed only; Version is
//     unchanged. If the row is gone it is an ENOTFOUND error and nothing is
//     written, audit row included: a verification must not resurrect or
//     misreport a revoked assignment.
//   - InventoryKeep writes the audit row alone.
//
// Except for InventoryKeep, the change must name a tenant and object, and
// ev must name the same ones (EINVALID otherwise), so an audit row can never
// describe one assignment while another changes. A Put must have a known
// Kind and a known or empty State.
func (db *DB) Commit(ctx context.Context, ev portal.AuditEvent, change portal.InventoryChange) (portal.AuditEvent, portal.InventoryItem, error) {
	var item portal.InventoryItem
	if err := storekit.CheckChange(ev, change); err != nil {
		return ev, item, err
	}
	tx, done, err := db.beginWrite(ctx)
	if err != nil {
		return ev, item, storeError(err, "save the change")
	}
	defer done()
	defer tx.Rollback()

	it := change.Item
	switch change.Op {
	case portal.InventoryPut:
		err = putItem(ctx, tx, it)
	case portal.InventoryDelete:
		_, err = tx.ExecContext(ctx, `DELETE FROM inventory WHERE tenant_id = ? AND object_id = ?`, it.TenantID.String(), it.ObjectID.String())
	case portal.InventoryVerified:
		err = markVerified(ctx, tx, it, change.IfVersion)
	}
	if err != nil {
		return ev, item, dbError(err, "save the change")
	}
	stored, err := appendAudit(ctx, tx, ev)
	if err != nil {
		return ev, item, dbError(err, "write the audit log")
	}
	if change.Op == portal.InventoryPut || change.Op == portal.InventoryVerified {
		if item, err = getItem(ctx, tx, it.TenantID, it.ObjectID); err != nil {
			return ev, portal.InventoryItem{}, dbError(err, "save the change")
		}
	}
	if err := tx.Commit(); err != nil {
		return ev, portal.InventoryItem{}, storeError(err, "save the change")
	}
	return stored, item, nil
}

// putItem inserts the row or replaces everything but its key, creation and
// version, which it bumps.
func putItem(ctx context.Context, q querier, it portal.InventoryItem) error {
	created, createdBy := it.CreatedAt, it.CreatedBy
	if created.IsZero() {
		created = it.UpdatedAt
	}
	if createdBy == (portal.Actor{}) {
		createdBy = it.UpdatedBy
	}
	observed, err := encodeObserved(it.Observed)
	if err != nil {
		return err
	}
	label := validText(it.Label)
	_, err = q.ExecContext(ctx, `INSERT INTO inventory (tenant_id, object_id, client_ids, kind, state, label,
			created_at, created_by_tid, created_by_oid, created_by_name,
			updated_at, updated_by_tid, updated_by_oid, updated_by_name,
			verified_at, observed, expires_at, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
		ON CONFLICT (tenant_id, object_id) DO UPDATE SET
			client_ids = excluded.client_ids, kind = excluded.kind,
			state = excluded.state, label = excluded.label,
			updated_at = excluded.updated_at, updated_by_tid = excluded.updated_by_tid,
			updated_by_oid = excluded.updated_by_oid, updated_by_name = excluded.updated_by_name,
			verified_at = excluded.verified_at, observed = excluded.observed,
			expires_at = excluded.expires_at, version = inventory.version + 1`,
		it.TenantID.String(), it.ObjectID.String(), clientIDsText(it.ClientIDs), it.Kind.String(),
		string(storekit.StateOrUnverified(it.State)), label,
		millis(created), guidText(createdBy.TenantID), guidText(createdBy.ObjectID), validText(createdBy.Name),
		millis(it.UpdatedAt), guidText(it.UpdatedBy.TenantID), guidText(it.UpdatedBy.ObjectID), validText(it.UpdatedBy.Name),
		nullMillis(it.VerifiedAt), observed, nullMillis(it.ExpiresAt))
	return err
}

// markVerified records a verification; ENOTFOUND if the row is gone.
func markVerified(ctx context.Context, q querier, it portal.InventoryItem, ifVersion int64) error {
	observed, err := encodeObserved(it.Observed)
	if err != nil {
		return err
	}
	res, err := q.ExecContext(ctx, `UPDATE inventory SET state = ?, verified_at = ?, observed = ? WHERE tenant_id = ? AND object_id = ? AND (? = 0 OR version = ?)`,
		string(storekit.StateOrUnverified(it.State)), nullMillis(it.VerifiedAt), observed, it.TenantID.String(), it.ObjectID.String(), ifVersion, ifVersion)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n > 0 {
		return nil
	}
	if ifVersion != 0 {
		var exists int
		if err := q.QueryRowContext(ctx, `SELECT count(*) FROM inventory WHERE tenant_id = ? AND object_id = ?`, it.TenantID.String(), it.ObjectID.String()).Scan(&exists); err != nil {
			return err
		}
		if exists > 0 {
			return portal.Errorf(portal.ECONFLICT, "The assignment changed while it was being checked.")
		}
	}
	return portal.Errorf(portal.ENOTFOUND, "The portal has no record of that assignment: it was removed meanwhile.")
}

// nullMillis stores the zero time as NULL.
func nullMillis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}
