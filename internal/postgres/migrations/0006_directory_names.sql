-- Names the portal learned from Microsoft Graph about the IDs it shows,
-- per tenant: names fetched with one tenant's tokens are read for that
-- tenant only. A cache, refreshed from Graph; a row says what Graph said at
-- fetched_at, found false that it had no such object.
CREATE TABLE directory_names (
	tenant_id    uuid NOT NULL,
	space        text COLLATE "C" NOT NULL CHECK (space IN ('object', 'app')),
	id           uuid NOT NULL,
	found        boolean NOT NULL,
	kind         text COLLATE "C" NOT NULL CHECK (kind IN ('', 'user', 'resourceAccount')),
	display_name text NOT NULL,
	upn          text NOT NULL,
	phone        text NOT NULL,
	fetched_at   timestamptz NOT NULL,
	-- display_name and upn lower-cased by the portal (Unicode-aware, in Go),
	-- for search and sort: lower() would depend on the database's locale.
	-- Two columns, so that a search cannot match across the two.
	name_fold    text COLLATE "C" NOT NULL,
	upn_fold     text COLLATE "C" NOT NULL,
	PRIMARY KEY (tenant_id, space, id)
);
CREATE INDEX directory_names_by_name ON directory_names (tenant_id, space, name_fold, id);

-- Each tenant's names revision, raised by every put that changed a name.
-- Instances compare it on every list request to know whether their copy of
-- the names is current: one key lookup. No row: revision 0.
CREATE TABLE directory_name_revisions (
	tenant_id uuid PRIMARY KEY,
	rev       bigint NOT NULL CHECK (rev >= 1)
);
