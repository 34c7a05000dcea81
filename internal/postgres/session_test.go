package postgres_test

import (
	"testing"

	"github.com/teamsphone/portal/internal/storetest"
)

func TestSessions(t *testing.T) { storetest.RunSessions(t, openDB(t)) }
