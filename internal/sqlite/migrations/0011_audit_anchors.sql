-- Each audit row's number among its tenant's rows (those of no tenant
-- among themselves): what a tenant is shown, 1, 2, 3 … without gaps, where
-- seq skips every other tenant's rows. Not hashed (it follows from the
-- rows before it, and `portal audit verify` checks that it does), so rows
-- written before this are numbered here. The guard against UPDATE is
-- lifted for that one statement, inside this migration's transaction.
ALTER TABLE audit_log ADD COLUMN tenant_seq INTEGER NOT NULL DEFAULT 0;
DROP TRIGGER audit_log_no_update;
UPDATE audit_log SET tenant_seq = numbered.n
	FROM (SELECT seq, row_number() OVER (PARTITION BY tenant_id ORDER BY seq) AS n FROM audit_log) AS numbered
	WHERE audit_log.seq = numbered.seq;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'audit_log is append-only: rows cannot be changed');
END;
CREATE UNIQUE INDEX audit_log_by_tenant_seq ON audit_log (tenant_id, tenant_seq);

-- Signed checkpoints of the chain's head (see portal.AuditCheckpoint),
-- numbered 1, 2, 3 … under the same write lock as appends. The signature
-- is made with a key the database never holds, so a checkpoint cannot be
-- forged here; these triggers stop accidents, as audit_log's do, and
-- `portal audit verify` finds a deleted one by the gap in the numbers.
-- signed_at is unix milliseconds, as audit_log.time.
CREATE TABLE audit_checkpoints (
	number    INTEGER PRIMARY KEY CHECK (number >= 1),
	seq       INTEGER NOT NULL CHECK (seq >= 1),
	hash      TEXT NOT NULL,
	signed_at INTEGER NOT NULL,
	key_id    TEXT NOT NULL,
	signature BLOB NOT NULL
);
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
	SELECT RAISE(ABORT, 'audit_checkpoints is append-only: checkpoints cannot be changed');
END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
	SELECT RAISE(ABORT, 'audit_checkpoints is append-only: checkpoints cannot be deleted');
END;
-- INSERT OR REPLACE deletes without firing the DELETE trigger: a
-- checkpoint may only follow the newest.
CREATE TRIGGER audit_checkpoints_follow_newest BEFORE INSERT ON audit_checkpoints
WHEN NEW.number IS NOT (SELECT coalesce(max(number), 0) + 1 FROM audit_checkpoints)
BEGIN
	SELECT RAISE(ABORT, 'audit_checkpoints is append-only: a checkpoint must follow the newest');
END;
