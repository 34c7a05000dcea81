package sqlite

import (
	"context"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// InventoryChanges returns the tenant's audit head, the objects that audit
// rows after the given Seq may have changed, and whether a reconcile ran
// meanwhile (see portal.Inventory). When nothing happened it costs one
// probe of the (tenant_id, seq) index.
func (db *DB) InventoryChanges(ctx context.Context, tenant portal.GUID, after int64) ([]portal.GUID, bool, int64, error) {
	var head int64
	err := db.auditHead.QueryRowContext(ctx, tenant.String()).Scan(&head)
	if err != nil {
		return nil, false, 0, storeError(err, "read the inventory")
	}
	if head <= after {
		return nil, false, head, nil
	}
	rows, err := db.db.QueryContext(ctx, `SELECT DISTINCT action, object_id FROM audit_log WHERE tenant_id = ? AND seq > ? AND seq <= ?
		AND action IN ('grant', 'edit', 'revoke', 'adopt', 'verify', 'reapply', 'accept', 'reconcile')`, tenant.String(), after, head)
	if err != nil {
		return nil, false, 0, storeError(err, "read the inventory")
	}
	defer rows.Close()
	var changed []portal.GUID
	seen := map[portal.GUID]bool{}
	reload := false
	for rows.Next() {
		var action, object string
		if err := rows.Scan(&action, &object); err != nil {
			return nil, false, 0, storeError(err, "read the inventory")
		}
		if action == string(portal.ActionReconcile) {
			reload = true
			continue
		}
		if object == "" {
			continue
		}
		id, err := portal.ParseGUID(object)
		if err != nil {
			return nil, false, 0, portal.Wrap(err, portal.EINTERNAL, "The inventory holds a malformed object ID.")
		}
		if !seen[id] {
			seen[id] = true
			changed = append(changed, id)
		}
	}
	return changed, reload, head, storeError(rows.Err(), "read the inventory")
}

// TouchVerified sets verified_at of the rows named that are still at the
// given versions (see portal.Inventory), in batches, without audit rows.
func (db *DB) TouchVerified(ctx context.Context, tenant portal.GUID, versions map[portal.GUID]int64, at time.Time) error {
	if len(versions) == 0 {
		return nil
	}
	tx, done, err := db.beginWrite(ctx)
	if err != nil {
		return storeError(err, "record the verification")
	}
	defer done()
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `UPDATE inventory SET verified_at = ? WHERE tenant_id = ? AND object_id = ? AND version = ?`)
	if err != nil {
		return storeError(err, "record the verification")
	}
	defer stmt.Close()
	for id, v := range versions {
		if _, err := stmt.ExecContext(ctx, at.UnixMilli(), tenant.String(), id.String(), v); err != nil {
			return storeError(err, "record the verification")
		}
	}
	return storeError(tx.Commit(), "record the verification")
}

// ExpiringItems returns up to limit rows, of every tenant, whose access ends
// at or before t, the earliest first.
func (db *DB) ExpiringItems(ctx context.Context, t time.Time, limit int) ([]portal.InventoryItem, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+itemColumns+` FROM inventory
		WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at, tenant_id, object_id LIMIT ?`, t.UnixMilli(), limit)
	if err != nil {
		return nil, storeError(err, "read the inventory")
	}
	defer rows.Close()
	var out []portal.InventoryItem
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, dbError(err, "read the inventory")
		}
		out = append(out, it)
	}
	return out, storeError(rows.Err(), "read the inventory")
}
