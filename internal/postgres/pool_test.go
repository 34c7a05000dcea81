package postgres_test

import (
	"testing"

	"github.com/teamsphone/portal/internal/postgres"
	"github.com/teamsphone/portal/internal/storekit"
)

// TestPoolSize: a URL that names no pool size gets the stores' default,
// not pgxpool's; one that names it, in either form, gets what it names.
func TestPoolSize(t *testing.T) {
	for url, want := range map[string]int32{
		"postgres://portal@db.example.com/portal?sslmode=require":                   int32(storekit.DefaultMaxConns()),
		"postgres://portal@db.example.com/portal?sslmode=require&pool_max_conns=12": 12,
		"postgres://portal@db.example.com/portal?pool_max_conns=3":                  3,
		"host=db.example.com user=portal dbname=portal":                             int32(storekit.DefaultMaxConns()),
		"host=db.example.com user=portal pool_max_conns=5 dbname=portal":            5,
	} {
		cfg, err := postgres.PoolConfig(url)
		if err != nil {
			t.Errorf("PoolConfig(%q): %v", url, err)
		} else if cfg.MaxConns != want {
			t.Errorf("PoolConfig(%q): %d connections, want %d", url, cfg.MaxConns, want)
		}
	}
}
