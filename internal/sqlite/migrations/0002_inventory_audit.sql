-- The inventory: every assignment the portal granted or adopted. ACS has no
-- list operation, so this table is the only list of who has access.
--
-- WITHOUT ROWID keeps each tenant's rows together in object-ID order, and
-- every index below is led by the tenant: no query of one tenant reads
-- another's rows.
CREATE TABLE inventory (
	tenant_id       TEXT NOT NULL,             -- canonical lower-case GUID
	object_id       TEXT NOT NULL,             -- canonical lower-case GUID
	client_ids      TEXT NOT NULL DEFAULT '[]', -- JSON array of canonical GUIDs, sorted: ["83ec…","9215…"]
	label_fold      TEXT NOT NULL DEFAULT '',  -- label lower-cased by the portal (Unicode), for search and sort
	kind            TEXT NOT NULL CHECK (kind IN ('user', 'resourceAccount')),
	state           TEXT NOT NULL CHECK (state IN ('in_sync', 'drifted', 'missing', 'unverified')),
	label           TEXT NOT NULL DEFAULT '',
	created_at      INTEGER NOT NULL,          -- unix milliseconds
	created_by_tid  TEXT NOT NULL,             -- '' for the portal itself
	created_by_oid  TEXT NOT NULL,
	created_by_name TEXT NOT NULL,
	updated_at      INTEGER NOT NULL,
	updated_by_tid  TEXT NOT NULL,
	updated_by_oid  TEXT NOT NULL,
	updated_by_name TEXT NOT NULL,
	verified_at     INTEGER,                   -- NULL: never verified
	observed        TEXT,                      -- JSON {kind, clientIds, spelling} of what ACS held when drifted
	version         INTEGER NOT NULL CHECK (version >= 1),
	PRIMARY KEY (tenant_id, object_id)
) WITHOUT ROWID;

-- The list runs on every keystroke of a search box, over 10,000 rows a
-- tenant, so each query it makes reads an index that holds everything the
-- query needs ("covering"): a row is looked up only to be shown.
--
-- One index per sort order, led by the tenant, in the sort's natural
-- direction, ending with the object-ID tiebreak and the kind and state the
-- filters test: a page of the unfiltered or filtered list is read in order
-- (forward for the natural order, backward for Desc) without sorting and
-- without visiting the rows it skips. Sorting by object ID uses the table.
CREATE INDEX inventory_by_updated ON inventory (tenant_id, updated_at DESC, object_id, kind, state);
CREATE INDEX inventory_by_kind ON inventory (tenant_id, kind DESC, object_id, state);
CREATE INDEX inventory_by_state ON inventory (tenant_id,
	CASE state WHEN 'in_sync' THEN 0 WHEN 'drifted' THEN 1 WHEN 'missing' THEN 2 ELSE 3 END, object_id, kind, state);
CREATE INDEX inventory_by_verified ON inventory (tenant_id, verified_at, object_id, kind, state);
-- Sorting by label, and searching: a search cannot use an index to find
-- its rows (it matches inside the text), so it scans this one, which holds
-- every searched column, every filtered column and every sort key in about
-- half a row's width, and sorts what it finds here too.
CREATE INDEX inventory_by_label ON inventory (tenant_id, label_fold = '', label_fold, object_id,
	kind, state, client_ids, updated_at, verified_at);

-- The totals beside the filters, by kind and state, kept by triggers in the
-- same transaction as every change: counting 10,000 index entries on every
-- keystroke costs more than the rest of the page together.
CREATE TABLE inventory_totals (
	tenant_id TEXT NOT NULL,
	kind      TEXT NOT NULL,
	state     TEXT NOT NULL,
	n         INTEGER NOT NULL CHECK (n >= 0),
	PRIMARY KEY (tenant_id, kind, state)
) WITHOUT ROWID;
CREATE TRIGGER inventory_totals_insert AFTER INSERT ON inventory
BEGIN
	INSERT INTO inventory_totals (tenant_id, kind, state, n) VALUES (NEW.tenant_id, NEW.kind, NEW.state, 1)
		ON CONFLICT (tenant_id, kind, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER inventory_totals_delete AFTER DELETE ON inventory
BEGIN
	UPDATE inventory_totals SET n = n - 1 WHERE tenant_id = OLD.tenant_id AND kind = OLD.kind AND state = OLD.state;
END;
CREATE TRIGGER inventory_totals_update AFTER UPDATE OF tenant_id, kind, state ON inventory
WHEN OLD.tenant_id IS NOT NEW.tenant_id OR OLD.kind IS NOT NEW.kind OR OLD.state IS NOT NEW.state
BEGIN
	UPDATE inventory_totals SET n = n - 1 WHERE tenant_id = OLD.tenant_id AND kind = OLD.kind AND state = OLD.state;
	INSERT INTO inventory_totals (tenant_id, kind, state, n) VALUES (NEW.tenant_id, NEW.kind, NEW.state, 1)
		ON CONFLICT (tenant_id, kind, state) DO UPDATE SET n = n + 1;
END;

-- The audit log: append-only and hash-chained (see portal.AuditEvent). seq is
-- set by AuditEvent.Seal from the head read in the appending transaction,
-- never by SQLite. time is unix milliseconds: Seal truncates to the
-- millisecond, so time.UnixMilli(time).UTC() hashes exactly as written.
-- GUID columns hold '' for the zero GUID, kind '' for no kind, as the
-- canonical encoding does.
CREATE TABLE audit_log (
	seq                INTEGER PRIMARY KEY CHECK (seq >= 1),
	time               INTEGER NOT NULL,
	actor_tid          TEXT NOT NULL,
	actor_oid          TEXT NOT NULL,
	actor_name         TEXT NOT NULL,
	client_ip          TEXT NOT NULL,
	tenant_id          TEXT NOT NULL,
	object_id          TEXT NOT NULL,
	kind               TEXT NOT NULL,
	action             TEXT NOT NULL,
	phase              TEXT NOT NULL,
	intent_seq         INTEGER NOT NULL,
	before_state       TEXT,              -- JSON of portal.AuditState; NULL for none
	after_state        TEXT,
	justification      TEXT NOT NULL,
	outcome            TEXT NOT NULL,
	acs_status         INTEGER NOT NULL,
	acs_code           TEXT NOT NULL,
	request_id         TEXT NOT NULL,
	correlation_vector TEXT NOT NULL,
	detail             TEXT NOT NULL,
	prev_hash          TEXT NOT NULL,
	hash               TEXT NOT NULL,
	-- Not hashed: actor_name lower-cased by the portal (Unicode), so the
	-- actor filter is case-insensitive beyond ASCII. Derived, so changing it
	-- cannot hide a change to anything the chain covers.
	actor_fold         TEXT NOT NULL
);
CREATE INDEX audit_log_by_tenant ON audit_log (tenant_id, seq);
CREATE INDEX audit_log_by_object ON audit_log (tenant_id, object_id, seq);
CREATE INDEX audit_log_by_actor ON audit_log (tenant_id, actor_oid, seq);
CREATE INDEX audit_log_by_action ON audit_log (tenant_id, action, seq);

-- Nothing may change or remove a row, and a row may only be appended right
-- after the head, citing its hash. This stops accidents (a stray UPDATE, an
-- INSERT OR REPLACE, which deletes without firing a DELETE trigger, an
-- append that did not read the head), not an attacker, who can drop the
-- triggers: `portal audit verify` walks the chain and catches that.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'audit_log is append-only: rows cannot be changed');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'audit_log is append-only: rows cannot be deleted');
END;
CREATE TRIGGER audit_log_append_at_head BEFORE INSERT ON audit_log
WHEN NEW.seq IS NOT (SELECT coalesce(max(seq), 0) + 1 FROM audit_log)
	OR NEW.prev_hash IS NOT coalesce((SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1), '')
BEGIN
	SELECT RAISE(ABORT, 'audit_log is append-only: a row must follow the head and cite its hash');
END;

-- The distinct client IDs (calling apps) of each tenant's rows, with how
-- many rows name each, kept by triggers. A tenant has a handful of apps: a
-- search checks them first and reads no row's client IDs if none matches.
CREATE TABLE inventory_client_ids (
	tenant_id TEXT NOT NULL,
	client_id TEXT NOT NULL,
	n         INTEGER NOT NULL CHECK (n >= 0),
	PRIMARY KEY (tenant_id, client_id)
) WITHOUT ROWID;
CREATE TRIGGER inventory_client_ids_insert AFTER INSERT ON inventory
BEGIN
	INSERT INTO inventory_client_ids (tenant_id, client_id, n) SELECT NEW.tenant_id, value, 1 FROM json_each(NEW.client_ids) WHERE true
		ON CONFLICT (tenant_id, client_id) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER inventory_client_ids_delete AFTER DELETE ON inventory
BEGIN
	UPDATE inventory_client_ids SET n = n - 1
		WHERE tenant_id = OLD.tenant_id AND client_id IN (SELECT value FROM json_each(OLD.client_ids));
	DELETE FROM inventory_client_ids WHERE tenant_id = OLD.tenant_id AND n = 0;
END;
CREATE TRIGGER inventory_client_ids_update AFTER UPDATE OF tenant_id, client_ids ON inventory
WHEN OLD.tenant_id IS NOT NEW.tenant_id OR OLD.client_ids IS NOT NEW.client_ids
BEGIN
	UPDATE inventory_client_ids SET n = n - 1
		WHERE tenant_id = OLD.tenant_id AND client_id IN (SELECT value FROM json_each(OLD.client_ids));
	DELETE FROM inventory_client_ids WHERE tenant_id = OLD.tenant_id AND n = 0;
	INSERT INTO inventory_client_ids (tenant_id, client_id, n) SELECT NEW.tenant_id, value, 1 FROM json_each(NEW.client_ids) WHERE true
		ON CONFLICT (tenant_id, client_id) DO UPDATE SET n = n + 1;
END;

-- Leases that serialise writes to one assignment across portal instances.
-- A lease that is not released (a crash) lapses at expires_at.
CREATE TABLE locks (
	name       TEXT PRIMARY KEY,
	holder     TEXT NOT NULL,
	expires_at INTEGER NOT NULL -- unix milliseconds
) WITHOUT ROWID;
