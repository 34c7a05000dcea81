package access_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/acs"
	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/testclock"
	"github.com/teamsphone/portal/internal/testwait"
)

// The probe of the portal's own access to ACS: 404 for a random object
// proves it authorised, 401/403 that it is not (with ACS's own code and
// message, and the fix), anything else proves nothing.
func TestProbeACS(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name      string
		faults    []acsemu.Fault
		state     portal.CheckState
		reason    []string
		fix       string
		wantNoFix bool
	}{
		{name: "authorised", state: portal.CheckPass, reason: []string{"authorised caller", "x-ms-client-request-id"}, wantNoFix: true},
		{name: "subscription not allowed", faults: []acsemu.Fault{{Status: 403, Code: "SubscriptionNotAllowed", Message: "The subscription is not allowed."}},
			state: portal.CheckFail, reason: []string{"HTTP 403 SubscriptionNotAllowed", "The subscription is not allowed"}, fix: "not enabled for Teams Phone extensibility"},
		{name: "no role", faults: []acsemu.Fault{{Status: 403, Code: "AuthorizationFailed"}},
			state: portal.CheckFail, reason: []string{"HTTP 403 AuthorizationFailed"}, fix: "teamsExtension/*"},
		{name: "bad credential", faults: []acsemu.Fault{{Status: 401, Code: "Denied", Message: "Denied by the resource provider."}},
			state: portal.CheckFail, reason: []string{"HTTP 401 Denied", "Denied by the resource provider"}, fix: "PORTAL_ACS_CONNECTION_STRING"},
		{name: "ACS down", faults: []acsemu.Fault{{Status: 503}, {Status: 503}, {Status: 503}},
			state: portal.CheckUnknown, reason: []string{"not known", "HTTP 503"}, wantNoFix: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.emu.Script(tc.faults...)
			c := e.svc.ProbeACS(ctx, contoso, 0)
			if c.State != tc.state || c.Name != access.CheckACSAccess || c.CheckedAt.IsZero() {
				t.Fatalf("check = %+v, want state %s", c, tc.state)
			}
			for _, r := range tc.reason {
				if !strings.Contains(c.Reason, r) {
					t.Errorf("reason %q lacks %q", c.Reason, r)
				}
			}
			if !strings.Contains(c.Fix, tc.fix) || tc.wantNoFix && c.Fix != "" {
				t.Errorf("fix %q, want it to hold %q", c.Fix, tc.fix)
			}
			if tc.state == portal.CheckFail && strings.Contains(c.Reason, c.Fix) {
				t.Errorf("the reason repeats the fix: %q", c.Reason)
			}
		})
	}
}

// A probe is reused while young enough: every instance's /readyz and every
// admin's home page do not each call ACS.
func TestProbeACSCached(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	if c := e.svc.ProbeACS(ctx, contoso, time.Hour); c.State != portal.CheckPass {
		t.Fatalf("first probe: %+v", c)
	}
	e.emu.Script(acsemu.Fault{Status: 403, Code: "SubscriptionNotAllowed"})
	if c := e.svc.ProbeACS(ctx, contoso, time.Hour); c.State != portal.CheckPass {
		t.Fatalf("a probe an hour may reuse called ACS again: %+v", c)
	}
	if c := e.svc.ProbeACS(ctx, contoso, 0); c.State != portal.CheckFail {
		t.Fatalf("a fresh probe did not see the refusal: %+v", c)
	}
	// A probe cut short by its caller still completes for the next one.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if c := e.svc.ProbeACS(cancelled, contoso, 0); c.State != portal.CheckPass {
		t.Fatalf("a probe whose caller went away: %+v", c)
	}
}

// Admins and auditors see the check; helpdesk agents are not its audience.
func TestACSAccessRoles(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	for _, who := range []access.Who{admin, auditor} {
		if c, err := e.svc.ACSAccess(ctx, who, time.Minute); err != nil || c.State != portal.CheckPass {
			t.Errorf("%v: %+v, %v", who.User.Roles, c, err)
		}
	}
	if _, err := e.svc.ACSAccess(ctx, helpdesk, time.Minute); portal.ErrorCode(err) != portal.EFORBIDDEN {
		t.Errorf("helpdesk: %v, want EFORBIDDEN", err)
	}
}

// fakeChain is a directory for the readiness checks: what Graph would say
// of one tenant, and errors to answer with instead.
type fakeChain struct {
	sps      map[portal.GUID]portal.ServicePrincipal  // by app ID
	grants   map[portal.GUID][]portal.PermissionGrant // by client SP
	users    map[portal.GUID]portal.UserState
	accounts []portal.TeamsResourceAccount
	fail     map[string]error // by method
	asked    []portal.GUID    // Users' ids, every call
	calls    atomic.Int32     // every call
}

func (f *fakeChain) ServicePrincipal(_ context.Context, _ string, appID portal.GUID) (portal.ServicePrincipal, bool, error) {
	f.calls.Add(1)
	if err := f.fail["ServicePrincipal"]; err != nil {
		return portal.ServicePrincipal{}, false, err
	}
	sp, ok := f.sps[appID]
	return sp, ok, nil
}

func (f *fakeChain) PermissionGrants(_ context.Context, _ string, client, resource portal.GUID) ([]portal.PermissionGrant, error) {
	f.calls.Add(1)
	if err := f.fail["PermissionGrants"]; err != nil {
		return nil, err
	}
	if resource != acsSP {
		return nil, nil
	}
	return f.grants[client], nil
}

func (f *fakeChain) Users(_ context.Context, _ string, ids []portal.GUID) (map[portal.GUID]portal.UserState, error) {
	f.calls.Add(1)
	if err := f.fail["Users"]; err != nil {
		return nil, err
	}
	f.asked = append(f.asked, ids...)
	out := map[portal.GUID]portal.UserState{}
	for _, id := range ids {
		if u, ok := f.users[id]; ok {
			out[id] = u
		}
	}
	return out, nil
}

func (f *fakeChain) TeamsResourceAccounts(context.Context, string) ([]portal.TeamsResourceAccount, error) {
	f.calls.Add(1)
	if err := f.fail["TeamsResourceAccounts"]; err != nil {
		return nil, err
	}
	return f.accounts, nil
}

var (
	acsSP     = portal.MustParseGUID("aaaaaaaa-0000-4000-8000-000000000001")
	appASP    = portal.MustParseGUID("aaaaaaaa-0000-4000-8000-000000000002")
	appBSP    = portal.MustParseGUID("aaaaaaaa-0000-4000-8000-000000000003")
	bob       = portal.MustParseGUID("e5b7f628-ea94-4fdc-b3d9-1af1fe232222")
	carol     = portal.MustParseGUID("e5b7f628-ea94-4fdc-b3d9-1af1fe233333")
	dave      = portal.MustParseGUID("e5b7f628-ea94-4fdc-b3d9-1af1fe234444")
	lobby     = portal.MustParseGUID("2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c04")
	elsewhere = portal.MustParseGUID("2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c05")
)

const hereID = "11111111-2222-4333-8444-555555555555"

// healthyChain is a tenant where every link holds for alice (appA), room.
func healthyChain() *fakeChain {
	manage := []string{"openid", portal.ManageCallsScope}
	return &fakeChain{
		sps: map[portal.GUID]portal.ServicePrincipal{
			portal.ACSFirstPartyAppID: {ObjectID: acsSP, AppID: portal.ACSFirstPartyAppID, Enabled: true},
			appA:                      {ObjectID: appASP, AppID: appA, Enabled: true},
			appB:                      {ObjectID: appBSP, AppID: appB, Enabled: true},
		},
		grants: map[portal.GUID][]portal.PermissionGrant{appASP: {{AllPrincipals: true, Scopes: manage}}, appBSP: {{AllPrincipals: true, Scopes: manage}}},
		users:  map[portal.GUID]portal.UserState{alice: {ObjectID: alice, Enabled: true, TeamsPhone: true}},
		accounts: []portal.TeamsResourceAccount{{ObjectID: room, UPN: "room@contoso.test", DisplayName: "Front desk", AppID: appB,
			ACSResourceID: hereID, PhoneNumber: "+14255550100", Enabled: true}},
	}
}

func newChainEnv(t *testing.T, dir portal.ReadinessDirectory) *env {
	e := newEnv(t)
	client, err := acs.New(acs.Options{Endpoint: e.url, AccessKey: key, RetryDelay: time.Millisecond, TryTimeout: time.Second, MaxRetries: 2})
	if err != nil {
		t.Fatal(err)
	}
	e.clock = testclock.New(time.Now())
	e.svc = access.New(access.Config{ACS: client, Store: e.store, LockWait: 2 * time.Second, ReadinessDirectory: dir, ACSResourceID: hereID, Now: e.clock.Now})
	return e
}

func token(context.Context) (string, error) { return "token", nil }

func checkNamed(t *testing.T, r access.TenantReadiness, name string) portal.Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %s in %+v", name, r.Checks)
	return portal.Check{}
}

// Every check passes when every link holds; each broken link fails its
// own check, with its reason and fix, and nothing else.
func TestTenantChecks(t *testing.T) {
	ctx := context.Background()
	chain := healthyChain()
	e := newChainEnv(t, chain)
	e.grant(admin, alice, portal.KindUser, appA)
	e.grant(admin, room, portal.KindResourceAccount)
	r, err := e.svc.TenantChecks(ctx, admin, token, false)
	if err != nil {
		t.Fatal(err)
	}
	if f := r.Failing(); len(f) != 0 {
		t.Fatalf("a healthy tenant fails: %+v", f)
	}
	if len(r.Checks) != 5 { // ACS, first party, appA, resource accounts, people
		t.Errorf("%d checks: %+v", len(r.Checks), r.Checks)
	}

	// Break every link at once.
	delete(chain.sps, appA)                                                                                        // appA: no service principal
	chain.grants[appBSP] = []portal.PermissionGrant{{PrincipalID: bob, Scopes: []string{portal.ManageCallsScope}}} // appB: per-user only
	chain.users[bob] = portal.UserState{ObjectID: bob, Enabled: false, TeamsPhone: true}
	chain.users[carol] = portal.UserState{ObjectID: carol, Enabled: true}
	chain.accounts = append(chain.accounts,
		portal.TeamsResourceAccount{ObjectID: lobby, UPN: "lobby@contoso.test", AppID: appB, ACSResourceID: hereID, PhoneNumber: "+14255550101", Enabled: true},
		portal.TeamsResourceAccount{ObjectID: elsewhere, UPN: "else@contoso.test", DisplayName: "Elsewhere", AppID: appB, ACSResourceID: "other", Enabled: true})
	e.grant(admin, bob, portal.KindUser, appB)
	e.grant(admin, carol, portal.KindUser, appB)
	e.grant(admin, dave, portal.KindUser, appB) // gone from the directory
	e.grant(admin, elsewhere, portal.KindResourceAccount)

	cached, _ := e.svc.TenantChecks(ctx, admin, token, false)
	if len(cached.Failing()) != 0 {
		t.Fatal("checks younger than ReadinessMaxAge were run again without asking")
	}
	r, err = e.svc.TenantChecks(ctx, auditor, token, true)
	if err != nil {
		t.Fatal(err)
	}
	if c := checkNamed(t, r, "app:"+appA.String()); c.State != portal.CheckFail || !strings.Contains(c.Reason, "no service principal") ||
		!strings.Contains(c.Fix, "/adminconsent?client_id="+appA.String()) {
		t.Errorf("appA: %+v", c)
	}
	if c := checkNamed(t, r, "app:"+appB.String()); c.State != portal.CheckFail || !strings.Contains(c.Reason, "only 1 person has consented for themselves") {
		t.Errorf("appB: %+v", c)
	}
	ra := checkNamed(t, r, "resource-accounts")
	if ra.State != portal.CheckFail || len(ra.Items) != 2 {
		t.Fatalf("resource accounts: %+v", ra)
	}
	for _, it := range ra.Items {
		switch it.ObjectID {
		case lobby:
			if !it.Consent || !strings.Contains(it.Problem, "without server consent") {
				t.Errorf("lobby: %+v", it)
			}
		case elsewhere:
			if !strings.Contains(it.Problem, "bound to another ACS resource (other)") ||
				!strings.Contains(it.Fix, "Set-CsOnlineApplicationInstance -Identity else@contoso.test -AcsResourceId "+hereID) {
				t.Errorf("elsewhere: %+v", it)
			}
		default:
			t.Errorf("unexpected item %+v", it)
		}
	}
	people := checkNamed(t, r, "people")
	problems := map[portal.GUID]string{}
	for _, it := range people.Items {
		problems[it.ObjectID] = it.Problem
		if !it.Revoke {
			t.Errorf("%s: revoke not offered", it.ObjectID)
		}
	}
	if people.State != portal.CheckFail || len(problems) != 3 || !strings.Contains(problems[bob], "Disabled") ||
		!strings.Contains(problems[carol], "MCOEV") || !strings.Contains(problems[dave], "Gone from the directory") {
		t.Errorf("people: %+v", people)
	}
	if c := checkNamed(t, r, "acs-first-party"); c.State != portal.CheckPass {
		t.Errorf("first party: %+v", c)
	}
	// Per assignment, for the export and the list's "not ready" filter:
	// alice's only app cannot act for her; bob, carol and dave fail on
	// their own; room holds.
	notReady := map[portal.GUID]bool{}
	for _, id := range r.NotReady() {
		notReady[id] = true
	}
	for id, want := range map[portal.GUID]string{alice: "no", bob: "no", carol: "no", dave: "no", room: "yes"} {
		it, err := e.svc.Item(ctx, admin, id)
		if err != nil {
			t.Fatal(err)
		}
		ready, reasons := r.Ready(it)
		if ready != want || notReady[id] != (want == "no") || (want == "no") != (len(reasons) > 0) {
			t.Errorf("%s: ready %s %q (in NotReady %v), want %s", id, ready, reasons, notReady[id], want)
		}
		if id == alice && !strings.Contains(strings.Join(reasons, " "), "no service principal") {
			t.Errorf("alice's reasons: %q", reasons)
		}
	}

	// The ACS first-party app's service principal gone: consent is
	// blocked, and the apps' consent cannot be known.
	delete(chain.sps, portal.ACSFirstPartyAppID)
	r, _ = e.svc.TenantChecks(ctx, admin, token, true)
	if c := checkNamed(t, r, "acs-first-party"); c.State != portal.CheckFail || !strings.Contains(c.Fix, "New-MgServicePrincipal -AppId 1fd5118e-2576-4263-8130-9503064c837a") {
		t.Errorf("first party gone: %+v", c)
	}
	if c := checkNamed(t, r, "app:"+appB.String()); c.State != portal.CheckUnknown {
		t.Errorf("appB without the first party: %+v", c)
	}
}

// A check the portal cannot run is unknown, with why — never fail, never
// pass — and the others still run.
func TestTenantChecksUnknown(t *testing.T) {
	ctx := context.Background()
	chain := healthyChain()
	e := newChainEnv(t, chain)
	e.grant(admin, alice, portal.KindUser, appA)
	chain.fail = map[string]error{
		"TeamsResourceAccounts": portal.Errorf(portal.EFORBIDDEN, "Reading resource accounts needs TeamsResourceAccount.Read.All and the Teams administrator role."),
		"Users":                 portal.Errorf(portal.ETHROTTLED, "Microsoft Graph asked the portal to slow down."),
	}
	r, err := e.svc.TenantChecks(ctx, admin, token, true)
	if err != nil {
		t.Fatal(err)
	}
	if c := checkNamed(t, r, "resource-accounts"); c.State != portal.CheckUnknown || !strings.Contains(c.Reason, "TeamsResourceAccount.Read.All") {
		t.Errorf("resource accounts: %+v", c)
	}
	if c := checkNamed(t, r, "people"); c.State != portal.CheckUnknown || len(c.Items) != 0 || !strings.Contains(c.Reason, "slow down") {
		t.Errorf("people: %+v", c)
	}
	if c := checkNamed(t, r, "app:"+appA.String()); c.State != portal.CheckPass {
		t.Errorf("appA: %+v", c)
	}
	// Without Graph at all, or without a token: unknown, with why.
	e2 := newChainEnv(t, nil)
	r, _ = e2.svc.TenantChecks(ctx, admin, token, true)
	if c := checkNamed(t, r, "people"); c.State != portal.CheckUnknown || !strings.Contains(c.Reason, "PORTAL_GRAPH") {
		t.Errorf("no Graph: %+v", c)
	}
	// (Past the wait Graph asked for by throttling: see TestTenantChecksThrottled.)
	e.clock.Add(time.Minute)
	r, _ = e.svc.TenantChecks(ctx, admin, func(context.Context) (string, error) { return "", errors.New("expired") }, true)
	if c := checkNamed(t, r, "acs-first-party"); c.State != portal.CheckUnknown || !strings.Contains(c.Reason, "Sign out and in again") {
		t.Errorf("no token: %+v", c)
	}
	if _, err := e.svc.TenantChecks(ctx, helpdesk, token, false); portal.ErrorCode(err) != portal.EFORBIDDEN {
		t.Errorf("helpdesk: %v", err)
	}
}

// One assignment's own chain: for a person, the directory, the licence
// and each of their apps (their own consent is enough for them); for a
// resource account, its binding, number, app and state.
func TestAssignmentChecks(t *testing.T) {
	ctx := context.Background()
	chain := healthyChain()
	e := newChainEnv(t, chain)
	e.grant(admin, alice, portal.KindUser, appA, appB)
	e.grant(admin, room, portal.KindResourceAccount)
	item := func(id portal.GUID) portal.InventoryItem {
		it, err := e.svc.Item(ctx, admin, id)
		if err != nil {
			t.Fatal(err)
		}
		return it
	}
	checks, err := e.svc.AssignmentChecks(ctx, helpdesk, token, item(alice))
	if err != nil {
		t.Fatal(err)
	}
	if len(checks) != 5 { // ACS, first party, the person, appA, appB
		t.Fatalf("%d checks: %+v", len(checks), checks)
	}
	for _, c := range checks {
		if c.State != portal.CheckPass {
			t.Errorf("healthy: %+v", c)
		}
	}
	// Only per-person consent to appB, alice's own among it; alice loses
	// her licence.
	chain.grants[appBSP] = []portal.PermissionGrant{{PrincipalID: alice, Scopes: []string{portal.ManageCallsScope}}}
	chain.users[alice] = portal.UserState{ObjectID: alice, Enabled: true}
	checks, _ = e.svc.AssignmentChecks(ctx, admin, token, item(alice))
	for _, c := range checks {
		switch c.Name {
		case "object":
			if c.State != portal.CheckFail || !strings.Contains(c.Reason, "MCOEV") || len(c.Items) != 0 {
				t.Errorf("person: %+v", c)
			}
		case "app:" + appB.String():
			if c.State != portal.CheckPass || !strings.Contains(c.Reason, "for themselves") {
				t.Errorf("appB with her own consent: %+v", c)
			}
		}
	}
	// The resource account bound elsewhere, with no number.
	chain.accounts[0].ACSResourceID = "other"
	checks, _ = e.svc.AssignmentChecks(ctx, admin, token, item(room))
	own := checks[len(checks)-1]
	if own.Name != "object" || own.State != portal.CheckFail || len(own.Items) != 1 || !strings.Contains(own.Items[0].Problem, "bound to another ACS resource") {
		t.Errorf("room: %+v", own)
	}
	chain.accounts[0].ACSResourceID = hereID
	checks, _ = e.svc.AssignmentChecks(ctx, admin, token, item(room))
	if own := checks[len(checks)-1]; own.State != portal.CheckPass {
		t.Errorf("room bound here again: %+v", own)
	}
	// Another tenant's assignment is not theirs to check.
	other := item(room)
	other.TenantID = fabrikam
	if _, err := e.svc.AssignmentChecks(ctx, admin, token, other); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("another tenant's: %v", err)
	}
}

// throttledBy is Graph's 429 as the adapter reports it: ETHROTTLED, with
// the wait it named.
type throttledBy time.Duration

func (w throttledBy) Error() string                 { return "graph: 429" }
func (w throttledBy) RetryAfterHint() time.Duration { return time.Duration(w) }

// Graph throttling the checks holds the tenant off for the wait it named:
// the rest of the run asks nothing more (unknown, with why), "Check
// again" within the wait keeps the last results with a note instead of
// asking, and after it the checks run again.
func TestTenantChecksThrottled(t *testing.T) {
	ctx := context.Background()
	chain := healthyChain()
	e := newChainEnv(t, chain)
	e.grant(admin, alice, portal.KindUser, appA)
	e.grant(admin, room, portal.KindResourceAccount)
	chain.fail = map[string]error{"PermissionGrants": portal.Wrap(throttledBy(40*time.Second), portal.ETHROTTLED, "Microsoft Graph asked the portal to slow down.")}
	r, err := e.svc.TenantChecks(ctx, admin, token, true)
	if err != nil {
		t.Fatal(err)
	}
	if c := checkNamed(t, r, "acs-first-party"); c.State != portal.CheckPass {
		t.Errorf("before the throttling: %+v", c)
	}
	for _, name := range []string{"app:" + appA.String(), "resource-accounts", "people"} {
		if c := checkNamed(t, r, name); c.State != portal.CheckUnknown || !strings.Contains(c.Reason, "slow down") {
			t.Errorf("%s after the throttling: %+v", name, c)
		}
	}
	// ServicePrincipal ×2 (the first-party app, appA), the throttled
	// PermissionGrants, and nothing after it.
	if n := chain.calls.Load(); n != 3 {
		t.Errorf("%d Graph calls, want 3: nothing after the throttling", n)
	}
	chain.fail = nil
	e.clock.Add(20 * time.Second)
	again, _ := e.svc.TenantChecks(ctx, admin, token, true)
	if n := chain.calls.Load(); n != 3 || !again.CheckedAt.Equal(r.CheckedAt) || !strings.Contains(again.Note, "can run again in 20s") {
		t.Errorf("check again within the wait: %d calls, checked at %v (was %v), note %q", n, again.CheckedAt, r.CheckedAt, again.Note)
	}
	if e.svc.RecheckIfStale(ctx, admin, token) {
		t.Error("a background run started within Graph's wait")
	}
	e.clock.Add(21 * time.Second)
	after, _ := e.svc.TenantChecks(ctx, admin, token, true)
	if after.Note != "" || len(after.Failing()) != 0 {
		t.Errorf("after the wait: note %q, failing %+v", after.Note, after.Failing())
	}
}

// A tenant with more people than a run looks up is covered a slice a
// run: what earlier slices found stands, the others are unknown (never
// ready) until their turn, and the check passes only once all were seen.
func TestTenantChecksInSlices(t *testing.T) {
	defer access.SetMaxPeopleChecked(2)()
	ctx := context.Background()
	chain := healthyChain()
	e := newChainEnv(t, chain)
	people := []portal.GUID{alice, bob, carol, dave} // in object ID order
	for _, p := range people {
		e.grant(admin, p, portal.KindUser, appA)
		chain.users[p] = portal.UserState{ObjectID: p, Enabled: true, TeamsPhone: true}
	}
	chain.users[dave] = portal.UserState{ObjectID: dave, Enabled: false, TeamsPhone: true}
	ready := func(r access.TenantReadiness) (out []string) {
		for _, p := range people {
			v, _ := r.Ready(portal.InventoryItem{Assignment: portal.Assignment{ObjectID: p, Kind: portal.KindUser}})
			out = append(out, v)
		}
		return out
	}
	r, _ := e.svc.TenantChecks(ctx, admin, token, true)
	if c := checkNamed(t, r, "people"); c.State != portal.CheckUnknown || !strings.Contains(c.Reason, "2 of 4 people") {
		t.Errorf("first slice: %+v", c)
	}
	if got := strings.Join(ready(r), ","); got != "yes,yes,unknown,unknown" {
		t.Errorf("first slice: ready %s", got)
	}
	r, _ = e.svc.TenantChecks(ctx, admin, token, true)
	if c := checkNamed(t, r, "people"); c.State != portal.CheckFail || len(c.Items) != 1 || c.Items[0].ObjectID != dave {
		t.Errorf("second slice: %+v", c)
	}
	if got := strings.Join(ready(r), ","); got != "yes,yes,yes,no" {
		t.Errorf("second slice: ready %s", got)
	}
	// Dave is fixed; the third run looks at alice and bob again, and what
	// it knew of dave stands until his turn.
	chain.users[dave] = portal.UserState{ObjectID: dave, Enabled: true, TeamsPhone: true}
	r, _ = e.svc.TenantChecks(ctx, admin, token, true)
	if c := checkNamed(t, r, "people"); c.State != portal.CheckFail || len(c.Items) != 1 {
		t.Errorf("third run: %+v", c)
	}
	r, _ = e.svc.TenantChecks(ctx, admin, token, true)
	if c := checkNamed(t, r, "people"); c.State != portal.CheckPass || !strings.Contains(c.Reason, "Every one of 4 people") {
		t.Errorf("fourth run: %+v", c)
	}
}

// The home page keeps the checks fresh: a run off the request when the
// last is stale or missing, one at a time, none while it is fresh; the
// last results stay readable while a run is under way.
func TestRecheckIfStale(t *testing.T) {
	ctx := context.Background()
	chain := healthyChain()
	e := newChainEnv(t, chain)
	e.grant(admin, alice, portal.KindUser, appA)
	e.grant(admin, room, portal.KindResourceAccount)
	if _, ok := e.svc.LastTenantChecks(admin); ok {
		t.Fatal("checks before any run")
	}
	if e.svc.RecheckIfStale(ctx, helpdesk, token) {
		t.Error("a run for helpdesk, who may not read the checks")
	}
	block := make(chan struct{})
	slow := func(context.Context) (string, error) { <-block; return "token", nil }
	if !e.svc.RecheckIfStale(ctx, admin, slow) {
		t.Fatal("no run when none ever ran")
	}
	if e.svc.RecheckIfStale(ctx, auditor, token) {
		t.Error("a second run while one is under way")
	}
	close(block)
	testwait.For(t, "the background run", func() bool { _, ok := e.svc.LastTenantChecks(admin); return ok })
	first, _ := e.svc.LastTenantChecks(auditor)
	if len(first.Failing()) != 0 {
		t.Errorf("failing: %+v", first.Failing())
	}
	testwait.For(t, "the background run to end", func() bool { return !e.svc.Rechecking(admin) })
	if e.svc.RecheckIfStale(ctx, admin, token) {
		t.Error("a run while the last is fresh")
	}
	e.clock.Add(access.ReadinessMaxAge + time.Second)
	block = make(chan struct{})
	if !e.svc.RecheckIfStale(ctx, admin, slow) {
		t.Fatal("no run when the last is stale")
	}
	if last, ok := e.svc.LastTenantChecks(admin); !ok || !last.CheckedAt.Equal(first.CheckedAt) {
		t.Errorf("while a run is under way the last is %v, %v", last.CheckedAt, ok)
	}
	close(block)
	testwait.For(t, "the second run", func() bool { last, _ := e.svc.LastTenantChecks(admin); return last.CheckedAt.After(first.CheckedAt) })
}
