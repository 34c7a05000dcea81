package main

import (
	"context"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/teamsphone/portal/internal/devidp"
	"github.com/teamsphone/portal/internal/graph"
	"github.com/teamsphone/portal/internal/graphemu"
	"github.com/teamsphone/portal/internal/portal"
)

// TestDevDirectoryReadiness: the dev seed holds each failure the readiness
// checks find, and nothing else fails but what the seed means to show.
func TestDevDirectoryReadiness(t *testing.T) {
	scopes := []string{"User.Read.All", "DelegatedPermissionGrant.Read.All", "Application.Read.All", "TeamsResourceAccount.Read.All"}
	emu := graphemu.New(graphemu.Config{Verify: graphemu.StaticTokens(map[string]graphemu.Grant{
		"contoso":  {Tenant: devidp.ContosoTenant, Scopes: scopes},
		"fabrikam": {Tenant: devidp.FabrikamTenant, Scopes: scopes},
	})})
	t.Cleanup(emu.Close)
	seedDevDirectory(emu)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	c, ctx := graph.New(srv.URL, nil), context.Background()

	// The ACS first-party app: in Contoso, not in Fabrikam.
	acs, found, err := c.ServicePrincipal(ctx, "contoso", portal.ACSFirstPartyAppID)
	if err != nil || !found || acs.ObjectID != devACSServicePrincipal {
		t.Fatalf("Contoso's ACS service principal: %+v, %v, %v", acs, found, err)
	}
	if _, found, err := c.ServicePrincipal(ctx, "fabrikam", portal.ACSFirstPartyAppID); err != nil || found {
		t.Errorf("Fabrikam has the ACS service principal: %v, %v", found, err)
	}
	// Contoso's apps: Desktop consented for all, Kiosk not at all, the
	// pilot by Alice alone, Mobile without a service principal.
	consent := map[portal.GUID]string{}
	for _, app := range devKnownApps {
		sp, found, err := c.ServicePrincipal(ctx, "contoso", app.ID)
		if err != nil || !found {
			consent[app.ID] = "no service principal"
			continue
		}
		grants, err := c.PermissionGrants(ctx, "contoso", sp.ObjectID, acs.ObjectID)
		switch {
		case err != nil:
			t.Fatal(err)
		case len(grants) == 0:
			consent[app.ID] = "none"
		case grants[0].AllPrincipals && slices.Contains(grants[0].Scopes, portal.ManageCallsScope):
			consent[app.ID] = "all"
		default:
			consent[app.ID] = "principal " + grants[0].PrincipalID.String()
		}
	}
	want := map[portal.GUID]string{appDesktop: "all", appMobile: "no service principal", appKiosk: "none", appPilot: "principal e5b7f628-ea94-4fdc-b3d9-1af1fe231111"}
	for app, w := range want {
		if consent[app] != w {
			t.Errorf("app %s: consent %q, want %q", app, consent[app], w)
		}
	}

	// People with access: all in the directory, enabled, with Teams Phone,
	// but Chen (gone), Gita (disabled) and Hana (no Teams Phone).
	accounts, err := c.TeamsResourceAccounts(ctx, "contoso")
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]portal.TeamsResourceAccount{}
	for _, a := range accounts {
		byID[a.ObjectID.String()] = a
	}
	var users []portal.GUID
	for _, a := range devSeed {
		if a.tenant == devidp.ContosoTenant && a.spelling == "user" {
			users = append(users, portal.MustParseGUID(a.object))
		}
	}
	states, err := c.Users(ctx, "contoso", users)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range users {
		st, inDir := states[id]
		problem := ""
		switch {
		case !inDir:
			problem = "gone"
		case !st.Enabled:
			problem = "disabled"
		case !st.TeamsPhone:
			problem = "no Teams Phone"
		}
		if w := map[string]string{seedChen: "gone", devGita: "disabled", devHana: "no Teams Phone"}[id.String()]; problem != w {
			t.Errorf("user %s with access: %q, want %q", id, problem, w)
		}
	}
	// Resource accounts with access: bound here, numbered, enabled, on a
	// third-party app, but the three failures; the Reception line is bound
	// here without any.
	for _, a := range devSeed {
		if a.tenant != devidp.ContosoTenant || a.spelling == "user" {
			continue
		}
		ra, ok := byID[a.object]
		problem := ""
		switch {
		case !ok:
			problem = "not a resource account"
		case ra.ACSResourceID != devACSResourceID:
			problem = "bound elsewhere"
		case ra.PhoneNumber == "":
			problem = "no number"
		case ra.AppID == portal.AutoAttendantAppID || ra.AppID == portal.CallQueueAppID:
			problem = "Microsoft's app"
		case !ra.Enabled:
			problem = "disabled"
		}
		if w := map[string]string{devOldIVR: "bound elsewhere", devOverflow: "no number", devFrontDesk: "Microsoft's app"}[a.object]; problem != w {
			t.Errorf("resource account %s with access: %q, want %q", a.object, problem, w)
		}
	}
	for _, a := range devSeed {
		if a.object == devReception {
			t.Errorf("the Reception line has an assignment; it should be bound here without one")
		}
	}
	if ra := byID[devReception]; ra.ACSResourceID != devACSResourceID || !ra.Enabled || ra.PhoneNumber == "" {
		t.Errorf("the Reception line: %+v", ra)
	}
}
