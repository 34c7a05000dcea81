package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// SavePlan: see portal.PlanStore. Its rows are copied in with COPY, as a
// file may have thousands.
func (db *DB) SavePlan(ctx context.Context, p portal.Plan, rows []portal.PlanRow) error {
	plan := write.Plan(p)
	copyRows := make([][]any, 0, len(rows))
	for _, r := range rows {
		args, err := write.PlanRow(p.ID, r)
		if err != nil {
			return err
		}
		copyRows = append(copyRows, args)
	}
	return db.inTx(ctx, "save the plan", pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO bulk_plans (id, tenant_id, created_at, created_by_tid, created_by_oid, created_by_name, file_name, totals, checks)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, plan...); err != nil {
			return err
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"bulk_plan_rows"}, []string{"plan_id", "line", "class", "data"}, pgx.CopyFromRows(copyRows))
		return err
	})
}

// GetPlan: see portal.PlanStore.
func (db *DB) GetPlan(ctx context.Context, tenant portal.GUID, id string) (portal.Plan, error) {
	if !text.Storable(id) {
		return portal.Plan{ID: id, TenantID: tenant}, storekit.ErrNoPlan
	}
	p, err := read.Plan(db.pool.QueryRow(ctx, `SELECT created_at, created_by_tid, created_by_oid, created_by_name, file_name, totals, checks
		FROM bulk_plans WHERE id = $1 AND tenant_id = $2`, id, uuidOf(tenant)), tenant, id)
	return p, storekit.Failed(storekit.NoRow(err, pgx.ErrNoRows, storekit.ErrNoPlan), "read the plan")
}

// PlanRows: see portal.PlanStore. A negative limit means no limit.
func (db *DB) PlanRows(ctx context.Context, tenant portal.GUID, id string, class portal.PlanClass, offset, limit int) ([]portal.PlanRow, int, error) {
	if _, err := db.GetPlan(ctx, tenant, id); err != nil {
		return nil, 0, err
	}
	var args params
	where := `plan_id = ` + args.add(id)
	if class != "" {
		where += ` AND class = ` + args.add(text(string(class)))
	}
	return storekit.Page(db.pool.QueryRow(ctx, `SELECT count(*) FROM bulk_plan_rows WHERE `+where, args...), func() (storekit.Rows, error) {
		return db.pool.Query(ctx, `SELECT data FROM bulk_plan_rows WHERE `+where+` ORDER BY line LIMIT `+args.add(sqlLimit(limit))+
			` OFFSET `+args.add(max(offset, 0)), args...)
	}, "read the plan", read.PlanRow)
}
