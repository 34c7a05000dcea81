package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// CreateJob: see portal.JobStore. It copies the job's rows from the plan
// in one statement.
func (db *DB) CreateJob(ctx context.Context, j portal.Job) (portal.Job, error) {
	err := db.write(ctx, "start the job", func(tx querier) error {
		var planTenant string
		if err := tx.QueryRowContext(ctx, `SELECT tenant_id FROM bulk_plans WHERE id = ?`, j.PlanID).Scan(&planTenant); err != nil || planTenant != j.TenantID.String() {
			if err == nil || errors.Is(err, sql.ErrNoRows) {
				return storekit.ErrNoPlan
			}
			return err
		}
		var existing string
		err := tx.QueryRowContext(ctx, `SELECT id FROM bulk_jobs WHERE plan_id = ?`, j.PlanID).Scan(&existing)
		if err == nil {
			return storekit.ErrApplied
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO bulk_jobs (id, plan_id, tenant_id, created_at, created_by_tid, created_by_oid, created_by_name,
				created_by_roles, client_ip, justification, state)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, write.Job(j)...); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO bulk_job_rows (job_id, line, status, data)
			SELECT ?, line, ?, data FROM bulk_plan_rows WHERE plan_id = ? AND class IN (SELECT value FROM json_each(?))`,
			text(j.ID), string(portal.RowPending), j.PlanID, jsonText(storekit.ActionableClasses()))
		return err
	})
	return write.Created(ctx, err, db, j)
}

const jobColumns = `id, plan_id, tenant_id, created_at, created_by_tid, created_by_oid, created_by_name, created_by_roles, client_ip, justification,
	state, cancel_requested, holder, heartbeat, started_at, finished_at, paused_at, paused_until`

// GetJob: see portal.JobStore.
func (db *DB) GetJob(ctx context.Context, tenant portal.GUID, id string) (portal.Job, error) {
	return read.OneJob(ctx, db.db.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM bulk_jobs WHERE id = ? AND tenant_id = ?`, id, tenant.String()),
		sql.ErrNoRows, storekit.ErrNoJob, db.countJob)
}

// JobForPlan: see portal.JobStore.
func (db *DB) JobForPlan(ctx context.Context, tenant portal.GUID, planID string) (portal.Job, error) {
	return read.OneJob(ctx, db.db.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM bulk_jobs WHERE plan_id = ? AND tenant_id = ?`, planID, tenant.String()),
		sql.ErrNoRows, storekit.ErrUnapplied, db.countJob)
}

// countJob reads the job's counts and rate (see portal.Job) from what the
// triggers on bulk_job_rows keep (migrations/0009_job_counts.sql): a few
// rows, however many the job has.
func (db *DB) countJob(ctx context.Context, j *portal.Job) error {
	rows, err := db.db.QueryContext(ctx, jobCountsSQL, j.ID)
	if err := read.JobCounts(j, rows, err); err != nil {
		return err
	}
	return read.JobRate(j, db.db.QueryRowContext(ctx, jobRateSQL, j.ID, j.ID, int64(portal.JobRateWindow/time.Second)))
}

// What every poll of a job's progress runs, besides reading the job by its
// ID (TestJobPollReadsByIndex: each an index search, never a scan).
const (
	jobCountsSQL = `SELECT status, outcome, n FROM bulk_job_counts WHERE job_id = ? AND n != 0`
	jobRateSQL   = `SELECT coalesce(sum(n), 0), min(first_at), max(last_at) FROM bulk_job_finishes
		WHERE job_id = ? AND second >= (SELECT max(second) FROM bulk_job_finishes WHERE job_id = ?) - ?`
	jobRowsAtSQL = `SELECT p.data, coalesce(j.status, ''), coalesce(j.attempts, 0), coalesce(j.outcome, ''),
			coalesce(j.detail, ''), coalesce(j.request_id, ''), coalesce(j.finished_at, 0)
		FROM bulk_jobs b JOIN bulk_plan_rows p ON p.plan_id = b.plan_id AND p.line IN (SELECT value FROM json_each(?))
			LEFT JOIN bulk_job_rows j ON j.job_id = b.id AND j.line = p.line
		WHERE b.id = ? AND b.tenant_id = ? ORDER BY p.line`
)

// ListJobs: see portal.JobStore.
func (db *DB) ListJobs(ctx context.Context, tenant portal.GUID, limit int) ([]portal.Job, error) {
	rows, err := db.db.QueryContext(ctx, `SELECT `+jobColumns+` FROM bulk_jobs WHERE tenant_id = ? ORDER BY created_at DESC, id LIMIT ?`, tenant.String(), limit)
	return read.Jobs(ctx, rows, err, db.countJob)
}

// ClaimJob: see portal.JobStore.
func (db *DB) ClaimJob(ctx context.Context, holder string, now time.Time) (portal.Job, bool, error) {
	var id, tenant string
	err := db.write(ctx, "take a job", func(tx querier) error {
		err := tx.QueryRowContext(ctx, `SELECT id, tenant_id FROM bulk_jobs WHERE state = ? ORDER BY created_at, id LIMIT 1`, string(portal.JobQueued)).Scan(&id, &tenant)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE bulk_jobs SET state = ?, holder = ?, heartbeat = ?, started_at = CASE WHEN started_at = 0 THEN ? ELSE started_at END
			WHERE id = ?`, string(portal.JobRunning), holder, now.UnixMilli(), now.UnixMilli(), id)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) || id == "" {
		return portal.Job{}, false, nil
	}
	if err != nil {
		return portal.Job{}, false, err
	}
	var d storekit.Decoder
	j, err := db.GetJob(ctx, d.GUID(tenant), id)
	return j, err == nil, err
}

// Heartbeat: see portal.JobStore.
func (db *DB) Heartbeat(ctx context.Context, id, holder string, now time.Time) (bool, error) {
	var cancel bool
	err := db.write(ctx, "renew the job's hold", func(tx querier) error {
		err := tx.QueryRowContext(ctx, `UPDATE bulk_jobs SET heartbeat = ? WHERE id = ? AND holder = ? AND state = ? RETURNING cancel_requested`,
			now.UnixMilli(), id, holder, string(portal.JobRunning)).Scan(&cancel)
		return storekit.NoRow(err, sql.ErrNoRows, storekit.ErrNotHeld)
	})
	return cancel, err
}

// PauseJob: see portal.JobStore.
func (db *DB) PauseJob(ctx context.Context, id, holder string, at, until time.Time) error {
	return db.write(ctx, "record ACS's pause of the job", func(tx querier) error {
		res, err := tx.ExecContext(ctx, `UPDATE bulk_jobs SET paused_at = ?, paused_until = ? WHERE id = ? AND holder = ? AND state = ?`,
			at.UnixMilli(), until.UnixMilli(), id, holder, string(portal.JobRunning))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return storekit.ErrNotHeld
		}
		return nil
	})
}

// InterruptStale: see portal.JobStore.
func (db *DB) InterruptStale(ctx context.Context, stale time.Time) (int, error) {
	var n int64
	err := db.write(ctx, "check the running jobs", func(tx querier) error {
		res, err := tx.ExecContext(ctx, `UPDATE bulk_jobs SET state = ?, holder = '' WHERE state = ? AND heartbeat < ?`,
			string(portal.JobInterrupted), string(portal.JobRunning), stale.UnixMilli())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// ReleaseJob: see portal.JobStore.
func (db *DB) ReleaseJob(ctx context.Context, id, holder string, state portal.JobState, now time.Time) error {
	return db.write(ctx, "record the job's end", func(tx querier) error {
		if state == portal.JobDone {
			// Done means every row has its outcome; a row whose outcome
			// was not recorded makes the job interrupted, to be resumed.
			var open int
			if err := tx.QueryRowContext(ctx, `SELECT coalesce(sum(n), 0) FROM bulk_job_counts WHERE job_id = ? AND status != ?`, id, string(portal.RowDone)).Scan(&open); err != nil {
				return err
			}
			if open > 0 {
				state = portal.JobInterrupted
			}
		}
		finished := int64(0)
		if state.Finished() {
			finished = now.UnixMilli()
		}
		res, err := tx.ExecContext(ctx, `UPDATE bulk_jobs SET state = ?, holder = '', finished_at = ? WHERE id = ? AND holder = ? AND state = ?`,
			string(state), finished, id, holder, string(portal.JobRunning))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return storekit.ErrNotHeld
		}
		_, err = tx.ExecContext(ctx, `UPDATE bulk_job_rows SET status = ? WHERE job_id = ? AND status = ?`,
			string(portal.RowPending), id, string(portal.RowRunning))
		return err
	})
}

// CancelJob: see portal.JobStore.
func (db *DB) CancelJob(ctx context.Context, tenant portal.GUID, id string, now time.Time) (portal.Job, error) {
	return storekit.Then(db.write(ctx, "cancel the job", func(tx querier) error {
		j, err := read.Job(tx.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM bulk_jobs WHERE id = ? AND tenant_id = ?`, id, tenant.String()))
		if err != nil {
			return storekit.NoRow(err, sql.ErrNoRows, storekit.ErrNoJob)
		}
		switch j.State {
		case portal.JobRunning:
			_, err = tx.ExecContext(ctx, `UPDATE bulk_jobs SET cancel_requested = 1 WHERE id = ?`, id)
		case portal.JobQueued, portal.JobInterrupted:
			_, err = tx.ExecContext(ctx, `UPDATE bulk_jobs SET cancel_requested = 1, state = ?, finished_at = ? WHERE id = ?`,
				string(portal.JobCancelled), now.UnixMilli(), id)
		default:
			return storekit.NotCancellable(j.State)
		}
		return err
	}), func() (portal.Job, error) { return db.GetJob(ctx, tenant, id) })
}

// ResumeJob: see portal.JobStore.
func (db *DB) ResumeJob(ctx context.Context, tenant portal.GUID, id string) (portal.Job, error) {
	return storekit.Then(db.write(ctx, "resume the job", func(tx querier) error {
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
		return storekit.NotResumable(tx.QueryRowContext(ctx, `SELECT state FROM bulk_jobs WHERE id = ? AND tenant_id = ?`, id, tenant.String()), sql.ErrNoRows)
	}), func() (portal.Job, error) { return db.GetJob(ctx, tenant, id) })
}

// ClaimRows: see portal.JobStore.
func (db *DB) ClaimRows(ctx context.Context, id, holder string, n int) ([]portal.JobRow, error) {
	var out []portal.JobRow
	err := db.write(ctx, "take the job's next rows", func(tx querier) error {
		if err := holds(ctx, tx, id, holder); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `UPDATE bulk_job_rows SET status = ?, holder = ?, attempts = attempts + 1
			WHERE job_id = ? AND status = ? AND line IN (
				SELECT line FROM bulk_job_rows WHERE job_id = ? AND status = ? ORDER BY line LIMIT ?)
			RETURNING line, attempts, data`,
			string(portal.RowRunning), holder, id, string(portal.RowPending), id, string(portal.RowPending), n)
		out, err = read.Claimed(rows, err)
		return err
	})
	return storekit.Read(out, err, "take the job's next rows")
}

// FinishRow: see portal.JobStore.
func (db *DB) FinishRow(ctx context.Context, id, holder string, line int, r portal.RowResult) error {
	status, outcome, finished := portal.RowDone, string(r.Outcome), r.At.UnixMilli()
	if r.Retry {
		status, outcome, finished = portal.RowPending, "", 0
	}
	return db.write(ctx, "record the row's outcome", func(tx querier) error {
		if err := holds(ctx, tx, id, holder); err != nil {
			return err
		}
		n, err := affected(tx.ExecContext(ctx, `UPDATE bulk_job_rows SET status = ?, outcome = ?, detail = ?, request_id = ?, finished_at = ?
			WHERE job_id = ? AND line = ? AND holder = ? AND status = ?`,
			string(status), outcome, text(r.Detail), text(r.RequestID), finished, id, line, holder, string(portal.RowRunning)))
		if err != nil || n > 0 || r.Retry {
			return err
		}
		// Done already, by the commit of its outcome (portal.JobStep): the
		// outcome and its request ID stand; the sentence for people may
		// say more.
		_, err = tx.ExecContext(ctx, `UPDATE bulk_job_rows SET detail = ? WHERE job_id = ? AND line = ? AND holder = ? AND status = ?`,
			text(r.Detail), id, line, holder, string(portal.RowDone))
		return err
	})
}

// OpenIntents: see portal.Store. The open intents are few (the table
// audit_open_intents keeps them), so the sweep reads them all.
func (db *DB) OpenIntents(ctx context.Context, job string, before time.Time, limit int) ([]portal.OpenIntent, error) {
	const line = `coalesce((SELECT r.job_id FROM bulk_job_rows r WHERE r.intent_seq = audit_log.seq), ''),
		coalesce((SELECT r.line FROM bulk_job_rows r WHERE r.intent_seq = audit_log.seq), 0)`
	var rows *sql.Rows
	var err error
	if job != "" {
		rows, err = db.db.QueryContext(ctx, `SELECT `+auditColumns+`, `+line+` FROM audit_log WHERE seq IN (
				SELECT r.intent_seq FROM bulk_job_rows r JOIN audit_open_intents o ON o.seq = r.intent_seq WHERE r.job_id = ? AND r.status != ?)
			ORDER BY seq LIMIT ?`, job, string(portal.RowDone), limit)
	} else {
		// A line of a job that may still go on is left to the job: it
		// settles its lines itself when it resumes.
		rows, err = db.db.QueryContext(ctx, `SELECT `+auditColumns+`, `+line+` FROM audit_log WHERE seq IN (SELECT seq FROM audit_open_intents)
				AND time < ? AND NOT EXISTS (SELECT 1 FROM bulk_job_rows r JOIN bulk_jobs j ON j.id = r.job_id
					WHERE r.intent_seq = audit_log.seq AND r.status != ? AND j.state NOT IN (?, ?))
			ORDER BY seq LIMIT ?`, before.UnixMilli(), string(portal.RowDone), string(portal.JobDone), string(portal.JobCancelled), limit)
	}
	return storekit.Collect(rows, err, "read the open intents", read.OpenIntent)
}

// holds is ECONFLICT unless holder runs the job: an instance that lost its
// hold (interrupted, and perhaps resumed elsewhere) changes nothing.
func holds(ctx context.Context, tx querier, id, holder string) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM bulk_jobs WHERE id = ? AND holder = ? AND state = ?`, id, holder, string(portal.JobRunning)).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return storekit.ErrNotHeld
	}
	return nil
}

// JobRows: see portal.JobStore.
func (db *DB) JobRows(ctx context.Context, tenant portal.GUID, id string, f portal.JobRowFilter, offset, limit int) ([]portal.JobRow, int, error) {
	j, err := db.GetJob(ctx, tenant, id)
	if err != nil {
		return nil, 0, err
	}
	skipped, status, outcome := f.Keeps()
	const from = ` FROM bulk_plan_rows p LEFT JOIN bulk_job_rows j ON j.job_id = ? AND j.line = p.line
		WHERE p.plan_id = ? AND (? = 0 OR j.line IS NULL) AND (? = '' OR j.status = ?) AND (? = '' OR j.outcome = ?)`
	args := []any{id, j.PlanID, skipped, string(status), string(status), string(outcome), string(outcome)}
	return storekit.Page(db.db.QueryRowContext(ctx, `SELECT count(*)`+from, args...), func() (storekit.Rows, error) {
		return db.db.QueryContext(ctx, `SELECT p.data, coalesce(j.status, ''), coalesce(j.attempts, 0), coalesce(j.outcome, ''),
			coalesce(j.detail, ''), coalesce(j.request_id, ''), coalesce(j.finished_at, 0)`+from+` ORDER BY p.line LIMIT ? OFFSET ?`,
			append(args, limit, offset)...)
	}, "read the job's rows", read.Result)
}

// JobRowsAt: see portal.JobStore. Each line is a lookup by primary key.
func (db *DB) JobRowsAt(ctx context.Context, tenant portal.GUID, id string, lines []int) ([]portal.JobRow, error) {
	if len(lines) == 0 {
		return nil, nil
	}
	rows, err := db.db.QueryContext(ctx, jobRowsAtSQL, jsonText(lines), id, tenant.String())
	return storekit.Collect(rows, err, "read the job's rows", read.Result)
}
