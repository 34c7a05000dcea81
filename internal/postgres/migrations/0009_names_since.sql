-- Each name carries the names revision of the put that last changed it
-- (its content or fetched_at), so that a copy of the names in memory
-- catches up with NamesSince, reading only what moved, instead of reading
-- every name again whenever the revision moves. Names written before this
-- are at revision 0: a copy loaded whole continues from the revision it
-- read first, and a later change stamps them like any other.
--
-- Adding a column with a constant default rewrites nothing. Replicas of
-- the previous version, still serving during a rollout, keep writing
-- names without moving rev; a new replica's copy misses what they change,
-- but holds the name's old fetched_at too, so it finds the name stale and
-- renews it from Graph, and that put stamps it.
ALTER TABLE directory_names ADD COLUMN rev bigint NOT NULL DEFAULT 0;
CREATE INDEX directory_names_by_rev ON directory_names (tenant_id, rev);
