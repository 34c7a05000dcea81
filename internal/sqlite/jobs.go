package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

var _ portal.JobStore = (*DB)(nil)

// write runs fn in a write transaction and commits it; what names the work
// in the error a person sees.
func (db *DB) write(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, done, err := db.beginWrite(ctx)
	if err != nil {
		return storeError(err, what)
	}
	defer done()
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return dbError(err, what)
	}
	return storeError(tx.Commit(), what)
}

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

// CreateJob stores a queued job with one pending row per actionable plan
// row, copied from the plan in one statement.
func (db *DB) CreateJob(ctx context.Context, j portal.Job) (portal.Job, error) {
	var existing string
	err := db.write(ctx, "start the job", func(tx *sql.Tx) error {
		var planTenant string
		if err := tx.QueryRowContext(ctx, `SELECT tenant_id FROM bulk_plans WHERE id = ?`, j.PlanID).Scan(&planTenant); err != nil || planTenant != j.TenantID.String() {
			if err == nil || errors.Is(err, sql.ErrNoRows) {
				return portal.Errorf(portal.ENOTFOUND, "There is no such plan.")
			}
			return err
		}
		err := tx.QueryRowContext(ctx, `SELECT id FROM bulk_jobs WHERE plan_id = ?`, j.PlanID).Scan(&existing)
		if err == nil {
			return portal.Errorf(portal.ECONFLICT, "This plan has already been applied.")
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO bulk_jobs (id, plan_id, tenant_id, created_at, created_by_tid, created_by_oid, created_by_name, created_by_roles, client_ip, justification, state)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, j.ID, j.PlanID, j.TenantID.String(), millis(j.CreatedAt), guidText(j.CreatedBy.TenantID),
			guidText(j.CreatedBy.ObjectID), validText(j.CreatedBy.Name), storekit.RolesText(j.Roles), validText(j.ClientIP), validText(j.Justification), string(portal.JobQueued)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO bulk_job_rows (job_id, line, status, data)
			SELECT ?, line, ?, data FROM bulk_plan_rows WHERE plan_id = ? AND class IN `+actionableClasses,
			j.ID, string(portal.RowPending), j.PlanID)
		return err
	})
	if portal.ErrorCode(err) == portal.ECONFLICT {
		found, gerr := db.GetJob(ctx, j.TenantID, existing)
		if gerr != nil {
			return found, gerr
		}
		return found, err
	}
	if err != nil {
		return portal.Job{}, err
	}
	return db.GetJob(ctx, j.TenantID, j.ID)
}

const jobColumns = `id, plan_id, tenant_id, created_at, created_by_tid, created_by_oid, created_by_name, created_by_roles, client_ip, justification,
	state, cancel_requested, holder, heartbeat, started_at, finished_at`

func scanJob(sc interface{ Scan(...any) error }) (portal.Job, error) {
	var j portal.Job
	var tenant, tid, oid, roles, state string
	var created, heartbeat, started, finished int64
	if err := sc.Scan(&j.ID, &j.PlanID, &tenant, &created, &tid, &oid, &j.CreatedBy.Name, &roles, &j.ClientIP, &j.Justification,
		&state, &j.CancelRequested, &j.Holder, &heartbeat, &started, &finished); err != nil {
		return j, err
	}
	var d decoder
	j.TenantID, j.CreatedBy.TenantID, j.CreatedBy.ObjectID = d.guid(tenant), d.guid(tid), d.guid(oid)
	j.State, j.CreatedAt = portal.JobState(state), fromMillis(created)
	for _, r := range strings.Fields(roles) {
		j.Roles = append(j.Roles, portal.Role(r))
	}
	j.Heartbeat, j.StartedAt, j.FinishedAt = optMillis(heartbeat), optMillis(started), optMillis(finished)
	return j, d.err
}

// optMillis reads a time column where 0 means none.
func optMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return fromMillis(ms)
}

// GetJob returns a job of tenant with its counts.
func (db *DB) GetJob(ctx context.Context, tenant portal.GUID, id string) (portal.Job, error) {
	j, err := scanJob(db.db.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM bulk_jobs WHERE id = ? AND tenant_id = ?`, id, tenant.String()))
	if errors.Is(err, sql.ErrNoRows) {
		return j, portal.Errorf(portal.ENOTFOUND, "There is no such job.")
	}
	if err != nil {
		return j, dbError(err, "read the job")
	}
	return j, db.countJob(ctx, &j)
}

// JobForPlan returns the job applying a plan of tenant.
func (db *DB) JobForPlan(ctx context.Context, tenant portal.GUID, planID string) (portal.Job, error) {
	var id string
	err := db.db.QueryRowContext(ctx, `SELECT id FROM bulk_jobs WHERE plan_id = ? AND tenant_id = ?`, planID, tenant.String()).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return portal.Job{}, portal.Errorf(portal.ENOTFOUND, "This plan has not been applied.")
	}
	if err != nil {
		return portal.Job{}, storeError(err, "read the job")
	}
	return db.GetJob(ctx, tenant, id)
}

func (db *DB) countJob(ctx context.Context, j *portal.Job) error {
	rows, err := db.db.QueryContext(ctx, `SELECT status, outcome, count(*) FROM bulk_job_rows WHERE job_id = ? GROUP BY status, outcome`, j.ID)
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
	var first, last sql.NullInt64
	err = db.db.QueryRowContext(ctx, `SELECT count(*), min(finished_at), max(finished_at) FROM bulk_job_rows
		WHERE job_id = ? AND status = ? AND finished_at >= (SELECT max(finished_at) FROM bulk_job_rows WHERE job_id = ? AND status = ?) - ?`,
		j.ID, string(portal.RowDone), j.ID, string(portal.RowDone), portal.JobRateWindow.Milliseconds()).Scan(&j.Recent, &first, &last)
	j.RecentSpan = time.Duration(last.Int64-first.Int64) * time.Millisecond
	return storeError(err, "read the job")
}

// ListJobs returns tenant's most recent jobs, newest first.
func (db *DB) ListJobs(ctx context.Context, tenant portal.GUID, limit int) ([]portal.Job, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+jobColumns+` FROM bulk_jobs WHERE tenant_id = ? ORDER BY created_at DESC, id LIMIT ?`, tenant.String(), limit)
	if err != nil {
		return nil, storeError(err, "list the jobs")
	}
	var out []portal.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			rows.Close()
			return nil, dbError(err, "list the jobs")
		}
		out = append(out, j)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, storeError(err, "list the jobs")
	}
	for i := range out {
		if err := db.countJob(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ClaimJob gives holder the oldest queued job.
func (db *DB) ClaimJob(ctx context.Context, holder string, now time.Time) (portal.Job, bool, error) {
	var id, tenant string
	err := db.write(ctx, "take a job", func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT id, tenant_id FROM bulk_jobs WHERE state = ? ORDER BY created_at, id LIMIT 1`, string(portal.JobQueued)).Scan(&id, &tenant)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE bulk_jobs SET state = ?, holder = ?, heartbeat = ?, started_at = CASE WHEN started_at = 0 THEN ? ELSE started_at END
			WHERE id = ?`, string(portal.JobRunning), holder, millis(now), millis(now), id)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) || id == "" {
		return portal.Job{}, false, nil
	}
	if err != nil {
		return portal.Job{}, false, err
	}
	var d decoder
	j, err := db.GetJob(ctx, d.guid(tenant), id)
	return j, err == nil, err
}

// Heartbeat renews holder's hold and reports whether a cancel was asked for.
func (db *DB) Heartbeat(ctx context.Context, id, holder string, now time.Time) (bool, error) {
	var cancel bool
	err := db.write(ctx, "renew the job's hold", func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `UPDATE bulk_jobs SET heartbeat = ? WHERE id = ? AND holder = ? AND state = ? RETURNING cancel_requested`,
			millis(now), id, holder, string(portal.JobRunning)).Scan(&cancel)
		if errors.Is(err, sql.ErrNoRows) {
			return portal.Errorf(portal.ECONFLICT, "This instance no longer holds the job.")
		}
		return err
	})
	return cancel, err
}

// InterruptStale marks running jobs whose heartbeat is before stale as
// interrupted.
func (db *DB) InterruptStale(ctx context.Context, stale time.Time) (int, error) {
	var n int64
	err := db.write(ctx, "check the running jobs", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE bulk_jobs SET state = ?, holder = '' WHERE state = ? AND heartbeat < ?`,
			string(portal.JobInterrupted), string(portal.JobRunning), millis(stale))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// ReleaseJob ends holder's hold, leaving the job in state.
func (db *DB) ReleaseJob(ctx context.Context, id, holder string, state portal.JobState, now time.Time) error {
	return db.write(ctx, "record the job's end", func(tx *sql.Tx) error {
		if state == portal.JobDone {
			// Done means every row has its outcome; a row whose outcome
			// was not recorded makes the job interrupted, to be resumed.
			var open int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM bulk_job_rows WHERE job_id = ? AND status != ?`, id, string(portal.RowDone)).Scan(&open); err != nil {
				return err
			}
			if open > 0 {
				state = portal.JobInterrupted
			}
		}
		finished := int64(0)
		if state.Finished() {
			finished = millis(now)
		}
		res, err := tx.ExecContext(ctx, `UPDATE bulk_jobs SET state = ?, holder = '', finished_at = ? WHERE id = ? AND holder = ? AND state = ?`,
			string(state), finished, id, holder, string(portal.JobRunning))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return portal.Errorf(portal.ECONFLICT, "This instance no longer holds the job.")
		}
		_, err = tx.ExecContext(ctx, `UPDATE bulk_job_rows SET status = ? WHERE job_id = ? AND status = ?`,
			string(portal.RowPending), id, string(portal.RowRunning))
		return err
	})
}

// CancelJob asks a job to stop; one no instance runs stops at once.
func (db *DB) CancelJob(ctx context.Context, tenant portal.GUID, id string, now time.Time) (portal.Job, error) {
	err := db.write(ctx, "cancel the job", func(tx *sql.Tx) error {
		j, err := scanJob(tx.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM bulk_jobs WHERE id = ? AND tenant_id = ?`, id, tenant.String()))
		if errors.Is(err, sql.ErrNoRows) {
			return portal.Errorf(portal.ENOTFOUND, "There is no such job.")
		}
		if err != nil {
			return err
		}
		switch j.State {
		case portal.JobRunning:
			_, err = tx.ExecContext(ctx, `UPDATE bulk_jobs SET cancel_requested = 1 WHERE id = ?`, id)
		case portal.JobQueued, portal.JobInterrupted:
			_, err = tx.ExecContext(ctx, `UPDATE bulk_jobs SET cancel_requested = 1, state = ?, finished_at = ? WHERE id = ?`,
				string(portal.JobCancelled), millis(now), id)
		default:
			return portal.Errorf(portal.EINVALID, "The job has already %s.", map[portal.JobState]string{portal.JobDone: "finished", portal.JobCancelled: "been cancelled"}[j.State])
		}
		return err
	})
	if err != nil {
		return portal.Job{}, err
	}
	return db.GetJob(ctx, tenant, id)
}

// ResumeJob queues an interrupted job again.
func (db *DB) ResumeJob(ctx context.Context, tenant portal.GUID, id string) (portal.Job, error) {
	err := db.write(ctx, "resume the job", func(tx *sql.Tx) error {
		// A cancel asked of the instance that died is superseded: the
		// person now asks for the job to go on.
		res, err := tx.ExecContext(ctx, `UPDATE bulk_jobs SET state = ?, cancel_requested = 0 WHERE id = ? AND tenant_id = ? AND state = ?`,
			string(portal.JobQueued), id, tenant.String(), string(portal.JobInterrupted))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			// Rows the lost instance had started are settled first.
			_, err = tx.ExecContext(ctx, `UPDATE bulk_job_rows SET status = ? WHERE job_id = ? AND status = ?`,
				string(portal.RowPending), id, string(portal.RowRunning))
			return err
		}
		var state string
		err = tx.QueryRowContext(ctx, `SELECT state FROM bulk_jobs WHERE id = ? AND tenant_id = ?`, id, tenant.String()).Scan(&state)
		if errors.Is(err, sql.ErrNoRows) {
			return portal.Errorf(portal.ENOTFOUND, "There is no such job.")
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

// ClaimRows takes up to n pending rows of a job holder runs.
func (db *DB) ClaimRows(ctx context.Context, id, holder string, n int) ([]portal.JobRow, error) {
	var out []portal.JobRow
	err := db.write(ctx, "take the job's next rows", func(tx *sql.Tx) error {
		if err := holds(ctx, tx, id, holder); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `UPDATE bulk_job_rows SET status = ?, holder = ?, attempts = attempts + 1
			WHERE job_id = ? AND status = ? AND line IN (
				SELECT line FROM bulk_job_rows WHERE job_id = ? AND status = ? ORDER BY line LIMIT ?)
			RETURNING line, attempts, data`,
			string(portal.RowRunning), holder, id, string(portal.RowPending), id, string(portal.RowPending), n)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var r portal.JobRow
			var data string
			if err := rows.Scan(&r.Line, &r.Attempts, &data); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(data), &r.PlanRow); err != nil {
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

// FinishRow records a row's result if holder still holds it.
func (db *DB) FinishRow(ctx context.Context, id, holder string, line int, r portal.RowResult) error {
	status, outcome, finished := portal.RowDone, string(r.Outcome), millis(r.At)
	if r.Retry {
		status, outcome, finished = portal.RowPending, "", 0
	}
	return db.write(ctx, "record the row's outcome", func(tx *sql.Tx) error {
		if err := holds(ctx, tx, id, holder); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE bulk_job_rows SET status = ?, outcome = ?, detail = ?, request_id = ?, finished_at = ?
			WHERE job_id = ? AND line = ? AND holder = ? AND status = ?`,
			string(status), outcome, validText(r.Detail), validText(r.RequestID), finished, id, line, holder, string(portal.RowRunning))
		return err
	})
}

// holds is ECONFLICT unless holder runs the job: an instance that lost its
// hold (interrupted, and perhaps resumed elsewhere) changes nothing.
func holds(ctx context.Context, tx *sql.Tx, id, holder string) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM bulk_jobs WHERE id = ? AND holder = ? AND state = ?`, id, holder, string(portal.JobRunning)).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return portal.Errorf(portal.ECONFLICT, "This instance no longer holds the job.")
	}
	return nil
}

// JobRows returns a page of a job's results: the plan's rows in line order,
// each with what the job did to it (nothing, for rows not part of it).
func (db *DB) JobRows(ctx context.Context, tenant portal.GUID, id string, f portal.JobRowFilter, offset, limit int) ([]portal.JobRow, int, error) {
	j, err := db.GetJob(ctx, tenant, id)
	if err != nil {
		return nil, 0, err
	}
	where, args := `p.plan_id = ?`, []any{id, j.PlanID}
	switch f {
	case "":
	case "skipped":
		where += ` AND j.line IS NULL`
	case portal.JobRowFilter(portal.RowPending), portal.JobRowFilter(portal.RowRunning):
		where, args = where+` AND j.status = ?`, append(args, string(f))
	default:
		where, args = where+` AND j.status = ? AND j.outcome = ?`, append(args, string(portal.RowDone), string(f))
	}
	const from = ` FROM bulk_plan_rows p LEFT JOIN bulk_job_rows j ON j.job_id = ? AND j.line = p.line WHERE `
	var n int
	if err := db.db.QueryRowContext(ctx, `SELECT count(*)`+from+where, args...).Scan(&n); err != nil {
		return nil, 0, storeError(err, "read the job's rows")
	}
	rows, err := db.db.QueryContext(ctx, `SELECT p.data, coalesce(j.status, ''), coalesce(j.attempts, 0), coalesce(j.outcome, ''),
		coalesce(j.detail, ''), coalesce(j.request_id, ''), coalesce(j.finished_at, 0)`+from+where+` ORDER BY p.line LIMIT ? OFFSET ?`,
		append(args, limit, offset)...)
	if err != nil {
		return nil, 0, storeError(err, "read the job's rows")
	}
	defer rows.Close()
	var out []portal.JobRow
	for rows.Next() {
		var r portal.JobRow
		var data, status, outcome string
		var finished int64
		if err := rows.Scan(&data, &status, &r.Attempts, &outcome, &r.Detail, &r.RequestID, &finished); err != nil {
			return nil, 0, storeError(err, "read the job's rows")
		}
		if err := json.Unmarshal([]byte(data), &r.PlanRow); err != nil {
			return nil, 0, portal.Wrap(err, portal.EINTERNAL, "A stored plan row is unreadable.")
		}
		r.Status, r.Outcome, r.FinishedAt = portal.JobRowStatus(status), portal.AuditOutcome(outcome), optMillis(finished)
		out = append(out, r)
	}
	return out, n, storeError(rows.Err(), "read the job's rows")
}
