-- Bulk jobs: a stored plan applied in the background, row by row. Progress
-- lives here, not in a process, so any instance shows it and a crash loses
-- nothing: rows an instance had started are found "running" and settled
-- with ACS when the job resumes.
CREATE TABLE bulk_jobs (
	id               TEXT PRIMARY KEY,
	plan_id          TEXT NOT NULL UNIQUE REFERENCES bulk_plans (id),
	tenant_id        TEXT NOT NULL,
	created_at       INTEGER NOT NULL,
	created_by_tid   TEXT NOT NULL,
	created_by_oid   TEXT NOT NULL,
	created_by_name  TEXT NOT NULL,
	created_by_roles TEXT NOT NULL, -- space-separated: rows are applied with the roles held when it was applied
	client_ip        TEXT NOT NULL,
	justification    TEXT NOT NULL,
	state            TEXT NOT NULL,
	cancel_requested INTEGER NOT NULL DEFAULT 0,
	holder           TEXT NOT NULL DEFAULT '',
	heartbeat        INTEGER NOT NULL DEFAULT 0,
	started_at       INTEGER NOT NULL DEFAULT 0,
	finished_at      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX bulk_jobs_by_tenant ON bulk_jobs (tenant_id, created_at);
CREATE INDEX bulk_jobs_by_state ON bulk_jobs (state, created_at);

CREATE TABLE bulk_job_rows (
	job_id      TEXT NOT NULL REFERENCES bulk_jobs (id),
	line        INTEGER NOT NULL,
	status      TEXT NOT NULL,            -- pending, running, done
	holder      TEXT NOT NULL DEFAULT '', -- the instance that took it last
	attempts    INTEGER NOT NULL DEFAULT 0,
	outcome     TEXT NOT NULL DEFAULT '',
	detail      TEXT NOT NULL DEFAULT '',
	request_id  TEXT NOT NULL DEFAULT '',
	finished_at INTEGER NOT NULL DEFAULT 0,
	data        TEXT NOT NULL,            -- JSON of portal.PlanRow
	PRIMARY KEY (job_id, line)
) WITHOUT ROWID;
CREATE INDEX bulk_job_rows_by_status ON bulk_job_rows (job_id, status, line);
