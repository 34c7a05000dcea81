package jobs_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/jobs"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/sqlite"
)

// countingACS is an ACS that creates everything, after a short wait so
// that rows overlap, and counts how each call was marked and how many ran
// at once. It tells the runner it allows `allowed` calls.
type countingACS struct {
	allowed int

	mu                     sync.Mutex
	inFlight, peak         int
	background, foreground int
}

var _ portal.ACS = (*countingACS)(nil)

func (f *countingACS) CallsAllowed() int { return f.allowed }

func (f *countingACS) GetAssignment(context.Context, portal.GUID, portal.GUID) (portal.Assignment, portal.ACSCall, error) {
	return portal.Assignment{}, portal.ACSCall{}, portal.Errorf(portal.ENOTFOUND, "none")
}

func (f *countingACS) PutAssignment(ctx context.Context, a portal.Assignment) (bool, portal.ACSCall, error) {
	f.mu.Lock()
	f.inFlight++
	f.peak = max(f.peak, f.inFlight)
	if portal.IsBackground(ctx) {
		f.background++
	} else {
		f.foreground++
	}
	f.mu.Unlock()
	time.Sleep(2 * time.Millisecond) // a call's latency, so rows overlap
	f.mu.Lock()
	f.inFlight--
	f.mu.Unlock()
	return true, portal.ACSCall{Status: 201}, nil
}

func (f *countingACS) DeleteAssignment(context.Context, portal.GUID, portal.GUID) (bool, portal.ACSCall, error) {
	return false, portal.ACSCall{Status: 204}, nil
}

// A bulk job's calls are marked as background work (the ACS client serves
// people first), a person's are not, and the job holds no more rows in
// flight than twice the calls the client allows.
func TestBulkRowsFollowTheClientsLimit(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	fake := &countingACS{allowed: 2}
	e := &bulkEnv{db: db, svc: access.New(access.Config{ACS: fake, Store: db})}
	_, job := e.plan(t, grants(60))
	if !(&jobs.BulkRunner{Service: e.svc, Jobs: db}).RunOnce(ctx) {
		t.Fatal("the runner took no job")
	}
	if j, _ := db.GetJob(ctx, contoso, job.ID); j.State != portal.JobDone || j.Outcomes[portal.OutcomeSuccess] != 60 {
		t.Fatalf("job %s: %v", j.State, j.Outcomes)
	}
	if _, err := e.svc.Grant(ctx, admin, access.GrantRequest{ObjectID: object(1000), Kind: portal.KindUser,
		ClientIDs: []portal.GUID{appA}, Label: "a person's grant", Justification: "ticket 42"}); err != nil {
		t.Fatal(err)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if fake.background != 60 || fake.foreground != 1 {
		t.Errorf("%d calls marked background, %d not; want the job's 60 and the person's 1", fake.background, fake.foreground)
	}
	if fake.peak > 4 {
		t.Errorf("%d calls at once with 2 allowed: want at most 4 rows in flight", fake.peak)
	}
}
