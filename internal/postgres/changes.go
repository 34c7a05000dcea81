package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// InventoryChanges: see portal.Inventory. When nothing happened it costs
// one probe of the (tenant_id, seq) index. The zero tenant means rows of
// no tenant.
func (db *DB) InventoryChanges(ctx context.Context, tenant portal.GUID, after int64) ([]portal.GUID, bool, int64, error) {
	var p params
	cond := "tenant_id IS NULL"
	if !tenant.IsZero() {
		cond = "tenant_id = " + p.add(uuidOf(tenant))
	}
	return read.Changes(db.pool.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM audit_log WHERE `+cond, p...), after, func(head int64) (storekit.Rows, error) {
		return db.pool.Query(ctx, `SELECT DISTINCT action, object_id FROM audit_log WHERE `+cond+` AND seq > `+p.add(after)+
			` AND seq <= `+p.add(head)+` AND action = ANY(`+p.add(storekit.Strings(portal.InventoryActions))+`)`, p...)
	})
}

// TouchVerified: see portal.Inventory. One statement: a row changed
// meanwhile is skipped, as the UPDATE re-checks its version once any
// concurrent change has committed.
func (db *DB) TouchVerified(ctx context.Context, tenant portal.GUID, versions map[portal.GUID]int64, at time.Time) error {
	if len(versions) == 0 {
		return nil
	}
	objects := make([]pgtype.UUID, 0, len(versions))
	vs := make([]int64, 0, len(versions))
	for id, v := range versions {
		objects, vs = append(objects, uuidOf(id)), append(vs, v)
	}
	_, err := db.pool.Exec(ctx, `UPDATE inventory AS i SET verified_at = $1
		FROM unnest($3::uuid[], $4::bigint[]) AS v (object_id, version)
		WHERE i.tenant_id = $2 AND i.object_id = v.object_id AND i.version = v.version`,
		values{}.Time(at), uuidOf(tenant), objects, vs)
	return storekit.Unavailable(err, "record the verification")
}

// ExpiringItems: see portal.Inventory.
func (db *DB) ExpiringItems(ctx context.Context, t time.Time, limit int) ([]portal.InventoryItem, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+itemColumns+` FROM inventory
		WHERE expires_at IS NOT NULL AND expires_at <= $1 ORDER BY expires_at, tenant_id, object_id LIMIT $2`, values{}.Time(t), sqlLimit(limit))
	return storekit.Collect(rows, err, "read the inventory", read.Item)
}
