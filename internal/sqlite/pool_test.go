package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/teamsphone/portal/internal/sqlite"
	"github.com/teamsphone/portal/internal/storekit"
)

// TestPoolIsSized: the pool holds at most MaxConns connections, and each
// its share of the page cache, so the whole is bounded.
func TestPoolIsSized(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      sqlite.Options
		maxOpen   int
		cacheSize int64 // PRAGMA cache_size: negative, KiB
	}{
		{"defaults", sqlite.Options{}, storekit.DefaultMaxConns(), -(sqlite.DefaultCacheBytes >> 10) / int64(storekit.DefaultMaxConns())},
		{"4 connections, 8 MiB", sqlite.Options{MaxConns: 4, CacheBytes: 8 << 20}, 4, -2048},
		{"a share below the floor", sqlite.Options{MaxConns: 64, CacheBytes: 1 << 20}, 64, -(sqlite.MinConnCacheBytes >> 10)},
		{"fewer connections than a writer and a reader need", sqlite.Options{MaxConns: 1, CacheBytes: 8 << 20}, sqlite.MinConns, -4096},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := sqlite.OpenWith(context.Background(), filepath.Join(t.TempDir(), "portal.db"), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			maxOpen, cacheSize, err := db.PoolForTest(context.Background())
			if err != nil || maxOpen != tc.maxOpen || cacheSize != tc.cacheSize {
				t.Errorf("pool of %d, cache_size %d (%v); want %d and %d", maxOpen, cacheSize, err, tc.maxOpen, tc.cacheSize)
			}
		})
	}
}
