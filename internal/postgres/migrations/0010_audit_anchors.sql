-- Each audit row's number among its tenant's rows (those of no tenant
-- among themselves): what a tenant is shown, 1, 2, 3 … without gaps, where
-- seq skips every other tenant's rows. Not hashed (it follows from the
-- rows before it, and `portal audit verify` checks that it does), so rows
-- written before this are numbered here, with the guard against UPDATE
-- lifted for that one statement inside this migration's transaction.
ALTER TABLE audit_log ADD COLUMN tenant_seq bigint;
ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update;
UPDATE audit_log SET tenant_seq = numbered.n
	FROM (SELECT seq, row_number() OVER (PARTITION BY tenant_id ORDER BY seq) AS n FROM audit_log) AS numbered
	WHERE audit_log.seq = numbered.seq;
ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update;
ALTER TABLE audit_log ALTER COLUMN tenant_seq SET NOT NULL;
CREATE UNIQUE INDEX audit_log_by_tenant_seq ON audit_log (tenant_id, tenant_seq);

-- The number is given here, by the database, whoever inserts: the insert
-- holds the audit lock (see AppendAudit), so the tenant's newest number is
-- read by one append at a time, in any instance, and replicas of the
-- previous version, still appending during a rollout, number their rows
-- too. (NOT NULL is checked after BEFORE triggers.) As in
-- audit_log_append_at_head, the table is the trigger's own, not the
-- caller's search_path's.
CREATE FUNCTION audit_log_number_in_tenant() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	newest bigint;
BEGIN
	IF NEW.tenant_id IS NULL THEN
		EXECUTE format('SELECT tenant_seq FROM %I.%I WHERE tenant_id IS NULL ORDER BY tenant_seq DESC LIMIT 1', TG_TABLE_SCHEMA, TG_TABLE_NAME)
			INTO newest;
	ELSE
		EXECUTE format('SELECT tenant_seq FROM %I.%I WHERE tenant_id = $1 ORDER BY tenant_seq DESC LIMIT 1', TG_TABLE_SCHEMA, TG_TABLE_NAME)
			INTO newest USING NEW.tenant_id;
	END IF;
	NEW.tenant_seq := coalesce(newest, 0) + 1;
	RETURN NEW;
END
$$;
CREATE TRIGGER audit_log_number_in_tenant BEFORE INSERT ON audit_log
	FOR EACH ROW EXECUTE FUNCTION audit_log_number_in_tenant();

-- Signed checkpoints of the chain's head (see portal.AuditCheckpoint),
-- numbered 1, 2, 3 … under the audit lock. The signature is made with a
-- key the database never holds, so a checkpoint cannot be forged here.
-- Append-only as audit_log is (GrantAppRole gives the app role SELECT and
-- INSERT only; triggers refuse changes whoever asks); `portal audit
-- verify` finds a deleted one by the gap in the numbers.
CREATE TABLE audit_checkpoints (
	number    bigint PRIMARY KEY CHECK (number >= 1),
	seq       bigint NOT NULL CHECK (seq >= 1),
	hash      text NOT NULL,
	signed_at timestamptz NOT NULL,
	key_id    text NOT NULL,
	signature bytea NOT NULL
);
REVOKE ALL ON audit_checkpoints FROM PUBLIC;

-- One guard for both tables: the function now names the table refusing.
CREATE OR REPLACE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION '% is append-only: rows cannot be %', TG_TABLE_NAME,
		CASE TG_OP WHEN 'UPDATE' THEN 'changed' WHEN 'DELETE' THEN 'deleted' ELSE 'truncated' END;
END
$$;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
	FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
	FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
	FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
