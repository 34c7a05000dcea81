package sqlite

import (
	"context"
	"testing"

	"github.com/teamsphone/portal/internal/portal"
)

// ExecBehindTheStore runs raw SQL on the database, bypassing the store: for
// tests that tamper with the audit log as an attacker with file access could.
func (db *DB) ExecBehindTheStore(ctx context.Context, query string, args ...any) error {
	_, err := db.db.ExecContext(ctx, query, args...)
	return err
}

// SeedInventory puts items in one transaction without audit rows, so a
// benchmark can fill a table quickly.
func (db *DB) SeedInventory(ctx context.Context, items []portal.InventoryItem) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, it := range items {
		if err := putItem(ctx, tx, it); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// DerivedMismatches recounts what triggers keep (inventory_totals,
// inventory_client_ids) from the inventory itself and returns how many
// entries differ.
func (db *DB) DerivedMismatches(ctx context.Context) (int, error) {
	var n int
	err := db.db.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM (SELECT tenant_id, kind, state, count(*) AS n FROM inventory GROUP BY 1, 2, 3) AS recount
			FULL JOIN inventory_totals AS kept USING (tenant_id, kind, state)
			WHERE coalesce(recount.n, 0) != coalesce(kept.n, 0))
		+ (SELECT count(*) FROM (SELECT tenant_id, value AS client_id, count(*) AS n FROM inventory, json_each(client_ids) GROUP BY 1, 2) AS recount
			FULL JOIN inventory_client_ids AS kept USING (tenant_id, client_id)
			WHERE recount.n IS NOT kept.n)`).Scan(&n)
	return n, err
}

// SetFewMatches changes, for the rest of t, how many matches a search looks
// up by key before it counts and sorts them in the index instead.
func SetFewMatches(t testing.TB, n int) {
	old := fewMatches
	fewMatches = n
	t.Cleanup(func() { fewMatches = old })
}
