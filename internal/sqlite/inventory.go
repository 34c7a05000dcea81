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
	it, err := getItem(ctx, db.db, tenant, object)
	return storekit.Read(it, err, "read the inventory")
}

// GetItems: see portal.Inventory. The IDs are bound as one JSON array,
// read with json_each, so no list is too long for SQLite's limit on
// parameters; each is one probe of the primary key.
func (db *DB) GetItems(ctx context.Context, tenant portal.GUID, ids []portal.GUID) (map[portal.GUID]portal.InventoryItem, error) {
	out := make(map[portal.GUID]portal.InventoryItem, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := db.db.QueryContext(ctx, `SELECT `+itemColumns+` FROM inventory
		WHERE tenant_id = ? AND object_id IN (SELECT value FROM json_each(?))`, tenant.String(), values{}.GUIDs(ids))
	err = storekit.Each(rows, err, "read the inventory", read.Item, func(it portal.InventoryItem) error {
		out[it.ObjectID] = it
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AllItems: see portal.Inventory. It reads a chunk of rows at a time by
// key (storekit.Walk), each chunk its own short read, so a slow fn holds
// no connection and no read transaction: one held open would stop SQLite
// from folding the write-ahead log back into the database.
func (db *DB) AllItems(ctx context.Context, tenant portal.GUID, fn func(portal.InventoryItem) error) error {
	type key struct{ tenant, object portal.GUID }
	next := func(after key, limit int) ([]portal.InventoryItem, error) {
		var rows *sql.Rows
		var err error
		if tenant.IsZero() {
			rows, err = db.db.QueryContext(ctx, `SELECT `+itemColumns+` FROM inventory
				WHERE (tenant_id, object_id) > (?, ?) ORDER BY tenant_id, object_id LIMIT ?`,
				values{}.GUID(after.tenant), values{}.GUID(after.object), limit)
		} else {
			rows, err = db.db.QueryContext(ctx, `SELECT `+itemColumns+` FROM inventory
				WHERE tenant_id = ? AND object_id > ? ORDER BY object_id LIMIT ?`,
				tenant.String(), values{}.GUID(after.object), limit)
		}
		return storekit.CollectN(limit, rows, err, "read the inventory", read.Item)
	}
	return storekit.Walk(db.walkChunk, next, func(it portal.InventoryItem) key { return key{it.TenantID, it.ObjectID} }, fn)
}

func getItem(ctx context.Context, q querier, tenant, object portal.GUID) (portal.InventoryItem, error) {
	it, err := read.Item(q.QueryRowContext(ctx, `SELECT `+itemColumns+` FROM inventory WHERE tenant_id = ? AND object_id = ?`,
		tenant.String(), object.String()))
	return it, storekit.NoRow(err, sql.ErrNoRows, storekit.ErrNoItem)
}
