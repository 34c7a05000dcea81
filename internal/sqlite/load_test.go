package sqlite_test

import (
	"testing"

	"github.com/teamsphone/portal/internal/storetest"
)

// TestExportLoad measures the exports' reads on 200,000 assignments (see
// storetest.MeasureExport):
//
//	PORTAL_LOAD=1 go test -run TestExportLoad -v -count=1 ./internal/sqlite
func TestExportLoad(t *testing.T) {
	db := openDB(t)
	storetest.MeasureExport(t, db, db.FillInventory, nil)
}
