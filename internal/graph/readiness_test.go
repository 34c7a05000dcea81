package graph_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/graph"
	"github.com/teamsphone/portal/internal/graphemu"
	"github.com/teamsphone/portal/internal/portal"
)

// The readiness tenant: Contoso has the ACS first-party service principal,
// Desktop consented for everyone, Mobile for Alice alone; Fabrikam has no
// ACS service principal at all.
var (
	acsSP      = portal.MustParseGUID("a0000000-0000-4000-8000-0000000000a1")
	desktopSP  = portal.MustParseGUID("a0000000-0000-4000-8000-0000000000d1")
	mobileSP   = portal.MustParseGUID("a0000000-0000-4000-8000-0000000000e1")
	fabDesktop = portal.MustParseGUID("b0000000-0000-4000-8000-0000000000d1")
	carol      = portal.MustParseGUID("c0000000-0000-4000-8000-000000000001") // Teams Phone suspended
	dora       = portal.MustParseGUID("c0000000-0000-4000-8000-000000000002") // no plans at all
	farah      = portal.MustParseGUID("c0000000-0000-4000-8000-000000000003") // Fabrikam's
	offLine    = portal.MustParseGUID("c0000000-0000-4000-8000-000000000004") // a disabled resource account
)

const (
	ready     = "contoso-ready"      // every readiness permission
	basicOnly = "contoso-basic"      // names and resource accounts, not full profiles
	fabReady  = "fabrikam-ready"     // Fabrikam, every readiness permission
	dirOnly   = "contoso-dir"        // Directory.Read.All alone
	acsOther  = "acs-other-resource" // another ACS resource's immutable ID
)

var readinessScopes = []string{"User.Read.All", "DelegatedPermissionGrant.Read.All", "Application.Read.All", "TeamsResourceAccount.Read.All"}

func mcoev(status string) []graphemu.AssignedPlan {
	return []graphemu.AssignedPlan{
		{ServicePlanID: portal.MustParseGUID("57ff2da0-773e-42df-b2af-ffb7a2317929"), Service: "TeamsForBusiness", CapabilityStatus: "Enabled"},
		{ServicePlanID: graph.TeamsPhonePlanID, Service: "MCOEV", CapabilityStatus: status},
	}
}

// newReadiness is an emulator with both tenants' readiness data (pages of
// at most pageSize objects; 0: Graph's default) and a client for it.
func newReadiness(t *testing.T, pageSize int) (*graph.Client, *graphemu.Emulator, string) {
	t.Helper()
	emu := graphemu.New(graphemu.Config{MaxPageSize: pageSize, Verify: graphemu.StaticTokens(map[string]graphemu.Grant{
		ready:     {Tenant: contoso, Scopes: readinessScopes},
		basicOnly: {Tenant: contoso, Scopes: []string{"User.ReadBasic.All", "TeamsResourceAccount.Read.All", "Application.Read.All"}},
		dirOnly:   {Tenant: contoso, Scopes: []string{"Directory.Read.All"}},
		fabReady:  {Tenant: fabrikam, Scopes: readinessScopes},
	})})
	t.Cleanup(emu.Close)
	emu.Seed(contoso, []graphemu.User{
		{ID: alice, DisplayName: "Alice Smith", UserPrincipalName: "alice@contoso.test", AssignedPlans: mcoev("Enabled")},
		{ID: bruno, DisplayName: "Bruno Costa", UserPrincipalName: "bruno@contoso.test", Disabled: true, AssignedPlans: mcoev("Enabled")},
		{ID: carol, DisplayName: "Carol King", UserPrincipalName: "carol@contoso.test", AssignedPlans: mcoev("Suspended")},
		{ID: dora, DisplayName: "Dora Unlicensed", UserPrincipalName: "dora@contoso.test"},
		{ID: gone, DisplayName: "Chen Wei", UserPrincipalName: "chen@contoso.test", Deleted: true, AssignedPlans: mcoev("Enabled")},
	}, []graphemu.ResourceAccount{
		{ID: room, DisplayName: "Main line", UserPrincipalName: "main@contoso.test", AppID: appA, PhoneNumber: "tel:+14255550100", ACSResourceID: acsID},
		{ID: offLine, DisplayName: "Old line", UserPrincipalName: "old@contoso.test", AppID: portal.AutoAttendantAppID, Disabled: true},
	}, []graphemu.ServicePrincipal{
		{ID: acsSP, AppID: portal.ACSFirstPartyAppID, DisplayName: "Azure Communication Services"},
		{ID: desktopSP, AppID: appA, DisplayName: "Contoso Agent Desktop"},
		{ID: mobileSP, AppID: appB, DisplayName: "Contoso Agent Mobile", Disabled: true},
	})
	emu.AddPermissionGrant(contoso, graphemu.PermissionGrant{ClientID: desktopSP, ResourceID: acsSP, ConsentType: "AllPrincipals", Scope: "TeamsExtension.ManageCalls"})
	emu.AddPermissionGrant(contoso, graphemu.PermissionGrant{ClientID: mobileSP, ResourceID: acsSP, ConsentType: "Principal", PrincipalID: alice, Scope: " User.Read  TeamsExtension.ManageCalls "})
	emu.Seed(fabrikam, []graphemu.User{{ID: farah, DisplayName: "Farah Khan", UserPrincipalName: "farah@fabrikam.test", AssignedPlans: mcoev("Enabled")}},
		nil, []graphemu.ServicePrincipal{{ID: fabDesktop, AppID: appA, DisplayName: "Contoso Agent Desktop"}})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return graph.New(srv.URL, nil), emu, srv.URL
}

func TestServicePrincipal(t *testing.T) {
	c, _, _ := newReadiness(t, 0)
	ctx := context.Background()
	sp, found, err := c.ServicePrincipal(ctx, ready, portal.ACSFirstPartyAppID)
	if err != nil || !found || sp.ObjectID != acsSP || sp.AppID != portal.ACSFirstPartyAppID || sp.DisplayName != "Azure Communication Services" || !sp.Enabled {
		t.Errorf("ServicePrincipal(ACS) = %+v, %v, %v", sp, found, err)
	}
	if sp, found, err := c.ServicePrincipal(ctx, ready, appB); err != nil || !found || sp.Enabled {
		t.Errorf("a disabled service principal: %+v, %v, %v", sp, found, err)
	}
	// Fabrikam has none: not found, not an error.
	if sp, found, err := c.ServicePrincipal(ctx, fabReady, portal.ACSFirstPartyAppID); err != nil || found || sp != (portal.ServicePrincipal{}) {
		t.Errorf("Fabrikam's ACS service principal: %+v, %v, %v", sp, found, err)
	}
	// Directory.Read.All also reads them.
	if _, found, err := c.ServicePrincipal(ctx, dirOnly, appA); err != nil || !found {
		t.Errorf("with Directory.Read.All: %v, %v", found, err)
	}
}

func TestPermissionGrants(t *testing.T) {
	c, _, _ := newReadiness(t, 0)
	ctx := context.Background()
	got, err := c.PermissionGrants(ctx, ready, desktopSP, acsSP)
	if err != nil || len(got) != 1 || !got[0].AllPrincipals || !got[0].PrincipalID.IsZero() || strings.Join(got[0].Scopes, " ") != portal.ManageCallsScope {
		t.Errorf("Desktop's grants = %+v, %v; want admin consent to %s", got, err, portal.ManageCallsScope)
	}
	got, err = c.PermissionGrants(ctx, ready, mobileSP, acsSP)
	if err != nil || len(got) != 1 || got[0].AllPrincipals || got[0].PrincipalID != alice || strings.Join(got[0].Scopes, ",") != "User.Read,TeamsExtension.ManageCalls" {
		t.Errorf("Mobile's grants = %+v, %v; want Alice's own, scopes split", got, err)
	}
	// None: an empty list, not an error; the ACS app consents to nothing.
	if got, err := c.PermissionGrants(ctx, ready, acsSP, desktopSP); err != nil || got == nil || len(got) != 0 {
		t.Errorf("no grants = %#v, %v", got, err)
	}
	if got, err := c.PermissionGrants(ctx, dirOnly, desktopSP, acsSP); err != nil || len(got) != 1 {
		t.Errorf("with Directory.Read.All: %+v, %v", got, err)
	}
}

func TestUsers(t *testing.T) {
	c, _, _ := newReadiness(t, 0)
	ctx := context.Background()
	unknown := portal.MustParseGUID("00000000-0000-4000-8000-000000000009")
	got, err := c.Users(ctx, ready, []portal.GUID{alice, bruno, carol, dora, gone, unknown, room, offLine})
	if err != nil {
		t.Fatal(err)
	}
	want := map[portal.GUID]portal.UserState{
		alice:   {ObjectID: alice, Enabled: true, TeamsPhone: true},
		bruno:   {ObjectID: bruno, Enabled: false, TeamsPhone: true},
		carol:   {ObjectID: carol, Enabled: true, TeamsPhone: false}, // suspended is not enabled
		dora:    {ObjectID: dora, Enabled: true, TeamsPhone: false},
		room:    {ObjectID: room, Enabled: true}, // resource accounts are users too
		offLine: {ObjectID: offLine, Enabled: false},
	}
	if len(got) != len(want) {
		t.Errorf("Users = %+v; want %d (the deleted and the unknown absent)", got, len(want))
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("Users[%s] = %+v, want %+v", id, got[id], w)
		}
	}
	if got, err := c.Users(ctx, ready, nil); err != nil || len(got) != 0 {
		t.Errorf("Users(none) = %v, %v", got, err)
	}
}

func TestTeamsResourceAccounts(t *testing.T) {
	c, _, _ := newReadiness(t, 0)
	got, err := c.TeamsResourceAccounts(context.Background(), ready)
	want := []portal.TeamsResourceAccount{
		{ObjectID: room, UPN: "main@contoso.test", DisplayName: "Main line", AppID: appA, ACSResourceID: acsID, PhoneNumber: "+14255550100", Enabled: true},
		{ObjectID: offLine, UPN: "old@contoso.test", DisplayName: "Old line", AppID: portal.AutoAttendantAppID},
	}
	if err != nil || len(got) != len(want) {
		t.Fatalf("TeamsResourceAccounts = %+v, %v", got, err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("account %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if got, err := c.TeamsResourceAccounts(context.Background(), fabReady); err != nil || len(got) != 0 {
		t.Errorf("Fabrikam's accounts: %+v, %v", got, err)
	}
}

// A read Graph refuses is EFORBIDDEN with a message naming the permission
// (least privileged first) that would allow it; so is a full profile read
// on a token that may read basic profiles only (Graph leaves the
// properties out rather than refusing).
func TestReadinessRefused(t *testing.T) {
	c, emu, _ := newReadiness(t, 0)
	ctx := context.Background()
	reads := []struct {
		name, withhold string
		read           func(token string) error
		names          []string
	}{
		{"ServicePrincipal", "Application.Read.All", func(tok string) error {
			_, _, err := c.ServicePrincipal(ctx, tok, portal.ACSFirstPartyAppID)
			return err
		}, []string{"Application.Read.All"}},
		{"PermissionGrants", "DelegatedPermissionGrant.Read.All", func(tok string) error {
			_, err := c.PermissionGrants(ctx, tok, desktopSP, acsSP)
			return err
		}, []string{"DelegatedPermissionGrant.Read.All", "Directory.Read.All"}},
		{"Users", "User.Read.All", func(tok string) error {
			_, err := c.Users(ctx, tok, []portal.GUID{alice})
			return err
		}, []string{"User.Read.All"}},
		{"TeamsResourceAccounts", "TeamsResourceAccount.Read.All", func(tok string) error {
			_, err := c.TeamsResourceAccounts(ctx, tok)
			return err
		}, []string{"TeamsResourceAccount.Read.All", "Teams administrator"}},
	}
	for _, r := range reads {
		t.Run(r.name, func(t *testing.T) {
			emu.Withhold(contoso, r.withhold)
			defer emu.Withhold(contoso)
			err := r.read(ready)
			if portal.ErrorCode(err) != portal.EFORBIDDEN {
				t.Fatalf("withheld %s: %v, want forbidden", r.withhold, err)
			}
			for _, n := range r.names {
				if !strings.Contains(portal.ErrorMessage(err), n) {
					t.Errorf("the message %q does not name %s", portal.ErrorMessage(err), n)
				}
			}
			// Fabrikam's consent is its own.
			if err := r.read(fabReady); err != nil {
				t.Errorf("Fabrikam, whose admin withheld nothing: %v", err)
			}
		})
	}
	// Basic profiles only: people's state, and so resource accounts'
	// accountEnabled, are refused in User.Read.All's name.
	_, err := c.Users(ctx, basicOnly, []portal.GUID{alice})
	if portal.ErrorCode(err) != portal.EFORBIDDEN || !strings.Contains(portal.ErrorMessage(err), "User.Read.All") {
		t.Errorf("Users on a basic-profile token: %v", err)
	}
	if _, err := c.TeamsResourceAccounts(ctx, basicOnly); portal.ErrorCode(err) != portal.EFORBIDDEN || !strings.Contains(portal.ErrorMessage(err), "User.Read.All") {
		t.Errorf("TeamsResourceAccounts on a basic-profile token: %v", err)
	}
}

// Graph throttling is ETHROTTLED with Graph's wait, for 429 and for a 503
// that says how long to wait; a 503 that does not is EUNAVAILABLE.
func TestReadinessThrottled(t *testing.T) {
	c, emu, _ := newReadiness(t, 0)
	ctx := context.Background()
	reads := map[string]func() error{
		"ServicePrincipal": func() error { _, _, err := c.ServicePrincipal(ctx, ready, appA); return err },
		"PermissionGrants": func() error { _, err := c.PermissionGrants(ctx, ready, desktopSP, acsSP); return err },
		"Users":            func() error { _, err := c.Users(ctx, ready, []portal.GUID{alice}); return err },
		"TeamsResourceAccounts": func() error {
			_, err := c.TeamsResourceAccounts(ctx, ready)
			return err
		},
	}
	for name, read := range reads {
		emu.Script(acsemu.Fault{Status: 429, RetryAfter: "7"})
		if err := read(); portal.ErrorCode(err) != portal.ETHROTTLED || portal.RetryAfter(err) != 7*time.Second {
			t.Errorf("%s throttled: %v (wait %v), want throttled for 7s", name, err, portal.RetryAfter(err))
		}
		emu.Script(acsemu.Fault{Status: 503, RetryAfter: "3"})
		if err := read(); portal.ErrorCode(err) != portal.ETHROTTLED || portal.RetryAfter(err) != 3*time.Second {
			t.Errorf("%s 503 with Retry-After: %v, want throttled for 3s", name, err)
		}
		emu.Script(acsemu.Fault{Status: 503})
		if err := read(); portal.ErrorCode(err) != portal.EUNAVAILABLE {
			t.Errorf("%s 503: %v, want unavailable", name, err)
		}
	}
	// The resource accounts' second call (their users) throttled too.
	emu.Script(acsemu.Fault{}, acsemu.Fault{Status: 429, RetryAfter: "5"})
	if _, err := c.TeamsResourceAccounts(ctx, ready); portal.ErrorCode(err) != portal.ETHROTTLED || portal.RetryAfter(err) != 5*time.Second {
		t.Errorf("TeamsResourceAccounts, users throttled: %v", err)
	}
}

// A Fabrikam token sees nothing of Contoso's, even asked by Contoso's IDs.
func TestReadinessTenantIsolation(t *testing.T) {
	c, _, _ := newReadiness(t, 0)
	ctx := context.Background()
	if sp, found, err := c.ServicePrincipal(ctx, fabReady, appB); err != nil || found {
		t.Errorf("Fabrikam reads Contoso's Mobile service principal: %+v, %v, %v", sp, found, err)
	}
	if sp, _, _ := c.ServicePrincipal(ctx, fabReady, appA); sp.ObjectID != fabDesktop {
		t.Errorf("Fabrikam's Desktop service principal is %s, want its own %s", sp.ObjectID, fabDesktop)
	}
	if got, err := c.PermissionGrants(ctx, fabReady, desktopSP, acsSP); err != nil || len(got) != 0 {
		t.Errorf("Fabrikam reads Contoso's grants: %+v, %v", got, err)
	}
	if got, err := c.Users(ctx, fabReady, []portal.GUID{alice, bruno, room, farah}); err != nil || len(got) != 1 || !got[farah].TeamsPhone {
		t.Errorf("Fabrikam's Users = %+v, %v; want Farah alone", got, err)
	}
	if got, err := c.Users(ctx, ready, []portal.GUID{farah}); err != nil || len(got) != 0 {
		t.Errorf("Contoso reads Fabrikam's Farah: %+v, %v", got, err)
	}
}

// Users asks 15 IDs a call, as Graph allows, and follows every page of each.
func TestUsersBatchedAndPaged(t *testing.T) {
	c, emu, _ := newReadiness(t, 4)
	var ids []portal.GUID
	for i := range 40 {
		id := portal.MustParseGUID(fmt.Sprintf("d0000000-0000-4000-8000-%012d", i))
		emu.AddUser(contoso, graphemu.User{ID: id, DisplayName: fmt.Sprint("Agent ", i), UserPrincipalName: fmt.Sprintf("agent%d@contoso.test", i), AssignedPlans: mcoev("Enabled")})
		ids = append(ids, id)
	}
	ids = append(ids, portal.MustParseGUID("d0000000-0000-4000-9000-000000000000")) // unknown
	emu.ResetRequests()
	got, err := c.Users(context.Background(), ready, ids)
	if err != nil || len(got) != 40 {
		t.Fatalf("Users of 41 IDs = %d found, %v; want the 40 known", len(got), err)
	}
	for _, id := range ids[:40] {
		if st := got[id]; !st.Enabled || !st.TeamsPhone {
			t.Errorf("Users[%s] = %+v", id, st)
		}
	}
	// 15 + 15 + 11 IDs, pages of at most 4: 4 + 4 + 3 calls.
	reqs := emu.Requests()
	paged := 0
	for _, r := range reqs {
		u, _ := url.Parse(r.RequestURI)
		if n := strings.Count(u.Query().Get("$filter"), "'") / 2; n > 15 {
			t.Errorf("a call asked for %d IDs: %s", n, r.RequestURI)
		}
		if u.Query().Has("$skiptoken") {
			paged++
		}
		if r.Status != http.StatusOK {
			t.Errorf("%s answered %d", r.RequestURI, r.Status)
		}
	}
	if len(reqs) != 11 || paged != 8 {
		t.Errorf("%d calls, %d of them next pages; want 11 and 8", len(reqs), paged)
	}
	// The grants are paged too.
	for i := range 6 {
		emu.AddPermissionGrant(contoso, graphemu.PermissionGrant{ClientID: mobileSP, ResourceID: acsSP, ConsentType: "Principal", PrincipalID: ids[i], Scope: portal.ManageCallsScope})
	}
	if grants, err := c.PermissionGrants(context.Background(), ready, mobileSP, acsSP); err != nil || len(grants) != 7 {
		t.Errorf("paged grants: %d, %v; want 7", len(grants), err)
	}
}

// Each fix applied through the emulator's state routes, as a person would
// with curl, shows in what the adapter reads next.
func TestStateRouteFixes(t *testing.T) {
	c, _, base := newReadiness(t, 0)
	ctx := context.Background()
	send := func(method, path, body string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
	}
	fab := "/_emulator/tenants/" + fabrikam.String()
	con := "/_emulator/tenants/" + contoso.String()

	// Fabrikam creates the ACS first-party service principal, then
	// consents to Desktop for everyone.
	send("POST", fab+"/servicePrincipals", `{"appId":"`+portal.ACSFirstPartyAppID.String()+`","displayName":"Azure Communication Services"}`)
	sp, found, err := c.ServicePrincipal(ctx, fabReady, portal.ACSFirstPartyAppID)
	if err != nil || !found || !sp.Enabled {
		t.Fatalf("after creating it: %+v, %v, %v", sp, found, err)
	}
	send("POST", fab+"/oauth2PermissionGrants", `{"clientAppId":"`+appA.String()+`","resourceAppId":"`+portal.ACSFirstPartyAppID.String()+`","consentType":"AllPrincipals","scope":"TeamsExtension.ManageCalls"}`)
	if got, err := c.PermissionGrants(ctx, fabReady, fabDesktop, sp.ObjectID); err != nil || len(got) != 1 || !got[0].AllPrincipals {
		t.Errorf("after admin consent: %+v, %v", got, err)
	}
	// Contoso's Mobile: enabled, and consented for everyone.
	send("PATCH", con+"/servicePrincipals/"+mobileSP.String(), `{"accountEnabled":true}`)
	send("POST", con+"/oauth2PermissionGrants", `{"clientId":"`+mobileSP.String()+`","resourceId":"`+acsSP.String()+`","consentType":"AllPrincipals","scope":"TeamsExtension.ManageCalls"}`)
	if sp, _, _ := c.ServicePrincipal(ctx, ready, appB); !sp.Enabled {
		t.Error("Mobile is still disabled")
	}
	if got, _ := c.PermissionGrants(ctx, ready, mobileSP, acsSP); len(got) != 2 {
		t.Errorf("Mobile's grants: %+v, want Alice's and everyone's", got)
	}
	// Bruno enabled; Dora given Teams Phone.
	send("PATCH", con+"/users/"+bruno.String(), `{"accountEnabled":true}`)
	send("PATCH", con+"/users/"+dora.String(), `{"assignedPlans":[{"servicePlanId":"`+graph.TeamsPhonePlanID.String()+`","service":"MCOEV","capabilityStatus":"Enabled"}]}`)
	states, err := c.Users(ctx, ready, []portal.GUID{bruno, dora})
	if err != nil || !states[bruno].Enabled || !states[dora].TeamsPhone {
		t.Errorf("after the user fixes: %+v, %v", states, err)
	}
	// The old line bound here, given a number and a third-party app, enabled.
	send("PATCH", con+"/resourceAccounts/"+offLine.String(), `{"acsResourceId":"`+acsID+`","phoneNumber":"tel:+14255550177","appId":"`+appA.String()+`","accountEnabled":true}`)
	// And the main line moved to another ACS resource, its number taken away.
	send("PATCH", con+"/resourceAccounts/"+room.String(), `{"acsResourceId":"`+acsOther+`","phoneNumber":null}`)
	accounts, err := c.TeamsResourceAccounts(ctx, ready)
	if err != nil || len(accounts) != 2 {
		t.Fatalf("accounts: %+v, %v", accounts, err)
	}
	if a := accounts[1]; a.ObjectID != offLine || a.ACSResourceID != acsID || a.PhoneNumber != "+14255550177" || a.AppID != appA || !a.Enabled {
		t.Errorf("the fixed line: %+v", a)
	}
	if a := accounts[0]; a.ObjectID != room || a.ACSResourceID != acsOther || a.PhoneNumber != "" {
		t.Errorf("the moved line: %+v", a)
	}
	// A permission withheld, then consented again.
	send("PUT", con+"/withheldPermissions", `["User.Read.All"]`)
	if _, err := c.Users(ctx, ready, []portal.GUID{alice}); portal.ErrorCode(err) != portal.EFORBIDDEN {
		t.Errorf("withheld User.Read.All: %v", err)
	}
	send("PUT", con+"/withheldPermissions", `[]`)
	if _, err := c.Users(ctx, ready, []portal.GUID{alice}); err != nil {
		t.Errorf("consented again: %v", err)
	}
	// Alice leaves: gone from the directory.
	send("DELETE", con+"/users/"+alice.String(), "")
	if states, _ := c.Users(ctx, ready, []portal.GUID{alice}); len(states) != 0 {
		t.Errorf("a deleted user is still read: %+v", states)
	}
}
