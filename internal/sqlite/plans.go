package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/teamsphone/portal/internal/portal"
)

var _ portal.PlanStore = (*DB)(nil)

// SavePlan stores a plan and its rows in one transaction.
func (db *DB) SavePlan(ctx context.Context, p portal.Plan, rows []portal.PlanRow) error {
	totals, err := json.Marshal(p.Totals)
	if err != nil {
		return err
	}
	tx, done, err := db.beginWrite(ctx)
	if err != nil {
		return storeError(err, "save the plan")
	}
	defer done()
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO bulk_plans (id, tenant_id, created_at, created_by_tid, created_by_oid, created_by_name, file_name, totals)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, p.ID, p.TenantID.String(), millis(p.CreatedAt), guidText(p.CreatedBy.TenantID),
		guidText(p.CreatedBy.ObjectID), validText(p.CreatedBy.Name), validText(p.FileName), string(totals)); err != nil {
		return storeError(err, "save the plan")
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO bulk_plan_rows (plan_id, line, class, data) VALUES (?, ?, ?, ?)`)
	if err != nil {
		return storeError(err, "save the plan")
	}
	defer stmt.Close()
	for _, r := range rows {
		data, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if _, err := stmt.ExecContext(ctx, p.ID, r.Line, string(r.Class), string(data)); err != nil {
			return storeError(err, "save the plan")
		}
	}
	return storeError(tx.Commit(), "save the plan")
}

// GetPlan returns a plan of tenant, or ENOTFOUND.
func (db *DB) GetPlan(ctx context.Context, tenant portal.GUID, id string) (portal.Plan, error) {
	p := portal.Plan{ID: id, TenantID: tenant}
	var created int64
	var tid, oid, totals string
	err := db.db.QueryRowContext(ctx, `SELECT created_at, created_by_tid, created_by_oid, created_by_name, file_name, totals
		FROM bulk_plans WHERE id = ? AND tenant_id = ?`, id, tenant.String()).Scan(&created, &tid, &oid, &p.CreatedBy.Name, &p.FileName, &totals)
	if errors.Is(err, sql.ErrNoRows) {
		return p, portal.Errorf(portal.ENOTFOUND, "There is no such plan.")
	}
	if err != nil {
		return p, storeError(err, "read the plan")
	}
	var d decoder
	p.CreatedAt, p.CreatedBy.TenantID, p.CreatedBy.ObjectID = fromMillis(created), d.guid(tid), d.guid(oid)
	if err := json.Unmarshal([]byte(totals), &p.Totals); err != nil {
		d.fail(err)
	}
	return p, dbError(d.err, "read the plan")
}

// PlanRows returns a page of a plan's rows of one class ("" for all), in
// line order, and how many match.
func (db *DB) PlanRows(ctx context.Context, tenant portal.GUID, id string, class portal.PlanClass, offset, limit int) ([]portal.PlanRow, int, error) {
	if _, err := db.GetPlan(ctx, tenant, id); err != nil {
		return nil, 0, err
	}
	where, args := `plan_id = ?`, []any{id}
	if class != "" {
		where, args = where+` AND class = ?`, append(args, string(class))
	}
	var n int
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM bulk_plan_rows WHERE `+where, args...).Scan(&n); err != nil {
		return nil, 0, storeError(err, "read the plan")
	}
	rows, err := db.db.QueryContext(ctx, `SELECT data FROM bulk_plan_rows WHERE `+where+` ORDER BY line LIMIT ? OFFSET ?`, append(args, limit, offset)...)
	if err != nil {
		return nil, 0, storeError(err, "read the plan")
	}
	defer rows.Close()
	var out []portal.PlanRow
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, 0, storeError(err, "read the plan")
		}
		var r portal.PlanRow
		if err := json.Unmarshal([]byte(data), &r); err != nil {
			return nil, 0, portal.Wrap(err, portal.EINTERNAL, "A stored plan row is unreadable.")
		}
		out = append(out, r)
	}
	return out, n, storeError(rows.Err(), "read the plan")
}
