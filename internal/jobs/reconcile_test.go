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
	"github.com/teamsphone/portal/internal/pgtest"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/postgres"
	"github.com/teamsphone/portal/internal/sqlite"
	"github.com/teamsphone/portal/internal/testwait"
)

var key = []byte("jobs-test-key")

// instanceStores opens one database twice, as two instances would: SQLite
// in a file, and PostgreSQL in a schema of its own.
var instanceStores = map[string]func(t *testing.T) func() (portal.Store, error){
	"sqlite": func(t *testing.T) func() (portal.Store, error) {
		path := filepath.Join(t.TempDir(), "portal.db")
		return func() (portal.Store, error) {
			db, err := sqlite.Open(context.Background(), path)
			return closing(t, db, err)
		}
	},
	"postgres": func(t *testing.T) func() (portal.Store, error) {
		url := pgtest.FreshSchema(t)
		if err := postgres.Migrate(context.Background(), url); err != nil {
			t.Fatal(err)
		}
		return func() (portal.Store, error) {
			db, err := postgres.Open(context.Background(), url, nil)
			return closing(t, db, err)
		}
	},
}

// unlockAfter is one of two instances' lease-holding Locker: its Unlock
// waits until the other instance's run has returned (or ctx ends). Whichever
// takes the lease keeps it until the other has tried, however the two are
// scheduled, instead of the test hoping that their runs overlap.
type unlockAfter struct {
	portal.Locker
	other <-chan struct{}
}

func (u unlockAfter) Unlock(ctx context.Context, name, holder string) error {
	select {
	case <-u.other:
	case <-ctx.Done():
	}
	return u.Locker.Unlock(ctx, name, holder)
}

// closing closes a store when t ends.
func closing[S interface {
	portal.Store
	Close() error
}](t *testing.T, db S, err error) (portal.Store, error) {
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { db.Close() })
	return db, nil
}

// Two instances on one database: only one reconciles at a time, and the
// other simply does not run. The expiry job takes its lease the same way.
func TestReconcileRunsOnOneInstanceAtATime(t *testing.T) {
	for name, open := range instanceStores {
		t.Run(name, func(t *testing.T) { testReconcileOnOneInstance(t, open(t)) })
	}
}

func testReconcileOnOneInstance(t *testing.T, open func() (portal.Store, error)) {
	ctx := context.Background()
	emu, err := acsemu.New(acsemu.Config{AccessKey: key})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()
	tenant := portal.MustParseGUID("1c361ff7-fb44-4685-bb78-1bad6ce5bef3")
	var runners []*jobs.Reconciler
	returned := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
	for i := range 2 {
		db, err := open()
		if err != nil {
			t.Fatal(err)
		}
		client, _ := acs.New(acs.Options{Endpoint: srv.URL, AccessKey: key})
		svc := access.New(access.Config{ACS: client, Store: db})
		if i == 0 {
			// Something to check (the runs overlap by unlockAfter).
			for j := range 20 {
				obj := portal.MustParseGUID(fmt.Sprintf("00000000-0000-4000-8000-%012d", j+1))
				emu.Seed(acsemu.Stored{Host: "127.0.0.1", TenantID: tenant, ObjectID: obj, PrincipalType: "user", ClientIDs: []string{"83ecbc78-e1ba-4e8f-a454-5483ef618061"}})
				who := access.Who{User: portal.User{TenantID: tenant, Roles: []portal.Role{portal.RoleAdmin}}, System: "test"}
				if _, err := svc.Adopt(ctx, who, access.AdoptRequest{ObjectID: obj}); err != nil {
					t.Fatal(err)
				}
			}
		}
		runners = append(runners, &jobs.Reconciler{Service: svc, Locks: unlockAfter{db, returned[1-i]}, LeaseTTL: 30 * time.Second})
	}
	rates, _ := acsemu.ParseRates("latency=30ms")
	emu.SetRates(rates)

	var wg sync.WaitGroup
	ran := make([]bool, 2)
	reports := make([]access.ReconcileReport, 2)
	for i, r := range runners {
		wg.Go(func() {
			defer close(returned[i])
			reports[i], ran[i] = r.RunOnce(ctx, portal.GUID{})
		})
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

// A run asked for while another instance holds the lease is not dropped:
// it runs once the lease is free.
func TestTriggerWaitsForTheLease(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	emu, _ := acsemu.New(acsemu.Config{AccessKey: key})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	client, _ := acs.New(acs.Options{Endpoint: srv.URL, AccessKey: key})
	svc := access.New(access.Config{ACS: client, Store: db})
	tenant := portal.MustParseGUID("1c361ff7-fb44-4685-bb78-1bad6ce5bef3")
	obj := portal.MustParseGUID("e5b7f628-ea94-4fdc-b3d9-1af1fe231111")
	emu.Seed(acsemu.Stored{Host: "127.0.0.1", TenantID: tenant, ObjectID: obj, PrincipalType: "user", ClientIDs: []string{"83ecbc78-e1ba-4e8f-a454-5483ef618061"}})
	if _, err := svc.Adopt(ctx, access.Who{User: portal.User{TenantID: tenant, Roles: []portal.Role{portal.RoleAdmin}}, System: "test"}, access.AdoptRequest{ObjectID: obj}); err != nil {
		t.Fatal(err)
	}
	// Another instance holds the lease.
	if ok, _ := db.TryLock(ctx, "job:reconcile", "other-instance", time.Now().Add(time.Minute)); !ok {
		t.Fatal("could not take the lease")
	}
	r := &jobs.Reconciler{Service: svc, Locks: db, RetryEvery: 20 * time.Millisecond}
	go r.Run(ctx)
	for range 2 { // pressed twice: one request
		if !r.Trigger(tenant) {
			t.Fatal("trigger refused")
		}
	}
	time.Sleep(100 * time.Millisecond)
	summaries := func() int {
		page, _ := db.ListAudit(ctx, portal.AuditFilter{TenantID: tenant, Action: portal.ActionReconcile})
		return page.Matched
	}
	if summaries() != 0 {
		t.Fatal("ran beside the other instance")
	}
	db.Unlock(ctx, "job:reconcile", "other-instance")
	testwait.For(t, "a run once the lease was freed", func() bool { return summaries() > 0 })
	time.Sleep(100 * time.Millisecond) // and no second one
	if n := summaries(); n != 1 {
		t.Fatalf("%d runs after the lease was freed; want exactly 1 (the two triggers are one request)", n)
	}
}

// Two instances' expiry jobs at once on one database: exactly one revokes,
// each ended assignment once.
func TestExpiryRunsOnOneInstanceAtATime(t *testing.T) {
	for name, open := range instanceStores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			open := open(t)
			emu, _ := acsemu.New(acsemu.Config{AccessKey: key})
			srv := httptest.NewServer(emu)
			defer srv.Close()
			tenant := portal.MustParseGUID("1c361ff7-fb44-4685-bb78-1bad6ce5bef3")
			now := time.Now()
			var expirers []*jobs.Expirer
			returned := [2]chan struct{}{make(chan struct{}), make(chan struct{})}
			for i := range 2 {
				db, err := open()
				if err != nil {
					t.Fatal(err)
				}
				client, _ := acs.New(acs.Options{Endpoint: srv.URL, AccessKey: key})
				clock := now
				svc := access.New(access.Config{ACS: client, Store: db, Now: func() time.Time { return clock }})
				if i == 0 {
					admin := access.Who{User: portal.User{TenantID: tenant, Roles: []portal.Role{portal.RoleAdmin}}, System: "test"}
					for j := range 10 {
						obj := portal.MustParseGUID(fmt.Sprintf("00000000-0000-4000-8000-%012d", j+1))
						if _, err := svc.Grant(ctx, admin, access.GrantRequest{ObjectID: obj, Kind: portal.KindUser,
							ClientIDs: []portal.GUID{portal.MustParseGUID("83ecbc78-e1ba-4e8f-a454-5483ef618061")}, ExpiresAt: now.Add(time.Hour)}); err != nil {
							t.Fatal(err)
						}
					}
				}
				// Both instances' clocks are past the end.
				later := now.Add(2 * time.Hour)
				svc = access.New(access.Config{ACS: client, Store: db, Now: func() time.Time { return later }})
				expirers = append(expirers, &jobs.Expirer{Service: svc, Locks: unlockAfter{db, returned[1-i]}, Now: func() time.Time { return later }})
			}
			rates, _ := acsemu.ParseRates("latency=20ms")
			emu.SetRates(rates)
			var wg sync.WaitGroup
			ran := make([]bool, 2)
			reports := make([]access.ExpiryReport, 2)
			for i, x := range expirers {
				wg.Go(func() {
					defer close(returned[i])
					reports[i], ran[i] = x.RunOnce(ctx)
				})
			}
			wg.Wait()
			if ran[0] == ran[1] {
				t.Fatalf("ran: %v (exactly one must run)", ran)
			}
			if got := reports[0].Revoked + reports[1].Revoked; got != 10 {
				t.Errorf("%d revoked, want 10", got)
			}
			if n := len(emu.All()); n != 0 {
				t.Errorf("ACS still holds %d", n)
			}
		})
	}
}
