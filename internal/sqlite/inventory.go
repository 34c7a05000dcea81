package sqlite

import (
	"context"
	"database/sql"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// itemColumns is the column list every inventory read selects, in the
// order storekit.Reader.Item scans them.
const itemColumns = `tenant_id, object_id, client_ids, label, kind, state,
	created_at, created_by_tid, created_by_oid, created_by_name,
	updated_at, updated_by_tid, updated_by_oid, updated_by_name,
	verified_at, observed, version, expires_at`

// GetItem: see portal.Inventory.
func (db *DB) GetItem(ctx context.Context, tenant, object portal.GUID) (portal.InventoryItem, error) {
	it, err := read.Item(db.getItem.QueryRowContext(ctx, tenant.String(), object.String()))
	return storekit.Read(it, storekit.NoRow(err, sql.ErrNoRows, storekit.ErrNoItem), "read the inventory")
}

// AllItems: see portal.Inventory. The snapshot is held until AllItems
// returns, and SQLite cannot fold the write-ahead log back into the
// database past it meanwhile.
func (db *DB) AllItems(ctx context.Context, tenant portal.GUID, fn func(portal.InventoryItem) error) error {
	query, args := storekit.Scoped(tenant, `SELECT `+itemColumns+` FROM inventory ORDER BY tenant_id, object_id`,
		`SELECT `+itemColumns+` FROM inventory WHERE tenant_id = ? ORDER BY object_id`, tenant.String())
	rows, err := db.db.QueryContext(ctx, query, args...)
	return storekit.Each(rows, err, "read the inventory", read.Item, fn)
}

// getItemQuery reads one row of the inventory (tenant, object).
const getItemQuery = `SELECT ` + itemColumns + ` FROM inventory WHERE tenant_id = ? AND object_id = ?`

func getItem(ctx context.Context, q querier, tenant, object portal.GUID) (portal.InventoryItem, error) {
	it, err := read.Item(q.QueryRowContext(ctx, getItemQuery, tenant.String(), object.String()))
	return it, storekit.NoRow(err, sql.ErrNoRows, storekit.ErrNoItem)
}
