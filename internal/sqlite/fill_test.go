package sqlite_test

import (
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/storetest"
)

func TestFillInventory(t *testing.T) {
	storetest.RunFill(t, func(t *testing.T, now func() time.Time) storetest.Filler {
		db := openDB(t)
		db.Now = now
		return db
	})
}
