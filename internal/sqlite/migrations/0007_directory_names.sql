-- Names the portal learned from Microsoft Graph about the IDs it shows,
-- per tenant: names fetched with one tenant's tokens are read for that
-- tenant only. A cache, refreshed from Graph; a row says what Graph said at
-- fetched_at, found = 0 that it had no such object.
CREATE TABLE directory_names (
	tenant_id    TEXT NOT NULL,                               -- canonical lower-case GUID
	space        TEXT NOT NULL CHECK (space IN ('object', 'app')),
	id           TEXT NOT NULL,                               -- canonical lower-case GUID
	found        INTEGER NOT NULL CHECK (found IN (0, 1)),
	kind         TEXT NOT NULL CHECK (kind IN ('', 'user', 'resourceAccount')),
	display_name TEXT NOT NULL,
	upn          TEXT NOT NULL,
	phone        TEXT NOT NULL,
	fetched_at   INTEGER NOT NULL,                            -- unix milliseconds
	-- display_name and upn lower-cased by the portal (Unicode), for search
	-- and sort; two columns, so that a search cannot match across the two.
	name_fold    TEXT NOT NULL,
	upn_fold     TEXT NOT NULL,
	PRIMARY KEY (tenant_id, space, id)
) WITHOUT ROWID;
-- A search walks this in its order, testing both folded columns here, and
-- reads only the rows it returns.
CREATE INDEX directory_names_by_name ON directory_names (tenant_id, space, name_fold, id, upn_fold);

-- Each tenant's names revision, raised by every put that changed a name.
-- Instances compare it on every list request to know whether their copy of
-- the names is current: one key lookup. No row: revision 0.
CREATE TABLE directory_name_revisions (
	tenant_id TEXT PRIMARY KEY,
	rev       INTEGER NOT NULL CHECK (rev >= 1)
) WITHOUT ROWID;
