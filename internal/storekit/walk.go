package storekit

// WalkChunk is how many rows a store reads with one query when it walks a
// whole table (AllItems, WalkAudit): enough that a query's own cost is
// spread thin, few enough that a chunk (about half a megabyte of
// assignments) is nothing to hold.
const WalkChunk = 1000

// Walk calls fn for every row of a table read in chunks by key: next(after,
// limit) returns up to limit rows whose keys come after after (the zero K:
// from the first row), in key order, and key is a row's key. A chunk is
// read whole before fn sees its first row, so while fn runs the walk holds
// no query, connection or snapshot of the database: a slow fn (an export
// to a slow client) keeps nothing from anyone else, and SQLite can fold its
// log back meanwhile. Rows changed during the walk are seen as they were
// when their chunk was read. The walk ends after a chunk shorter than
// limit. next maps its own errors; an error from fn stops the walk and is
// returned as is.
func Walk[T, K any](limit int, next func(after K, limit int) ([]T, error), key func(T) K, fn func(T) error) error {
	if limit <= 0 {
		limit = WalkChunk
	}
	var after K
	for {
		chunk, err := next(after, limit)
		if err != nil {
			return err
		}
		for _, row := range chunk {
			if err := fn(row); err != nil {
				return err
			}
		}
		if len(chunk) < limit {
			return nil
		}
		after = key(chunk[len(chunk)-1])
	}
}
