-- The inventory list is searched, sorted and paged in memory by the use
-- cases (internal/access), from AllItems and InventoryChanges; the store no
-- longer answers a list query. The index of each sort order and the one
-- that counted (tenant, kind, state) served only that query, and go. The
-- primary key still serves AllItems and GetItem, and inventory_by_expiry
-- the expiry job.
--
-- label_fold stays for now, no longer written (new rows take its default):
-- replicas of the previous version, still serving during a rollout, write
-- it, and migrations must not break them (README, "Upgrading"). A later
-- migration drops it.
DROP INDEX inventory_by_updated, inventory_by_label, inventory_by_kind, inventory_by_state,
	inventory_by_verified, inventory_totals;
