package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// actionableClasses is portal.PlanClass.Actionable as an SQL list.
var actionableClasses = func() string {
	var q []string
	for _, c := range portal.PlanClasses {
		if c.Actionable() {
			q = append(q, "'"+string(c)+"'")
		}
	}
	return "(" + strings.Join(q, ", ") + ")"
}()

var errNoJob = portal.Errorf(portal.ENOTFOUND, "There is no such job.")

// CreateJob stores a queued job with one pending row per actionable plan
// row, copied from the plan in one statement. A second job for a plan is
// ECONFLICT and returns the first, also when two are created at once.
func (db *DB) CreateJob(ctx context.Context, j portal.Job) (portal.Job, error) {
	if !storable(j.PlanID) {
		return portal.Job{}, portal.Errorf(portal.ENOTFOUND, "There is no such plan.")
	}
	err := db.inTx(ctx, "start the job", pgx.TxOptions{}, func(tx pgx.Tx) error {
		var planTenant pgtype.UUID
		err := tx.QueryRow(ctx, `SELECT tenant_id FROM bulk_plans WHERE id = $1`, j.PlanID).Scan(&planTenant)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && portal.GUID(planTenant.Bytes) != j.TenantID {
			return portal.Errorf(portal.ENOTFOUND, "There is no such plan.")
		}
		if err != nil {
			return err
		}
		// ON CONFLICT waits for a job of the same plan being created at
		// the same moment, and then does nothing.
		tag, err := tx.Exec(ctx, `INSERT INTO bulk_jobs (id, plan_id, tenant_id, created_at, created_by_tid, created_by_oid, created_by_name,
				created_by_roles, client_ip, justification, state)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (plan_id) DO NOTHING`,
			validText(j.ID), j.PlanID, uuidOf(j.TenantID), ms(j.CreatedAt), uuidOf(j.CreatedBy.TenantID), uuidOf(j.CreatedBy.ObjectID),
			validText(j.CreatedBy.Name), validText(storekit.RolesText(j.Roles)), validText(j.ClientIP), validText(j.Justification), string(portal.JobQueued))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return portal.Errorf(portal.ECONFLICT, "This plan has already been applied.")
		}
		_, err = tx.Exec(ctx, `INSERT INTO bulk_job_rows (job_id, line, status, data)
			SELECT $1, line, $2, data FROM bulk_plan_rows WHERE plan_id = $3 AND class IN `+actionableClasses,
			validText(j.ID), string(portal.RowPending), j.PlanID)
		return err
	})
	if portal.ErrorCode(err) == portal.ECONFLICT {
		found, gerr := db.JobForPlan(ctx, j.TenantID, j.PlanID)
		if gerr != nil {
			return found, gerr
		}
		return found, err
	}
	if err != nil {
		return portal.Job{}, err
	}
	return db.GetJob(ctx, j.TenantID, validText(j.ID))
}

const jobColumns = `id, plan_id, tenant_id, created_at, created_by_tid, created_by_oid, created_by_name, created_by_roles, client_ip, justification,
	state, cancel_requested, holder, heartbeat, started_at, finished_at`

func scanJob(row pgx.Row) (portal.Job, error) {
	var j portal.Job
	var tenant, tid, oid pgtype.UUID
	var roles, state string
	var heartbeat, started, finished pgtype.Timestamptz
	if err := row.Scan(&j.ID, &j.PlanID, &tenant, &j.CreatedAt, &tid, &oid, &j.CreatedBy.Name, &roles, &j.ClientIP, &j.Justification,
		&state, &j.CancelRequested, &j.Holder, &heartbeat, &started, &finished); err != nil {
		return j, err
	}
	var d decoder
	j.TenantID, j.CreatedBy.TenantID, j.CreatedBy.ObjectID = d.guid(tenant), d.guid(tid), d.guid(oid)
	j.State, j.CreatedAt = portal.JobState(state), j.CreatedAt.UTC()
	for _, r := range strings.Fields(roles) {
		j.Roles = append(j.Roles, portal.Role(r))
	}
	j.Heartbeat, j.StartedAt, j.FinishedAt = fromOpt(heartbeat), fromOpt(started), fromOpt(finished)
	if d.err != nil {
		return j, portal.Wrap(d.err, portal.EINTERNAL, "A stored job is unreadable.")
	}
	return j, nil
}

// GetJob returns a job of tenant with its counts, or ENOTFOUND (also for
// another tenant's job).
func (db *DB) GetJob(ctx context.Context, tenant portal.GUID, id string) (portal.Job, error) {
	if !storable(id) {
		return portal.Job{}, errNoJob
	}
	j, err := scanJob(db.pool.QueryRow(ctx, `SELECT `+jobColumns+` FROM bulk_jobs WHERE id = $1 AND tenant_id = $2`, id, uuidOf(tenant)))
	if errors.Is(err, pgx.ErrNoRows) {
		return j, errNoJob
	}
	if err != nil {
		return j, dbError(err, "read the job")
	}
	return j, db.countJob(ctx, &j)
}

// JobForPlan returns the job applying a plan of tenant, or ENOTFOUND.
func (db *DB) JobForPlan(ctx context.Context, tenant portal.GUID, planID string) (portal.Job, error) {
	notApplied := portal.Errorf(portal.ENOTFOUND, "This plan has not been applied.")
	if !storable(planID) {
		return portal.Job{}, notApplied
	}
	var id string
	err := db.pool.QueryRow(ctx, `SELECT id FROM bulk_jobs WHERE plan_id = $1 AND tenant_id = $2`, planID, uuidOf(tenant)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return portal.Job{}, notApplied
	}
	if err != nil {
		return portal.Job{}, storeError(err, "read the job")
	}
	return db.GetJob(ctx, tenant, id)
}

// countJob reads a job's rows by status and outcome, and its rate: the rows
// finished within JobRateWindow of its newest finish.
func (db *DB) countJob(ctx context.Context, j *portal.Job) error {
	rows, err := db.pool.Query(ctx, `SELECT status, outcome, count(*) FROM bulk_job_rows WHERE job_id = $1 GROUP BY status, outcome`, j.ID)
	if err != nil {
		return storeError(err, "read the job")
	}
	defer rows.Close()
	j.Outcomes = map[portal.AuditOutcome]int{}
	for rows.Next() {
		var status, outcome string
		var n int
		if err := rows.Scan(&status, &outcome, &n); err != nil {
			return storeError(err, "read the job")
		}
		j.Total += n
		switch portal.JobRowStatus(status) {
		case portal.RowPending:
			j.Pending += n
		case portal.RowRunning:
			j.InFlight += n
		default:
			j.Outcomes[portal.AuditOutcome(outcome)] += n
		}
	}
	if err := rows.Err(); err != nil {
		return storeError(err, "read the job")
	}
	var first, last pgtype.Timestamptz
	err = db.pool.QueryRow(ctx, `SELECT count(*), min(finished_at), max(finished_at) FROM bulk_job_rows
		WHERE job_id = $1 AND status = $2 AND finished_at >= (
			SELECT max(finished_at) FROM bulk_job_rows WHERE job_id = $1 AND status = $2) - $3 * interval '1 millisecond'`,
		j.ID, string(portal.RowDone), portal.JobRateWindow.Milliseconds()).Scan(&j.Recent, &first, &last)
	if first.Valid && last.Valid {
		j.RecentSpan = last.Time.Sub(first.Time)
	}
	return storeError(err, "read the job")
}

// ListJobs returns tenant's most recent jobs, newest first; a negative
// limit means all.
func (db *DB) ListJobs(ctx context.Context, tenant portal.GUID, limit int) ([]portal.Job, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+jobColumns+` FROM bulk_jobs WHERE tenant_id = $1 ORDER BY created_at DESC, id LIMIT $2`,
		uuidOf(tenant), sqlLimit(limit))
	if err != nil {
		return nil, storeError(err, "list the jobs")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (portal.Job, error) { return scanJob(row) })
	if err != nil {
		return nil, dbError(err, "list the jobs")
	}
	for i := range out {
		if err := db.countJob(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ClaimJob gives holder the oldest queued job of any tenant, now running;
// false when none waits. Instances claiming at once skip the job another
// has locked (SKIP LOCKED) rather than wait for it and then find it gone.
func (db *DB) ClaimJob(ctx context.Context, holder string, now time.Time) (portal.Job, bool, error) {
	var id string
	var tenant pgtype.UUID
	err := db.pool.QueryRow(ctx, `WITH picked AS MATERIALIZED (
			SELECT id FROM bulk_jobs WHERE state = $4 ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
		UPDATE bulk_jobs AS j SET state = $1, holder = $2, heartbeat = $3, started_at = coalesce(j.started_at, $3)
		FROM picked WHERE j.id = picked.id
		RETURNING j.id, j.tenant_id`,
		string(portal.JobRunning), validText(holder), ms(now), string(portal.JobQueued)).Scan(&id, &tenant)
	if errors.Is(err, pgx.ErrNoRows) {
		return portal.Job{}, false, nil
	}
	if err != nil {
		return portal.Job{}, false, storeError(err, "take a job")
	}
	j, err := db.GetJob(ctx, portal.GUID(tenant.Bytes), id)
	return j, err == nil, err
}

var errNotHeld = portal.Errorf(portal.ECONFLICT, "This instance no longer holds the job.")

// Heartbeat renews holder's hold and reports whether a cancel was asked for;
// ECONFLICT when holder holds it no more.
func (db *DB) Heartbeat(ctx context.Context, id, holder string, now time.Time) (bool, error) {
	var cancel bool
	err := db.pool.QueryRow(ctx, `UPDATE bulk_jobs SET heartbeat = $1 WHERE id = $2 AND holder = $3 AND state = $4 RETURNING cancel_requested`,
		ms(now), validText(id), validText(holder), string(portal.JobRunning)).Scan(&cancel)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, errNotHeld
	}
	return cancel, storeError(err, "renew the job's hold")
}

// InterruptStale marks running jobs whose heartbeat is before stale as
// interrupted, and reports how many.
func (db *DB) InterruptStale(ctx context.Context, stale time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE bulk_jobs SET state = $1, holder = '' WHERE state = $2 AND heartbeat < $3`,
		string(portal.JobInterrupted), string(portal.JobRunning), ms(stale))
	if err != nil {
		return 0, storeError(err, "check the running jobs")
	}
	return int(tag.RowsAffected()), nil
}

// ReleaseJob ends holder's hold, leaving the job in state; done with a row
// lacking its outcome is interrupted instead. Rows still running become
// pending. ECONFLICT when holder holds it no more.
func (db *DB) ReleaseJob(ctx context.Context, id, holder string, state portal.JobState, now time.Time) error {
	return db.inTx(ctx, "record the job's end", pgx.TxOptions{}, func(tx pgx.Tx) error {
		// Locking the job row waits for the holder's claims and outcomes
		// in flight (they hold it FOR SHARE), so the count below sees them,
		// and any that come later find the hold gone.
		var held bool
		err := tx.QueryRow(ctx, `SELECT true FROM bulk_jobs WHERE id = $1 AND holder = $2 AND state = $3 FOR UPDATE`,
			validText(id), validText(holder), string(portal.JobRunning)).Scan(&held)
		if errors.Is(err, pgx.ErrNoRows) {
			return errNotHeld
		}
		if err != nil {
			return err
		}
		if state == portal.JobDone {
			// Done means every row has its outcome; a row whose outcome
			// was not recorded makes the job interrupted, to be resumed.
			var open bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM bulk_job_rows WHERE job_id = $1 AND status <> $2)`,
				id, string(portal.RowDone)).Scan(&open); err != nil {
				return err
			}
			if open {
				state = portal.JobInterrupted
			}
		}
		finished := pgtype.Timestamptz{}
		if state.Finished() {
			finished = optTime(now)
		}
		if _, err := tx.Exec(ctx, `UPDATE bulk_jobs SET state = $1, holder = '', finished_at = $2 WHERE id = $3`,
			validText(string(state)), finished, id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE bulk_job_rows SET status = $1 WHERE job_id = $2 AND status = $3`,
			string(portal.RowPending), id, string(portal.RowRunning))
		return err
	})
}

// CancelJob asks a queued or running job to stop; one no instance runs
// (queued, interrupted) is cancelled at once. A finished job is EINVALID.
func (db *DB) CancelJob(ctx context.Context, tenant portal.GUID, id string, now time.Time) (portal.Job, error) {
	if !storable(id) {
		return portal.Job{}, errNoJob
	}
	err := db.inTx(ctx, "cancel the job", pgx.TxOptions{}, func(tx pgx.Tx) error {
		var state string
		err := tx.QueryRow(ctx, `SELECT state FROM bulk_jobs WHERE id = $1 AND tenant_id = $2 FOR UPDATE`, id, uuidOf(tenant)).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) {
			return errNoJob
		}
		if err != nil {
			return err
		}
		switch portal.JobState(state) {
		case portal.JobRunning:
			_, err = tx.Exec(ctx, `UPDATE bulk_jobs SET cancel_requested = true WHERE id = $1`, id)
		case portal.JobQueued, portal.JobInterrupted:
			_, err = tx.Exec(ctx, `UPDATE bulk_jobs SET cancel_requested = true, state = $1, finished_at = $2 WHERE id = $3`,
				string(portal.JobCancelled), optTime(now), id)
		default:
			return portal.Errorf(portal.EINVALID, "The job has already %s.",
				map[portal.JobState]string{portal.JobDone: "finished", portal.JobCancelled: "been cancelled"}[portal.JobState(state)])
		}
		return err
	})
	if err != nil {
		return portal.Job{}, err
	}
	return db.GetJob(ctx, tenant, id)
}

// ResumeJob queues an interrupted job again, dropping a cancel asked of the
// instance that was lost; any other state is EINVALID.
func (db *DB) ResumeJob(ctx context.Context, tenant portal.GUID, id string) (portal.Job, error) {
	if !storable(id) {
		return portal.Job{}, errNoJob
	}
	err := db.inTx(ctx, "resume the job", pgx.TxOptions{}, func(tx pgx.Tx) error {
		// A cancel asked of the instance that died is superseded: the
		// person now asks for the job to go on.
		tag, err := tx.Exec(ctx, `UPDATE bulk_jobs SET state = $1, cancel_requested = false WHERE id = $2 AND tenant_id = $3 AND state = $4`,
			string(portal.JobQueued), id, uuidOf(tenant), string(portal.JobInterrupted))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			// Rows the lost instance had started are settled first.
			_, err = tx.Exec(ctx, `UPDATE bulk_job_rows SET status = $1 WHERE job_id = $2 AND status = $3`,
				string(portal.RowPending), id, string(portal.RowRunning))
			return err
		}
		var state string
		err = tx.QueryRow(ctx, `SELECT state FROM bulk_jobs WHERE id = $1 AND tenant_id = $2`, id, uuidOf(tenant)).Scan(&state)
		if errors.Is(err, pgx.ErrNoRows) {
			return errNoJob
		}
		if err != nil {
			return err
		}
		return portal.Errorf(portal.EINVALID, "Only an interrupted job can be resumed; this one is %s.", state)
	})
	if err != nil {
		return portal.Job{}, err
	}
	return db.GetJob(ctx, tenant, id)
}

// ClaimRows takes up to n pending rows of a job holder runs, in line order,
// marking them running and counting an attempt; ECONFLICT when holder does
// not run the job. Rows another transaction has locked are skipped.
func (db *DB) ClaimRows(ctx context.Context, id, holder string, n int) ([]portal.JobRow, error) {
	var out []portal.JobRow
	err := db.inTx(ctx, "take the job's next rows", pgx.TxOptions{}, func(tx pgx.Tx) error {
		if err := holds(ctx, tx, id, holder); err != nil {
			return err
		}
		// MATERIALIZED: as a subquery in the WHERE clause, the pick could
		// be run again for each row updated, and take more than n.
		rows, err := tx.Query(ctx, `WITH picked AS MATERIALIZED (
				SELECT line FROM bulk_job_rows WHERE job_id = $3 AND status = $4 ORDER BY line LIMIT $5 FOR UPDATE SKIP LOCKED)
			UPDATE bulk_job_rows AS r SET status = $1, holder = $2, attempts = r.attempts + 1
			FROM picked WHERE r.job_id = $3 AND r.line = picked.line
			RETURNING r.line, r.attempts, r.data`,
			string(portal.RowRunning), holder, id, string(portal.RowPending), sqlLimit(n))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r portal.JobRow
			var data []byte
			if err := rows.Scan(&r.Line, &r.Attempts, &data); err != nil {
				return err
			}
			if err := json.Unmarshal(data, &r.PlanRow); err != nil {
				return portal.Wrap(err, portal.EINTERNAL, "A stored job row is unreadable.")
			}
			r.Status = portal.RowRunning
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	// RETURNING promises no order.
	slices.SortFunc(out, func(a, b portal.JobRow) int { return a.Line - b.Line })
	return out, nil
}

// FinishRow records a row's result if holder still runs the job and holds
// the row; ECONFLICT when it does not run the job. A Retry puts the row
// back as pending.
func (db *DB) FinishRow(ctx context.Context, id, holder string, line int, r portal.RowResult) error {
	status, outcome, finished := portal.RowDone, validText(string(r.Outcome)), optTime(r.At)
	if r.Retry {
		status, outcome, finished = portal.RowPending, "", pgtype.Timestamptz{}
	}
	return db.inTx(ctx, "record the row's outcome", pgx.TxOptions{}, func(tx pgx.Tx) error {
		if err := holds(ctx, tx, id, holder); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE bulk_job_rows SET status = $1, outcome = $2, detail = $3, request_id = $4, finished_at = $5
			WHERE job_id = $6 AND line = $7 AND holder = $8 AND status = $9`,
			string(status), outcome, validText(r.Detail), validText(r.RequestID), finished, id, line, holder, string(portal.RowRunning))
		return err
	})
}

// holds is ECONFLICT unless holder runs the job: an instance that lost its
// hold (interrupted, and perhaps resumed elsewhere) changes nothing. It
// locks the job row FOR SHARE, so the hold cannot be taken away (released,
// interrupted) until tx ends; claims and outcomes of one holder do not wait
// for each other.
func holds(ctx context.Context, tx pgx.Tx, id, holder string) error {
	if !storable(id) || !storable(holder) {
		return errNotHeld
	}
	var held bool
	err := tx.QueryRow(ctx, `SELECT true FROM bulk_jobs WHERE id = $1 AND holder = $2 AND state = $3 FOR SHARE`,
		id, holder, string(portal.JobRunning)).Scan(&held)
	if errors.Is(err, pgx.ErrNoRows) {
		return errNotHeld
	}
	return err
}

// JobRows returns a page of a job's results: the plan's rows in line order,
// each with what the job did to it (nothing, for rows not part of it), and
// how many match. A negative limit means no limit.
func (db *DB) JobRows(ctx context.Context, tenant portal.GUID, id string, f portal.JobRowFilter, offset, limit int) ([]portal.JobRow, int, error) {
	j, err := db.GetJob(ctx, tenant, id)
	if err != nil {
		return nil, 0, err
	}
	var args params
	from := ` FROM bulk_plan_rows p LEFT JOIN bulk_job_rows j ON j.job_id = ` + args.add(id) + ` AND j.line = p.line
		WHERE p.plan_id = ` + args.add(j.PlanID)
	switch f {
	case "":
	case "skipped":
		from += ` AND j.line IS NULL`
	case portal.JobRowFilter(portal.RowPending), portal.JobRowFilter(portal.RowRunning):
		from += ` AND j.status = ` + args.add(string(f))
	default:
		from += ` AND j.status = ` + args.add(string(portal.RowDone)) + ` AND j.outcome = ` + args.add(validText(string(f)))
	}
	var n int
	if err := db.pool.QueryRow(ctx, `SELECT count(*)`+from, args...).Scan(&n); err != nil {
		return nil, 0, storeError(err, "read the job's rows")
	}
	rows, err := db.pool.Query(ctx, `SELECT p.data, coalesce(j.status, ''), coalesce(j.attempts, 0), coalesce(j.outcome, ''),
		coalesce(j.detail, ''), coalesce(j.request_id, ''), j.finished_at`+from+` ORDER BY p.line LIMIT `+args.add(sqlLimit(limit))+
		` OFFSET `+args.add(max(offset, 0)), args...)
	if err != nil {
		return nil, 0, storeError(err, "read the job's rows")
	}
	defer rows.Close()
	var out []portal.JobRow
	for rows.Next() {
		var r portal.JobRow
		var data []byte
		var status, outcome string
		var finished pgtype.Timestamptz
		if err := rows.Scan(&data, &status, &r.Attempts, &outcome, &r.Detail, &r.RequestID, &finished); err != nil {
			return nil, 0, storeError(err, "read the job's rows")
		}
		if err := json.Unmarshal(data, &r.PlanRow); err != nil {
			return nil, 0, portal.Wrap(err, portal.EINTERNAL, "A stored plan row is unreadable.")
		}
		r.Status, r.Outcome, r.FinishedAt = portal.JobRowStatus(status), portal.AuditOutcome(outcome), fromOpt(finished)
		out = append(out, r)
	}
	return out, n, storeError(rows.Err(), "read the job's rows")
}
