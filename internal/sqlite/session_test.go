package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/teamsphone/portal/internal/sqlite"
	"github.com/teamsphone/portal/internal/storetest"
)

func openDB(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSessions(t *testing.T) { storetest.RunSessions(t, openDB(t)) }

func TestMigrationsAreRecordedOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portal.db")
	for range 2 {
		db, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		ok, err := db.MigrationsCurrent(context.Background())
		if err != nil || !ok {
			t.Fatalf("current=%v err=%v", ok, err)
		}
		db.Close()
	}
}
