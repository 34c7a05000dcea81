package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// CreateJob: see portal.JobStore. It copies the job's rows from the plan
// in one statement; a job of the same plan created at the same moment is
// ECONFLICT too.
func (db *DB) CreateJob(ctx context.Context, j portal.Job) (portal.Job, error) {
	if !text.Storable(j.PlanID) {
		return portal.Job{}, storekit.ErrNoPlan
	}
	err := db.inTx(ctx, "start the job", pgx.TxOptions{}, func(tx pgx.Tx) error {
		var planTenant pgtype.UUID
		err := tx.QueryRow(ctx, `SELECT tenant_id FROM bulk_plans WHERE id = $1`, j.PlanID).Scan(&planTenant)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && portal.GUID(planTenant.Bytes) != j.TenantID {
			return storekit.ErrNoPlan
		}
		if err != nil {
			return err
		}
		// ON CONFLICT waits for a job of the same plan being created at
		// the same moment, and then does nothing.
		tag, err := tx.Exec(ctx, `INSERT INTO bulk_jobs (id, plan_id, tenant_id, created_at, created_by_tid, created_by_oid, created_by_name,
				created_by_roles, client_ip, justification, state)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (plan_id) DO NOTHING`, write.Job(j)...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return storekit.ErrApplied
		}
		_, err = tx.Exec(ctx, `INSERT INTO bulk_job_rows (job_id, line, status, data)
			SELECT $1, line, $2, data FROM bulk_plan_rows WHERE plan_id = $3 AND class = ANY($4)`,
			text(j.ID), string(portal.RowPending), j.PlanID, storekit.ActionableClasses())
		return err
	})
	return write.Created(ctx, err, db, j)
}

const jobColumns = `id, plan_id, tenant_id, created_at, created_by_tid, created_by_oid, created_by_name, created_by_roles, client_ip, justification,
	state, cancel_requested, holder, heartbeat, started_at, finished_at, paused_at, paused_until`

// GetJob: see portal.JobStore.
func (db *DB) GetJob(ctx context.Context, tenant portal.GUID, id string) (portal.Job, error) {
	if !text.Storable(id) {
		return portal.Job{}, storekit.ErrNoJob
	}
	return read.OneJob(ctx, db.pool.QueryRow(ctx, `SELECT `+jobColumns+` FROM bulk_jobs WHERE id = $1 AND tenant_id = $2`, id, uuidOf(tenant)),
		pgx.ErrNoRows, storekit.ErrNoJob, db.countJob)
}

// JobForPlan: see portal.JobStore.
func (db *DB) JobForPlan(ctx context.Context, tenant portal.GUID, planID string) (portal.Job, error) {
	if !text.Storable(planID) {
		return portal.Job{}, storekit.ErrUnapplied
	}
	return read.OneJob(ctx, db.pool.QueryRow(ctx, `SELECT `+jobColumns+` FROM bulk_jobs WHERE plan_id = $1 AND tenant_id = $2`, planID, uuidOf(tenant)),
		pgx.ErrNoRows, storekit.ErrUnapplied, db.countJob)
}

// countJob reads the job's counts and rate (see portal.Job) from what the
// triggers on bulk_job_rows keep (migrations/0008_job_counts.sql): a few
// rows, however many the job has.
func (db *DB) countJob(ctx context.Context, j *portal.Job) error {
	rows, err := db.pool.Query(ctx, `SELECT status, outcome, sum(n) FROM bulk_job_counts WHERE job_id = $1
		GROUP BY status, outcome HAVING sum(n) <> 0`, j.ID)
	if err := read.JobCounts(j, rows, err); err != nil {
		return err
	}
	return read.JobRate(j, db.pool.QueryRow(ctx, `SELECT coalesce(sum(n), 0), min(first_at), max(last_at) FROM bulk_job_finishes
		WHERE job_id = $1 AND second >= (SELECT max(second) FROM bulk_job_finishes WHERE job_id = $1) - $2`,
		j.ID, int64(portal.JobRateWindow/time.Second)))
}

// ListJobs: see portal.JobStore. A negative limit means all.
func (db *DB) ListJobs(ctx context.Context, tenant portal.GUID, limit int) ([]portal.Job, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+jobColumns+` FROM bulk_jobs WHERE tenant_id = $1 ORDER BY created_at DESC, id LIMIT $2`,
		uuidOf(tenant), sqlLimit(limit))
	return read.Jobs(ctx, rows, err, db.countJob)
}

// ClaimJob: see portal.JobStore. Instances claiming at once skip the job
// another has locked (SKIP LOCKED) rather than wait for it and then find
// it gone.
func (db *DB) ClaimJob(ctx context.Context, holder string, now time.Time) (portal.Job, bool, error) {
	var id string
	var tenant pgtype.UUID
	err := db.pool.QueryRow(ctx, `WITH picked AS MATERIALIZED (
			SELECT id FROM bulk_jobs WHERE state = $4 ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
		UPDATE bulk_jobs AS j SET state = $1, holder = $2, heartbeat = $3, started_at = coalesce(j.started_at, $3)
		FROM picked WHERE j.id = picked.id
		RETURNING j.id, j.tenant_id`,
		string(portal.JobRunning), text(holder), values{}.Time(now), string(portal.JobQueued)).Scan(&id, &tenant)
	if errors.Is(err, pgx.ErrNoRows) {
		return portal.Job{}, false, nil
	}
	if err != nil {
		return portal.Job{}, false, storekit.Unavailable(err, "take a job")
	}
	j, err := db.GetJob(ctx, portal.GUID(tenant.Bytes), id)
	return j, err == nil, err
}

// Heartbeat: see portal.JobStore.
func (db *DB) Heartbeat(ctx context.Context, id, holder string, now time.Time) (bool, error) {
	var cancel bool
	err := db.pool.QueryRow(ctx, `UPDATE bulk_jobs SET heartbeat = $1 WHERE id = $2 AND holder = $3 AND state = $4 RETURNING cancel_requested`,
		values{}.Time(now), text(id), text(holder), string(portal.JobRunning)).Scan(&cancel)
	return cancel, storekit.Failed(storekit.NoRow(err, pgx.ErrNoRows, storekit.ErrNotHeld), "renew the job's hold")
}

// PauseJob: see portal.JobStore.
func (db *DB) PauseJob(ctx context.Context, id, holder string, at, until time.Time) error {
	tag, err := db.pool.Exec(ctx, `UPDATE bulk_jobs SET paused_at = $1, paused_until = $2 WHERE id = $3 AND holder = $4 AND state = $5`,
		values{}.Time(at), values{}.Time(until), text(id), text(holder), string(portal.JobRunning))
	if err != nil {
		return storekit.Unavailable(err, "record ACS's pause of the job")
	}
	if tag.RowsAffected() == 0 {
		return storekit.ErrNotHeld
	}
	return nil
}

// InterruptStale: see portal.JobStore.
func (db *DB) InterruptStale(ctx context.Context, stale time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE bulk_jobs SET state = $1, holder = '' WHERE state = $2 AND heartbeat < $3`,
		string(portal.JobInterrupted), string(portal.JobRunning), values{}.Time(stale))
	if err != nil {
		return 0, storekit.Unavailable(err, "check the running jobs")
	}
	return int(tag.RowsAffected()), nil
}

// ReleaseJob: see portal.JobStore.
func (db *DB) ReleaseJob(ctx context.Context, id, holder string, state portal.JobState, now time.Time) error {
	return db.inTx(ctx, "record the job's end", pgx.TxOptions{}, func(tx pgx.Tx) error {
		// Locking the job row waits for the holder's claims and outcomes
		// in flight (they hold it FOR SHARE), so the count below sees them,
		// and any that come later find the hold gone.
		var held bool
		err := tx.QueryRow(ctx, `SELECT true FROM bulk_jobs WHERE id = $1 AND holder = $2 AND state = $3 FOR UPDATE`,
			text(id), text(holder), string(portal.JobRunning)).Scan(&held)
		if err != nil {
			return storekit.NoRow(err, pgx.ErrNoRows, storekit.ErrNotHeld)
		}
		if state == portal.JobDone {
			// Done means every row has its outcome; a row whose outcome
			// was not recorded makes the job interrupted, to be resumed.
			var open int
			if err := tx.QueryRow(ctx, `SELECT coalesce(sum(n), 0) FROM bulk_job_counts WHERE job_id = $1 AND status <> $2`,
				id, string(portal.RowDone)).Scan(&open); err != nil {
				return err
			}
			if open > 0 {
				state = portal.JobInterrupted
			}
		}
		finished := time.Time{}
		if state.Finished() {
			finished = now
		}
		if _, err := tx.Exec(ctx, `UPDATE bulk_jobs SET state = $1, holder = '', finished_at = $2 WHERE id = $3`,
			text(string(state)), values{}.OptTime(finished), id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE bulk_job_rows SET status = $1 WHERE job_id = $2 AND status = $3`,
			string(portal.RowPending), id, string(portal.RowRunning))
		return err
	})
}

// CancelJob: see portal.JobStore. The job row is locked FOR UPDATE while
// its state decides.
func (db *DB) CancelJob(ctx context.Context, tenant portal.GUID, id string, now time.Time) (portal.Job, error) {
	if !text.Storable(id) {
		return portal.Job{}, storekit.ErrNoJob
	}
	return storekit.Then(db.inTx(ctx, "cancel the job", pgx.TxOptions{}, func(tx pgx.Tx) error {
		var state string
		err := tx.QueryRow(ctx, `SELECT state FROM bulk_jobs WHERE id = $1 AND tenant_id = $2 FOR UPDATE`, id, uuidOf(tenant)).Scan(&state)
		if err != nil {
			return storekit.NoRow(err, pgx.ErrNoRows, storekit.ErrNoJob)
		}
		switch portal.JobState(state) {
		case portal.JobRunning:
			_, err = tx.Exec(ctx, `UPDATE bulk_jobs SET cancel_requested = true WHERE id = $1`, id)
		case portal.JobQueued, portal.JobInterrupted:
			_, err = tx.Exec(ctx, `UPDATE bulk_jobs SET cancel_requested = true, state = $1, finished_at = $2 WHERE id = $3`,
				string(portal.JobCancelled), values{}.OptTime(now), id)
		default:
			return storekit.NotCancellable(portal.JobState(state))
		}
		return err
	}), func() (portal.Job, error) { return db.GetJob(ctx, tenant, id) })
}

// ResumeJob: see portal.JobStore.
func (db *DB) ResumeJob(ctx context.Context, tenant portal.GUID, id string) (portal.Job, error) {
	if !text.Storable(id) {
		return portal.Job{}, storekit.ErrNoJob
	}
	return storekit.Then(db.inTx(ctx, "resume the job", pgx.TxOptions{}, func(tx pgx.Tx) error {
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
		return storekit.NotResumable(tx.QueryRow(ctx, `SELECT state FROM bulk_jobs WHERE id = $1 AND tenant_id = $2`, id, uuidOf(tenant)), pgx.ErrNoRows)
	}), func() (portal.Job, error) { return db.GetJob(ctx, tenant, id) })
}

// ClaimRows: see portal.JobStore. Rows another transaction has locked are
// skipped.
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
		out, err = read.Claimed(rows, err)
		return err
	})
	return storekit.Read(out, err, "take the job's next rows")
}

// FinishRow: see portal.JobStore.
func (db *DB) FinishRow(ctx context.Context, id, holder string, line int, r portal.RowResult) error {
	status, outcome, finished := portal.RowDone, text(string(r.Outcome)), values{}.OptTime(r.At)
	if r.Retry {
		status, outcome, finished = portal.RowPending, "", values{}.OptTime(time.Time{})
	}
	return db.inTx(ctx, "record the row's outcome", pgx.TxOptions{}, func(tx pgx.Tx) error {
		if err := holds(ctx, tx, id, holder); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE bulk_job_rows SET status = $1, outcome = $2, detail = $3, request_id = $4, finished_at = $5
			WHERE job_id = $6 AND line = $7 AND holder = $8 AND status = $9`,
			string(status), outcome, text(r.Detail), text(r.RequestID), finished, id, line, holder, string(portal.RowRunning))
		if err != nil || tag.RowsAffected() > 0 || r.Retry {
			return err
		}
		// Done already, by the commit of its outcome (portal.JobStep): the
		// outcome and its request ID stand; the sentence for people may
		// say more.
		_, err = tx.Exec(ctx, `UPDATE bulk_job_rows SET detail = $1 WHERE job_id = $2 AND line = $3 AND holder = $4 AND status = $5`,
			text(r.Detail), id, line, holder, string(portal.RowDone))
		return err
	})
}

// OpenIntents: see portal.Store. The open intents are few (the table
// audit_open_intents keeps them), so the sweep reads them all.
func (db *DB) OpenIntents(ctx context.Context, job string, before time.Time, limit int) ([]portal.OpenIntent, error) {
	const line = `coalesce((SELECT r.job_id FROM bulk_job_rows r WHERE r.intent_seq = audit_log.seq), ''),
		coalesce((SELECT r.line FROM bulk_job_rows r WHERE r.intent_seq = audit_log.seq), 0)`
	var rows pgx.Rows
	var err error
	if job != "" {
		if !text.Storable(job) {
			return nil, nil
		}
		rows, err = db.pool.Query(ctx, `SELECT `+auditColumns+`, `+line+` FROM audit_log WHERE seq IN (
				SELECT r.intent_seq FROM bulk_job_rows r JOIN audit_open_intents o ON o.seq = r.intent_seq WHERE r.job_id = $1 AND r.status <> $2)
			ORDER BY seq LIMIT $3`, job, string(portal.RowDone), sqlLimit(limit))
	} else {
		// A line of a job that may still go on is left to the job: it
		// settles its lines itself when it resumes.
		rows, err = db.pool.Query(ctx, `SELECT `+auditColumns+`, `+line+` FROM audit_log WHERE seq IN (SELECT seq FROM audit_open_intents)
				AND at < $1 AND NOT EXISTS (SELECT 1 FROM bulk_job_rows r JOIN bulk_jobs j ON j.id = r.job_id
					WHERE r.intent_seq = audit_log.seq AND r.status <> $2 AND j.state NOT IN ($3, $4))
			ORDER BY seq LIMIT $5`, values{}.Time(before), string(portal.RowDone), string(portal.JobDone), string(portal.JobCancelled), sqlLimit(limit))
	}
	return storekit.Collect(rows, err, "read the open intents", read.OpenIntent)
}

// holds is ECONFLICT unless holder runs the job: an instance that lost its
// hold (interrupted, and perhaps resumed elsewhere) changes nothing. It
// locks the job row FOR SHARE, so the hold cannot be taken away (released,
// interrupted) until tx ends; claims and outcomes of one holder do not wait
// for each other.
func holds(ctx context.Context, tx pgx.Tx, id, holder string) error {
	if !text.Storable(id) || !text.Storable(holder) {
		return storekit.ErrNotHeld
	}
	var held bool
	err := tx.QueryRow(ctx, `SELECT true FROM bulk_jobs WHERE id = $1 AND holder = $2 AND state = $3 FOR SHARE`,
		id, holder, string(portal.JobRunning)).Scan(&held)
	if errors.Is(err, pgx.ErrNoRows) {
		return storekit.ErrNotHeld
	}
	return err
}

// JobRows: see portal.JobStore.
func (db *DB) JobRows(ctx context.Context, tenant portal.GUID, id string, f portal.JobRowFilter, offset, limit int) ([]portal.JobRow, int, error) {
	j, err := db.GetJob(ctx, tenant, id)
	if err != nil {
		return nil, 0, err
	}
	skipped, status, outcome := f.Keeps()
	args := params{id, j.PlanID, skipped, string(status), text(string(outcome))}
	const from = ` FROM bulk_plan_rows p LEFT JOIN bulk_job_rows j ON j.job_id = $1 AND j.line = p.line
		WHERE p.plan_id = $2 AND (NOT $3 OR j.line IS NULL) AND ($4 = '' OR j.status = $4) AND ($5 = '' OR j.outcome = $5)`
	return storekit.Page(db.pool.QueryRow(ctx, `SELECT count(*)`+from, args...), func() (storekit.Rows, error) {
		return db.pool.Query(ctx, `SELECT p.data, coalesce(j.status, ''), coalesce(j.attempts, 0), coalesce(j.outcome, ''),
			coalesce(j.detail, ''), coalesce(j.request_id, ''), j.finished_at`+from+` ORDER BY p.line LIMIT `+args.add(sqlLimit(limit))+
			` OFFSET `+args.add(max(offset, 0)), args...)
	}, "read the job's rows", read.Result)
}

// JobRowsAt: see portal.JobStore. Each line is a lookup by primary key.
func (db *DB) JobRowsAt(ctx context.Context, tenant portal.GUID, id string, lines []int) ([]portal.JobRow, error) {
	if len(lines) == 0 || !text.Storable(id) {
		return nil, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT p.data, coalesce(j.status, ''), coalesce(j.attempts, 0), coalesce(j.outcome, ''),
			coalesce(j.detail, ''), coalesce(j.request_id, ''), j.finished_at
		FROM bulk_jobs b JOIN bulk_plan_rows p ON p.plan_id = b.plan_id AND p.line = ANY($1::integer[])
			LEFT JOIN bulk_job_rows j ON j.job_id = b.id AND j.line = p.line
		WHERE b.id = $2 AND b.tenant_id = $3 ORDER BY p.line`, lines, id, uuidOf(tenant))
	return storekit.Collect(rows, err, "read the job's rows", read.Result)
}
