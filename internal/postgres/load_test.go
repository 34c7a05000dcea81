package postgres_test

import (
	"testing"

	"github.com/teamsphone/portal/internal/storetest"
)

// TestExportLoad measures the exports' reads on 200,000 assignments (see
// storetest.MeasureExport):
//
//	PORTAL_LOAD=1 PORTAL_TEST_POSTGRES_URL=… go test -run TestExportLoad -v -count=1 ./internal/postgres
func TestExportLoad(t *testing.T) {
	db := openDB(t)
	storetest.MeasureExport(t, db, db.FillInventory, db.AnalyzeForTest)
}
