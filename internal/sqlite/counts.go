package sqlite

import (
	"context"

	"github.com/teamsphone/portal/internal/storekit"
)

// Counts read for metrics (internal/metrics.Sources) when Prometheus
// scrapes. They are not part of portal.Store: nothing in the portal acts
// on them.

// AuditRows is the length of the audit log's hash chain.
func (db *DB) AuditRows(ctx context.Context) (int64, error) {
	return storekit.Count(db.db.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM audit_log`), "count the audit rows")
}

// SessionCount is how many sessions are stored (dead ones are pruned every
// few minutes).
func (db *DB) SessionCount(ctx context.Context) (int64, error) {
	return storekit.Count(db.db.QueryRowContext(ctx, `SELECT count(*) FROM sessions`), "count the sessions")
}

// ActiveJobRows counts the rows of queued and running bulk jobs by status,
// from the jobs' counts (not their rows: a scrape during a 50,000-row job
// would count them all).
func (db *DB) ActiveJobRows(ctx context.Context) (map[string]int64, error) {
	return storekit.ActiveJobRows(db.db.QueryContext(ctx, `SELECT c.status, sum(c.n) FROM bulk_job_counts c JOIN bulk_jobs j ON j.id = c.job_id
		WHERE j.state IN ('queued', 'running') GROUP BY c.status`))
}
