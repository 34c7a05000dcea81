package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

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

// AllItems: see portal.Inventory. It reads a chunk of rows at a time by
// key (storekit.Walk), each chunk one short statement, so a slow fn holds
// no pooled connection.
func (db *DB) AllItems(ctx context.Context, tenant portal.GUID, fn func(portal.InventoryItem) error) error {
	type key struct{ tenant, object portal.GUID }
	next := func(after key, limit int) ([]portal.InventoryItem, error) {
		var rows pgx.Rows
		var err error
		if tenant.IsZero() {
			rows, err = db.pool.Query(ctx, `SELECT `+itemColumns+` FROM inventory
				WHERE (tenant_id, object_id) > ($1, $2) ORDER BY tenant_id, object_id LIMIT $3`,
				keyOf(after.tenant), keyOf(after.object), limit)
		} else {
			rows, err = db.pool.Query(ctx, `SELECT `+itemColumns+` FROM inventory
				WHERE tenant_id = $1 AND object_id > $2 ORDER BY object_id LIMIT $3`,
				uuidOf(tenant), keyOf(after.object), limit)
		}
		return storekit.CollectN(limit, rows, err, "read the inventory", read.Item)
	}
	return storekit.Walk(db.walkChunk, next, func(it portal.InventoryItem) key { return key{it.TenantID, it.ObjectID} }, fn)
}

// keyOf is a GUID as a key to page after: the zero GUID is the nil UUID,
// before every other (uuidOf makes it NULL, which compares to nothing).
func keyOf(g portal.GUID) pgtype.UUID { return pgtype.UUID{Bytes: g, Valid: true} }
