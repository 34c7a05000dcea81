package jobs_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/acs"
	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/jobs"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/sqlite"
)

var key = []byte("jobs-test-key")

// Two instances on one database: only one reconciles at a time, and the
// other simply does not run.
func TestReconcileRunsOnOneInstanceAtATime(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "portal.db")
	emu, err := acsemu.New(acsemu.Config{AccessKey: key})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()
	tenant := portal.MustParseGUID("1c361ff7-fb44-4685-bb78-1bad6ce5bef3")
	var runners []*jobs.Reconciler
	for i := range 2 {
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		client, _ := acs.New(acs.Options{Endpoint: srv.URL, AccessKey: key})
		svc := access.New(access.Config{ACS: client, Store: db})
		if i == 0 {
			// Something to check, slowly, so the runs overlap.
			for j := range 20 {
				obj := portal.MustParseGUID(fmt.Sprintf("00000000-0000-4000-8000-%012d", j+1))
				emu.Seed(acsemu.Stored{Host: "127.0.0.1", TenantID: tenant, ObjectID: obj, PrincipalType: "user", ClientIDs: []string{"83ecbc78-e1ba-4e8f-a454-5483ef618061"}})
				who := access.Who{User: portal.User{TenantID: tenant, Roles: []portal.Role{portal.RoleAdmin}}, System: "test"}
				if _, err := svc.Adopt(ctx, who, access.AdoptRequest{ObjectID: obj}); err != nil {
					t.Fatal(err)
				}
			}
		}
		runners = append(runners, &jobs.Reconciler{Service: svc, Locks: db, LeaseTTL: 3 * time.Second})
	}
	rates, _ := acsemu.ParseRates("latency=30ms")
	emu.SetRates(rates)

	var wg sync.WaitGroup
	ran := make([]bool, 2)
	reports := make([]access.ReconcileReport, 2)
	for i, r := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reports[i], ran[i] = r.RunOnce(ctx, portal.GUID{})
		}()
	}
	wg.Wait()
	if ran[0] == ran[1] {
		t.Fatalf("ran: %v (exactly one must run)", ran)
	}
	for i := range 2 {
		if ran[i] && reports[i].Checked != 20 {
			t.Errorf("the run checked %d", reports[i].Checked)
		}
	}
	// Once it is done, the lease is free again.
	if _, ok := runners[1].RunOnce(ctx, tenant); !ok {
		t.Error("the lease was not released")
	}
}
