-- The inventory: every assignment the portal granted or adopted. ACS has no
-- list operation, so this table is the only list of who has access.
--
-- GUIDs are uuid (16 bytes, ordered like their canonical text); NULL is the
-- zero GUID (the portal itself as the actor). Times are timestamptz written
-- to the millisecond, as the portal's other store keeps them. Text that is
-- sorted or compared byte for byte is COLLATE "C", so the order does not
-- depend on the database's locale.
CREATE TABLE inventory (
	tenant_id       uuid NOT NULL,
	object_id       uuid NOT NULL,
	kind            text COLLATE "C" NOT NULL CHECK (kind IN ('user', 'resourceAccount')),
	client_ids      uuid[] NOT NULL DEFAULT '{}', -- sorted, no duplicates
	label           text NOT NULL DEFAULT '',
	-- label lower-cased by the portal (Unicode-aware, in Go), for search and
	-- sort: lower() would depend on the database's locale.
	label_fold      text COLLATE "C" NOT NULL DEFAULT '',
	state           text COLLATE "C" NOT NULL CHECK (state IN ('in_sync', 'drifted', 'missing', 'unverified')),
	created_at      timestamptz NOT NULL,
	created_by_tid  uuid,
	created_by_oid  uuid,
	created_by_name text NOT NULL,
	updated_at      timestamptz NOT NULL,
	updated_by_tid  uuid,
	updated_by_oid  uuid,
	updated_by_name text NOT NULL,
	verified_at     timestamptz,          -- NULL: never verified
	observed        json,                 -- {kind, clientIds, spelling} of what ACS held when drifted
	expires_at      timestamptz,          -- NULL: never
	version         bigint NOT NULL CHECK (version >= 1),
	PRIMARY KEY (tenant_id, object_id)
);

-- One index per sort order of the list, led by the tenant, in the sort's
-- natural direction with the object-ID tiebreak (read backward for Desc);
-- the totals beside the filters count (tenant, kind, state).
CREATE INDEX inventory_by_updated ON inventory (tenant_id, updated_at DESC, object_id);
CREATE INDEX inventory_by_label ON inventory (tenant_id, (label_fold = ''), label_fold, object_id);
CREATE INDEX inventory_by_kind ON inventory (tenant_id, kind DESC, object_id);
CREATE INDEX inventory_by_state ON inventory (tenant_id,
	(CASE state WHEN 'in_sync' THEN 0 WHEN 'drifted' THEN 1 WHEN 'missing' THEN 2 ELSE 3 END), object_id);
CREATE INDEX inventory_by_verified ON inventory (tenant_id, verified_at NULLS FIRST, object_id);
CREATE INDEX inventory_totals ON inventory (tenant_id, kind, state);
-- The expiry job reads this partial index in time order.
CREATE INDEX inventory_by_expiry ON inventory (expires_at) WHERE expires_at IS NOT NULL;

-- Leases that serialise writes to one assignment across portal instances.
-- A lease that is not released (a crash) lapses at expires_at.
CREATE TABLE locks (
	name       text PRIMARY KEY,
	holder     text NOT NULL,
	expires_at timestamptz NOT NULL
);
