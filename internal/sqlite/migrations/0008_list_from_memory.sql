-- The inventory list is searched, sorted and paged in memory by the use
-- cases (internal/access), from AllItems and InventoryChanges; the store no
-- longer answers a list query. What only served that query goes: the
-- totals and client-ID tables with the triggers that kept them, the
-- covering index of each sort order, and label_fold, which only the search
-- and the label sort read. The primary key still serves AllItems and
-- GetItem, and inventory_by_expiry the expiry job.
DROP TRIGGER inventory_totals_insert;
DROP TRIGGER inventory_totals_delete;
DROP TRIGGER inventory_totals_update;
DROP TABLE inventory_totals;
DROP TRIGGER inventory_client_ids_insert;
DROP TRIGGER inventory_client_ids_delete;
DROP TRIGGER inventory_client_ids_update;
DROP TABLE inventory_client_ids;
DROP INDEX inventory_by_updated;
DROP INDEX inventory_by_kind;
DROP INDEX inventory_by_state;
DROP INDEX inventory_by_verified;
DROP INDEX inventory_by_label;
ALTER TABLE inventory DROP COLUMN label_fold;
