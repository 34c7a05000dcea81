-- Bulk plans: what an uploaded file would do, stored so that it can be
-- reviewed and, later, applied (re-checking that nothing moved).
CREATE TABLE bulk_plans (
	id              TEXT PRIMARY KEY,
	tenant_id       TEXT NOT NULL,
	created_at      INTEGER NOT NULL,
	created_by_tid  TEXT NOT NULL,
	created_by_oid  TEXT NOT NULL,
	created_by_name TEXT NOT NULL,
	file_name       TEXT NOT NULL,
	totals          TEXT NOT NULL -- JSON {"create": 3, …}
);
CREATE INDEX bulk_plans_by_tenant ON bulk_plans (tenant_id, created_at);

CREATE TABLE bulk_plan_rows (
	plan_id TEXT NOT NULL REFERENCES bulk_plans (id) ON DELETE CASCADE,
	line    INTEGER NOT NULL,
	class   TEXT NOT NULL,
	data    TEXT NOT NULL, -- JSON of portal.PlanRow
	PRIMARY KEY (plan_id, line)
) WITHOUT ROWID;
CREATE INDEX bulk_plan_rows_by_class ON bulk_plan_rows (plan_id, class, line);
