-- The audit log: append-only and hash-chained (see portal.AuditEvent). seq is
-- set by AuditEvent.Seal from the head read in the appending transaction
-- (under an advisory lock, see AppendAudit), never by a sequence. at is
-- written to the millisecond, as Seal truncates it, so it reads back as
-- hashed. NULL GUIDs and '' kinds are the zero values the canonical
-- encoding writes as "".
CREATE TABLE audit_log (
	seq                bigint PRIMARY KEY CHECK (seq >= 1),
	at                 timestamptz NOT NULL,
	actor_tid          uuid,
	actor_oid          uuid,
	actor_name         text NOT NULL,
	client_ip          text NOT NULL,
	tenant_id          uuid,
	object_id          uuid,
	kind               text NOT NULL,
	action             text NOT NULL,
	phase              text NOT NULL,
	intent_seq         bigint NOT NULL,
	before_state       json,   -- portal.AuditState; NULL for none. json, not jsonb: kept as written
	after_state        json,
	justification      text NOT NULL,
	outcome            text NOT NULL,
	acs_status         integer NOT NULL,
	acs_code           text NOT NULL,
	request_id         text NOT NULL,
	correlation_vector text NOT NULL,
	detail             text NOT NULL,
	prev_hash          text NOT NULL,
	hash               text NOT NULL,
	-- Not hashed: actor_name lower-cased by the portal (Unicode), so the
	-- actor filter is case-insensitive beyond ASCII. Derived, so changing it
	-- cannot hide a change to anything the chain covers.
	actor_fold         text NOT NULL
);
CREATE INDEX audit_log_by_tenant ON audit_log (tenant_id, seq);
CREATE INDEX audit_log_by_object ON audit_log (tenant_id, object_id, seq);
CREATE INDEX audit_log_by_actor ON audit_log (tenant_id, actor_oid, seq);
CREATE INDEX audit_log_by_action ON audit_log (tenant_id, action, seq);

-- The log is append-only in the database itself, in two layers.
--
-- 1. Privileges. The portal runs as an app role that may read and append,
--    nothing else (postgres.GrantAppRole issues exactly these):
--
--      GRANT USAGE ON SCHEMA <schema> TO portal_app;
--      REVOKE ALL ON audit_log FROM portal_app;
--      GRANT SELECT, INSERT ON audit_log TO portal_app;  -- no UPDATE, DELETE, TRUNCATE
--      GRANT SELECT ON schema_migrations TO portal_app;
--      GRANT SELECT, INSERT, UPDATE, DELETE ON <every other table> TO portal_app;
--
-- 2. Triggers, whoever the role: the owner and superusers are refused too.
--    They refuse every UPDATE, DELETE and TRUNCATE statement (statement-level,
--    so even one that matches no row, and an INSERT … ON CONFLICT DO UPDATE),
--    and an INSERT of a row that does not follow the head citing its hash.
--    This stops accidents and an app role that was granted too much, not an
--    owner who drops the triggers: `portal audit verify` walks the chain and
--    catches what changed then.
REVOKE ALL ON audit_log FROM PUBLIC;

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit_log is append-only: rows cannot be %',
		CASE TG_OP WHEN 'UPDATE' THEN 'changed' WHEN 'DELETE' THEN 'deleted' ELSE 'truncated' END;
END
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

-- The head is read through the trigger's own table (TG_TABLE_SCHEMA), not
-- the caller's search_path, which could name another audit_log. A row
-- inserted at the same time by a writer that bypasses the store's lock
-- still cannot fork the chain: the second insert of a seq fails on the key.
CREATE FUNCTION audit_log_append_at_head() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	head_seq  bigint;
	head_hash text;
BEGIN
	EXECUTE format('SELECT seq, hash FROM %I.%I ORDER BY seq DESC LIMIT 1', TG_TABLE_SCHEMA, TG_TABLE_NAME)
		INTO head_seq, head_hash;
	IF NEW.seq IS DISTINCT FROM coalesce(head_seq, 0) + 1 OR NEW.prev_hash IS DISTINCT FROM coalesce(head_hash, '') THEN
		RAISE EXCEPTION 'audit_log is append-only: a row must follow the head and cite its hash';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER audit_log_append_at_head BEFORE INSERT ON audit_log
	FOR EACH ROW EXECUTE FUNCTION audit_log_append_at_head();
