package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// Commit appends ev to the audit log (sealed after the head, as AppendAudit
// does) and applies change to the inventory, in one transaction that holds
// the audit lock from its start: either both happen or neither, and
// commits are serialised with every append. It returns the appended event
// and, for InventoryPut and InventoryVerified, the row as stored.
//
//   - InventoryPut creates the row (Version 1) or replaces its assignment,
//     label, updated time and actor, state, verification time and observed
//     assignment (Version + 1), keeping CreatedAt and CreatedBy of an
//     existing row. A new row whose CreatedAt (CreatedBy) is zero takes its
//     UpdatedAt (UpdatedBy). Client IDs are stored normalised; State ""
//     is stored as StateUnverified; invalid UTF-8 and NUL in the label and
//     names become U+FFFD.
//   - InventoryDelete removes the row; a row that is already gone is not an
//     error (the audit row is still appended).
//   - InventoryVerified sets State, VerifiedAt and Observed only; Version is
//     unchanged. If the row is gone it is an ENOTFOUND error and nothing is
//     written, audit row included; if IfVersion is set and the row is at
//     another version, ECONFLICT, and nothing is written.
//   - InventoryKeep writes the audit row alone.
//
// Except for InventoryKeep, the change must name a tenant and object, and
// ev must name the same ones (EINVALID otherwise), so an audit row can never
// describe one assignment while another changes. A Put must have a known
// Kind and a known or empty State.
func (db *DB) Commit(ctx context.Context, ev portal.AuditEvent, change portal.InventoryChange) (portal.AuditEvent, portal.InventoryItem, error) {
	var stored portal.AuditEvent
	var item portal.InventoryItem
	if err := storekit.CheckChange(ev, change); err != nil {
		return ev, item, err
	}
	err := db.inTx(ctx, "save the change", pgx.TxOptions{}, func(tx pgx.Tx) error {
		if err := lockAudit(ctx, tx); err != nil {
			return err
		}
		it := change.Item
		var err error
		switch change.Op {
		case portal.InventoryPut:
			item, err = putItem(ctx, tx, it)
		case portal.InventoryDelete:
			_, err = tx.Exec(ctx, `DELETE FROM inventory WHERE tenant_id = $1 AND object_id = $2`, uuidOf(it.TenantID), uuidOf(it.ObjectID))
		case portal.InventoryVerified:
			item, err = markVerified(ctx, tx, it, change.IfVersion)
		}
		if err != nil {
			return err
		}
		if stored, err = appendAudit(ctx, tx, ev); err != nil {
			return dbError(err, "write the audit log")
		}
		return nil
	})
	if err != nil {
		return ev, portal.InventoryItem{}, err
	}
	return stored, item, nil
}

// putItem inserts the row or replaces everything but its key, creation and
// version, which it bumps, and returns the row as stored.
func putItem(ctx context.Context, q querier, it portal.InventoryItem) (portal.InventoryItem, error) {
	created, createdBy := it.CreatedAt, it.CreatedBy
	if created.IsZero() {
		created = it.UpdatedAt
	}
	if createdBy == (portal.Actor{}) {
		createdBy = it.UpdatedBy
	}
	observed, err := encodeObserved(it.Observed)
	if err != nil {
		return portal.InventoryItem{}, err
	}
	label := validText(it.Label)
	return scanItem(q.QueryRow(ctx, `INSERT INTO inventory (tenant_id, object_id, client_ids, kind, state, label,
			created_at, created_by_tid, created_by_oid, created_by_name,
			updated_at, updated_by_tid, updated_by_oid, updated_by_name,
			verified_at, observed, expires_at, version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 1)
		ON CONFLICT (tenant_id, object_id) DO UPDATE SET
			client_ids = excluded.client_ids, kind = excluded.kind,
			state = excluded.state, label = excluded.label,
			updated_at = excluded.updated_at, updated_by_tid = excluded.updated_by_tid,
			updated_by_oid = excluded.updated_by_oid, updated_by_name = excluded.updated_by_name,
			verified_at = excluded.verified_at, observed = excluded.observed,
			expires_at = excluded.expires_at, version = inventory.version + 1
		RETURNING `+itemColumns,
		uuidOf(it.TenantID), uuidOf(it.ObjectID), uuidsOf(portal.NormalizeClientIDs(it.ClientIDs)), it.Kind.String(),
		string(storekit.StateOrUnverified(it.State)), label,
		ms(created), uuidOf(createdBy.TenantID), uuidOf(createdBy.ObjectID), validText(createdBy.Name),
		ms(it.UpdatedAt), uuidOf(it.UpdatedBy.TenantID), uuidOf(it.UpdatedBy.ObjectID), validText(it.UpdatedBy.Name),
		optTime(it.VerifiedAt), observed, optTime(it.ExpiresAt)))
}

// markVerified records a verification and returns the row as stored;
// ENOTFOUND if the row is gone, ECONFLICT if it is not at ifVersion (when
// not 0).
func markVerified(ctx context.Context, q querier, it portal.InventoryItem, ifVersion int64) (portal.InventoryItem, error) {
	observed, err := encodeObserved(it.Observed)
	if err != nil {
		return portal.InventoryItem{}, err
	}
	stored, err := scanItem(q.QueryRow(ctx, `UPDATE inventory SET state = $1, verified_at = $2, observed = $3
		WHERE tenant_id = $4 AND object_id = $5 AND ($6::bigint = 0 OR version = $6::bigint)
		RETURNING `+itemColumns,
		string(storekit.StateOrUnverified(it.State)), optTime(it.VerifiedAt), observed, uuidOf(it.TenantID), uuidOf(it.ObjectID), ifVersion))
	if !errors.Is(err, pgx.ErrNoRows) {
		return stored, err
	}
	if ifVersion != 0 {
		var exists bool
		if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM inventory WHERE tenant_id = $1 AND object_id = $2)`,
			uuidOf(it.TenantID), uuidOf(it.ObjectID)).Scan(&exists); err != nil {
			return portal.InventoryItem{}, err
		}
		if exists {
			return portal.InventoryItem{}, portal.Errorf(portal.ECONFLICT, "The assignment changed while it was being checked.")
		}
	}
	return portal.InventoryItem{}, portal.Errorf(portal.ENOTFOUND, "The portal has no record of that assignment: it was removed meanwhile.")
}
