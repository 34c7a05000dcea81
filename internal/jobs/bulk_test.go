package jobs_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/acs"
	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/bulk"
	"github.com/teamsphone/portal/internal/jobs"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/sqlite"
)

var (
	contoso = portal.MustParseGUID("1c361ff7-fb44-4685-bb78-1bad6ce5bef3")
	appA    = portal.MustParseGUID("83ecbc78-e1ba-4e8f-a454-5483ef618061")
	appB    = portal.MustParseGUID("9215f754-3568-4bed-baa4-455c404e6140")
	admin   = access.Who{User: portal.User{TenantID: contoso, ObjectID: portal.MustParseGUID("369f18b8-e505-4795-b1cf-e40cfc95f82e"),
		Name: "Ada Admin", Roles: []portal.Role{portal.RoleAdmin}}, ClientIP: "192.0.2.7"}
)

// bulkEnv is one instance's view: a database, an ACS client and the use
// cases, against one emulator.
type bulkEnv struct {
	db     portal.Store
	emu    *acsemu.Emulator
	client *acs.Client
	svc    *access.Service
	host   string
}

// newBulkEnv retries ACS after 50 ms, not the client's 500 ms: the tests
// throttle on purpose.
func newBulkEnv(t *testing.T) *bulkEnv {
	return newBulkEnvWith(t, acs.Options{RetryDelay: 50 * time.Millisecond})
}

// newBulkEnvWith takes ACS client options (endpoint and key are set here;
// the rest are the client's defaults unless given).
func newBulkEnvWith(t *testing.T, opts acs.Options) *bulkEnv {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return newBulkEnvOn(t, db, opts)
}

// newBulkEnvOn is newBulkEnvWith on the store given.
func newBulkEnvOn(t *testing.T, db portal.Store, opts acs.Options) *bulkEnv {
	t.Helper()
	emu, err := acsemu.New(acsemu.Config{AccessKey: key})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	opts.Endpoint, opts.AccessKey = srv.URL, key
	client, err := acs.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return &bulkEnv{db: db, emu: emu, client: client, svc: access.New(access.Config{ACS: client, Store: db}), host: "127.0.0.1"}
}

func object(i int) portal.GUID {
	return portal.MustParseGUID(fmt.Sprintf("00000000-0000-4000-8000-%012d", i))
}

// adopt puts an assignment in ACS and the inventory, as if granted earlier.
func (e *bulkEnv) adopt(t *testing.T, obj portal.GUID, apps ...portal.GUID) {
	t.Helper()
	var ids []string
	for _, a := range apps {
		ids = append(ids, a.String())
	}
	e.emu.Seed(acsemu.Stored{Host: e.host, TenantID: contoso, ObjectID: obj, PrincipalType: "user", ClientIDs: ids})
	if _, err := e.svc.Adopt(context.Background(), admin, access.AdoptRequest{ObjectID: obj, Label: "before"}); err != nil {
		t.Fatal(err)
	}
}

// plan makes a stored plan from a CSV and a queued job for it.
func (e *bulkEnv) plan(t *testing.T, csv string) (portal.Plan, portal.Job) {
	t.Helper()
	ctx := context.Background()
	p, err := (&bulk.Planner{Access: e.svc, Plans: e.db}).Plan(ctx, admin, nil, "agents.csv", strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	j, err := e.db.CreateJob(ctx, portal.Job{ID: "job-" + p.ID, PlanID: p.ID, TenantID: contoso, CreatedBy: portal.ActorOf(admin.User),
		Roles: admin.User.Roles, ClientIP: admin.ClientIP, Justification: "onboarding wave 3", CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return p, j
}

func (e *bulkEnv) rows(t *testing.T, job string) []portal.JobRow {
	t.Helper()
	rows, _, err := e.db.JobRows(context.Background(), contoso, job, "", 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// inACS returns what the emulator holds for obj.
func (e *bulkEnv) inACS(obj portal.GUID) (portal.Assignment, bool) {
	s, ok := e.emu.Lookup(e.host, contoso, obj)
	if !ok {
		return portal.Assignment{}, false
	}
	a := portal.Assignment{TenantID: contoso, ObjectID: obj, Kind: portal.KindUser}
	for _, c := range s.ClientIDs {
		a.ClientIDs = append(a.ClientIDs, portal.MustParseGUID(c))
	}
	a.ClientIDs = portal.NormalizeClientIDs(a.ClientIDs)
	return a, true
}

// A thousand rows under the faults of the issue: 20 % 429 with Retry-After
// 1 s, 5 % 503, 20 ms latency. Every row ends with the right outcome, the
// audit log has a matching outcome for each, ACS ends as the plan says,
// and a reconcile afterwards finds no drift.
func TestBulkApplyUnderFaults(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("applies 1,000 rows against a throttling emulator (about 15 s)")
	}
	ctx := context.Background()
	// 32 calls in flight, fixed, so that the test spends less time
	// sleeping out Retry-After: what is checked is the outcome of every
	// row, not the speed. (An adaptive bound would take these random 429s
	// for a rate limit and back off to one call for minutes.)
	e := newBulkEnvWith(t, acs.Options{MaxConcurrency: 32, FixedConcurrency: true, RetryDelay: 50 * time.Millisecond})
	const creates, updates, revokes = 800, 150, 50
	var csv strings.Builder
	csv.WriteString("objectId,kind,clientIds,label,action\n")
	for i := range creates {
		fmt.Fprintf(&csv, "%s,user,%s,Agent %d,grant\n", object(i), appA, i)
	}
	for i := creates; i < creates+updates; i++ {
		e.adopt(t, object(i), appA)
		fmt.Fprintf(&csv, "%s,user,%s;%s,Agent %d,grant\n", object(i), appA, appB, i)
	}
	for i := creates + updates; i < creates+updates+revokes; i++ {
		e.adopt(t, object(i), appA)
		fmt.Fprintf(&csv, "%s,,,,revoke\n", object(i))
	}
	plan, job := e.plan(t, csv.String())
	if job.Total != 1000 {
		t.Fatalf("job has %d rows, want 1000 (plan totals %v)", job.Total, plan.Totals)
	}
	// Moved after planning: an update whose row someone edited, an update
	// whose assignment was removed behind the portal's back (the edit
	// notices), and a revoke of something already gone from ACS (a
	// success: it is gone).
	edited, removed, gone := object(creates), object(creates+1), object(creates+updates)
	if _, err := e.svc.Edit(ctx, admin, access.EditRequest{ObjectID: edited, ClientIDs: []portal.GUID{appB}, Label: "edited meanwhile", Version: 1}); err != nil {
		t.Fatal(err)
	}
	e.emu.Remove(e.host, contoso, removed)
	e.emu.Remove(e.host, contoso, gone)

	rates, _ := acsemu.ParseRates("429=0.2,retry-after=1,503=0.05,latency=20ms")
	e.emu.SetRates(rates)
	runner := &jobs.BulkRunner{Service: e.svc, Jobs: e.db, Workers: 48, RetryDelay: 100 * time.Millisecond}
	start := time.Now()
	if !runner.RunOnce(ctx) {
		t.Fatal("the runner took no job")
	}
	t.Logf("1,000 rows under faults in %v", time.Since(start).Round(time.Millisecond))
	e.emu.SetRates(acsemu.Rates{})

	final, err := e.db.GetJob(ctx, contoso, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if final.State != portal.JobDone || final.Done() != 1000 {
		t.Fatalf("job = %s with %d of 1000 done: %v", final.State, final.Done(), final.Outcomes)
	}
	// The audit log's outcome rows of this job, by line.
	audited := map[int]portal.AuditEvent{}
	via := "bulk job " + job.ID[:8] + ", line "
	if err := e.db.WalkAudit(ctx, contoso, func(ev portal.AuditEvent) error {
		if ev.Phase == portal.PhaseOutcome || ev.Phase == portal.PhaseEvent && ev.Action != portal.ActionBulk {
			if _, after, ok := strings.Cut(ev.Detail, via); ok {
				var line int
				fmt.Sscanf(after, "%d", &line)
				audited[line] = ev // the last one wins: a retried row's final attempt
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, r := range e.rows(t, job.ID) {
		want := portal.OutcomeSuccess
		if r.ObjectID == edited || r.ObjectID == removed {
			want = portal.OutcomeConflict
		}
		if r.Outcome != want {
			t.Errorf("line %d (%s %s): outcome %s (%s), want %s", r.Line, r.Class, r.ObjectID, r.Outcome, r.Detail, want)
			continue
		}
		ev, ok := audited[r.Line]
		if !ok || ev.Outcome != r.Outcome || ev.ObjectID != r.ObjectID || ev.Justification != "onboarding wave 3" || ev.ClientIP != admin.ClientIP || ev.Actor.Name != "Ada Admin" {
			t.Errorf("line %d: audit outcome %+v, want %s by Ada Admin with the job's justification", r.Line, ev, r.Outcome)
		}
		cur, inACS := e.inACS(r.ObjectID)
		item, err := e.db.GetItem(ctx, contoso, r.ObjectID)
		switch {
		case r.ObjectID == edited:
			if !inACS || !slices.Equal(cur.ClientIDs, []portal.GUID{appB}) {
				t.Errorf("line %d: the edit made meanwhile was overwritten: ACS holds %v", r.Line, cur.ClientIDs)
			}
		case r.ObjectID == removed:
			if inACS {
				t.Errorf("line %d: an update of an assignment removed behind the portal's back re-created it", r.Line)
			}
		case r.Class == portal.PlanRevoke:
			if inACS || err == nil {
				t.Errorf("line %d: revoked, yet ACS holds it (%v) or the inventory does (%v)", r.Line, inACS, err)
			}
		default:
			want := portal.NormalizeClientIDs(r.ClientIDs)
			if !inACS || !slices.Equal(cur.ClientIDs, want) || err != nil || !slices.Equal(item.ClientIDs, want) || item.Label != r.Label {
				t.Errorf("line %d: ACS holds %v (%v), inventory %v %q (%v); want %v %q", r.Line, cur.ClientIDs, inACS, item.ClientIDs, item.Label, err, want, r.Label)
			}
		}
	}
	rep, err := e.svc.Reconcile(ctx, access.Who{User: portal.User{Roles: []portal.Role{portal.RoleAdmin}}, System: "test"}, contoso)
	if err != nil {
		t.Fatal(err)
	}
	// The one assignment removed behind the portal's back is the only
	// difference, and the job had reported it as a conflict.
	if rep.Drifted != 0 || rep.Missing != 1 || rep.Failed != 0 {
		t.Errorf("reconcile after the job: %s; want only the removed row missing", rep)
	}
}

// TestBulkApplyTiming applies 1,000 grants with 25 ms of emulator latency
// and reports the time against the ideal, the client's ceiling of calls in
// flight all busy (1,000 × 25 ms ÷ 64; the bound starts at 8 and doubles
// each round trip, so it spends about three getting there):
//
//	PORTAL_LOAD=1 go test -run TestBulkApplyTiming -v ./internal/jobs
func TestBulkApplyTiming(t *testing.T) {
	if os.Getenv("PORTAL_LOAD") == "" {
		t.Skip("timing: set PORTAL_LOAD=1 to run it")
	}
	ctx := context.Background()
	e := newBulkEnv(t)
	const rows = 1000
	var csv strings.Builder
	csv.WriteString("objectId,kind,clientIds,label\n")
	for i := range rows {
		fmt.Fprintf(&csv, "%s,user,%s,Agent %d\n", object(i), appA, i)
	}
	_, job := e.plan(t, csv.String())
	e.emu.SetRates(acsemu.Rates{Latency: 25 * time.Millisecond})
	start := time.Now()
	(&jobs.BulkRunner{Service: e.svc, Jobs: e.db}).RunOnce(ctx)
	took := time.Since(start)
	ideal := rows * 25 * time.Millisecond / acs.DefaultMaxConcurrency
	t.Logf("%d grants in %v; ideal %v → %.2f × ideal", rows, took.Round(time.Millisecond), ideal, took.Seconds()/ideal.Seconds())
	if j, _ := e.db.GetJob(ctx, contoso, job.ID); j.Outcomes[portal.OutcomeSuccess] != rows {
		t.Errorf("outcomes %v", j.Outcomes)
	}
}
