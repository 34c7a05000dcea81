package access_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/testwait"
)

// fakeDirectory answers as Graph would, or fails with err. While block is
// open, Resolve waits for it to close.
type fakeDirectory struct {
	mu       sync.Mutex
	users    map[portal.GUID]portal.DirectoryEntry
	accounts []portal.DirectoryEntry
	err      error
	calls    int
	block    chan struct{}
}

// testToken is a person's Graph token as the fake directory takes it.
func testToken(context.Context) (string, error) { return "token", nil }

// callCount is calls, for tests that read it while lookups run in the
// background.
func (d *fakeDirectory) callCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls
}

func (d *fakeDirectory) SearchUsers(context.Context, string, string, int) ([]portal.DirectoryEntry, error) {
	return nil, nil
}

func (d *fakeDirectory) Resolve(_ context.Context, _ string, ids []portal.GUID) (map[portal.GUID]portal.DirectoryEntry, error) {
	if d.block != nil {
		<-d.block
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if d.err != nil {
		return nil, d.err
	}
	out := map[portal.GUID]portal.DirectoryEntry{}
	for _, id := range ids {
		if e, ok := d.users[id]; ok {
			out[id] = e
		}
	}
	return out, nil
}

func (d *fakeDirectory) ResourceAccounts(context.Context, string, string) ([]portal.DirectoryEntry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	return d.accounts, d.err
}

func (d *fakeDirectory) AppName(context.Context, string, portal.GUID) (string, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	return "", false, d.err
}

// throttled is Graph's 429 with a Retry-After.
type throttled struct{}

func (throttled) Error() string                 { return "graph: 429" }
func (throttled) RetryAfterHint() time.Duration { return time.Minute }

func namesEnv(t *testing.T) (*env, *fakeDirectory, *time.Time) {
	e := newEnv(t)
	dir := &fakeDirectory{users: map[portal.GUID]portal.DirectoryEntry{
		alice: {ObjectID: alice, Kind: portal.KindUser, DisplayName: "Alice Smith", UPN: "alice@contoso.test"},
		room:  {ObjectID: room, Kind: portal.KindUser, DisplayName: "Main line", UPN: "main@contoso.test"},
	}, accounts: []portal.DirectoryEntry{{ObjectID: room, Kind: portal.KindResourceAccount, DisplayName: "Main line", UPN: "main@contoso.test", Phone: "+14255550100"}}}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	e.svc = access.New(access.Config{ACS: nil, Store: e.store, Directory: dir, Now: func() time.Time { return now }})
	return e, dir, &now
}

// A Graph failure caches nothing: nobody is flagged deleted because Graph
// was down, and what was known stays.
func TestRefreshNamesKeepsWhatWasKnownWhenGraphFails(t *testing.T) {
	e, dir, _ := namesEnv(t)
	ctx := context.Background()
	if err := e.svc.RefreshNames(ctx, auditor, testToken, access.NameRequest{Objects: []portal.GUID{alice}}); err != nil {
		t.Fatal(err)
	}
	dir.err = portal.Errorf(portal.EUNAVAILABLE, "Graph is down.")
	ghost := portal.MustParseGUID("11111111-2222-4333-8444-555555555555")
	if err := e.svc.RefreshNames(ctx, auditor, testToken, access.NameRequest{Objects: []portal.GUID{alice, ghost}}); portal.ErrorCode(err) != portal.EUNAVAILABLE {
		t.Fatalf("RefreshNames with Graph down = %v", err)
	}
	got, err := e.svc.CachedNames(ctx, auditor, portal.SpaceObject, []portal.GUID{alice, ghost})
	if err != nil || !got[alice].Found || got[alice].DisplayName != "Alice Smith" {
		t.Errorf("Alice after a failed refresh: %+v, %v", got[alice], err)
	}
	if _, ok := got[ghost]; ok {
		t.Error("an object Graph could not be asked about was cached (as deleted)")
	}
	// Graph answering without it is what flags it.
	dir.err = nil
	e.svc.RefreshNames(ctx, auditor, testToken, access.NameRequest{Objects: []portal.GUID{ghost}})
	if got, _ := e.svc.CachedNames(ctx, auditor, portal.SpaceObject, []portal.GUID{ghost}); !got[ghost].Known() || got[ghost].Found {
		t.Errorf("an object Graph does not have: %+v", got[ghost])
	}
}

// Only an admin's refresh lists resource accounts (a Teams admin's token
// is needed); the number it learns survives later refreshes by others.
func TestRefreshNamesPhones(t *testing.T) {
	e, _, now := namesEnv(t)
	ctx := context.Background()
	req := access.NameRequest{Objects: []portal.GUID{room}, ResourceAccounts: []portal.GUID{room}}
	e.svc.RefreshNames(ctx, auditor, testToken, req)
	if got, _ := e.svc.CachedNames(ctx, auditor, portal.SpaceObject, []portal.GUID{room}); got[room].Phone != "" || got[room].DisplayName != "Main line" {
		t.Errorf("an auditor's refresh: %+v", got[room])
	}
	e.svc.RefreshNames(ctx, admin, testToken, req)
	*now = now.Add(25 * time.Hour)
	e.svc.RefreshNames(ctx, auditor, testToken, req)
	if got, _ := e.svc.CachedNames(ctx, auditor, portal.SpaceObject, []portal.GUID{room}); got[room].Phone != "+14255550100" || got[room].Kind != portal.KindResourceAccount {
		t.Errorf("after an admin's refresh and an auditor's: %+v", got[room])
	}
}

// Throttled: Graph is not asked again for the tenant until its
// Retry-After has passed; another tenant is not held up.
func TestRefreshNamesHoldsOffWhenThrottled(t *testing.T) {
	e, dir, now := namesEnv(t)
	ctx := context.Background()
	dir.err = portal.Wrap(throttled{}, portal.ETHROTTLED, "Slow down.")
	req := access.NameRequest{Objects: []portal.GUID{alice}}
	e.svc.RefreshNames(ctx, auditor, testToken, req)
	dir.err = nil
	calls := dir.calls
	if err := e.svc.RefreshNames(ctx, auditor, testToken, req); portal.ErrorCode(err) != portal.ETHROTTLED || dir.calls != calls {
		t.Errorf("within Retry-After: %v, %d calls", err, dir.calls-calls)
	}
	if err := e.svc.RefreshNames(ctx, person(fabrikam, portal.RoleAuditor), testToken, req); err != nil || dir.calls == calls {
		t.Errorf("another tenant was held up: %v", err)
	}
	*now = now.Add(61 * time.Second)
	if err := e.svc.RefreshNames(ctx, auditor, testToken, req); err != nil {
		t.Errorf("after Retry-After: %v", err)
	}
}

// Names are per tenant: Fabrikam's refresh of an ID never names it for
// Contoso, and a person without a role reads none.
func TestNamesPerTenant(t *testing.T) {
	e, _, _ := namesEnv(t)
	ctx := context.Background()
	fab := person(fabrikam, portal.RoleAuditor)
	if err := e.svc.RefreshNames(ctx, fab, testToken, access.NameRequest{Objects: []portal.GUID{alice}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.svc.CachedNames(ctx, auditor, portal.SpaceObject, []portal.GUID{alice}); len(got) != 0 {
		t.Errorf("Contoso reads Fabrikam's names: %+v", got)
	}
	if _, err := e.svc.CachedNames(ctx, person(contoso), portal.SpaceObject, []portal.GUID{alice}); portal.ErrorCode(err) != portal.EFORBIDDEN {
		t.Errorf("no role: %v", err)
	}
}

// The list searches names, and follows a names change made by another
// instance (another Service on the same database) within a second, with a
// new stamp so renderings are not reused.
func TestListSearchesNamesAcrossInstances(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.grant(admin, alice, portal.KindUser, appA)
	now := time.Now()
	svc := access.New(access.Config{Store: e.store, Now: func() time.Time { return now }})
	search := func(q string) int {
		page, err := svc.List(ctx, auditor, portal.InventoryFilter{Query: q})
		if err != nil {
			t.Fatal(err)
		}
		return page.Matched
	}
	if n := search("alice smith"); n != 0 {
		t.Fatalf("matched %d before any name", n)
	}
	before, _ := svc.ListStamp(ctx, auditor)
	other := access.New(access.Config{Store: e.store, Directory: &fakeDirectory{users: map[portal.GUID]portal.DirectoryEntry{
		alice: {ObjectID: alice, DisplayName: "Alice Smith", UPN: "alice@contoso.test"}}}})
	if err := other.RefreshNames(ctx, auditor, testToken, access.NameRequest{Objects: []portal.GUID{alice}}); err != nil {
		t.Fatal(err)
	}
	if n := search("alice smith"); n != 0 {
		t.Errorf("matched %d by name at once: names are taken up at most every second", n)
	}
	now = now.Add(time.Second)
	if n := search("alice smith"); n != 1 {
		t.Errorf("matched %d by name after another instance named her", n)
	}
	if n := search("alice@contoso"); n != 1 {
		t.Errorf("matched %d by user name", n)
	}
	if after, _ := svc.ListStamp(ctx, auditor); after == before {
		t.Error("the stamp did not move with the names")
	}
}

// A page's names: never-had names are looked up while the page waits;
// Graph or the token failing leaves IDs and says why; stale names are shown
// at once and renewed in the background; an admin's page asks again for a
// resource account named without its number.
func TestNamesForAPage(t *testing.T) {
	e, dir, now := namesEnv(t)
	ctx := context.Background()
	ghost := portal.MustParseGUID("11111111-2222-4333-8444-555555555555")

	pn := e.svc.NamesFor(ctx, auditor, testToken, access.NameRequest{Objects: []portal.GUID{alice}})
	if pn.Objects[alice].DisplayName != "Alice Smith" || pn.Note != "" {
		t.Errorf("a name never had: %+v, note %q", pn.Objects[alice], pn.Note)
	}

	dir.err = portal.Errorf(portal.EUNAVAILABLE, "Graph is down.")
	pn = e.svc.NamesFor(ctx, auditor, testToken, access.NameRequest{Objects: []portal.GUID{alice, ghost}})
	if _, ok := pn.Objects[ghost]; ok || pn.Objects[alice].DisplayName != "Alice Smith" || !strings.Contains(pn.Note, "Some names are not shown: Graph is down.") {
		t.Errorf("Graph down: %+v, note %q", pn.Objects, pn.Note)
	}
	dir.err = nil
	noToken := func(context.Context) (string, error) {
		return "", portal.Errorf(portal.EUNAUTHORIZED, "Sign in again to see names.")
	}
	if pn = e.svc.NamesFor(ctx, auditor, noToken, access.NameRequest{Objects: []portal.GUID{ghost}}); !strings.Contains(pn.Note, "Sign in again to see names.") {
		t.Errorf("no token: note %q", pn.Note)
	}

	// Admin: Main line was named by an auditor, without its number.
	account := access.NameRequest{Objects: []portal.GUID{room}, ResourceAccounts: []portal.GUID{room}}
	if pn = e.svc.NamesFor(ctx, auditor, testToken, account); pn.Objects[room].Phone != "" || pn.Objects[room].DisplayName != "Main line" {
		t.Errorf("an auditor's page: %+v", pn.Objects[room])
	}
	if pn = e.svc.NamesFor(ctx, admin, testToken, account); pn.Objects[room].Phone != "+14255550100" {
		t.Errorf("an admin's page: %+v", pn.Objects[room])
	}

	// A day later: shown as cached at once, renewed in the background.
	*now = now.Add(25 * time.Hour)
	calls := dir.callCount()
	if pn = e.svc.NamesFor(ctx, auditor, testToken, access.NameRequest{Objects: []portal.GUID{alice}}); pn.Objects[alice].DisplayName != "Alice Smith" || pn.Note != "" {
		t.Errorf("a stale name: %+v, note %q", pn.Objects[alice], pn.Note)
	}
	testwait.For(t, "the stale name's renewal", func() bool { return dir.callCount() > calls })
}

// A lookup that outlasts the page's wait goes on in the background, and
// the page says the names are still being looked up.
func TestNamesForAPageDoesNotWaitLong(t *testing.T) {
	e, dir, _ := namesEnv(t)
	dir.block = make(chan struct{})
	pn := e.svc.NamesFor(context.Background(), auditor, testToken, access.NameRequest{Objects: []portal.GUID{alice}})
	if len(pn.Objects) != 0 || !strings.Contains(pn.Note, "still being looked up") {
		t.Errorf("while Graph is slow: %+v, note %q", pn.Objects, pn.Note)
	}
	close(dir.block)
	testwait.For(t, "the lookup to finish in the background", func() bool {
		got, _ := e.svc.CachedNames(context.Background(), auditor, portal.SpaceObject, []portal.GUID{alice})
		return got[alice].DisplayName == "Alice Smith"
	})
}

// namesRevisionCounter counts how often the list asks for the names
// revision.
type namesRevisionCounter struct {
	portal.Store
	calls atomic.Int32
}

func (c *namesRevisionCounter) NamesRevision(ctx context.Context, tenant portal.GUID) (int64, error) {
	c.calls.Add(1)
	return c.Store.NamesRevision(ctx, tenant)
}

// The list reads the names revision at most once a second, also when
// names have not moved (it used to read it on every request once its
// names were a second old).
func TestListAsksForNamesAtMostEverySecond(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.grant(admin, alice, portal.KindUser, appA)
	counter := &namesRevisionCounter{Store: e.store}
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	svc := access.New(access.Config{Store: counter, Now: func() time.Time { return now }})
	list := func(n int) {
		for range n {
			if _, err := svc.List(ctx, auditor, portal.InventoryFilter{Query: "x"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	list(1)
	now = now.Add(2 * time.Second)
	before := counter.calls.Load()
	list(100)
	if n := counter.calls.Load() - before; n != 1 {
		t.Errorf("100 lists within a second read the names revision %d times, want 1", n)
	}
	now = now.Add(time.Second)
	list(10)
	if n := counter.calls.Load() - before; n != 2 {
		t.Errorf("a second later: %d reads in all, want 2", n)
	}
}

// A list page's names come from the list's copy; a name the copy lacks
// (it lags the cache by up to a second) is read from the cache, not asked
// of Graph again.
func TestNamesForAListPage(t *testing.T) {
	e, dir, _ := namesEnv(t)
	ctx := context.Background()
	if err := e.svc.RefreshNames(ctx, auditor, testToken, access.NameRequest{Objects: []portal.GUID{alice}}); err != nil {
		t.Fatal(err)
	}
	calls := dir.callCount()
	empty := &access.PageNames{Objects: map[portal.GUID]portal.DirectoryName{}, Apps: map[portal.GUID]portal.DirectoryName{}}
	pn := e.svc.NamesFor(ctx, auditor, testToken, access.NameRequest{Objects: []portal.GUID{alice}, Cached: empty})
	if pn.Objects[alice].DisplayName != "Alice Smith" || pn.Note != "" {
		t.Fatalf("names %+v, note %q", pn.Objects, pn.Note)
	}
	if dir.callCount() != calls {
		t.Errorf("Graph asked again for a name the cache held")
	}
	// What the list's copy holds is taken as it is.
	held := portal.DirectoryName{TenantID: contoso, Space: portal.SpaceObject, ID: alice, Found: true, DisplayName: "Alice (as listed)", FetchedAt: time.Date(2026, 11, 27, 11, 0, 0, 0, time.UTC)}
	pn = e.svc.NamesFor(ctx, auditor, testToken, access.NameRequest{Objects: []portal.GUID{alice},
		Cached: &access.PageNames{Objects: map[portal.GUID]portal.DirectoryName{alice: held}}})
	if pn.Objects[alice] != held {
		t.Errorf("names %+v, want the list's", pn.Objects)
	}
}
