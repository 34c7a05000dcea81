package postgres

import "context"

// AnalyzeForTest refreshes the planner's statistics, as autovacuum would
// soon after a large fill.
func (db *DB) AnalyzeForTest(ctx context.Context) error {
	_, err := db.pool.Exec(ctx, `ANALYZE`)
	return err
}

// SetWalkChunk makes AllItems and WalkAudit read n rows per query, so that
// tests with a few rows cross chunk edges.
func (db *DB) SetWalkChunk(n int) { db.walkChunk = n }
