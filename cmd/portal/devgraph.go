package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/teamsphone/portal/internal/devidp"
	"github.com/teamsphone/portal/internal/graph"
	"github.com/teamsphone/portal/internal/graphemu"
	"github.com/teamsphone/portal/internal/portal"
)

// devTokenCacheKey seals dev sessions' Graph tokens. A constant on purpose:
// dev sessions outlive restarts, and so must the key that opens them.
var devTokenCacheKey = []byte("teams-phone-portal-dev-cache-key")

// graphScopes are the delegated Graph permissions a sign-in asks for when
// names are on: people's names (User.ReadBasic.All), resource accounts and
// their numbers (TeamsResourceAccount.Read.All, beta), app names
// (Application.Read.All). What a tenant has not consented to fails alone.
//
// The readiness checks also read people's accountEnabled and plans
// (User.Read.All) and delegated permission grants
// (DelegatedPermissionGrant.Read.All).
var graphScopes = []string{graph.ScopeUsers, graph.ScopeResourceAccounts, graph.ScopeApps, graph.ScopeUserStates, graph.ScopeGrants}

// parseWithheld reads -graph-withhold: short names of graphScopes.
func parseWithheld(v string) ([]string, error) {
	short := map[string]string{"users": graph.ScopeUsers, "resourceaccounts": graph.ScopeResourceAccounts, "apps": graph.ScopeApps,
		"profiles": graph.ScopeUserStates, "grants": graph.ScopeGrants}
	var out []string
	for _, name := range strings.Split(v, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		scope, ok := short[strings.ToLower(name)]
		if !ok {
			return nil, fmt.Errorf("unknown permission %q: use users, resourceAccounts, apps, profiles or grants", name)
		}
		out = append(out, scope)
	}
	return out, nil
}

// devACSResourceID stands for the emulated ACS resource's immutable ID,
// which resource accounts are bound to.
const devACSResourceID = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"

// startDevGraph serves the Graph emulator on its own loopback port with the
// dev tenants' directory, checking bearer tokens against the dev IdP's.
// Permissions in withheld are taken out of every token, as in a tenant
// whose admin has not consented to them.
func startDevGraph(idp *devidp.IdP, withheld []string, logger *slog.Logger) (*graphemu.Emulator, string, func(), error) {
	emu := graphemu.New(graphemu.Config{Logger: logger, Verify: func(_ *http.Request, token string) (portal.GUID, []string, error) {
		g, ok := idp.AccessToken(token, time.Now())
		if !ok {
			return portal.GUID{}, nil, errors.New("not a token the dev IdP issued, or expired")
		}
		return g.Tenant, slices.DeleteFunc(slices.Clone(g.Scopes), func(s string) bool { return slices.Contains(withheld, s) }), nil
	}})
	seedDevDirectory(emu)
	url, stop, err := serveLoopback(withFaultSwitch(emu, emu.SetRates), emu.Close)
	if err != nil {
		return nil, "", nil, err
	}
	return emu, url, stop, nil
}

// The dev directory's objects for readiness (issue 15), fixed so that tests
// and demos can name them; each shows one way access fails.
const (
	devGita      = "d15ab1ed-0a1b-4c2d-8e3f-4a5b6c7d8e10" // disabled, has access
	devHana      = "4a5b6c7d-8e9f-4a0b-8c1d-2e3f4a5b6c11" // no Teams Phone plan, has access
	devReception = "5b6c7d8e-9f0a-4b1c-8d2e-3f4a5b6c7d12" // bound here, no server consent (no assignment)
	devOldIVR    = "6c7d8e9f-0a1b-4c2d-9e3f-4a5b6c7d8e13" // consented, bound to another ACS resource
	devOverflow  = "7d8e9f0a-1b2c-4d3e-8f4a-5b6c7d8e9f14" // consented, bound here, no phone number
	devFrontDesk = "8e9f0a1b-2c3d-4e4f-9a5b-6c7d8e9f0a15" // consented, bound here, Microsoft's auto attendant app
	// devOtherACSResourceID is another ACS resource's immutable ID.
	devOtherACSResourceID = "99999999-8888-4777-8666-555555555555"
)

// Service principals of the dev tenants: Contoso has the ACS first-party
// app's (devACSServicePrincipal); Fabrikam has none, so nothing can be
// consented to it there.
var (
	devACSServicePrincipal = portal.MustParseGUID("c0ffee00-0000-4000-8000-0000000000a5")
	devDesktopSP           = portal.MustParseGUID("c0ffee00-0000-4000-8000-000000000001")
	devKioskSP             = portal.MustParseGUID("c0ffee00-0000-4000-8000-000000000004")
	devPilotSP             = portal.MustParseGUID("c0ffee00-0000-4000-8000-000000000005")
)

// seedDevDirectory names the dev personas and the seeded assignments'
// people and resource accounts. Chen Wei has left (deleted), and the
// mobile app has no service principal in Contoso: both show what the
// portal flags. Eve's name carries markup; the Sales line is bound to
// another ACS resource.
//
// For readiness, everyone has Teams Phone (MCOEV) and is enabled, and
// Desktop is consented for everyone, except the failures the devGita …
// devFrontDesk constants list; the Kiosk app is not consented, the
// Softphone pilot only by Alice; Fabrikam lacks the ACS first-party
// service principal.
func seedDevDirectory(emu *graphemu.Emulator) {
	teamsPhone := []graphemu.AssignedPlan{
		{ServicePlanID: portal.MustParseGUID("57ff2da0-773e-42df-b2af-ffb7a2317929"), Service: "TeamsForBusiness", CapabilityStatus: "Enabled"},
		{ServicePlanID: graph.TeamsPhonePlanID, Service: "MCOEV", CapabilityStatus: "Enabled"},
	}
	users := map[portal.GUID][]graphemu.User{}
	for _, p := range devidp.Personas() {
		users[p.TenantID] = append(users[p.TenantID], graphemu.User{ID: p.ObjectID, DisplayName: p.Name, UserPrincipalName: p.LoginHint, AssignedPlans: teamsPhone})
	}
	u := func(id, name, upn string) graphemu.User {
		return graphemu.User{ID: portal.MustParseGUID(id), DisplayName: name, UserPrincipalName: upn, AssignedPlans: teamsPhone}
	}
	contoso, fabrikam := devidp.ContosoTenant, devidp.FabrikamTenant
	chen := u("7c1d9e2f-3a4b-4c5d-8e6f-7a8b9c0d1e02", "Chen Wei", "chen.wei@contoso.test")
	chen.Deleted = true
	gita := u(devGita, "Gita Rao", "gita.rao@contoso.test")
	gita.Disabled = true
	hana := u(devHana, "Hana Sato", "hana.sato@contoso.test")
	hana.AssignedPlans = teamsPhone[:1] // Teams, without Teams Phone
	ra := func(id, name, upn string, app portal.GUID, phone, acsResource string) graphemu.ResourceAccount {
		return graphemu.ResourceAccount{ID: portal.MustParseGUID(id), DisplayName: name, UserPrincipalName: upn, AppID: app, PhoneNumber: phone, ACSResourceID: acsResource}
	}
	emu.Seed(contoso, append(users[contoso],
		u("e5b7f628-ea94-4fdc-b3d9-1af1fe231111", "Alice Smith", "alice.smith@contoso.test"),
		u("4b7f3b1e-2f0c-4e6a-9d0c-5a1b2c3d4e01", "Bruno Costa", "bruno.costa@contoso.test"),
		chen,
		u("9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c05", "Dana Park", "dana.park@contoso.test"),
		// A name with markup in it, as anyone may set their own: pages
		// must show it as text.
		u("3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a08", `Eve <img src=x onerror=alert(1)>`, "eve@contoso.test"),
		gita, hana,
	), []graphemu.ResourceAccount{
		ra("2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c03", "Main line auto attendant", "mainline@contoso.test", appDesktop, "tel:+14255550100", devACSResourceID),
		ra("8f7e6d5c-4b3a-4291-8f0e-d9c8b7a6f506", "Support queue", "support@contoso.test", appDesktop, "tel:+14255550101", devACSResourceID),
		// Bound to another ACS resource: the picker leaves it out.
		ra("6a7b8c9d-0e1f-4a2b-9c3d-4e5f6a7b8c09", "Sales line (other ACS resource)", "sales@contoso.test", appDesktop, "tel:+14255550102", devOtherACSResourceID),
		ra(devReception, "Reception line", "reception@contoso.test", appDesktop, "tel:+14255550103", devACSResourceID),
		ra(devOldIVR, "Old IVR line", "oldivr@contoso.test", appDesktop, "tel:+14255550104", devOtherACSResourceID),
		ra(devOverflow, "Overflow line", "overflow@contoso.test", appDesktop, "", devACSResourceID),
		ra(devFrontDesk, "Front desk auto attendant", "frontdesk@contoso.test", portal.AutoAttendantAppID, "tel:+14255550105", devACSResourceID),
	}, []graphemu.ServicePrincipal{
		{ID: devACSServicePrincipal, AppID: portal.ACSFirstPartyAppID, DisplayName: "Azure Communication Services"},
		{ID: devDesktopSP, AppID: appDesktop, DisplayName: "Contoso Agent Desktop"},
		{ID: devKioskSP, AppID: appKiosk, DisplayName: "Contoso Kiosk"},
		{ID: devPilotSP, AppID: appPilot, DisplayName: "Contoso Softphone (pilot)"},
	})
	emu.AddPermissionGrant(contoso, graphemu.PermissionGrant{ClientID: devDesktopSP, ResourceID: devACSServicePrincipal,
		ConsentType: "AllPrincipals", Scope: portal.ManageCallsScope})
	emu.AddPermissionGrant(contoso, graphemu.PermissionGrant{ClientID: devPilotSP, ResourceID: devACSServicePrincipal,
		ConsentType: "Principal", PrincipalID: portal.MustParseGUID("e5b7f628-ea94-4fdc-b3d9-1af1fe231111"), Scope: portal.ManageCallsScope})
	emu.Seed(fabrikam, append(users[fabrikam],
		u("5d6e7f8a-9b0c-4d1e-8f2a-3b4c5d6e7f04", "Farah Khan", "farah.khan@fabrikam.test"),
		u("1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a07", "Felix Braun", "felix.braun@fabrikam.test"),
	), nil, []graphemu.ServicePrincipal{
		{ID: portal.MustParseGUID("c0ffee00-0000-4000-8000-000000000002"), AppID: appDesktop, DisplayName: "Contoso Agent Desktop"},
		{ID: portal.MustParseGUID("c0ffee00-0000-4000-8000-000000000003"), AppID: appMobile, DisplayName: "Contoso Agent Mobile"},
	})
}
