package postgres_test

import (
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/storetest"
)

// TestFillInventory runs the fill's contract as the app role a production
// portal runs as: the fill needs no privilege Commit does not.
func TestFillInventory(t *testing.T) {
	serverURL(t)
	storetest.RunFill(t, func(t *testing.T, now func() time.Time) storetest.Filler { return openAsAppRole(t, now) })
}
