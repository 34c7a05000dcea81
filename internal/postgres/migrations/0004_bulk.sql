-- Bulk plans: what an uploaded file would do, stored so that it can be
-- reviewed and, later, applied (re-checking that nothing moved).
CREATE TABLE bulk_plans (
	id              text COLLATE "C" PRIMARY KEY,
	tenant_id       uuid NOT NULL,
	created_at      timestamptz NOT NULL,
	created_by_tid  uuid,
	created_by_oid  uuid,
	created_by_name text NOT NULL,
	file_name       text NOT NULL,
	totals          json NOT NULL -- {"create": 3, …}
);
CREATE INDEX bulk_plans_by_tenant ON bulk_plans (tenant_id, created_at);

CREATE TABLE bulk_plan_rows (
	plan_id text COLLATE "C" NOT NULL REFERENCES bulk_plans (id) ON DELETE CASCADE,
	line    integer NOT NULL,
	class   text NOT NULL,
	data    json NOT NULL, -- portal.PlanRow
	PRIMARY KEY (plan_id, line)
);
CREATE INDEX bulk_plan_rows_by_class ON bulk_plan_rows (plan_id, class, line);

-- Bulk jobs: a stored plan applied in the background, row by row. Progress
-- lives here, not in a process, so any instance shows it and a crash loses
-- nothing: rows an instance had started are found "running" and settled
-- with ACS when the job resumes. Instances take queued jobs and pending
-- rows with FOR UPDATE SKIP LOCKED, so they never wait for each other.
CREATE TABLE bulk_jobs (
	id               text COLLATE "C" PRIMARY KEY,
	plan_id          text COLLATE "C" NOT NULL UNIQUE REFERENCES bulk_plans (id),
	tenant_id        uuid NOT NULL,
	created_at       timestamptz NOT NULL,
	created_by_tid   uuid,
	created_by_oid   uuid,
	created_by_name  text NOT NULL,
	created_by_roles text NOT NULL, -- space-separated: rows are applied with the roles held when it was applied
	client_ip        text NOT NULL,
	justification    text NOT NULL,
	state            text NOT NULL,
	cancel_requested boolean NOT NULL DEFAULT false,
	holder           text NOT NULL DEFAULT '',
	heartbeat        timestamptz,
	started_at       timestamptz,
	finished_at      timestamptz
);
CREATE INDEX bulk_jobs_by_tenant ON bulk_jobs (tenant_id, created_at);
CREATE INDEX bulk_jobs_queued ON bulk_jobs (created_at, id) WHERE state = 'queued';
CREATE INDEX bulk_jobs_running ON bulk_jobs (heartbeat) WHERE state = 'running';

CREATE TABLE bulk_job_rows (
	job_id      text COLLATE "C" NOT NULL REFERENCES bulk_jobs (id),
	line        integer NOT NULL,
	status      text NOT NULL,            -- pending, running, done
	holder      text NOT NULL DEFAULT '', -- the instance that took it last
	attempts    integer NOT NULL DEFAULT 0,
	outcome     text NOT NULL DEFAULT '',
	detail      text NOT NULL DEFAULT '',
	request_id  text NOT NULL DEFAULT '',
	finished_at timestamptz,
	data        json NOT NULL,            -- portal.PlanRow
	PRIMARY KEY (job_id, line)
);
CREATE INDEX bulk_job_rows_by_status ON bulk_job_rows (job_id, status, line);
