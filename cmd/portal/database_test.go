package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/teamsphone/portal/internal/sqlite"
	"github.com/teamsphone/portal/internal/storekit"
)

// TestDatabaseSettings: a sqlite: URL may size the pool and the page cache
// after a ?, as a postgres:// URL sizes its pool; anything else there is
// refused with a sentence saying what is allowed.
func TestDatabaseSettings(t *testing.T) {
	for v, want := range map[string]sqlite.Options{
		"sqlite:/var/lib/portal/portal.db":                                {},
		"sqlite:///var/lib/portal/portal.db?pool_max_conns=6":             {MaxConns: 6},
		"sqlite:/var/lib/portal/portal.db?cache_mib=64&pool_max_conns=16": {MaxConns: 16, CacheBytes: 64 << 20},
	} {
		d, err := parseDatabase(v)
		if err != nil || d.SQLitePath != "/var/lib/portal/portal.db" || d.SQLite != want {
			t.Errorf("parseDatabase(%q) = %+v, %v; want %+v", v, d, err, want)
		}
	}
	for v, problem := range map[string]string{
		"sqlite:/data/portal.db?max_conns=6":        `no setting is called "max_conns"`,
		"sqlite:/data/portal.db?pool_max_conns=0":   "pool_max_conns must be a whole number above 0",
		"sqlite:/data/portal.db?pool_max_conns=1":   "pool_max_conns must be at least 2",
		"sqlite:/data/portal.db?cache_mib=lots":     "cache_mib must be a whole number above 0",
		"sqlite:/data/portal.db?pool_max_conns=%zz": "name=value pairs",
		"sqlite:?pool_max_conns=2":                  "needs a file path",
	} {
		if _, err := parseDatabase(v); err == nil || !strings.Contains(err.Error(), problem) {
			t.Errorf("parseDatabase(%q): %v, want a problem saying %q", v, err, problem)
		}
	}

	n := storekit.DefaultMaxConns()
	for v, want := range map[string]string{
		"sqlite:/data/portal.db": fmt.Sprintf("SQLite: %d connections at most (pool_max_conns), a page cache of 32 MiB in all (cache_mib), %d KiB each",
			n, 32<<10/n),
		"sqlite:/data/portal.db?pool_max_conns=4&cache_mib=8":       "SQLite: 4 connections at most (pool_max_conns), a page cache of 8 MiB in all (cache_mib), 2048 KiB each",
		"postgres://portal@db.example.com/portal":                   fmt.Sprintf("PostgreSQL: %d connections at most (pool_max_conns)", n),
		"postgres://portal@db.example.com/portal?pool_max_conns=20": "PostgreSQL: 20 connections at most (pool_max_conns)",
	} {
		d, err := parseDatabase(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.pool(); got != want {
			t.Errorf("%s: pool %q, want %q", v, got, want)
		}
	}
}
