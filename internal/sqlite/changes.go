package sqlite

import (
	"context"
	"time"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// InventoryChanges: see portal.Inventory. When nothing happened it costs
// one probe of the (tenant_id, seq) index.
func (db *DB) InventoryChanges(ctx context.Context, tenant portal.GUID, after int64) ([]portal.GUID, bool, int64, error) {
	return read.Changes(db.auditHead.QueryRowContext(ctx, tenant.String()), after, func(head int64) (storekit.Rows, error) {
		return db.db.QueryContext(ctx, `SELECT DISTINCT action, object_id FROM audit_log WHERE tenant_id = ? AND seq > ? AND seq <= ?
			AND action IN (SELECT value FROM json_each(?))`, tenant.String(), after, head, jsonText(storekit.Strings(portal.InventoryActions)))
	})
}

// TouchVerified: see portal.Inventory. One prepared statement per row, in
// one write transaction.
func (db *DB) TouchVerified(ctx context.Context, tenant portal.GUID, versions map[portal.GUID]int64, at time.Time) error {
	if len(versions) == 0 {
		return nil
	}
	tx, done, err := db.beginWrite(ctx)
	if err != nil {
		return storekit.Unavailable(err, "record the verification")
	}
	defer done()
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `UPDATE inventory SET verified_at = ? WHERE tenant_id = ? AND object_id = ? AND version = ?`)
	if err != nil {
		return storekit.Unavailable(err, "record the verification")
	}
	defer stmt.Close()
	for id, v := range versions {
		if _, err := stmt.ExecContext(ctx, at.UnixMilli(), tenant.String(), id.String(), v); err != nil {
			return storekit.Unavailable(err, "record the verification")
		}
	}
	return storekit.Unavailable(tx.Commit(), "record the verification")
}

// ExpiringItems: see portal.Inventory.
func (db *DB) ExpiringItems(ctx context.Context, t time.Time, limit int) ([]portal.InventoryItem, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+itemColumns+` FROM inventory
		WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at, tenant_id, object_id LIMIT ?`, t.UnixMilli(), limit)
	return storekit.Collect(rows, err, "read the inventory", read.Item)
}
