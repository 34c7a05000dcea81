package sqlite

import (
	"context"
	"database/sql"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// SavePlan: see portal.PlanStore.
func (db *DB) SavePlan(ctx context.Context, p portal.Plan, rows []portal.PlanRow) error {
	plan := write.Plan(p)
	return db.writeAlone(ctx, "save the plan", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO bulk_plans (id, tenant_id, created_at, created_by_tid, created_by_oid, created_by_name, file_name, totals, checks)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, plan...); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO bulk_plan_rows (plan_id, line, class, data) VALUES (?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, r := range rows {
			args, err := write.PlanRow(p.ID, r)
			if err != nil {
				return err
			}
			if _, err := stmt.ExecContext(ctx, args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// GetPlan: see portal.PlanStore.
func (db *DB) GetPlan(ctx context.Context, tenant portal.GUID, id string) (portal.Plan, error) {
	p, err := read.Plan(db.db.QueryRowContext(ctx, `SELECT created_at, created_by_tid, created_by_oid, created_by_name, file_name, totals, checks
		FROM bulk_plans WHERE id = ? AND tenant_id = ?`, id, tenant.String()), tenant, id)
	return p, storekit.Failed(storekit.NoRow(err, sql.ErrNoRows, storekit.ErrNoPlan), "read the plan")
}

// PlanRows: see portal.PlanStore.
func (db *DB) PlanRows(ctx context.Context, tenant portal.GUID, id string, class portal.PlanClass, offset, limit int) ([]portal.PlanRow, int, error) {
	if _, err := db.GetPlan(ctx, tenant, id); err != nil {
		return nil, 0, err
	}
	where, args := `plan_id = ?`, []any{id}
	if class != "" {
		where, args = where+` AND class = ?`, append(args, string(class))
	}
	return storekit.Page(db.db.QueryRowContext(ctx, `SELECT count(*) FROM bulk_plan_rows WHERE `+where, args...), func() (storekit.Rows, error) {
		return db.db.QueryContext(ctx, `SELECT data FROM bulk_plan_rows WHERE `+where+` ORDER BY line LIMIT ? OFFSET ?`, append(args, limit, offset)...)
	}, "read the plan", read.PlanRow)
}
