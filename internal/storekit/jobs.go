package storekit

import (
	"context"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

type jobCount struct {
	status, outcome string
	n               int
}

// JobCounts adds a job's rows, as a query counts them by status and
// outcome (status, outcome, count), to j's counts.
func (r Reader) JobCounts(j *portal.Job, rows Rows, err error) error {
	j.Outcomes = map[portal.AuditOutcome]int{}
	return Each(rows, err, "read the job", func(row Scanner) (c jobCount, err error) {
		return c, row.Scan(&c.status, &c.outcome, &c.n)
	}, func(c jobCount) error {
		j.CountRows(portal.JobRowStatus(c.status), portal.AuditOutcome(c.outcome), c.n)
		return nil
	})
}

// JobRate reads j's current rate: how many rows it finished within
// portal.JobRateWindow of its newest finish, and the first and last of
// those finishes (count, min and max of finished_at).
func (r Reader) JobRate(j *portal.Job, row Scanner) error {
	var d Decoder
	var first, last time.Time
	if err := row.Scan(&j.Recent, r.Columns.Time(&d, &first), r.Columns.Time(&d, &last)); err != nil {
		return Unavailable(err, "read the job")
	}
	d.done()
	j.RecentSpan = last.Sub(first)
	return nil
}

// ActiveJobRows counts the rows of queued and running jobs by status, as a
// query counts them (status, count), for metrics: every status is present.
func ActiveJobRows(rows Rows, err error) (map[string]int64, error) {
	type count struct {
		status string
		n      int64
	}
	out := map[string]int64{string(portal.RowPending): 0, string(portal.RowRunning): 0, string(portal.RowDone): 0}
	err = Each(rows, err, "count the job rows", func(row Scanner) (c count, err error) {
		return c, row.Scan(&c.status, &c.n)
	}, func(c count) error {
		out[c.status] = c.n
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Jobs returns every job of a query's result (see Each), each with its
// counts read after the result is closed.
func (r Reader) Jobs(ctx context.Context, rows Rows, err error, count JobCounter) ([]portal.Job, error) {
	jobs, err := Collect(rows, err, "list the jobs", r.Job)
	for i := range jobs {
		if err == nil {
			err = count(ctx, &jobs[i])
		}
	}
	if err != nil {
		return nil, err
	}
	return jobs, nil
}

// JobCounter reads a job's counts and rate into it.
type JobCounter func(ctx context.Context, j *portal.Job) error

// OneJob reads the job of a single-row query with its counts; a query that
// found none (noRows, the driver's error) is notFound.
func (r Reader) OneJob(ctx context.Context, row Scanner, noRows, notFound error, count JobCounter) (portal.Job, error) {
	j, err := r.Job(row)
	if err != nil {
		return j, Failed(NoRow(err, noRows, notFound), "read the job")
	}
	return j, count(ctx, &j)
}

// Then answers a change to a job that ended with err: the job as stored
// (get) when it succeeded.
func Then(err error, get func() (portal.Job, error)) (portal.Job, error) {
	if err != nil {
		return portal.Job{}, err
	}
	return get()
}

// Created answers CreateJob of j once its transaction ended with err: the
// job as created (read from jobs), or, when the plan already had one
// (ErrApplied), that job and ErrApplied.
func (w Writer) Created(ctx context.Context, err error, jobs portal.JobStore, j portal.Job) (portal.Job, error) {
	if err == ErrApplied {
		existing, gerr := jobs.JobForPlan(ctx, j.TenantID, j.PlanID)
		if gerr != nil {
			return existing, gerr
		}
		return existing, err
	}
	return Then(err, func() (portal.Job, error) { return jobs.GetJob(ctx, j.TenantID, w.Text(j.ID)) })
}
