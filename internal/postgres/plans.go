package postgres

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/teamsphone/portal/internal/portal"
)

// SavePlan stores a plan and its rows in one transaction; its rows are
// copied in with COPY, as a file may have thousands.
func (db *DB) SavePlan(ctx context.Context, p portal.Plan, rows []portal.PlanRow) error {
	totals, err := json.Marshal(p.Totals)
	if err != nil {
		return err
	}
	copyRows := make([][]any, 0, len(rows))
	for _, r := range rows {
		data, err := json.Marshal(r)
		if err != nil {
			return err
		}
		copyRows = append(copyRows, []any{validText(p.ID), r.Line, validText(string(r.Class)), string(data)})
	}
	return db.inTx(ctx, "save the plan", pgx.TxOptions{}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO bulk_plans (id, tenant_id, created_at, created_by_tid, created_by_oid, created_by_name, file_name, totals)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, validText(p.ID), uuidOf(p.TenantID), ms(p.CreatedAt), uuidOf(p.CreatedBy.TenantID),
			uuidOf(p.CreatedBy.ObjectID), validText(p.CreatedBy.Name), validText(p.FileName), totals); err != nil {
			return err
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"bulk_plan_rows"}, []string{"plan_id", "line", "class", "data"}, pgx.CopyFromRows(copyRows))
		return err
	})
}

// GetPlan returns a plan of tenant, or ENOTFOUND (also for another tenant's
// plan).
func (db *DB) GetPlan(ctx context.Context, tenant portal.GUID, id string) (portal.Plan, error) {
	p := portal.Plan{ID: id, TenantID: tenant}
	if !storable(id) {
		return p, portal.Errorf(portal.ENOTFOUND, "There is no such plan.")
	}
	var tid, oid pgtype.UUID
	var totals []byte
	err := db.pool.QueryRow(ctx, `SELECT created_at, created_by_tid, created_by_oid, created_by_name, file_name, totals
		FROM bulk_plans WHERE id = $1 AND tenant_id = $2`, id, uuidOf(tenant)).Scan(&p.CreatedAt, &tid, &oid, &p.CreatedBy.Name, &p.FileName, &totals)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, portal.Errorf(portal.ENOTFOUND, "There is no such plan.")
	}
	if err != nil {
		return p, storeError(err, "read the plan")
	}
	var d decoder
	p.CreatedAt, p.CreatedBy.TenantID, p.CreatedBy.ObjectID = p.CreatedAt.UTC(), d.guid(tid), d.guid(oid)
	if err := json.Unmarshal(totals, &p.Totals); err != nil {
		d.fail(err)
	}
	if d.err != nil {
		return p, portal.Wrap(d.err, portal.EINTERNAL, "A stored plan is unreadable.")
	}
	return p, nil
}

// PlanRows returns a page of a plan's rows of one class ("" for all), in
// line order, and how many match. A negative limit means no limit.
func (db *DB) PlanRows(ctx context.Context, tenant portal.GUID, id string, class portal.PlanClass, offset, limit int) ([]portal.PlanRow, int, error) {
	if _, err := db.GetPlan(ctx, tenant, id); err != nil {
		return nil, 0, err
	}
	var args params
	where := `plan_id = ` + args.add(id)
	if class != "" {
		where += ` AND class = ` + args.add(validText(string(class)))
	}
	var n int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM bulk_plan_rows WHERE `+where, args...).Scan(&n); err != nil {
		return nil, 0, storeError(err, "read the plan")
	}
	rows, err := db.pool.Query(ctx, `SELECT data FROM bulk_plan_rows WHERE `+where+` ORDER BY line LIMIT `+args.add(sqlLimit(limit))+
		` OFFSET `+args.add(max(offset, 0)), args...)
	if err != nil {
		return nil, 0, storeError(err, "read the plan")
	}
	defer rows.Close()
	var out []portal.PlanRow
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, 0, storeError(err, "read the plan")
		}
		var r portal.PlanRow
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, 0, portal.Wrap(err, portal.EINTERNAL, "A stored plan row is unreadable.")
		}
		out = append(out, r)
	}
	return out, n, storeError(rows.Err(), "read the plan")
}
