package access_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/acs"
	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/sqlite"
	"github.com/teamsphone/portal/internal/testclock"
)

var (
	contoso  = portal.MustParseGUID("1c361ff7-fb44-4685-bb78-1bad6ce5bef3")
	fabrikam = portal.MustParseGUID("97cd3c2e-7c4c-44e0-8c3e-22865289e758")
	appA     = portal.MustParseGUID("83ecbc78-e1ba-4e8f-a454-5483ef618061")
	appB     = portal.MustParseGUID("9215f754-3568-4bed-baa4-455c404e6140")
	alice    = portal.MustParseGUID("e5b7f628-ea94-4fdc-b3d9-1af1fe231111")
	room     = portal.MustParseGUID("2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c03")
	key      = []byte("access-test-key")
)

func person(tenant portal.GUID, roles ...portal.Role) access.Who {
	return access.Who{User: portal.User{TenantID: tenant, ObjectID: portal.MustParseGUID("369f18b8-e505-4795-b1cf-e40cfc95f82e"), Name: "Adele Admin", Roles: roles}, ClientIP: "192.0.2.10"}
}

var (
	admin    = person(contoso, portal.RoleAdmin)
	helpdesk = person(contoso, portal.RoleHelpdesk)
	auditor  = person(contoso, portal.RoleAuditor)
)

// env is the use cases on real SQLite against the ACS emulator.
type env struct {
	t     *testing.T
	url   string
	svc   *access.Service
	db    *sqlite.DB
	store portal.Store
	emu   *acsemu.Emulator
	host  string
	// cfg is what svc was made with: a test changes it and calls
	// access.New(cfg) again.
	cfg access.Config
	// clock, when set, is svc's (newChainEnv).
	clock *testclock.Clock
}

func newEnv(t *testing.T, wrap ...func(portal.Store) portal.Store) *env {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	emu, err := acsemu.New(acsemu.Config{AccessKey: key})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	t.Cleanup(emu.Close)
	client, err := acs.New(acs.Options{Endpoint: srv.URL, AccessKey: key, RetryDelay: time.Millisecond, TryTimeout: time.Second, MaxRetries: 2})
	if err != nil {
		t.Fatal(err)
	}
	var store portal.Store = db
	for _, w := range wrap {
		store = w(store)
	}
	e := &env{t: t, db: db, store: store, emu: emu, host: "127.0.0.1", url: srv.URL}
	e.cfg = access.Config{ACS: client, Store: store, LockWait: 2 * time.Second}
	e.svc = access.New(e.cfg)
	return e
}

// hostPort is the emulator's address.
func (e *env) hostPort(t *testing.T) string { return e.url[len("http://"):] }

func (e *env) acsHolds(object portal.GUID) (acsemu.Stored, bool) {
	return e.emu.Lookup(e.host, contoso, object)
}

// writes counts the PUTs and DELETEs ACS saw.
func (e *env) writes() int {
	n := 0
	for _, r := range e.emu.Requests() {
		if r.Method == http.MethodPut || r.Method == http.MethodDelete {
			n++
		}
	}
	return n
}

func (e *env) audit() []portal.AuditEvent {
	var out []portal.AuditEvent
	if err := e.db.WalkAudit(context.Background(), portal.GUID{}, func(ev portal.AuditEvent) error {
		out = append(out, ev)
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) grant(who access.Who, object portal.GUID, kind portal.PrincipalKind, apps ...portal.GUID) access.Result {
	e.t.Helper()
	res, err := e.svc.Grant(context.Background(), who, access.GrantRequest{ObjectID: object, Kind: kind, ClientIDs: apps, Label: "L", Justification: "ticket 1"})
	if err != nil {
		e.t.Fatalf("grant: %v", err)
	}
	return res
}

func TestGrantWritesACSInventoryAndAudit(t *testing.T) {
	e := newEnv(t)
	res := e.grant(admin, alice, portal.KindUser, appB, appA, appA)
	if !res.Created || res.Outcome != portal.OutcomeSuccess || res.Item.Version != 1 || res.Item.State != portal.StateInSync {
		t.Fatalf("result = %+v", res)
	}
	held, ok := e.acsHolds(alice)
	if !ok || len(held.ClientIDs) != 2 {
		t.Fatalf("ACS holds %+v, %v", held, ok)
	}
	evs := e.audit()
	if len(evs) != 2 || evs[0].Phase != portal.PhaseIntent || evs[1].Phase != portal.PhaseOutcome || evs[1].IntentSeq != evs[0].Seq {
		t.Fatalf("audit = %+v", evs)
	}
	out := evs[1]
	if out.Outcome != portal.OutcomeSuccess || out.ACSStatus != 201 || out.RequestID == "" || out.CorrelationVector == "" ||
		out.Actor.ObjectID != admin.User.ObjectID || out.ClientIP != "192.0.2.10" || out.Justification != "ticket 1" ||
		out.After == nil || len(out.After.ClientIDs) != 2 {
		t.Fatalf("outcome row = %+v", out)
	}
	// The request ID in the audit row is the one ACS saw.
	var seen bool
	for _, r := range e.emu.Requests() {
		seen = seen || r.Method == http.MethodPut && r.ClientRequestID == out.RequestID
	}
	if !seen {
		t.Error("the audit row's request ID was not sent to ACS")
	}
}

func TestGrantRefusesToOverwriteWhatItHasNotSeen(t *testing.T) {
	e := newEnv(t)
	e.emu.Seed(acsemu.Stored{Host: e.host, TenantID: contoso, ObjectID: alice, PrincipalType: "user", ClientIDs: []string{appA.String()}})
	_, err := e.svc.Grant(context.Background(), admin, access.GrantRequest{ObjectID: alice, Kind: portal.KindUser, ClientIDs: []portal.GUID{appB}})
	c, ok := access.AsConflict(err)
	if portal.ErrorCode(err) != portal.ECONFLICT || !ok || c.ACS == nil {
		t.Fatalf("err = %v", err)
	}
	if e.writes() != 0 {
		t.Error("ACS was written")
	}
	// Once in the inventory, a second grant is a conflict too.
	if _, err := e.svc.Adopt(context.Background(), admin, access.AdoptRequest{ObjectID: alice}); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Grant(context.Background(), admin, access.GrantRequest{ObjectID: alice, Kind: portal.KindUser, ClientIDs: []portal.GUID{appB}})
	if c, ok := access.AsConflict(err); !ok || c.Item == nil {
		t.Fatalf("err = %v", err)
	}
}

func TestEditFlow(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.grant(admin, alice, portal.KindUser, appA)

	res, err := e.svc.Edit(ctx, admin, access.EditRequest{ObjectID: alice, ClientIDs: []portal.GUID{appA, appB}, Label: "L", Version: 1})
	if err != nil || res.Outcome != portal.OutcomeSuccess || res.Item.Version != 2 {
		t.Fatalf("edit: %+v, %v", res, err)
	}
	if held, _ := e.acsHolds(alice); len(held.ClientIDs) != 2 {
		t.Fatalf("ACS holds %v", held.ClientIDs)
	}

	// A page made from version 1 is out of date: refused, nothing written.
	before := e.writes()
	_, err = e.svc.Edit(ctx, admin, access.EditRequest{ObjectID: alice, ClientIDs: []portal.GUID{appB}, Label: "L", Version: 1})
	if c, ok := access.AsConflict(err); !ok || c.Item == nil || c.Item.Version != 2 {
		t.Fatalf("stale edit: %v", err)
	}

	// The same list again: no PUT, audited as no_change.
	res, err = e.svc.Edit(ctx, admin, access.EditRequest{ObjectID: alice, ClientIDs: []portal.GUID{appB, appA}, Label: "L", Version: 2})
	if err != nil || res.Outcome != portal.OutcomeNoChange || res.Item.Version != 2 {
		t.Fatalf("same list: %+v, %v", res, err)
	}
	if e.writes() != before {
		t.Error("a no-op edit wrote to ACS")
	}
	evs := e.audit()
	if last := evs[len(evs)-1]; last.Outcome != portal.OutcomeNoChange || last.Action != portal.ActionEdit {
		t.Errorf("last audit row = %+v", last)
	}

	// Changed behind the portal's back: the edit shows both and changes nothing.
	e.emu.Seed(acsemu.Stored{Host: e.host, TenantID: contoso, ObjectID: alice, PrincipalType: "user", ClientIDs: []string{appB.String()}})
	_, err = e.svc.Edit(ctx, admin, access.EditRequest{ObjectID: alice, ClientIDs: []portal.GUID{appA}, Label: "L", Version: 2})
	c, ok := access.AsConflict(err)
	if !ok || c.ACS == nil || len(c.ACS.ClientIDs) != 1 || c.ACS.ClientIDs[0] != appB {
		t.Fatalf("drifted edit: %v", err)
	}
	if e.writes() != before {
		t.Error("an edit over drift wrote to ACS")
	}
	item, _ := e.db.GetItem(ctx, contoso, alice)
	if item.State != portal.StateDrifted || item.Observed == nil {
		t.Errorf("the drift was not recorded: %+v", item)
	}

	// Now that the page shows the drift, saving repairs it: ACS gets what
	// the person chose.
	res, err = e.svc.Edit(ctx, admin, access.EditRequest{ObjectID: alice, ClientIDs: []portal.GUID{appA}, Label: "L", Version: item.Version})
	if err != nil || res.Outcome != portal.OutcomeSuccess || res.Item.State != portal.StateInSync {
		t.Fatalf("edit after the drift was shown: %+v, %v", res, err)
	}
	if held, _ := e.acsHolds(alice); len(held.ClientIDs) != 1 || held.ClientIDs[0] != appA.String() {
		t.Errorf("ACS holds %v", held.ClientIDs)
	}

	// Removed behind the portal's back and verified missing: saving grants
	// it again.
	e.emu.Remove(e.host, contoso, alice)
	if _, err := e.svc.Verify(ctx, admin, alice); err != nil {
		t.Fatal(err)
	}
	item, _ = e.db.GetItem(ctx, contoso, alice)
	res, err = e.svc.Edit(ctx, admin, access.EditRequest{ObjectID: alice, ClientIDs: []portal.GUID{appB}, Label: "L", Version: item.Version})
	if err != nil || res.Outcome != portal.OutcomeSuccess {
		t.Fatalf("edit of a missing one: %+v, %v", res, err)
	}
	if held, ok := e.acsHolds(alice); !ok || held.ClientIDs[0] != appB.String() {
		t.Errorf("ACS holds %v, %v", held.ClientIDs, ok)
	}
}

func TestRevoke(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.grant(admin, alice, portal.KindUser, appA)
	res, err := e.svc.Revoke(ctx, admin, access.RevokeRequest{ObjectID: alice, Version: 1, Justification: "leaver"})
	if err != nil || res.Outcome != portal.OutcomeSuccess {
		t.Fatalf("revoke: %+v, %v", res, err)
	}
	if _, ok := e.acsHolds(alice); ok {
		t.Error("ACS still holds it")
	}
	if _, err := e.db.GetItem(ctx, contoso, alice); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("inventory row: %v", err)
	}
	// Gone from ACS already (removed outside the portal): still a success.
	e.grant(admin, alice, portal.KindUser, appA)
	e.emu.Remove(e.host, contoso, alice)
	res, err = e.svc.Revoke(ctx, admin, access.RevokeRequest{ObjectID: alice, Version: 1})
	if err != nil || res.Detail == "" {
		t.Fatalf("revoke of a missing one: %+v, %v", res, err)
	}
}

func TestRolesAndDenialsAudited(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.grant(admin, room, portal.KindResourceAccount)
	writes := e.writes()

	_, err := e.svc.Grant(ctx, helpdesk, access.GrantRequest{ObjectID: alice, Kind: portal.KindResourceAccount})
	if portal.ErrorCode(err) != portal.EFORBIDDEN {
		t.Errorf("helpdesk grant of a resource account: %v", err)
	}
	_, err = e.svc.Revoke(ctx, helpdesk, access.RevokeRequest{ObjectID: room, Version: 1})
	if portal.ErrorCode(err) != portal.EFORBIDDEN {
		t.Errorf("helpdesk revoke of a resource account: %v", err)
	}
	_, err = e.svc.Grant(ctx, auditor, access.GrantRequest{ObjectID: alice, Kind: portal.KindUser, ClientIDs: []portal.GUID{appA}})
	if portal.ErrorCode(err) != portal.EFORBIDDEN {
		t.Errorf("auditor grant: %v", err)
	}
	if _, err := e.svc.Verify(ctx, auditor, room); portal.ErrorCode(err) != portal.EFORBIDDEN {
		t.Errorf("auditor verify: %v", err)
	}
	if e.writes() != writes {
		t.Error("a refused change reached ACS")
	}
	denials := 0
	for _, ev := range e.audit() {
		if ev.Action == portal.ActionDenied && ev.Outcome == portal.OutcomeDenied {
			denials++
		}
	}
	if denials != 4 {
		t.Errorf("%d denials audited, want 4", denials)
	}
	// Helpdesk may grant a user.
	e.grant(helpdesk, alice, portal.KindUser, appA)
}

func TestTenantIsolation(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.grant(admin, alice, portal.KindUser, appA)
	e.emu.ResetRequests()
	other := person(fabrikam, portal.RoleAdmin)

	if _, err := e.svc.Item(ctx, other, alice); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("other tenant's item: %v", err)
	}
	if _, err := e.svc.Edit(ctx, other, access.EditRequest{ObjectID: alice, ClientIDs: []portal.GUID{appB}, Version: 1}); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("other tenant's edit: %v", err)
	}
	if _, err := e.svc.Revoke(ctx, other, access.RevokeRequest{ObjectID: alice, Version: 1}); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("other tenant's revoke: %v", err)
	}
	page, err := e.svc.List(ctx, other, portal.InventoryFilter{TenantID: contoso})
	if err != nil || page.Matched != 0 {
		t.Errorf("other tenant's list (asking for contoso): %d rows, %v", page.Matched, err)
	}
	res, err := e.svc.Lookup(ctx, other, alice)
	if err != nil || res.ACS != nil || res.Item != nil {
		t.Errorf("other tenant's lookup: %+v, %v", res, err)
	}
	for _, r := range e.emu.Requests() {
		if r.TenantSegment == contoso.String() {
			t.Errorf("ACS saw a request for Contoso from a Fabrikam admin: %s %s", r.Method, r.RequestURI)
		}
	}
	if held, ok := e.acsHolds(alice); !ok || len(held.ClientIDs) != 1 {
		t.Error("Contoso's assignment changed")
	}
}

// failingAudit is a store whose audit log cannot be written.
type failingAudit struct{ portal.Store }

func (failingAudit) AppendAudit(context.Context, portal.AuditEvent) (portal.AuditEvent, error) {
	return portal.AuditEvent{}, errors.New("disk full")
}

func (failingAudit) Commit(context.Context, portal.AuditEvent, portal.InventoryChange) (portal.AuditEvent, portal.InventoryItem, error) {
	return portal.AuditEvent{}, portal.InventoryItem{}, errors.New("disk full")
}

func TestAuditFailsClosed(t *testing.T) {
	ctx := context.Background()
	healthy := newEnv(t)
	healthy.grant(admin, alice, portal.KindUser, appA)

	// The same database, behind a store whose audit writes fail.
	e := &env{t: t, db: healthy.db, emu: healthy.emu, host: healthy.host}
	broken := failingAudit{healthy.db}
	client, _ := acs.New(acs.Options{Endpoint: "http://" + healthy.emu.Requests()[0].Host, AccessKey: key})
	e.svc = access.New(access.Config{ACS: client, Store: broken})
	e.emu.ResetRequests()

	_, err := e.svc.Grant(ctx, admin, access.GrantRequest{ObjectID: room, Kind: portal.KindResourceAccount})
	if portal.ErrorCode(err) != portal.EUNAVAILABLE {
		t.Errorf("grant: %v", err)
	}
	_, err = e.svc.Edit(ctx, admin, access.EditRequest{ObjectID: alice, ClientIDs: []portal.GUID{appB}, Version: 1})
	if portal.ErrorCode(err) != portal.EUNAVAILABLE {
		t.Errorf("edit: %v", err)
	}
	_, err = e.svc.Revoke(ctx, admin, access.RevokeRequest{ObjectID: alice, Version: 1})
	if portal.ErrorCode(err) != portal.EUNAVAILABLE {
		t.Errorf("revoke: %v", err)
	}
	if _, err := e.svc.Adopt(ctx, admin, access.AdoptRequest{ObjectID: alice}); err == nil {
		t.Error("adopt succeeded")
	}
	for _, r := range e.emu.Requests() {
		if r.Method != http.MethodGet {
			t.Errorf("ACS saw %s %s although the audit log could not be written", r.Method, r.RequestURI)
		}
	}
	if held, ok := e.acsHolds(alice); !ok || len(held.ClientIDs) != 1 {
		t.Error("ACS changed")
	}
}

func TestLostAnswerSettledByGET(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	// The GET before the PUT answers; the PUT is applied but its answer lost,
	// on every attempt.
	e.emu.Script(acsemu.Fault{}, acsemu.Fault{ResetAfterApply: true}, acsemu.Fault{ResetAfterApply: true}, acsemu.Fault{ResetAfterApply: true})
	res, err := e.svc.Grant(ctx, admin, access.GrantRequest{ObjectID: alice, Kind: portal.KindUser, ClientIDs: []portal.GUID{appA}})
	if err != nil || res.Outcome != portal.OutcomeSuccess {
		t.Fatalf("grant with lost answers: %+v, %v", res, err)
	}
	if _, err := e.db.GetItem(ctx, contoso, alice); err != nil {
		t.Errorf("not in the inventory: %v", err)
	}

	// ACS refusing outright (503 every time, then a GET that shows nothing
	// changed): failed, audited, inventory untouched.
	e.emu.Script(acsemu.Fault{}, acsemu.Fault{Status: 503}, acsemu.Fault{Status: 503}, acsemu.Fault{Status: 503})
	_, err = e.svc.Edit(ctx, admin, access.EditRequest{ObjectID: alice, ClientIDs: []portal.GUID{appB}, Version: 1})
	if portal.ErrorCode(err) != portal.EUNAVAILABLE {
		t.Fatalf("edit against 503s: %v", err)
	}
	item, _ := e.db.GetItem(ctx, contoso, alice)
	if item.Version != 1 || item.ClientIDs[0] != appA {
		t.Errorf("inventory changed: %+v", item)
	}
	evs := e.audit()
	if last := evs[len(evs)-1]; last.Outcome != portal.OutcomeFailed || last.ACSStatus != 503 || last.ACSCode == "" {
		t.Errorf("last audit row = %+v", last)
	}
}

func TestConcurrentEditsOneWins(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.grant(admin, alice, portal.KindUser, appA)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, apps := range [][]portal.GUID{{appB}, {appA, appB}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.svc.Edit(ctx, admin, access.EditRequest{ObjectID: alice, ClientIDs: apps, Version: 1})
		}()
	}
	wg.Wait()
	ok, conflicts := 0, 0
	for _, err := range errs {
		switch portal.ErrorCode(err) {
		case "":
			ok++
		case portal.ECONFLICT:
			conflicts++
		default:
			t.Errorf("unexpected: %v", err)
		}
	}
	if ok != 1 || conflicts != 1 {
		t.Fatalf("ok=%d conflicts=%d", ok, conflicts)
	}
	item, _ := e.db.GetItem(ctx, contoso, alice)
	held, _ := e.acsHolds(alice)
	if len(held.ClientIDs) != len(item.ClientIDs) || item.Version != 2 {
		t.Errorf("inventory %v (v%d) and ACS %v disagree", item.ClientIDs, item.Version, held.ClientIDs)
	}
}

func TestOutcomeRecordedAfterCancel(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	// The person closes the tab while the PUT is on its way: the request's
	// context ends mid-call, yet the outcome must still be written.
	e.emu.Script(acsemu.Fault{}, acsemu.Fault{Latency: 2 * time.Second})
	time.AfterFunc(200*time.Millisecond, cancel)
	_, err := e.svc.Grant(ctx, admin, access.GrantRequest{ObjectID: alice, Kind: portal.KindUser, ClientIDs: []portal.GUID{appA}})
	if ctx.Err() == nil {
		t.Fatal("the grant finished before the cancel: the test proves nothing")
	}
	if err == nil {
		t.Fatal("a grant whose request was cancelled mid-PUT reports success")
	}
	evs := e.audit()
	if len(evs) != 2 || evs[1].Phase != portal.PhaseOutcome || evs[1].IntentSeq != evs[0].Seq {
		t.Fatalf("audit after a cancelled request: %+v", evs)
	}
	if o := evs[1].Outcome; o != portal.OutcomeUnknown && o != portal.OutcomeFailed {
		t.Errorf("outcome %q after a cancelled PUT", o)
	}
}

func TestVerifyAndAdopt(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.emu.Seed(acsemu.Stored{Host: e.host, TenantID: contoso, ObjectID: room, PrincipalType: "resourceAccount"})
	res, err := e.svc.Adopt(ctx, admin, access.AdoptRequest{ObjectID: room, Label: "Main line"})
	if err != nil || res.Item.Kind != portal.KindResourceAccount || res.Item.State != portal.StateInSync {
		t.Fatalf("adopt: %+v, %v", res, err)
	}
	if e.writes() != 0 {
		t.Error("adopting wrote to ACS")
	}
	if _, err := e.svc.Adopt(ctx, admin, access.AdoptRequest{ObjectID: alice}); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("adopting what ACS does not hold: %v", err)
	}
	e.emu.Remove(e.host, contoso, room)
	res, err = e.svc.Verify(ctx, admin, room)
	if err != nil || res.Item.State != portal.StateMissing || res.Item.Version != 1 {
		t.Fatalf("verify: %+v, %v", res, err)
	}
	if st := e.svc.Chain(ctx, true); !st.Intact() || st.Rows != 2 {
		t.Errorf("chain: %+v", st)
	}
}

func TestBadText(t *testing.T) {
	e := newEnv(t)
	for _, why := range []string{"a\x00b", "\xff\xfe", string(make([]byte, 2000))} {
		_, err := e.svc.Grant(context.Background(), admin, access.GrantRequest{ObjectID: alice, Kind: portal.KindUser, ClientIDs: []portal.GUID{appA}, Justification: why})
		if portal.ErrorCode(err) != portal.EINVALID {
			t.Errorf("justification %q: %v", why[:min(len(why), 8)], err)
		}
	}
	strict := access.New(access.Config{ACS: nil, Store: e.db, RequireJustification: true})
	if _, err := strict.Grant(context.Background(), admin, access.GrantRequest{ObjectID: alice, Kind: portal.KindUser, ClientIDs: []portal.GUID{appA}}); portal.ErrorCode(err) != portal.EINVALID {
		t.Errorf("missing required justification: %v", err)
	}
	if len(e.emu.Requests()) != 0 {
		t.Error("bad input reached ACS")
	}
}
