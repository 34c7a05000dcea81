package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/postgres"
	"github.com/teamsphone/portal/internal/storetest"
)

// TestFillInventory runs the fill's contract as the app role a production
// portal runs as: the fill needs no privilege Commit does not.
func TestFillInventory(t *testing.T) {
	serverURL(t)
	storetest.RunFill(t, func(t *testing.T, now func() time.Time) storetest.Filler {
		owner := freshSchema(t)
		app := asRole(t, owner, newRole(t, "portal_app_"))
		db, err := postgres.MigrateAndOpen(context.Background(), owner, app, now)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}
