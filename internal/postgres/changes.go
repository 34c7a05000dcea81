package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/teamsphone/portal/internal/portal"
)

// InventoryChanges returns the tenant's audit head, the objects that audit
// rows after the given Seq may have changed, and whether a reconcile ran
// meanwhile (see portal.Inventory). When nothing happened it costs one
// probe of the (tenant_id, seq) index. The zero tenant means rows of no
// tenant.
func (db *DB) InventoryChanges(ctx context.Context, tenant portal.GUID, after int64) ([]portal.GUID, bool, int64, error) {
	var p params
	cond := "tenant_id IS NULL"
	if !tenant.IsZero() {
		cond = "tenant_id = " + p.add(uuidOf(tenant))
	}
	var head int64
	if err := db.pool.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM audit_log WHERE `+cond, p...).Scan(&head); err != nil {
		return nil, false, 0, storeError(err, "read the inventory")
	}
	if head <= after {
		return nil, false, head, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT DISTINCT action, object_id FROM audit_log WHERE `+cond+
		` AND seq > `+p.add(after)+` AND seq <= `+p.add(head)+`
		AND action IN ('grant', 'edit', 'revoke', 'adopt', 'verify', 'reapply', 'accept', 'reconcile')`, p...)
	if err != nil {
		return nil, false, 0, storeError(err, "read the inventory")
	}
	defer rows.Close()
	var changed []portal.GUID
	seen := map[portal.GUID]bool{}
	reload := false
	for rows.Next() {
		var action string
		var object pgtype.UUID
		if err := rows.Scan(&action, &object); err != nil {
			return nil, false, 0, storeError(err, "read the inventory")
		}
		if action == string(portal.ActionReconcile) {
			reload = true
			continue
		}
		if !object.Valid {
			continue
		}
		var d decoder
		id := d.guid(object)
		if d.err != nil {
			return nil, false, 0, portal.Wrap(d.err, portal.EINTERNAL, "The inventory holds a malformed object ID.")
		}
		if !seen[id] {
			seen[id] = true
			changed = append(changed, id)
		}
	}
	return changed, reload, head, storeError(rows.Err(), "read the inventory")
}

// TouchVerified sets verified_at of the rows named that are still at the
// given versions (see portal.Inventory), in one statement, without audit
// rows. A row changed meanwhile is skipped: the UPDATE re-checks its
// version once any concurrent change has committed.
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
		ms(at), uuidOf(tenant), objects, vs)
	return storeError(err, "record the verification")
}

// ExpiringItems returns up to limit rows, of every tenant, whose access ends
// at or before t, the earliest first.
func (db *DB) ExpiringItems(ctx context.Context, t time.Time, limit int) ([]portal.InventoryItem, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+itemColumns+` FROM inventory
		WHERE expires_at IS NOT NULL AND expires_at <= $1 ORDER BY expires_at, tenant_id, object_id LIMIT $2`, ms(t), sqlLimit(limit))
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
