package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

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
	it, err := read.Item(db.pool.QueryRow(ctx, `SELECT `+itemColumns+` FROM inventory WHERE tenant_id = $1 AND object_id = $2`,
		uuidOf(tenant), uuidOf(object)))
	return storekit.Read(it, storekit.NoRow(err, pgx.ErrNoRows, storekit.ErrNoItem), "read the inventory")
}

// GetItems: see portal.Inventory. The IDs are bound as one uuid[], so no
// list is too long for the protocol's limit on parameters; each is one
// probe of the primary key.
func (db *DB) GetItems(ctx context.Context, tenant portal.GUID, ids []portal.GUID) (map[portal.GUID]portal.InventoryItem, error) {
	out := make(map[portal.GUID]portal.InventoryItem, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT `+itemColumns+` FROM inventory WHERE tenant_id = $1 AND object_id = ANY($2)`,
		uuidOf(tenant), values{}.GUIDs(ids))
	err = storekit.Each(rows, err, "read the inventory", read.Item, func(it portal.InventoryItem) error {
		out[it.ObjectID] = it
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AllItems: see portal.Inventory. The snapshot is one statement's, which
// holds a pooled connection until AllItems returns.
func (db *DB) AllItems(ctx context.Context, tenant portal.GUID, fn func(portal.InventoryItem) error) error {
	query, args := storekit.Scoped(tenant, `SELECT `+itemColumns+` FROM inventory ORDER BY tenant_id, object_id`,
		`SELECT `+itemColumns+` FROM inventory WHERE tenant_id = $1 ORDER BY object_id`, uuidOf(tenant))
	rows, err := db.pool.Query(ctx, query, args...)
	return storekit.Each(rows, err, "read the inventory", read.Item, fn)
}
