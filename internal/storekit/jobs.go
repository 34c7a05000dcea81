package storekit

import (
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
// counts read by count after the result is closed.
func (r Reader) Jobs(rows Rows, err error, count func(*portal.Job) error) ([]portal.Job, error) {
	jobs, err := Collect(rows, err, "list the jobs", r.Job)
	for i := range jobs {
		if err == nil {
			err = count(&jobs[i])
		}
	}
	if err != nil {
		return nil, err
	}
	return jobs, nil
}
